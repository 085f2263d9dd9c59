//! `decide(&State, &Command) -> Result<Vec<Event>, Rejection>`: every rule
//! of the write side. `Ok(vec![])` means "already done": a duplicate or a
//! request made on a stale view, dropped without a trace.

use std::collections::HashMap;

use crate::command::Command;
use crate::command::TemplatePatch;
use crate::event::{Event, EvictionCause, PodFailureCause, RolloutTrigger};
use crate::ids::{DeploymentId, NodeId, PodId};
use crate::model::{
    DeploymentSpec, LabelRequirement, NodeCondition, NodeUsage, PodAffinityTerm, PodPhase,
    SelectorOperator, TaintEffect, priority_of_class,
};
use crate::names::{FieldError, check_labels};
pub use crate::rejection::{Rejection, RejectionCode};
use crate::scheduler::{self, Topology, inter_pod_affinity, statically_feasible};
use crate::state::{Node, State};

/// Most replicas one deployment may ask for.
pub const MAX_REPLICAS: u32 = 100_000;

fn reject(code: RejectionCode, message: impl Into<String>) -> Result<Vec<Event>, Rejection> {
    Err(Rejection {
        code,
        message: message.into(),
    })
}

pub fn decide(state: &State, command: &Command) -> Result<Vec<Event>, Rejection> {
    match command {
        Command::RegisterNode { node_id, spec } => {
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
                Some(n) if n.spec == spec => Ok(vec![Event::NodeReady { node_id: n.id }]),
                _ => Ok(vec![Event::NodeRegistered {
                    node_id: *node_id,
                    spec,
                }]),
            }
        }
        Command::MarkNodeReady { node_id } => match state.nodes.get(node_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("node {node_id} is not registered"),
            ),
            Some(n) if n.condition == NodeCondition::Ready => Ok(vec![]),
            Some(_) => Ok(vec![Event::NodeReady { node_id: *node_id }]),
        },
        Command::MarkNodeNotReady {
            node_id,
            silent_for_ms,
        } => match state.nodes.get(node_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("node {node_id} is not registered"),
            ),
            Some(n) if n.condition != NodeCondition::Ready => Ok(vec![]),
            Some(_) => Ok(vec![Event::NodeNotReady {
                node_id: *node_id,
                silent_for_ms: *silent_for_ms,
            }]),
        },
        Command::MarkNodeLost {
            node_id,
            silent_for_ms,
        } => match state.nodes.get(node_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("node {node_id} is not registered"),
            ),
            Some(n) if n.condition == NodeCondition::Lost => Ok(vec![]),
            Some(n) => Ok(node_lost(state, n, *silent_for_ms)),
        },
        Command::CreateDeployment {
            deployment_id,
            spec,
        } => {
            if state.deployments.contains_key(deployment_id) {
                return reject(
                    RejectionCode::AlreadyExists,
                    format!("deployment {deployment_id} already exists"),
                );
            }
            if state
                .deployment_by_name(spec.namespace.as_str(), spec.name.as_str())
                .is_some()
            {
                return reject(
                    RejectionCode::AlreadyExists,
                    format!(
                        "deployment '{}' already exists in namespace '{}'",
                        spec.name, spec.namespace
                    ),
                );
            }
            validate_spec(spec)?;
            check_capacity(state, spec, spec.replicas)?;
            Ok(vec![Event::DeploymentCreated {
                deployment_id: *deployment_id,
                spec: spec.clone(),
                revision: 1,
            }])
        }
        Command::ScaleDeployment {
            deployment_id,
            replicas,
        } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return reject(
                    RejectionCode::NotFound,
                    format!("deployment {deployment_id} not found"),
                );
            };
            if *replicas > MAX_REPLICAS {
                return reject(
                    RejectionCode::ValidationFailed,
                    format!("replicas must be at most {MAX_REPLICAS}"),
                );
            }
            if *replicas > d.spec.replicas {
                check_capacity(state, &d.spec, *replicas)?;
            }
            Ok(vec![Event::DeploymentScaled {
                deployment_id: *deployment_id,
                from: d.spec.replicas,
                to: *replicas,
            }])
        }
        Command::DeleteDeployment { deployment_id } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return reject(
                    RejectionCode::NotFound,
                    format!("deployment {deployment_id} not found"),
                );
            };
            let mut events = Vec::with_capacity(d.pods.len() + 2);
            // A rollout in progress ends with the deployment, not silently.
            if let Some(r) = &d.rollout {
                events.push(Event::RolloutFailed {
                    deployment_id: *deployment_id,
                    rollout: r.number,
                    reason: "deployment deleted".into(),
                });
            }
            let mut usage = UsageTracker::default();
            for pod_id in &d.pods {
                let pod = &state.pods[pod_id];
                let u = usage.release(state, pod_id, pod.node);
                events.push(Event::PodDeleted {
                    pod_id: *pod_id,
                    reason: "deployment deleted".into(),
                    usage: u,
                });
            }
            events.push(Event::DeploymentDeleted {
                deployment_id: *deployment_id,
                namespace: d.spec.namespace.clone(),
                name: d.spec.name.clone(),
            });
            Ok(events)
        }
        Command::UndeleteDeployment { namespace, name } => {
            if state
                .deployment_by_name(namespace.as_str(), name.as_str())
                .is_some()
            {
                return reject(
                    RejectionCode::AlreadyExists,
                    format!(
                        "deployment '{name}' exists in namespace '{namespace}': delete it first"
                    ),
                );
            }
            let Some(d) = state.deleted.get(&format!("{namespace}/{name}")) else {
                return reject(
                    RejectionCode::NotFound,
                    format!("no deleted deployment '{name}' in namespace '{namespace}'"),
                );
            };
            check_capacity(state, &d.spec, d.spec.replicas)?;
            Ok(vec![Event::DeploymentUndeleted {
                deployment_id: d.id,
                spec: d.spec.clone(),
                revision: d.revision,
            }])
        }
        Command::CreatePod {
            deployment_id,
            ordinal,
            revision,
        } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return Ok(vec![]);
            };
            let revision = revision.unwrap_or(d.revision);
            let Some(template) = d.template(revision) else {
                return Ok(vec![]);
            };
            // A rollout may surge above the replicas; otherwise never.
            let mixed = d.rollout.is_some() || d.live_other_revision > 0;
            let cap = d.spec.replicas + if mixed { d.spec.strategy.max_surge } else { 0 };
            if *ordinal != d.next_ordinal || state.live_pod_count(d) >= cap {
                return Ok(vec![]);
            }
            let pod_id = PodId::for_ordinal(*deployment_id, *ordinal);
            Ok(vec![Event::PodCreated {
                pod_id,
                deployment_id: *deployment_id,
                namespace: d.spec.namespace.clone(),
                name: format!("{}-{}", d.spec.name, ordinal),
                ordinal: *ordinal,
                image: template.image.clone(),
                resources: template.resources,
                revision,
            }])
        }
        Command::UpdateDeployment {
            deployment_id,
            patch,
        } => update_deployment(state, deployment_id, patch),
        Command::RollbackDeployment {
            deployment_id,
            revision,
            automatic,
            rollout,
            reason,
        } => rollback(
            state,
            deployment_id,
            *revision,
            *automatic,
            *rollout,
            reason,
        ),
        Command::AbortRollout {
            deployment_id,
            reason,
        } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return reject(
                    RejectionCode::NotFound,
                    format!("deployment {deployment_id} not found"),
                );
            };
            let Some(r) = &d.rollout else {
                return reject(
                    RejectionCode::NoRolloutInProgress,
                    format!("deployment {} has no rollout in progress", d.spec.name),
                );
            };
            rollback(state, deployment_id, r.from, false, None, reason)
        }
        Command::PauseRollout { deployment_id }
        | Command::ResumeRollout { deployment_id }
        | Command::PromoteRollout { deployment_id } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return reject(
                    RejectionCode::NotFound,
                    format!("deployment {deployment_id} not found"),
                );
            };
            let Some(r) = &d.rollout else {
                return reject(
                    RejectionCode::NoRolloutInProgress,
                    format!("deployment {} has no rollout in progress", d.spec.name),
                );
            };
            let (deployment_id, rollout) = (*deployment_id, r.number);
            Ok(match command {
                Command::PauseRollout { .. } if !r.paused => vec![Event::RolloutPaused {
                    deployment_id,
                    rollout,
                }],
                Command::ResumeRollout { .. } if r.paused => vec![Event::RolloutResumed {
                    deployment_id,
                    rollout,
                }],
                Command::PromoteRollout { .. } => {
                    if r.canary.is_none() {
                        return reject(
                            RejectionCode::NotACanary,
                            format!("rollout {rollout} of {} is not a canary", d.spec.name),
                        );
                    }
                    vec![Event::RolloutPromoted {
                        deployment_id,
                        rollout,
                    }]
                }
                _ => vec![],
            })
        }
        Command::CompleteRollout {
            deployment_id,
            rollout,
        } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return Ok(vec![]);
            };
            let Some(r) = d.rollout.as_ref().filter(|r| r.number == *rollout) else {
                return Ok(vec![]);
            };
            let (mut ready, mut other) = (0u32, 0u32);
            for p in state.live_pods(d) {
                if p.revision != r.to {
                    other += 1;
                } else if p.ready {
                    ready += 1;
                }
            }
            if r.canary.is_some() || other > 0 || ready < d.spec.replicas {
                return Ok(vec![]);
            }
            Ok(vec![Event::RolloutSucceeded {
                deployment_id: *deployment_id,
                rollout: r.number,
                from: r.from,
                to: r.to,
            }])
        }
        Command::FailRollout {
            deployment_id,
            rollout,
            reason,
        } => {
            let Some(d) = state.deployments.get(deployment_id) else {
                return Ok(vec![]);
            };
            if d.rollout.as_ref().map(|r| r.number) != Some(*rollout) {
                return Ok(vec![]);
            }
            Ok(vec![Event::RolloutFailed {
                deployment_id: *deployment_id,
                rollout: *rollout,
                reason: reason.clone(),
            }])
        }
        Command::CreateService { service_id, spec } => {
            if state.services.contains_key(service_id)
                || state
                    .service_by_name(spec.namespace.as_str(), spec.name.as_str())
                    .is_some()
            {
                return reject(
                    RejectionCode::AlreadyExists,
                    format!(
                        "service '{}' already exists in namespace '{}'",
                        spec.name, spec.namespace
                    ),
                );
            }
            let mut errors = Vec::new();
            if spec.selector.is_empty() {
                errors.push(FieldError::new(
                    "selector",
                    "must select at least one label",
                ));
            }
            check_labels("selector", &spec.selector, &mut errors);
            if let Some(h) = &spec.host
                && (h.is_empty()
                    || h.len() > 253
                    || !h
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
            {
                errors.push(FieldError::new("host", "must be a DNS name"));
            }
            if !spec.path_prefix.starts_with('/') {
                errors.push(FieldError::new("pathPrefix", "must start with '/'"));
            }
            if !errors.is_empty() {
                return Err(validation(&errors));
            }
            Ok(vec![Event::ServiceCreated {
                service_id: *service_id,
                spec: spec.clone(),
            }])
        }
        Command::DeleteService { service_id } => match state.services.get(service_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("service {service_id} not found"),
            ),
            Some(s) => Ok(vec![Event::ServiceDeleted {
                service_id: *service_id,
                namespace: s.spec.namespace.clone(),
                name: s.spec.name.clone(),
            }]),
        },
        Command::ReportPodNotReady {
            pod_id,
            node_id,
            reason,
        } => {
            let pod = pod_on_node(state, pod_id, node_id)?;
            if !pod.is_live() {
                return Ok(vec![]);
            }
            Ok(vec![Event::PodNotReady {
                pod_id: *pod_id,
                node_id: *node_id,
                reason: reason.clone(),
            }])
        }
        Command::ReportPodRestarted {
            pod_id,
            node_id,
            restarts,
            backoff_ms,
            reason,
        } => {
            let pod = pod_on_node(state, pod_id, node_id)?;
            if !pod.is_live() || pod.restarts >= *restarts {
                return Ok(vec![]);
            }
            Ok(vec![Event::PodRestarted {
                pod_id: *pod_id,
                node_id: *node_id,
                restarts: *restarts,
                backoff_ms: *backoff_ms,
                reason: reason.clone(),
            }])
        }
        Command::BindPod {
            pod_id,
            node_id,
            placement,
            preempt,
        } => {
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
            let spec = &state.deployments[&pod.deployment].spec;
            let mut events = Vec::with_capacity(preempt.len() + 1);
            let mut usage = UsageTracker::default();
            let mut freed = (0i64, 0i64);
            if !preempt.is_empty() {
                let priority = spec.effective_priority();
                let mut budgets: HashMap<DeploymentId, u32> = HashMap::new();
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
                            .entry(victim.deployment)
                            .or_insert_with(|| state.disruptions_allowed_for(&victim.deployment));
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
                    events.push(Event::PodEvicted {
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
                    });
                }
            }
            if let Err(r) =
                scheduler::run_filters(node, spec, pod.cpu_milli as u64, pod.mem_mb as u64, freed)
            {
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
            if inter_pod_affinity::node_level_conflict(state, node, spec) {
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
            placement.preempted = preempt.clone();
            events.push(Event::PodBound {
                pod_id: *pod_id,
                node_id: *node_id,
                usage,
                placement,
            });
            Ok(events)
        }
        Command::MarkPodUnschedulable {
            pod_id,
            nodes_total,
            filtered,
        } => match state.pods.get(pod_id) {
            Some(p) if p.node.is_none() && p.phase == PodPhase::Pending => {
                Ok(vec![Event::PodUnschedulable {
                    pod_id: *pod_id,
                    nodes_total: *nodes_total,
                    filtered: filtered.clone(),
                }])
            }
            _ => Ok(vec![]),
        },
        Command::EvictPod {
            pod_id,
            cause,
            reason,
            respect_budget,
        } => {
            let Some(pod) = state.pods.get(pod_id) else {
                return reject(RejectionCode::NotFound, format!("pod {pod_id} not found"));
            };
            if !pod.is_live() {
                return Ok(vec![]);
            }
            if *respect_budget
                && pod.ready
                && let Some(d) = state.deployments.get(&pod.deployment)
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
            Ok(vec![Event::PodEvicted {
                pod_id: *pod_id,
                node_id: pod.node,
                cause: cause.clone(),
                reason: reason.clone(),
                usage,
            }])
        }
        Command::CordonNode { node_id } | Command::DrainNode { node_id } => {
            let drain = matches!(command, Command::DrainNode { .. });
            match state.nodes.get(node_id) {
                None => reject(
                    RejectionCode::NotFound,
                    format!("node {node_id} is not registered"),
                ),
                Some(n) if n.unschedulable && (n.draining || !drain) => Ok(vec![]),
                Some(_) => Ok(vec![Event::NodeCordoned {
                    node_id: *node_id,
                    drain,
                }]),
            }
        }
        Command::UncordonNode { node_id } => match state.nodes.get(node_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("node {node_id} is not registered"),
            ),
            Some(n) if !n.unschedulable => Ok(vec![]),
            Some(_) => Ok(vec![Event::NodeUncordoned { node_id: *node_id }]),
        },
        Command::SetNodeTaints { node_id, taints } => match state.nodes.get(node_id) {
            None => reject(
                RejectionCode::NotFound,
                format!("node {node_id} is not registered"),
            ),
            Some(n) if n.spec.taints == *taints => Ok(vec![]),
            Some(_) => {
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
                Ok(vec![Event::NodeTaintsChanged {
                    node_id: *node_id,
                    taints: taints.clone(),
                }])
            }
        },
        Command::ReportPodStarted {
            pod_id,
            node_id,
            address,
        } => {
            let pod = pod_on_node(state, pod_id, node_id)?;
            match pod.phase {
                PodPhase::Pending => Ok(vec![Event::PodStarted {
                    pod_id: *pod_id,
                    node_id: *node_id,
                    address: address.clone(),
                }]),
                // Restarted elsewhere (a new port after an agent restart).
                PodPhase::Running
                    if address.is_some() && state.addresses.get(pod_id) != address.as_ref() =>
                {
                    Ok(vec![Event::PodStarted {
                        pod_id: *pod_id,
                        node_id: *node_id,
                        address: address.clone(),
                    }])
                }
                _ => Ok(vec![]),
            }
        }
        Command::ReportPodReady { pod_id, node_id } => {
            let pod = pod_on_node(state, pod_id, node_id)?;
            match (pod.phase, pod.ready) {
                (PodPhase::Running, false) => Ok(vec![Event::PodReady {
                    pod_id: *pod_id,
                    node_id: *node_id,
                }]),
                (PodPhase::Running, true) => Ok(vec![]),
                (phase, _) => reject(
                    RejectionCode::PodNotPending,
                    format!("pod {pod_id} is {}", phase.as_str()),
                ),
            }
        }
        Command::ReportPodFailed {
            pod_id,
            node_id,
            reason,
        } => {
            let pod = pod_on_node(state, pod_id, node_id)?;
            if !pod.is_live() {
                return Ok(vec![]);
            }
            let usage = UsageTracker::default().release(state, pod_id, pod.node);
            Ok(vec![Event::PodFailed {
                pod_id: *pod_id,
                node_id: Some(*node_id),
                cause: PodFailureCause::Container,
                reason: reason.clone(),
                usage,
            }])
        }
        Command::DeletePod {
            pod_id,
            reason,
            only_if_surplus,
            keep_ready,
            respect_budget,
        } => {
            let Some(pod) = state.pods.get(pod_id) else {
                return Ok(vec![]);
            };
            if pod.is_live() {
                let Some(d) = state.deployments.get(&pod.deployment) else {
                    return Ok(vec![]);
                };
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
            Ok(vec![Event::PodDeleted {
                pod_id: *pod_id,
                reason: reason.clone(),
                usage,
            }])
        }
    }
}

