//! The HTTP gateway: a reverse proxy that routes every request, by `Host` and
//! path, to the Ready endpoints of one service and balances across them
//! round-robin.
//!
//! Its reason to exist is zero failed requests during a rolling update, so
//! the retry rule is the heart of it: when connecting to an endpoint fails
//! (the pod is gone), or — for idempotent methods — the request fails in any
//! way before a response arrives (a pooled keep-alive connection to a process
//! that just exited, a pod closing connections while shutting down), the
//! route is resolved again (the endpoint that stopped being Ready drops out)
//! and the next endpoint is tried, up to [`GatewayConfig::attempts`] in all.
//! Once a response has been received it is passed through as is, 5xx included.
//!
//! Bodies are buffered (up to [`MAX_BODY_BYTES`]) so a request can be re-sent.
//!
//! Metrics go to the process-wide [`infra::metrics`] registry; the proxy port
//! itself exposes nothing but the proxied services.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

/// Largest request or response body the gateway buffers.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// How long to wait before re-trying an endpoint that already failed for
/// this request (only when no untried endpoint is left).
const RETRY_SAME_ENDPOINT_DELAY: Duration = Duration::from_millis(10);

/// A service and its endpoints that are Ready now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `"namespace/name"`.
    pub service: String,
    pub endpoints: Vec<SocketAddr>,
}

/// Where requests go. Called on every request and again before every retry,
/// so it must be cheap and reflect readiness as of now.
pub trait Resolve: Send + Sync + 'static {
    /// The service for this host (without port, lowercase) and path, with
    /// its Ready endpoints now (may be empty).
    fn route(&self, host: &str, path: &str) -> Option<Route>;

    /// The pod a [`POD_TOKEN_HEADER`] names, or why the token is refused
    /// (by default no pod identity is known here).
    fn identify(&self, _token: &str) -> Result<String, String> {
        Err("this gateway verifies no pod identity".into())
    }

    /// The endpoints of `route` that `caller` may reach (network policy),
    /// or why it may reach none (by default, every endpoint).
    fn admit(&self, route: Route, _caller: &Caller) -> Result<Route, String> {
        Ok(route)
    }
}

/// The header a pod proves who it is with (`ORCH_POD_TOKEN`); never sent upstream.
pub const POD_TOKEN_HEADER: &str = "x-orch-pod-token";

/// Who sends a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// No pod identity: outside the cluster.
    External,
    /// A pod, by id, its token verified.
    Pod(String),
}

#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Upstream tries per request, the first included (at least 1 is made).
    pub attempts: u32,
    /// Limit on one upstream try, from sending the request to the whole response body.
    pub upstream_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            attempts: 3,
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The proxy as an axum router: every method and path is proxied (fallback).
/// Serve it with `into_make_service_with_connect_info::<SocketAddr>()` to get
/// the client address into `x-forwarded-for` (as [`serve`] does).
pub fn router(resolver: Arc<dyn Resolve>, cfg: GatewayConfig) -> Router {
    let client = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(5))
        .connect_timeout(Duration::from_secs(1))
        .tcp_nodelay(true)
        // A proxy passes redirects back to its client and never goes through
        // a system proxy to reach a pod.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .expect("building the gateway's HTTP client (plain HTTP, no TLS) cannot fail");
    let gw = Gateway {
        resolver,
        cfg,
        client,
        rr: RwLock::new(HashMap::new()),
        metrics: Metrics::get(),
    };
    Router::new().fallback(proxy).with_state(Arc::new(gw))
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then
/// finishes the requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    resolver: Arc<dyn Resolve>,
    cfg: GatewayConfig,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "gateway listening");
    }
    let app = router(resolver, cfg);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await
}

