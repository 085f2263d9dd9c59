//! `/api/v1/namespaces`: namespaces as objects (create, list, get, delete,
//! undelete) and each one's quota (`/quota`: set, read used vs hard, remove).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::command as cmd;
use domain::command::Command;
use domain::event::Event;
use domain::limitrange::LimitRangeSpec;
use domain::names::{FieldError, Name};
use domain::namespace::BUILT_IN;
use domain::quota::QuotaSpec;
use serde::Deserialize;
use serde_json::{Value, json};

use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotJson, ReadDegraded, Rejected, TooLarge,
    Unauthenticated, WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body};
use crate::json::ApiQuery;
use crate::read::{AsOfQuery, read_pool};
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(read, delete, update))
        .routes(routes!(undelete))
        .routes(routes!(set_quota, read_quota, remove_quota))
        .routes(routes!(
            set_limit_range,
            read_limit_range,
            remove_limit_range
        ))
}

/// The `{name}` path parameter: a DNS-1123 label (422 otherwise).
fn name_of(raw: &str) -> Result<Name, ApiError> {
    Name::parse("name", raw).map_err(|e| ApiError::validation(vec![e]))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = NamespaceCreate)]
struct CreateDto {
    name: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/api/v1/namespaces", tag = "namespaces",
    summary = "Create a namespace (objects can only be created in one that exists; `default` and `orch-system` always do)",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{name, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS; NAMESPACE_TERMINATING: deleted, and objects it held are still being removed; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = Name::parse("name", &dto.name).map_err(|e| ApiError::validation(vec![e]))?;
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::CreateNamespace(cmd::CreateNamespace {
            name: name.clone(),
            labels: dto.labels,
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name.as_str(), "status": "CREATED"})),
    ))
}

type Row = (
    String,
    Value,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::DateTime<chrono::Utc>>,
    Value,
    i64,
    Option<Value>,
    Option<Value>,
);

/// Every namespace with what it holds and its quota; the built-ins (`$1`)
/// are rows too, as recorded or, never changed, as they start.
const SELECT: &str = "WITH n AS (
         SELECT name, labels, status, created_at, deleted_at, deleted_objects FROM namespace
         UNION ALL
         SELECT b, '{}'::jsonb, 'Active', NULL, NULL, '[]'::jsonb FROM unnest($1::text[]) b
          WHERE b NOT IN (SELECT name FROM namespace))
     SELECT n.name, n.labels, n.status, n.created_at, n.deleted_at, n.deleted_objects,
       (SELECT count(*) FROM workload_def w WHERE w.namespace = n.name)
         + (SELECT count(*) FROM service v WHERE v.namespace = n.name),
       q.hard, q.used
     FROM n LEFT JOIN resource_quota q ON q.namespace = n.name";

fn namespace_json(r: Row) -> Value {
    let (name, labels, status, created_at, deleted_at, deleted_objects, objects, hard, used) = r;
    // Deleted, but what it held is still being removed.
    let status = if status == "Deleted" && objects > 0 {
        "Terminating".to_string()
    } else {
        status
    };
    let built_in = BUILT_IN.contains(&name.as_str());
    let mut v = json!({"name": name, "labels": labels, "status": status, "builtIn": built_in,
        "createdAt": created_at, "objects": objects});
    if let Some(at) = deleted_at {
        v["deletedAt"] = json!(at);
        v["deletedObjects"] = deleted_objects;
    }
    if let (Some(hard), Some(used)) = (hard, used) {
        v["quota"] = json!({"hard": hard, "used": used});
    }
    v
}

