//! `/api/v1/workloads/jobs`: create, read, list, delete, pods.

use domain::command as cmd;
use domain::command::Command;
use domain::cronjob::JobTemplate;
use domain::ids::JobId;
use domain::job::spec::MAX_COMPLETIONS;
use domain::job::{CompletionMode, JobSpec, PodFailurePolicyRule};
use domain::model::RestartPolicy;
use domain::names::{FieldError, Name};

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
use super::template::{TemplateDto, UndeleteDto, quantity};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, JobPath};
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
        .routes(routes!(read, delete))
        .routes(routes!(pods))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = JobCreate)]
struct CreateDto {
    namespace: String,
    name: String,
    completions: Option<i64>,
    parallelism: Option<i64>,
    backoff_limit: Option<i64>,
    completion_mode: Option<CompletionMode>,
    active_deadline_seconds: Option<i64>,
    #[serde(default)]
    pod_failure_policy: Vec<PodFailurePolicyRule>,
    ttl_seconds_after_finished: Option<i64>,
    template: TemplateDto,
}

/// A job's fields but its name: a job's body, and a cron job's `jobTemplate`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = JobTemplate)]
pub(super) struct JobTemplateDto {
    completions: Option<i64>,
    parallelism: Option<i64>,
    backoff_limit: Option<i64>,
    completion_mode: Option<CompletionMode>,
    active_deadline_seconds: Option<i64>,
    #[serde(default)]
    pod_failure_policy: Vec<PodFailurePolicyRule>,
    ttl_seconds_after_finished: Option<i64>,
    template: TemplateDto,
}

impl JobTemplateDto {
    /// The template, or `None` with the problems on `errors` (paths under `prefix`).
    pub(super) fn parse(self, prefix: &str, errors: &mut Vec<FieldError>) -> Option<JobTemplate> {
        let before = errors.len();
        let mut local = Vec::new();
        let max = MAX_COMPLETIONS as i64;
        let completions = quantity(
            &mut local,
            "completions",
            self.completions.unwrap_or(1),
            1,
            max,
        );
        let parallelism = quantity(
            &mut local,
            "parallelism",
            self.parallelism.unwrap_or(1),
            1,
            max,
        );
        let backoff_limit = quantity(
            &mut local,
            "backoffLimit",
            self.backoff_limit.unwrap_or(6),
            0,
            10_000,
        );
        let deadline = self
            .active_deadline_seconds
            .map(|v| quantity(&mut local, "activeDeadlineSeconds", v, 1, i32::MAX as i64) as u64);
        let ttl = self
            .ttl_seconds_after_finished
            .map(|v| quantity(&mut local, "ttlSecondsAfterFinished", v, 0, i32::MAX as i64) as u64);
        let mut t = self.template;
        t.restart_policy.get_or_insert(RestartPolicy::Never);
        let template = t.parse("template.", &mut local);
        errors.extend(local.into_iter().map(|mut e| {
            e.field = format!("{prefix}{}", e.field);
            e
        }));
        if errors.len() > before {
            return None;
        }
        Some(JobTemplate {
            completions,
            parallelism,
            backoff_limit,
            completion_mode: self.completion_mode.unwrap_or_default(),
            active_deadline_seconds: deadline,
            pod_failure_policy: self.pod_failure_policy,
            ttl_seconds_after_finished: ttl,
            template: template?,
        })
    }
}

impl TryFrom<CreateDto> for JobSpec {
    type Error = Vec<FieldError>;
    fn try_from(d: CreateDto) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let namespace = Name::parse("namespace", &d.namespace)
            .map_err(|e| errors.push(e))
            .ok();
        let name = Name::parse("name", &d.name)
            .map_err(|e| errors.push(e))
            .ok();
        // A pod is named `<job>-<ordinal>`: leave room for the suffix.
        if d.name.len() > 52 {
            errors.push(FieldError::new(
                "name",
                "must be at most 52 characters (its pods are named <name>-<n>)",
            ));
        }
        let template = JobTemplateDto {
            completions: d.completions,
            parallelism: d.parallelism,
            backoff_limit: d.backoff_limit,
            completion_mode: d.completion_mode,
            active_deadline_seconds: d.active_deadline_seconds,
            pod_failure_policy: d.pod_failure_policy,
            ttl_seconds_after_finished: d.ttl_seconds_after_finished,
            template: d.template,
        }
        .parse("", &mut errors);
        let (Some(namespace), Some(name), Some(template), true) =
            (namespace, name, template, errors.is_empty())
        else {
            return Err(errors);
        };
        let spec = template.spec(namespace, name);
        let errors = spec.validate();
        if errors.is_empty() {
            Ok(spec)
        } else {
            Err(errors)
        }
    }
}

#[utoipa::path(post, path = "/api/v1/workloads/jobs", tag = "jobs", summary = "Create a job: `completions` pods that exit 0, `parallelism` at a time, failed ones retried after an exponential back-off up to `backoffLimit`",
    params(WriteHeaders), request_body = CreateDto,
    responses(
        (status = 201, description = "`{jobId, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS: the namespace has a job of this name; REJECTED", body = ErrorBody),
        TooLarge, NotJson, (status = 422, description = "VALIDATION_FAILED (with the fields), UNKNOWN_FIELD, INSUFFICIENT_CLUSTER_CAPACITY", body = ErrorBody), Degraded,
    ))]
