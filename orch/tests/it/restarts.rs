//! What a control-plane restart must not forget or break: which nodes are
//! dead, the reads that follow a write, and the bootstrap admin token.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::support::*;

/// Kill the single control-plane process (if it still runs) and start it
/// again; the API's URL changes. Returns when it was started and when it was up.
async fn restart_control_plane(c: &mut Cluster, opts: &Options) -> (DateTime<Utc>, DateTime<Utc>) {
    c.procs[0].kill().await;
    let started = Utc::now();
    let p = c
        .spawn_up(opts.processes[0], opts, &c.database_url.clone())
        .await;
    c.api = p.value("API");
    assert_eq!(
        p.value("TOKEN"),
        c.token,
        "a restart keeps the bootstrap token"
    );
    c.procs[0] = p;
    (started, Utc::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_nodes_that_died_meanwhile_get_no_new_pods_and_lose_theirs_only_after_a_fresh_grace_period()
 {
    let opts = Options {
        grace_seconds: 2.0,
        lost_seconds: 4.0,
        ..Default::default()
    };
    let mut c = Cluster::start("restartnodes", opts.clone()).await;
    let id = c.deploy_ready("web", 12, 1000).await;
    let on_a = "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
                WHERE n.zone = 'az-a' AND p.phase = 'RUNNING'";
    assert_eq!(c.count(on_a).await, 4);

    // Zone az-a's agents die, and so does the control plane, before the grace period ends.
    let r = c
        .http
        .post(format!("{}/zones/az-a/stop", c.agent))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let died = Utc::now();
    c.procs[0].kill().await;
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type IN ('NodeNotReady', 'NodeLost')")
            .await,
        0,
        "the control plane was gone before anything noticed"
    );
    // Long past both the grace period and the lost-after period.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let (restarted, up) = restart_control_plane(&mut c, &opts).await;
    // Work that needs new placements, sent the moment the API answers.
    let (status, body) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 16}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    c.wait_count(
        "16 running Ready outside az-a",
        "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
         WHERE p.phase = 'RUNNING' AND p.ready AND n.zone <> 'az-a'",
        16,
    )
    .await;
    c.wait_count(
        "az-a's nodes lost",
        "SELECT count(*) FROM node_status WHERE zone = 'az-a' AND condition = 'Lost'",
        4,
    )
    .await;

    // Nothing was ever bound to a dead node after it died.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM event_log e JOIN node_status n ON n.id = (e.body->>'nodeId')::uuid
             WHERE e.event_type = 'PodBound' AND n.zone = 'az-a' AND e.occurred_at > '{died}'"
        ))
        .await,
        0
    );
    // They were unschedulable before the restarted scheduler bound anything, with their real silence.
    let not_ready: Vec<(i64, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT e.log_offset, e.occurred_at, (e.body->>'silentForMs')::int8 FROM event_log e
         JOIN node_status n ON n.id = e.aggregate_id WHERE e.event_type = 'NodeNotReady' AND n.zone = 'az-a'",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(not_ready.len(), 4, "{not_ready:?}");
    let first_bind: i64 = c
        .count(&format!(
            "SELECT coalesce(min(log_offset), -1) FROM event_log
             WHERE event_type = 'PodBound' AND occurred_at > '{restarted}'"
        ))
        .await;
    assert!(first_bind >= 0, "the scale-up bound pods after the restart");
    for (offset, at, silent) in &not_ready {
        assert!(
            *offset < first_bind,
            "NotReady at {offset} after a bind at {first_bind}"
        );
        assert!(
            *silent >= 6000,
            "NodeNotReady carries the real silence, got {silent} ms"
        );
        // Not a fresh grace period (2 s) after the controller started: at once.
        assert!(
            (*at - up).num_milliseconds() < 1500,
            "NotReady {} ms after the control plane was up",
            (*at - up).num_milliseconds()
        );
    }
    // Their pods moved only after a fresh lost-after period counted from the restart.
    let lost: Vec<(DateTime<Utc>,)> = sqlx::query_as(
        "SELECT e.occurred_at FROM event_log e JOIN node_status n ON n.id = e.aggregate_id
         WHERE e.event_type = 'NodeLost' AND n.zone = 'az-a'",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(lost.len(), 4);
    for (at,) in &lost {
        assert!(
            (*at - restarted).num_milliseconds() >= 4000,
            "NodeLost only {} ms after the restart",
            (*at - restarted).num_milliseconds()
        );
    }
    let failed_early = c
        .count(&format!(
            "SELECT count(*) FROM event_log WHERE event_type = 'PodFailed'
             AND occurred_at < '{}'",
            restarted + chrono::Duration::seconds(4)
        ))
        .await;
    assert_eq!(
        failed_early, 0,
        "no pod was evicted before the fresh period"
    );
    assert_eq!(c.count(on_a).await, 0);
    c.finish().await;
}

fn offset_of(r: &reqwest::Response) -> i64 {
    r.headers()
        .get("x-orch-offset")
        .unwrap_or_else(|| panic!("a write answers with X-Orch-Offset: {:?}", r.headers()))
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_with_the_offset_of_a_write_always_shows_that_write_even_right_after_a_restart() {
    let opts = Options {
        processes: vec!["decider,projector,reconcilers,api"],
        up_args: vec!["--read-wait-ms".into(), "1500".into()],
        ..Default::default()
    };
    let mut c = Cluster::start("readwrites", opts.clone()).await;
    let r = c
        .http
        .post(format!("{}/api/v1/workloads/deployments", c.api))
        .bearer_auth(&c.token)
        .json(&deployment("web", 1, 100))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let created_at = offset_of(&r);
    let id = r.json::<serde_json::Value>().await.unwrap()["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    // The offset is the log record of the command's outcome.
    let (status, page) = c
        .get(&format!(
            "/api/v1/events?aggregate={id}&order=asc&limit=1&minOffset={created_at}"
        ))
        .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["items"][0]["type"], "DeploymentCreated", "{page}");
    assert_eq!(page["items"][0]["offset"], created_at, "{page}");

    let check = |c: &Cluster, round: usize| {
        let (api, token, http, id) = (c.api.clone(), c.token.clone(), c.http.clone(), id.clone());
        async move {
            // Never the replicas it has: every round is a change.
            let replicas = 2 + (round % 3) as i64;
            let r = http
                .post(format!("{api}/api/v1/workloads/deployments/{id}/scale"))
                .bearer_auth(&token)
                .json(&json!({"replicas": replicas}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "round {round}");
            let at = offset_of(&r);
            let r = http
                .get(format!(
                    "{api}/api/v1/workloads/deployments/{id}?minOffset={at}"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "round {round}");
            let seen: i64 = r.headers()["x-orch-projected-offset"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(seen >= at, "round {round}: projected {seen} < written {at}");
            let body: serde_json::Value = r.json().await.unwrap();
            assert_eq!(body["replicas"], replicas, "round {round}: {body}");
            // Another read endpoint, with other query parameters beside minOffset.
            let r = http
                .get(format!(
                    "{api}/api/v1/events?aggregate={id}&order=desc&limit=1&minOffset={at}"
                ))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "round {round}");
            let page: serde_json::Value = r.json().await.unwrap();
            assert_eq!(
                page["items"][0]["type"], "DeploymentScaled",
                "round {round}: {page}"
            );
        }
    };
    for round in 0..40 {
        check(&c, round).await;
    }
    // Right after a restart the projector starts behind the log.
    restart_control_plane(&mut c, &opts).await;
    for round in 40..80 {
        check(&c, round).await;
    }

    let r = c
        .http
        .post(format!("{}/api/v1/workloads/deployments/{id}/scale", c.api))
        .bearer_auth(&c.token)
        .json(&json!({"replicas": 7}))
        .send()
        .await
        .unwrap();
    let at = offset_of(&r);
    // Far past the end of the log (the controllers keep writing, so not just
    // the next record): no write was ever acknowledged there, a client error, not a wait.
    let path = format!(
        "/api/v1/workloads/deployments/{id}?minOffset={}",
        at + 1_000_000
    );
    let (status, body) = c.get(&path).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "OFFSET_NOT_IN_LOG");
    let (status, body) = c.get("/api/v1/pods?minOffset=-1").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_QUERY");
    let (status, body) = c.get("/api/v1/pods?minOffset=soon").await;
    assert_eq!(status, 400, "{body}");
    // The header form works too.
    let r = c
        .http
        .get(format!("{}/api/v1/workloads/deployments/{id}", c.api))
        .bearer_auth(&c.token)
        .header("x-orch-min-offset", at.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["replicas"], 7);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_waits_for_a_stalled_projector_and_answers_503_when_it_does_not_catch_up() {
    let opts = Options {
        processes: vec!["decider,reconcilers,api", "projector"],
        up_args: vec!["--read-wait-ms".into(), "1500".into()],
        ..Default::default()
    };
    let c = Cluster::start("stalled", opts).await;
    let id = c.deploy_ready("web", 2, 100).await;
    let projector = c.procs[1].child.id().unwrap().to_string();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &projector])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {projector}");
    };
    signal("-STOP");
    let r = c
        .http
        .post(format!("{}/api/v1/workloads/deployments/{id}/scale", c.api))
        .bearer_auth(&c.token)
        .json(&json!({"replicas": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status().as_u16(),
        200,
        "the decider acknowledges without the projector"
    );
    let at = offset_of(&r);
    // Without minOffset the read is eventually consistent: it still shows 2.
    let (_, body) = c.get(&format!("/api/v1/workloads/deployments/{id}")).await;
    assert_eq!(body["replicas"], 2, "{body}");
    let started = std::time::Instant::now();
    let (status, body) = c
        .get(&format!(
            "/api/v1/workloads/deployments/{id}?minOffset={at}"
        ))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "PROJECTION_BEHIND");
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "it waited the read wait"
    );
    // A read issued now and a projector resumed 500 ms later: the read answers with the write.
    let (api, token, http) = (c.api.clone(), c.token.clone(), c.http.clone());
    let read = tokio::spawn(async move {
        let t = std::time::Instant::now();
        let r = http
            .get(format!(
                "{api}/api/v1/workloads/deployments/{id}?minOffset={at}"
            ))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
            t.elapsed(),
        )
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    signal("-CONT");
    let (status, body, took) = read.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["replicas"], 5);
    assert!(
        took >= Duration::from_millis(450),
        "it waited for the projector ({took:?})"
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_orch_up_three_times_leaves_one_usable_bootstrap_token_and_a_revoked_one_is_replaced()
 {
    let opts = Options::default();
    let mut c = Cluster::start("tokens", opts.clone()).await;
    let first = c.token.clone();
    for _ in 0..3 {
        restart_control_plane(&mut c, &opts).await;
    }
    // Exactly one live bootstrap token in the projection, and it is the current one.
    let live = |token: &str| {
        format!(
            "SELECT count(*) * 10 + count(*) FILTER (WHERE token_sha256 = '{}')
               FROM api_tokens WHERE bootstrap AND revoked_at IS NULL",
            command_api::hash_token(token)
        )
    };
    c.wait_count("one live bootstrap token", &live(&c.token), 11)
        .await;
    assert_eq!(c.token, first);
    let (status, _) = c.get("/api/v1/nodes/health").await;
    assert_eq!(status, 200);

    // Revoked through the CLI: refused at once, and the next start mints a new one.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
        .args(["token", "revoke"])
        .env("ORCH_API", &c.api)
        .env("ORCH_TOKEN", &c.token)
        .env("ORCH_CLI_STATE", c.data_dir().join("cli-state.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("revoked the token of admin"));
    let (status, body) = c.get("/api/v1/nodes/health").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "UNAUTHENTICATED");
    c.procs[0].kill().await;
    let p = c
        .spawn_up(opts.processes[0], &opts, &c.database_url.clone())
        .await;
    c.api = p.value("API");
    c.token = p.value("TOKEN");
    c.procs[0] = p;
    assert_ne!(c.token, first);
    let (status, _) = c.get("/api/v1/nodes/health").await;
    assert_eq!(status, 200);
    c.wait_count("one live bootstrap token", &live(&c.token), 11)
        .await;
    // A rotation at start revokes the kept one.
    let mut rotate = opts.clone();
    rotate.up_args.push("--rotate-admin-token".into());
    c.procs[0].kill().await;
    let old = c.token.clone();
    let p = c
        .spawn_up(rotate.processes[0], &rotate, &c.database_url.clone())
        .await;
    c.api = p.value("API");
    c.token = p.value("TOKEN");
    c.procs[0] = p;
    assert_ne!(c.token, old);
    c.wait_count("one live bootstrap token", &live(&c.token), 11)
        .await;
    let r = c
        .http
        .get(format!("{}/api/v1/nodes/health", c.api))
        .bearer_auth(&old)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    c.finish().await;
}
