//! Commands: requests for change. Each enters the log in an envelope that
//! says who asked, why and when; the decider accepts or rejects it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::{DeploymentId, NodeId, PodId};
use std::collections::BTreeMap;

use crate::event::EvictionCause;
use crate::ids::ServiceId;
use crate::model::{Canary, DeploymentSpec, NodeSpec, Placement, Probe, ServiceSpec, Taint};
use crate::names::Name;

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

    /// The same command, correlated with the request that caused it (`None`: itself).
    pub fn caused_by(mut self, correlation: Option<Uuid>) -> Self {
        if let Some(c) = correlation {
            self.correlation_id = c;
        }
        self
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
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
    /// Restore the most recently deleted deployment of this name, as it was
    /// when deleted (same id, spec, revisions and rollout count).
    UndeleteDeployment {
        namespace: Name,
        name: Name,
    },
    /// Change the pod template (a new revision and a rollout) and/or the strategy.
    UpdateDeployment {
        deployment_id: DeploymentId,
        patch: TemplatePatch,
    },
    /// Roll back to `revision` (any revision ever recorded). `automatic`: the
    /// rollout controller stopped a failing rollout.
    RollbackDeployment {
        deployment_id: DeploymentId,
        revision: u64,
        automatic: bool,
        /// The rollout an automatic rollback stops (stale otherwise).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rollout: Option<u64>,
        #[serde(default)]
        reason: String,
    },
    /// Stop the running rollout and go back to the revision it started from.
    AbortRollout {
        deployment_id: DeploymentId,
        reason: String,
    },
    PauseRollout {
        deployment_id: DeploymentId,
    },
    ResumeRollout {
        deployment_id: DeploymentId,
    },
    /// A canary's new revision goes to every replica.
    PromoteRollout {
        deployment_id: DeploymentId,
    },
    /// The rollout controller saw every replica Ready on the new revision.
    CompleteRollout {
        deployment_id: DeploymentId,
        rollout: u64,
    },
    /// The rollout stopped and is not rolled back (`autoRollback: false`).
    FailRollout {
        deployment_id: DeploymentId,
        rollout: u64,
        reason: String,
    },
    /// Create the deployment's pod number `ordinal` (its `next_ordinal`)
    /// from `revision` (default: the deployment's current one).
    CreatePod {
        deployment_id: DeploymentId,
        ordinal: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        revision: Option<u64>,
    },
    CreateService {
        service_id: ServiceId,
        spec: ServiceSpec,
    },
    DeleteService {
        service_id: ServiceId,
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
        /// Where the pod serves (process runtime): `ip:port`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
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
        /// Refuse when the pod is Ready and fewer Ready pods than this would remain
        /// (a rolling update's `replicas - maxUnavailable`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        keep_ready: Option<u32>,
        /// Refuse when the deployment's disruption budget is used up.
        #[serde(default)]
        respect_budget: bool,
    },
    /// The readiness probe failed `failureThreshold` times in a row.
    ReportPodNotReady {
        pod_id: PodId,
        node_id: NodeId,
        reason: String,
    },
    /// The container exited or failed its liveness probe and was restarted
    /// after `backoff_ms` (CrashLoopBackOff).
    ReportPodRestarted {
        pod_id: PodId,
        node_id: NodeId,
        restarts: u32,
        backoff_ms: u64,
        reason: String,
    },
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

impl Command {
    /// The variant's name, as the `type` tag writes it.
    pub fn type_name(&self) -> &'static str {
        self.into()
    }
}
