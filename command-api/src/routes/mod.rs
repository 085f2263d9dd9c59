//! Route groups, one file each, plus the middleware every route shares.

mod cronjobs;
mod deployments;
mod events;
mod identities;
mod jobs;
mod namespaces;
mod networkpolicies;
mod nodes;
mod openapi;
mod pods;
mod rbac;
mod secrets;
mod services;
mod statefulsets;
mod template;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::HeaderMap;
use axum::middleware::{self, Next};
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::state::S;
use openapi::{Degraded, Unauthenticated};

/// Every route, each registered with its documentation (a handler without
/// `#[utoipa::path]` cannot be given to `routes!`).
fn api() -> OpenApiRouter<S> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(deployments::routes())
        .merge(jobs::routes())
        .merge(cronjobs::routes())
        .merge(statefulsets::routes())
        .merge(nodes::routes())
        .merge(pods::routes())
        .merge(services::routes())
        .merge(namespaces::routes())
        .merge(networkpolicies::routes())
        .merge(events::routes())
        .merge(identities::routes())
        .merge(rbac::routes())
        .merge(secrets::routes())
        .routes(routes!(openapi::document))
        .routes(routes!(revoke_token))
        .routes(routes!(metrics))
        .routes(routes!(healthz))
}

pub fn router(state: S) -> Router {
    // The document is built on its first request (`openapi::document`),
    // from the same `api()`.
    let (router, _) = api().split_for_parts();
    router
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(middleware::from_fn_with_state(
            crate::consistency::Consistency {
                projected: state.projected.clone(),
                outcomes: state.outcomes.clone(),
            },
            crate::consistency::layer,
        ))
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

#[utoipa::path(get, path = "/metrics", tag = "meta", summary = "Prometheus metrics",
    responses((status = 200, description = "The metrics, in the Prometheus text format", body = String, content_type = "text/plain")))]
async fn metrics() -> String {
    infra::metrics::render()
}

#[utoipa::path(get, path = "/healthz", tag = "meta", summary = "Liveness: the API process answers",
    responses((status = 200, description = "`ok`", body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

async fn observe(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().clone();
    let resp = next.run(req).await;
    let secs = started.elapsed().as_secs_f64();
    infra::metrics::histogram("apiserver_request_latency_seconds", "API request latency")
        .observe(secs);
    let status = resp.status();
    if status.is_server_error() {
        infra::metrics::counter("apiserver_errors_total", "API responses with a 5xx status")
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    tracing::debug!(%method, route, status = status.as_u16(), ms = secs * 1e3, "request");
    resp
}

/// `DELETE /api/v1/auth/token`: revoke the token this request presents.
#[utoipa::path(delete, path = "/api/v1/auth/token", tag = "auth",
    summary = "Revoke the token this request presents (for the bootstrap admin token, the next `orch up` mints a new one)",
    responses(
        (status = 200, description = "`{actor, tokenId, status: REVOKED}`", body = serde_json::Value),
        Unauthenticated, Degraded,
    ))]
async fn revoke_token(
    axum::extract::State(s): axum::extract::State<S>,
    crate::extract::Actor(who): crate::extract::Actor,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let token_id = crate::auth::authenticate(&s, &headers).await?.token_id;
    crate::write::execute(
        &s,
        &headers,
        &who,
        None,
        domain::Command::RevokeToken(domain::command::RevokeToken { token_id }),
    )
    .await?;
    tracing::info!(actor = %who, "token revoked by its holder");
    Ok(axum::Json(
        serde_json::json!({"actor": who, "tokenId": token_id, "status": "REVOKED"}),
    ))
}
