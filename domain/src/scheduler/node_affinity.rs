//! Node affinity. Filter: at least one required term matches (terms are
//! ORed, a term's expressions ANDed). Score: the share of preferred-term
//! weight that matches.

use super::node_selector::label;
use super::reason;
use crate::model::{LabelRequirement, NodeSelectorTerm, PodTemplate, SelectorOperator};
use crate::state::Node;

pub fn requirement_matches(node: &Node, r: &LabelRequirement) -> bool {
    let v = label(node, &r.key);
    match r.operator {
        SelectorOperator::In => v.is_some_and(|v| r.values.iter().any(|x| x == v)),
        SelectorOperator::NotIn => v.is_none_or(|v| r.values.iter().all(|x| x != v)),
        SelectorOperator::Exists => v.is_some(),
        SelectorOperator::DoesNotExist => v.is_none(),
        SelectorOperator::Gt | SelectorOperator::Lt => {
            let (Some(v), Some(bound)) = (
                v.and_then(|v| v.parse::<i64>().ok()),
                r.values.first().and_then(|b| b.parse::<i64>().ok()),
            ) else {
                return false;
            };
            if r.operator == SelectorOperator::Gt {
                v > bound
            } else {
                v < bound
            }
        }
    }
}

pub fn term_matches(node: &Node, term: &NodeSelectorTerm) -> bool {
    term.match_expressions
        .iter()
        .all(|r| requirement_matches(node, r))
}

pub fn filter(node: &Node, spec: &PodTemplate) -> Result<(), &'static str> {
    let Some(na) = spec.node_affinity() else {
        return Ok(());
    };
    if na.required.is_empty() || na.required.iter().any(|t| term_matches(node, t)) {
        Ok(())
    } else {
        Err(reason::NODE_AFFINITY_MISMATCH)
    }
}

/// 0–100; `None` when the pod states no preference.
pub fn score(node: &Node, spec: &PodTemplate) -> Option<u32> {
    let na = spec.node_affinity()?;
    if na.preferred.is_empty() {
        return None;
    }
    let total: u32 = na.preferred.iter().map(|p| p.weight).sum();
    let matched: u32 = na
        .preferred
        .iter()
        .filter(|p| term_matches(node, &p.preference))
        .map(|p| p.weight)
        .sum();
    Some((matched * 100).checked_div(total).unwrap_or(0))
}
