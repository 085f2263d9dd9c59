//! The job slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::{CronJobId, JobId};
use crate::job::{JobFailureReason, JobSpec};
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCreated {
    pub job_id: JobId,
    pub spec: JobSpec,
    /// The cron job whose run created it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_job_id: Option<CronJobId>,
}

/// Every completion succeeded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCompleted {
    pub job_id: JobId,
    pub succeeded: u32,
    pub failed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobFailed {
    pub job_id: JobId,
    pub reason: JobFailureReason,
    pub message: String,
    pub succeeded: u32,
    pub failed: u32,
}

/// Restored as it was deleted (its spec and counts; its pods are gone).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobUndeleted {
    pub job_id: JobId,
    pub spec: JobSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobDeleted {
    pub job_id: JobId,
    pub namespace: Name,
    pub name: Name,
}
