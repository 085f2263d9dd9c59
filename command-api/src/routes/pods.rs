//! `/api/v1/pods/{id}`: one pod, with where and why it was placed.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use domain::command as cmd;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::openapi::{
    BadBody, BadRead, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected, TooLarge,
    Unauthenticated, WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::parse_id;
use crate::extract::{Actor, Body, PodPath};
use crate::read::AsOfQuery;
use crate::state::S;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(read))
        .routes(routes!(report))
        .routes(routes!(placement))
        .routes(routes!(evict))
        .routes(routes!(logs))
}

#[derive(serde::Deserialize, Default, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct LogsQuery {
    follow: Option<bool>,
    tail: Option<u32>,
}

/// The pod's stdout and stderr, from the agent of its node (like the API
/// server proxying to the kubelet); `follow=true` streams until the pod ends.
#[utoipa::path(get, path = "/api/v1/pods/{id}/logs", tag = "pods",
    summary = "The pod's stdout and stderr (proxied to its node's agent); follow=true streams until the pod ends",
    params(PodPath, LogsQuery),
    responses(
        (status = 200, description = "The logs", body = String, content_type = "text/plain"),
        BadRead, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no such pod, or no logs yet", body = ErrorBody),
        (status = 409, description = "LOGS_UNAVAILABLE: no node yet, or a node without a log-serving agent (a hollow node)", body = ErrorBody),
        (status = 502, description = "AGENT_UNREACHABLE, AGENT_ERROR: the node agent does not answer, or fails", body = ErrorBody),
        ReadDegraded,
    ))]
async fn logs(
    State(s): State<S>,
    _: Actor,
    PodPath(id): PodPath,
    crate::json::ApiQuery(q): crate::json::ApiQuery<LogsQuery>,
    _headers: HeaderMap,
) -> Result<axum::response::Response, ApiError> {
    let row: Option<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT n.name, n.labels->>'orch.dev/agent-url' FROM pod_instance p LEFT JOIN node_status n ON n.id = p.node_id
         WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&s.pool)
    .await?;
    let Some((node, agent)) = row else {
        return Err(ApiError::not_found(format!("pod {id} not found")));
    };
    let Some(agent) = agent else {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "LOGS_UNAVAILABLE",
            match node {
                None => format!("pod {id} has no node yet, so no logs"),
                Some(n) => {
                    format!("node {n} runs no log-serving agent (a hollow node keeps no logs)")
                }
            },
        ));
    };
    let mut url = format!(
        "{agent}/pods/{id}/logs?follow={}",
        q.follow.unwrap_or(false)
    );
    if let Some(t) = q.tail {
        url.push_str(&format!("&tail={t}"));
    }
    let resp = s.http.get(&url).send().await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "AGENT_UNREACHABLE",
            format!("the node agent at {agent} does not answer: {e}"),
        )
    })?;
    let status = resp.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(ApiError::not_found(format!("pod {id} has no logs yet")));
    }
    if !status.is_success() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_GATEWAY,
            "AGENT_ERROR",
            format!("the node agent answered {status}"),
        ));
    }
    Ok(axum::response::Response::builder()
        .header("content-type", "text/plain; charset=utf-8")
        .body(axum::body::Body::from_stream(resp.bytes_stream()))
        .expect("static headers"))
}

