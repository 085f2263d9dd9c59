//! History as a feature: a scripted scenario (create, scale, node loss,
//! delete) replayed into a fresh schema equals the live tables; the state as
//! of a point between two steps is exactly that step's; `?asOf=` reads; a
//! deleted deployment comes back with the same spec; `orch history` and
//! `orch explain` tell a pod's life in order with its actors.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

impl Cluster {
    /// The newest event's time and the projector's offset, once nothing moves for a moment.
    async fn quiet_point(&self) -> (String, i64) {
        let pool = self.pool.clone();
        eventually("the log stops moving", DEADLINE, || {
            let pool = pool.clone();
            async move {
                let read = || async {
                    sqlx::query_as::<_, (String, i64)>(
                        "SELECT to_char(max(occurred_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
                                (SELECT next_offset FROM projection_offsets WHERE projector = 'main')
                         FROM event_log",
                    )
                    .fetch_one(&pool)
                    .await
                    .ok()
                };
                let a = read().await?;
                tokio::time::sleep(Duration::from_millis(700)).await;
                let b = read().await?;
                (a == b).then_some(a)
            }
        })
        .await
    }

    async fn count_in(&self, schema: &str, sql: &str) -> i64 {
        let mut tx = self.pool.begin().await.unwrap();
        sqlx::query(&format!("SET LOCAL search_path TO {schema}"))
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar(sql).fetch_one(&mut *tx).await.unwrap();
        tx.rollback().await.unwrap();
        n
    }
}