async fn create(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<CreateDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let spec = JobSpec::try_from(dto).map_err(ApiError::validation)?;
    let job_id = JobId(Uuid::now_v7());
    crate::write::create(
        &s,
        &headers,
        &actor,
        "jobId",
        job_id.0,
        Command::CreateJob(cmd::CreateJob { job_id, spec }),
    )
    .await
}

#[utoipa::path(delete, path = "/api/v1/workloads/jobs/{id}", tag = "jobs", summary = "Delete a job and its pods (its run record and events stay)",
    params(JobPath, WriteHeaders),
    responses(
        (status = 200, description = "`{jobId, status: DELETED}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn delete(
    State(s): State<S>,
    Actor(actor): Actor,
    JobPath(id): JobPath,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteJob(cmd::DeleteJob { job_id: JobId(id) }),
    )
    .await?;
    Ok(Json(json!({"jobId": id, "status": "DELETED"})))
}

/// One job as JSON, built in SQL (its status from `job_run` and its pods).
const JOB_SELECT: &str = "SELECT jsonb_build_object(
       'jobId', j.job_id, 'namespace', j.namespace, 'name', j.name, 'spec', w.spec,
       'completions', j.completions, 'parallelism', j.parallelism, 'completionMode', j.completion_mode,
       'status', jsonb_build_object(
         'startedAt', j.started_at, 'endedAt', j.ended_at, 'outcome', j.outcome,
         'failureReason', j.failure_reason, 'message', j.message,
         'attempts', j.attempts, 'succeeded', j.succeeded, 'failed', j.failed,
         'active', (SELECT count(*) FROM pod_instance p WHERE p.workload_id = j.job_id AND p.phase IN ('PENDING','RUNNING')),
         'succeededPods', (SELECT count(*) FROM pod_instance p WHERE p.workload_id = j.job_id AND p.phase = 'SUCCEEDED'),
         'failedPods', (SELECT count(*) FROM pod_instance p WHERE p.workload_id = j.job_id AND p.phase = 'FAILED')))
     FROM job_run j JOIN workload_def w ON w.id = j.job_id AND w.kind = 'Job'";

#[utoipa::path(get, path = "/api/v1/workloads/jobs/{id}", tag = "jobs", summary = "Read a job and its progress",
    params(JobPath, AsOfQuery),
    responses(
        (status = 200, description = "The job, as in the list", body = Value),
        BadRead, Unauthenticated, NotFound, ReadDegraded,
    ))]
async fn read(
    State(s): State<S>,
    _: Actor,
    JobPath(id): JobPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let row: Option<Value> = sqlx::query_scalar(&format!("{JOB_SELECT} WHERE j.job_id = $1"))
        .bind(id)
        .fetch_optional(&pool)
        .await?;
    row.map(Json)
        .ok_or_else(|| ApiError::not_found(format!("job {id} not found")))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    namespace: Option<String>,
    #[serde(rename = "asOf")]
    as_of: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/workloads/jobs", tag = "jobs", summary = "List jobs",
    params(ListQuery),
    responses(
        (status = 200, description = "`{items: [{jobId, namespace, name, spec, completions, parallelism, completionMode, status: {startedAt, endedAt, outcome, failureReason, message, attempts, succeeded, failed, active, succeededPods, failedPods}}]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let rows: Vec<Value> = sqlx::query_scalar(&format!(
        "{JOB_SELECT} WHERE ($1::text IS NULL OR j.namespace = $1) ORDER BY j.namespace, j.name"
    ))
    .bind(q.namespace)
    .fetch_all(&pool)
    .await?;
    Ok(Json(json!({"items": rows})))
}

#[utoipa::path(get, path = "/api/v1/workloads/jobs/{id}/pods", tag = "jobs", summary = "The job's pods (every attempt still kept)",
    params(JobPath, AsOfQuery),
    responses(
        (status = 200, description = "`{items: [pod]}`", body = Value),
        BadRead, Unauthenticated, ReadDegraded,
    ))]
async fn pods(
    State(s): State<S>,
    _: Actor,
    JobPath(id): JobPath,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Json<Value>, ApiError> {
    let pool = read_pool(&s, q.as_of.as_deref()).await?;
    let items = super::pods::list(&pool, "p.workload_id = $1", id).await?;
    Ok(Json(json!({"items": items})))
}

/// `POST /api/v1/workloads/jobs/undelete {namespace, name}`: the last deleted
/// job of that name comes back with its id, spec and counts; one deleted
/// while running goes on (a cron job's runs are not kept for this).
#[utoipa::path(post, path = "/api/v1/workloads/jobs/undelete", tag = "jobs",
    summary = "Restore the last deleted job of this name (same id, spec and counts)",
    params(WriteHeaders), request_body = UndeleteDto,
    responses(
        (status = 201, description = "`{jobId, status: UNDELETED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no job of this name was deleted", body = ErrorBody),
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
        |namespace, name| Command::UndeleteJob(cmd::UndeleteJob { namespace, name }),
        |e| match e {
            domain::Event::JobUndeleted(u) => {
                Some(json!({"jobId": u.job_id, "status": "UNDELETED"}))
            }
            _ => None,
        },
        "job",
    )
    .await
}