#[utoipa::path(get, path = "/api/v1/namespaces", tag = "namespaces", summary = "List namespaces (the built-in ones first)",
    params(AsOfQuery),
    responses(
        (status = 200, description = "`{items: [{name, labels, status (Active, Terminating, Deleted), builtIn, createdAt, deletedAt?, objects, quota?: {hard, used}}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Row> =
        sqlx::query_as(&format!("{SELECT} ORDER BY n.name = ANY($1) DESC, n.name"))
            .bind(&BUILT_IN[..])
            .fetch_all(&pool)
            .await?;
    let items: Vec<Value> = rows.into_iter().map(namespace_json).collect();
    Ok(Json(json!({"items": items})))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}", tag = "namespaces", summary = "A namespace, with how many objects it holds and its quota",
    params(("name" = String, Path, description = "The namespace's name"), AsOfQuery),
    responses(
        (status = 200, description = "The namespace, as in the list", body = Value),
        BadRead, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no namespace of this name", body = ErrorBody),
        Invalid, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(&raw)?;
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE n.name = $2"))
        .bind(&BUILT_IN[..])
        .bind(name.as_str())
        .fetch_optional(&pool)
        .await?;
    row.map(|r| Json(namespace_json(r)))
        .ok_or_else(|| ApiError::not_found(format!("namespace '{name}' not found")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = NamespaceUpdate)]
struct UpdateDto {
    labels: BTreeMap<String, String>,
}

#[utoipa::path(patch, path = "/api/v1/namespaces/{name}", tag = "namespaces",
    summary = "Replace a namespace's labels (a built-in's too); `pod-security.orch/enforce: privileged|baseline|restricted` sets its pod security level for what is admitted from now on",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    request_body = UpdateDto,
    responses(
        (status = 200, description = "`{name, labels}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn update(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<UpdateDto>,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(&raw)?;
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::UpdateNamespace(cmd::UpdateNamespace {
            name: name.clone(),
            labels: dto.labels.clone(),
        }),
    )
    .await?;
    Ok(Json(json!({"name": name.as_str(), "labels": dto.labels})))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}", tag = "namespaces",
    summary = "Delete a namespace and, through ordinary deletes by the namespace controller, everything in it (undo with POST …/undelete)",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    responses(
        (status = 200, description = "`{name, status: DELETED, objects: [{kind, id, name}]}`: what it held, now being deleted", body = Value),
        BadWrite, Unauthenticated,
        (status = 403, description = "NAMESPACE_PROTECTED: a built-in namespace", body = ErrorBody),
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        Invalid, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let name = name_of(&raw)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteNamespace(cmd::DeleteNamespace { name: name.clone() }),
    )
    .await?;
    let objects = events.iter().find_map(|e| match &e.body {
        Event::NamespaceDeleted(d) => Some(json!(d.objects)),
        _ => None,
    });
    Ok(Json(
        json!({"name": name.as_str(), "status": "DELETED", "objects": objects.unwrap_or(json!([]))}),
    ))
}

#[utoipa::path(post, path = "/api/v1/namespaces/{name}/undelete", tag = "namespaces",
    summary = "Bring a deleted namespace back, with every object it held that can be restored, in one step",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    responses(
        (status = 201, description = "`{name, status: UNDELETED, restored: [{kind, id, name}], skipped: [{object, reason}]}`", body = Value),
        BadWrite, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no deleted namespace of this name", body = ErrorBody),
        Invalid, Rejected, Degraded,
    ))]
async fn undelete(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = name_of(&raw)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::UndeleteNamespace(cmd::UndeleteNamespace { name: name.clone() }),
    )
    .await?;
    let outcome = events.iter().find_map(|e| match &e.body {
        Event::NamespaceUndeleted(u) => Some(json!({"name": name.as_str(), "status": "UNDELETED",
            "restored": u.restored, "skipped": u.skipped})),
        _ => None,
    });
    outcome
        .map(|v| (StatusCode::CREATED, Json(v)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "NOT_RESTORED",
                format!("namespace '{name}' was not restored"),
            )
        })
}

/// Hard limits; each is optional, and one left out is not enforced.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = ResourceQuotaHard)]
struct QuotaDto {
    pods: Option<i64>,
    requests_cpu_milli: Option<i64>,
    requests_memory_mb: Option<i64>,
    limits_cpu_milli: Option<i64>,
    limits_memory_mb: Option<i64>,
    deployments: Option<i64>,
    stateful_sets: Option<i64>,
    jobs: Option<i64>,
    cron_jobs: Option<i64>,
    services: Option<i64>,
}

