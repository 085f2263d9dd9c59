//! The job and cron job projection: `job_run` (one row per job ever
//! created) and the jobs' and cron jobs' rows of `workload_def`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

/// A job change, in log order (jobs are few next to their pods).
enum JobStmt {
    Created {
        id: Uuid,
        spec: Value,
        namespace: String,
        name: String,
        completions: i32,
        parallelism: i32,
        mode: &'static str,
        image: String,
        resources: domain::model::Resources,
        cron_job: Option<Uuid>,
        scheduled_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
        /// An undelete: the job's `job_run` row is there already.
        undeleted: bool,
    },
    CronCreated {
        id: Uuid,
        spec: Value,
        namespace: String,
        name: String,
        image: String,
        resources: domain::model::Resources,
        at: DateTime<Utc>,
    },
    CronSuspended {
        id: Uuid,
        suspend: bool,
        at: DateTime<Utc>,
    },
    Ended {
        id: Uuid,
        outcome: &'static str,
        reason: Option<&'static str>,
        message: Option<String>,
        succeeded: i32,
        failed: i32,
        at: DateTime<Utc>,
    },
    Deleted {
        id: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Default)]
pub(crate) struct Jobs {
    stmts: Vec<JobStmt>,
    /// Pods created per job in this batch.
    attempts: HashMap<Uuid, i32>,
    /// A cron run's time, from its `CronJobRunStarted` to the `JobCreated` after it.
    scheduled: HashMap<Uuid, DateTime<Utc>>,
}

