//! The job slice's commands.

use serde::{Deserialize, Serialize};

use crate::ids::JobId;
use crate::job::{JobFailureReason, JobSpec};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJob {
    pub job_id: JobId,
    pub spec: JobSpec,
}

/// Delete the job and its pods (live ones are stopped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteJob {
    pub job_id: JobId,
}

/// Restore the last deleted job of this name: its id, spec and counts (a
/// job deleted while running goes on: its controller starts the pods it
/// still needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteJob {
    pub namespace: crate::names::Name,
    pub name: crate::names::Name,
}

/// The controller's: the job ran past its deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailJob {
    pub job_id: JobId,
    pub reason: JobFailureReason,
    pub message: String,
}
