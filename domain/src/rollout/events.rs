//! The rollout slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::DeploymentId;

/// Rollout number `rollout` moves the pods from revision `from` to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStarted {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
    pub from: u64,
    pub to: u64,
    pub trigger: RolloutTrigger,
    /// Pods on `to` before the rollout waits for `promote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPaused {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutResumed {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutPromoted {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutSucceeded {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
    pub from: u64,
    pub to: u64,
}

/// Stopped without a rollback; the deployment stays on `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutFailed {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
    pub reason: String,
}

/// Stopped and rolled back: a new rollout (the next event) goes back to `to`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutRolledBack {
    pub deployment_id: DeploymentId,
    pub rollout: u64,
    pub from: u64,
    pub to: u64,
    pub automatic: bool,
    pub reason: String,
}

/// Why a rollout started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RolloutTrigger {
    /// The template changed (a new revision).
    Update,
    /// Someone asked to go back to an earlier revision.
    Rollback,
    /// The rollout controller stopped a failing rollout and went back.
    AutoRollback,
}

impl RolloutTrigger {
    pub fn as_str(&self) -> &'static str {
        match self {
            RolloutTrigger::Update => "UPDATE",
            RolloutTrigger::Rollback => "ROLLBACK",
            RolloutTrigger::AutoRollback => "AUTO_ROLLBACK",
        }
    }
}
