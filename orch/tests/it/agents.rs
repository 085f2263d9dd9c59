use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_agent_can_register_heartbeat_and_report_pods_through_the_rest_api() {
    let c = Cluster::start("restagent", Options::default()).await;
    let node = json!({"name": "rest-node-1", "zone": "az-x", "cpuCapacityMilli": 8000, "memCapacityMb": 16384,
                      "labels": {"pool": "rest"}});
    let (status, body) = c.post("/api/v1/nodes", node.clone()).await;
    assert_eq!(status, 201, "{body}");
    let node_id = body["nodeId"].as_str().unwrap().to_string();
    let (status, body) = c.post("/api/v1/nodes", node).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("UNCHANGED")),
        "registering again changes nothing"
    );
    let (status, body) = c
        .post(
            "/api/v1/nodes",
            json!({"name": "Bad_Name", "zone": "az-x", "cpuCapacityMilli": -1, "memCapacityMb": 1}),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let r = c
        .http
        .post(format!("{}/api/v1/nodes/{node_id}/heartbeat", c.api))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 202);
    c.wait_count(
        "the heartbeat projected",
        &format!(
            "SELECT count(*) FROM node_status WHERE id = '{node_id}' AND last_heartbeat IS NOT NULL"
        ),
        1,
    )
    .await;

    let mut d = deployment("pinned", 2, 500);
    d["nodeSelector"] = json!({"pool": "rest"});
    let (status, body) = c.post("/api/v1/workloads/deployments", d).await;
    assert_eq!(status, 201, "{body}");
    let pods = eventually("2 pods bound to the REST node", DEADLINE, || async {
        let (_, b) = c.get(&format!("/api/v1/nodes/{node_id}/pods")).await;
        let items = b["items"].as_array()?.clone();
        (items.len() == 2).then_some(items)
    })
    .await;
    for pod in &pods {
        let id = pod["podId"].as_str().unwrap();
        for state in ["Started", "Ready"] {
            let (status, body) = c
                .post(
                    &format!("/api/v1/pods/{id}/status"),
                    json!({"nodeId": node_id, "state": state}),
                )
                .await;
            assert_eq!(
                (status, body["changed"].as_bool()),
                (200, Some(true)),
                "{state}: {body}"
            );
        }
        let (status, body) = c
            .post(
                &format!("/api/v1/pods/{id}/status"),
                json!({"nodeId": node_id, "state": "Started"}),
            )
            .await;
        assert_eq!(
            (status, body["changed"].as_bool()),
            (200, Some(false)),
            "a repeated report is answered, not timed out"
        );
    }
    c.wait_count(
        "both pods running and ready on the REST node",
        &format!("SELECT count(*) FROM pod_instance WHERE node_id = '{node_id}' AND phase = 'RUNNING' AND ready"),
        2,
    )
    .await;
    let (status, body) = c
        .post(
            &format!("/api/v1/pods/{}/status", uuid::Uuid::now_v7()),
            json!({"nodeId": node_id, "state": "Ready"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{body}"
    );
    // A report from a node the pod is not on is refused with its own code.
    let other: uuid::Uuid = sqlx::query_scalar("SELECT id FROM node_status WHERE id <> $1 LIMIT 1")
        .bind(uuid::Uuid::parse_str(&node_id).unwrap())
        .fetch_one(&c.pool)
        .await
        .unwrap();
    let (status, body) = c
        .post(
            &format!("/api/v1/pods/{}/status", pods[0]["podId"].as_str().unwrap()),
            json!({"nodeId": other, "state": "Failed", "reason": "not mine"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("POD_NOT_ON_NODE")),
        "{body}"
    );
    let (status, body) = c
        .post(
            &format!("/api/v1/pods/{}/status", pods[0]["podId"].as_str().unwrap()),
            json!({"nodeId": node_id, "state": "Dancing"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    c.finish().await;
}
