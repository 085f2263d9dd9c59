//! The deployment slice's commands.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::ids::DeploymentId;
use crate::model::DeploymentSpec;
use crate::model::{Canary, Probe};
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateDeployment {
    pub deployment_id: DeploymentId,
    pub spec: DeploymentSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleDeployment {
    pub deployment_id: DeploymentId,
    pub replicas: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteDeployment {
    pub deployment_id: DeploymentId,
}

/// Restore the most recently deleted deployment of this name, as it was
/// when deleted (same id, spec, revisions and rollout count).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteDeployment {
    pub namespace: Name,
    pub name: Name,
}

/// Change the pod template (a new revision and a rollout) and/or the strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateDeployment {
    pub deployment_id: DeploymentId,
    pub patch: TemplatePatch,
}

/// The fields of a deployment `PATCH`; absent = unchanged. Template
/// fields make a new revision; `strategy` alone does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct TemplatePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::names::Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<crate::model::Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// `Some(None)` removes the probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Option<Probe>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Option<Probe>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Option<Probe>>,
    /// Only the fields given change (merged by the decider).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<crate::model::StrategyPatch>,
    /// `Some(None)` removes the budget. Not part of the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<Option<crate::model::DisruptionBudget>>,
    /// Roll out to this many pods first and wait for `promote`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<Canary>,
}
