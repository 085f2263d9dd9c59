//! The cron job slice's events.

use serde::{Deserialize, Serialize};

use crate::cronjob::CronJobSpec;
use crate::ids::{CronJobId, JobId};
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobCreated {
    pub cron_job_id: CronJobId,
    pub spec: CronJobSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobSuspended {
    pub cron_job_id: CronJobId,
    pub suspend: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobDeleted {
    pub cron_job_id: CronJobId,
    pub namespace: Name,
    pub name: Name,
}

/// Restored as it was deleted; runs go on from the last one it handled (at
/// most one missed run is made up).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobUndeleted {
    pub cron_job_id: CronJobId,
    pub spec: crate::cronjob::CronJobSpec,
}

/// A run started: the job it created follows (`JobCreated`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobRunStarted {
    pub cron_job_id: CronJobId,
    pub job_id: JobId,
    pub scheduled_at_ms: i64,
}

/// A run that did not start, and why (Forbid, a missed deadline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CronJobRunSkipped {
    pub cron_job_id: CronJobId,
    pub scheduled_at_ms: i64,
    pub reason: String,
}