struct Metrics {
    denied: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    retries: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

impl Metrics {
    fn get() -> Metrics {
        use infra::metrics::counter;
        Metrics {
            denied: counter(
                "gateway_network_policy_denied_total",
                "Requests refused (403) because a network policy isolates every endpoint from the caller, or the caller's pod identity did not verify.",
            ),
            requests: counter(
                "gateway_requests_total",
                "Requests received by the gateway.",
            ),
            retries: counter(
                "gateway_upstream_retries_total",
                "Upstream tries repeated on another (or the same) endpoint after a failure before any response.",
            ),
            failed: counter(
                "gateway_failed_requests_total",
                "Answers with status >= 502 produced by the gateway itself (no Ready endpoint, upstream unavailable).",
            ),
        }
    }
}

struct Gateway {
    resolver: Arc<dyn Resolve>,
    cfg: GatewayConfig,
    client: reqwest::Client,
    /// Round-robin position per service.
    rr: RwLock<HashMap<String, Arc<AtomicUsize>>>,
    metrics: Metrics,
}

impl Gateway {
    fn counter_for(&self, service: &str) -> Arc<AtomicUsize> {
        if let Some(c) = self.rr.read().unwrap().get(service) {
            return c.clone();
        }
        self.rr
            .write()
            .unwrap()
            .entry(service.to_string())
            .or_default()
            .clone()
    }

    /// The next endpoint round-robin, skipping those that already failed for
    /// this request unless nothing else is left. `endpoints` is not empty.
    fn pick(&self, service: &str, endpoints: &[SocketAddr], failed: &[SocketAddr]) -> SocketAddr {
        let n = self.counter_for(service).fetch_add(1, Ordering::Relaxed);
        let fresh: Vec<SocketAddr> = endpoints
            .iter()
            .filter(|e| !failed.contains(e))
            .copied()
            .collect();
        if fresh.is_empty() {
            endpoints[n % endpoints.len()]
        } else {
            fresh[n % fresh.len()]
        }
    }

    /// An answer the gateway makes itself; statuses >= 502 count as failed.
    fn own_answer(&self, status: StatusCode, code: &str, message: String) -> Response {
        if status.as_u16() >= 502 {
            self.metrics.failed.fetch_add(1, Ordering::Relaxed);
        }
        (
            status,
            axum::Json(serde_json::json!({ "code": code, "message": message })),
        )
            .into_response()
    }
}

/// Idempotent methods may be re-sent after any failure before a response.
fn idempotent(m: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::OPTIONS,
        Method::PUT,
        Method::DELETE,
    ]
    .contains(m)
}

/// `Host` without port, lowercase (`[v6]` literals keep their brackets).
fn host_only(raw: &str) -> String {
    let raw = raw.trim();
    let host = if raw.starts_with('[') {
        match raw.find(']') {
            Some(i) => &raw[..=i],
            None => raw,
        }
    } else {
        match raw.rsplit_once(':') {
            Some((h, _port)) => h,
            None => raw,
        }
    };
    host.to_ascii_lowercase()
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) plus the ones named by `Connection`.
fn hop_by_hop(headers: &HeaderMap) -> impl Fn(&HeaderName) -> bool + use<> {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    move |name: &HeaderName| {
        let n = name.as_str();
        matches!(
            n,
            "connection" | "keep-alive" | "transfer-encoding" | "upgrade" | "te" | "trailer"
        ) || n.starts_with("proxy-")
            || named.iter().any(|x| x == n)
    }
}

