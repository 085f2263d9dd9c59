//! Topology spread constraints. Filter (`DoNotSchedule`): placing the pod
//! must keep (selected pods in this domain + 1) − (fewest in any eligible
//! domain) ≤ `maxSkew`. Score (`ScheduleAnyway`): fewer selected pods in
//! the domain is better.

use super::{Counts, Topology, reason};
use crate::state::Node;

pub struct Constraint<'c> {
    pub max_skew: u32,
    pub topology: Topology,
    pub counts: &'c Counts,
    pub hard: bool,
    /// 1 when the pod matches its own selector (it adds to the count).
    pub self_count: u32,
    /// Fewest selected pods in any domain the pod could go to.
    pub min: u32,
}

pub fn filter(node: &Node, cs: &[Constraint]) -> Result<(), &'static str> {
    for c in cs.iter().filter(|c| c.hard) {
        let here = c.counts.in_domain(c.topology, node) + c.self_count;
        if here.saturating_sub(c.min) > c.max_skew {
            return Err(reason::TOPOLOGY_SPREAD_SKEW);
        }
    }
    Ok(())
}

/// Selected pods in the node's domains, over the soft constraints (lower is better).
pub fn raw_score(node: &Node, cs: &[Constraint]) -> u32 {
    cs.iter()
        .filter(|c| !c.hard)
        .map(|c| c.counts.in_domain(c.topology, node))
        .sum()
}