fn line_of(out: &str, needle: &str) -> usize {
    out.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_time_travel_undelete_and_the_history_of_a_pod() {
    let c = Cluster::start(
        "history",
        Options {
            grace_seconds: 2.0,
            lost_seconds: 4.0,
            ..Default::default()
        },
    )
    .await;

    // Step 1: create 3 replicas.
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 3, 500))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count(
        "3 ready",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        3,
    )
    .await;
    let (t1, offset1) = c.quiet_point().await;

    // Step 2: scale to 6.
    let (status, body) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 6, "reason": "more traffic"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    c.wait_count(
        "6 ready",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        6,
    )
    .await;
    let (t2, _) = c.quiet_point().await;
    // A projection snapshot here: time travel to t2 and later starts from it.
    let (ok, out, err) = c.orch(&["snapshot"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("snapshot snapshot_"), "{out}");

    // Step 3: zone az-a stops; its nodes are lost and their pods rebound.
    c.lose_zone_a(6).await;

    // Step 4: delete it (keeping the spec to compare with the undelete).
    let spec_before: Value =
        sqlx::query_scalar("SELECT spec FROM workload_def WHERE id = $1::uuid")
            .bind(&id)
            .fetch_one(&c.pool)
            .await
            .unwrap();
    let status = c
        .delete(&format!("/api/v1/workloads/deployments/{id}"))
        .await;
    assert_eq!(status, 200);
    c.wait_count("deleted", "SELECT count(*) FROM workload_def", 0)
        .await;
    c.wait_count(
        "no live pod",
        "SELECT count(*) FROM pod_instance WHERE phase IN ('PENDING', 'RUNNING')",
        0,
    )
    .await;
    c.quiet_point().await;

    // A full replay into a fresh schema equals the live tables, table by table.
    let (ok, out, err) = c.orch(&["replay", "--into", "replay_all"]).await;
    assert!(ok, "replay failed:\n{out}\n{err}");
    assert!(
        out.contains("verified: every table equals the live one"),
        "{out}"
    );
    assert!(out.contains("events/s"), "{out}");
    assert!(err.contains("replay ["), "a progress line on stderr: {err}");
    assert_eq!(
        c.count_in("replay_all", "SELECT count(*) FROM event_log")
            .await,
        c.count("SELECT count(*) FROM event_log").await
    );

    // As of t1: exactly step 1 (3 replicas, 3 ready pods, every node Ready).
    let (ok, out, err) = c
        .orch(&["replay", "--as-of", &t1, "--into", "at_t1", "--no-snapshot"])
        .await;
    assert!(ok, "{out}{err}");
    let dep = "SELECT desired_replicas::int8 FROM workload_def";
    assert_eq!(c.count_in("at_t1", dep).await, 3);
    let ready = "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready";
    assert_eq!(c.count_in("at_t1", ready).await, 3);
    assert_eq!(
        c.count_in("at_t1", "SELECT count(*) FROM node_status WHERE ready")
            .await,
        12
    );
    assert_eq!(
        c.count_in("at_t1", "SELECT next_offset FROM projection_offsets")
            .await,
        offset1
    );
    // The same point given as an offset yields the same tables.
    let (ok, out, err) = c
        .orch(&[
            "replay",
            "--as-of",
            &(offset1 - 1).to_string(),
            "--into",
            "at_o1",
        ])
        .await;
    assert!(ok, "{out}{err}");
    for t in ["workload_def", "pod_instance", "node_status", "event_log"] {
        let sum = |s: &str| format!("SELECT count(*) FROM {s}.{t}");
        assert_eq!(
            c.count(&sum("at_t1")).await,
            c.count(&sum("at_o1")).await,
            "{t}"
        );
    }
    // As of t2: 6 replicas, no node lost yet, built from the snapshot.
    let (ok, out, err) = c.orch(&["replay", "--as-of", &t2, "--into", "at_t2"]).await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("started from snapshot"), "{out}");
    assert_eq!(c.count_in("at_t2", dep).await, 6);
    assert_eq!(c.count_in("at_t2", ready).await, 6);
    assert_eq!(
        c.count_in(
            "at_t2",
            "SELECT count(*) FROM node_status WHERE condition = 'Lost'"
        )
        .await,
        0
    );

    // The API reads the past too: the deployment is gone now, not as of t1.
    let (status, _) = c.get(&format!("/api/v1/workloads/deployments/{id}")).await;
    assert_eq!(status, 404);
    let (status, body) = c
        .get(&format!("/api/v1/workloads/deployments/{id}?asOf={t1}"))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replicas"], 3);
    assert_eq!(body["status"]["readyPods"], 3);
    let (status, body) = c
        .get(&format!(
            "/api/v1/workloads/deployments/{id}/pods?asOf={t2}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"].as_array().unwrap().len(), 6);
    let (status, body) = c.get("/api/v1/nodes?asOf=yesterday").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_QUERY");

    // Undelete: the same deployment (id, spec) comes back, recorded as its own command.
    let (ok, out, err) = c
        .orch(&[
            "undelete",
            "deployment/default/web",
            "--reason",
            "deleted by mistake",
        ])
        .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains(&id), "{out}");
    c.wait_count(
        "6 ready again",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        6,
    )
    .await;
    let spec_after: Value = sqlx::query_scalar("SELECT spec FROM workload_def WHERE id = $1::uuid")
        .bind(&id)
        .fetch_one(&c.pool)
        .await
        .unwrap();
    assert_eq!(spec_after, spec_before);
    let (ok, out, err) = c.orch(&["undelete", "deployment/default/web"]).await;
    assert!(!ok, "a second undelete must fail: {out}");
    assert!(
        err.contains("409") && err.contains("ALREADY_EXISTS"),
        "{err}"
    );
    let (ok, _, err) = c.orch(&["undelete", "deployment/default/nothing"]).await;
    assert!(!ok);
    assert!(err.contains("404"), "{err}");
    let (actor, reason, command): (String, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT actor, reason, command FROM event_log WHERE event_type = 'DeploymentUndeleted'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_eq!(actor, "admin");
    assert_eq!(reason.as_deref(), Some("deleted by mistake"));
    assert_eq!(command.as_deref(), Some("UndeleteDeployment"));

    // The history of the first pod: every event in order, with its actor.
    let (ok, out, err) = c.orch(&["history", "pod/default/web-0"]).await;
    assert!(ok, "{out}{err}");
    let created = line_of(&out, "PodCreated");
    let bound = line_of(&out, "PodBound");
    let started = line_of(&out, "PodStarted");
    let ready_at = line_of(&out, "PodReady");
    assert!(
        created < bound && bound < started && started < ready_at,
        "{out}"
    );
    assert!(
        out.lines()
            .nth(created)
            .unwrap()
            .contains("system:controller"),
        "{out}"
    );
    assert!(
        out.lines().nth(bound).unwrap().contains("system:scheduler"),
        "{out}"
    );
    assert!(
        out.lines()
            .nth(started)
            .unwrap()
            .contains("system:node-agent"),
        "{out}"
    );
    assert!(out.contains("command CreatePod"), "{out}");
    // It is gone (failed with its node, or deleted with the deployment): the end is there too.
    assert!(out.contains("PodDeleted"), "{out}");

    let (ok, out, err) = c.orch(&["explain", "pod", "default/web-0"]).await;
    assert!(ok, "{out}{err}");
    // The causation chain: the controller's CreatePod serves the admin's CreateDeployment.
    assert!(
        out.contains("it serves the request")
            && out.contains("by admin")
            && out.contains("with CreateDeployment"),
        "{out}"
    );
    for needle in [
        "WHY IT EXISTS",
        "CreatePod",
        "WHY THIS NODE",
        "winner",
        "filter",
        "WHY IT ENDED",
    ] {
        assert!(out.contains(needle), "{needle} missing:\n{out}");
    }
    let (ok, out, err) = c.orch(&["explain", "deployment", "default/web"]).await;
    assert!(ok, "{out}{err}");
    let scale = line_of(&out, "scaled 3 → 6");
    assert!(
        out.lines().nth(scale + 1).unwrap().contains("more traffic"),
        "{out}"
    );
    assert!(line_of(&out, "created default/web") < scale);
    assert!(scale < line_of(&out, "deleted default/web"));
    assert!(line_of(&out, "deleted default/web") < line_of(&out, "restored default/web"));

    // History by name covers both incarnations' pods; unknown names are an error.
    let (ok, _, err) = c.orch(&["history", "deployment/default/nope"]).await;
    assert!(!ok);
    assert!(err.contains("no events"), "{err}");
    let (ok, _, err) = c.orch(&["history", "pods/default/web-0"]).await;
    assert!(!ok);
    assert!(err.contains("kind must be"), "{err}");
    c.finish().await;
}
