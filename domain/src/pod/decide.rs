//! Deciding a pod's commands: create, bind, evict, delete, and what its node reports.

use crate::command as cmd;
use crate::event as ev;
use std::collections::HashMap;

use crate::decision::{Decision, UsageTracker, pod_on_node, reject};
use crate::event::{Event, EvictionCause, PodFailureCause};
use crate::model::{NodeUsage, PodPhase};
use crate::pod::owner::Owner;

use crate::rejection::RejectionCode;
use crate::scheduler::{self, inter_pod_affinity};
use crate::state::State;

pub(crate) fn report_pod_not_ready(state: &State, c: &cmd::ReportPodNotReady) -> Decision {
    let cmd::ReportPodNotReady {
        pod_id,
        node_id,
        reason,
        ..
    } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    if !pod.is_live() {
        return Ok(vec![]);
    }
    Ok(vec![Event::PodNotReady(ev::PodNotReady {
        pod_id: *pod_id,
        node_id: *node_id,
        reason: reason.to_string(),
    })])
}

pub(crate) fn report_pod_restarted(state: &State, c: &cmd::ReportPodRestarted) -> Decision {
    let cmd::ReportPodRestarted {
        pod_id,
        node_id,
        restarts,
        backoff_ms,
        reason,
        ..
    } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    if !pod.is_live() || pod.restarts >= *restarts {
        return Ok(vec![]);
    }
    Ok(vec![Event::PodRestarted(ev::PodRestarted {
        pod_id: *pod_id,
        node_id: *node_id,
        restarts: *restarts,
        backoff_ms: *backoff_ms,
        reason: reason.to_string(),
    })])
}

pub(crate) fn bind_pod(state: &State, c: &cmd::BindPod) -> Decision {
    let cmd::BindPod {
        pod_id,
        node_id,
        placement,
        preempt,
        ..
    } = c;
    let Some(pod) = state.pods.get(pod_id) else {
        return reject(RejectionCode::NotFound, format!("pod {pod_id} not found"));
    };
    if let Some(bound) = pod.node {
        return reject(
            RejectionCode::PodAlreadyBound,
            format!("pod {pod_id} is already bound to node {bound}"),
        );
    }
    if pod.phase != PodPhase::Pending {
        return reject(
            RejectionCode::PodNotPending,
            format!("pod {pod_id} is {}", pod.phase.as_str()),
        );
    }
    let Some(node) = state.nodes.get(node_id) else {
        return reject(RejectionCode::NotFound, format!("node {node_id} not found"));
    };
    // The owner's current template, as the scheduler placed it.
    let Some(w) = state.workload(pod.owner) else {
        return reject(
            RejectionCode::NotFound,
            format!("pod {pod_id} has no owner"),
        );
    };
    let template = w.template;
    let mut events = Vec::with_capacity(preempt.len() + 1);
    let mut usage = UsageTracker::default();
    let mut freed = (0i64, 0i64);
    if !preempt.is_empty() {
        let priority = template.effective_priority();
        let mut budgets: HashMap<Owner, u32> = HashMap::new();
        for victim_id in preempt {
            let victim = state
                .pods
                .get(victim_id)
                .filter(|v| v.is_live() && v.node == Some(*node_id));
            let Some(victim) = victim else {
                return reject(
                    RejectionCode::PreemptionInvalid,
                    format!("pod {victim_id} is not running on node {}", node.spec.name),
                );
            };
            let victim_priority = state.priority_of(victim);
            if victim_priority >= priority {
                return reject(
                    RejectionCode::PreemptionInvalid,
                    format!(
                        "pod {victim_id} has priority {victim_priority}, not lower than {priority}"
                    ),
                );
            }
            if victim.ready {
                let left = budgets
                    .entry(victim.owner)
                    .or_insert_with(|| state.disruptions_allowed_for(&victim.owner));
                if *left == 0 {
                    return reject(
                        RejectionCode::DisruptionBudgetExceeded,
                        format!(
                            "evicting pod {victim_id} would break its deployment's disruption budget"
                        ),
                    );
                }
                *left -= 1;
            }
            freed.0 -= victim.cpu_milli as i64;
            freed.1 -= victim.mem_mb as i64;
            let u = usage.release(state, victim_id, victim.node);
            events.push(Event::PodEvicted(ev::PodEvicted {
                pod_id: *victim_id,
                node_id: victim.node,
                cause: EvictionCause::Preemption {
                    preemptor: *pod_id,
                    preemptor_priority: priority,
                    victim_priority,
                },
                reason: format!(
                    "preempted by pod {pod_id} (priority {priority} > {victim_priority}) to make room on node {}",
                    node.spec.name
                ),
                usage: u,
            }));
        }
    }
    if let Err(r) = scheduler::run_filters(
        node,
        template,
        pod.cpu_milli as u64,
        pod.mem_mb as u64,
        freed,
    ) {
        let c = if r == scheduler::reason::NODE_NOT_READY {
            RejectionCode::NodeNotReady
        } else {
            RejectionCode::BindInfeasible
        };
        return reject(
            c,
            format!(
                "pod {pod_id} cannot be bound to node {}: {r}",
                node.spec.name
            ),
        );
    }
    if inter_pod_affinity::node_level_conflict(state, node, &w) {
        return reject(
            RejectionCode::BindInfeasible,
            format!(
                "pod {pod_id} cannot be bound to node {}: {}",
                node.spec.name,
                scheduler::reason::POD_ANTI_AFFINITY_VIOLATED
            ),
        );
    }
    let before = usage.current.get(node_id).copied().unwrap_or(node.usage());
    let usage = NodeUsage {
        node_id: *node_id,
        cpu_requested_milli: before.cpu_requested_milli + pod.cpu_milli as u64,
        mem_requested_mb: before.mem_requested_mb + pod.mem_mb as u64,
        pods: before.pods + 1,
    };
    let mut placement = placement.clone();
    placement.preempted = preempt.to_vec();
    events.push(Event::PodBound(ev::PodBound {
        pod_id: *pod_id,
        node_id: *node_id,
        usage,
        placement,
    }));
    Ok(events)
}

