//! `/api/v1/workloads/deployments`: create, read, list, scale, delete, pods.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::command::Command;
use domain::decide::MAX_REPLICAS;
use domain::ids::DeploymentId;
use domain::model::{
    Affinity, DeploymentSpec, DisruptionBudget, Resources, RollingUpdate, Toleration,
    TopologySpreadConstraint,
};
use domain::names::{FieldError, Image, Name, check_labels};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{S, actor, execute, parse_id};
use crate::error::ApiError;
use crate::json::{ApiQuery, parse};

pub fn routes() -> Router<S> {
    Router::new()
        .route("/api/v1/workloads/deployments", post(create).get(list))
        .route(
            "/api/v1/workloads/deployments/{id}",
            get(read).delete(delete),
        )
        .route("/api/v1/workloads/deployments/{id}/scale", post(scale))
        .route("/api/v1/workloads/deployments/{id}/pods", get(pods))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ResourcesDto {
    cpu_request_milli: i64,
    cpu_limit_milli: Option<i64>,
    mem_request_mb: i64,
    mem_limit_mb: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct StrategyDto {
    #[serde(rename = "type")]
    kind: String,
    max_unavailable: Option<i64>,
    max_surge: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateDto {
    namespace: String,
    name: String,
    image: String,
    replicas: i64,
    resources: ResourcesDto,
    strategy: Option<StrategyDto>,
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    #[serde(default)]
    tolerations: Vec<Toleration>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    affinity: Option<Affinity>,
    #[serde(default)]
    topology_spread_constraints: Vec<TopologySpreadConstraint>,
    priority_class_name: Option<String>,
    #[serde(default)]
    priority: i32,
    disruption_budget: Option<DisruptionBudget>,
}

fn quantity(errors: &mut Vec<FieldError>, field: &str, v: i64, min: i64, max: i64) -> u32 {
    if v < min || v > max {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
        return 0;
    }
    v as u32
}

impl TryFrom<CreateDto> for DeploymentSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: CreateDto) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let namespace = Name::parse("namespace", &d.namespace)
            .map_err(|e| errors.push(e))
            .ok();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        let image = Image::parse("image", &d.image)
            .map_err(|e| errors.push(e))
            .ok();
        let replicas = quantity(&mut errors, "replicas", d.replicas, 0, MAX_REPLICAS as i64);
        let r = &d.resources;
        let cpu_req = quantity(
            &mut errors,
            "resources.cpuRequestMilli",
            r.cpu_request_milli,
            1,
            1_000_000,
        );
        let mem_req = quantity(
            &mut errors,
            "resources.memRequestMb",
            r.mem_request_mb,
            1,
            10_000_000,
        );
        let cpu_lim = quantity(
            &mut errors,
            "resources.cpuLimitMilli",
            r.cpu_limit_milli.unwrap_or(r.cpu_request_milli),
            1,
            1_000_000,
        );
        let mem_lim = quantity(
            &mut errors,
            "resources.memLimitMb",
            r.mem_limit_mb.unwrap_or(r.mem_request_mb),
            1,
            10_000_000,
        );
        if cpu_lim < cpu_req {
            errors.push(FieldError::new(
                "resources.cpuLimitMilli",
                "must be at least cpuRequestMilli",
            ));
        }
        if mem_lim < mem_req {
            errors.push(FieldError::new(
                "resources.memLimitMb",
                "must be at least memRequestMb",
            ));
        }
        let mut strategy = RollingUpdate::default();
        if let Some(s) = &d.strategy {
            if s.kind != "RollingUpdate" {
                errors.push(FieldError::new(
                    "strategy.type",
                    format!("'{}' is not supported; use RollingUpdate", s.kind),
                ));
            }
            strategy.max_unavailable = quantity(
                &mut errors,
                "strategy.maxUnavailable",
                s.max_unavailable.unwrap_or(1),
                0,
                100_000,
            );
            strategy.max_surge = quantity(
                &mut errors,
                "strategy.maxSurge",
                s.max_surge.unwrap_or(1),
                0,
                100_000,
            );
            if strategy.max_unavailable == 0 && strategy.max_surge == 0 {
                errors.push(FieldError::new(
                    "strategy",
                    "maxUnavailable and maxSurge must not both be 0",
                ));
            }
        }
        check_labels("nodeSelector", &d.node_selector, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let spec = DeploymentSpec {
            namespace: namespace.expect("checked"),
            name: name.expect("checked"),
            image: image.expect("checked"),
            replicas,
            resources: Resources {
                cpu_request_milli: cpu_req,
                cpu_limit_milli: cpu_lim,
                mem_request_mb: mem_req,
                mem_limit_mb: mem_lim,
            },
            strategy,
            node_selector: d.node_selector,
            tolerations: d.tolerations,
            labels: d.labels,
            affinity: d.affinity,
            topology_spread_constraints: d.topology_spread_constraints,
            priority_class_name: d.priority_class_name,
            priority: d.priority,
            disruption_budget: d.disruption_budget,
        };
        let errors = domain::decide::scheduling_errors(&spec);
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }
}

async fn create(
    State(s): State<S>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let actor = actor(&s, &headers).await?;
    let dto: CreateDto = parse(&headers, &body)?;
    let spec = DeploymentSpec::try_from(dto).map_err(ApiError::validation)?;
    let deployment_id = DeploymentId(Uuid::now_v7());
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::CreateDeployment {
            deployment_id,
            spec,
        },
    )
    .await?;
    // With an Idempotency-Key, the id is the one first created.
    let id = events
        .first()
        .map(|e| e.aggregate.id)
        .unwrap_or(deployment_id.0);
    Ok((
        StatusCode::CREATED,
        Json(json!({"deploymentId": id, "status": "CREATED"})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ScaleDto {
    replicas: i64,
    reason: Option<String>,
}

async fn scale(
    State(s): State<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&s, &headers).await?;
    let id = parse_id("deployment id", &id)?;
    let dto: ScaleDto = parse(&headers, &body)?;
    let mut errors = Vec::new();
    let replicas = quantity(
        &mut errors,
        "replicas",
        dto.replicas,
        0,
        MAX_REPLICAS as i64,
    );
    if let Some(r) = &dto.reason
        && r.len() > 1000
    {
        errors.push(FieldError::new("reason", "must be at most 1000 characters"));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::ScaleDeployment {
            deployment_id: DeploymentId(id),
            replicas,
        },
    )
    .await?;
    let from = events.iter().find_map(|e| match e.body {
        domain::Event::DeploymentScaled { from, .. } => Some(from),
        _ => None,
    });
    Ok(Json(
        json!({"deploymentId": id, "replicas": replicas, "previousReplicas": from, "status": "SCALED"}),
    ))
}

async fn delete(
    State(s): State<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let actor = actor(&s, &headers).await?;
    let id = parse_id("deployment id", &id)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteDeployment {
            deployment_id: DeploymentId(id),
        },
    )
    .await?;
    let pods = events.len().saturating_sub(1);
    Ok(Json(
        json!({"deploymentId": id, "status": "DELETED", "podsDeleted": pods}),
    ))
}

const DEPLOYMENT_SELECT: &str = "SELECT w.id, w.namespace, w.name, w.kind, w.desired_replicas, w.image, w.revision, w.spec,
       w.created_at, w.updated_at,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase IN ('PENDING','RUNNING')) AS live,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase = 'RUNNING') AS running,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase = 'RUNNING' AND p.ready) AS ready
     FROM workload_def w";

