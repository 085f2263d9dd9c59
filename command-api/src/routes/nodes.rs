//! `/api/v1/nodes`: node health by zone.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{S, actor};
use crate::error::ApiError;
use crate::json::ApiQuery;

pub fn routes() -> Router<S> {
    Router::new()
        .route("/api/v1/nodes/health", get(health))
        .route("/api/v1/nodes", get(health))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HealthQuery {
    zone: Option<String>,
}

type Row = (
    Uuid,
    String,
    String,
    bool,
    String,
    i64,
    i64,
    i32,
    Option<chrono::DateTime<chrono::Utc>>,
    i64,
    i64,
);

async fn health(
    State(s): State<S>,
    ApiQuery(q): ApiQuery<HealthQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    actor(&s, &headers).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, zone, ready, condition, cpu_allocatable_milli - cpu_requested_milli,
                mem_allocatable_mb - mem_requested_mb, pod_count, last_heartbeat, cpu_allocatable_milli, mem_allocatable_mb
         FROM node_status WHERE ($1::text IS NULL OR zone = $1) ORDER BY zone, name",
    )
    .bind(q.zone)
    .fetch_all(&s.pool)
    .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"nodeId": r.0, "name": r.1, "zone": r.2, "ready": r.3, "condition": r.4, "cpuFreeMilli": r.5,
                   "memFreeMb": r.6, "pods": r.7, "lastHeartbeat": r.8, "cpuAllocatableMilli": r.9, "memAllocatableMb": r.10})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}
