//! Real workloads end to end: pods are `orch demo-app` processes run by the
//! process runtime, traffic goes through the gateway while the test itself
//! keeps sending requests, and rollouts must drop none of them.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::support::{Cluster, Options, eventually};

const ROLLOUT_DEADLINE: Duration = Duration::from_secs(120);

async fn process_cluster(name: &str) -> Cluster {
    Cluster::start(
        name,
        Options {
            processes: vec!["decider,projector,reconcilers,api,gateway"],
            up_args: vec!["--gateway-listen".into(), "127.0.0.1:0".into()],
            runtime: "process",
            ..Default::default()
        },
    )
    .await
}

fn readiness() -> Value {
    json!({"httpGet": {"path": "/ready"}, "initialDelayMs": 200, "periodMs": 200, "timeoutMs": 500, "failureThreshold": 5})
}

/// A demo-app deployment and a service routing `<name>.test` to it.
async fn deploy_app(c: &Cluster, name: &str, replicas: i64, extra: Value) -> String {
    let mut body = json!({
        "namespace": "default", "name": name, "image": "demo-app:v1", "replicas": replicas,
        "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
        "strategy": {"maxSurge": 1, "maxUnavailable": 1},
        "readinessProbe": readiness(),
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (status, v) = c.post("/api/v1/workloads/deployments", body).await;
    assert_eq!(status, 201, "{v}");
    let id = v["deploymentId"].as_str().unwrap().to_string();
    let (status, v) = c
        .post(
            "/api/v1/services",
            json!({"namespace": "default", "name": name, "selector": {"app": name}, "host": format!("{name}.test")}),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let sid = v["serviceId"].as_str().unwrap().to_string();
    // Every replica Ready and listed as an endpoint.
    let (c2, sid2) = (c, sid.as_str());
    eventually(
        "every replica is a Ready endpoint",
        ROLLOUT_DEADLINE,
        || async move {
            let (_, v) = c2.get(&format!("/api/v1/services/{sid2}/endpoints")).await;
            (v["items"].as_array()?.len() as i64 == replicas).then_some(())
        },
    )
    .await;
    id
}

#[derive(Default)]
struct Stats {
    ok: u64,
    failed: Vec<String>,
    /// (started, version) of each successful response.
    versions: Vec<(Instant, String)>,
}

/// Continuous HTTP load through the gateway: `clients` loops of GETs.
struct Load {
    stop: Arc<AtomicBool>,
    stats: Arc<Mutex<Stats>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(gateway: &str, host: &str, clients: usize) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(Mutex::new(Stats::default()));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let tasks = (0..clients)
            .map(|_| {
                let (stop, stats, http) = (stop.clone(), stats.clone(), http.clone());
                let (url, host) = (format!("{gateway}/"), host.to_string());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let started = Instant::now();
                        let r = http.get(&url).header("host", &host).send().await;
                        let outcome = match r {
                            Ok(r) if r.status() == 200 => match r.json::<Value>().await {
                                Ok(v) => Ok(v["version"].as_str().unwrap_or("?").to_string()),
                                Err(e) => Err(format!("bad body: {e}")),
                            },
                            Ok(r) => {
                                let s = r.status();
                                Err(format!("{s}: {}", r.text().await.unwrap_or_default()))
                            }
                            Err(e) => Err(format!("request error: {e}")),
                        };
                        let mut st = stats.lock().await;
                        match outcome {
                            Ok(v) => {
                                st.ok += 1;
                                st.versions.push((started, v));
                            }
                            Err(e) => st.failed.push(e),
                        }
                        drop(st);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                })
            })
            .collect();
        Load { stop, stats, tasks }
    }

    /// Called once the API shows the rollout ended: no request may have
    /// failed, and requests sent from 250 ms later on (the gateway reads the
    /// log itself and may trail the projection the API reads by a moment)
    /// count as "after the end"; traffic goes on for 750 ms.
    async fn finish_clean(self) -> (Stats, Instant) {
        let ended = Instant::now() + Duration::from_millis(250);
        tokio::time::sleep(Duration::from_millis(750)).await;
        let stats = self.finish().await;
        assert!(
            stats.failed.is_empty(),
            "failed requests: {:?}",
            &stats.failed[..stats.failed.len().min(5)]
        );
        (stats, ended)
    }

    async fn finish(self) -> Stats {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        let stats = Arc::try_unwrap(self.stats)
            .ok()
            .expect("tasks are done")
            .into_inner();
        let mut by_version: BTreeMap<&str, usize> = BTreeMap::new();
        for (_, v) in &stats.versions {
            *by_version.entry(v.as_str()).or_default() += 1;
        }
        eprintln!(
            "load: {} ok, {} failed, by version {by_version:?}",
            stats.ok,
            stats.failed.len()
        );
        stats
    }
}

