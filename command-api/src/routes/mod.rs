//! Route groups, one file each, plus the middleware every route shares.

mod deployments;
mod events;
mod nodes;
mod openapi;
mod pods;
mod services;

use domain::event as ev;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use domain::{CommandEnvelope, EventEnvelope, command::Command, event::Event};
use uuid::Uuid;

use crate::AppState;
use crate::error::ApiError;

pub type S = Arc<AppState>;

/// `?asOf=<offset|RFC 3339 instant>`: read the projections as they were then.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    #[serde(rename = "asOf")]
    pub as_of: Option<String>,
}

/// The pool a read uses: live, or the tables as of `as_of`.
pub async fn read_pool(s: &S, as_of: Option<&str>) -> Result<sqlx::PgPool, ApiError> {
    s.as_of.pool(&s.pool, as_of).await
}

pub fn router(state: S) -> Router {
    Router::new()
        .merge(deployments::routes())
        .merge(nodes::routes())
        .merge(pods::routes())
        .merge(services::routes())
        .merge(events::routes())
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/auth/token", axum::routing::delete(revoke_token))
        .route("/metrics", get(|| async { infra::metrics::render() }))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(|| async { ApiError::not_found("no such route") })
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::consistency::layer,
        ))
        .layer(middleware::from_fn(observe))
        .with_state(state)
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

/// Authenticate, derive the command id (the Idempotency-Key when given), send, wait.
pub async fn execute(
    state: &S,
    headers: &HeaderMap,
    actor: &str,
    reason: Option<String>,
    body: Command,
) -> Result<Vec<EventEnvelope>, ApiError> {
    let command_id = match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(k)) if !k.is_empty() && k.len() <= 200 => {
            domain::ids::derive_id(&[b"idempotency", actor.as_bytes(), k.as_bytes()])
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_HEADER",
                "Idempotency-Key must be 1 to 200 characters of text",
            ));
        }
        None => Uuid::now_v7(),
    };
    let reason = reason.or_else(|| {
        headers
            .get("x-change-reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    let env = CommandEnvelope::new(command_id, actor, reason, body).with_reply();
    let outcome = state
        .outcomes
        .submit(&state.bus, &state.pool, env, state.command_timeout)
        .await?;
    crate::consistency::record_written(outcome.offset);
    let events = outcome.events;
    if let Some(Event::CommandRejected(ev::CommandRejected {
        code,
        message,
        fields,
        ..
    })) = events.first().map(|e| &e.body)
    {
        let mut e = ApiError::rejected(*code, message.clone());
        e.fields = fields
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect();
        return Err(e);
    }
    Ok(events)
}

/// `DELETE /api/v1/auth/token`: revoke the token this request presents.
async fn revoke_token(
    axum::extract::State(s): axum::extract::State<S>,
    crate::extract::Actor(who): crate::extract::Actor,
    headers: HeaderMap,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    crate::auth::revoke(&s.pool, &s.auth, &headers).await?;
    tracing::info!(actor = %who, "token revoked by its holder");
    Ok(axum::Json(
        serde_json::json!({"actor": who, "status": "REVOKED"}),
    ))
}

pub fn parse_id(field: &str, s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ID",
            format!("{field} '{s}' is not a UUID"),
        )
    })
}
