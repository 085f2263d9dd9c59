use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_a_zone_stops_heartbeating_its_nodes_are_lost_and_every_pod_is_rebound_elsewhere() {
    let c = Cluster::start(
        "zone",
        Options {
            grace_seconds: 2.0,
            lost_seconds: 4.0,
            ..Default::default()
        },
    )
    .await;
    c.deploy_ready("web", 12, 1000).await;
    assert_eq!(
        c.count("SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id WHERE n.zone = 'az-a'").await,
        4
    );

    c.lose_zone_a(12).await;
    assert_eq!(c.count("SELECT count(*) FROM pod_instance WHERE phase = 'FAILED' AND failure_reason LIKE 'NodeLost%'").await, 4);
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'NodeNotReady'")
            .await,
        4
    );
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'NodeLost'")
            .await,
        4
    );
    // The lost nodes hold nothing any more; the others never exceed allocatable.
    assert_eq!(c.count("SELECT coalesce(sum(cpu_requested_milli), 0)::int8 FROM node_status WHERE zone = 'az-a'").await, 0);
    assert_eq!(
        c.count(
            "SELECT count(*) FROM node_status WHERE cpu_requested_milli > cpu_allocatable_milli"
        )
        .await,
        0
    );
    // Replacements spread over the two healthy zones.
    let per_zone: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.zone, count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id WHERE p.phase = 'RUNNING' GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(
        per_zone,
        vec![("az-b".to_string(), 6), ("az-c".to_string(), 6)]
    );

    // The zone comes back: its nodes are Ready again (and empty).
    c.http
        .post(format!("{}/zones/az-a/start", c.agent))
        .send()
        .await
        .unwrap();
    c.wait_count(
        "az-a Ready again",
        "SELECT count(*) FROM node_status WHERE zone = 'az-a' AND ready",
        4,
    )
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_failed_on_a_lost_zone_leave_the_listings_once_replaced_but_not_the_history() {
    let c = Cluster::start(
        "podgc",
        Options {
            grace_seconds: 2.0,
            lost_seconds: 4.0,
            up_args: vec!["--failed-pod-ttl-seconds".into(), "2".into()],
            ..Default::default()
        },
    )
    .await;
    let id = c.deploy_ready("web", 12, 1000).await;
    let on_a: Vec<(uuid::Uuid, String)> = sqlx::query_as(
        "SELECT p.id, p.name FROM pod_instance p JOIN node_status n ON n.id = p.node_id WHERE n.zone = 'az-a'",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap();
    assert_eq!(on_a.len(), 4);
    c.lose_zone_a(12).await;
    // Replaced, then gone from the live tables and the API's listing.
    c.wait_count(
        "no failed pods left",
        "SELECT count(*) FROM pod_instance",
        12,
    )
    .await;
    let (status, pods) = c
        .get(&format!("/api/v1/workloads/deployments/{id}/pods"))
        .await;
    assert_eq!(status, 200);
    let items = pods["items"].as_array().unwrap();
    assert_eq!(items.len(), 12, "{pods}");
    assert!(items.iter().all(|p| p["phase"] == "RUNNING"), "{pods}");
    for (pod, name) in &on_a {
        let (status, _) = c.get(&format!("/api/v1/pods/{pod}")).await;
        assert_eq!(status, 404, "{name} is gone from the live state");
        // Its history is all there: failed on the lost node, then collected.
        let (status, page) = c
            .get(&format!("/api/v1/events?aggregate={pod}&order=asc"))
            .await;
        assert_eq!(status, 200);
        let types: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "PodCreated",
                "PodBound",
                "PodStarted",
                "PodReady",
                "PodFailed",
                "PodDeleted"
            ],
            "{name}"
        );
        let last = &page["items"][5];
        assert_eq!(last["actor"], "system:controller");
        let why = last["body"]["reason"].as_str().unwrap();
        assert!(
            why.starts_with("garbage-collected: ended") && why.contains("NodeLost"),
            "{why}"
        );
    }
    c.finish().await;
}
