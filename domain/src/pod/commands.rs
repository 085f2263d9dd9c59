//! The pod slice's commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, PodId};
use crate::model::Placement;
use crate::pod::events::EvictionCause;
use crate::pod::owner::Owner;

/// Create the owner's pod number `ordinal` (a deployment's `next_ordinal`)
/// from `revision` (default: the owner's current one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatePod {
    #[serde(flatten)]
    pub owner: Owner,
    pub ordinal: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
}

/// Bind, first evicting `preempt` (lower-priority pods on that node):
/// one command, so the room made is the room used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindPod {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub placement: Placement,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preempt: Vec<PodId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MarkPodUnschedulable {
    pub pod_id: PodId,
    pub nodes_total: u32,
    pub filtered: BTreeMap<String, u32>,
}

/// `respect_budget`: refuse when the deployment's disruption budget is used up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvictPod {
    pub pod_id: PodId,
    pub cause: EvictionCause,
    pub reason: String,
    pub respect_budget: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodStarted {
    pub pod_id: PodId,
    pub node_id: NodeId,
    /// Where the pod serves (process runtime): `ip:port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodReady {
    pub pod_id: PodId,
    pub node_id: NodeId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodFailed {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub reason: String,
    /// The container's exit code, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// The pod's container exited 0 and its restart policy is `Never`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodSucceeded {
    pub pod_id: PodId,
    pub node_id: NodeId,
}

/// `only_if_surplus`: refuse when the deployment would drop below its
/// replicas, so a controller acting on a stale view never deletes too many.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletePod {
    pub pod_id: PodId,
    pub reason: String,
    #[serde(default)]
    pub only_if_surplus: bool,
    /// Refuse when the pod is Ready and fewer Ready pods than this would remain
    /// (a rolling update's `replicas - maxUnavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_ready: Option<u32>,
    /// Refuse when the deployment's disruption budget is used up.
    #[serde(default)]
    pub respect_budget: bool,
}

/// The readiness probe failed `failureThreshold` times in a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodNotReady {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub reason: String,
}

/// The container exited or failed its liveness probe and was restarted
/// after `backoff_ms` (CrashLoopBackOff).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportPodRestarted {
    pub pod_id: PodId,
    pub node_id: NodeId,
    pub restarts: u32,
    pub backoff_ms: u64,
    pub reason: String,
}