/// Why the pod is where it is: per-filter counts of removed nodes, the
/// top-scored nodes with per-plugin scores, the winner, and any pods
/// preempted for it; for a pod without a node, why none fits yet.
#[utoipa::path(get, path = "/api/v1/pods/{id}/placement", tag = "pods", summary = "Why the pod is where it is: nodes removed per filter, the top-scored nodes with per-plugin scores, the winner, the pods preempted; or why no node fits yet",
    params(PodPath),
    responses(
        (status = 200, description = "`{podId, phase, boundAt, status: Bound | Unschedulable | Pending, nodesTotal, nodesExamined, nodesFeasible, filtered, top, winner, preempted, lastUnschedulable}`", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn placement(
    State(s): State<S>,
    _: Actor,
    PodPath(id): PodPath,
) -> Result<Json<Value>, ApiError> {
    type PlacementRow = (
        Option<Uuid>,
        Option<String>,
        String,
        Option<Value>,
        Option<Value>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let row: Option<PlacementRow> = sqlx::query_as(
        "SELECT p.node_id, n.name, p.phase, p.placement, p.unschedulable, p.bound_at
             FROM pod_instance p LEFT JOIN node_status n ON n.id = p.node_id WHERE p.id = $1",
    )
    .bind(id)
    .fetch_optional(&s.pool)
    .await?;
    let Some((node_id, node_name, phase, placement, unschedulable, bound_at)) = row else {
        return Err(ApiError::not_found(format!("pod {id} not found")));
    };
    let mut v = json!({"podId": id, "phase": phase, "boundAt": bound_at});
    match (node_id, placement) {
        (Some(node_id), Some(p)) => {
            v["status"] = json!("Bound");
            v["winner"] = json!({"nodeId": node_id, "nodeName": node_name});
            for k in [
                "nodesTotal",
                "nodesExamined",
                "nodesFeasible",
                "filtered",
                "top",
                "preempted",
            ] {
                v[k] = p.get(k).cloned().unwrap_or(Value::Null);
            }
            if v["preempted"].is_null() {
                v["preempted"] = json!([]);
            }
        }
        _ => {
            v["status"] = json!(if unschedulable.is_some() {
                "Unschedulable"
            } else {
                "Pending"
            });
        }
    }
    if let Some(u) = unschedulable {
        v["lastUnschedulable"] = u;
    }
    Ok(Json(v))
}

#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PodEviction)]
struct EvictDto {
    reason: Option<String>,
}

/// Evict a pod (its controller replaces it), unless that would break its
/// deployment's disruption budget: then 429 DISRUPTION_BUDGET_EXCEEDED.
#[utoipa::path(post, path = "/api/v1/pods/{id}/eviction", tag = "pods",
    summary = "Evict a pod (its controller replaces it) within its deployment's disruption budget",
    params(PodPath, WriteHeaders),
    request_body(content = Option<EvictDto>, description = "Optional: no body evicts with the default reason"),
    responses(
        (status = 200, description = "`{podId, evicted}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected,
        (status = 413, description = "The body is over the 2 MB limit (axum's plain-text answer)"),
        NotJson, Invalid,
        (status = 429, description = "DISRUPTION_BUDGET_EXCEEDED: the budget allows no more disruptions now; retry once a replacement is Ready", body = ErrorBody),
        Degraded,
    ))]
async fn evict(
    State(s): State<S>,
    Actor(actor): Actor,
    PodPath(id): PodPath,
    headers: HeaderMap,
    // Optional: no body evicts with the default reason.
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let pod_id = domain::PodId(id);
    let dto: EvictDto = if body.is_empty() {
        EvictDto::default()
    } else {
        crate::json::parse(&headers, &body)?
    };
    let reason = dto.reason.unwrap_or_else(|| format!("evicted by {actor}"));
    let events = crate::write::execute(
        &s,
        &headers,
        &actor,
        Some(reason.clone()),
        domain::command::Command::EvictPod(cmd::EvictPod {
            pod_id,
            cause: domain::event::EvictionCause::Api,
            reason,
            respect_budget: true,
        }),
    )
    .await?;
    Ok(Json(
        json!({"podId": pod_id, "evicted": !events.is_empty()}),
    ))
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PodStatusReport)]
struct StatusDto {
    node_id: String,
    state: String,
    reason: Option<String>,
    /// `ip:port` where a started pod serves.
    address: Option<String>,
    /// A `Failed` or `Succeeded` container's exit code.
    exit_code: Option<i32>,
}

/// A node agent reports a pod `Started`, `Ready`, `Failed` or `Succeeded`.
#[utoipa::path(post, path = "/api/v1/pods/{id}/status", tag = "pods",
    summary = "A node agent reports a pod Started, Ready, Failed (with its exitCode) or Succeeded",
    params(PodPath, WriteHeaders), request_body = StatusDto,
    responses(
        (status = 200, description = "`{podId, state, changed}`", body = Value),
        BadBody, Unauthenticated, NotFound,
        (status = 409, description = "POD_NOT_PENDING, POD_NOT_ON_NODE, NODE_NOT_READY: the pod is not in a state the report fits; REJECTED", body = ErrorBody),
        TooLarge, NotJson,
        (status = 422, description = "VALIDATION_FAILED (e.g. an unknown state), UNKNOWN_FIELD", body = ErrorBody),
        Degraded,
    ))]
