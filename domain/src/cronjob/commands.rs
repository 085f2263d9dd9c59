//! The cron job slice's commands.

use serde::{Deserialize, Serialize};

use crate::cronjob::CronJobSpec;
use crate::ids::CronJobId;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateCronJob {
    pub cron_job_id: CronJobId,
    pub spec: CronJobSpec,
}

/// Delete the cron job and the jobs it keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteCronJob {
    pub cron_job_id: CronJobId,
}

/// Restore the last deleted cron job of this name (its id, spec and the
/// last run it handled; its jobs stay deleted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteCronJob {
    pub namespace: crate::names::Name,
    pub name: crate::names::Name,
}

/// Stop (or resume) scheduling runs; running jobs go on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuspendCronJob {
    pub cron_job_id: CronJobId,
    pub suspend: bool,
}

/// The controller's: the run scheduled for `scheduled_at_ms` is due (or,
/// with `skip`, was missed and is skipped for that reason).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCronJob {
    pub cron_job_id: CronJobId,
    pub scheduled_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<String>,
}
