//! Folding a quota's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::ResourceQuota;

impl State {
    pub(crate) fn on_resource_quota_set(&mut self, e: &ev::ResourceQuotaSet) {
        self.bump_policy_version("resourcequota", e.namespace.as_str());
        self.quotas.insert(
            e.namespace.to_string(),
            ResourceQuota {
                namespace: e.namespace.clone(),
                hard: e.hard,
                used: e.used,
                version: self.policy_version("resourcequota", e.namespace.as_str()),
            },
        );
    }

    pub(crate) fn on_resource_quota_removed(&mut self, e: &ev::ResourceQuotaRemoved) {
        self.bump_policy_version("resourcequota", e.namespace.as_str());
        self.quotas.remove(e.namespace.as_str());
    }

    pub(crate) fn on_resource_quota_usage_recorded(&mut self, e: &ev::ResourceQuotaUsageRecorded) {
        if self.quotas.contains_key(e.namespace.as_str()) {
            self.bump_policy_version("resourcequota", e.namespace.as_str());
            let version = self.policy_version("resourcequota", e.namespace.as_str());
            if let Some(q) = self.quotas.get_mut(e.namespace.as_str()) {
                q.used = e.used;
                q.version = version;
            }
        }
    }

    /// A namespace policy's (quota, limit range) aggregate version, kept
    /// across its removal so its events' sequence numbers go on rising.
    pub(crate) fn policy_version(&self, kind: &str, namespace: &str) -> u64 {
        self.policy_versions
            .get(&format!("{kind}/{namespace}"))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn bump_policy_version(&mut self, kind: &str, namespace: &str) {
        *self
            .policy_versions
            .entry(format!("{kind}/{namespace}"))
            .or_insert(0) += 1;
    }
}
