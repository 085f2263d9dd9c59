//! `/api/v1/services`: label selectors over pods, routed by the gateway;
//! `/endpoints` lists the Ready pods a service sends traffic to.

use domain::command as cmd;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use domain::command::Command;
use domain::ids::ServiceId;
use domain::model::ServiceSpec;
use domain::names::Name;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected,
    TooLarge, Unauthenticated, WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, ServicePath};
use crate::read::AsOfQuery;
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(undelete))
        .routes(routes!(read, delete))
        .routes(routes!(endpoints))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = ServiceCreate)]
struct CreateDto {
    namespace: String,
    name: String,
    selector: BTreeMap<String, String>,
    host: Option<String>,
    path_prefix: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/services", tag = "services", summary = "Create a service: pods by label selector; the gateway routes host + pathPrefix to its Ready endpoints",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{serviceId, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS: the namespace has a service of this name; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let mut errors = Vec::new();
    let namespace = Name::parse("namespace", &dto.namespace)
        .map_err(|e| errors.push(e))
        .ok();
    let name = Name::parse("name", &dto.name)
        .map_err(|e| errors.push(e))
        .ok();
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let spec = ServiceSpec {
        namespace: namespace.expect("checked"),
        name: name.expect("checked"),
        selector: dto.selector,
        host: dto.host.map(|h| h.to_ascii_lowercase()),
        path_prefix: dto.path_prefix.unwrap_or_else(|| "/".into()),
    };
    let service_id = ServiceId(Uuid::now_v7());
    crate::write::create(
        &s,
        &headers,
        &actor,
        "serviceId",
        service_id.0,
        Command::CreateService(cmd::CreateService { service_id, spec }),
    )
    .await
}

#[utoipa::path(post, path = "/api/v1/services/undelete", tag = "services",
    summary = "Restore the last deleted service of this name (same id, selector and routing)",
    params(WriteHeaders), request_body = super::template::UndeleteDto,
    responses(
        (status = 201, description = "`{serviceId, status: UNDELETED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no service of this name was deleted; NAMESPACE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS: the name is in use; NAMESPACE_TERMINATING; NOT_RESTORED; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn undelete(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<super::template::UndeleteDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    super::template::undelete(
        &s,
        &headers,
        &actor,
        dto,
        |namespace, name| Command::UndeleteService(cmd::UndeleteService { namespace, name }),
        |e| match e {
            domain::Event::ServiceUndeleted(u) => {
                Some(json!({"serviceId": u.service_id, "status": "UNDELETED"}))
            }
            _ => None,
        },
        "service",
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/services/{id}", tag = "services", summary = "Delete a service",
    params(ServicePath, WriteHeaders),
    responses(
        (status = 200, description = "`{serviceId, status: DELETED}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    ServicePath(id): ServicePath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteService(cmd::DeleteService {
            service_id: ServiceId(id),
        }),
    )
    .await?;
    Ok(Json(json!({"serviceId": id, "status": "DELETED"})))
}

type Row = (
    Uuid,
    String,
    String,
    Value,
    Option<String>,
    String,
    chrono::DateTime<chrono::Utc>,
    i64,
);

const SELECT: &str =
    "SELECT s.id, s.namespace, s.name, s.selector, s.host, s.path_prefix, s.created_at,
       (SELECT count(*) FROM service_endpoints e WHERE e.service_id = s.id)
     FROM service s";

fn service_json(r: Row) -> Value {
    json!({"serviceId": r.0, "namespace": r.1, "name": r.2, "selector": r.3, "host": r.4, "pathPrefix": r.5,
           "createdAt": r.6, "readyEndpoints": r.7})
}

#[utoipa::path(get, path = "/api/v1/services/{id}", tag = "services", summary = "A service",
    params(ServicePath, AsOfQuery),
    responses(
        (status = 200, description = "The service, as in the list", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    ServicePath(id): ServicePath,
    crate::json::ApiQuery(q): crate::json::ApiQuery<crate::read::AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = crate::read::read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<Row> = sqlx::query_as(&format!("{SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    row.map(|r| Json(service_json(r)))
        .ok_or_else(|| ApiError::not_found(format!("service {id} not found")))
}

#[utoipa::path(get, path = "/api/v1/services", tag = "services", summary = "List services",
    params(AsOfQuery),
    responses(
        (status = 200, description = "`{items: [{serviceId, namespace, name, selector, host, pathPrefix, createdAt, readyEndpoints}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    crate::json::ApiQuery(q): crate::json::ApiQuery<crate::read::AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = crate::read::read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Row> = sqlx::query_as(&format!("{SELECT} ORDER BY s.namespace, s.name"))
        .fetch_all(&pool)
        .await?;
    Ok(Json(
        json!({"items": rows.into_iter().map(service_json).collect::<Vec<_>>()}),
    ))
}

/// Only Ready pods: the projection drops a pod the moment its `PodNotReady`,
/// `PodDeleted` or failure is projected.
#[utoipa::path(get, path = "/api/v1/services/{id}/endpoints", tag = "services", summary = "The service's Ready endpoints",
    params(ServicePath),
    responses(
        (status = 200, description = "`{serviceId, items: [{podId, podName, address, nodeId, revision, hostname?}]}`", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn endpoints(
    State(s): State<S>,
    _: Actor,
    ServicePath(id): ServicePath,
) -> Result<Json<Value>, ApiError> {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM service WHERE id = $1")
        .bind(id)
        .fetch_optional(&s.pool)
        .await?;
    if exists.is_none() {
        return Err(ApiError::not_found(format!("service {id} not found")));
    }
    type EndpointRow = (
        Uuid,
        String,
        Option<String>,
        Option<Uuid>,
        i64,
        Option<String>,
    );
    let rows: Vec<EndpointRow> = sqlx::query_as(
        "SELECT pod_id, pod_name, address, node_id, revision, hostname FROM service_endpoints WHERE service_id = $1 ORDER BY pod_name",
    )
    .bind(id)
    .fetch_all(&s.pool)
    .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut e = json!({"podId": r.0, "podName": r.1, "address": r.2, "nodeId": r.3, "revision": r.4});
            // A StatefulSet's pod: the gateway routes this host to it alone.
            if let Some(h) = r.5 {
                e["hostname"] = json!(h);
            }
            e
        })
        .collect();
    Ok(Json(json!({"serviceId": id, "items": items})))
}
