//! The deployment slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::DeploymentId;
use crate::model::DeploymentSpec;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentCreated {
    pub deployment_id: DeploymentId,
    pub spec: DeploymentSpec,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentScaled {
    pub deployment_id: DeploymentId,
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentDeleted {
    pub deployment_id: DeploymentId,
    pub namespace: Name,
    pub name: Name,
}

/// A deleted deployment restored as it was when deleted (same id; the
/// spec and revision it had then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentUndeleted {
    pub deployment_id: DeploymentId,
    pub spec: DeploymentSpec,
    pub revision: u64,
}

/// A template change: revision `revision` holds `spec` (replicas as they were).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentRevisionCreated {
    pub deployment_id: DeploymentId,
    pub revision: u64,
    pub spec: DeploymentSpec,
}

/// The strategy changed without a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentStrategyChanged {
    pub deployment_id: DeploymentId,
    pub strategy: crate::model::RollingUpdate,
}

/// The disruption budget changed (`None`: removed), without a new revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentBudgetChanged {
    pub deployment_id: DeploymentId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<crate::model::DisruptionBudget>,
}
