use serde_json::json;

use crate::support::*;

const RUNNING: &str = "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_of_12_runs_12_pods_spread_over_3_zones_and_the_log_tells_how() {
    let c = Cluster::start("create", Options::default()).await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 12, 250))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "CREATED");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count("12 running ready pods", RUNNING, 12).await;

    let per_zone: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.zone, count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id GROUP BY n.zone ORDER BY 1",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(per_zone.len(), 3, "{per_zone:?}");
    assert!(
        per_zone.iter().all(|(_, n)| *n == 4),
        "balanced across zones: {per_zone:?}"
    );

    c.wait_count(
        "1 DeploymentCreated",
        "SELECT count(*) FROM event_log WHERE event_type = 'DeploymentCreated'",
        1,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodCreated'")
            .await,
        12
    );
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodBound'")
            .await,
        12
    );
    // Who did it: the token's actor on the user's change, the scheduler on each bind with its reasons.
    assert_eq!(c.count("SELECT count(*) FROM event_log WHERE event_type = 'DeploymentCreated' AND actor = 'admin'").await, 1);
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodBound' AND actor = 'system:scheduler' AND jsonb_array_length(body->'placement'->'top') > 0").await,
        12
    );

    let (status, d) = c.get(&format!("/api/v1/workloads/deployments/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(d["replicas"], 12);
    let (_, pods) = c
        .get(&format!("/api/v1/workloads/deployments/{id}/pods"))
        .await;
    let pod_id = pods["items"][0]["podId"].as_str().unwrap().to_string();
    let (_, pod) = c.get(&format!("/api/v1/pods/{pod_id}")).await;
    assert_eq!(pod["placement"]["nodesTotal"], 12, "{pod}");
    let (_, health) = c.get("/api/v1/nodes/health?zone=az-a").await;
    let items = health["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let used: i64 = items
        .iter()
        .map(|n| 4000 - n["cpuFreeMilli"].as_i64().unwrap())
        .sum();
    assert_eq!(used, 4 * 250);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_up_to_18_and_down_to_6_converges_the_pods() {
    let c = Cluster::start("scale", Options::default()).await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 12, 250))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count("12 running", RUNNING, 12).await;

    let (status, body) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 18, "reason": "traffic \"spike\", day 1\nsee ticket"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["previousReplicas"], 12);
    c.wait_count("18 running", RUNNING, 18).await;

    let (status, _) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 6}),
        )
        .await;
    assert_eq!(status, 200);
    c.wait_count("6 pods left", "SELECT count(*) FROM pod_instance", 6)
        .await;
    c.wait_count("6 running", RUNNING, 6).await;
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'PodDeleted'")
            .await,
        12
    );
    assert_eq!(
        c.count(r#"SELECT count(*) FROM event_log WHERE event_type = 'DeploymentScaled' AND reason = E'traffic "spike", day 1\nsee ticket' AND actor = 'admin'"#).await,
        1
    );
    // Nodes give back what the deleted pods held.
    assert_eq!(
        c.count("SELECT sum(cpu_requested_milli)::int8 FROM node_status")
            .await,
        6 * 250
    );

    let status = c
        .delete(&format!("/api/v1/workloads/deployments/{id}"))
        .await;
    assert_eq!(status, 200);
    c.wait_count(
        "no pods after delete",
        "SELECT count(*) FROM pod_instance",
        0,
    )
    .await;
    c.wait_count(
        "no deployment after delete",
        "SELECT count(*) FROM workload_def",
        0,
    )
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_that_can_never_fit_gets_422_and_nothing_is_created() {
    let c = Cluster::start("nofit", Options::default()).await;
    // Each node has 4000m; 8000m per pod fits nowhere.
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("huge", 1, 8000))
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "INSUFFICIENT_CLUSTER_CAPACITY");
    // 49 pods of 1000m cannot fit 12 nodes of 4000m.
    let (status, body) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment("many", 49, 1000),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "INSUFFICIENT_CLUSTER_CAPACITY");
    c.wait_count(
        "both rejections in the audit log",
        "SELECT count(*) FROM event_log WHERE event_type = 'CommandRejected'",
        2,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'DeploymentCreated'")
            .await,
        0
    );
    assert_eq!(c.count("SELECT count(*) FROM workload_def").await, 0);
    assert_eq!(c.count("SELECT count(*) FROM pod_instance").await, 0);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_writes_nothing() {
    let c = Cluster::start("badinput", Options::default()).await;
    let cases: Vec<(&str, String, u16, &str, Option<&str>)> = vec![
        (
            "malformed JSON",
            "{\"namespace\": ".into(),
            400,
            "MALFORMED_JSON",
            None,
        ),
        (
            "not DNS-1123",
            deployment("Web_App", 1, 100).to_string(),
            422,
            "VALIDATION_FAILED",
            Some("name"),
        ),
        (
            "negative replicas",
            deployment("web", -3, 100).to_string(),
            422,
            "VALIDATION_FAILED",
            Some("replicas"),
        ),
        (
            "unknown field",
            {
                let mut d = deployment("web", 1, 100);
                d["replica"] = json!(3);
                d.to_string()
            },
            422,
            "UNKNOWN_FIELD",
            None,
        ),
        (
            "wrong type",
            {
                let mut d = deployment("web", 1, 100);
                d["replicas"] = json!("three");
                d.to_string()
            },
            422,
            "VALIDATION_FAILED",
            Some("replicas"),
        ),
        (
            "missing field",
            json!({"namespace": "default", "name": "web"}).to_string(),
            422,
            "VALIDATION_FAILED",
            None,
        ),
        (
            "a probe with two actions",
            {
                let mut d = deployment("web", 1, 100);
                d["startupProbe"] = json!({"httpGet": {"path": "/ready"}, "tcpSocket": {}});
                d.to_string()
            },
            422,
            "VALIDATION_FAILED",
            Some("startupProbe"),
        ),
        (
            "both rollout bounds 0",
            {
                let mut d = deployment("web", 1, 100);
                d["strategy"] = json!({"maxSurge": 0, "maxUnavailable": 0});
                d.to_string()
            },
            422,
            "VALIDATION_FAILED",
            Some("strategy"),
        ),
    ];
    for (what, body, status, code, field) in cases {
        let (s, b) = c.post_raw("/api/v1/workloads/deployments", &body).await;
        assert_eq!(s, status, "{what}: {b}");
        assert_eq!(b["error"]["code"], code, "{what}: {b}");
        assert!(
            !b["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{what}: a human message"
        );
        if let Some(f) = field {
            assert!(
                b["error"]["fields"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x["field"] == f),
                "{what}: field path {f} in {b}"
            );
        }
    }
    let r = c
        .http
        .post(format!("{}/api/v1/workloads/deployments", c.api))
        .json(&deployment("web", 1, 100))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401, "no token");
    let (s, b) = c
        .post(
            "/api/v1/workloads/deployments/not-a-uuid/scale",
            json!({"replicas": 1}),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (400, Some("INVALID_ID")));
    let (s, b) = c
        .post(
            &format!(
                "/api/v1/workloads/deployments/{}/scale",
                uuid::Uuid::now_v7()
            ),
            json!({"replicas": 1}),
        )
        .await;
    assert_eq!((s, b["error"]["code"].as_str()), (404, Some("NOT_FOUND")));
    // Nothing reached the write side except the one command about a missing deployment.
    c.wait_count(
        "the 404 is in the audit log",
        "SELECT count(*) FROM event_log WHERE event_type = 'CommandRejected'",
        1,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE aggregate_kind = 'deployment'")
            .await,
        0
    );
    assert_eq!(c.count("SELECT count(*) FROM workload_def").await, 0);
    let (s, b) = c.get("/api/v1/nodes/health?zone=az-a&bogus=1").await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("INVALID_QUERY")),
        "{b}"
    );
    let (s, doc) = c.get("/api/v1/openapi.json").await;
    assert_eq!(s, 200);
    assert!(doc["paths"]["/api/v1/workloads/deployments"]["post"].is_object());
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_with_the_same_idempotency_key_creates_once() {
    let c = Cluster::start("idem", Options::default()).await;
    let send = || async {
        let r = c
            .http
            .post(format!("{}/api/v1/workloads/deployments", c.api))
            .bearer_auth(&c.token)
            .header("Idempotency-Key", "create-web-once")
            .json(&deployment("web", 3, 100))
            .send()
            .await
            .unwrap();
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.unwrap(),
        )
    };
    let (s1, b1) = send().await;
    assert_eq!(s1, 201, "{b1}");
    c.wait_count(
        "the create is projected",
        "SELECT count(*) FROM event_log WHERE event_type = 'DeploymentCreated'",
        1,
    )
    .await;
    let (s2, b2) = send().await;
    assert_eq!(s2, 201, "the retry gets the first answer: {b2}");
    assert_eq!(b1["deploymentId"], b2["deploymentId"]);
    c.wait_count("3 running", RUNNING, 3).await;
    assert_eq!(c.count("SELECT count(*) FROM event_log WHERE event_type IN ('DeploymentCreated', 'CommandRejected')").await, 1);
    c.finish().await;
}

