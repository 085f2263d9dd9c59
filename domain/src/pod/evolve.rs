//! Folding a pod's events into the cell's state.

use crate::event as ev;
use crate::model::PodPhase;
use crate::state::{Pod, State};

impl State {
    pub(crate) fn on_pod_created(&mut self, e: &ev::PodCreated) {
        let ev::PodCreated {
            pod_id,
            owner,
            ordinal,
            resources,
            revision,
            completion_index,
            ..
        } = e;
        if self.pods.contains_key(pod_id) {
            return;
        }
        let pod = Pod {
            id: *pod_id,
            owner: *owner,
            ordinal: *ordinal,
            cpu_milli: resources.cpu_request_milli,
            mem_mb: resources.mem_request_mb,
            revision: *revision,
            phase: PodPhase::Pending,
            node: None,
            ready: false,
            version: 1,
            restarts: 0,
        };
        self.owner_pod_created(&pod, *completion_index);
        self.unbound.insert(*pod_id);
        self.pods.insert(*pod_id, pod);
    }

    pub(crate) fn on_pod_bound(&mut self, e: &ev::PodBound) {
        let ev::PodBound {
            pod_id, node_id, ..
        } = e;
        let Some(pod) = self.pods.get_mut(pod_id) else {
            return;
        };
        pod.node = Some(*node_id);
        pod.version += 1;
        self.unbound.remove(pod_id);
        let (cpu, mem) = (pod.cpu_milli as u64, pod.mem_mb as u64);
        if let Some(node) = self.nodes.get_mut(node_id)
            && node.pods.insert(*pod_id)
        {
            node.cpu_requested_milli += cpu;
            node.mem_requested_mb += mem;
        }
    }

    pub(crate) fn on_pod_started(&mut self, e: &ev::PodStarted) {
        let ev::PodStarted {
            pod_id, address, ..
        } = e;
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.phase = PodPhase::Running;
            pod.version += 1;
            if let Some(a) = address {
                self.addresses.insert(*pod_id, a.clone());
            }
        }
    }

    pub(crate) fn on_pod_not_ready(&mut self, e: &ev::PodNotReady) {
        let ev::PodNotReady { pod_id, reason, .. } = e;
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.ready = false;
            pod.version += 1;
            let (d, rev) = (pod.owner, pod.revision);
            self.rollout_failure(d, rev, *pod_id, reason);
        }
    }

    pub(crate) fn on_pod_restarted(&mut self, e: &ev::PodRestarted) {
        let ev::PodRestarted {
            pod_id,
            restarts,
            reason,
            ..
        } = e;
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.ready = false;
            pod.restarts = *restarts;
            pod.version += 1;
            let (d, rev) = (pod.owner, pod.revision);
            self.rollout_failure(d, rev, *pod_id, reason);
        }
    }

    pub(crate) fn on_pod_ready(&mut self, e: &ev::PodReady) {
        let ev::PodReady { pod_id, .. } = e;
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.ready = true;
            pod.version += 1;
        }
    }

    pub(crate) fn on_pod_failed(&mut self, e: &ev::PodFailed) {
        let ev::PodFailed {
            pod_id,
            cause,
            reason,
            exit_code,
            ..
        } = e;
        if *cause == crate::event::PodFailureCause::Container
            && let Some(job) = self
                .pods
                .get(pod_id)
                .filter(|p| p.is_live())
                .and_then(|p| p.owner.job())
            && let Some(j) = self.jobs.get_mut(&job)
        {
            j.pod_failed(*exit_code);
        }
        // A lost node is not the new revision's fault.
        if *cause == crate::event::PodFailureCause::Container
            && let Some(pod) = self.pods.get(pod_id)
        {
            let (d, rev) = (pod.owner, pod.revision);
            self.rollout_failure(d, rev, *pod_id, reason);
        }
        self.end_pod(pod_id);
    }

    pub(crate) fn on_pod_succeeded(&mut self, e: &ev::PodSucceeded) {
        if let Some(pod) = self.pods.get(&e.pod_id).filter(|p| p.is_live()).cloned()
            && let Some(j) = pod.owner.job().and_then(|id| self.jobs.get_mut(&id))
        {
            j.pod_succeeded(&pod);
        }
        self.end_pod_as(&e.pod_id, crate::model::PodPhase::Succeeded);
    }

    pub(crate) fn on_pod_evicted(&mut self, e: &ev::PodEvicted) {
        let ev::PodEvicted { pod_id, .. } = e;
        self.end_pod(pod_id);
    }

    pub(crate) fn on_pod_deleted(&mut self, e: &ev::PodDeleted) {
        let ev::PodDeleted { pod_id, .. } = e;
        let node = self.pods.get(pod_id).and_then(|p| p.node);
        self.release(*pod_id, node);
        self.unbound.remove(pod_id);
        self.addresses.remove(pod_id);
        if let Some(pod) = self.pods.remove(pod_id) {
            if pod.is_live() {
                self.owner_pod_ended(&pod);
            }
            self.owner_pod_removed(&pod);
        }
    }

    pub(crate) fn on_pod_unschedulable(&mut self, e: &ev::PodUnschedulable) {
        let ev::PodUnschedulable { pod_id, .. } = e;
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.version += 1;
        }
    }
}
