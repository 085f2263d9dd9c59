//! The pod slice's events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::{EvictionCause, PodFailureCause};
use crate::ids::{DeploymentId, NodeId, PodId};
use crate::model::{NodeUsage, Placement, Resources};
use crate::names::{Image, Name};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCreated {
    pub pod_id: PodId,
    pub deployment_id: DeploymentId,
    pub namespace: Name,
    pub name: String,
    pub ordinal: u64,
    pub image: Image,
    pub resources: Resources,
    pub revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodBound {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub usage: NodeUsage,
    pub placement: Placement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStarted {
    pub pod_id: PodId,
    pub node_id: NodeId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodReady {
    pub pod_id: PodId,
    pub node_id: NodeId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodFailed {
    pub pod_id: PodId,
    pub node_id: Option<NodeId>,
    /// What failed: the pod's own container, or the node under it.
    pub cause: PodFailureCause,
    pub reason: String,
    pub usage: Option<NodeUsage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodDeleted {
    pub pod_id: PodId,
    pub reason: String,
    pub usage: Option<NodeUsage>,
}

/// A voluntary or taint-driven removal of a running pod; its controller replaces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodEvicted {
    pub pod_id: PodId,
    pub node_id: Option<NodeId>,
    pub cause: EvictionCause,
    pub reason: String,
    pub usage: Option<NodeUsage>,
}

/// The scheduler found no node: how many nodes each filter removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodUnschedulable {
    pub pod_id: PodId,
    pub nodes_total: u32,
    pub filtered: BTreeMap<String, u32>,
}

/// The pod stopped passing (or never passed) its readiness probe: it takes no traffic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodNotReady {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRestarted {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub restarts: u32,
    pub backoff_ms: u64,
    pub reason: String,
}
