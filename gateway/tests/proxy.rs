//! The gateway over real sockets: tiny axum upstreams, each on its own
//! runtime thread so that killing one drops every socket at once, like a
//! process exiting.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use gateway::{GatewayConfig, Resolve, Route};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const HOST: &str = "shop.example:8080";

struct Upstream {
    addr: SocketAddr,
    hits: Arc<AtomicUsize>,
    kill: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Upstream {
    /// An HTTP server answering every request with its name and what it got;
    /// `/fail` answers 500.
    fn start(name: &str) -> Upstream {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let (kill, killed) = tokio::sync::oneshot::channel::<()>();
        let name = name.to_string();
        let h = hits.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let app = Router::new().fallback(
                    move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
                        let name = name.clone();
                        h.fetch_add(1, Ordering::Relaxed);
                        async move {
                            let hdr =
                                |k: &str| headers.get(k).map(|v| v.to_str().unwrap().to_string());
                            let status = if uri.path() == "/fail" {
                                StatusCode::INTERNAL_SERVER_ERROR
                            } else {
                                StatusCode::OK
                            };
                            (
                                status,
                                [("x-upstream", name.clone())],
                                axum::Json(json!({
                                    "name": name,
                                    "method": method.as_str(),
                                    "uri": uri.to_string(),
                                    "host": hdr("host"),
                                    "x_custom": hdr("x-custom"),
                                    "x_forwarded_for": hdr("x-forwarded-for"),
                                    "x_forwarded_host": hdr("x-forwarded-host"),
                                    "connection_named": hdr("x-hop"),
                                    "body": String::from_utf8_lossy(&body),
                                })),
                            )
                        }
                    },
                );
                tokio::select! {
                    r = axum::serve(listener, app) => r.unwrap(),
                    _ = killed => {}
                }
            });
            // Dropping the runtime drops every connection task: all sockets close at once.
            drop(rt);
        });
        Upstream {
            addr,
            hits,
            kill: Some(kill),
            thread: Some(thread),
        }
    }

    /// Stops the server abruptly (listener and open connections), like a process exit.
    fn kill(&mut self) {
        if let Some(k) = self.kill.take() {
            let _ = k.send(());
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.kill();
    }
}

/// host → [(path prefix, service)], longest prefix wins; service → endpoints.
#[derive(Default)]
struct TestResolver {
    table: Vec<(String, String, String)>,
    endpoints: Mutex<HashMap<String, Vec<SocketAddr>>>,
}

impl TestResolver {
    fn single(endpoints: Vec<SocketAddr>) -> Arc<TestResolver> {
        let r = TestResolver {
            table: vec![("shop.example".into(), "/".into(), "default/shop".into())],
            ..Default::default()
        };
        r.set("default/shop", endpoints);
        Arc::new(r)
    }

    fn set(&self, service: &str, endpoints: Vec<SocketAddr>) {
        self.endpoints
            .lock()
            .unwrap()
            .insert(service.to_string(), endpoints);
    }
}

impl Resolve for TestResolver {
    fn route(&self, host: &str, path: &str) -> Option<Route> {
        let (_, _, service) = self
            .table
            .iter()
            .filter(|(h, prefix, _)| h == host && path.starts_with(prefix.as_str()))
            .max_by_key(|(_, prefix, _)| prefix.len())?;
        let endpoints = self
            .endpoints
            .lock()
            .unwrap()
            .get(service)
            .cloned()
            .unwrap_or_default();
        Some(Route {
            service: service.clone(),
            endpoints,
        })
    }
}

