//! Folding a quota's events into the cell's state.

use uuid::Uuid;

use crate::event as ev;
use crate::state::State;

use super::ResourceQuota;

impl State {
    pub(crate) fn on_resource_quota_set(&mut self, e: &ev::ResourceQuotaSet) {
        self.bump_policy_version(e.quota_id);
        self.quotas.insert(
            e.namespace.to_string(),
            ResourceQuota {
                namespace: e.namespace.clone(),
                hard: e.hard,
                used: e.used,
            },
        );
    }

    pub(crate) fn on_resource_quota_removed(&mut self, e: &ev::ResourceQuotaRemoved) {
        self.bump_policy_version(e.quota_id);
        self.quotas.remove(e.namespace.as_str());
    }

    pub(crate) fn on_resource_quota_usage_recorded(&mut self, e: &ev::ResourceQuotaUsageRecorded) {
        if let Some(q) = self.quotas.get_mut(e.namespace.as_str()) {
            q.used = e.used;
            self.bump_policy_version(e.quota_id);
        }
    }

    /// A namespace policy's (quota, limit range) aggregate version, by its
    /// id; kept across its removal so its events' sequence numbers go on rising.
    pub(crate) fn policy_version(&self, id: Uuid) -> u64 {
        self.policy_versions.get(&id).copied().unwrap_or(0)
    }

    pub(crate) fn bump_policy_version(&mut self, id: Uuid) {
        *self.policy_versions.entry(id).or_insert(0) += 1;
    }
}
