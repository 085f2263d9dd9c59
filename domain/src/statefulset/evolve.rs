//! Folding a StatefulSet's events into the cell's state.

use std::collections::{BTreeMap, BTreeSet};

use crate::event as ev;
use crate::ids::PodId;
use crate::state::{Pod, State};
use crate::statefulset::{SetUpdate, StatefulSet};

impl State {
    pub(crate) fn on_stateful_set_created(&mut self, e: &ev::StatefulSetCreated) {
        if self.stateful_sets.contains_key(&e.stateful_set_id) {
            return;
        }
        self.anti_affinity_changed(false, e.spec.template.has_required_anti_affinity());
        self.stateful_sets.insert(
            e.stateful_set_id,
            StatefulSet {
                id: e.stateful_set_id,
                spec: e.spec.clone(),
                revision: 1,
                current_revision: 1,
                revisions: BTreeMap::from([(1, e.spec.template.clone())]),
                pods: BTreeSet::new(),
                ordinals: BTreeMap::new(),
                incarnations: BTreeMap::new(),
                live: 0,
                update: None,
                updates: 0,
                version: 1,
                cause: None,
            },
        );
    }

    pub(crate) fn on_stateful_set_scaled(&mut self, e: &ev::StatefulSetScaled) {
        if let Some(s) = self.stateful_sets.get_mut(&e.stateful_set_id) {
            s.spec.replicas = e.to;
            s.version += 1;
        }
    }

    pub(crate) fn on_stateful_set_revision_created(&mut self, e: &ev::StatefulSetRevisionCreated) {
        let Some(s) = self.stateful_sets.get_mut(&e.stateful_set_id) else {
            return;
        };
        let before = s.spec.template.has_required_anti_affinity();
        let after = e.template.has_required_anti_affinity();
        s.spec.template = e.template.clone();
        s.revisions.insert(e.revision, e.template.clone());
        s.revision = e.revision;
        s.current_revision = e.from;
        s.updates = s.updates.max(e.update);
        s.update = Some(SetUpdate {
            number: e.update,
            from: e.from,
            to: e.revision,
            failed_pods: BTreeSet::new(),
            failures: 0,
            last_failure: None,
        });
        s.version += 1;
        self.anti_affinity_changed(before, after);
    }

    pub(crate) fn on_stateful_set_partition_changed(
        &mut self,
        e: &ev::StatefulSetPartitionChanged,
    ) {
        if let Some(s) = self.stateful_sets.get_mut(&e.stateful_set_id) {
            s.spec.update_strategy.partition = e.to;
            s.version += 1;
        }
    }

    pub(crate) fn on_stateful_set_update_completed(&mut self, e: &ev::StatefulSetUpdateCompleted) {
        if let Some(s) = self.stateful_sets.get_mut(&e.stateful_set_id) {
            s.update = None;
            if e.partition == 0 {
                s.current_revision = e.revision;
            }
            s.version += 1;
        }
    }

    pub(crate) fn on_stateful_set_rolled_back(&mut self, e: &ev::StatefulSetRolledBack) {
        let Some(s) = self.stateful_sets.get_mut(&e.stateful_set_id) else {
            return;
        };
        let Some(t) = s.revisions.get(&e.to).cloned() else {
            return;
        };
        let before = s.spec.template.has_required_anti_affinity();
        let after = t.has_required_anti_affinity();
        s.spec.template = t;
        s.revision = e.to;
        s.current_revision = e.to;
        s.update = None;
        s.version += 1;
        self.anti_affinity_changed(before, after);
    }

    pub(crate) fn on_stateful_set_deleted(&mut self, e: &ev::StatefulSetDeleted) {
        if let Some(mut s) = self.stateful_sets.remove(&e.stateful_set_id) {
            self.anti_affinity_changed(s.spec.template.has_required_anti_affinity(), false);
            // Kept as it was, without pods, for `UndeleteStatefulSet`; the
            // incarnations stay, so its next pods get ids never used.
            s.pods.clear();
            s.ordinals.clear();
            s.live = 0;
            s.update = None;
            s.version += 1;
            self.deleted_stateful_sets
                .insert(format!("{}/{}", e.namespace, e.name), s);
        }
    }

    pub(crate) fn on_stateful_set_undeleted(&mut self, e: &ev::StatefulSetUndeleted) {
        let key = format!("{}/{}", e.spec.namespace, e.spec.name);
        let Some(mut s) = self.deleted_stateful_sets.remove(&key) else {
            return;
        };
        s.spec = e.spec.clone();
        s.revision = e.revision;
        s.current_revision = e.current_revision;
        s.version += 1;
        self.anti_affinity_changed(false, s.spec.template.has_required_anti_affinity());
        self.stateful_sets.insert(s.id, s);
    }
}

impl crate::pod::owner::PodOwner for StatefulSet {
    fn workload(&self) -> crate::pod::owner::Workload<'_> {
        StatefulSet::workload(self)
    }

    fn template_of(&self, revision: u64) -> Option<&crate::model::PodTemplate> {
        Some(self.template(revision).unwrap_or(&self.spec.template))
    }

    fn pod_created(&mut self, pod: &Pod, _completion_index: Option<u32>) {
        self.pods.insert(pod.id);
        self.ordinals.insert(pod.ordinal, pod.id);
        *self.incarnations.entry(pod.ordinal).or_insert(0) += 1;
        self.live += 1;
    }

    fn pod_ended(&mut self, _pod: &Pod) {
        self.live = self.live.saturating_sub(1);
    }

    fn pod_removed(&mut self, pod: &Pod) {
        self.pods.remove(&pod.id);
        if self.ordinals.get(&pod.ordinal) == Some(&pod.id) {
            self.ordinals.remove(&pod.ordinal);
        }
    }
}

impl StatefulSet {
    /// A pod of the update revision failed: count it against the update.
    pub(crate) fn pod_failed_during_update(&mut self, pod: PodId, revision: u64, reason: &str) {
        if let Some(u) = self.update.as_mut().filter(|u| u.to == revision) {
            u.failed_pods.insert(pod);
            u.failures += 1;
            u.last_failure = Some(reason.to_string());
        }
    }
}