async fn rollouts(c: &Cluster, id: &str) -> Vec<Value> {
    let (status, v) = c
        .get(&format!("/api/v1/workloads/deployments/{id}/rollouts"))
        .await;
    assert_eq!(status, 200, "{v}");
    v["items"].as_array().unwrap().clone()
}

/// Wait until rollout `n` has `status`; returns its row.
async fn wait_rollout(c: &Cluster, id: &str, n: i64, status: &str) -> Value {
    eventually(
        &format!("rollout {n} of {id} to be {status}"),
        ROLLOUT_DEADLINE,
        || async move {
            rollouts(c, id)
                .await
                .into_iter()
                .find(|r| r["rollout"] == n && r["status"] == status)
        },
    )
    .await
}

/// The fewest Ready pods the deployment had between two log offsets,
/// recomputed from the event log (the audit trail, not a sample).
async fn min_ready_between(c: &Cluster, id: &str, from_offset: i64, to_offset: i64) -> i64 {
    let rows: Vec<(i64, String, uuid::Uuid, Value)> = sqlx::query_as(
        "SELECT log_offset, event_type, aggregate_id, body FROM event_log
          WHERE aggregate_kind = 'pod' AND log_offset <= $1 ORDER BY log_offset, batch_index",
    )
    .bind(to_offset)
    .fetch_all(&c.pool)
    .await
    .unwrap();
    let mut mine = HashSet::new();
    let mut ready = HashSet::new();
    let mut min = i64::MAX;
    for (off, ty, pod, body) in rows {
        match ty.as_str() {
            "PodCreated" if body["deploymentId"] == id => {
                mine.insert(pod);
            }
            "PodReady" if mine.contains(&pod) => {
                ready.insert(pod);
            }
            "PodNotReady" | "PodRestarted" | "PodDeleted" | "PodFailed" | "PodEvicted" => {
                ready.remove(&pod);
            }
            _ => {}
        }
        if off >= from_offset {
            min = min.min(ready.len() as i64);
        }
    }
    min
}

async fn offset_of(c: &Cluster, id: &str, event_type: &str, rollout: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT log_offset FROM event_log WHERE aggregate_id = $1::uuid AND event_type = $2
           AND (body->>'rollout')::int8 = $3",
    )
    .bind(id)
    .bind(event_type)
    .bind(rollout)
    .fetch_one(&c.pool)
    .await
    .unwrap()
}

/// The versions that answered requests sent at or after `t`.
fn versions_after(stats: &Stats, t: Instant) -> Vec<String> {
    let set: std::collections::BTreeSet<String> = stats
        .versions
        .iter()
        .filter(|(at, _)| *at >= t)
        .map(|(_, v)| v.clone())
        .collect();
    set.into_iter().collect()
}

