//! `/api/v1/nodes`: node health by zone, and what a node agent that does not
//! speak Kafka needs: register, heartbeat, list the pods bound to its node.

use domain::command as cmd;
use domain::event as ev;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::command::Command;
use domain::ids::NodeId;
use domain::model::{NodeSpec, Taint};
use domain::names::{FieldError, Name, check_labels, parse_label};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{
    BadBody, BadRead, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected, TooLarge,
    Unauthenticated, WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, NodePath};
use crate::json::ApiQuery;
use crate::read::AsOfQuery;
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(list, register))
        .routes(routes!(heartbeat))
        .routes(routes!(pods))
        .routes(routes!(read))
        .routes(routes!(cordon))
        .routes(routes!(uncordon))
        .routes(routes!(drain))
        .routes(routes!(set_taints))
}

/// A node by id (UUID) or by name.
fn node_ref(s: &str) -> Result<NodeId, ApiError> {
    if let Ok(id) = Uuid::parse_str(s) {
        return Ok(NodeId(id));
    }
    Name::parse("node", s)
        .map(|n| NodeId::from_name(n.as_str()))
        .map_err(|_| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_ID",
                format!("node '{s}' is neither a UUID nor a node name"),
            )
        })
}

type DetailRow = (
    Uuid,
    String,
    String,
    String,
    bool,
    bool,
    Value,
    Value,
    i64,
    i64,
    i64,
    i64,
    i32,
    Option<chrono::DateTime<chrono::Utc>>,
);

async fn node_json(s: &S, id: NodeId) -> Result<Value, ApiError> {
    node_json_in(&s.pool, id).await
}

async fn node_json_in(pool: &sqlx::PgPool, id: NodeId) -> Result<Value, ApiError> {
    let row: Option<DetailRow> = sqlx::query_as(
        "SELECT id, name, zone, condition, unschedulable, draining, labels, taints, cpu_allocatable_milli,
                cpu_requested_milli, mem_allocatable_mb, mem_requested_mb, pod_count, last_heartbeat
         FROM node_status WHERE id = $1",
    )
    .bind(id.0)
    .fetch_optional(pool)
    .await?;
    let Some(r) = row else {
        return Err(ApiError::not_found(format!("node {id} not found")));
    };
    Ok(json!({
        "nodeId": r.0, "name": r.1, "zone": r.2, "condition": r.3, "unschedulable": r.4, "draining": r.5,
        "labels": r.6, "taints": r.7, "cpuAllocatableMilli": r.8, "cpuRequestedMilli": r.9,
        "memAllocatableMb": r.10, "memRequestedMb": r.11, "pods": r.12, "lastHeartbeat": r.13,
    }))
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}", tag = "nodes",
    summary = "A node (by UUID or name): condition, cordon and drain state, taints, usage",
    params(("id" = String, Path, description = "The node's UUID or name"), AsOfQuery),
    responses(
        (status = 200, description = "`{nodeId, name, zone, condition, unschedulable, draining, labels, taints, cpuAllocatableMilli, cpuRequestedMilli, memAllocatableMb, memRequestedMb, pods, lastHeartbeat}`", body = Value),
        (status = 400, description = "INVALID_ID: neither a UUID nor a node name; INVALID_QUERY", body = ErrorBody),
        Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<crate::read::AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = crate::read::read_pool(&s, q.as_of.as_deref()).await?;
    Ok(Json(node_json_in(&pool, node_ref(&id)?).await?))
}

