//! Folding a rollout's events into the cell's state.

use crate::event as ev;
use std::collections::BTreeSet;

use crate::ids::DeploymentId;
use crate::state::{Rollout, State, count_other_revision};

impl State {
    pub(crate) fn on_rollout_started(&mut self, e: &ev::RolloutStarted) {
        let ev::RolloutStarted {
            deployment_id,
            rollout,
            from,
            to,
            trigger,
            canary,
            ..
        } = e;
        let before = self.anti_affinity_of(deployment_id);
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            if let Some(t) = d.revisions.get(to) {
                let mut spec = t.clone();
                spec.replicas = d.spec.replicas;
                spec.strategy = d.spec.strategy;
                spec.disruption_budget = d.spec.disruption_budget;
                d.spec = spec;
            }
            d.revision = *to;
            d.rollouts = *rollout;
            d.rollout = Some(Rollout {
                number: *rollout,
                from: *from,
                to: *to,
                trigger: *trigger,
                canary: *canary,
                paused: false,
                failed_pods: BTreeSet::new(),
                last_failure: None,
            });
            d.version += 1;
        }
        if let Some(d) = self.deployments.get(deployment_id) {
            let other = count_other_revision(&self.pods, d);
            if let Some(d) = self.deployments.get_mut(deployment_id) {
                d.live_other_revision = other;
            }
        }
        let after = self.anti_affinity_of(deployment_id);
        self.anti_affinity_changed(before == 1, after == 1);
    }

    pub(crate) fn on_rollout_promoted(&mut self, e: &ev::RolloutPromoted) {
        let ev::RolloutPromoted { deployment_id, .. } = e;
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            if let Some(r) = d.rollout.as_mut() {
                r.canary = None;
            }
            d.version += 1;
        }
    }

    /// Paused or resumed.
    pub(crate) fn on_rollout_paused(&mut self, deployment_id: &DeploymentId, paused: bool) {
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            if let Some(r) = d.rollout.as_mut() {
                r.paused = paused;
            }
            d.version += 1;
        }
    }

    /// Succeeded, failed or rolled back: no rollout runs any more.
    pub(crate) fn on_rollout_ended(&mut self, deployment_id: &DeploymentId) {
        if let Some(d) = self.deployments.get_mut(deployment_id) {
            d.rollout = None;
            d.version += 1;
        }
    }
}
