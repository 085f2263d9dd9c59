//! `/api/v1/workloads/cronjobs`: create, read, list, suspend/resume, delete, jobs.

use domain::command as cmd;
use domain::command::Command;
use domain::cronjob::{ConcurrencyPolicy, CronJobSpec};
use domain::ids::CronJobId;
use domain::names::{FieldError, Name};

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::jobs::JobTemplateDto;
use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotFound, NotJson, ReadDegraded, Rejected,
    TooLarge, Unauthenticated, WriteHeaders,
};
use super::template::{UndeleteDto, quantity};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, CronJobPath};
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
        .routes(routes!(read, delete, patch))
        .routes(routes!(jobs))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = CronJobCreate)]
struct CreateDto {
    namespace: String,
    name: String,
    schedule: String,
    time_zone: Option<String>,
    concurrency_policy: Option<ConcurrencyPolicy>,
    starting_deadline_seconds: Option<i64>,
    #[serde(default)]
    suspend: bool,
    successful_jobs_history_limit: Option<i64>,
    failed_jobs_history_limit: Option<i64>,
    job_template: JobTemplateDto,
}

impl TryFrom<CreateDto> for CronJobSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: CreateDto) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let namespace = Name::parse("namespace", &d.namespace)
            .map_err(|e| errors.push(e))
            .ok();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        let deadline = d.starting_deadline_seconds.map(|v| {
            quantity(
                &mut errors,
                "startingDeadlineSeconds",
                v,
                1,
                i32::MAX as i64,
            ) as u64
        });
        let ok_limit = quantity(
            &mut errors,
            "successfulJobsHistoryLimit",
            d.successful_jobs_history_limit.unwrap_or(3),
            0,
            1000,
        );
        let failed_limit = quantity(
            &mut errors,
            "failedJobsHistoryLimit",
            d.failed_jobs_history_limit.unwrap_or(1),
            0,
            1000,
        );
        let template = d.job_template.parse("jobTemplate.", &mut errors);
        let (Some(namespace), Some(name), Some(job_template), true) =
            (namespace, name, template, errors.is_empty())
        else {
            return Err(errors);
        };
        let spec = CronJobSpec {
            namespace,
            name,
            schedule: d.schedule,
            time_zone: d.time_zone.unwrap_or_else(|| "UTC".into()),
            concurrency_policy: d.concurrency_policy.unwrap_or_default(),
            starting_deadline_seconds: deadline,
            suspend: d.suspend,
            successful_jobs_history_limit: ok_limit,
            failed_jobs_history_limit: failed_limit,
            job_template,
        };
        let errors = spec.validate();
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/workloads/cronjobs", tag = "cronjobs", summary = "Create a cron job: a job template run on a cron schedule (5 fields, or 6 to 7 with seconds first) in a time zone",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{cronJobId, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS: the namespace has a cron job of this name; REJECTED", body = ErrorBody),
        TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody), Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    let spec = CronJobSpec::try_from(dto).map_err(ApiError::validation)?;
    let cron_job_id = CronJobId(Uuid::now_v7());
    crate::write::create(
        &s,
        &headers,
        &actor,
        "cronJobId",
        cron_job_id.0,
        Command::CreateCronJob(cmd::CreateCronJob { cron_job_id, spec }),
    )
    .await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = CronJobPatch)]
struct PatchDto {
    suspend: bool,
    reason: Option<String>,
}

/// `PATCH {suspend}`: stop or resume scheduling runs.
#[utoipa::path(patch, path = "/api/v1/workloads/cronjobs/{id}", tag = "cronjobs", summary = "Suspend or resume scheduling runs",
    params(CronJobPath, WriteHeaders), request_body = PatchDto,
    responses(
        (status = 200, description = "`{cronJobId, status: SUSPENDED | RESUMED | UNCHANGED}`", body = Value),
        BadBody, Unauthenticated, NotFound, Rejected, TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn patch(
    State(s): State<S>,
    Actor(actor): Actor,
    CronJobPath(id): CronJobPath,
    headers: HeaderMap,
    Body(dto): Body<PatchDto>,
) -> Result<Json<Value>, ApiError> {
    let events = execute(
        &s,
        &headers,
        &actor,
        dto.reason,
        Command::SuspendCronJob(cmd::SuspendCronJob {
            cron_job_id: CronJobId(id),
            suspend: dto.suspend,
        }),
    )
    .await?;
    let status = match (events.is_empty(), dto.suspend) {
        (true, _) => "UNCHANGED",
        (false, true) => "SUSPENDED",
        (false, false) => "RESUMED",
    };
    Ok(Json(json!({"cronJobId": id, "status": status})))
}

#[utoipa::path(delete, path = "/api/v1/workloads/cronjobs/{id}", tag = "cronjobs", summary = "Delete a cron job and the jobs it keeps",
    params(CronJobPath, WriteHeaders),
    responses(
        (status = 200, description = "`{cronJobId, status: DELETED}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    CronJobPath(id): CronJobPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteCronJob(cmd::DeleteCronJob {
            cron_job_id: CronJobId(id),
        }),
    )
    .await?;
    Ok(Json(json!({"cronJobId": id, "status": "DELETED"})))
}

