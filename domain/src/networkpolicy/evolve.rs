//! Folding a network policy's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::NetworkPolicy;

impl State {
    pub(crate) fn on_network_policy_set(&mut self, e: &ev::NetworkPolicySet) {
        self.bump_policy_version(e.policy_id);
        self.network_policies.insert(
            format!("{}/{}", e.namespace, e.name),
            NetworkPolicy {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                spec: e.spec.clone(),
            },
        );
    }

    pub(crate) fn on_network_policy_deleted(&mut self, e: &ev::NetworkPolicyDeleted) {
        self.bump_policy_version(e.policy_id);
        self.network_policies
            .remove(&format!("{}/{}", e.namespace, e.name));
    }
}
