//! The job slice: pods that run to completion. A job runs `completions`
//! successful pods, at most `parallelism` at a time; failed pods are
//! replaced after an exponential back-off until `backoffLimit` failures
//! (or the pod failure policy, or `activeDeadlineSeconds`) fail the job.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{JobId, PodId};
use crate::pod::owner::Workload;

pub use spec::{CompletionMode, JobSpec, PodFailureAction, PodFailurePolicyRule};

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum JobOutcome {
    Complete,
    Failed,
}

/// Why a job failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr)]
pub enum JobFailureReason {
    /// More than `backoffLimit` pods failed.
    BackoffLimitExceeded,
    /// It ran longer than `activeDeadlineSeconds`.
    DeadlineExceeded,
    /// A pod's exit code matched a `FailJob` rule of the pod failure policy.
    PodFailurePolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub spec: JobSpec,
    /// Every pod of this job still in the state.
    pub pods: BTreeSet<PodId>,
    /// How many of `pods` are live.
    pub live: u32,
    pub next_ordinal: u64,
    pub succeeded: u32,
    /// Failures counted against `backoffLimit`.
    pub failed: u32,
    /// Counted failures since the last success: what the back-off grows
    /// with (a success resets it, as Kubernetes' does).
    #[serde(default)]
    pub consecutive_failures: u32,
    /// Indexed jobs: the completion index of each pod in `pods`.
    #[serde(default)]
    pub index_of: BTreeMap<PodId, u32>,
    /// Indexed jobs: the indexes that succeeded (each counts once).
    #[serde(default)]
    pub succeeded_indexes: BTreeSet<u32>,
    pub outcome: Option<JobOutcome>,
    /// When the job was created, its last counted failure, and when it
    /// ended (ms since the epoch, from the events' envelopes).
    pub started_at_ms: i64,
    pub last_failure_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    pub version: u64,
    /// The correlation id of the job's creation: its pods link back to it.
    #[serde(default)]
    pub cause: Option<uuid::Uuid>,
    /// The cron job that created it.
    #[serde(default)]
    pub cron_job: Option<crate::ids::CronJobId>,
}

impl Job {
    /// The job as the pod machinery sees it.
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

    pub fn is_active(&self) -> bool {
        self.outcome.is_none()
    }

    /// Successful completions so far (an Indexed job counts each index once).
    pub fn completed(&self) -> u32 {
        match self.spec.completion_mode {
            CompletionMode::NonIndexed => self.succeeded,
            CompletionMode::Indexed => self.succeeded_indexes.len() as u32,
        }
    }

    /// Live pods' indexes (Indexed jobs).
    fn running_indexes<'a>(
        &'a self,
        live: impl Fn(&PodId) -> bool + 'a,
    ) -> impl Iterator<Item = u32> + 'a {
        self.index_of
            .iter()
            .filter(move |(p, _)| live(p))
            .map(|(_, i)| *i)
    }

    /// The pods still to start now: within `parallelism`, and only as many
    /// as completions remain beyond those running.
    pub fn pods_wanted(&self) -> u32 {
        if !self.is_active() {
            return 0;
        }
        let remaining = self.spec.completions.saturating_sub(self.completed());
        remaining
            .min(self.spec.parallelism)
            .saturating_sub(self.live)
    }

    /// The lowest index that has neither succeeded nor a live pod.
    pub fn next_index(&self, live: impl Fn(&PodId) -> bool) -> Option<u32> {
        let running: BTreeSet<u32> = self.running_indexes(live).collect();
        (0..self.spec.completions)
            .find(|i| !self.succeeded_indexes.contains(i) && !running.contains(i))
    }

    /// How long to wait after the last counted failure before the next pod:
    /// `base · 2^(consecutive failures − 1)`, at most six minutes
    /// (Kubernetes' back-off; a success in between starts it over).
    pub fn backoff_ms(&self, base_ms: i64) -> i64 {
        if self.consecutive_failures == 0 {
            return 0;
        }
        let exp = (self.consecutive_failures - 1).min(20);
        (base_ms.saturating_mul(1i64 << exp)).min(360_000)
    }
}
