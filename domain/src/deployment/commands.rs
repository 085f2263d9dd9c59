//! The deployment slice's commands.

use serde::{Deserialize, Serialize};

use crate::command::TemplatePatch;
use crate::ids::DeploymentId;
use crate::model::DeploymentSpec;
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