impl QuotaDto {
    fn into_spec(self) -> Result<QuotaSpec, ApiError> {
        let mut errors = Vec::new();
        let mut check = |field: &str, v: Option<i64>| {
            v.and_then(|v| {
                if v < 0 {
                    errors.push(FieldError::new(
                        format!("hard.{field}"),
                        format!("must be 0 or more, got {v}"),
                    ));
                    None
                } else {
                    Some(v as u64)
                }
            })
        };
        let spec = QuotaSpec {
            pods: check("pods", self.pods),
            requests_cpu_milli: check("requestsCpuMilli", self.requests_cpu_milli),
            requests_memory_mb: check("requestsMemoryMb", self.requests_memory_mb),
            limits_cpu_milli: check("limitsCpuMilli", self.limits_cpu_milli),
            limits_memory_mb: check("limitsMemoryMb", self.limits_memory_mb),
            deployments: check("deployments", self.deployments),
            stateful_sets: check("statefulSets", self.stateful_sets),
            jobs: check("jobs", self.jobs),
            cron_jobs: check("cronJobs", self.cron_jobs),
            services: check("services", self.services),
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        if spec == QuotaSpec::default() {
            return Err(ApiError::validation(vec![FieldError::new(
                "hard",
                "give at least one limit (pods, requestsCpuMilli, requestsMemoryMb, limitsCpuMilli, limitsMemoryMb, deployments, statefulSets, jobs, cronJobs, services)",
            )]));
        }
        Ok(spec)
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = ResourceQuotaSet)]
struct SetQuotaDto {
    hard: QuotaDto,
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/quota", tag = "namespaces",
    summary = "Set the namespace's quota: the decider refuses (403 QUOTA_EXCEEDED) any create, scale, template change or undelete that would commit more",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    request_body = SetQuotaDto,
    responses(
        (status = 200, description = "`{namespace, hard, used}`: the limits, and what the namespace commits now (it may already be over)", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NAMESPACE_TERMINATING; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn set_quota(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<SetQuotaDto>,
) -> Result<Json<Value>, ApiError> {
    let namespace = name_of(&raw)?;
    let hard = dto.hard.into_spec()?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::SetResourceQuota(cmd::SetResourceQuota {
            namespace: namespace.clone(),
            hard,
        }),
    )
    .await?;
    let used = events.iter().find_map(|e| match &e.body {
        Event::ResourceQuotaSet(q) => Some(json!(q.used)),
        _ => None,
    });
    let mut v = json!({"namespace": namespace.as_str(), "hard": hard});
    match used {
        Some(u) => v["used"] = u,
        // Unchanged: the limits were these already.
        None => v["status"] = json!("UNCHANGED"),
    }
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/quota", tag = "namespaces",
    summary = "The namespace's quota: hard limits, what it commits (as last recorded by the namespace controller) and what remains",
    params(("name" = String, Path, description = "The namespace's name"), AsOfQuery),
    responses(
        (status = 200, description = "`{namespace, hard, used, remaining, updatedAt}` (remaining: only for the limits set)", body = Value),
        BadRead, Unauthenticated,
        (status = 404, description = "NOT_FOUND: the namespace has no quota", body = ErrorBody),
        Invalid, ReadDegraded,
    ))]
async fn read_quota(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let namespace = name_of(&raw)?;
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<(Value, Value, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT hard, used, updated_at FROM resource_quota WHERE namespace = $1")
            .bind(namespace.as_str())
            .fetch_optional(&pool)
            .await?;
    let Some((hard, used, at)) = row else {
        return Err(ApiError::not_found(format!(
            "namespace '{namespace}' has no quota"
        )));
    };
    let mut remaining = serde_json::Map::new();
    if let (Some(h), Some(u)) = (hard.as_object(), used.as_object()) {
        for (k, limit) in h {
            let (Some(limit), Some(u)) = (limit.as_i64(), u.get(k).and_then(Value::as_i64)) else {
                continue;
            };
            remaining.insert(k.clone(), json!((limit - u).max(0)));
        }
    }
    Ok(Json(
        json!({"namespace": namespace.as_str(), "hard": hard, "used": used,
        "remaining": remaining, "updatedAt": at}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/quota", tag = "namespaces", summary = "Remove the namespace's quota",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    responses(
        (status = 200, description = "`{namespace, status: REMOVED}`", body = Value),
        BadWrite, Unauthenticated,
        (status = 404, description = "NOT_FOUND: the namespace has no quota", body = ErrorBody),
        Invalid, Rejected, Degraded,
    ))]
async fn remove_quota(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    remove(&s, &headers, &actor, &raw, |namespace| {
        Command::RemoveResourceQuota(cmd::RemoveResourceQuota { namespace })
    })
    .await
}

/// A namespace policy's removal: the command `make` builds, then `{namespace, status: REMOVED}`.
async fn remove(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    raw: &str,
    make: impl FnOnce(Name) -> Command,
) -> Result<Json<Value>, ApiError> {
    let namespace = name_of(raw)?;
    execute(s, headers, actor, None, make(namespace.clone())).await?;
    Ok(Json(
        json!({"namespace": namespace.as_str(), "status": "REMOVED"}),
    ))
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/limitrange", tag = "namespaces",
    summary = "Set the namespace's limit range: default requests and limits for pods that leave them out, and bounds for all (applied by the decider to what it admits from now on)",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    request_body = LimitRangeSpec,
    responses(
        (status = 200, description = "`{namespace, spec}` (`status: UNCHANGED` when it was this already)", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "NAMESPACE_TERMINATING; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn set_limit_range(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(spec): Body<LimitRangeSpec>,
) -> Result<Json<Value>, ApiError> {
    let namespace = name_of(&raw)?;
    let errors = spec.validate();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::SetLimitRange(cmd::SetLimitRange {
            namespace: namespace.clone(),
            spec,
        }),
    )
    .await?;
    let mut v = json!({"namespace": namespace.as_str(), "spec": spec});
    if events.is_empty() {
        v["status"] = json!("UNCHANGED");
    }
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/limitrange", tag = "namespaces",
    summary = "The namespace's limit range",
    params(("name" = String, Path, description = "The namespace's name"), AsOfQuery),
    responses(
        (status = 200, description = "`{namespace, spec: {defaultRequest, defaultLimit, min, max}, updatedAt}`", body = Value),
        BadRead, Unauthenticated,
        (status = 404, description = "NOT_FOUND: the namespace has no limit range", body = ErrorBody),
        Invalid, ReadDegraded,
    ))]
async fn read_limit_range(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let namespace = name_of(&raw)?;
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<(Value, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("SELECT spec, updated_at FROM limit_range WHERE namespace = $1")
            .bind(namespace.as_str())
            .fetch_optional(&pool)
            .await?;
    let Some((spec, at)) = row else {
        return Err(ApiError::not_found(format!(
            "namespace '{namespace}' has no limit range"
        )));
    };
    Ok(Json(
        json!({"namespace": namespace.as_str(), "spec": spec, "updatedAt": at}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/limitrange", tag = "namespaces", summary = "Remove the namespace's limit range",
    params(("name" = String, Path, description = "The namespace's name"), WriteHeaders),
    responses(
        (status = 200, description = "`{namespace, status: REMOVED}`", body = Value),
        BadWrite, Unauthenticated,
        (status = 404, description = "NOT_FOUND: the namespace has no limit range", body = ErrorBody),
        Invalid, Rejected, Degraded,
    ))]
async fn remove_limit_range(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    remove(&s, &headers, &actor, &raw, |namespace| {
        Command::RemoveLimitRange(cmd::RemoveLimitRange { namespace })
    })
    .await
}
