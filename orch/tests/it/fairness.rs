//! Fairness: each subject has its own token bucket, so a tenant flooding
//! the API gets 429s with Retry-After while another tenant's requests go on.

use serde_json::Value;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_tenant_is_answered_429_while_another_is_served() {
    let c = Cluster::start(
        "fair",
        Options {
            up_args: vec![
                "--api-rate-limit".into(),
                "20".into(),
                "--api-burst".into(),
                "20".into(),
            ],
            ..Default::default()
        },
    )
    .await;
    let a = c.user_token("tenant-a", &[("viewer", None)]).await;
    let b = c.user_token("tenant-b", &[("viewer", None)]).await;
    let get = |token: String| {
        let (http, url) = (c.http.clone(), format!("{}/api/v1/namespaces", c.api));
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            (
                r.status().as_u16(),
                retry,
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // Tenant A: 120 requests at once, 6× its burst.
    let mut flood = tokio::task::JoinSet::new();
    for _ in 0..120 {
        flood.spawn(get(a.clone()));
    }
    // Tenant B meanwhile: 10 requests, each answered.
    for _ in 0..10 {
        let (s, _, v) = get(b.clone()).await;
        assert_eq!(s, 200, "tenant B was limited by tenant A's flood: {v}");
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(r) = flood.join_next().await {
        let (s, retry, v) = r.unwrap();
        match s {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert_eq!(v["error"]["code"], "RATE_LIMITED", "{v}");
                assert!(
                    v["error"]["message"].as_str().unwrap().contains("tenant-a"),
                    "{v}"
                );
                assert!(retry.is_some_and(|s| s >= 1), "Retry-After missing: {v}");
            }
            other => panic!("unexpected {other}: {v}"),
        }
    }
    assert!(ok >= 20, "the burst is served: {ok}");
    assert!(limited >= 60, "the flood is limited: {limited} of 120");
    let (_, metrics) = c.get_text("/metrics").await;
    let counted = metrics
        .lines()
        .find(|l| l.starts_with("apiserver_rate_limited_total"))
        .and_then(|l| l.split_whitespace().last()?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(counted >= limited as u64, "{counted} < {limited}");
    c.finish().await;
}
