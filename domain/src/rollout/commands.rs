//! The rollout slice's commands.

use serde::{Deserialize, Serialize};

use crate::ids::DeploymentId;

/// Roll back to `revision` (any revision ever recorded). `automatic`: the
/// rollout controller stopped a failing rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackDeployment {
    pub deployment_id: DeploymentId,
    pub revision: u64,
    pub automatic: bool,
    /// The rollout an automatic rollback stops (stale otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<u64>,
    #[serde(default)]
    pub reason: String,
}

/// Stop the running rollout and go back to the revision it started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AbortRollout {
    pub deployment_id: DeploymentId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PauseRollout {
    pub deployment_id: DeploymentId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeRollout {
    pub deployment_id: DeploymentId,
}

/// A canary's new revision goes to every replica.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromoteRollout {
    pub deployment_id: DeploymentId,
}

/// The rollout controller saw every replica Ready on the new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRollout {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
}

/// The rollout stopped and is not rolled back (`autoRollback: false`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailRollout {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
    pub reason: String,
}
