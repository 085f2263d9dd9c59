//! Commands: requests for change. Each enters the log in an envelope that
//! says who asked, why and when; the decider accepts or rejects it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{DeploymentId, NodeId, PodId};
use std::collections::BTreeMap;

use crate::event::EvictionCause;
use crate::model::{DeploymentSpec, NodeSpec, Placement, Taint};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandEnvelope {
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// Someone waits for the outcome: a command that changes nothing still
    /// gets an (empty) event batch, so the caller is answered, not timed out.
    #[serde(default)]
    pub reply: bool,
    pub body: Command,
}

impl CommandEnvelope {
    pub fn new(
        command_id: Uuid,
        actor: impl Into<String>,
        reason: Option<String>,
        body: Command,
    ) -> Self {
        CommandEnvelope {
            command_id,
            correlation_id: command_id,
            actor: actor.into(),
            reason,
            issued_at: Utc::now(),
            reply: false,
            body,
        }
    }

    /// The same command, answered even when it changes nothing.
    pub fn with_reply(mut self) -> Self {
        self.reply = true;
        self
    }
}

// A command lives briefly (decoded, decided, dropped): boxing the template
// would only add an allocation to every read.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Command {
    RegisterNode {
        node_id: NodeId,
        spec: NodeSpec,
    },
    MarkNodeReady {
        node_id: NodeId,
    },
    MarkNodeNotReady {
        node_id: NodeId,
        silent_for_ms: u64,
    },
    MarkNodeLost {
        node_id: NodeId,
        silent_for_ms: u64,
    },
    CreateDeployment {
        deployment_id: DeploymentId,
        spec: DeploymentSpec,
    },
    ScaleDeployment {
        deployment_id: DeploymentId,
        replicas: u32,
    },
    DeleteDeployment {
        deployment_id: DeploymentId,
    },
    /// Create the deployment's pod number `ordinal` (its `next_ordinal`).
    CreatePod {
        deployment_id: DeploymentId,
        ordinal: u64,
    },
    /// Bind, first evicting `preempt` (lower-priority pods on that node):
    /// one command, so the room made is the room used.
    BindPod {
        pod_id: PodId,
        node_id: NodeId,
        placement: Placement,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        preempt: Vec<PodId>,
    },
    MarkPodUnschedulable {
        pod_id: PodId,
        nodes_total: u32,
        filtered: BTreeMap<String, u32>,
    },
    /// `respect_budget`: refuse when the deployment's disruption budget is used up.
    EvictPod {
        pod_id: PodId,
        cause: EvictionCause,
        reason: String,
        respect_budget: bool,
    },
    CordonNode {
        node_id: NodeId,
    },
    UncordonNode {
        node_id: NodeId,
    },
    /// Cordon, then evict every pod within the disruption budgets.
    DrainNode {
        node_id: NodeId,
    },
    SetNodeTaints {
        node_id: NodeId,
        taints: Vec<Taint>,
    },
    ReportPodStarted {
        pod_id: PodId,
        node_id: NodeId,
    },
    ReportPodReady {
        pod_id: PodId,
        node_id: NodeId,
    },
    ReportPodFailed {
        pod_id: PodId,
        node_id: NodeId,
        reason: String,
    },
    /// `only_if_surplus`: refuse when the deployment would drop below its
    /// replicas, so a controller acting on a stale view never deletes too many.
    DeletePod {
        pod_id: PodId,
        reason: String,
        #[serde(default)]
        only_if_surplus: bool,
    },
}

impl Command {
    pub fn type_name(&self) -> &'static str {
        match self {
            Command::RegisterNode { .. } => "RegisterNode",
            Command::MarkNodeReady { .. } => "MarkNodeReady",
            Command::MarkNodeNotReady { .. } => "MarkNodeNotReady",
            Command::MarkNodeLost { .. } => "MarkNodeLost",
            Command::CreateDeployment { .. } => "CreateDeployment",
            Command::ScaleDeployment { .. } => "ScaleDeployment",
            Command::DeleteDeployment { .. } => "DeleteDeployment",
            Command::CreatePod { .. } => "CreatePod",
            Command::BindPod { .. } => "BindPod",
            Command::ReportPodStarted { .. } => "ReportPodStarted",
            Command::ReportPodReady { .. } => "ReportPodReady",
            Command::ReportPodFailed { .. } => "ReportPodFailed",
            Command::DeletePod { .. } => "DeletePod",
            Command::MarkPodUnschedulable { .. } => "MarkPodUnschedulable",
            Command::EvictPod { .. } => "EvictPod",
            Command::CordonNode { .. } => "CordonNode",
            Command::UncordonNode { .. } => "UncordonNode",
            Command::DrainNode { .. } => "DrainNode",
            Command::SetNodeTaints { .. } => "SetNodeTaints",
        }
    }
}
