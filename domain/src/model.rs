//! The objects the orchestrator manages, as they appear in commands and events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::NodeId;
use crate::names::{Image, Name};

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
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Taint {
    pub key: String,
    #[serde(default)]
    pub value: String,
    pub effect: TaintEffect,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum TolerationOperator {
    #[default]
    Equal,
    Exists,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Default for RollingUpdate {
    fn default() -> Self {
        RollingUpdate {
            max_unavailable: 1,
            max_surge: 1,
        }
    }
}

/// The pod template and replica count a deployment declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentSpec {
    pub namespace: Name,
    pub name: Name,
    pub image: Image,
    pub replicas: u32,
    pub resources: Resources,
    pub strategy: RollingUpdate,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
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
