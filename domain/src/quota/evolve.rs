//! Folding a quota's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::ResourceQuota;

impl State {
    pub(crate) fn on_resource_quota_set(&mut self, e: &ev::ResourceQuotaSet) {
        let version = self.quota_version(e.namespace.as_str()) + 1;
        self.quota_versions.insert(e.namespace.to_string(), version);
        self.quotas.insert(
            e.namespace.to_string(),
            ResourceQuota {
                namespace: e.namespace.clone(),
                hard: e.hard,
                used: e.used,
                version,
            },
        );
    }

    pub(crate) fn on_resource_quota_removed(&mut self, e: &ev::ResourceQuotaRemoved) {
        self.quotas.remove(e.namespace.as_str());
        let version = self.quota_version(e.namespace.as_str()) + 1;
        self.quota_versions.insert(e.namespace.to_string(), version);
    }

    /// The quota aggregate's version, kept across a removal so its
    /// events' sequence numbers go on rising.
    pub(crate) fn quota_version(&self, namespace: &str) -> u64 {
        self.quota_versions.get(namespace).copied().unwrap_or(0)
    }

    pub(crate) fn on_resource_quota_usage_recorded(&mut self, e: &ev::ResourceQuotaUsageRecorded) {
        if let Some(q) = self.quotas.get_mut(e.namespace.as_str()) {
            q.used = e.used;
            q.version += 1;
            self.quota_versions
                .insert(e.namespace.to_string(), q.version);
        }
    }
}