struct Gw {
    addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Gw {
    async fn start(resolver: Arc<dyn Resolve>) -> Gw {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let task = tokio::spawn(gateway::serve(
            listener,
            resolver,
            GatewayConfig::default(),
            stop.clone(),
        ));
        Gw { addr, stop, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn shutdown(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("gateway stops")
            .unwrap()
            .unwrap();
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(c: &reqwest::Client, gw: &Gw, path: &str) -> reqwest::Response {
    c.get(gw.url(path))
        .header("host", HOST)
        .send()
        .await
        .unwrap()
}

fn counter(name: &str) -> u64 {
    infra::metrics::counter(name, "").load(Ordering::Relaxed)
}

#[tokio::test]
async fn round_robin_spreads_requests_over_all_endpoints() {
    let ups: Vec<Upstream> = ["a", "b", "c"].iter().map(|n| Upstream::start(n)).collect();
    let gw = Gw::start(TestResolver::single(ups.iter().map(|u| u.addr).collect())).await;
    let c = client();
    let mut by_name: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        let r = get(&c, &gw, "/").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-orch-service"], "default/shop");
        let endpoint: SocketAddr = r.headers()["x-orch-endpoint"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body: Value = r.json().await.unwrap();
        let name = body["name"].as_str().unwrap().to_string();
        let up = &ups[["a", "b", "c"].iter().position(|n| *n == name).unwrap()];
        assert_eq!(
            endpoint, up.addr,
            "x-orch-endpoint names the endpoint that answered"
        );
        *by_name.entry(name).or_default() += 1;
    }
    assert_eq!(by_name.len(), 3, "{by_name:?}");
    assert!(by_name.values().all(|n| *n == 10), "{by_name:?}");
    gw.shutdown().await;
}

#[tokio::test]
async fn unknown_host_is_404_no_route() {
    let up = Upstream::start("a");
    let gw = Gw::start(TestResolver::single(vec![up.addr])).await;
    let r = client()
        .get(gw.url("/y"))
        .header("host", "X:80")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": "NO_ROUTE", "message": "no service routes host 'x' path '/y'"})
    );
    assert_eq!(up.hits.load(Ordering::Relaxed), 0);
    gw.shutdown().await;
}

#[tokio::test]
async fn no_endpoints_is_503_no_ready_endpoints() {
    let gw = Gw::start(TestResolver::single(vec![])).await;
    let r = get(&client(), &gw, "/").await;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": "NO_READY_ENDPOINTS", "message": "service default/shop has no Ready endpoint"})
    );
    gw.shutdown().await;
}

#[tokio::test]
async fn dead_endpoints_still_listed_are_retried_around() {
    let mut ups: Vec<Upstream> = ["a", "b", "c"].iter().map(|n| Upstream::start(n)).collect();
    // An address nothing ever listened on.
    let never = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut endpoints: Vec<SocketAddr> = ups.iter().map(|u| u.addr).collect();
    endpoints.push(never);
    let gw = Gw::start(TestResolver::single(endpoints)).await;
    let c = client();
    let retries_before = counter("gateway_upstream_retries_total");

    // Warm the gateway's pool with keep-alive connections to every live endpoint…
    for _ in 0..12 {
        assert_eq!(get(&c, &gw, "/").await.status(), 200);
    }
    // …then kill one while it stays listed (the resolver has not caught up).
    let dead = ups[1].addr;
    ups[1].kill();

    let mut failures = 0;
    for i in 0..50 {
        let r = if i % 2 == 0 {
            get(&c, &gw, "/").await
        } else {
            // Non-idempotent requests are retried too when the connect fails.
            c.post(gw.url("/orders"))
                .header("host", HOST)
                .body(format!("order {i}"))
                .send()
                .await
                .unwrap()
        };
        if r.status() != 200 {
            failures += 1;
            continue;
        }
        let endpoint: SocketAddr = r.headers()["x-orch-endpoint"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_ne!(endpoint, dead);
        assert_ne!(endpoint, never);
        let body: Value = r.json().await.unwrap();
        if i % 2 == 1 {
            assert_eq!(body["body"], format!("order {i}"));
        }
    }
    assert_eq!(failures, 0);
    assert!(counter("gateway_upstream_retries_total") > retries_before);
    let rendered = infra::metrics::render();
    for name in [
        "gateway_requests_total",
        "gateway_upstream_retries_total",
        "gateway_failed_requests_total",
    ] {
        assert!(rendered.contains(name), "{name} missing from\n{rendered}");
    }
    gw.shutdown().await;
}

#[tokio::test]
async fn all_endpoints_dead_is_502_upstream_unavailable() {
    let never: Vec<SocketAddr> = (0..2)
        .map(|_| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
        })
        .collect();
    let gw = Gw::start(TestResolver::single(never)).await;
    let failed_before = counter("gateway_failed_requests_total");
    let started = Instant::now();
    let r = get(&client(), &gw, "/").await;
    assert_eq!(r.status(), 502);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "UPSTREAM_UNAVAILABLE");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(counter("gateway_failed_requests_total") > failed_before);
    gw.shutdown().await;
}

#[tokio::test]
async fn continuous_load_sees_no_failure_when_an_endpoint_dies() {
    let mut ups: Vec<Upstream> = ["a", "b", "c"].iter().map(|n| Upstream::start(n)).collect();
    let resolver = TestResolver::single(ups.iter().map(|u| u.addr).collect());
    let gw = Gw::start(resolver.clone()).await;
    let url = gw.url("/");
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (url, ok, failed, stop) = (url.clone(), ok.clone(), failed.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let c = client();
            while !stop.load(Ordering::Relaxed) {
                match c.get(&url).header("host", HOST).send().await {
                    Ok(r) if r.status() == 200 => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => {
                        let msg = format!("{} {}", r.status(), r.text().await.unwrap_or_default());
                        failed.lock().unwrap().push(msg);
                    }
                    Err(e) => failed.lock().unwrap().push(e.to_string()),
                }
            }
        }));
    }
    let wait_for = |n: u64| {
        let ok = ok.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            while ok.load(Ordering::Relaxed) < n {
                assert!(Instant::now() < deadline, "load stalled below {n}");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(200).await;
    // The pod dies while still listed as Ready…
    let dead = ups[0].addr;
    ups[0].kill();
    let at_kill = ok.load(Ordering::Relaxed);
    wait_for(at_kill + 200).await;
    // …and only later stops being listed.
    resolver.set("default/shop", vec![ups[1].addr, ups[2].addr]);
    let at_unlist = ok.load(Ordering::Relaxed);
    wait_for(at_unlist + 200).await;
    // A new pod comes up and is added.
    let d = Upstream::start("d");
    resolver.set("default/shop", vec![ups[1].addr, ups[2].addr, d.addr]);
    let at_add = ok.load(Ordering::Relaxed);
    wait_for(at_add + 200).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    let failed = failed.lock().unwrap().clone();
    assert!(
        failed.is_empty(),
        "{} failures, e.g. {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(
        d.hits.load(Ordering::Relaxed) > 0,
        "new endpoint gets traffic"
    );
    assert_ne!(dead, d.addr);
    gw.shutdown().await;
}

#[tokio::test]
async fn method_path_query_headers_and_body_arrive_unchanged() {
    let web = Upstream::start("web");
    let api = Upstream::start("api");
    let resolver = TestResolver {
        table: vec![
            ("shop.example".into(), "/".into(), "default/web".into()),
            ("shop.example".into(), "/api".into(), "default/api".into()),
        ],
        ..Default::default()
    };
    resolver.set("default/web", vec![web.addr]);
    resolver.set("default/api", vec![api.addr]);
    let gw = Gw::start(Arc::new(resolver)).await;
    let c = client();

    let path = "/api/items/42/a%20b?x=1&y=two%2Fthree&x=3";
    let r = c
        .post(gw.url(path))
        .header("host", HOST)
        .header("x-custom", "Custom Value; q=1")
        .header("connection", "x-hop")
        .header("x-hop", "must not pass")
        .body("{\"hello\": \"world\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-orch-service"], "default/api");
    assert_eq!(
        r.headers()["x-orch-endpoint"],
        api.addr.to_string().as_str()
    );
    assert_eq!(r.headers()["x-upstream"], "api");
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["name"], "api");
    assert_eq!(got["method"], "POST");
    assert_eq!(got["uri"], path);
    assert_eq!(got["host"], HOST);
    assert_eq!(got["x_custom"], "Custom Value; q=1");
    assert_eq!(got["x_forwarded_for"], "127.0.0.1");
    assert_eq!(got["x_forwarded_host"], HOST);
    assert_eq!(got["connection_named"], Value::Null);
    assert_eq!(got["body"], "{\"hello\": \"world\"}");

    // Other methods and the shorter prefix.
    let r = c
        .put(gw.url("/pages/1?draft"))
        .header("host", "SHOP.example")
        .body("x")
        .send()
        .await
        .unwrap();
    let got: Value = r.json().await.unwrap();
    assert_eq!(got["name"], "web");
    assert_eq!(got["method"], "PUT");
    assert_eq!(got["uri"], "/pages/1?draft");
    assert_eq!(got["body"], "x");
    assert_eq!(web.hits.load(Ordering::Relaxed), 1);
    assert_eq!(api.hits.load(Ordering::Relaxed), 1);
    gw.shutdown().await;
}

#[tokio::test]
async fn app_errors_pass_through_and_are_not_retried() {
    let ups: Vec<Upstream> = ["a", "b", "c"].iter().map(|n| Upstream::start(n)).collect();
    let gw = Gw::start(TestResolver::single(ups.iter().map(|u| u.addr).collect())).await;
    let r = get(&client(), &gw, "/fail").await;
    assert_eq!(r.status(), 500);
    assert!(r.headers().contains_key("x-orch-endpoint"));
    let total: usize = ups.iter().map(|u| u.hits.load(Ordering::Relaxed)).sum();
    assert_eq!(total, 1, "a response from the app is never retried");
    gw.shutdown().await;
}