fn pod_on_node<'s>(
    state: &'s State,
    pod_id: &PodId,
    node_id: &NodeId,
) -> Result<&'s crate::state::Pod, Rejection> {
    let Some(pod) = state.pods.get(pod_id) else {
        return Err(Rejection {
            code: RejectionCode::NotFound,
            message: format!("pod {pod_id} not found"),
        });
    };
    if pod.node != Some(*node_id) {
        return Err(Rejection {
            code: RejectionCode::PodNotOnNode,
            message: format!("pod {pod_id} is not bound to node {node_id}"),
        });
    }
    Ok(pod)
}

/// Node usage as a sequence of releases lowers it, one event at a time.
#[derive(Default)]
struct UsageTracker {
    current: std::collections::HashMap<NodeId, NodeUsage>,
}

impl UsageTracker {
    fn release(
        &mut self,
        state: &State,
        pod_id: &PodId,
        node: Option<NodeId>,
    ) -> Option<NodeUsage> {
        let node_id = node?;
        let node = state.nodes.get(&node_id)?;
        let pod = state.pods.get(pod_id)?;
        let u = self.current.entry(node_id).or_insert_with(|| node.usage());
        u.cpu_requested_milli = u.cpu_requested_milli.saturating_sub(pod.cpu_milli as u64);
        u.mem_requested_mb = u.mem_requested_mb.saturating_sub(pod.mem_mb as u64);
        u.pods = u.pods.saturating_sub(1);
        Some(*u)
    }
}

