//! The node slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;
use crate::model::{NodeSpec, Taint};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeRegistered {
    pub node_id: NodeId,
    pub spec: NodeSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeReady {
    pub node_id: NodeId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeNotReady {
    pub node_id: NodeId,
    pub silent_for_ms: u64,
}

/// The node is gone; `pods_failed` of its pods failed with it (each has its own `PodFailed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeLost {
    pub node_id: NodeId,
    pub silent_for_ms: u64,
    pub pods_failed: u32,
}

/// Cordoned: no new pods. `drain`: its pods are being evicted too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeCordoned {
    pub node_id: NodeId,
    pub drain: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeUncordoned {
    pub node_id: NodeId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeTaintsChanged {
    pub node_id: NodeId,
    pub taints: Vec<Taint>,
}
