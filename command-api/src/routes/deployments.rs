//! `/api/v1/workloads/deployments`: create, read, list, scale, delete, pods.

use domain::command as cmd;
use domain::event as ev;
use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::command::Command;
use domain::command::TemplatePatch;
use domain::decide::MAX_REPLICAS;
use domain::ids::DeploymentId;
use domain::model::{
    Affinity, Canary, DeploymentSpec, DisruptionBudget, Probe, RollingUpdate, StrategyPatch,
    Toleration, TopologySpreadConstraint,
};
use domain::names::{FieldError, Image, Name, check_labels};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected,
    TooLarge, Unauthenticated, WriteHeaders,
};
use super::template::{
    ResourcesDto, TemplateDto, check_env, check_reason, quantity, undelete_target,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, DeploymentPath};
use crate::json::ApiQuery;
use crate::read::AsOfQuery;
use crate::read::read_pool;
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(undelete))
        .routes(routes!(read, delete, update))
        .routes(routes!(rollback))
        .routes(routes!(rollout_action))
        .routes(routes!(revisions))
        .routes(routes!(rollouts))
        .routes(routes!(scale))
        .routes(routes!(pods))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentStrategy)]
struct StrategyDto {
    #[serde(rename = "type")]
    kind: Option<String>,
    max_unavailable: Option<i64>,
    max_surge: Option<i64>,
    progress_deadline_seconds: Option<i64>,
    rollback_after_failed_pods: Option<i64>,
    auto_rollback: Option<bool>,
}

impl StrategyDto {
    /// The fields given, each checked alone; what depends on the others (both
    /// bounds 0) is checked on the merged strategy (`RollingUpdate::validate`).
    fn patch(&self, errors: &mut Vec<FieldError>) -> StrategyPatch {
        if let Some(k) = &self.kind
            && k != "RollingUpdate"
        {
            errors.push(FieldError::new(
                "strategy.type",
                format!("'{k}' is not supported; use RollingUpdate"),
            ));
        }
        StrategyPatch {
            max_unavailable: self
                .max_unavailable
                .map(|v| quantity(errors, "strategy.maxUnavailable", v, 0, 100_000)),
            max_surge: self
                .max_surge
                .map(|v| quantity(errors, "strategy.maxSurge", v, 0, 100_000)),
            progress_deadline_seconds: self.progress_deadline_seconds.map(|v| {
                quantity(
                    errors,
                    "strategy.progressDeadlineSeconds",
                    v,
                    1,
                    86_400 * 30,
                )
            }),
            rollback_after_failed_pods: self
                .rollback_after_failed_pods
                .map(|v| quantity(errors, "strategy.rollbackAfterFailedPods", v, 1, 100_000)),
            auto_rollback: self.auto_rollback,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentCreate)]
struct CreateDto {
    namespace: String,
    name: String,
    replicas: i64,
    strategy: Option<StrategyDto>,
    disruption_budget: Option<DisruptionBudget>,
    // The template's fields, flat beside the deployment's (serde cannot
    // flatten a struct into one that denies unknown fields).
    image: String,
    #[serde(default)]
    resources: ResourcesDto,
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
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    readiness_probe: Option<Probe>,
    liveness_probe: Option<Probe>,
    startup_probe: Option<Probe>,
    security_context: Option<domain::model::SecurityContext>,
    #[serde(default)]
    host_paths: Vec<domain::model::HostPath>,
    #[serde(default)]
    secret_env: Vec<domain::model::SecretEnv>,
    #[serde(default)]
    secret_files: Vec<domain::model::SecretFiles>,
}

impl CreateDto {
    fn split(self) -> (TemplateDto, Self) {
        let t = TemplateDto {
            image: self.image.clone(),
            resources: self.resources.clone(),
            node_selector: self.node_selector.clone(),
            tolerations: self.tolerations.clone(),
            labels: self.labels.clone(),
            affinity: self.affinity.clone(),
            topology_spread_constraints: self.topology_spread_constraints.clone(),
            priority_class_name: self.priority_class_name.clone(),
            priority: self.priority,
            command: self.command.clone(),
            args: self.args.clone(),
            env: self.env.clone(),
            readiness_probe: self.readiness_probe.clone(),
            liveness_probe: self.liveness_probe.clone(),
            startup_probe: self.startup_probe.clone(),
            restart_policy: None,
            security_context: self.security_context,
            host_paths: self.host_paths.clone(),
            secret_env: self.secret_env.clone(),
            secret_files: self.secret_files.clone(),
        };
        (t, self)
    }
}

impl TryFrom<CreateDto> for DeploymentSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: CreateDto) -> Result<Self, Self::Error> {
        let (template, d) = d.split();
        let mut errors = Vec::new();
        let namespace = Name::parse("namespace", &d.namespace)
            .map_err(|e| errors.push(e))
            .ok();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        let replicas = quantity(&mut errors, "replicas", d.replicas, 0, MAX_REPLICAS as i64);
        let template = template.parse("", &mut errors);
        let strategy = match &d.strategy {
            Some(s) => {
                let merged = s.patch(&mut errors).apply(RollingUpdate::default());
                errors.extend(merged.validate());
                merged
            }
            None => RollingUpdate::default(),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let spec = DeploymentSpec {
            namespace: namespace.expect("checked"),
            name: name.expect("checked"),
            replicas,
            strategy,
            disruption_budget: d.disruption_budget,
            template: template.expect("checked"),
        };
        let errors = spec.validate();
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/workloads/deployments", tag = "deployments", summary = "Create a deployment",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{deploymentId, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS: the namespace has a deployment of this name; REJECTED", body = ErrorBody),
        TooLarge, NotJson,
        (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody),
        Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = DeploymentSpec::try_from(dto).map_err(ApiError::validation)?;
    let deployment_id = DeploymentId(Uuid::now_v7());
    crate::write::create(
        &s,
        &headers,
        &actor,
        "deploymentId",
        deployment_id.0,
        Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id,
            spec,
        }),
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentScale)]
struct ScaleDto {
    replicas: i64,
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/workloads/deployments/{id}/scale", tag = "deployments", summary = "Scale a deployment",
    params(DeploymentPath, WriteHeaders), request_body = ScaleDto,
    responses(
        (status = 200, description = "`{deploymentId, replicas, previousReplicas, status: SCALED}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected, TooLarge, NotJson,
        (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody),
        Degraded,
    ))]