fn node_lost(state: &State, node: &Node, silent_for_ms: u64) -> Vec<Event> {
    let live: Vec<PodId> = node
        .pods
        .iter()
        .copied()
        .filter(|p| state.pods.get(p).is_some_and(|p| p.is_live()))
        .collect();
    let mut events = Vec::with_capacity(live.len() + 1);
    events.push(Event::NodeLost {
        node_id: node.id,
        silent_for_ms,
        pods_failed: live.len() as u32,
    });
    let mut usage = UsageTracker::default();
    for pod_id in live {
        let u = usage.release(state, &pod_id, Some(node.id));
        events.push(Event::PodFailed {
            pod_id,
            node_id: Some(node.id),
            cause: PodFailureCause::NodeLost,
            reason: format!(
                "NodeLost: node {} silent for {} ms",
                node.spec.name, silent_for_ms
            ),
            usage: u,
        });
    }
    events
}

fn check_selector_terms(prefix: &str, exprs: &[LabelRequirement], errors: &mut Vec<FieldError>) {
    for (i, r) in exprs.iter().enumerate() {
        let f = format!("{prefix}.matchExpressions[{i}]");
        let ok = match r.operator {
            SelectorOperator::In | SelectorOperator::NotIn => !r.values.is_empty(),
            SelectorOperator::Exists | SelectorOperator::DoesNotExist => r.values.is_empty(),
            SelectorOperator::Gt | SelectorOperator::Lt => {
                r.values.len() == 1 && r.values[0].parse::<i64>().is_ok()
            }
        };
        if r.key.is_empty() {
            errors.push(FieldError::new(format!("{f}.key"), "must not be empty"));
        }
        if !ok {
            errors.push(FieldError::new(
                format!("{f}.values"),
                "In/NotIn need values, Exists/DoesNotExist none, Gt/Lt one integer",
            ));
        }
    }
}