type DeploymentRow = (
    Uuid,
    String,
    String,
    String,
    i32,
    String,
    i64,
    Value,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
    i64,
    i64,
    i64,
);

fn deployment_json(r: DeploymentRow) -> Value {
    json!({
        "deploymentId": r.0, "namespace": r.1, "name": r.2, "kind": r.3, "replicas": r.4, "image": r.5,
        "revision": r.6, "spec": r.7, "createdAt": r.8, "updatedAt": r.9,
        "status": {"livePods": r.10, "runningPods": r.11, "readyPods": r.12}
    })
}

async fn read(
    State(s): State<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    actor(&s, &headers).await?;
    let id = parse_id("deployment id", &id)?;
    let row: Option<DeploymentRow> =
        sqlx::query_as(&format!("{DEPLOYMENT_SELECT} WHERE w.id = $1"))
            .bind(id)
            .fetch_optional(&s.pool)
            .await?;
    row.map(|r| Json(deployment_json(r)))
        .ok_or_else(|| ApiError::not_found(format!("deployment {id} not found")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    namespace: Option<String>,
}

async fn list(
    State(s): State<S>,
    ApiQuery(q): ApiQuery<ListQuery>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    actor(&s, &headers).await?;
    let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
        "{DEPLOYMENT_SELECT} WHERE ($1::text IS NULL OR w.namespace = $1) ORDER BY w.namespace, w.name"
    ))
    .bind(q.namespace)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(
        json!({"items": rows.into_iter().map(deployment_json).collect::<Vec<_>>()}),
    ))
}

async fn pods(
    State(s): State<S>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    actor(&s, &headers).await?;
    let id = parse_id("deployment id", &id)?;
    let items = super::pods::list(&s.pool, "p.workload_id = $1", id).await?;
    Ok(Json(json!({"items": items})))
}
