//! `/api/v1/workloads/statefulsets`: create, read, list, update (template,
//! partition), scale, rollback, revisions, delete, undelete, pods.

use domain::command as cmd;
use domain::command::Command;
use domain::decide::MAX_REPLICAS;
use domain::event::Event;
use domain::ids::StatefulSetId;
use domain::model::RestartPolicy;
use domain::names::{FieldError, Image, Name};
use domain::statefulset::{
    PodManagementPolicy, SetUpdateStrategy, StatefulSetSpec, VolumeClaimTemplate,
};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected,
    TooLarge, Unauthenticated, WriteHeaders,
};
use super::template::{TemplateDto, UndeleteDto, check_reason, quantity};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, StatefulSetPath};
use crate::json::ApiQuery;
use crate::read::{AsOfQuery, read_pool};
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(undelete))
        .routes(routes!(read, delete, update))
        .routes(routes!(scale))
        .routes(routes!(rollback))
        .routes(routes!(revisions))
        .routes(routes!(pods))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = StatefulSetUpdateStrategy)]
struct UpdateStrategyDto {
    partition: Option<i64>,
    rollback_after_failures: Option<i64>,
    auto_rollback: Option<bool>,
    min_ready_seconds: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = VolumeClaimTemplate)]
struct VolumeClaimDto {
    name: String,
    mount_path: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = StatefulSetCreate)]
struct CreateDto {
    namespace: String,
    name: String,
    replicas: Option<i64>,
    service_name: Option<String>,
    pod_management_policy: Option<PodManagementPolicy>,
    update_strategy: Option<UpdateStrategyDto>,
    volume_claim_template: Option<VolumeClaimDto>,
    template: TemplateDto,
}

impl TryFrom<CreateDto> for StatefulSetSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: CreateDto) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let namespace = Name::parse("namespace", &d.namespace)
            .map_err(|e| errors.push(e))
            .ok();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        let replicas = quantity(
            &mut errors,
            "replicas",
            d.replicas.unwrap_or(1),
            0,
            MAX_REPLICAS as i64,
        );
        let service_name = d.service_name.as_deref().and_then(|s| {
            Name::parse("serviceName", s)
                .map_err(|e| errors.push(e))
                .ok()
        });
        let defaults = SetUpdateStrategy::default();
        let update_strategy = match d.update_strategy {
            None => defaults,
            Some(u) => SetUpdateStrategy {
                partition: u.partition.map_or(0, |p| {
                    quantity(
                        &mut errors,
                        "updateStrategy.partition",
                        p,
                        0,
                        MAX_REPLICAS as i64,
                    )
                }),
                rollback_after_failures: u.rollback_after_failures.map_or(
                    defaults.rollback_after_failures,
                    |n| {
                        quantity(
                            &mut errors,
                            "updateStrategy.rollbackAfterFailures",
                            n,
                            1,
                            1000,
                        )
                    },
                ),
                auto_rollback: u.auto_rollback.unwrap_or(true),
                min_ready_seconds: u.min_ready_seconds.map_or(0, |n| {
                    quantity(&mut errors, "updateStrategy.minReadySeconds", n, 0, 86_400)
                }),
            },
        };
        let volume_claim_template = d.volume_claim_template.and_then(|v| {
            let name = Name::parse("volumeClaimTemplate.name", &v.name)
                .map_err(|e| errors.push(e))
                .ok()?;
            Some(VolumeClaimTemplate {
                name,
                mount_path: v.mount_path.unwrap_or_else(|| "/data".into()),
            })
        });
        let mut t = d.template;
        t.restart_policy.get_or_insert(RestartPolicy::Always);
        let template = t.parse("template.", &mut errors);
        let (Some(namespace), Some(name), Some(template), true) =
            (namespace, name, template, errors.is_empty())
        else {
            return Err(errors);
        };
        let spec = StatefulSetSpec {
            namespace,
            name,
            replicas,
            service_name,
            pod_management_policy: d.pod_management_policy.unwrap_or_default(),
            update_strategy,
            volume_claim_template,
            template,
        };
        let errors = spec.validate();
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/workloads/statefulsets", tag = "statefulsets", summary = "Create a StatefulSet: pods <name>-0 to <name>-(replicas-1) with a stable name and a volume claim each, started in order (OrderedReady) or all at once (Parallel)",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{statefulSetId, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS: the namespace has a StatefulSet of this name; REJECTED", body = ErrorBody),
        TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody), Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = StatefulSetSpec::try_from(dto).map_err(ApiError::validation)?;
    let stateful_set_id = StatefulSetId(Uuid::now_v7());
    crate::write::create(
        &s,
        &headers,
        &actor,
        "statefulSetId",
        stateful_set_id.0,
        Command::CreateStatefulSet(cmd::CreateStatefulSet {
            stateful_set_id,
            spec,
        }),
    )
    .await
}