async fn scale(
    State(s): State<S>,
    Actor(actor): Actor,
    DeploymentPath(id): DeploymentPath,
    headers: HeaderMap,
    Body(dto): Body<ScaleDto>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let replicas = quantity(
        &mut errors,
        "replicas",
        dto.replicas,
        0,
        MAX_REPLICAS as i64,
    );
    check_reason(&dto.reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::ScaleDeployment(cmd::ScaleDeployment {
            deployment_id: DeploymentId(id),
            replicas,
        }),
    )
    .await?;
    let from = events.iter().find_map(|e| match e.body {
        domain::Event::DeploymentScaled(ev::DeploymentScaled { from, .. }) => Some(from),
        _ => None,
    });
    Ok(Json(
        json!({"deploymentId": id, "replicas": replicas, "previousReplicas": from, "status": "SCALED"}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/workloads/deployments/{id}", tag = "deployments", summary = "Delete a deployment and its pods",
    params(DeploymentPath, WriteHeaders),
    responses(
        (status = 200, description = "`{deploymentId, status: DELETED, podsDeleted}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    DeploymentPath(id): DeploymentPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteDeployment(cmd::DeleteDeployment {
            deployment_id: DeploymentId(id),
        }),
    )
    .await?;
    let pods = events
        .iter()
        .filter(|e| matches!(e.body, domain::Event::PodDeleted(_)))
        .count();
    Ok(Json(
        json!({"deploymentId": id, "status": "DELETED", "podsDeleted": pods}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentUndelete)]
struct UndeleteDto {
    namespace: String,
    name: String,
    reason: Option<String>,
}

/// `POST /api/v1/workloads/deployments/undelete {namespace, name}`: the last
/// deleted deployment of that name comes back as it was (same id, spec and
/// revisions); the controller then creates its pods.
#[utoipa::path(post, path = "/api/v1/workloads/deployments/undelete", tag = "deployments",
    summary = "Restore the last deleted deployment of this name (same id, spec and revisions)",
    params(WriteHeaders), request_body = UndeleteDto,
    responses(
        (status = 201, description = "`{deploymentId, revision, replicas, status: UNDELETED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no deployment of this name was deleted", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS: the name is in use; NOT_RESTORED; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn undelete(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<UndeleteDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (namespace, name) = undelete_target(&dto.namespace, &dto.name, &dto.reason)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::UndeleteDeployment(cmd::UndeleteDeployment { namespace, name }),
    )
    .await?;
    let restored = events.iter().find_map(|e| match &e.body {
        domain::Event::DeploymentUndeleted(ev::DeploymentUndeleted {
            deployment_id,
            spec,
            revision,
        }) => Some(json!({"deploymentId": deployment_id, "revision": revision,
                         "replicas": spec.replicas, "status": "UNDELETED"})),
        _ => None,
    });
    restored
        .map(|v| (StatusCode::CREATED, Json(v)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "NOT_RESTORED",
                "the deployment was not restored".to_string(),
            )
        })
}

const DEPLOYMENT_SELECT: &str = "SELECT w.id, w.namespace, w.name, w.kind, w.desired_replicas, w.image, w.revision, w.spec,
       w.created_at, w.updated_at,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase IN ('PENDING','RUNNING')) AS live,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase = 'RUNNING') AS running,
       (SELECT count(*) FROM pod_instance p WHERE p.workload_id = w.id AND p.phase = 'RUNNING' AND p.ready) AS ready
     FROM workload_def w WHERE w.kind = 'Deployment'";

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

#[utoipa::path(get, path = "/api/v1/workloads/deployments/{id}", tag = "deployments", summary = "Read a deployment",
    params(DeploymentPath, AsOfQuery),
    responses(
        (status = 200, description = "`{deploymentId, namespace, name, kind, replicas, image, revision, spec, createdAt, updatedAt, status: {livePods, runningPods, readyPods}}`", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    DeploymentPath(id): DeploymentPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<DeploymentRow> = sqlx::query_as(&format!("{DEPLOYMENT_SELECT} AND w.id = $1"))
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    row.map(|r| Json(deployment_json(r)))
        .ok_or_else(|| ApiError::not_found(format!("deployment {id} not found")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    namespace: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workloads/deployments", tag = "deployments", summary = "List deployments",
    params(ListQuery),
    responses(
        (status = 200, description = "`{items: [{deploymentId, namespace, name, kind, replicas, image, revision, spec, createdAt, updatedAt, status: {livePods, runningPods, readyPods}}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<DeploymentRow> = sqlx::query_as(&format!(
        "{DEPLOYMENT_SELECT} AND ($1::text IS NULL OR w.namespace = $1) ORDER BY w.namespace, w.name"
    ))
    .bind(q.namespace)
    .fetch_all(&pool)
    .await?;
    Ok(Json(
        json!({"items": rows.into_iter().map(deployment_json).collect::<Vec<_>>()}),
    ))
}

#[utoipa::path(get, path = "/api/v1/workloads/deployments/{id}/pods", tag = "deployments", summary = "The deployment's pods",
    params(DeploymentPath, AsOfQuery),
    responses(
        (status = 200, description = "`{items: [pod]}` (as `GET /api/v1/pods/{id}`, without placement)", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn pods(
    State(s): State<S>,
    _: Actor,
    DeploymentPath(id): DeploymentPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let items = super::pods::list(&pool, "p.workload_id = $1", id).await?;
    Ok(Json(json!({"items": items})))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentPatch)]
struct PatchDto {
    image: Option<String>,
    command: Option<Vec<String>>,
    args: Option<Vec<String>>,
    env: Option<BTreeMap<String, String>>,
    resources: Option<ResourcesDto>,
    labels: Option<BTreeMap<String, String>>,
    /// `null` removes the probe.
    #[serde(default, deserialize_with = "some")]
    readiness_probe: Option<Option<Probe>>,
    #[serde(default, deserialize_with = "some")]
    liveness_probe: Option<Option<Probe>>,
    #[serde(default, deserialize_with = "some")]
    startup_probe: Option<Option<Probe>>,
    strategy: Option<StrategyDto>,
    /// `null` removes the budget.
    #[serde(default, deserialize_with = "some")]
    disruption_budget: Option<Option<DisruptionBudget>>,
    canary: Option<Canary>,
    reason: Option<String>,
}

/// A present field (even `null`) is `Some`.
fn some<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `PATCH`: a template change records a revision and starts a rollout
/// (`409 ROLLOUT_IN_PROGRESS` while one runs); `strategy` alone applies at once.
#[utoipa::path(patch, path = "/api/v1/workloads/deployments/{id}", tag = "deployments",
    summary = "Change the template (a new revision and a rollout) and/or the strategy, the disruption budget",
    params(DeploymentPath, WriteHeaders), request_body = PatchDto,
    responses(
        (status = 200, description = "`{deploymentId, status: ROLLOUT_STARTED | STRATEGY_CHANGED | BUDGET_CHANGED | UNCHANGED, rollout?, revision?, strategy?, disruptionBudget?}`", body = Value),
        BadBody, Unauthenticated, NotFound,
        (status = 409, description = "ROLLOUT_IN_PROGRESS: a template change while a rollout runs; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn update(
    State(s): State<S>,
    Actor(actor): Actor,
    DeploymentPath(id): DeploymentPath,
    headers: HeaderMap,
    Body(dto): Body<PatchDto>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let image = dto
        .image
        .as_deref()
        .and_then(|i| Image::parse("image", i).map_err(|e| errors.push(e)).ok());
    let resources = dto.resources.as_ref().map(|r| r.parse(&mut errors));
    if let Some(env) = &dto.env {
        check_env(env, &mut errors);
    }
    if let Some(l) = &dto.labels {
        check_labels("labels", l, &mut errors);
    }
    // Merged by the decider with the strategy the deployment has then.
    let strategy = dto.strategy.as_ref().map(|st| st.patch(&mut errors));
    check_reason(&dto.reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let patch = TemplatePatch {
        image,
        command: dto.command,
        args: dto.args,
        env: dto.env,
        resources,
        labels: dto.labels,
        readiness_probe: dto.readiness_probe,
        liveness_probe: dto.liveness_probe,
        startup_probe: dto.startup_probe,
        strategy,
        disruption_budget: dto.disruption_budget,
        canary: dto.canary,
    };
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::UpdateDeployment(cmd::UpdateDeployment {
            deployment_id: DeploymentId(id),
            patch,
        }),
    )
    .await?;
    Ok(Json(rollout_answer(id, &events, "UNCHANGED")))
}

fn rollout_answer(id: Uuid, events: &[domain::EventEnvelope], otherwise: &str) -> Value {
    use domain::Event as E;
    let mut out = json!({"deploymentId": id, "status": otherwise});
    for e in events {
        match &e.body {
            E::RolloutStarted(ev::RolloutStarted {
                rollout,
                from,
                to,
                trigger,
                canary,
                ..
            }) => {
                out["status"] = json!("ROLLOUT_STARTED");
                out["rollout"] = json!({"number": rollout, "fromRevision": from, "toRevision": to, "trigger": trigger.as_str(), "canaryPods": canary});
                out["revision"] = json!(to);
            }
            E::RolloutRolledBack(ev::RolloutRolledBack {
                rollout, reason, ..
            }) => {
                out["stoppedRollout"] =
                    json!({"number": rollout, "status": "ROLLED_BACK", "reason": reason});
            }
            E::DeploymentStrategyChanged(ev::DeploymentStrategyChanged { strategy, .. })
                if out["status"] == otherwise =>
            {
                out["status"] = json!("STRATEGY_CHANGED");
                out["strategy"] = json!(strategy);
            }
            E::DeploymentBudgetChanged(ev::DeploymentBudgetChanged { budget, .. }) => {
                if out["status"] == otherwise {
                    out["status"] = json!("BUDGET_CHANGED");
                }
                out["disruptionBudget"] = json!(budget);
            }
            E::RolloutPaused(ev::RolloutPaused { rollout, .. }) => {
                out["status"] = json!("PAUSED");
                out["rollout"] = json!({"number": rollout});
            }
            E::RolloutResumed(ev::RolloutResumed { rollout, .. }) => {
                out["status"] = json!("RESUMED");
                out["rollout"] = json!({"number": rollout});
            }
            E::RolloutPromoted(ev::RolloutPromoted { rollout, .. }) => {
                out["status"] = json!("PROMOTED");
                out["rollout"] = json!({"number": rollout});
            }
            _ => {}
        }
    }
    out
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = DeploymentRollback)]
struct RollbackDto {
    revision: i64,
    reason: Option<String>,
}

/// `POST .../rollback {revision}`: back to any revision ever recorded.
#[utoipa::path(post, path = "/api/v1/workloads/deployments/{id}/rollback", tag = "deployments",
    summary = "Roll back to any revision ever recorded",
    params(DeploymentPath, WriteHeaders), request_body = RollbackDto,
    responses(
        (status = 200, description = "`{deploymentId, status: ROLLOUT_STARTED | ALREADY_AT_REVISION, rollout?, revision?}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND, REVISION_NOT_FOUND", body = ErrorBody),
        Rejected,
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn rollback(
    State(s): State<S>,
    Actor(actor): Actor,
    DeploymentPath(id): DeploymentPath,
    headers: HeaderMap,
    Body(dto): Body<RollbackDto>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    if dto.revision < 1 {
        errors.push(FieldError::new(
            "revision",
            format!("must be at least 1, got {}", dto.revision),
        ));
    }
    check_reason(&dto.reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let reason = dto
        .reason
        .clone()
        .unwrap_or_else(|| format!("rollback to revision {} requested by {actor}", dto.revision));
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::RollbackDeployment(cmd::RollbackDeployment {
            deployment_id: DeploymentId(id),
            revision: dto.revision as u64,
            automatic: false,
            rollout: None,
            reason,
        }),
    )
    .await?;
    Ok(Json(rollout_answer(id, &events, "ALREADY_AT_REVISION")))
}

/// `POST .../rollout/{pause|resume|promote|abort}`.
#[utoipa::path(post, path = "/api/v1/workloads/deployments/{id}/rollout/{action}", tag = "deployments",
    summary = "pause | resume | promote (a canary) | abort (roll back to where the rollout started)",
    params(
        DeploymentPath,
        ("action" = String, Path, description = "`pause`, `resume`, `promote` or `abort`"),
        WriteHeaders,
    ),
    responses(
        (status = 200, description = "`{deploymentId, status: PAUSED | RESUMED | PROMOTED | ROLLOUT_STARTED | UNCHANGED, rollout?}`", body = Value),
        BadWrite, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no such deployment, or no such action", body = ErrorBody),
        (status = 409, description = "NO_ROLLOUT_IN_PROGRESS, NOT_A_CANARY (promote); REJECTED", body = ErrorBody),
        Degraded,
    ))]
async fn rollout_action(
    State(s): State<S>,
    Actor(actor): Actor,
    DeploymentPath(id): DeploymentPath,
    Path((_, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let deployment_id = DeploymentId(id);
    let command = match action.as_str() {
        "pause" => Command::PauseRollout(cmd::PauseRollout { deployment_id }),
        "resume" => Command::ResumeRollout(cmd::ResumeRollout { deployment_id }),
        "promote" => Command::PromoteRollout(cmd::PromoteRollout { deployment_id }),
        "abort" => Command::AbortRollout(cmd::AbortRollout {
            deployment_id,
            reason: format!("rollout aborted by {actor}"),
        }),
        other => {
            return Err(ApiError::not_found(format!(
                "no rollout action '{other}' (pause, resume, promote, abort)"
            )));
        }
    };
    let events = execute(&s, &headers, &actor, None, command).await?;
    Ok(Json(rollout_answer(id, &events, "UNCHANGED")))
}

#[utoipa::path(get, path = "/api/v1/workloads/deployments/{id}/revisions", tag = "deployments", summary = "Every revision ever recorded",
    params(DeploymentPath),
    responses(
        (status = 200, description = "`{items: [{revision, image, spec, createdAt, actor}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn revisions(
    State(s): State<S>,
    _: Actor,
    DeploymentPath(id): DeploymentPath,
) -> Result<Json<Value>, ApiError> {
    type Row = (
        i64,
        String,
        Value,
        chrono::DateTime<chrono::Utc>,
        Option<String>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT revision, image, spec, created_at, actor FROM deployment_revision WHERE workload_id = $1 ORDER BY revision",
    )
    .bind(id)
    .fetch_all(&s.pool)
    .await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(
            |r| json!({"revision": r.0, "image": r.1, "spec": r.2, "createdAt": r.3, "actor": r.4}),
        )
        .collect();
    Ok(Json(json!({"items": items})))
}

#[utoipa::path(get, path = "/api/v1/workloads/deployments/{id}/rollouts", tag = "deployments", summary = "Rollout history",
    params(DeploymentPath),
    responses(
        (status = 200, description = "`{items: [{rollout, fromRevision, toRevision, trigger, status, canaryPods, paused, reason, actor, startedAt, endedAt}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn rollouts(
    State(s): State<S>,
    _: Actor,
    DeploymentPath(id): DeploymentPath,
) -> Result<Json<Value>, ApiError> {
    let items = rollout_rows(&s.pool, id).await?;
    Ok(Json(json!({"items": items})))
}

pub async fn rollout_rows(pool: &sqlx::PgPool, id: Uuid) -> Result<Vec<Value>, sqlx::Error> {
    type Row = (
        i64,
        Option<i64>,
        i64,
        String,
        String,
        Option<i32>,
        bool,
        Option<String>,
        Option<String>,
        chrono::DateTime<chrono::Utc>,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT rollout, from_revision, to_revision, trigger, status, canary_pods, paused, reason, actor, started_at, ended_at
         FROM rollout_history WHERE workload_id = $1 ORDER BY rollout",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            json!({"rollout": r.0, "fromRevision": r.1, "toRevision": r.2, "trigger": r.3, "status": r.4,
                   "canaryPods": r.5, "paused": r.6, "reason": r.7, "actor": r.8, "startedAt": r.9, "endedAt": r.10})
        })
        .collect())
}
