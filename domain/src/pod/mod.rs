//! The pod slice: one instance of a template, from creation to deletion.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod owner;
pub mod template;

use serde::{Deserialize, Serialize};

use crate::ids::{NodeId, PodId};
use crate::model::PodPhase;
pub use owner::Owner;

/// Kept lean (no strings): the template lives on the owner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pod {
    pub id: PodId,
    pub owner: Owner,
    pub ordinal: u64,
    pub cpu_milli: u32,
    pub mem_mb: u32,
    pub revision: u64,
    pub phase: PodPhase,
    pub node: Option<NodeId>,
    pub ready: bool,
    pub version: u64,
    /// Container restarts (liveness failures, crashes).
    #[serde(default)]
    pub restarts: u32,
}

impl Pod {
    /// Counts towards the deployment's replicas.
    pub fn is_live(&self) -> bool {
        matches!(self.phase, PodPhase::Pending | PodPhase::Running)
    }
}