async fn node_command(
    s: &S,
    actor: &str,
    headers: &HeaderMap,
    id: &str,
    make: fn(NodeId) -> Command,
) -> Result<Json<Value>, ApiError> {
    let node_id = node_ref(id)?;
    let events = execute(s, headers, actor, None, make(node_id)).await?;
    let mut v = node_json(s, node_id)
        .await
        .unwrap_or_else(|_| json!({"nodeId": node_id}));
    // The projection may lag the decision by a moment: report what was decided.
    for e in &events {
        match &e.body {
            domain::Event::NodeCordoned(ev::NodeCordoned { drain, .. }) => {
                v["unschedulable"] = json!(true);
                v["draining"] = json!(drain);
            }
            domain::Event::NodeUncordoned(_) => {
                v["unschedulable"] = json!(false);
                v["draining"] = json!(false);
            }
            _ => {}
        }
    }
    v["changed"] = json!(!events.is_empty());
    Ok(Json(v))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/cordon", tag = "nodes", summary = "Cordon: no new pods",
    params(("id" = String, Path, description = "The node's UUID or name"), WriteHeaders),
    responses(
        (status = 200, description = "The node (as `GET /api/v1/nodes/{id}`), with `changed`", body = Value),
        (status = 400, description = "INVALID_ID: neither a UUID nor a node name; INVALID_HEADER", body = ErrorBody),
        Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn cordon(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    node_command(&s, &actor, &headers, &id, |node_id| {
        Command::CordonNode(cmd::CordonNode { node_id })
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/uncordon", tag = "nodes", summary = "Uncordon (also stops a drain)",
    params(("id" = String, Path, description = "The node's UUID or name"), WriteHeaders),
    responses(
        (status = 200, description = "The node (as `GET /api/v1/nodes/{id}`), with `changed`", body = Value),
        (status = 400, description = "INVALID_ID: neither a UUID nor a node name; INVALID_HEADER", body = ErrorBody),
        Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn uncordon(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    node_command(&s, &actor, &headers, &id, |node_id| {
        Command::UncordonNode(cmd::UncordonNode { node_id })
    })
    .await
}

/// Cordon, then evict every pod within its deployment's disruption budget
/// (the reconciler keeps going until the node is empty). `GET
/// /api/v1/nodes/{id}` shows the pods left.
#[utoipa::path(post, path = "/api/v1/nodes/{id}/drain", tag = "nodes", summary = "Cordon and evict every pod within the disruption budgets (the controller keeps going until the node is empty)",
    params(("id" = String, Path, description = "The node's UUID or name"), WriteHeaders),
    responses(
        (status = 200, description = "The node (as `GET /api/v1/nodes/{id}`), with `changed`", body = Value),
        (status = 400, description = "INVALID_ID: neither a UUID nor a node name; INVALID_HEADER", body = ErrorBody),
        Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn drain(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    node_command(&s, &actor, &headers, &id, |node_id| {
        Command::DrainNode(cmd::DrainNode { node_id })
    })
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NodeTaints)]
struct TaintsDto {
    taints: Vec<Taint>,
}

/// Replace the node's taints. A `NoExecute` taint evicts the pods that do
/// not tolerate it; `timeAddedMs` is set now for new taints (kept for ones
/// already there), and toleration seconds count from it.
#[utoipa::path(put, path = "/api/v1/nodes/{id}/taints", tag = "nodes",
    summary = "Replace the node's taints; NoExecute evicts the pods that do not tolerate it (after their tolerationSeconds)",
    params(("id" = String, Path, description = "The node's UUID or name"), WriteHeaders), request_body = TaintsDto,
    responses(
        (status = 200, description = "`{nodeId, taints (with timeAddedMs), changed}`", body = Value),
        (status = 400, description = "INVALID_ID: neither a UUID nor a node name; MALFORMED_JSON, BODY_UNREADABLE, INVALID_HEADER", body = ErrorBody),
        Unauthenticated, NotFound, Rejected, TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn set_taints(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(id): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<TaintsDto>,
) -> Result<Json<Value>, ApiError> {
    let node_id = node_ref(&id)?;
    let mut errors = Vec::new();
    for (i, t) in dto.taints.iter().enumerate() {
        if let Err(e) = parse_label(&format!("taints[{i}].key"), &t.key) {
            errors.push(e);
        }
        if !t.value.is_empty()
            && let Err(e) = parse_label(&format!("taints[{i}].value"), &t.value)
        {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let current = node_json(&s, node_id).await?;
    let old: Vec<Taint> = serde_json::from_value(current["taints"].clone()).unwrap_or_default();
    let now = chrono::Utc::now().timestamp_millis();
    let taints: Vec<Taint> = dto
        .taints
        .into_iter()
        .map(|mut t| {
            let same = old
                .iter()
                .find(|o| o.key == t.key && o.value == t.value && o.effect == t.effect);
            t.time_added_ms = same.and_then(|o| o.time_added_ms).or(Some(now));
            t
        })
        .collect();
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::SetNodeTaints(cmd::SetNodeTaints {
            node_id,
            taints: taints.clone(),
        }),
    )
    .await?;
    Ok(Json(
        json!({"nodeId": node_id, "taints": taints, "changed": !events.is_empty()}),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct HealthQuery {
    zone: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
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

/// `GET /api/v1/nodes`: the same as `/api/v1/nodes/health` (a handler of
/// its own because each is documented under one path).
#[utoipa::path(get, path = "/api/v1/nodes", tag = "nodes", summary = "The nodes (the same as /api/v1/nodes/health)",
    params(HealthQuery),
    responses(
        (status = 200, description = "As `GET /api/v1/nodes/health`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    s: State<S>,
    actor: Actor,
    q: ApiQuery<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    health(s, actor, q).await
}

#[utoipa::path(get, path = "/api/v1/nodes/health", tag = "nodes", summary = "Node health, by zone",
    params(HealthQuery),
    responses(
        (status = 200, description = "`{items: [{nodeId, name, zone, ready, condition, cpuFreeMilli, memFreeMb, pods, lastHeartbeat, cpuAllocatableMilli, memAllocatableMb}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn health(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<HealthQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = crate::read::read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, name, zone, ready, condition, cpu_allocatable_milli - cpu_requested_milli,
                mem_allocatable_mb - mem_requested_mb, pod_count, last_heartbeat, cpu_allocatable_milli, mem_allocatable_mb
         FROM node_status WHERE ($1::text IS NULL OR zone = $1) ORDER BY zone, name",
    )
    .bind(q.zone)
    .fetch_all(&pool)
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

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = NodeRegistration)]
struct RegisterDto {
    name: String,
    zone: String,
    cpu_capacity_milli: i64,
    mem_capacity_mb: i64,
    cpu_allocatable_milli: Option<i64>,
    mem_allocatable_mb: Option<i64>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    taints: Vec<Taint>,
}

impl TryFrom<RegisterDto> for NodeSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: RegisterDto) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        let _ = parse_label("zone", &d.zone).map_err(|e| errors.push(e));
        let mut positive = |field: &str, v: i64| {
            if v <= 0 || v > 1 << 40 {
                errors.push(FieldError::new(
                    field,
                    format!("must be a positive quantity, got {v}"),
                ));
            }
            v.max(0) as u64
        };
        let cpu = positive("cpuCapacityMilli", d.cpu_capacity_milli);
        let mem = positive("memCapacityMb", d.mem_capacity_mb);
        let cpu_alloc = positive(
            "cpuAllocatableMilli",
            d.cpu_allocatable_milli.unwrap_or(d.cpu_capacity_milli),
        );
        let mem_alloc = positive(
            "memAllocatableMb",
            d.mem_allocatable_mb.unwrap_or(d.mem_capacity_mb),
        );
        if cpu_alloc > cpu {
            errors.push(FieldError::new(
                "cpuAllocatableMilli",
                "must not exceed cpuCapacityMilli",
            ));
        }
        if mem_alloc > mem {
            errors.push(FieldError::new(
                "memAllocatableMb",
                "must not exceed memCapacityMb",
            ));
        }
        check_labels("labels", &d.labels, &mut errors);
        match name {
            Some(name) if errors.is_empty() => Ok(NodeSpec {
                name,
                zone: d.zone,
                cpu_capacity_milli: cpu,
                mem_capacity_mb: mem,
                cpu_allocatable_milli: cpu_alloc,
                mem_allocatable_mb: mem_alloc,
                labels: d.labels,
                taints: d.taints,
            }),
            _ => Err(errors),
        }
    }
}

#[utoipa::path(post, path = "/api/v1/nodes", tag = "nodes", summary = "Register a node (for agents that do not speak Kafka)",
    params(WriteHeaders), request_body = RegisterDto,
    responses(
        (status = 201, description = "`{nodeId, status: REGISTERED}`", body = Value),
        (status = 200, description = "`{nodeId, status: UNCHANGED}`: already registered as is", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn register(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<RegisterDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = NodeSpec::try_from(dto).map_err(ApiError::validation)?;
    let node_id = NodeId::from_name(spec.name.as_str());
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::RegisterNode(cmd::RegisterNode { node_id, spec }),
    )
    .await?;
    let (status, word) = if events.is_empty() {
        (StatusCode::OK, "UNCHANGED")
    } else {
        (StatusCode::CREATED, "REGISTERED")
    };
    Ok((status, Json(json!({"nodeId": node_id, "status": word}))))
}

#[utoipa::path(post, path = "/api/v1/nodes/{id}/heartbeat", tag = "nodes",
    summary = "Heartbeat (to the compacted heartbeat topic, not the event log)",
    params(NodePath),
    responses(
        (status = 202, description = "Stored"),
        (status = 400, description = "INVALID_ID: the id is not a UUID", body = ErrorBody),
        Unauthenticated,
        (status = 503, description = "CONTROL_PLANE_DEGRADED: the heartbeat topic is unavailable", body = ErrorBody),
    ))]
async fn heartbeat(
    State(s): State<S>,
    _: Actor,
    NodePath(id): NodePath,
) -> Result<StatusCode, ApiError> {
    let hb = infra::kafka::Heartbeat {
        node_id: id,
        sent_at: chrono::Utc::now(),
    };
    let f = s
        .heartbeats
        .send(&hb)
        .map_err(|e| ApiError::degraded(format!("the heartbeat topic is unavailable: {e}")))?;
    infra::kafka::wait_delivery(f)
        .await
        .map_err(|e| ApiError::degraded(format!("heartbeat not stored: {e}")))?;
    Ok(StatusCode::ACCEPTED)
}

#[utoipa::path(get, path = "/api/v1/nodes/{id}/pods", tag = "nodes", summary = "Live pods bound to the node",
    params(NodePath),
    responses(
        (status = 200, description = "`{items: [pod]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn pods(
    State(s): State<S>,
    _: Actor,
    NodePath(id): NodePath,
) -> Result<Json<Value>, ApiError> {
    let items = super::pods::list(
        &s.pool,
        "p.node_id = $1 AND p.phase IN ('PENDING', 'RUNNING')",
        id,
    )
    .await?;
    Ok(Json(json!({"items": items})))
}
