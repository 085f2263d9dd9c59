//! Filter: every `NoSchedule` / `NoExecute` taint is tolerated (a GPU-only
//! workload tolerates the GPU taint and selects GPU nodes). Score: fewer
//! untolerated `PreferNoSchedule` taints is better.

use super::reason;
use crate::model::{PodTemplate, Taint, TaintEffect, Toleration};
use crate::state::Node;

fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|tol| tol.tolerates(taint))
}

pub fn filter(node: &Node, spec: &PodTemplate) -> Result<(), &'static str> {
    let blocking = node
        .spec
        .taints
        .iter()
        .filter(|t| t.effect != TaintEffect::PreferNoSchedule);
    for taint in blocking {
        if !tolerated(&spec.tolerations, taint) {
            return Err(reason::TAINT_NOT_TOLERATED);
        }
    }
    Ok(())
}

/// Untolerated `PreferNoSchedule` taints (lower is better).
pub fn intolerable_preferences(node: &Node, spec: &PodTemplate) -> u32 {
    node.spec
        .taints
        .iter()
        .filter(|t| t.effect == TaintEffect::PreferNoSchedule && !tolerated(&spec.tolerations, t))
        .count() as u32
}

/// For a `NoExecute` taint: `None` = evict now, `Some(None)` = may stay for
/// ever, `Some(Some(s))` = may stay `s` seconds after the taint was added.
pub fn no_execute_allowance(tolerations: &[Toleration], taint: &Taint) -> Option<Option<u64>> {
    let mut best: Option<Option<u64>> = None;
    for tol in tolerations.iter().filter(|t| t.tolerates(taint)) {
        best = Some(match (best, tol.toleration_seconds) {
            (None, s) => s,
            (Some(None), _) | (_, None) => None,
            (Some(Some(a)), Some(b)) => Some(a.max(b)),
        });
    }
    best
}
