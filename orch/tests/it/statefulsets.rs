//! StatefulSets end to end on real processes: ordered start, a stable name
//! and volume per ordinal across a node loss, each ordinal reachable by name
//! through the gateway, reverse-order scale-down, and a bad revision rolled
//! back by itself; bad input refused with field paths and nothing written.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const SLOW: Duration = Duration::from_secs(120);

fn template(env: Value) -> Value {
    json!({"image": "demo-app:v1", "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
           "env": env,
           "readinessProbe": {"httpGet": {"path": "/ready"}, "initialDelayMs": 100, "periodMs": 200,
                              "timeoutMs": 500, "failureThreshold": 3}})
}

/// The set's live pods as (ordinal, name, revision, ready), from its status
/// (none while the projection has yet to see the set).
async fn pods(c: &Cluster, id: &str) -> Vec<(i64, String, i64, bool)> {
    let (s, v) = c.get(&format!("/api/v1/workloads/statefulsets/{id}")).await;
    if s == 404 {
        return vec![];
    }
    assert_eq!(s, 200, "{v}");
    v["status"]["pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["ordinal"].as_i64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
                p["revision"].as_i64().unwrap(),
                p["ready"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn all_ready(c: &Cluster, id: &str, n: usize, revision: i64) {
    eventually(
        &format!("{n} Ready pods on revision {revision}"),
        SLOW,
        || async {
            let p = pods(c, id).await;
            (p.len() == n && p.iter().all(|(_, _, r, ready)| *ready && *r == revision))
                .then_some(())
        },
    )
    .await;
}

async fn gateway_get(c: &Cluster, host: &str, path: &str) -> Option<String> {
    let r = c
        .http
        .get(format!("{}{path}", c.gateway))
        .header("host", host)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.text().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stateful_set_keeps_names_and_data_across_a_node_loss_and_rolls_back_a_bad_revision() {
    let mut c = Cluster::start(
        "sts",
        Options {
            processes: vec!["decider,projector,reconcilers,api,gateway"],
            up_args: vec!["--gateway-listen".into(), "127.0.0.1:0".into()],
            runtime: "process",
            grace_seconds: 2.0,
            lost_seconds: 4.0,
            ..Default::default()
        },
    )
    .await;
    let second = format!("local2-{}", &c.db_name[c.db_name.len() - 8..]);
    let agent2 = c
        .spawn(
            "agent2",
            &c.process_agent_args(&second),
            &c.database_url.clone(),
        )
        .await;
    c.procs.push(agent2);
    c.wait_count(
        "two process nodes Ready",
        "SELECT count(*) FROM node_status WHERE ready",
        2,
    )
    .await;

    // Bad input: a clear 422 with the field, and nothing written.
    let bad = [
        (
            json!({"namespace": "default", "name": "db", "replicas": 3,
                   "updateStrategy": {"partition": 5}, "template": template(json!({}))}),
            "updateStrategy.partition",
        ),
        (
            json!({"namespace": "default", "name": "d".repeat(62), "replicas": 10,
                   "template": template(json!({}))}),
            "name",
        ),
        (
            json!({"namespace": "default", "name": "db", "replicas": 1,
                   "template": {"image": "demo-app:v1", "restartPolicy": "Never",
                                "resources": {"cpuRequestMilli": 10, "memRequestMb": 16}}}),
            "template.restartPolicy",
        ),
        (
            json!({"namespace": "default", "name": "db", "replicas": -1, "template": template(json!({}))}),
            "replicas",
        ),
    ];
    for (body, field) in bad {
        let (s, v) = c.post("/api/v1/workloads/statefulsets", body).await;
        assert_eq!(s, 422, "{field}: {v}");
        assert!(
            v["error"]["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["field"] == field)),
            "{field}: {v}"
        );
    }
    assert_eq!(
        c.count("SELECT count(*) FROM workload_def WHERE kind = 'StatefulSet'")
            .await,
        0
    );

    let (s, v) = c
        .post(
            "/api/v1/services",
            json!({"namespace": "default", "name": "db", "selector": {"app": "db"}, "host": "db.test"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let service = v["serviceId"].as_str().unwrap().to_string();
    let (s, v) = c
        .post(
            "/api/v1/workloads/statefulsets",
            json!({"namespace": "default", "name": "db", "replicas": 3,
                   "volumeClaimTemplate": {"name": "data"}, "template": template(json!({}))}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["statefulSetId"].as_str().unwrap().to_string();
    all_ready(&c, &id, 3, 1).await;
    let names: Vec<String> = pods(&c, &id).await.into_iter().map(|p| p.1).collect();
    assert_eq!(names, ["db-0", "db-1", "db-2"]);

    // OrderedReady, in the log: each ordinal was created after the one below was Ready.
    let created_order = |c: &Cluster, id: String| {
        let pool = c.pool.clone();
        async move {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT body->>'name' FROM event_log WHERE event_type = 'PodCreated'
                  AND body->>'statefulSetId' = $1 ORDER BY log_offset, batch_index",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows
        }
    };
    assert_eq!(
        created_order(&c, id.clone()).await,
        ["db-0", "db-1", "db-2"]
    );
    let early = format!(
        "SELECT count(*) FROM event_log cr
          WHERE cr.event_type = 'PodCreated' AND cr.body->>'statefulSetId' = '{id}' AND (cr.body->>'ordinal')::int > 0
            AND NOT EXISTS (
              SELECT 1 FROM event_log pc JOIN event_log r ON r.event_type = 'PodReady' AND r.body->>'podId' = pc.body->>'podId'
               WHERE pc.event_type = 'PodCreated' AND pc.body->>'statefulSetId' = '{id}'
                 AND (pc.body->>'ordinal')::int = (cr.body->>'ordinal')::int - 1
                 AND (r.log_offset, r.batch_index) < (cr.log_offset, cr.batch_index))"
    );
    assert_eq!(
        c.count(&early).await,
        0,
        "an ordinal started before the one below was Ready"
    );

    // Stable network identity: each ordinal by name, through the endpoints API and the gateway.
    let (_, eps) = c
        .get(&format!("/api/v1/services/{service}/endpoints"))
        .await;
    let hosts: Vec<&str> = eps["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["hostname"].as_str())
        .collect();
    assert_eq!(hosts, ["db-0.db", "db-1.db", "db-2.db"], "{eps}");
    for n in 0..3 {
        let host = format!("db-{n}.db");
        let body = eventually("the gateway routes the ordinal's host", DEADLINE, || {
            gateway_get(&c, &host, "/")
        })
        .await;
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["pod"], format!("db-{n}"), "{body}");
    }

    // Stable storage: the claim is in the projection, and the pod wrote to its volume.
    let old_id: String = sqlx::query_scalar(
        "SELECT id::text FROM pod_instance WHERE name = 'db-1' AND volume_claim = 'data-db-1' AND phase = 'RUNNING'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    let journal = c
        .volume_dir()
        .join("default")
        .join("data-db-1")
        .join("journal");
    let text = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(text.contains(&format!("db-1 {old_id} started")), "{text}");

    // Kill db-1's node agent (its containers die with it): the node is lost,
    // and db-1 comes back under its name, with its volume, on the other node.
    let node: String = sqlx::query_scalar(
        "SELECT n.name FROM pod_instance p JOIN node_status n ON n.id = p.node_id WHERE p.id = $1::uuid",
    )
    .bind(&old_id)
    .fetch_one(&c.pool)
    .await
    .unwrap();
    let agent = if node == second {
        c.procs.len() - 1
    } else {
        c.procs.len() - 2
    };
    c.procs[agent].kill().await;
    let new_id: String = eventually("db-1 comes back as a new pod", SLOW, || async {
        sqlx::query_scalar::<_, String>(
            "SELECT id::text FROM pod_instance WHERE name = 'db-1' AND phase = 'RUNNING' AND ready AND id <> $1::uuid",
        )
        .bind(&old_id)
        .fetch_optional(&c.pool)
        .await
        .ok()
        .flatten()
    })
    .await;
    let on: String = sqlx::query_scalar(
        "SELECT n.name FROM pod_instance p JOIN node_status n ON n.id = p.node_id WHERE p.id = $1::uuid",
    )
    .bind(&new_id)
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_ne!(on, node);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM pod_instance WHERE id = '{new_id}' AND volume_claim = 'data-db-1' AND ordinal = 1"
        ))
        .await,
        1
    );
    // The old pod is gone from the live tables, not from the log.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM pod_instance WHERE id = '{old_id}'"
        ))
        .await,
        0
    );
    assert!(c.count(&format!("SELECT count(*) FROM event_log WHERE aggregate_id = '{old_id}' AND event_type = 'PodDeleted'")).await == 1);
    all_ready(&c, &id, 3, 1).await;
    // Same data: the new pod appended to the journal the old one wrote, and
    // the gateway reaches it by the same name.
    let text = eventually("db-1's volume through the gateway", DEADLINE, || async {
        gateway_get(&c, "db-1.db", "/volume")
            .await
            .filter(|t| t.lines().count() == 2)
    })
    .await;
    assert!(text.contains(&old_id) && text.contains(&new_id), "{text}");
    assert!(text.lines().all(|l| l.starts_with("db-1 ")), "{text}");

    // Scale down to 1: the highest ordinal goes first.
    let (s, v) = c
        .post(
            &format!("/api/v1/workloads/statefulsets/{id}/scale"),
            json!({"replicas": 1}),
        )
        .await;
    assert_eq!((s, v["from"].as_i64()), (200, Some(3)), "{v}");
    all_ready(&c, &id, 1, 1).await;
    let deleted: Vec<String> = sqlx::query_scalar(
        "SELECT c.body->>'name' FROM event_log d JOIN event_log c ON c.event_type = 'PodCreated' AND c.body->>'podId' = d.body->>'podId'
          WHERE d.event_type = 'PodDeleted' AND d.body->>'reason' = 'scale-down' ORDER BY d.log_offset, d.batch_index",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(deleted, ["db-2", "db-1"]);

    // A revision whose container crashes before it is ever Ready (a crash
    // loop) is rolled back by itself, and says why.
    let (s, v) = c
        .patch(
            &format!("/api/v1/workloads/statefulsets/{id}"),
            json!({"template": template(json!({"CRASH_AFTER_MS": "300", "READY_AFTER_MS": "60000"}))}),
        )
        .await;
    assert_eq!((s, v["revision"].as_i64()), (200, Some(2)), "{v}");
    let reason: String = eventually("the bad revision is rolled back", SLOW, || async {
        sqlx::query_scalar::<_, String>(
            "SELECT body->>'reason' FROM event_log WHERE event_type = 'StatefulSetRolledBack'
              AND (body->>'automatic')::bool AND aggregate_id = $1::uuid",
        )
        .bind(&id)
        .fetch_optional(&c.pool)
        .await
        .ok()
        .flatten()
    })
    .await;
    assert!(
        reason.contains("revision 2") && reason.contains("failed"),
        "{reason}"
    );
    all_ready(&c, &id, 1, 1).await;
    let (_, v) = c.get(&format!("/api/v1/workloads/statefulsets/{id}")).await;
    assert_eq!(
        (
            v["status"]["currentRevision"].as_i64(),
            v["status"]["updateRevision"].as_i64()
        ),
        (Some(1), Some(1)),
        "{v}"
    );
    let (_, revs) = c
        .get(&format!("/api/v1/workloads/statefulsets/{id}/revisions"))
        .await;
    assert_eq!(revs["items"].as_array().map(Vec::len), Some(2), "{revs}");

    // `orch explain` tells the set's story with the why of each pod.
    let (ok, out, err) = c.orch(&["explain", "statefulset", "default/db"]).await;
    assert!(ok, "{err}");
    assert_eq!(out.matches("db-1 created").count(), 2, "{out}");
    assert!(out.contains("it comes back under its name"), "{out}");
    assert!(
        out.contains("automatically rolled back from revision 2 to 1"),
        "{out}"
    );
    assert!(out.contains("highest ordinal first"), "{out}");

    // `orch history` lists the set's own events by kind and name.
    let (ok, out, err) = c.orch(&["history", "statefulset/default/db"]).await;
    assert!(ok, "{err}");
    for t in [
        "StatefulSetCreated",
        "StatefulSetScaled",
        "StatefulSetRevisionCreated",
        "StatefulSetRolledBack",
    ] {
        assert!(out.contains(t), "{t} missing from:\n{out}");
    }
    // The served OpenAPI document has every route of the kind.
    let (_, doc) = c.get("/api/v1/openapi.json").await;
    for path in [
        "",
        "/{id}",
        "/{id}/scale",
        "/{id}/rollback",
        "/{id}/revisions",
        "/{id}/pods",
        "/undelete",
    ] {
        let p = format!("/api/v1/workloads/statefulsets{path}");
        assert!(doc["paths"][&p].is_object(), "{p} not documented");
    }

    // Deleted: its pods go, its volumes stay.
    assert_eq!(
        c.delete(&format!("/api/v1/workloads/statefulsets/{id}"))
            .await,
        200
    );
    c.wait_count(
        "the set's pods are gone",
        &format!("SELECT count(*) FROM pod_instance WHERE workload_id = '{id}'"),
        0,
    )
    .await;
    assert!(journal.exists());
    // Deleted by mistake: undeleted with its id, and its pod finds its data.
    let db0 = c
        .volume_dir()
        .join("default")
        .join("data-db-0")
        .join("journal");
    let starts = std::fs::read_to_string(&db0).unwrap().lines().count();
    let (ok, out, err) = c
        .orch(&[
            "undelete",
            "statefulset/default/db",
            "--reason",
            "deleted by mistake",
        ])
        .await;
    assert!(ok, "{err}");
    assert!(out.contains(&id), "{out}");
    all_ready(&c, &id, 1, 1).await;
    let text = std::fs::read_to_string(&db0).unwrap();
    assert_eq!(text.lines().count(), starts + 1, "{text}");
    let (s, v) = c
        .post(
            "/api/v1/workloads/statefulsets/undelete",
            json!({"namespace": "default", "name": "db"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("ALREADY_EXISTS")),
        "{v}"
    );
    let _ = std::fs::remove_dir_all(c.volume_dir());
    c.finish().await;
}