fn check_topology_key(field: &str, key: &str, errors: &mut Vec<FieldError>) {
    if Topology::parse(key).is_none() {
        errors.push(FieldError::new(
            field,
            format!(
                "'{key}' is not supported; use {} or {}",
                crate::model::HOSTNAME_LABEL,
                crate::model::ZONE_LABEL
            ),
        ));
    }
}

fn check_pod_term(field: &str, t: &PodAffinityTerm, errors: &mut Vec<FieldError>) {
    check_topology_key(&format!("{field}.topologyKey"), &t.topology_key, errors);
    if t.label_selector.is_empty() {
        errors.push(FieldError::new(
            format!("{field}.labelSelector"),
            "must select at least one label",
        ));
    }
    check_labels(&format!("{field}.labelSelector"), &t.label_selector, errors);
}

fn check_weight(field: String, w: u32, errors: &mut Vec<FieldError>) {
    if !(1..=100).contains(&w) {
        errors.push(FieldError::new(field, "must be between 1 and 100"));
    }
}

/// Field-by-field problems with the scheduling parts of a template (labels,
/// affinity, spread, priority, disruption budget); the API reports them as 422.
pub fn scheduling_errors(spec: &DeploymentSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_labels("labels", &spec.labels, &mut errors);
    if let Some(c) = &spec.priority_class_name {
        match priority_of_class(c) {
            None => errors.push(FieldError::new(
                "priorityClassName",
                format!(
                    "'{c}' is not a priority class; use one of {}",
                    crate::model::PRIORITY_CLASSES
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(p) if spec.priority != 0 && spec.priority != p => errors.push(FieldError::new(
                "priority",
                format!("conflicts with priorityClassName '{c}' ({p})"),
            )),
            Some(_) => {}
        }
    }
    for (i, t) in spec.tolerations.iter().enumerate() {
        if t.toleration_seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
            errors.push(FieldError::new(
                format!("tolerations[{i}].tolerationSeconds"),
                "only applies to effect NoExecute",
            ));
        }
    }
    if let Some(na) = spec.node_affinity() {
        for (i, t) in na.required.iter().enumerate() {
            check_selector_terms(
                &format!("affinity.nodeAffinity.required[{i}]"),
                &t.match_expressions,
                &mut errors,
            );
        }
        for (i, p) in na.preferred.iter().enumerate() {
            let f = format!("affinity.nodeAffinity.preferred[{i}]");
            check_weight(format!("{f}.weight"), p.weight, &mut errors);
            check_selector_terms(
                &format!("{f}.preference"),
                &p.preference.match_expressions,
                &mut errors,
            );
        }
    }
    for (name, a) in [
        ("podAffinity", spec.pod_affinity()),
        ("podAntiAffinity", spec.pod_anti_affinity()),
    ] {
        let Some(a) = a else { continue };
        for (i, t) in a.required.iter().enumerate() {
            check_pod_term(&format!("affinity.{name}.required[{i}]"), t, &mut errors);
        }
        for (i, w) in a.preferred.iter().enumerate() {
            let f = format!("affinity.{name}.preferred[{i}]");
            check_weight(format!("{f}.weight"), w.weight, &mut errors);
            check_pod_term(
                &format!("{f}.podAffinityTerm"),
                &w.pod_affinity_term,
                &mut errors,
            );
        }
    }
    for (i, c) in spec.topology_spread_constraints.iter().enumerate() {
        let f = format!("topologySpreadConstraints[{i}]");
        if c.max_skew == 0 {
            errors.push(FieldError::new(
                format!("{f}.maxSkew"),
                "must be at least 1",
            ));
        }
        check_topology_key(&format!("{f}.topologyKey"), &c.topology_key, &mut errors);
        check_labels(
            &format!("{f}.labelSelector"),
            &c.label_selector,
            &mut errors,
        );
    }
    if let Some(b) = spec.disruption_budget
        && b.min_available.is_some() == b.max_unavailable.is_some()
    {
        errors.push(FieldError::new(
            "disruptionBudget",
            "give exactly one of minAvailable and maxUnavailable",
        ));
    }
    errors
}

fn validation(errors: &[FieldError]) -> Rejection {
    Rejection {
        code: RejectionCode::ValidationFailed,
        message: errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// Roll back to `revision`: the running rollout (if any) is stopped as
/// ROLLED_BACK and a rollout to `revision` starts, in one batch.
fn rollback(
    state: &State,
    deployment_id: &DeploymentId,
    revision: u64,
    automatic: bool,
    rollout: Option<u64>,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    let Some(d) = state.deployments.get(deployment_id) else {
        return reject(
            RejectionCode::NotFound,
            format!("deployment {deployment_id} not found"),
        );
    };
    if automatic && d.rollout.as_ref().map(|r| r.number) != rollout {
        return Ok(vec![]);
    }
    if d.template(revision).is_none() || revision == 0 {
        return reject(
            RejectionCode::RevisionNotFound,
            format!(
                "deployment {} has no revision {revision} (revisions 1 to {})",
                d.spec.name,
                d.latest_revision()
            ),
        );
    }
    if revision == d.revision && d.rollout.is_none() {
        return Ok(vec![]);
    }
    let mut events = Vec::with_capacity(2);
    if let Some(r) = &d.rollout {
        events.push(Event::RolloutRolledBack {
            deployment_id: *deployment_id,
            rollout: r.number,
            from: r.to,
            to: revision,
            automatic,
            reason: reason.to_string(),
        });
    }
    events.push(Event::RolloutStarted {
        deployment_id: *deployment_id,
        rollout: d.rollouts + 1,
        from: d.revision,
        to: revision,
        trigger: if automatic {
            RolloutTrigger::AutoRollback
        } else {
            RolloutTrigger::Rollback
        },
        canary: None,
    });
    Ok(events)
}

/// A `PATCH`: strategy changes apply at once; template changes record a
/// new revision and start a rollout (refused while one runs).
fn update_deployment(
    state: &State,
    deployment_id: &DeploymentId,
    patch: &TemplatePatch,
) -> Result<Vec<Event>, Rejection> {
    let Some(d) = state.deployments.get(deployment_id) else {
        return reject(
            RejectionCode::NotFound,
            format!("deployment {deployment_id} not found"),
        );
    };
    let mut spec = d.spec.clone();
    if let Some(v) = &patch.image {
        spec.image = v.clone();
    }
    if let Some(v) = &patch.command {
        spec.command = v.clone();
    }
    if let Some(v) = &patch.args {
        spec.args = v.clone();
    }
    if let Some(v) = &patch.env {
        spec.env = v.clone();
    }
    if let Some(v) = patch.resources {
        spec.resources = v;
    }
    if let Some(v) = &patch.labels {
        spec.labels = v.clone();
    }
    if let Some(v) = &patch.readiness_probe {
        spec.readiness_probe = v.clone();
    }
    if let Some(v) = &patch.liveness_probe {
        spec.liveness_probe = v.clone();
    }
    if let Some(v) = &patch.startup_probe {
        spec.startup_probe = v.clone();
    }
    // Merged with the strategy the deployment has now, not one a client read.
    let strategy = patch
        .strategy
        .map_or(spec.strategy, |p| p.apply(spec.strategy));
    spec.strategy = d.spec.strategy;
    let budget = patch.disruption_budget.unwrap_or(d.spec.disruption_budget);
    let template_changed = spec != d.spec;
    if patch.canary.is_some() && !template_changed {
        return reject(
            RejectionCode::ValidationFailed,
            "canary: only a template change (image, command, args, env, resources, labels, probes) starts a canary",
        );
    }
    if template_changed && let Some(r) = &d.rollout {
        return reject(
            RejectionCode::RolloutInProgress,
            format!(
                "deployment {} is rolling out revision {} (rollout {}); wait for it, pause it, or roll back",
                d.spec.name, r.to, r.number
            ),
        );
    }
    // The probes and the strategy are checked with the rest of the spec below.
    let mut errors = Vec::new();
    if let Some(c) = patch.canary
        && (c.replicas.is_some() == c.percent.is_some()
            || c.replicas == Some(0)
            || c.percent.is_some_and(|p| p == 0 || p > 100))
    {
        errors.push(FieldError::new(
            "canary",
            "give exactly one of replicas (≥ 1) and percent (1–100)",
        ));
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let mut probe = spec.clone();
    probe.strategy = strategy;
    probe.disruption_budget = budget;
    validate_spec(&probe)?;
    if patch.resources.is_some() {
        check_capacity(state, &spec, spec.replicas)?;
    }
    let mut events = Vec::new();
    if strategy != d.spec.strategy {
        events.push(Event::DeploymentStrategyChanged {
            deployment_id: *deployment_id,
            strategy,
        });
    }
    if budget != d.spec.disruption_budget {
        events.push(Event::DeploymentBudgetChanged {
            deployment_id: *deployment_id,
            budget,
        });
    }
    if template_changed {
        let revision = d.latest_revision() + 1;
        events.push(Event::DeploymentRevisionCreated {
            deployment_id: *deployment_id,
            revision,
            spec,
        });
        events.push(Event::RolloutStarted {
            deployment_id: *deployment_id,
            rollout: d.rollouts + 1,
            from: d.revision,
            to: revision,
            trigger: RolloutTrigger::Update,
            canary: patch.canary.map(|c| c.pods(d.spec.replicas)),
        });
    }
    Ok(events)
}

fn probe_errors(spec: &DeploymentSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, probe) in [
        ("readinessProbe", &spec.readiness_probe),
        ("livenessProbe", &spec.liveness_probe),
        ("startupProbe", &spec.startup_probe),
    ] {
        let Some(p) = probe else { continue };
        let actions =
            p.http_get.is_some() as u8 + p.tcp_socket.is_some() as u8 + p.exec.is_some() as u8;
        if actions != 1 {
            errors.push(FieldError::new(
                field,
                "give exactly one of httpGet, tcpSocket and exec",
            ));
        }
        if let Some(h) = &p.http_get
            && !h.path.starts_with('/')
        {
            errors.push(FieldError::new(
                format!("{field}.httpGet.path"),
                "must start with '/'",
            ));
        }
        if let Some(e) = &p.exec
            && e.command.is_empty()
        {
            errors.push(FieldError::new(
                format!("{field}.exec.command"),
                "must not be empty",
            ));
        }
        if p.period_ms < 100
            || p.timeout_ms == 0
            || p.failure_threshold == 0
            || p.success_threshold == 0
        {
            errors.push(FieldError::new(
                field,
                "periodMs must be at least 100; timeoutMs, failureThreshold and successThreshold at least 1",
            ));
        }
    }
    errors
}

fn validate_spec(spec: &DeploymentSpec) -> Result<(), Rejection> {
    let mut errors = scheduling_errors(spec);
    errors.extend(probe_errors(spec));
    errors.extend(spec.strategy.validate());
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let r = &spec.resources;
    let fail = |m: String| {
        Err(Rejection {
            code: RejectionCode::ValidationFailed,
            message: m,
        })
    };
    if spec.replicas > MAX_REPLICAS {
        return fail(format!("replicas: must be at most {MAX_REPLICAS}"));
    }
    if r.cpu_request_milli == 0 || r.mem_request_mb == 0 {
        return fail("resources: cpuRequestMilli and memRequestMb must be greater than 0".into());
    }
    if r.cpu_limit_milli < r.cpu_request_milli {
        return fail("resources.cpuLimitMilli: must be at least cpuRequestMilli".into());
    }
    if r.mem_limit_mb < r.mem_request_mb {
        return fail("resources.memLimitMb: must be at least memRequestMb".into());
    }
    Ok(())
}

/// 422 when the replicas could not fit even on an empty cluster: no node
/// where the pod may run is large enough, or all of them together hold fewer.
fn check_capacity(state: &State, spec: &DeploymentSpec, replicas: u32) -> Result<(), Rejection> {
    if replicas == 0 {
        return Ok(());
    }
    let (cpu, mem) = (
        spec.resources.cpu_request_milli as u64,
        spec.resources.mem_request_mb as u64,
    );
    let mut slots: u64 = 0;
    let mut candidates = 0;
    for node in state
        .nodes
        .values()
        .filter(|n| statically_feasible(n, spec))
    {
        candidates += 1;
        let by_cpu = node.spec.cpu_allocatable_milli / cpu;
        let by_mem = node.spec.mem_allocatable_mb / mem;
        slots += by_cpu.min(by_mem);
    }
    if slots >= replicas as u64 {
        return Ok(());
    }
    let message = if candidates == 0 {
        "no node in the cluster can run this pod (taints, node selector, or no nodes registered)"
            .to_string()
    } else if slots == 0 {
        format!("no node is large enough for one pod requesting {cpu}m CPU and {mem} MB memory")
    } else {
        format!(
            "{replicas} replicas requesting {cpu}m CPU and {mem} MB each can never fit: the cluster holds at most {slots}"
        )
    };
    Err(Rejection {
        code: RejectionCode::InsufficientClusterCapacity,
        message,
    })
}
