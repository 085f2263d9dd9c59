//! Folding a cron job's events into the cell's state.

use std::collections::BTreeMap;

use crate::cronjob::CronJob;
use crate::event as ev;
use crate::state::State;

impl State {
    pub(crate) fn on_cron_job_created(&mut self, e: &ev::CronJobCreated) {
        if self.cron_jobs.contains_key(&e.cron_job_id) {
            return;
        }
        self.cron_jobs.insert(
            e.cron_job_id,
            CronJob {
                id: e.cron_job_id,
                spec: e.spec.clone(),
                jobs: BTreeMap::new(),
                last_scheduled_ms: None,
                created_at_ms: 0,
                version: 1,
                cause: None,
            },
        );
    }

    pub(crate) fn on_cron_job_suspended(&mut self, e: &ev::CronJobSuspended) {
        if let Some(c) = self.cron_jobs.get_mut(&e.cron_job_id) {
            c.spec.suspend = e.suspend;
            c.version += 1;
        }
    }

    pub(crate) fn on_cron_job_deleted(&mut self, e: &ev::CronJobDeleted) {
        if let Some(mut c) = self.cron_jobs.remove(&e.cron_job_id) {
            // Kept as it was, without its jobs, for `UndeleteCronJob`.
            c.jobs.clear();
            c.version += 1;
            self.deleted_cron_jobs
                .insert(format!("{}/{}", e.namespace, e.name), c);
        }
    }

    pub(crate) fn on_cron_job_undeleted(&mut self, e: &ev::CronJobUndeleted) {
        let key = format!("{}/{}", e.spec.namespace, e.spec.name);
        let Some(mut c) = self.deleted_cron_jobs.remove(&key) else {
            return;
        };
        c.spec = e.spec.clone();
        c.version += 1;
        self.cron_jobs.insert(c.id, c);
    }

    pub(crate) fn on_cron_job_run_started(&mut self, e: &ev::CronJobRunStarted) {
        if let Some(c) = self.cron_jobs.get_mut(&e.cron_job_id) {
            c.jobs.insert(e.scheduled_at_ms, e.job_id);
            c.last_scheduled_ms = Some(e.scheduled_at_ms);
            c.version += 1;
        }
    }

    pub(crate) fn on_cron_job_run_skipped(&mut self, e: &ev::CronJobRunSkipped) {
        if let Some(c) = self.cron_jobs.get_mut(&e.cron_job_id) {
            c.last_scheduled_ms = Some(e.scheduled_at_ms);
            c.version += 1;
        }
    }
}