/// One cron job as JSON, with its last runs, built in SQL.
const CRON_SELECT: &str = "SELECT jsonb_build_object(
       'cronJobId', w.id, 'namespace', w.namespace, 'name', w.name, 'spec', w.spec,
       'schedule', w.spec->>'schedule', 'suspend', (w.spec->>'suspend')::bool,
       'createdAt', w.created_at, 'updatedAt', w.updated_at,
       'status', jsonb_build_object(
         'active', (SELECT count(*) FROM job_run j WHERE j.cron_job_id = w.id AND j.outcome = 'Running' AND j.deleted_at IS NULL),
         'lastScheduleTime', (SELECT max(scheduled_at) FROM job_run j WHERE j.cron_job_id = w.id),
         'lastSuccessfulTime', (SELECT max(ended_at) FROM job_run j WHERE j.cron_job_id = w.id AND j.outcome = 'Complete'),
         'runs', (SELECT count(*) FROM job_run j WHERE j.cron_job_id = w.id),
         'skipped', (SELECT count(*) FROM event_log e WHERE e.aggregate_id = w.id AND e.event_type = 'CronJobRunSkipped')))
     FROM workload_def w WHERE w.kind = 'CronJob'";

#[utoipa::path(get, path = "/api/v1/workloads/cronjobs/{id}", tag = "cronjobs", summary = "Read a cron job",
    params(CronJobPath, AsOfQuery),
    responses(
        (status = 200, description = "The cron job, as in the list", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    CronJobPath(id): CronJobPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<Value> = sqlx::query_scalar(&format!("{CRON_SELECT} AND w.id = $1"))
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    row.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("cron job {id} not found")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    namespace: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workloads/cronjobs", tag = "cronjobs", summary = "List cron jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "`{items: [{cronJobId, namespace, name, spec, schedule, suspend, createdAt, updatedAt, status: {active, lastScheduleTime, lastSuccessfulTime, runs, skipped}}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Value> = sqlx::query_scalar(&format!(
        "{CRON_SELECT} AND ($1::text IS NULL OR w.namespace = $1) ORDER BY w.namespace, w.name"
    ))
    .bind(q.namespace)
    .fetch_all(&pool)
    .await?;
    Ok(Json(json!({ "items": rows })))
}

/// Every run ever made (`job_run`, deleted jobs included), newest first.
#[utoipa::path(get, path = "/api/v1/workloads/cronjobs/{id}/jobs", tag = "cronjobs", summary = "Every run ever made, newest first (deleted jobs included)",
    params(CronJobPath, AsOfQuery),
    responses(
        (status = 200, description = "`{items: [{jobId, name, scheduledAt, startedAt, endedAt, outcome, failureReason, attempts, succeeded, failed, deletedAt}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn jobs(
    State(s): State<S>,
    _: Actor,
    CronJobPath(id): CronJobPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Value> = sqlx::query_scalar(
        "SELECT jsonb_build_object('jobId', job_id, 'name', name, 'scheduledAt', scheduled_at,
                'startedAt', started_at, 'endedAt', ended_at, 'outcome', outcome, 'failureReason', failure_reason,
                'attempts', attempts, 'succeeded', succeeded, 'failed', failed, 'deletedAt', deleted_at)
           FROM job_run WHERE cron_job_id = $1 ORDER BY started_at DESC",
    )
    .bind(id)
    .fetch_all(&pool)
    .await?;
    Ok(Json(json!({ "items": rows })))
}

/// `POST /api/v1/workloads/cronjobs/undelete {namespace, name}`: the last
/// deleted cron job of that name comes back with its id and spec, and runs
/// from its last handled run on (at most one missed run is made up).
#[utoipa::path(post, path = "/api/v1/workloads/cronjobs/undelete", tag = "cronjobs",
    summary = "Restore the last deleted cron job of this name (same id and spec; its jobs stay deleted)",
    params(WriteHeaders), request_body = UndeleteDto,
    responses(
        (status = 201, description = "`{cronJobId, status: UNDELETED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no cron job of this name was deleted", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS: the name is in use; NOT_RESTORED; REJECTED", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn undelete(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<UndeleteDto>,
) -> Result<(axum::http::StatusCode, Json<Value>), ApiError> {
    super::template::undelete(
        &s,
        &headers,
        &actor,
        dto,
        |namespace, name| Command::UndeleteCronJob(cmd::UndeleteCronJob { namespace, name }),
        |e| match e {
            domain::Event::CronJobUndeleted(u) => {
                Some(json!({"cronJobId": u.cron_job_id, "status": "UNDELETED"}))
            }
            _ => None,
        },
        "cron job",
    )
    .await
}