async fn report(
    State(s): State<S>,
    Actor(actor): Actor,
    PodPath(id): PodPath,
    headers: axum::http::HeaderMap,
    Body(dto): Body<StatusDto>,
) -> Result<Json<Value>, ApiError> {
    let pod_id = domain::PodId(id);
    let node_id = domain::NodeId(parse_id("nodeId", &dto.node_id)?);
    let command = match dto.state.as_str() {
        "Started" => domain::command::Command::ReportPodStarted(cmd::ReportPodStarted {
            pod_id,
            node_id,
            address: dto.address.clone(),
        }),
        "Ready" => {
            domain::command::Command::ReportPodReady(cmd::ReportPodReady { pod_id, node_id })
        }
        "Failed" => domain::command::Command::ReportPodFailed(cmd::ReportPodFailed {
            pod_id,
            node_id,
            reason: dto
                .reason
                .clone()
                .unwrap_or_else(|| "reported failed".into()),
            exit_code: dto.exit_code,
        }),
        "Succeeded" => domain::command::Command::ReportPodSucceeded(cmd::ReportPodSucceeded {
            pod_id,
            node_id,
        }),
        other => {
            return Err(ApiError::validation(vec![domain::names::FieldError::new(
                "state",
                format!("'{other}' is not one of Started, Ready, Failed, Succeeded"),
            )]));
        }
    };
    let events = crate::write::execute(&s, &headers, &actor, dto.reason, command).await?;
    Ok(Json(
        json!({"podId": pod_id, "state": dto.state, "changed": !events.is_empty()}),
    ))
}

const POD_SELECT: &str = "SELECT p.id, p.workload_id, p.namespace, p.name, p.node_id, n.name, n.zone, p.phase, p.ready,
       p.revision, p.cpu_request_milli, p.mem_request_mb,
       jsonb_build_object('failureReason', p.failure_reason, 'address', p.address, 'restarts', p.restarts,
         'statusReason', p.status_reason, 'startedAt', p.started_at, 'readyAt', p.ready_at),
       p.placement, p.created_at, p.bound_at
     FROM pod_instance p LEFT JOIN node_status n ON n.id = p.node_id";

type PodRow = (
    Uuid,
    Uuid,
    String,
    String,
    Option<Uuid>,
    Option<String>,
    Option<String>,
    String,
    bool,
    i64,
    i32,
    i32,
    Value,
    Option<Value>,
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
);

fn pod_json(r: PodRow, with_placement: bool) -> Value {
    let mut v = json!({
        "podId": r.0, "workloadId": r.1, "namespace": r.2, "name": r.3, "nodeId": r.4, "nodeName": r.5,
        "zone": r.6, "phase": r.7, "ready": r.8, "revision": r.9, "cpuRequestMilli": r.10, "memRequestMb": r.11,
        "createdAt": r.14, "boundAt": r.15,
    });
    if let Value::Object(extra) = r.12 {
        for (k, x) in extra {
            v[k] = x;
        }
    }
    if with_placement {
        v["placement"] = r.13.unwrap_or(Value::Null);
    }
    v
}

/// Pods matching `filter` (SQL over `p`, with `$1` bound to `id`).
pub async fn list(pool: &PgPool, filter: &str, id: Uuid) -> Result<Vec<Value>, ApiError> {
    let rows: Vec<PodRow> = sqlx::query_as(&format!(
        "{POD_SELECT} WHERE {filter} ORDER BY p.workload_id, p.ordinal"
    ))
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| pod_json(r, false)).collect())
}

#[utoipa::path(get, path = "/api/v1/pods/{id}", tag = "pods", summary = "A pod, with its placement explanation",
    params(PodPath, AsOfQuery),
    responses(
        (status = 200, description = "`{podId, workloadId, namespace, name, nodeId, nodeName, zone, phase, ready, revision, cpuRequestMilli, memRequestMb, failureReason, address, restarts, statusReason, startedAt, readyAt, createdAt, boundAt, placement}`", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    PodPath(id): PodPath,
    crate::json::ApiQuery(q): crate::json::ApiQuery<crate::read::AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = crate::read::read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<PodRow> = sqlx::query_as(&format!("{POD_SELECT} WHERE p.id = $1"))
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    row.map(|r| Json(pod_json(r, true)))
        .ok_or_else(|| ApiError::not_found(format!("pod {id} not found")))
}