impl Projection for Jobs {
    const TABLES: &'static [Table] = &[Table {
        name: "job_run",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY job_id), '')) FROM job_run t",
        snapshot: true,
    }];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        match &env.body {
            Event::JobUndeleted(ev::JobUndeleted { job_id, spec }) => {
                self.stmts.push(JobStmt::Created {
                    id: job_id.0,
                    spec: serde_json::to_value(spec).unwrap_or(Value::Null),
                    namespace: spec.namespace.to_string(),
                    name: spec.name.to_string(),
                    completions: spec.completions as i32,
                    parallelism: spec.parallelism as i32,
                    mode: "",
                    image: spec.template.image.as_str().to_string(),
                    resources: spec.template.resources,
                    cron_job: None,
                    scheduled_at: None,
                    at,
                    undeleted: true,
                })
            }
            Event::JobCreated(ev::JobCreated {
                job_id,
                spec,
                cron_job_id,
            }) => self.stmts.push(JobStmt::Created {
                id: job_id.0,
                spec: serde_json::to_value(spec).unwrap_or(Value::Null),
                namespace: spec.namespace.to_string(),
                name: spec.name.to_string(),
                completions: spec.completions as i32,
                parallelism: spec.parallelism as i32,
                mode: match spec.completion_mode {
                    domain::job::CompletionMode::NonIndexed => "NonIndexed",
                    domain::job::CompletionMode::Indexed => "Indexed",
                },
                image: spec.template.image.as_str().to_string(),
                resources: spec.template.resources,
                cron_job: cron_job_id.map(|c| c.0),
                scheduled_at: self.scheduled.remove(&job_id.0),
                at,
                undeleted: false,
            }),
            Event::CronJobCreated(ev::CronJobCreated { cron_job_id, spec })
            | Event::CronJobUndeleted(ev::CronJobUndeleted { cron_job_id, spec }) => {
                self.stmts.push(JobStmt::CronCreated {
                    id: cron_job_id.0,
                    spec: serde_json::to_value(spec).unwrap_or(Value::Null),
                    namespace: spec.namespace.to_string(),
                    name: spec.name.to_string(),
                    image: spec.job_template.template.image.as_str().to_string(),
                    resources: spec.job_template.template.resources,
                    at,
                })
            }
            Event::CronJobSuspended(ev::CronJobSuspended {
                cron_job_id,
                suspend,
            }) => self.stmts.push(JobStmt::CronSuspended {
                id: cron_job_id.0,
                suspend: *suspend,
                at,
            }),
            Event::CronJobDeleted(ev::CronJobDeleted { cron_job_id, .. }) => {
                self.stmts.push(JobStmt::Deleted {
                    id: cron_job_id.0,
                    at,
                })
            }
            Event::CronJobRunStarted(ev::CronJobRunStarted {
                job_id,
                scheduled_at_ms,
                ..
            }) => {
                let t = DateTime::<Utc>::from_timestamp_millis(*scheduled_at_ms).unwrap_or(at);
                self.scheduled.insert(job_id.0, t);
            }
            Event::JobCompleted(ev::JobCompleted {
                job_id,
                succeeded,
                failed,
            }) => self.stmts.push(JobStmt::Ended {
                id: job_id.0,
                outcome: "Complete",
                reason: None,
                message: None,
                succeeded: *succeeded as i32,
                failed: *failed as i32,
                at,
            }),
            Event::JobFailed(ev::JobFailed {
                job_id,
                reason,
                message,
                succeeded,
                failed,
            }) => self.stmts.push(JobStmt::Ended {
                id: job_id.0,
                outcome: "Failed",
                reason: Some(reason.into()),
                message: Some(message.clone()),
                succeeded: *succeeded as i32,
                failed: *failed as i32,
                at,
            }),
            Event::JobDeleted(ev::JobDeleted { job_id, .. }) => {
                self.stmts.push(JobStmt::Deleted { id: job_id.0, at })
            }
            Event::PodCreated(ev::PodCreated {
                owner: domain::state::Owner::Job(job),
                ..
            }) => *self.attempts.entry(job.0).or_default() += 1,
            _ => {}
        }
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for st in &self.stmts {
            match st {
                JobStmt::Created {
                    id,
                    spec,
                    namespace,
                    name,
                    completions,
                    parallelism,
                    mode,
                    image,
                    resources,
                    cron_job,
                    scheduled_at,
                    at,
                    undeleted,
                } => {
                    sqlx::query(
                        "INSERT INTO workload_def (id, namespace, name, kind, desired_replicas, image, cpu_request_milli,
                           cpu_limit_milli, mem_request_mb, mem_limit_mb, strategy, spec, revision, created_at, updated_at)
                         VALUES ($1, $2, $3, 'Job', $4, $5, $6, $7, $8, $9, '{}'::jsonb, $10, 1, $11, $11)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(namespace)
                    .bind(name)
                    .bind(parallelism)
                    .bind(image)
                    .bind(resources.cpu_request_milli as i32)
                    .bind(resources.cpu_limit_milli as i32)
                    .bind(resources.mem_request_mb as i32)
                    .bind(resources.mem_limit_mb as i32)
                    .bind(spec)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                    if *undeleted {
                        sqlx::query("UPDATE job_run SET deleted_at = NULL WHERE job_id = $1")
                            .bind(id)
                            .execute(&mut **tx)
                            .await?;
                        continue;
                    }
                    sqlx::query(
                        "INSERT INTO job_run (job_id, namespace, name, completions, parallelism, completion_mode,
                           started_at, outcome, cron_job_id, scheduled_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'Running', $8, $9) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(namespace)
                    .bind(name)
                    .bind(completions)
                    .bind(parallelism)
                    .bind(mode)
                    .bind(at)
                    .bind(cron_job)
                    .bind(scheduled_at)
                    .execute(&mut **tx)
                    .await?;
                }
                JobStmt::CronCreated {
                    id,
                    spec,
                    namespace,
                    name,
                    image,
                    resources,
                    at,
                } => {
                    sqlx::query(
                        "INSERT INTO workload_def (id, namespace, name, kind, desired_replicas, image, cpu_request_milli,
                           cpu_limit_milli, mem_request_mb, mem_limit_mb, strategy, spec, revision, created_at, updated_at)
                         VALUES ($1, $2, $3, 'CronJob', 0, $4, $5, $6, $7, $8, '{}'::jsonb, $9, 1, $10, $10)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(namespace)
                    .bind(name)
                    .bind(image)
                    .bind(resources.cpu_request_milli as i32)
                    .bind(resources.cpu_limit_milli as i32)
                    .bind(resources.mem_request_mb as i32)
                    .bind(resources.mem_limit_mb as i32)
                    .bind(spec)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                JobStmt::CronSuspended { id, suspend, at } => {
                    sqlx::query(
                        "UPDATE workload_def SET spec = jsonb_set(spec, '{suspend}', to_jsonb($2::bool)), updated_at = $3
                          WHERE id = $1",
                    )
                    .bind(id)
                    .bind(suspend)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }

                JobStmt::Ended {
                    id,
                    outcome,
                    reason,
                    message,
                    succeeded,
                    failed,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE job_run SET ended_at = $2, outcome = $3, failure_reason = $4, message = $5,
                           succeeded = $6, failed = $7 WHERE job_id = $1",
                    )
                    .bind(id)
                    .bind(at)
                    .bind(outcome)
                    .bind(reason)
                    .bind(message)
                    .bind(succeeded)
                    .bind(failed)
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query("UPDATE workload_def SET updated_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                }
                JobStmt::Deleted { id, at } => {
                    sqlx::query("DELETE FROM workload_def WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    sqlx::query("UPDATE job_run SET deleted_at = $2 WHERE job_id = $1")
                        .bind(id)
                        .bind(at)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        if !self.attempts.is_empty() {
            let rows: Vec<(&Uuid, &i32)> = self.attempts.iter().collect();
            sqlx::query(
                "UPDATE job_run j SET attempts = j.attempts + u.n
                 FROM UNNEST($1::uuid[], $2::int4[]) AS u(id, n) WHERE j.job_id = u.id",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| *r.1).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}
