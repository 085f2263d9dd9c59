//! Network policies end to end, through the gateway: real pods call a
//! service with the identity their agent gave them (`ORCH_POD_TOKEN`), the
//! test calls it from outside. Before any policy everyone gets through; a
//! policy isolating the service's pods lets in only the peers it names,
//! each change taking effect within a deadline; a forged identity is
//! refused; every refusal is counted on `/metrics`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::*;

const POLICY_DEADLINE: Duration = Duration::from_secs(20);

/// A pod that calls `host` through the gateway every 100 ms with its identity
/// and prints each status as `code=<n>` (900 times at most: a pod the test
/// leaves behind, its agent killed, stops on its own).
fn caller(ns: &str, name: &str, gateway: &str, host: &str, token_expr: &str) -> Value {
    let script = format!(
        "for i in $(seq 1 900); do echo code=$(curl -s -m 2 -o /dev/null -w '%{{http_code}}' -H 'Host: {host}' -H \"X-Orch-Pod-Token: {token_expr}\" {gateway}/); sleep 0.1; done; exec sleep 600"
    );
    json!({"namespace": ns, "name": name, "image": "busybox:1.36", "replicas": 1,
        "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
        "command": ["/bin/sh", "-c", script]})
}

/// The last status a caller pod printed.
async fn last_code(c: &Cluster, deployment: &str) -> Option<String> {
    let (_, text) = c.pod_logs(deployment, "?tail=3").await.into_iter().next()?;
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("code="))
        .map(str::to_string)
}

async fn expect_code(c: &Cluster, what: &str, deployment: &str, code: &str) {
    eventually(what, POLICY_DEADLINE, || async {
        (last_code(c, deployment).await.as_deref() == Some(code)).then_some(())
    })
    .await;
}

async fn from_outside(c: &Cluster, host: &str) -> (u16, Value) {
    let r = c
        .http
        .get(format!("{}/", c.gateway))
        .header("host", host)
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    (s, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_lets_in_only_the_callers_it_names_and_changes_apply_within_a_deadline() {
    let c = Cluster::start(
        "netpol",
        Options {
            processes: vec!["decider,projector,reconcilers,api,gateway"],
            up_args: vec!["--gateway-listen".into(), "127.0.0.1:0".into()],
            runtime: "process",
            ..Default::default()
        },
    )
    .await;
    for (ns, team) in [("shop", "shop"), ("ops", "ops")] {
        let (s, v) = c
            .post(
                "/api/v1/namespaces",
                json!({"name": ns, "labels": {"team": team}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    // The service: demo-app pods of shop behind host web.test.
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            json!({"namespace": "shop", "name": "web", "image": "demo-app:v1", "replicas": 1,
                "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
                "readinessProbe": {"httpGet": {"path": "/ready"}, "periodMs": 200}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/services",
            json!({"namespace": "shop", "name": "web", "selector": {"app": "web"}, "host": "web.test"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["serviceId"].as_str().unwrap().to_string();
    eventually("the web pod is a Ready endpoint", DEADLINE, || async {
        let (_, v) = c.get(&format!("/api/v1/services/{sid}/endpoints")).await;
        (v["items"].as_array()?.len() == 1).then_some(())
    })
    .await;

    // Callers: a friend in shop, a stranger in ops, and a forger in ops
    // who sends another pod's identity with its own.
    let gw = c.gateway.clone();
    let mut ids = Vec::new();
    for (ns, name, token) in [
        ("shop", "friend", "$ORCH_POD_TOKEN"),
        ("ops", "stranger", "$ORCH_POD_TOKEN"),
        ("ops", "forger", "${ORCH_POD_TOKEN}x"),
    ] {
        let (s, v) = c
            .post(
                "/api/v1/workloads/deployments",
                caller(ns, name, &gw, "web.test", token),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        ids.push(v["deploymentId"].as_str().unwrap().to_string());
    }
    let (friend, stranger, forger) = (&ids[0], &ids[1], &ids[2]);

    // No policy: everyone but the forger.
    assert_eq!(from_outside(&c, "web.test").await.0, 200);
    expect_code(&c, "the friend gets through", friend, "200").await;
    expect_code(&c, "the stranger gets through", stranger, "200").await;
    expect_code(&c, "a forged identity is refused", forger, "403").await;

    // Bad input: field paths.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/networkpolicies/web-in",
            json!({"podSelector": {"app": "web"}, "ingress": [{"from": [{}], "ports": [0]}]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["ingress[0].from[0]", "ingress[0].ports[0]"], "{v}");

    // Isolate web: only pods of shop labelled app=friend.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/networkpolicies/web-in",
            json!({"podSelector": {"app": "web"}, "ingress": [{"from": [{"podSelector": {"app": "friend"}}]}]}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("CREATED")), "{v}");
    expect_code(&c, "the stranger is refused", stranger, "403").await;
    assert_eq!(last_code(&c, friend).await.as_deref(), Some("200"));
    let (s, v) = from_outside(&c, "web.test").await;
    assert_eq!(
        (s, v["code"].as_str()),
        (403, Some("NETWORK_POLICY_DENIED")),
        "{v}"
    );
    assert!(
        v["message"].as_str().unwrap().contains("web-in"),
        "the refusal names the policy: {v}"
    );

    // Let in ops by its namespace label, and the outside.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/networkpolicies/web-in",
            json!({"podSelector": {"app": "web"}, "ingress": [
                {"from": [{"podSelector": {"app": "friend"}}, {"namespaceSelector": {"team": "ops"}}]},
                {"from": [{"external": true}]}]}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("UPDATED")), "{v}");
    expect_code(&c, "the stranger's namespace is let in", stranger, "200").await;
    assert_eq!(from_outside(&c, "web.test").await.0, 200);
    assert_eq!(last_code(&c, forger).await.as_deref(), Some("403"));

    // Refusals were counted; the policy's history names who set it.
    let (_, metrics) = c.get_text("/metrics").await;
    let denied: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("gateway_network_policy_denied_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("the denial counter is exported");
    assert!(denied >= 3.0, "denied {denied}");
    let (ok, out, err) = c.orch(&["history", "networkpolicy/shop/web-in"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("network policy shop/web-in created"), "{out}");
    assert!(out.contains("network policy shop/web-in changed"), "{out}");
    c.wait_count(
        "the projection holds the policy",
        "SELECT count(*) FROM network_policies WHERE namespace = 'shop' AND jsonb_array_length(ingress) = 2",
        1,
    )
    .await;

    // Deleted: open again.
    assert_eq!(
        c.delete("/api/v1/namespaces/shop/networkpolicies/web-in")
            .await,
        200
    );
    eventually("everyone gets through again", POLICY_DEADLINE, || async {
        (from_outside(&c, "web.test").await.0 == 200).then_some(())
    })
    .await;
    // The callers stop with their deployments, before the agent goes.
    for id in &ids {
        assert_eq!(
            c.delete(&format!("/api/v1/workloads/deployments/{id}"))
                .await,
            200
        );
    }
    eventually("the agent runs no caller any more", DEADLINE, || async {
        let v: Value = c
            .http
            .get(format!("{}/pods", c.agent))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let left = v["items"].as_array()?.iter().any(|p| {
            let n = p["name"].as_str().unwrap_or("");
            ["friend", "stranger", "forger"]
                .iter()
                .any(|c| n.starts_with(c))
        });
        (!left).then_some(())
    })
    .await;
    c.finish().await;
}