/// (a) v1 → v2 under load, (d) a second PATCH meanwhile is 409, (b) v3
/// fails readiness and is rolled back by itself, (c) rollback to revision 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rollouts_under_load_drop_no_request() {
    let c = process_cluster("rollout").await;
    let id = deploy_app(&c, "web", 10, json!({})).await;
    let path = format!("/api/v1/workloads/deployments/{id}");

    // (a) v1 → v2.
    let load = Load::start(&c.gateway, "web.test", 4);
    tokio::time::sleep(Duration::from_millis(300)).await; // some traffic before the change
    let (status, v) = c.patch(&path, json!({"image": "demo-app:v2"})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "ROLLOUT_STARTED");
    assert_eq!(v["rollout"]["toRevision"], 2);
    // (d) a second rollout while this one runs.
    let (status, v) = c.patch(&path, json!({"image": "demo-app:v9"})).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["error"]["code"], "ROLLOUT_IN_PROGRESS");
    wait_rollout(&c, &id, 1, "SUCCEEDED").await;
    let (stats, ended) = load.finish_clean().await;
    assert!(
        stats.ok > 50,
        "too little traffic to mean anything: {}",
        stats.ok
    );
    assert_eq!(
        versions_after(&stats, ended),
        vec!["v2".to_string()],
        "every response after the end is from v2"
    );
    let seen: HashSet<_> = stats.versions.iter().map(|v| v.1.clone()).collect();
    assert!(seen.contains("v1") && seen.contains("v2"), "{seen:?}");
    let (from, to) = (
        offset_of(&c, &id, "RolloutStarted", 1).await,
        offset_of(&c, &id, "RolloutSucceeded", 1).await,
    );
    let min = min_ready_between(&c, &id, from, to).await;
    assert!(
        min >= 9,
        "Ready pods fell to {min} (replicas 10, maxUnavailable 1)"
    );
    let (_, d) = c.get(&path).await;
    assert_eq!(d["revision"], 2);
    assert_eq!(d["image"], "demo-app:v2");

    // (b) v3 fails readiness: the rollout stops and rolls back by itself.
    let load = Load::start(&c.gateway, "web.test", 4);
    let (status, v) = c
        .patch(
            &path,
            json!({"image": "demo-app:v3", "env": {"FAIL_READINESS": "1"}, "reason": "release v3"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let stopped = wait_rollout(&c, &id, 2, "ROLLED_BACK").await;
    assert!(
        stopped["reason"].as_str().unwrap().contains("readiness"),
        "{stopped}"
    );
    let back = wait_rollout(&c, &id, 3, "SUCCEEDED").await;
    assert_eq!(back["trigger"], "AUTO_ROLLBACK");
    assert_eq!(
        (back["fromRevision"].clone(), back["toRevision"].clone()),
        (json!(3), json!(2))
    );
    let (stats, ended) = load.finish_clean().await;
    assert!(
        !stats.versions.iter().any(|v| v.1 == "v3"),
        "a pod that was never Ready got traffic"
    );
    assert_eq!(versions_after(&stats, ended), vec!["v2".to_string()]);

    // (c) rollback to revision 1 by number.
    let load = Load::start(&c.gateway, "web.test", 4);
    let (status, v) = c
        .post(&format!("{path}/rollback"), json!({"revision": 1}))
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rollout"]["trigger"], "ROLLBACK");
    let (status, v) = c
        .post(&format!("{path}/rollback"), json!({"revision": 42}))
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (404, Some("REVISION_NOT_FOUND")),
        "{v}"
    );
    wait_rollout(&c, &id, 4, "SUCCEEDED").await;
    let (stats, ended) = load.finish_clean().await;
    assert_eq!(versions_after(&stats, ended), vec!["v1".to_string()]);

    // The history: every rollout, never truncated; every revision kept.
    let history: Vec<(i64, String, String)> = rollouts(&c, &id)
        .await
        .iter()
        .map(|r| {
            (
                r["rollout"].as_i64().unwrap(),
                r["trigger"].as_str().unwrap().into(),
                r["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            (0, "CREATE".into(), "SUCCEEDED".into()),
            (1, "UPDATE".into(), "SUCCEEDED".into()),
            (2, "UPDATE".into(), "ROLLED_BACK".into()),
            (3, "AUTO_ROLLBACK".into(), "SUCCEEDED".into()),
            (4, "ROLLBACK".into(), "SUCCEEDED".into()),
        ]
    );
    let (_, revs) = c.get(&format!("{path}/revisions")).await;
    assert_eq!(revs["items"].as_array().unwrap().len(), 3);
    let rolled_back: i64 = c
        .count(&format!(
            "SELECT count(*) FROM event_log WHERE aggregate_id = '{id}' AND event_type = 'RolloutRolledBack'
               AND actor = 'system:controller' AND (body->>'automatic')::bool"
        ))
        .await;
    assert_eq!(
        rolled_back, 1,
        "the controller, not a person, rolled v3 back"
    );
    c.finish().await;
}

/// (e) A container whose liveness probe fails is restarted with a growing
/// back-off, its restarts counted; its logs are readable through the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_liveness_restarts_with_growing_backoff() {
    let c = process_cluster("liveness").await;
    let (status, v) = c
        .post(
            "/api/v1/workloads/deployments",
            json!({
                "namespace": "default", "name": "sick", "image": "demo-app:v1", "replicas": 1,
                "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
                "env": {"FAIL_LIVENESS": "1"},
                "livenessProbe": {"httpGet": {"path": "/healthz"}, "initialDelayMs": 200, "periodMs": 200, "failureThreshold": 2},
            }),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    let id = v["deploymentId"].as_str().unwrap().to_string();
    let rows: Vec<(i64, i64)> = eventually("three restarts", Duration::from_secs(60), || {
        let pool = c.pool.clone();
        async move {
            let rows: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT (body->>'restarts')::int8, (body->>'backoffMs')::int8 FROM event_log
                  WHERE event_type = 'PodRestarted' ORDER BY log_offset",
            )
            .fetch_all(&pool)
            .await
            .ok()?;
            (rows.len() >= 3).then_some(rows)
        }
    })
    .await;
    assert_eq!(
        rows.iter().map(|r| r.0).take(3).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert!(
        rows[0].1 < rows[1].1 && rows[1].1 < rows[2].1,
        "back-off grows: {rows:?}"
    );
    let reason: String = sqlx::query_scalar(
        "SELECT body->>'reason' FROM event_log WHERE event_type = 'PodRestarted' ORDER BY log_offset LIMIT 1",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert!(reason.contains("liveness"), "{reason}");
    let (_, pods) = c
        .get(&format!("/api/v1/workloads/deployments/{id}/pods"))
        .await;
    let pod = &pods["items"][0];
    assert!(pod["restarts"].as_i64().unwrap() >= 3, "{pod}");
    // The same pod (restarted in place, not replaced).
    assert_eq!(pods["items"].as_array().unwrap().len(), 1);
    let pod_id = pod["podId"].as_str().unwrap();
    let (status, text) = c.get_text(&format!("/api/v1/pods/{pod_id}/logs")).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        text.matches("listening on").count() >= 3,
        "each run's output is kept: {text}"
    );
    c.finish().await;
}

/// (f) A canary of one pod takes a share of the traffic; promote finishes the rollout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn canary_of_one_pod_then_promote() {
    let c = process_cluster("canary").await;
    let id = deploy_app(&c, "shop", 4, json!({})).await;
    let path = format!("/api/v1/workloads/deployments/{id}");
    // A budget can be set on a running deployment without a new revision.
    let (status, v) = c
        .patch(&path, json!({"disruptionBudget": {"maxUnavailable": 1}}))
        .await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("BUDGET_CHANGED")),
        "{v}"
    );
    let (status, v) = c
        .patch(
            &path,
            json!({"disruptionBudget": {"maxUnavailable": 1, "minAvailable": 2}}),
        )
        .await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (422, Some("VALIDATION_FAILED")),
        "{v}"
    );
    eventually(
        "the projection shows the budget",
        ROLLOUT_DEADLINE,
        || async {
            let (_, d) = c.get(&path).await;
            (d["spec"]["disruptionBudget"]["maxUnavailable"] == 1 && d["revision"] == 1)
                .then_some(())
        },
    )
    .await;
    let load = Load::start(&c.gateway, "shop.test", 3);
    let (status, v) = c
        .patch(
            &path,
            json!({"image": "demo-app:v2", "canary": {"replicas": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rollout"]["canaryPods"], 1);
    // One v2 pod Ready next to three v1 pods, and the rollout waits there.
    let c2 = &c;
    let id2 = id.as_str();
    eventually(
        "one canary pod Ready beside three v1 pods",
        ROLLOUT_DEADLINE,
        || async move {
            let (_, pods) = c2
                .get(&format!("/api/v1/workloads/deployments/{id2}/pods"))
                .await;
            let live: Vec<&Value> = pods["items"]
                .as_array()?
                .iter()
                .filter(|p| p["phase"] == "RUNNING" && p["ready"] == true)
                .collect();
            let v2 = live.iter().filter(|p| p["revision"] == 2).count();
            (v2 == 1 && live.len() == 4).then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let r = &rollouts(&c, &id).await[1];
    assert_eq!(
        (r["status"].as_str(), r["canaryPods"].as_i64()),
        (Some("RUNNING"), Some(1)),
        "{r}"
    );
    let (_, pods) = c.get(&format!("{path}/pods")).await;
    assert_eq!(
        pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["revision"] == 2)
            .count(),
        1,
        "the canary did not grow by itself"
    );
    // Pause and resume are recorded on the rollout.
    let (status, v) = c.post(&format!("{path}/rollout/pause"), json!({})).await;
    assert_eq!((status, v["status"].as_str()), (200, Some("PAUSED")), "{v}");
    eventually("the history shows the pause", ROLLOUT_DEADLINE, || async {
        (rollouts(&c, &id).await[1]["paused"] == true).then_some(())
    })
    .await;
    let (status, v) = c.post(&format!("{path}/rollout/resume"), json!({})).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (200, Some("RESUMED")),
        "{v}"
    );
    let (status, v) = c.post(&format!("{path}/rollout/sideways"), json!({})).await;
    assert_eq!(status, 404, "{v}");
    let (status, v) = c.post(&format!("{path}/rollout/promote"), json!({})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["status"], "PROMOTED");
    wait_rollout(&c, &id, 1, "SUCCEEDED").await;
    let (stats, ended) = load.finish_clean().await;
    let both: HashSet<_> = stats.versions.iter().map(|v| v.1.clone()).collect();
    assert!(
        both.contains("v1") && both.contains("v2"),
        "the canary took traffic: {both:?}"
    );
    assert_eq!(versions_after(&stats, ended), vec!["v2".to_string()]);
    // Promote again: nothing is rolling out.
    let (status, v) = c.post(&format!("{path}/rollout/promote"), json!({})).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (409, Some("NO_ROLLOUT_IN_PROGRESS"))
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_starter_with_a_startup_probe_is_neither_restarted_nor_ready_while_it_warms_up() {
    let c = process_cluster("startup").await;
    let probe = |threshold: u32| json!({"httpGet": {"path": "/ready"}, "periodMs": 200, "timeoutMs": 500, "failureThreshold": threshold});
    let create = |name: &str, startup: bool| {
        let mut body = json!({
            "namespace": "default", "name": name, "image": "demo-app:v1", "replicas": 1,
            "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
            // Answers /ready only 2 s after it starts.
            "env": {"READY_AFTER_MS": "2000"},
            "readinessProbe": probe(1),
            "livenessProbe": probe(2),
        });
        if startup {
            body["startupProbe"] = probe(50);
        }
        body
    };
    let (status, v) = c
        .post("/api/v1/workloads/deployments", create("warm", true))
        .await;
    assert_eq!(status, 201, "{v}");
    let warm = v["deploymentId"].as_str().unwrap().to_string();
    let (status, v) = c
        .post("/api/v1/workloads/deployments", create("eager", false))
        .await;
    assert_eq!(status, 201, "{v}");
    // Without a warm-up, its liveness probe kills it before it is up.
    c.wait_count(
        "the pod without a startup probe restarted by its liveness probe",
        "SELECT count(*) FROM event_log e JOIN pod_instance p ON p.id = e.aggregate_id
         WHERE e.event_type = 'PodRestarted' AND p.name = 'eager-0' AND e.body->>'reason' LIKE 'liveness%'",
        1,
    )
    .await;
    c.wait_count(
        "the warmed-up pod Ready",
        "SELECT count(*) FROM pod_instance WHERE name = 'warm-0' AND ready",
        1,
    )
    .await;
    let (restarts, warm_ms): (i64, f64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM event_log e WHERE e.aggregate_id = p.id AND e.event_type = 'PodRestarted'),
                extract(epoch FROM p.ready_at - p.started_at)::float8 * 1000
         FROM pod_instance p WHERE p.name = 'warm-0'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_eq!(restarts, 0, "never restarted while it warmed up");
    assert!(warm_ms >= 1500.0, "Ready only once up ({warm_ms:.0} ms)");
    // A PATCH is checked by the decider against the merged spec, with field paths too.
    let (status, v) = c
        .patch(
            &format!("/api/v1/workloads/deployments/{warm}"),
            json!({"startupProbe": {"httpGet": {"path": "/ready"}, "exec": {"command": ["true"]}}}),
        )
        .await;
    assert_eq!(status, 422, "{v}");
    assert_eq!(v["error"]["code"], "VALIDATION_FAILED");
    assert_eq!(v["error"]["fields"][0]["field"], "startupProbe", "{v}");
    c.finish().await;
}
