//! Deciding the node's commands: registration, liveness, cordon, drain, taints.

use crate::command as cmd;
use crate::decision::{Decision, UsageTracker, reject};
use crate::event as ev;
use crate::event::{Event, PodFailureCause};
use crate::ids::{NodeId, PodId};
use crate::model::NodeCondition;

use crate::rejection::{Rejection, RejectionCode};
use crate::state::{Node, State};

pub(crate) fn register_node(state: &State, c: &cmd::RegisterNode) -> Decision {
    let cmd::RegisterNode { node_id, spec, .. } = c;
    if spec.cpu_allocatable_milli > spec.cpu_capacity_milli
        || spec.mem_allocatable_mb > spec.mem_capacity_mb
    {
        return reject(
            RejectionCode::ValidationFailed,
            "allocatable must not exceed capacity",
        );
    }
    if let Some(other) = state.node_by_name(spec.name.as_str())
        && other.id != *node_id
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("node name '{}' is taken", spec.name),
        );
    }
    // Taints belong to the API once a node exists: a re-registering
    // agent does not wipe the ones an operator set.
    let mut spec = spec.clone();
    if let Some(n) = state.nodes.get(node_id) {
        spec.taints = n.spec.taints.clone();
    }
    match state.nodes.get(node_id) {
        Some(n) if n.spec == spec && n.condition == NodeCondition::Ready => Ok(vec![]),
        Some(n) if n.spec == spec => Ok(vec![Event::NodeReady(ev::NodeReady { node_id: n.id })]),
        _ => Ok(vec![Event::NodeRegistered(ev::NodeRegistered {
            node_id: *node_id,
            spec,
        })]),
    }
}

pub(crate) fn mark_node_ready(state: &State, c: &cmd::MarkNodeReady) -> Decision {
    let cmd::MarkNodeReady { node_id, .. } = c;
    let n = registered(state, node_id)?;
    if n.condition == NodeCondition::Ready {
        return Ok(vec![]);
    }
    Ok(vec![Event::NodeReady(ev::NodeReady { node_id: *node_id })])
}

pub(crate) fn mark_node_not_ready(state: &State, c: &cmd::MarkNodeNotReady) -> Decision {
    let cmd::MarkNodeNotReady {
        node_id,
        silent_for_ms,
        ..
    } = c;
    let n = registered(state, node_id)?;
    if n.condition != NodeCondition::Ready {
        return Ok(vec![]);
    }
    Ok(vec![Event::NodeNotReady(ev::NodeNotReady {
        node_id: *node_id,
        silent_for_ms: *silent_for_ms,
    })])
}

pub(crate) fn mark_node_lost(state: &State, c: &cmd::MarkNodeLost) -> Decision {
    let cmd::MarkNodeLost {
        node_id,
        silent_for_ms,
        ..
    } = c;
    let n = registered(state, node_id)?;
    if n.condition == NodeCondition::Lost {
        return Ok(vec![]);
    }
    Ok(node_lost(state, n, *silent_for_ms))
}

pub(crate) fn uncordon_node(state: &State, c: &cmd::UncordonNode) -> Decision {
    let cmd::UncordonNode { node_id, .. } = c;
    let n = registered(state, node_id)?;
    if !n.unschedulable {
        return Ok(vec![]);
    }
    Ok(vec![Event::NodeUncordoned(ev::NodeUncordoned {
        node_id: *node_id,
    })])
}

pub(crate) fn set_node_taints(state: &State, c: &cmd::SetNodeTaints) -> Decision {
    let cmd::SetNodeTaints {
        node_id, taints, ..
    } = c;
    let n = registered(state, node_id)?;
    if n.spec.taints == *taints {
        return Ok(vec![]);
    }
    let mut seen = std::collections::HashSet::new();
    for t in taints {
        if t.key.is_empty() || !seen.insert((t.key.as_str(), t.effect)) {
            return reject(
                RejectionCode::ValidationFailed,
                format!(
                    "taints: key '{}' is empty or repeated for one effect",
                    t.key
                ),
            );
        }
    }
    Ok(vec![Event::NodeTaintsChanged(ev::NodeTaintsChanged {
        node_id: *node_id,
        taints: taints.clone(),
    })])
}

pub(crate) fn cordon_node(state: &State, c: &cmd::CordonNode) -> Decision {
    let cmd::CordonNode { node_id, .. } = c;
    cordon(state, node_id, false)
}

pub(crate) fn drain_node(state: &State, c: &cmd::DrainNode) -> Decision {
    let cmd::DrainNode { node_id, .. } = c;
    cordon(state, node_id, true)
}

/// Cordon (no new pods), and with `drain` evict every pod within the budgets.
fn cordon(state: &State, node_id: &NodeId, drain: bool) -> Decision {
    let n = registered(state, node_id)?;
    if n.unschedulable && (n.draining || !drain) {
        return Ok(vec![]);
    }
    Ok(vec![Event::NodeCordoned(ev::NodeCordoned {
        node_id: *node_id,
        drain,
    })])
}

/// The node a command names, or `404 NOT_FOUND`.
fn registered<'s>(state: &'s State, node_id: &NodeId) -> Result<&'s Node, Rejection> {
    state.nodes.get(node_id).ok_or_else(|| {
        Rejection::new(
            RejectionCode::NotFound,
            format!("node {node_id} is not registered"),
        )
    })
}

pub(crate) fn node_lost(state: &State, node: &Node, silent_for_ms: u64) -> Vec<Event> {
    let live: Vec<PodId> = node
        .pods
        .iter()
        .copied()
        .filter(|p| state.pods.get(p).is_some_and(|p| p.is_live()))
        .collect();
    let mut events = Vec::with_capacity(live.len() + 1);
    events.push(Event::NodeLost(ev::NodeLost {
        node_id: node.id,
        silent_for_ms,
        pods_failed: live.len() as u32,
    }));
    let mut usage = UsageTracker::default();
    for pod_id in live {
        let u = usage.release(state, &pod_id, Some(node.id));
        events.push(Event::PodFailed(ev::PodFailed {
            exit_code: None,
            pod_id,
            node_id: Some(node.id),
            cause: PodFailureCause::NodeLost,
            reason: format!(
                "NodeLost: node {} silent for {} ms",
                node.spec.name, silent_for_ms
            ),
            usage: u,
        }));
    }
    events
}
