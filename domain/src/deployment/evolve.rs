//! Folding a deployment's events into the cell's state.

use crate::event as ev;
use std::collections::{BTreeMap, BTreeSet};

use crate::state::{Deployment, Pod, State, Workload, has_required_anti_affinity};

impl State {
    pub(crate) fn on_deployment_created(&mut self, e: &ev::DeploymentCreated) {
        let ev::DeploymentCreated {
            deployment_id,
            spec,
            revision,
            ..
        } = e;
        self.anti_affinity_changed(
            false,
            has_required_anti_affinity(spec) && !self.deployments.contains_key(deployment_id),
        );
        self.deployments.insert(
            *deployment_id,
            Deployment {
                id: *deployment_id,
                spec: spec.clone(),
                revision: *revision,
                next_ordinal: 0,
                pods: BTreeSet::new(),
                version: 1,
                live: 0,
                live_other_revision: 0,
                revisions: BTreeMap::from([(*revision, spec.clone())]),
                rollout: None,
                rollouts: 0,
                cause: None,
            },
        );
    }

    pub(crate) fn on_deployment_undeleted(&mut self, e: &ev::DeploymentUndeleted) {
        let ev::DeploymentUndeleted {
            deployment_id,
            spec,
            revision,
            ..
        } = e;
        let key = format!("{}/{}", spec.namespace, spec.name);
        let Some(mut d) = self.deleted.remove(&key) else {
            return;
        };
        d.id = *deployment_id;
        d.spec = spec.clone();
        d.revision = *revision;
        d.version += 1;
        self.anti_affinity_changed(false, has_required_anti_affinity(spec));
        self.deployments.insert(*deployment_id, d);
    }

    pub(crate) fn on_deployment_scaled(&mut self, e: &ev::DeploymentScaled) {
        let ev::DeploymentScaled {
            deployment_id, to, ..
        } = e;
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            d.spec.replicas = *to;
            d.version += 1;
        }
    }

    pub(crate) fn on_deployment_deleted(&mut self, e: &ev::DeploymentDeleted) {
        let ev::DeploymentDeleted {
            deployment_id,
            namespace,
            name,
            ..
        } = e;
        if let Some(mut d) = self.deployments.remove(deployment_id) {
            self.anti_affinity_changed(has_required_anti_affinity(&d.spec), false);
            d.version += 1;
            d.pods.clear();
            d.live = 0;
            d.live_other_revision = 0;
            d.rollout = None;
            self.deleted.insert(format!("{namespace}/{name}"), d);
        }
    }

    pub(crate) fn on_deployment_revision_created(&mut self, e: &ev::DeploymentRevisionCreated) {
        let ev::DeploymentRevisionCreated {
            deployment_id,
            revision,
            spec,
            ..
        } = e;
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            d.revisions.insert(*revision, spec.clone());
            d.version += 1;
        }
    }

    pub(crate) fn on_deployment_strategy_changed(&mut self, e: &ev::DeploymentStrategyChanged) {
        let ev::DeploymentStrategyChanged {
            deployment_id,
            strategy,
            ..
        } = e;
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            d.spec.strategy = *strategy;
            d.version += 1;
        }
    }

    pub(crate) fn on_deployment_budget_changed(&mut self, e: &ev::DeploymentBudgetChanged) {
        let ev::DeploymentBudgetChanged {
            deployment_id,
            budget,
            ..
        } = e;
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            d.spec.disruption_budget = *budget;
            d.version += 1;
        }
    }
}

impl Deployment {
    /// The deployment as the pod machinery sees it.
    pub fn workload(&self) -> Workload<'_> {
        Workload {
            owner: self.id.into(),
            namespace: &self.spec.namespace,
            name: &self.spec.name,
            template: &self.spec.template,
            pods: &self.pods,
            live: self.live,
        }
    }
}

impl crate::pod::owner::PodOwner for Deployment {
    fn workload(&self) -> Workload<'_> {
        Deployment::workload(self)
    }

    fn template_of(&self, revision: u64) -> Option<&crate::model::PodTemplate> {
        Some(&self.template(revision).unwrap_or(&self.spec).template)
    }

    fn pod_created(&mut self, pod: &Pod, _completion_index: Option<u32>) {
        self.next_ordinal = self.next_ordinal.max(pod.ordinal + 1);
        self.pods.insert(pod.id);
        self.live += 1;
        if pod.revision != self.revision {
            self.live_other_revision += 1;
        }
    }

    fn pod_ended(&mut self, pod: &Pod) {
        self.live = self.live.saturating_sub(1);
        if pod.revision != self.revision {
            self.live_other_revision = self.live_other_revision.saturating_sub(1);
        }
    }

    fn pod_removed(&mut self, pod: &Pod) {
        self.pods.remove(&pod.id);
    }
}
