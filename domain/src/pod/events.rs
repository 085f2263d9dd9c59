//! The pod slice's events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, PodId};
use crate::model::{NodeUsage, Placement, Resources};
use crate::names::{Image, Name};
use crate::pod::owner::Owner;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodCreated {
    pub pod_id: PodId,
    #[serde(flatten)]
    pub owner: Owner,
    pub namespace: Name,
    pub name: String,
    pub ordinal: u64,
    pub image: Image,
    pub resources: Resources,
    pub revision: u64,
    /// An Indexed job's pod: the completion index it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_index: Option<u32>,
    /// A StatefulSet's pod: the volume claim of its ordinal
    /// (`<claim>-<set>-<ordinal>`), the same for every pod of that ordinal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim: Option<String>,
}

/// The pod's container exited 0 and is not restarted (a job's pod).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSucceeded {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub usage: Option<NodeUsage>,
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
    /// The container's exit code, when it exited (not for a lost node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
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

/// Why a pod failed. A lost node is not the pod's fault (it does not count
/// against a rollout); a container failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodFailureCause {
    /// Its node stopped heartbeating and was declared lost.
    NodeLost,
    /// Its node's agent reported it failed (a crash, a failed start, an image pull).
    Container,
}

/// What made a pod leave its node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum EvictionCause {
    /// A higher-priority pod needed the room.
    Preemption {
        preemptor: PodId,
        preemptor_priority: i32,
        victim_priority: i32,
    },
    /// The node is being drained.
    Drain,
    /// A `NoExecute` taint the pod does not tolerate (or no longer: its toleration seconds ran out).
    Taint { key: String },
    /// Asked for through the eviction API.
    Api,
}

impl EvictionCause {
    pub fn as_str(&self) -> &'static str {
        match self {
            EvictionCause::Preemption { .. } => "Preemption",
            EvictionCause::Drain => "Drain",
            EvictionCause::Taint { .. } => "Taint",
            EvictionCause::Api => "Api",
        }
    }
}
