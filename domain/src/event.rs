//! Events: immutable facts in past tense, each carrying the values it
//! produced so no reader has to re-derive a rule. Old events must always
//! deserialize: fields are only ever added, as optional.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{DeploymentId, NodeId, PodId, ServiceId, derive_id};
use std::collections::BTreeMap;

use crate::model::{DeploymentSpec, NodeSpec, NodeUsage, Placement, Resources, ServiceSpec, Taint};
use crate::names::{Image, Name};

pub const SCHEMA_VERSION: u16 = 1;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AggregateKind {
    Node,
    Pod,
    Deployment,
    Service,
    Command,
}

impl AggregateKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            AggregateKind::Node => "node",
            AggregateKind::Pod => "pod",
            AggregateKind::Deployment => "deployment",
            AggregateKind::Service => "service",
            AggregateKind::Command => "command",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AggregateRef {
    pub kind: AggregateKind,
    pub id: Uuid,
}

// The big variants (a node's or a deployment's spec) are rare next to pod
// events; an event is folded and dropped, never stored in bulk as a value.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum Event {
    NodeRegistered {
        node_id: NodeId,
        spec: NodeSpec,
    },
    NodeReady {
        node_id: NodeId,
    },
    NodeNotReady {
        node_id: NodeId,
        silent_for_ms: u64,
    },
    /// The node is gone; `pods_failed` of its pods failed with it (each has its own `PodFailed`).
    NodeLost {
        node_id: NodeId,
        silent_for_ms: u64,
        pods_failed: u32,
    },
    DeploymentCreated {
        deployment_id: DeploymentId,
        spec: DeploymentSpec,
        revision: u64,
    },
    DeploymentScaled {
        deployment_id: DeploymentId,
        from: u32,
        to: u32,
    },
    DeploymentDeleted {
        deployment_id: DeploymentId,
        namespace: Name,
        name: Name,
    },
    PodCreated {
        pod_id: PodId,
        deployment_id: DeploymentId,
        namespace: Name,
        name: String,
        ordinal: u64,
        image: Image,
        resources: Resources,
        revision: u64,
    },
    PodBound {
        pod_id: PodId,
        node_id: NodeId,
        usage: NodeUsage,
        placement: Placement,
    },
    PodStarted {
        pod_id: PodId,
        node_id: NodeId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
    },
    PodReady {
        pod_id: PodId,
        node_id: NodeId,
    },
    PodFailed {
        pod_id: PodId,
        node_id: Option<NodeId>,
        reason: String,
        usage: Option<NodeUsage>,
    },
    PodDeleted {
        pod_id: PodId,
        reason: String,
        usage: Option<NodeUsage>,
    },
    /// Cordoned: no new pods. `drain`: its pods are being evicted too.
    NodeCordoned {
        node_id: NodeId,
        drain: bool,
    },
    NodeUncordoned {
        node_id: NodeId,
    },
    NodeTaintsChanged {
        node_id: NodeId,
        taints: Vec<Taint>,
    },
    /// A voluntary or taint-driven removal of a running pod; its controller replaces it.
    PodEvicted {
        pod_id: PodId,
        node_id: Option<NodeId>,
        cause: EvictionCause,
        reason: String,
        usage: Option<NodeUsage>,
    },
    /// The scheduler found no node: how many nodes each filter removed.
    PodUnschedulable {
        pod_id: PodId,
        nodes_total: u32,
        filtered: BTreeMap<String, u32>,
    },
    /// A template change: revision `revision` holds `spec` (replicas as they were).
    DeploymentRevisionCreated {
        deployment_id: DeploymentId,
        revision: u64,
        spec: DeploymentSpec,
    },
    /// The strategy changed without a new revision.
    DeploymentStrategyChanged {
        deployment_id: DeploymentId,
        strategy: crate::model::RollingUpdate,
    },
    /// The disruption budget changed (`None`: removed), without a new revision.
    DeploymentBudgetChanged {
        deployment_id: DeploymentId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        budget: Option<crate::model::DisruptionBudget>,
    },
    /// Rollout number `rollout` moves the pods from revision `from` to `to`.
    RolloutStarted {
        deployment_id: DeploymentId,
        rollout: u64,
        from: u64,
        to: u64,
        trigger: RolloutTrigger,
        /// Pods on `to` before the rollout waits for `promote`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        canary: Option<u32>,
    },
    RolloutPaused {
        deployment_id: DeploymentId,
        rollout: u64,
    },
    RolloutResumed {
        deployment_id: DeploymentId,
        rollout: u64,
    },
    RolloutPromoted {
        deployment_id: DeploymentId,
        rollout: u64,
    },
    RolloutSucceeded {
        deployment_id: DeploymentId,
        rollout: u64,
        from: u64,
        to: u64,
    },
    /// Stopped without a rollback; the deployment stays on `to`.
    RolloutFailed {
        deployment_id: DeploymentId,
        rollout: u64,
        reason: String,
    },
    /// Stopped and rolled back: a new rollout (the next event) goes back to `to`.
    RolloutRolledBack {
        deployment_id: DeploymentId,
        rollout: u64,
        from: u64,
        to: u64,
        automatic: bool,
        reason: String,
    },
    /// The pod stopped passing (or never passed) its readiness probe: it takes no traffic.
    PodNotReady {
        pod_id: PodId,
        node_id: NodeId,
        reason: String,
    },
    PodRestarted {
        pod_id: PodId,
        node_id: NodeId,
        restarts: u32,
        backoff_ms: u64,
        reason: String,
    },
    ServiceCreated {
        service_id: ServiceId,
        spec: ServiceSpec,
    },
    ServiceDeleted {
        service_id: ServiceId,
        namespace: Name,
        name: Name,
    },
    CommandRejected {
        command_type: String,
        code: String,
        message: String,
    },
}

