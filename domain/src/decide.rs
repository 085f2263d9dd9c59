//! `decide(&State, &Command) -> Result<Vec<Event>, Rejection>`: the write
//! side's entry, one line per command, each decided by its resource's slice
//! (`node`, `deployment`, `rollout`, `pod`, `service`), plus the rules several
//! slices share. `Ok(vec![])` means "already done": a duplicate or a request
//! made on a stale view, dropped without a trace.

use crate::command as cmd;
use crate::command::Command;
/// The field checks of a deployment's scheduling constraints (the API's, too).
pub use crate::deployment::decide::scheduling_errors;
use crate::event::Event;
use crate::ids::{NodeId, PodId};
use crate::model::NodeUsage;
use crate::names::FieldError;
pub use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

/// Most replicas one deployment may ask for.
pub const MAX_REPLICAS: u32 = 100_000;

/// What a command decides: the events it causes, or why it is refused.
pub(crate) type Decision = Result<Vec<Event>, Rejection>;

pub(crate) fn reject(code: RejectionCode, message: impl Into<String>) -> Decision {
    Err(Rejection::new(code, message))
}

/// Every command is decided by its resource's slice: one line each.
pub fn decide(state: &State, command: &Command) -> Decision {
    use crate::{deployment, node, pod, rollout, service};
    match command {
        Command::RegisterNode(cmd::RegisterNode { node_id, spec }) => {
            node::decide::register_node(state, node_id, spec)
        }
        Command::MarkNodeReady(cmd::MarkNodeReady { node_id }) => {
            node::decide::mark_node_ready(state, node_id)
        }
        Command::MarkNodeNotReady(cmd::MarkNodeNotReady {
            node_id,
            silent_for_ms,
        }) => node::decide::mark_node_not_ready(state, node_id, silent_for_ms),
        Command::MarkNodeLost(cmd::MarkNodeLost {
            node_id,
            silent_for_ms,
        }) => node::decide::mark_node_lost(state, node_id, silent_for_ms),
        Command::CordonNode(cmd::CordonNode { node_id }) => {
            node::decide::cordon_node(state, node_id)
        }
        Command::DrainNode(cmd::DrainNode { node_id }) => node::decide::drain_node(state, node_id),
        Command::UncordonNode(cmd::UncordonNode { node_id }) => {
            node::decide::uncordon_node(state, node_id)
        }
        Command::SetNodeTaints(cmd::SetNodeTaints { node_id, taints }) => {
            node::decide::set_node_taints(state, node_id, taints)
        }
        Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id,
            spec,
        }) => deployment::decide::create_deployment(state, deployment_id, spec),
        Command::ScaleDeployment(cmd::ScaleDeployment {
            deployment_id,
            replicas,
        }) => deployment::decide::scale_deployment(state, deployment_id, replicas),
        Command::DeleteDeployment(cmd::DeleteDeployment { deployment_id }) => {
            deployment::decide::delete_deployment(state, deployment_id)
        }
        Command::UndeleteDeployment(cmd::UndeleteDeployment { namespace, name }) => {
            deployment::decide::undelete_deployment(state, namespace, name)
        }
        Command::UpdateDeployment(cmd::UpdateDeployment {
            deployment_id,
            patch,
        }) => deployment::decide::update_deployment(state, deployment_id, patch),
        Command::RollbackDeployment(cmd::RollbackDeployment {
            deployment_id,
            revision,
            automatic,
            rollout,
            reason,
        }) => rollout::decide::rollback_deployment(
            state,
            deployment_id,
            revision,
            automatic,
            rollout,
            reason,
        ),
        Command::AbortRollout(cmd::AbortRollout {
            deployment_id,
            reason,
        }) => rollout::decide::abort_rollout(state, deployment_id, reason),
        Command::PauseRollout(cmd::PauseRollout { deployment_id }) => {
            rollout::decide::pause_rollout(state, deployment_id)
        }
        Command::ResumeRollout(cmd::ResumeRollout { deployment_id }) => {
            rollout::decide::resume_rollout(state, deployment_id)
        }
        Command::PromoteRollout(cmd::PromoteRollout { deployment_id }) => {
            rollout::decide::promote_rollout(state, deployment_id)
        }
        Command::CompleteRollout(cmd::CompleteRollout {
            deployment_id,
            rollout,
        }) => rollout::decide::complete_rollout(state, deployment_id, rollout),
        Command::FailRollout(cmd::FailRollout {
            deployment_id,
            rollout,
            reason,
        }) => rollout::decide::fail_rollout(state, deployment_id, rollout, reason),
        Command::CreatePod(cmd::CreatePod {
            deployment_id,
            ordinal,
            revision,
        }) => pod::decide::create_pod(state, deployment_id, ordinal, revision),
        Command::BindPod(cmd::BindPod {
            pod_id,
            node_id,
            placement,
            preempt,
        }) => pod::decide::bind_pod(state, pod_id, node_id, placement, preempt),
        Command::MarkPodUnschedulable(cmd::MarkPodUnschedulable {
            pod_id,
            nodes_total,
            filtered,
        }) => pod::decide::mark_pod_unschedulable(state, pod_id, nodes_total, filtered),
        Command::EvictPod(cmd::EvictPod {
            pod_id,
            cause,
            reason,
            respect_budget,
        }) => pod::decide::evict_pod(state, pod_id, cause, reason, respect_budget),
        Command::ReportPodStarted(cmd::ReportPodStarted {
            pod_id,
            node_id,
            address,
        }) => pod::decide::report_pod_started(state, pod_id, node_id, address),
        Command::ReportPodReady(cmd::ReportPodReady { pod_id, node_id }) => {
            pod::decide::report_pod_ready(state, pod_id, node_id)
        }
        Command::ReportPodNotReady(cmd::ReportPodNotReady {
            pod_id,
            node_id,
            reason,
        }) => pod::decide::report_pod_not_ready(state, pod_id, node_id, reason),
        Command::ReportPodRestarted(cmd::ReportPodRestarted {
            pod_id,
            node_id,
            restarts,
            backoff_ms,
            reason,
        }) => {
            pod::decide::report_pod_restarted(state, pod_id, node_id, restarts, backoff_ms, reason)
        }
        Command::ReportPodFailed(cmd::ReportPodFailed {
            pod_id,
            node_id,
            reason,
        }) => pod::decide::report_pod_failed(state, pod_id, node_id, reason),
        Command::DeletePod(cmd::DeletePod {
            pod_id,
            reason,
            only_if_surplus,
            keep_ready,
            respect_budget,
        }) => pod::decide::delete_pod(
            state,
            pod_id,
            reason,
            only_if_surplus,
            keep_ready,
            respect_budget,
        ),
        Command::CreateService(cmd::CreateService { service_id, spec }) => {
            service::decide::create_service(state, service_id, spec)
        }
        Command::DeleteService(cmd::DeleteService { service_id }) => {
            service::decide::delete_service(state, service_id)
        }
    }
}

pub(crate) fn pod_on_node<'s>(
    state: &'s State,
    pod_id: &PodId,
    node_id: &NodeId,
) -> Result<&'s crate::state::Pod, Rejection> {
    let Some(pod) = state.pods.get(pod_id) else {
        return Err(Rejection::new(
            RejectionCode::NotFound,
            format!("pod {pod_id} not found"),
        ));
    };
    if pod.node != Some(*node_id) {
        return Err(Rejection::new(
            RejectionCode::PodNotOnNode,
            format!("pod {pod_id} is not bound to node {node_id}"),
        ));
    }
    Ok(pod)
}

/// Node usage as a sequence of releases lowers it, one event at a time.
#[derive(Default)]
pub(crate) struct UsageTracker {
    pub(crate) current: std::collections::HashMap<NodeId, NodeUsage>,
}

impl UsageTracker {
    pub(crate) fn release(
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

pub(crate) fn validation(errors: &[FieldError]) -> Rejection {
    let message = errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ");
    Rejection {
        fields: errors.to_vec(),
        ..Rejection::new(RejectionCode::ValidationFailed, message)
    }
}