/// The headers sent upstream: the client's minus hop-by-hop, `content-length`
/// (the client library sets it for the buffered body) and `expect` (the body
/// is already here); `host` kept; `x-forwarded-*` added.
fn upstream_headers(src: &HeaderMap, client: Option<SocketAddr>, raw_host: &str) -> HeaderMap {
    let skip = hop_by_hop(src);
    let mut out = HeaderMap::with_capacity(src.len() + 3);
    for (name, value) in src {
        if skip(name)
            || name == header::CONTENT_LENGTH
            || name == header::EXPECT
            || name == POD_TOKEN_HEADER
        {
            continue;
        }
        out.append(name.clone(), value.clone());
    }
    if let Some(client) = client {
        let ip = client.ip().to_string();
        let xff = match src
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
        {
            prior if prior.is_empty() => ip,
            prior => format!("{}, {ip}", prior.join(", ")),
        };
        if let Ok(v) = HeaderValue::from_str(&xff) {
            out.insert("x-forwarded-for", v);
        }
    }
    if !out.contains_key("x-forwarded-host")
        && !raw_host.is_empty()
        && let Ok(v) = HeaderValue::from_str(raw_host)
    {
        out.insert("x-forwarded-host", v);
    }
    if !out.contains_key("x-forwarded-proto") {
        out.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    out
}

/// An error and its causes on one line (reqwest's own message is terse).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

async fn proxy(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let started = Instant::now();
    gw.metrics.requests.fetch_add(1, Ordering::Relaxed);
    let client_addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let (parts, body) = req.into_parts();
    let raw_host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))
        .unwrap_or("")
        .to_string();
    let host = host_only(&raw_host);
    let path = parts.uri.path().to_string();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.clone(), |pq| pq.as_str().to_string());
    let method = parts.method.clone();

    let Some(route) = gw.resolver.route(&host, &path) else {
        tracing::debug!(%method, %host, %path, "no route");
        return gw.own_answer(
            StatusCode::NOT_FOUND,
            "NO_ROUTE",
            format!("no service routes host '{host}' path '{path}'"),
        );
    };
    if route.endpoints.is_empty() {
        tracing::warn!(%method, %host, %path, service = %route.service, "no Ready endpoint");
        return gw.own_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_READY_ENDPOINTS",
            format!("service {} has no Ready endpoint", route.service),
        );
    }
    let caller = match parts.headers.get(POD_TOKEN_HEADER).map(|v| v.to_str()) {
        None => Caller::External,
        Some(Ok(t)) => match gw.resolver.identify(t) {
            Ok(pod) => Caller::Pod(pod),
            Err(why) => {
                gw.metrics.denied.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%host, %path, service = %route.service, %why, "pod identity refused");
                return gw.own_answer(StatusCode::FORBIDDEN, "POD_IDENTITY_INVALID", why);
            }
        },
        Some(Err(_)) => {
            gw.metrics.denied.fetch_add(1, Ordering::Relaxed);
            return gw.own_answer(
                StatusCode::FORBIDDEN,
                "POD_IDENTITY_INVALID",
                format!("{POD_TOKEN_HEADER} is not text"),
            );
        }
    };
    let route = match gw.resolver.admit(route, &caller) {
        Ok(r) => r,
        Err(why) => {
            gw.metrics.denied.fetch_add(1, Ordering::Relaxed);
            tracing::info!(%host, %path, ?caller, %why, "network policy denied");
            return gw.own_answer(StatusCode::FORBIDDEN, "NETWORK_POLICY_DENIED", why);
        }
    };

    let declared_len = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared_len.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return gw.own_answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("request body is larger than {MAX_BODY_BYTES} bytes"),
        );
    }
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let msg = error_chain(&e);
            return if msg.contains("length limit") {
                gw.own_answer(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "PAYLOAD_TOO_LARGE",
                    format!("request body is larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                gw.own_answer(
                    StatusCode::BAD_REQUEST,
                    "BAD_REQUEST_BODY",
                    format!("reading the request body failed: {msg}"),
                )
            };
        }
    };
    // Send a body (and so a content-length) only when the client did.
    let send_body = !body.is_empty() || declared_len.is_some();
    let headers = upstream_headers(&parts.headers, client_addr, &raw_host);
    let may_retry_any_error = idempotent(&method);
    let attempts = gw.cfg.attempts.max(1);

    let mut service = route.service;
    let mut endpoints = route.endpoints;
    let mut failed: Vec<SocketAddr> = Vec::new();
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            // Re-resolve: an endpoint that just stopped being Ready is gone.
            match gw
                .resolver
                .route(&host, &path)
                .and_then(|r| gw.resolver.admit(r, &caller).ok())
            {
                Some(r) if !r.endpoints.is_empty() => {
                    service = r.service;
                    endpoints = r.endpoints;
                }
                _ => endpoints.retain(|e| !failed.contains(e)),
            }
            if endpoints.is_empty() {
                break;
            }
        }
        let endpoint = gw.pick(&service, &endpoints, &failed);
        if failed.contains(&endpoint) {
            tokio::time::sleep(RETRY_SAME_ENDPOINT_DELAY).await;
        }
        let mut rb = gw
            .client
            .request(method.clone(), format!("http://{endpoint}{path_and_query}"))
            .headers(headers.clone())
            .timeout(gw.cfg.upstream_timeout);
        if send_body {
            rb = rb.body(body.clone());
        }
        match rb.send().await {
            Ok(resp) => {
                return respond(
                    &gw, resp, endpoint, &service, &method, &host, &path, attempt, started,
                )
                .await;
            }
            Err(e) => {
                let retryable = e.is_connect() || may_retry_any_error;
                last_error = format!("{endpoint}: {}", error_chain(&e));
                failed.push(endpoint);
                if !retryable || attempt == attempts {
                    break;
                }
                gw.metrics.retries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    %method, %host, %path, %service, %endpoint, attempt,
                    error = %last_error, "upstream failed before responding; retrying"
                );
            }
        }
    }
    tracing::warn!(
        %method, %host, %path, %service, tries = failed.len(),
        error = %last_error, "upstream unavailable"
    );
    let message = if last_error.is_empty() {
        format!("service {service} has no Ready endpoint left to try")
    } else {
        format!(
            "service {service}: {} upstream tries failed, last: {last_error}",
            failed.len()
        )
    };
    gw.own_answer(StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE", message)
}

