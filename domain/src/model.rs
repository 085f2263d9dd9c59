//! The objects the orchestrator manages, as they appear in commands and events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;
use crate::names::Name;
pub use crate::pod::template::{
    HostPath, PodTemplate, RestartPolicy, SecretEnv, SecretFiles, SecurityContext,
};

/// What one pod asks for. Requests drive scheduling; limits are enforced by the runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resources {
    pub cpu_request_milli: u32,
    pub cpu_limit_milli: u32,
    pub mem_request_mb: u32,
    pub mem_limit_mb: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
    /// When the taint was put on the node (ms since the epoch); `NoExecute`
    /// toleration seconds count from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_added_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TolerationOperator {
    #[default]
    Equal,
    Exists,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    /// `None` with `Exists` tolerates every taint.
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub operator: TolerationOperator,
    #[serde(default)]
    pub value: Option<String>,
    /// `None` tolerates every effect.
    #[serde(default)]
    pub effect: Option<TaintEffect>,
    /// For `NoExecute`: how long a running pod stays after the taint appears
    /// (`None` = for ever). Ignored for the other effects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<u64>,
}

impl Toleration {
    pub fn tolerates(&self, taint: &Taint) -> bool {
        if let Some(e) = self.effect
            && e != taint.effect
        {
            return false;
        }
        match self.operator {
            TolerationOperator::Exists => self.key.as_deref().is_none_or(|k| k == taint.key),
            TolerationOperator::Equal => {
                self.key.as_deref() == Some(taint.key.as_str())
                    && self.value.as_deref().unwrap_or("") == taint.value
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSpec {
    pub name: Name,
    pub zone: String,
    pub cpu_capacity_milli: u64,
    pub mem_capacity_mb: u64,
    pub cpu_allocatable_milli: u64,
    pub mem_allocatable_mb: u64,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub taints: Vec<Taint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollingUpdate {
    pub max_unavailable: u32,
    pub max_surge: u32,
    /// A rollout that makes no progress for this long fails (and rolls back
    /// when `auto_rollback`).
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline_seconds: u32,
    /// This many pods of the new revision failing (readiness lost or never
    /// reached, a restart, a crash) during a rollout stop it.
    #[serde(default = "default_rollback_after")]
    pub rollback_after_failed_pods: u32,
    /// A stopped rollout rolls back to the revision it started from.
    #[serde(default = "default_true")]
    pub auto_rollback: bool,
}

impl RollingUpdate {
    /// Field errors of the strategy (paths under `strategy`).
    pub fn validate(&self) -> Vec<crate::names::FieldError> {
        use crate::names::FieldError;
        let mut errors = Vec::new();
        if self.max_surge == 0 && self.max_unavailable == 0 {
            errors.push(FieldError::new(
                "strategy",
                "maxSurge and maxUnavailable must not both be 0",
            ));
        }
        if self.progress_deadline_seconds == 0 {
            errors.push(FieldError::new(
                "strategy.progressDeadlineSeconds",
                "must be greater than 0",
            ));
        }
        if self.rollback_after_failed_pods == 0 {
            errors.push(FieldError::new(
                "strategy.rollbackAfterFailedPods",
                "must be greater than 0",
            ));
        }
        errors
    }
}

/// A change to some fields of a strategy: the decider applies it to the
/// strategy the deployment has when the command is decided (not to what a
/// client last read). A full `RollingUpdate` reads as a patch of every field.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StrategyPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_deadline_seconds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_after_failed_pods: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_rollback: Option<bool>,
}

/// A whole strategy: every field set.
impl From<RollingUpdate> for StrategyPatch {
    fn from(s: RollingUpdate) -> Self {
        StrategyPatch {
            max_unavailable: Some(s.max_unavailable),
            max_surge: Some(s.max_surge),
            progress_deadline_seconds: Some(s.progress_deadline_seconds),
            rollback_after_failed_pods: Some(s.rollback_after_failed_pods),
            auto_rollback: Some(s.auto_rollback),
        }
    }
}

impl StrategyPatch {
    pub fn apply(&self, base: RollingUpdate) -> RollingUpdate {
        RollingUpdate {
            max_unavailable: self.max_unavailable.unwrap_or(base.max_unavailable),
            max_surge: self.max_surge.unwrap_or(base.max_surge),
            progress_deadline_seconds: self
                .progress_deadline_seconds
                .unwrap_or(base.progress_deadline_seconds),
            rollback_after_failed_pods: self
                .rollback_after_failed_pods
                .unwrap_or(base.rollback_after_failed_pods),
            auto_rollback: self.auto_rollback.unwrap_or(base.auto_rollback),
        }
    }
}

fn default_progress_deadline() -> u32 {
    600
}
fn default_rollback_after() -> u32 {
    1
}
fn default_true() -> bool {
    true
}

impl Default for RollingUpdate {
    fn default() -> Self {
        RollingUpdate {
            max_unavailable: 1,
            max_surge: 1,
            progress_deadline_seconds: default_progress_deadline(),
            rollback_after_failed_pods: default_rollback_after(),
            auto_rollback: true,
        }
    }
}

/// How a probe checks a container; exactly one action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// `GET http://<pod address><path>`: 200–399 passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_get: Option<HttpGetAction>,
    /// A TCP connection to the pod's port opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<TcpSocketAction>,
    /// The command exits 0 (run with the container's environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    #[serde(default)]
    pub initial_delay_ms: u64,
    #[serde(default = "default_period_ms")]
    pub period_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Consecutive failures before the probe counts as failed.
    #[serde(default = "default_failure_threshold")]
    pub failure_threshold: u32,
    /// Consecutive successes before a failed probe counts as passing again.
    #[serde(default = "default_success_threshold")]
    pub success_threshold: u32,
}

fn default_period_ms() -> u64 {
    1000
}
fn default_timeout_ms() -> u64 {
    1000
}
fn default_failure_threshold() -> u32 {
    3
}
fn default_success_threshold() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetAction {
    #[serde(default = "default_path")]
    pub path: String,
}

fn default_path() -> String {
    "/".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TcpSocketAction {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExecAction {
    pub command: Vec<String>,
}

/// A canary: this many pods (or this percentage of the replicas, at least
/// one) run the new revision until the rollout is promoted or aborted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Canary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
}

impl Canary {
    pub fn pods(&self, replicas: u32) -> u32 {
        let n = match (self.replicas, self.percent) {
            (Some(n), _) => n,
            (None, Some(p)) => (replicas as u64 * p as u64).div_ceil(100) as u32,
            (None, None) => 1,
        };
        n.clamp(1, replicas.max(1))
    }
}

/// What a Service selects and how the gateway reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    pub namespace: Name,
    pub name: Name,
    /// Pods whose labels (with the implied `app=<deployment>`) contain every pair.
    pub selector: BTreeMap<String, String>,
    /// The gateway routes requests for this host (any host when empty) …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// … whose path starts with this prefix (longest prefix wins).
    #[serde(default = "default_path")]
    pub path_prefix: String,
}

/// The pod template and replica count a deployment declares. The
/// template's fields sit beside the deployment's own in JSON (as they
/// always have), so the wire format is the one before templates had a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub namespace: Name,
    pub name: Name,
    pub replicas: u32,
    pub strategy: RollingUpdate,
    /// How many pods voluntary disruptions (drain, preemption, eviction) must leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disruption_budget: Option<DisruptionBudget>,
    #[serde(flatten)]
    pub template: PodTemplate,
}

/// The built-in priority classes, like Kubernetes' PriorityClass objects.
pub const PRIORITY_CLASSES: [(&str, i32); 5] = [
    ("system-node-critical", 2_000_001_000),
    ("system-cluster-critical", 2_000_000_000),
    ("high", 1_000),
    ("default", 0),
    ("low", -1_000),
];

pub fn priority_of_class(name: &str) -> Option<i32> {
    PRIORITY_CLASSES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
}

impl DeploymentSpec {
    /// Whether the pods' labels (with the implied `app=<name>`) contain every pair of `selector`.
    pub fn labels_match(&self, selector: &BTreeMap<String, String>) -> bool {
        self.template.labels_match(self.name.as_str(), selector)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SelectorOperator {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LabelRequirement {
    pub key: String,
    pub operator: SelectorOperator,
    #[serde(default)]
    pub values: Vec<String>,
}

/// Every requirement must hold (AND).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeSelectorTerm {
    #[serde(default)]
    pub match_expressions: Vec<LabelRequirement>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreferredSchedulingTerm {
    /// 1–100.
    pub weight: u32,
    pub preference: NodeSelectorTerm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NodeAffinity {
    /// At least one term must match (OR); empty = no requirement.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<NodeSelectorTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<PreferredSchedulingTerm>,
}

pub const HOSTNAME_LABEL: &str = "kubernetes.io/hostname";
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// A topology domain: one node, or one zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    Node,
    Zone,
}

impl Topology {
    pub fn parse(key: &str) -> Option<Topology> {
        match key {
            HOSTNAME_LABEL => Some(Topology::Node),
            ZONE_LABEL => Some(Topology::Zone),
            _ => None,
        }
    }
}

/// Pods selected by `label_selector`, counted per domain of `topology_key`
/// (`kubernetes.io/hostname` or `topology.kubernetes.io/zone`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodAffinityTerm {
    pub label_selector: BTreeMap<String, String>,
    pub topology_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WeightedPodAffinityTerm {
    /// 1–100.
    pub weight: u32,
    pub pod_affinity_term: PodAffinityTerm,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodAffinity {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required: Vec<PodAffinityTerm>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preferred: Vec<WeightedPodAffinityTerm>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Affinity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_affinity: Option<NodeAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_anti_affinity: Option<PodAffinity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WhenUnsatisfiable {
    #[default]
    DoNotSchedule,
    ScheduleAnyway,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TopologySpreadConstraint {
    pub max_skew: u32,
    pub topology_key: String,
    #[serde(default)]
    pub when_unsatisfiable: WhenUnsatisfiable,
    /// Empty = this deployment's own pods.
    #[serde(default)]
    pub label_selector: BTreeMap<String, String>,
}

/// A PodDisruptionBudget for the deployment's pods: exactly one of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DisruptionBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_available: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
}

/// Why the scheduler put a pod on a node: carried on `PodBound` so any
/// placement can be explained later from the log alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    pub nodes_total: u32,
    pub nodes_feasible: u32,
    /// How many nodes each filter removed, by filter name.
    pub filtered: BTreeMap<String, u32>,
    /// The best-scored nodes, winner first.
    pub top: Vec<ScoredNode>,
    /// Nodes looked at for this pod (on a large cluster the search stops
    /// once enough feasible nodes are found, like `percentageOfNodesToScore`).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub nodes_examined: u32,
    /// Lower-priority pods evicted to make room (preemption).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preempted: Vec<crate::ids::PodId>,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoredNode {
    pub node_id: NodeId,
    pub node_name: String,
    pub total: u32,
    pub scores: BTreeMap<String, u32>,
}

/// A node's allocation after a change, carried on the events that change it
/// so projectors copy it instead of recomputing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeUsage {
    pub node_id: NodeId,
    pub cpu_requested_milli: u64,
    pub mem_requested_mb: u64,
    pub pods: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl PodPhase {
    pub fn as_str(&self) -> &'static str {
        match self {
            PodPhase::Pending => "PENDING",
            PodPhase::Running => "RUNNING",
            PodPhase::Succeeded => "SUCCEEDED",
            PodPhase::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeCondition {
    Ready,
    NotReady,
    Lost,
}

impl NodeCondition {
    pub fn as_str(&self) -> &'static str {
        match self {
            NodeCondition::Ready => "Ready",
            NodeCondition::NotReady => "NotReady",
            NodeCondition::Lost => "Lost",
        }
    }
}