/// The audit trail through the API: any object's events in log order with
/// their actors, filtered by namespace, type and actor, paged without overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_events_api_pages_through_the_history_of_anything() {
    let c = Cluster::start("events", Options::default()).await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("audit", 3, 100))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    c.wait_count("3 running ready pods", RUNNING, 3).await;
    let (status, _) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 4, "reason": "more traffic"}),
        )
        .await;
    assert_eq!(status, 200);
    c.wait_count("4 running ready pods", RUNNING, 4).await;

    let (status, v) = c.get(&format!("/api/v1/events?aggregate={id}")).await;
    assert_eq!(status, 200, "{v}");
    let history: Vec<(String, String, Option<String>)> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().into(),
                e["actor"].as_str().unwrap().into(),
                e["reason"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("DeploymentCreated".into(), "admin".into(), None),
            (
                "DeploymentScaled".into(),
                "admin".into(),
                Some("more traffic".into())
            ),
        ]
    );

    // Every PodCreated in the namespace, two per page, oldest first, no overlap.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let mut path = "/api/v1/events?namespace=default&type=PodCreated&limit=2".to_string();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = c.get(&path).await;
        assert_eq!(status, 200, "{page}");
        for e in page["items"].as_array().unwrap() {
            assert_eq!(e["actor"], "system:controller");
            seen.push(e["offset"].as_i64().unwrap());
        }
        cursor = page["nextCursor"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 4, "{seen:?}");
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "oldest first: {seen:?}"
    );
    let (_, newest) = c
        .get("/api/v1/events?type=PodCreated&order=desc&limit=1")
        .await;
    assert_eq!(newest["items"][0]["offset"].as_i64(), seen.last().copied());
    let (_, none) = c.get("/api/v1/events?namespace=elsewhere").await;
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    for bad in [
        "kind=thing",
        "order=up",
        "limit=0",
        "cursor=x",
        "aggregate=nope",
        "colour=red",
    ] {
        let (status, v) = c.get(&format!("/api/v1/events?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    c.finish().await;
}