/// A new template (whole, or just its image) and/or a new partition.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = StatefulSetPatch)]
struct PatchDto {
    template: Option<TemplateDto>,
    image: Option<String>,
    partition: Option<i64>,
    reason: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/workloads/statefulsets/{id}", tag = "statefulsets", summary = "A new template (rolled out from the highest ordinal down to the partition), a new image, and/or a new partition",
    params(StatefulSetPath, WriteHeaders), request_body = PatchDto,
    responses(
        (status = 200, description = "`{statefulSetId, changed, revision?, partition?}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected, TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody), Degraded,
    ))]
async fn update(
    State(s): State<S>,
    Actor(actor): Actor,
    StatefulSetPath(id): StatefulSetPath,
    headers: HeaderMap,
    Body(dto): Body<PatchDto>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    check_reason(&dto.reason, &mut errors);
    if dto.template.is_some() && dto.image.is_some() {
        errors.push(FieldError::new(
            "image",
            "give either template or image, not both",
        ));
    }
    let template = dto.template.and_then(|mut t| {
        t.restart_policy.get_or_insert(RestartPolicy::Always);
        t.parse("template.", &mut errors)
    });
    let image = dto
        .image
        .as_deref()
        .and_then(|i| Image::parse("image", i).map_err(|e| errors.push(e)).ok());
    let partition = dto
        .partition
        .map(|p| quantity(&mut errors, "partition", p, 0, MAX_REPLICAS as i64));
    if template.is_none() && image.is_none() && partition.is_none() && errors.is_empty() {
        errors.push(FieldError::new(
            "template",
            "give a template, an image or a partition to change",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
            stateful_set_id: StatefulSetId(id),
            template,
            image,
            partition,
        }),
    )
    .await?;
    let mut out = json!({"statefulSetId": id, "changed": !events.is_empty()});
    for e in &events {
        match &e.body {
            Event::StatefulSetRevisionCreated(r) => out["revision"] = json!(r.revision),
            Event::StatefulSetPartitionChanged(p) => out["partition"] = json!(p.to),
            _ => {}
        }
    }
    Ok(Json(out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StatefulSetScale)]
struct ScaleDto {
    replicas: i64,
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/workloads/statefulsets/{id}/scale", tag = "statefulsets", summary = "Scale (a scale-down removes the highest ordinals first)",
    params(StatefulSetPath, WriteHeaders), request_body = ScaleDto,
    responses(
        (status = 200, description = "`{statefulSetId, replicas, from}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected, TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody), Degraded,
    ))]
async fn scale(
    State(s): State<S>,
    Actor(actor): Actor,
    StatefulSetPath(id): StatefulSetPath,
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
        Command::ScaleStatefulSet(cmd::ScaleStatefulSet {
            stateful_set_id: StatefulSetId(id),
            replicas,
        }),
    )
    .await?;
    let from = events.iter().find_map(|e| match &e.body {
        Event::StatefulSetScaled(s) => Some(s.from),
        _ => None,
    });
    Ok(Json(
        json!({"statefulSetId": id, "replicas": replicas, "from": from.unwrap_or(replicas)}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StatefulSetRollback)]
struct RollbackDto {
    revision: i64,
    reason: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/workloads/statefulsets/{id}/rollback", tag = "statefulsets", summary = "Every ordinal back to a recorded revision",
    params(StatefulSetPath, WriteHeaders), request_body = RollbackDto,
    responses(
        (status = 200, description = "`{statefulSetId, revision, changed}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected, TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (`revision`: no such revision; with the fields), UNKNOWN_FIELD", body = ErrorBody), Degraded,
    ))]
async fn rollback(
    State(s): State<S>,
    Actor(actor): Actor,
    StatefulSetPath(id): StatefulSetPath,
    headers: HeaderMap,
    Body(dto): Body<RollbackDto>,
) -> Result<Json<Value>, ApiError> {
    let mut errors = Vec::new();
    let revision = quantity(&mut errors, "revision", dto.revision, 1, u32::MAX as i64) as u64;
    check_reason(&dto.reason, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let reason = dto
        .reason
        .clone()
        .unwrap_or_else(|| format!("rollback to revision {revision} requested by {actor}"));
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::RollbackStatefulSet(cmd::RollbackStatefulSet {
            stateful_set_id: StatefulSetId(id),
            revision,
            automatic: false,
            update: None,
            reason,
        }),
    )
    .await?;
    Ok(Json(
        json!({"statefulSetId": id, "revision": revision, "changed": !events.is_empty()}),
    ))
}

/// `POST /api/v1/workloads/statefulsets/undelete {namespace, name}`: the last
/// deleted set of that name comes back as it was (same id, spec, revisions
/// and volume claims); the controller then creates its pods, which find
/// their volumes' data.
#[utoipa::path(post, path = "/api/v1/workloads/statefulsets/undelete", tag = "statefulsets",
    summary = "Restore the last deleted StatefulSet of this name (same id, spec, revisions and volume claims)",
    params(WriteHeaders), request_body = UndeleteDto,
    responses(
        (status = 201, description = "`{statefulSetId, revision, replicas, status: UNDELETED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no StatefulSet of this name was deleted", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS: the name is in use; NOT_RESTORED; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn undelete(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<UndeleteDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    super::template::undelete(
        &s,
        &headers,
        &actor,
        dto,
        |namespace, name| {
            Command::UndeleteStatefulSet(cmd::UndeleteStatefulSet { namespace, name })
        },
        |e| match e {
            Event::StatefulSetUndeleted(u) => Some(json!({"statefulSetId": u.stateful_set_id,
                "revision": u.revision, "replicas": u.spec.replicas, "status": "UNDELETED"})),
            _ => None,
        },
        "statefulset",
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/workloads/statefulsets/{id}", tag = "statefulsets", summary = "Delete the set and its pods, highest ordinal first (the volumes stay)",
    params(StatefulSetPath, WriteHeaders),
    responses(
        (status = 200, description = "`{statefulSetId, status: DELETED}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    StatefulSetPath(id): StatefulSetPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteStatefulSet(cmd::DeleteStatefulSet {
            stateful_set_id: StatefulSetId(id),
        }),
    )
    .await?;
    Ok(Json(json!({"statefulSetId": id, "status": "DELETED"})))
}

/// One set as JSON, built in SQL: its spec, and its status from its live pods.
const SET_SELECT: &str = "SELECT jsonb_build_object(
       'statefulSetId', w.id, 'namespace', w.namespace, 'name', w.name, 'replicas', w.desired_replicas,
       'spec', w.spec, 'createdAt', w.created_at, 'updatedAt', w.updated_at,
       'status', jsonb_build_object(
         'updateRevision', w.revision, 'currentRevision', w.current_revision,
         'replicas', count(p.id), 'readyReplicas', count(p.id) FILTER (WHERE p.ready),
         'updatedReplicas', count(p.id) FILTER (WHERE p.revision = w.revision),
         'pods', COALESCE(jsonb_agg(jsonb_build_object(
             'ordinal', p.ordinal, 'name', p.name, 'podId', p.id, 'phase', p.phase, 'ready', p.ready,
             'revision', p.revision, 'nodeId', p.node_id, 'address', p.address, 'volumeClaim', p.volume_claim,
             'restarts', p.restarts) ORDER BY p.ordinal) FILTER (WHERE p.id IS NOT NULL), '[]'::jsonb)))
     FROM workload_def w
     LEFT JOIN pod_instance p ON p.workload_id = w.id AND p.phase IN ('PENDING', 'RUNNING')
    WHERE w.kind = 'StatefulSet'";

#[utoipa::path(get, path = "/api/v1/workloads/statefulsets/{id}", tag = "statefulsets", summary = "Read a StatefulSet and its pods by ordinal",
    params(StatefulSetPath, AsOfQuery),
    responses(
        (status = 200, description = "The set, as in the list", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    StatefulSetPath(id): StatefulSetPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<Value> =
        sqlx::query_scalar(&format!("{SET_SELECT} AND w.id = $1 GROUP BY w.id"))
            .bind(id)
            .fetch_optional(&pool)
            .await?;
    row.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("statefulset {id} not found")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    namespace: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workloads/statefulsets", tag = "statefulsets", summary = "List StatefulSets",
    params(ListQuery),
    responses(
        (status = 200, description = "`{items: [{statefulSetId, namespace, name, replicas, spec, createdAt, updatedAt, status: {updateRevision, currentRevision, replicas, readyReplicas, updatedReplicas, pods: [{ordinal, name, podId, phase, ready, revision, nodeId, address, volumeClaim, restarts}]}}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Value> = sqlx::query_scalar(&format!(
        "{SET_SELECT} AND ($1::text IS NULL OR w.namespace = $1) GROUP BY w.id ORDER BY w.namespace, w.name"
    ))
    .bind(q.namespace)
    .fetch_all(&pool)
    .await?;
    Ok(Json(json!({"items": rows})))
}

#[utoipa::path(get, path = "/api/v1/workloads/statefulsets/{id}/revisions", tag = "statefulsets", summary = "Every template ever recorded",
    params(StatefulSetPath),
    responses(
        (status = 200, description = "`{items: [{revision, image, template, createdAt, actor}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn revisions(
    State(s): State<S>,
    _: Actor,
    StatefulSetPath(id): StatefulSetPath,
) -> Result<Json<Value>, ApiError> {
    let rows: Vec<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('revision', revision, 'image', image, 'template', spec,
                'createdAt', created_at, 'actor', actor)
           FROM deployment_revision WHERE workload_id = $1 ORDER BY revision",
    )
    .bind(id)
    .fetch_all(&s.pool)
    .await?;
    Ok(Json(json!({"items": rows})))
}

#[utoipa::path(get, path = "/api/v1/workloads/statefulsets/{id}/pods", tag = "statefulsets", summary = "The set's pods",
    params(StatefulSetPath, AsOfQuery),
    responses(
        (status = 200, description = "`{items: [pod]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn pods(
    State(s): State<S>,
    _: Actor,
    StatefulSetPath(id): StatefulSetPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let items = super::pods::list(&pool, "p.workload_id = $1", id).await?;
    Ok(Json(json!({"items": items})))
}
