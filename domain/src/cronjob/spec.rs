//! What a cron job declares, its schedule, and its checks.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::job::{CompletionMode, JobSpec, PodFailurePolicyRule};
use crate::names::{FieldError, Name};
use crate::pod::template::PodTemplate;

/// What to do when a run is due while an earlier one is still active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ConcurrencyPolicy {
    /// Run it anyway.
    #[default]
    Allow,
    /// Skip it (recorded, with the job that is still running).
    Forbid,
    /// Delete the running job and start the new one.
    Replace,
}

/// The job each run creates (a job's spec without its name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobTemplate {
    pub completions: u32,
    pub parallelism: u32,
    pub backoff_limit: u32,
    #[serde(default)]
    pub completion_mode: CompletionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_failure_policy: Vec<PodFailurePolicyRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u64>,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSpec {
    pub namespace: Name,
    pub name: Name,
    /// Cron syntax: 5 fields (minute resolution, as Kubernetes) or 6–7
    /// (seconds first, year last), or `@hourly`, `@daily`, ….
    pub schedule: String,
    /// An IANA time zone (`Europe/Paris`); the schedule is read in it.
    pub time_zone: String,
    #[serde(default)]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run not started within this long of its time is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline_seconds: Option<u64>,
    #[serde(default)]
    pub suspend: bool,
    pub successful_jobs_history_limit: u32,
    pub failed_jobs_history_limit: u32,
    pub job_template: JobTemplate,
}

/// The longest cron job name: its jobs are `<name>-<unix seconds>` and
/// their pods `<job>-<n>`.
pub const MAX_NAME: usize = 40;

/// A schedule in any of the accepted forms.
pub fn parse_schedule(expr: &str) -> Result<cron::Schedule, String> {
    let e = expr.trim();
    let fields = e.split_whitespace().count();
    let full = if !e.starts_with('@') && fields == 5 {
        format!("0 {e}")
    } else {
        e.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|err| format!("'{expr}' is not a cron schedule: {err}"))
}

pub fn parse_time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(name).map_err(|_| format!("'{name}' is not an IANA time zone"))
}

impl CronJobSpec {
    /// The latest time the schedule fires in `(after_ms, now_ms]`, if any:
    /// however many runs were missed, at most one is made up (as Kubernetes).
    pub fn latest_due(&self, after_ms: i64, now_ms: i64) -> Option<i64> {
        let schedule = parse_schedule(&self.schedule).ok()?;
        let tz = parse_time_zone(&self.time_zone).ok()?;
        // A day back at most: older runs are long past any catch-up.
        let from = after_ms.max(now_ms - 86_400_000);
        let start =
            tz.from_utc_datetime(&DateTime::<Utc>::from_timestamp_millis(from)?.naive_utc());
        schedule
            .after(&start)
            .map(|t| t.timestamp_millis())
            .take_while(|t| *t <= now_ms)
            .last()
    }

    /// The job a run creates, named `name`.
    pub fn job_spec(&self, name: Name) -> JobSpec {
        self.job_template.spec(self.namespace.clone(), name)
    }

    /// Every check of the spec alone, with field paths.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if self.name.as_str().len() > MAX_NAME {
            errors.push(FieldError::new(
                "name",
                format!("must be at most {MAX_NAME} characters (its jobs are named <name>-<unix seconds>)"),
            ));
        }
        if let Err(e) = parse_schedule(&self.schedule) {
            errors.push(FieldError::new("schedule", e));
        }
        if let Err(e) = parse_time_zone(&self.time_zone) {
            errors.push(FieldError::new("timeZone", e));
        }
        if self.starting_deadline_seconds == Some(0) {
            errors.push(FieldError::new(
                "startingDeadlineSeconds",
                "must be greater than 0",
            ));
        }
        // The job template's own checks, under `jobTemplate`.
        let probe = self.job_spec(self.name.clone());
        errors.extend(probe.validate().into_iter().map(|mut e| {
            e.field = format!("jobTemplate.{}", e.field);
            e
        }));
        errors
    }
}

impl JobTemplate {
    /// A job of this template.
    pub fn spec(&self, namespace: Name, name: Name) -> JobSpec {
        let t = self;
        JobSpec {
            namespace,
            name,
            completions: t.completions,
            parallelism: t.parallelism,
            backoff_limit: t.backoff_limit,
            completion_mode: t.completion_mode,
            active_deadline_seconds: t.active_deadline_seconds,
            pod_failure_policy: t.pod_failure_policy.clone(),
            ttl_seconds_after_finished: t.ttl_seconds_after_finished,
            template: t.template.clone(),
        }
    }
}