pub(crate) fn mark_pod_unschedulable(state: &State, c: &cmd::MarkPodUnschedulable) -> Decision {
    let cmd::MarkPodUnschedulable {
        pod_id,
        nodes_total,
        filtered,
        ..
    } = c;
    match state.pods.get(pod_id) {
        Some(p) if p.node.is_none() && p.phase == PodPhase::Pending => {
            Ok(vec![Event::PodUnschedulable(ev::PodUnschedulable {
                pod_id: *pod_id,
                nodes_total: *nodes_total,
                filtered: filtered.clone(),
            })])
        }
        _ => Ok(vec![]),
    }
}

pub(crate) fn evict_pod(state: &State, c: &cmd::EvictPod) -> Decision {
    let cmd::EvictPod {
        pod_id,
        cause,
        reason,
        respect_budget,
        ..
    } = c;
    let Some(pod) = state.pods.get(pod_id) else {
        return reject(RejectionCode::NotFound, format!("pod {pod_id} not found"));
    };
    if !pod.is_live() {
        return Ok(vec![]);
    }
    if *respect_budget
        && pod.ready
        && let Some(d) = pod
            .owner
            .deployment()
            .and_then(|d| state.deployments.get(&d))
        && state.disruptions_allowed(d) == 0
    {
        return reject(
            RejectionCode::DisruptionBudgetExceeded,
            format!(
                "evicting pod {pod_id} would leave deployment {} with fewer available pods than its disruption budget allows",
                d.spec.name
            ),
        );
    }
    let usage = UsageTracker::default().release(state, pod_id, pod.node);
    Ok(vec![Event::PodEvicted(ev::PodEvicted {
        pod_id: *pod_id,
        node_id: pod.node,
        cause: cause.clone(),
        reason: reason.to_string(),
        usage,
    })])
}

pub(crate) fn report_pod_started(state: &State, c: &cmd::ReportPodStarted) -> Decision {
    let cmd::ReportPodStarted {
        pod_id,
        node_id,
        address,
        ..
    } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    let started = match pod.phase {
        PodPhase::Pending => true,
        // Restarted elsewhere (a new port after an agent restart).
        PodPhase::Running => address.is_some() && state.addresses.get(pod_id) != address.as_ref(),
        _ => false,
    };
    if !started {
        return Ok(vec![]);
    }
    Ok(vec![Event::PodStarted(ev::PodStarted {
        pod_id: *pod_id,
        node_id: *node_id,
        address: address.clone(),
    })])
}