impl Event {
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::NodeRegistered { .. } => "NodeRegistered",
            Event::NodeReady { .. } => "NodeReady",
            Event::NodeNotReady { .. } => "NodeNotReady",
            Event::NodeLost { .. } => "NodeLost",
            Event::DeploymentCreated { .. } => "DeploymentCreated",
            Event::DeploymentScaled { .. } => "DeploymentScaled",
            Event::DeploymentDeleted { .. } => "DeploymentDeleted",
            Event::PodCreated { .. } => "PodCreated",
            Event::PodBound { .. } => "PodBound",
            Event::PodStarted { .. } => "PodStarted",
            Event::PodReady { .. } => "PodReady",
            Event::PodFailed { .. } => "PodFailed",
            Event::PodDeleted { .. } => "PodDeleted",
            Event::NodeCordoned { .. } => "NodeCordoned",
            Event::NodeUncordoned { .. } => "NodeUncordoned",
            Event::NodeTaintsChanged { .. } => "NodeTaintsChanged",
            Event::PodEvicted { .. } => "PodEvicted",
            Event::PodUnschedulable { .. } => "PodUnschedulable",
            Event::DeploymentRevisionCreated { .. } => "DeploymentRevisionCreated",
            Event::DeploymentStrategyChanged { .. } => "DeploymentStrategyChanged",
            Event::DeploymentBudgetChanged { .. } => "DeploymentBudgetChanged",
            Event::RolloutStarted { .. } => "RolloutStarted",
            Event::RolloutPaused { .. } => "RolloutPaused",
            Event::RolloutResumed { .. } => "RolloutResumed",
            Event::RolloutPromoted { .. } => "RolloutPromoted",
            Event::RolloutSucceeded { .. } => "RolloutSucceeded",
            Event::RolloutFailed { .. } => "RolloutFailed",
            Event::RolloutRolledBack { .. } => "RolloutRolledBack",
            Event::PodNotReady { .. } => "PodNotReady",
            Event::PodRestarted { .. } => "PodRestarted",
            Event::ServiceCreated { .. } => "ServiceCreated",
            Event::ServiceDeleted { .. } => "ServiceDeleted",
            Event::CommandRejected { .. } => "CommandRejected",
        }
    }

    /// The aggregate the event belongs to; `command_id` names a rejection's.
    pub fn aggregate(&self, command_id: Uuid) -> AggregateRef {
        use AggregateKind::*;
        let (kind, id) = match self {
            Event::NodeRegistered { node_id, .. }
            | Event::NodeReady { node_id }
            | Event::NodeNotReady { node_id, .. }
            | Event::NodeLost { node_id, .. }
            | Event::NodeCordoned { node_id, .. }
            | Event::NodeUncordoned { node_id }
            | Event::NodeTaintsChanged { node_id, .. } => (Node, node_id.0),
            Event::DeploymentCreated { deployment_id, .. }
            | Event::DeploymentScaled { deployment_id, .. }
            | Event::DeploymentDeleted { deployment_id, .. }
            | Event::DeploymentRevisionCreated { deployment_id, .. }
            | Event::DeploymentStrategyChanged { deployment_id, .. }
            | Event::DeploymentBudgetChanged { deployment_id, .. }
            | Event::RolloutStarted { deployment_id, .. }
            | Event::RolloutPaused { deployment_id, .. }
            | Event::RolloutResumed { deployment_id, .. }
            | Event::RolloutPromoted { deployment_id, .. }
            | Event::RolloutSucceeded { deployment_id, .. }
            | Event::RolloutFailed { deployment_id, .. }
            | Event::RolloutRolledBack { deployment_id, .. } => (Deployment, deployment_id.0),
            Event::ServiceCreated { service_id, .. } | Event::ServiceDeleted { service_id, .. } => {
                (Service, service_id.0)
            }
            Event::PodCreated { pod_id, .. }
            | Event::PodBound { pod_id, .. }
            | Event::PodStarted { pod_id, .. }
            | Event::PodReady { pod_id, .. }
            | Event::PodFailed { pod_id, .. }
            | Event::PodDeleted { pod_id, .. }
            | Event::PodEvicted { pod_id, .. }
            | Event::PodUnschedulable { pod_id, .. }
            | Event::PodNotReady { pod_id, .. }
            | Event::PodRestarted { pod_id, .. } => (Pod, pod_id.0),
            Event::CommandRejected { .. } => (Command, command_id),
        };
        AggregateRef { kind, id }
    }
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub causation_id: Uuid,
    pub correlation_id: Uuid,
    pub aggregate: AggregateRef,
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub schema_version: u16,
    pub body: Event,
}

impl EventEnvelope {
    /// Event ids are derived from the command and the event's index, so a
    /// re-decided command yields the same ids and duplicates are detectable.
    pub fn event_id_for(command_id: Uuid, index: usize) -> Uuid {
        derive_id(&[
            b"event",
            command_id.as_bytes(),
            &(index as u64).to_be_bytes(),
        ])
    }
}

/// One Kafka record on the event topic: everything one command produced.
/// It is also the decider's checkpoint: `command_offset` says which command
/// record it answers, `epoch` which decider incarnation wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBatch {
    pub command_id: Uuid,
    pub command_offset: i64,
    pub epoch: u64,
    pub events: Vec<EventEnvelope>,
}
