//! Folding a job's events into the cell's state.

use std::collections::{BTreeMap, BTreeSet};

use crate::event as ev;
use crate::job::{Job, JobOutcome, PodFailureAction};
use crate::state::{Pod, State};

impl State {
    pub(crate) fn on_job_created(&mut self, e: &ev::JobCreated) {
        if self.jobs.contains_key(&e.job_id) {
            return;
        }
        self.anti_affinity_changed(false, e.spec.template.has_required_anti_affinity());
        self.jobs.insert(
            e.job_id,
            Job {
                id: e.job_id,
                spec: e.spec.clone(),
                pods: BTreeSet::new(),
                live: 0,
                next_ordinal: 0,
                succeeded: 0,
                failed: 0,
                consecutive_failures: 0,
                index_of: BTreeMap::new(),
                succeeded_indexes: BTreeSet::new(),
                outcome: None,
                started_at_ms: 0,
                last_failure_at_ms: None,
                finished_at_ms: None,
                version: 1,
                cause: None,
                cron_job: e.cron_job_id,
            },
        );
    }

    pub(crate) fn on_job_completed(&mut self, e: &ev::JobCompleted) {
        if let Some(j) = self.jobs.get_mut(&e.job_id) {
            j.outcome = Some(JobOutcome::Complete);
            j.version += 1;
        }
    }

    pub(crate) fn on_job_failed(&mut self, e: &ev::JobFailed) {
        if let Some(j) = self.jobs.get_mut(&e.job_id) {
            j.outcome = Some(JobOutcome::Failed);
            j.failed = e.failed;
            j.version += 1;
        }
    }

    pub(crate) fn on_job_undeleted(&mut self, e: &ev::JobUndeleted) {
        let key = format!("{}/{}", e.spec.namespace, e.spec.name);
        let Some(mut j) = self.deleted_jobs.remove(&key) else {
            return;
        };
        j.spec = e.spec.clone();
        j.version += 1;
        self.anti_affinity_changed(false, j.spec.template.has_required_anti_affinity());
        self.jobs.insert(j.id, j);
    }

    pub(crate) fn on_job_deleted(&mut self, e: &ev::JobDeleted) {
        if let Some(mut j) = self.jobs.remove(&e.job_id) {
            self.anti_affinity_changed(j.spec.template.has_required_anti_affinity(), false);
            if let Some(c) = j.cron_job.and_then(|c| self.cron_jobs.get_mut(&c)) {
                c.jobs.retain(|_, id| *id != e.job_id);
            }
            // Kept as it was, without pods, for `UndeleteJob`; not a cron
            // job's runs (thousands, deleted by its history limits).
            if j.cron_job.is_none() {
                j.pods.clear();
                j.index_of.clear();
                j.live = 0;
                j.version += 1;
                self.deleted_jobs
                    .insert(format!("{}/{}", e.namespace, e.name), j);
            }
        }
    }
}

impl crate::pod::owner::PodOwner for Job {
    fn workload(&self) -> crate::pod::owner::Workload<'_> {
        Job::workload(self)
    }

    fn template_of(&self, _revision: u64) -> Option<&crate::model::PodTemplate> {
        Some(&self.spec.template)
    }

    fn pod_created(&mut self, pod: &Pod, index: Option<u32>) {
        self.next_ordinal = self.next_ordinal.max(pod.ordinal + 1);
        self.pods.insert(pod.id);
        self.live += 1;
        if let Some(i) = index {
            self.index_of.insert(pod.id, i);
        }
    }

    fn pod_ended(&mut self, _pod: &Pod) {
        self.live = self.live.saturating_sub(1);
    }

    fn pod_removed(&mut self, pod: &Pod) {
        self.pods.remove(&pod.id);
        self.index_of.remove(&pod.id);
    }
}

impl Job {
    pub(crate) fn pod_succeeded(&mut self, pod: &Pod) {
        self.succeeded += 1;
        self.consecutive_failures = 0;
        if let Some(i) = self.index_of.get(&pod.id) {
            self.succeeded_indexes.insert(*i);
        }
    }

    /// A container failure counts against `backoffLimit` unless the pod
    /// failure policy ignores its exit code (a lost node never counts).
    pub(crate) fn pod_failed(&mut self, exit_code: Option<i32>) -> bool {
        if self.spec.failure_action(exit_code) == PodFailureAction::Ignore {
            return false;
        }
        self.failed += 1;
        self.consecutive_failures += 1;
        true
    }
}