pub(crate) fn report_pod_ready(state: &State, c: &cmd::ReportPodReady) -> Decision {
    let cmd::ReportPodReady {
        pod_id, node_id, ..
    } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    match (pod.phase, pod.ready) {
        (PodPhase::Running, false) => Ok(vec![Event::PodReady(ev::PodReady {
            pod_id: *pod_id,
            node_id: *node_id,
        })]),
        (PodPhase::Running, true) => Ok(vec![]),
        (phase, _) => reject(
            RejectionCode::PodNotPending,
            format!("pod {pod_id} is {}", phase.as_str()),
        ),
    }
}

pub(crate) fn report_pod_failed(state: &State, c: &cmd::ReportPodFailed) -> Decision {
    let cmd::ReportPodFailed {
        pod_id,
        node_id,
        reason,
        exit_code,
    } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    if !pod.is_live() {
        return Ok(vec![]);
    }
    let mut tracker = UsageTracker::default();
    let usage = tracker.release(state, pod_id, pod.node);
    let mut events = vec![Event::PodFailed(ev::PodFailed {
        pod_id: *pod_id,
        node_id: Some(*node_id),
        cause: PodFailureCause::Container,
        reason: reason.to_string(),
        usage,
        exit_code: *exit_code,
    })];
    events.extend(crate::owners::after_pod_exit(
        state,
        pod,
        *exit_code,
        false,
        &mut tracker,
    ));
    Ok(events)
}

pub(crate) fn report_pod_succeeded(state: &State, c: &cmd::ReportPodSucceeded) -> Decision {
    let cmd::ReportPodSucceeded { pod_id, node_id } = c;
    let pod = pod_on_node(state, pod_id, node_id)?;
    if !pod.is_live() {
        return Ok(vec![]);
    }
    let mut tracker = UsageTracker::default();
    let usage = tracker.release(state, pod_id, pod.node);
    let mut events = vec![Event::PodSucceeded(ev::PodSucceeded {
        pod_id: *pod_id,
        node_id: *node_id,
        usage,
    })];
    events.extend(crate::owners::after_pod_exit(
        state,
        pod,
        Some(0),
        true,
        &mut tracker,
    ));
    Ok(events)
}

pub(crate) fn delete_pod(state: &State, c: &cmd::DeletePod) -> Decision {
    let cmd::DeletePod {
        pod_id,
        reason,
        only_if_surplus,
        keep_ready,
        respect_budget,
        ..
    } = c;
    let Some(pod) = state.pods.get(pod_id) else {
        return Ok(vec![]);
    };
    // A set's ordinal below `replicas` is never surplus (a scale-down asked on a stale view).
    if pod.is_live()
        && *only_if_surplus
        && let Some(s) = pod
            .owner
            .stateful_set()
            .and_then(|s| state.stateful_sets.get(&s))
        && pod.ordinal < s.spec.replicas as u64
    {
        return Ok(vec![]);
    }
    if pod.is_live()
        && let Some(d) = pod
            .owner
            .deployment()
            .and_then(|d| state.deployments.get(&d))
    {
        if *only_if_surplus && state.live_pod_count(d) <= d.spec.replicas {
            return Ok(vec![]);
        }
        if pod.ready {
            let ready = state.live_pods(d).filter(|p| p.ready).count() as u32;
            if keep_ready.is_some_and(|k| ready <= k) {
                return Ok(vec![]);
            }
            if *respect_budget && state.disruptions_allowed(d) == 0 {
                return reject(
                    RejectionCode::DisruptionBudgetExceeded,
                    format!(
                        "deleting pod {pod_id} would break the disruption budget of {}",
                        d.spec.name
                    ),
                );
            }
        }
    }
    let usage = UsageTracker::default().release(state, pod_id, pod.node);
    Ok(vec![Event::PodDeleted(ev::PodDeleted {
        pod_id: *pod_id,
        reason: reason.to_string(),
        usage,
    })])
}
