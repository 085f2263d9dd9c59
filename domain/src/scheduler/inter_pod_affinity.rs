//! Inter-pod affinity and anti-affinity, by node (`kubernetes.io/hostname`)
//! or by zone (`topology.kubernetes.io/zone`).
//!
//! Filter: every required affinity term finds a selected pod in the node's
//! domain (or no pod matches anywhere yet and the pod selects itself: the
//! first of a group); no required anti-affinity term finds one; and no pod
//! already there has a required anti-affinity term that selects this pod.
//! Score: Σ weight × selected pods in the domain, anti-affinity negative.

use super::{Counts, Topology, reason};
use crate::model::HOSTNAME_LABEL;
use crate::state::Workload;
use crate::state::{Node, State};

#[derive(Default)]
pub struct PodTerms<'c> {
    /// (domain, selected pods, the pod selects itself)
    pub required_affinity: Vec<(Topology, &'c Counts, bool)>,
    /// The pod's own required anti-affinity, and other pods' that select it.
    pub required_anti: Vec<(Topology, &'c Counts)>,
    /// (domain, selected pods, weight; negative for anti-affinity)
    pub preferred: Vec<(Topology, &'c Counts, i64)>,
}

impl PodTerms<'_> {
    pub fn has_filters(&self) -> bool {
        !self.required_affinity.is_empty() || !self.required_anti.is_empty()
    }
}

pub fn filter(node: &Node, t: &PodTerms) -> Result<(), &'static str> {
    for (topo, counts, selects_itself) in &t.required_affinity {
        if counts.in_domain(*topo, node) == 0 && !(*selects_itself && counts.total == 0) {
            return Err(reason::POD_AFFINITY_UNSATISFIED);
        }
    }
    for (topo, counts) in &t.required_anti {
        if counts.in_domain(*topo, node) > 0 {
            return Err(reason::POD_ANTI_AFFINITY_VIOLATED);
        }
    }
    Ok(())
}

/// Unnormalised preference; the cycle maps it onto 0–100 across candidates.
pub fn raw_score(node: &Node, t: &PodTerms) -> i64 {
    t.preferred
        .iter()
        .map(|(topo, counts, w)| w * counts.in_domain(*topo, node) as i64)
        .sum()
}

/// The decider's check when binding: required anti-affinity by node, both
/// ways, against the pods on the node now. (Zone-wide terms and topology
/// spread are the scheduler's: checking them here would need every pod of
/// the zone.)
pub fn node_level_conflict(state: &State, node: &Node, spec: &Workload<'_>) -> bool {
    if !state.any_required_anti_affinity() {
        return false;
    }
    let own: Vec<_> = spec
        .template
        .pod_anti_affinity()
        .map(|a| {
            a.required
                .iter()
                .filter(|t| t.topology_key == HOSTNAME_LABEL)
                .collect()
        })
        .unwrap_or_default();
    for pod_id in &node.pods {
        let Some(other) = state
            .pods
            .get(pod_id)
            .filter(|p| p.is_live())
            .and_then(|p| state.workload(p.owner))
        else {
            continue;
        };
        if own.iter().any(|t| other.labels_match(&t.label_selector)) {
            return true;
        }
        if let Some(a) = other.template.pod_anti_affinity()
            && a.required
                .iter()
                .any(|t| t.topology_key == HOSTNAME_LABEL && spec.labels_match(&t.label_selector))
        {
            return true;
        }
    }
    false
}
