//! The rules several slices' decisions share: the decision type, a
//! rejection by code or by field errors, a pod on the node that reports it,
//! and node usage released pod by pod.

use crate::event as ev;
use crate::event::Event;
use crate::ids::{DeploymentId, NodeId, PodId};
use crate::model::NodeUsage;
use crate::model::PodTemplate;
use crate::names::FieldError;
use crate::names::Name;
use crate::pod::owner::Owner;
use crate::rejection::{Rejection, RejectionCode};
use crate::scheduler::statically_feasible;
use crate::state::{Deployment, State};

/// Most replicas one deployment may ask for.
pub const MAX_REPLICAS: u32 = 100_000;

/// What a command decides: the events it causes, or why it is refused.
pub(crate) type Decision = Result<Vec<Event>, Rejection>;

pub(crate) fn reject(code: RejectionCode, message: impl Into<String>) -> Decision {
    Err(Rejection::new(code, message))
}

/// The deployment a command names, or `404 NOT_FOUND`.
pub(crate) fn deployment<'s>(
    state: &'s State,
    deployment_id: &DeploymentId,
) -> Result<&'s Deployment, Rejection> {
    state.deployments.get(deployment_id).ok_or_else(|| {
        Rejection::new(
            RejectionCode::NotFound,
            format!("deployment {deployment_id} not found"),
        )
    })
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

/// 422 when the replicas could not fit even on an empty cluster: no node
/// where the pod may run is large enough, or all of them together hold fewer.
pub(crate) fn check_capacity(
    state: &State,
    template: &PodTemplate,
    replicas: u32,
) -> Result<(), Rejection> {
    if replicas == 0 {
        return Ok(());
    }
    // (At least 1: a figure not resolved yet is refused by its own check.)
    let (cpu, mem) = (
        (template.resources.cpu_request_milli as u64).max(1),
        (template.resources.mem_request_mb as u64).max(1),
    );
    let mut slots: u64 = 0;
    let mut candidates = 0;
    for node in state
        .nodes
        .values()
        .filter(|n| statically_feasible(n, template))
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
    Err(Rejection::new(
        RejectionCode::InsufficientClusterCapacity,
        message,
    ))
}

/// The `PodCreated` of the owner's pod `ordinal`, named `<name>-<ordinal>`.
pub(crate) fn pod_created(
    owner: Owner,
    namespace: &Name,
    name: &Name,
    ordinal: u64,
    template: &PodTemplate,
    revision: u64,
) -> Event {
    Event::PodCreated(ev::PodCreated {
        pod_id: owner.pod_id(ordinal),
        owner,
        namespace: namespace.clone(),
        name: format!("{name}-{ordinal}"),
        ordinal,
        image: template.image.clone(),
        resources: template.resources,
        revision,
        completion_index: None,
        volume_claim: None,
    })
}
