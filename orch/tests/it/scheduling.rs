//! Scheduling through the API: explained placements, unschedulable
//! reasons, preemption, cordon and drain within disruption budgets,
//! NoExecute taints, and a rate-limited zone outage of a few hundred pods.

use serde_json::{Value, json};

use crate::support::*;

fn with(mut d: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        d[k] = v.clone();
    }
    d
}

async fn pods_of(c: &Cluster, deployment: &str) -> Vec<Value> {
    let (s, body) = c
        .get(&format!("/api/v1/workloads/deployments/{deployment}/pods"))
        .await;
    assert_eq!(s, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placement_is_explained_and_unschedulable_pods_say_why() {
    let c = Cluster::start("placement", Options::default()).await;
    // 12 nodes, 14 replicas that refuse to share a node: 12 bound, 2 cannot be.
    let (s, body) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("cache", 14, 100),
                json!({"affinity": {"podAntiAffinity": {"required": [
                    {"labelSelector": {"app": "cache"}, "topologyKey": "kubernetes.io/hostname"}]}}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count(
        "12 bound",
        "SELECT count(*) FROM pod_instance WHERE node_id IS NOT NULL",
        12,
    )
    .await;
    c.wait_count(
        "2 unschedulable with reasons",
        "SELECT count(*) FROM pod_instance WHERE node_id IS NULL
           AND (unschedulable->'filtered'->>'PodAntiAffinityViolated')::int = 12",
        2,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(DISTINCT node_id) FROM pod_instance WHERE node_id IS NOT NULL")
            .await,
        12
    );
    let pods = pods_of(&c, &id).await;
    let bound = pods.iter().find(|p| !p["nodeId"].is_null()).unwrap();
    let (s, p) = c
        .get(&format!(
            "/api/v1/pods/{}/placement",
            bound["podId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["status"], "Bound");
    assert_eq!(p["nodesTotal"], 12);
    assert_eq!(p["winner"]["nodeId"], bound["nodeId"]);
    assert_eq!(
        p["top"][0]["nodeId"], bound["nodeId"],
        "the winner is the top-scored node"
    );
    for plugin in ["zoneSpread", "nodeSpread", "leastAllocated", "balanced"] {
        assert!(
            p["top"][0]["scores"][plugin].is_u64(),
            "{plugin} score in {p}"
        );
    }
    let unbound = pods.iter().find(|p| p["nodeId"].is_null()).unwrap();
    let (s, u) = c
        .get(&format!(
            "/api/v1/pods/{}/placement",
            unbound["podId"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["status"], "Unschedulable");
    assert_eq!(
        u["lastUnschedulable"]["filtered"]["PodAntiAffinityViolated"],
        12
    );
    // The same explanation is on the PodBound event in the log.
    assert_eq!(
        c.count(
            "SELECT count(*) FROM event_log WHERE event_type = 'PodBound'
               AND (body->'placement'->>'nodesTotal')::int = 12 AND jsonb_array_length(body->'placement'->'top') >= 1"
        )
        .await,
        12
    );
    // Bad scheduling fields are a 422 with field paths, not a 500.
    let (s, e) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("bad", 1, 100),
                json!({"priorityClassName": "urgent",
                       "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "rack"}]}),
            ),
        )
        .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        vec![
            "priorityClassName",
            "topologySpreadConstraints[0].topologyKey"
        ]
    );
    let (s, _) = c
        .get("/api/v1/pods/0192f0c0-0000-7000-8000-000000000000/placement")
        .await;
    assert_eq!(s, 404);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_deployment_preempts_the_fewest_low_priority_pods() {
    let c = Cluster::start("preempt", Options::default()).await;
    // One 3000m low-priority pod per 4000m node: the cluster is full for 2000m pods.
    let (s, body) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("batch", 12, 3000),
                json!({"priorityClassName": "low"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    c.wait_count(
        "batch ready",
        "SELECT count(*) FROM pod_instance WHERE ready",
        12,
    )
    .await;
    let (s, body) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("api", 3, 2000),
                json!({"priorityClassName": "high"}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let api = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count(
        "3 high-priority pods running",
        &format!("SELECT count(*) FROM pod_instance WHERE workload_id = '{api}' AND ready"),
        3,
    )
    .await;
    // Evicting one 3000m pod frees room for two 2000m pods: three
    // high-priority pods need only two victims, each saying why.
    assert_eq!(
        c.count(
            "SELECT count(*) FROM event_log WHERE event_type = 'PodEvicted'
               AND body->'cause'->>'kind' = 'Preemption' AND body->>'reason' LIKE 'preempted by pod%'"
        )
        .await,
        2
    );
    assert_eq!(
        c.count(
            "SELECT count(*) FROM node_status WHERE cpu_requested_milli > cpu_allocatable_milli"
        )
        .await,
        0
    );
    let mut preempted = 0;
    for pod in pods_of(&c, &api).await {
        let (_, p) = c
            .get(&format!(
                "/api/v1/pods/{}/placement",
                pod["podId"].as_str().unwrap()
            ))
            .await;
        preempted += p["preempted"].as_array().map_or(0, |a| a.len());
    }
    assert_eq!(preempted, 2, "the placements name the victims");
    // The evicted batch pods are replaced but cannot fit: pending, with reasons.
    c.wait_count(
        "2 batch replacements unschedulable",
        "SELECT count(*) FROM pod_instance WHERE node_id IS NULL AND phase = 'PENDING' AND unschedulable IS NOT NULL",
        2,
    )
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_respects_the_disruption_budget_and_no_execute_taints_evict() {
    let c = Cluster::start("drain", Options::default()).await;
    let (s, body) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("web", 6, 1500),
                json!({"disruptionBudget": {"maxUnavailable": 1}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    let web = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count(
        "web ready",
        "SELECT count(*) FROM pod_instance WHERE ready",
        6,
    )
    .await;
    // Pin two replicas onto one node by cordoning the others? Simpler: drain a node that has one.
    let node: String = sqlx::query_scalar(
        "SELECT n.name FROM node_status n JOIN pod_instance p ON p.node_id = n.id
         WHERE p.ready ORDER BY n.name LIMIT 1",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    let (s, d) = c
        .post(&format!("/api/v1/nodes/{node}/drain"), json!({}))
        .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["unschedulable"], true);
    assert_eq!(d["draining"], true);
    c.wait_count(
        "drained node empty, 6 ready elsewhere",
        &format!(
            "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
             WHERE p.ready AND p.phase = 'RUNNING' AND n.name <> '{node}'"
        ),
        6,
    )
    .await;
    assert!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodEvicted' AND body->'cause'->>'kind' = 'Drain'")
            .await
            >= 1
    );
    let (_, n) = c.get(&format!("/api/v1/nodes/{node}")).await;
    assert_eq!(n["pods"], 0, "{n}");
    // A cordoned node takes nothing new.
    let (s, _) = c
        .post(
            &format!("/api/v1/workloads/deployments/{web}/scale"),
            json!({"replicas": 12}),
        )
        .await;
    assert_eq!(s, 200);
    c.wait_count(
        "12 ready",
        "SELECT count(*) FROM pod_instance WHERE ready",
        12,
    )
    .await;
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
             WHERE n.name = '{node}' AND p.phase IN ('PENDING', 'RUNNING')"
        ))
        .await,
        0
    );
    let (s, u) = c
        .post(&format!("/api/v1/nodes/{node}/uncordon"), json!({}))
        .await;
    assert_eq!(s, 200, "{u}");
    assert_eq!(u["unschedulable"], false);

    // The eviction API refuses what the budget does not allow: 429.
    let (s, _) = c
        .post(
            &format!("/api/v1/workloads/deployments/{web}/scale"),
            json!({"replicas": 6}),
        )
        .await;
    assert_eq!(s, 200);
    c.wait_count(
        "back to 6 live",
        "SELECT count(*) FROM pod_instance WHERE phase IN ('PENDING', 'RUNNING')",
        6,
    )
    .await;
    let (s, strict) = c
        .post(
            "/api/v1/workloads/deployments",
            with(
                deployment("strict", 2, 100),
                json!({"disruptionBudget": {"minAvailable": 2}}),
            ),
        )
        .await;
    assert_eq!(s, 201, "{strict}");
    let strict = strict["deploymentId"].as_str().unwrap().to_string();
    c.wait_count(
        "strict ready",
        &format!("SELECT count(*) FROM pod_instance WHERE workload_id = '{strict}' AND ready"),
        2,
    )
    .await;
    let pods = pods_of(&c, &strict).await;
    let (s, e) = c
        .post(
            &format!(
                "/api/v1/pods/{}/eviction",
                pods[0]["podId"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(s, 429, "{e}");
    assert_eq!(e["error"]["code"], "DISRUPTION_BUDGET_EXCEEDED");

    // A NoExecute taint evicts what does not tolerate it; the pods come back elsewhere.
    let tainted: String = sqlx::query_scalar(
        "SELECT n.name FROM node_status n JOIN pod_instance p ON p.node_id = n.id
         WHERE p.ready AND p.workload_id = $1 ORDER BY n.name LIMIT 1",
    )
    .bind(uuid::Uuid::parse_str(&web).unwrap())
    .fetch_one(&c.pool)
    .await
    .unwrap();
    let (s, t) = c
        .put(
            &format!("/api/v1/nodes/{tainted}/taints"),
            json!({"taints": [{"key": "maintenance", "value": "now", "effect": "NoExecute"}]}),
        )
        .await;
    assert_eq!(s, 200, "{t}");
    assert!(t["taints"][0]["timeAddedMs"].is_i64(), "{t}");
    c.wait_count(
        "tainted node emptied of web pods",
        &format!(
            "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
             WHERE n.name = '{tainted}' AND p.phase IN ('PENDING', 'RUNNING') AND p.workload_id = '{web}'"
        ),
        0,
    )
    .await;
    c.wait_count(
        "web back to 6 ready",
        &format!("SELECT count(*) FROM pod_instance WHERE workload_id = '{web}' AND ready"),
        6,
    )
    .await;
    assert!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodEvicted' AND body->'cause'->>'kind' = 'Taint'")
            .await
            >= 1
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_outage_of_hundreds_of_pods_is_evicted_at_the_zone_rate_and_rebound() {
    let c = Cluster::start(
        "outage",
        Options {
            nodes_per_zone: 10,
            grace_seconds: 2.0,
            lost_seconds: 3.0,
            up_args: vec!["--eviction-nodes-per-second".into(), "2".into()],
            ..Default::default()
        },
    )
    .await;
    let (s, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 300, 100))
        .await;
    assert_eq!(s, 201, "{body}");
    c.wait_count(
        "300 ready",
        "SELECT count(*) FROM pod_instance WHERE ready",
        300,
    )
    .await;
    let victims = [
        "node-az-a-0",
        "node-az-a-1",
        "node-az-a-2",
        "node-az-a-3",
        "node-az-a-4",
    ];
    let affected = c
        .count(&format!(
            "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
             WHERE n.name IN ('{}') AND p.phase = 'RUNNING'",
            victims.join("','")
        ))
        .await;
    assert!(affected >= 40, "{affected} pods on the victims");
    for v in victims {
        let r = c
            .http
            .post(format!("{}/nodes/{v}/stop", c.agent))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
    }
    c.wait_count(
        "5 lost",
        "SELECT count(*) FROM node_status WHERE condition = 'Lost'",
        5,
    )
    .await;
    c.wait_count(
        "300 running and ready outside the lost nodes",
        "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
         WHERE p.phase = 'RUNNING' AND p.ready AND n.condition = 'Ready'",
        300,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(*) FROM pod_instance WHERE phase = 'FAILED' AND failure_reason LIKE 'NodeLost%'")
            .await,
        affected
    );
    // 2 nodes per second per zone (burst 2): five losses span at least 1.5 s.
    let span: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM max(occurred_at) - min(occurred_at))::float8 FROM event_log WHERE event_type = 'NodeLost'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert!(
        span >= 1.4,
        "NodeLost events within {span:.2} s: not rate limited"
    );
    assert_eq!(
        c.count(
            "SELECT count(*) FROM node_status WHERE cpu_requested_milli > cpu_allocatable_milli"
        )
        .await,
        0
    );
    c.finish().await;
}