/// Passes the upstream response through: status, headers minus hop-by-hop,
/// body; plus `x-orch-endpoint` and `x-orch-service`.
#[allow(clippy::too_many_arguments)]
async fn respond(
    gw: &Gateway,
    resp: reqwest::Response,
    endpoint: SocketAddr,
    service: &str,
    method: &Method,
    host: &str,
    path: &str,
    attempt: u32,
    started: Instant,
) -> Response {
    let status = resp.status();
    let upstream = resp.headers().clone();
    // A response has arrived: whatever happens now is never retried.
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            let error = error_chain(&e);
            tracing::warn!(
                %method, %host, %path, %service, %endpoint, %status, error = %error,
                "upstream response body failed"
            );
            return gw.own_answer(
                StatusCode::BAD_GATEWAY,
                "UPSTREAM_UNAVAILABLE",
                format!(
                    "service {service}: reading the response body from {endpoint} failed: {error}"
                ),
            );
        }
    };
    let skip = hop_by_hop(&upstream);
    let mut out = Response::new(Body::from(body));
    *out.status_mut() = status;
    let headers = out.headers_mut();
    for (name, value) in &upstream {
        if !skip(name) {
            headers.append(name.clone(), value.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(&endpoint.to_string()) {
        headers.insert("x-orch-endpoint", v);
    }
    if let Ok(v) = HeaderValue::from_str(service) {
        headers.insert("x-orch-service", v);
    }
    tracing::debug!(
        %method, %host, %path, %service, %endpoint, status = status.as_u16(), attempt,
        elapsed_ms = started.elapsed().as_millis() as u64, "proxied"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_only_strips_port_and_lowercases() {
        assert_eq!(host_only("Shop.Example:8080"), "shop.example");
        assert_eq!(host_only("shop.example"), "shop.example");
        assert_eq!(host_only("[::1]:80"), "[::1]");
        assert_eq!(host_only("[::1]"), "[::1]");
    }

    #[test]
    fn upstream_headers_drop_hop_by_hop_and_add_forwarded() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("a.example:81"));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("proxy-authorization", HeaderValue::from_static("x"));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert("x-forwarded-for", HeaderValue::from_static("10.0.0.1"));
        h.insert("x-custom", HeaderValue::from_static("v"));
        let out = upstream_headers(&h, Some("127.0.0.9:5000".parse().unwrap()), "a.example:81");
        assert_eq!(out.get(header::HOST).unwrap(), "a.example:81");
        assert_eq!(out.get("x-custom").unwrap(), "v");
        assert_eq!(out.get("x-forwarded-for").unwrap(), "10.0.0.1, 127.0.0.9");
        assert_eq!(out.get("x-forwarded-host").unwrap(), "a.example:81");
        for gone in [
            "connection",
            "x-secret",
            "keep-alive",
            "proxy-authorization",
            "content-length",
        ] {
            assert!(!out.contains_key(gone), "{gone} forwarded");
        }
    }
}
