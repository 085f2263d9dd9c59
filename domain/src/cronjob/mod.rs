//! The cron job slice: a job template run on a cron schedule (in a time
//! zone), with a concurrency policy, a starting deadline, suspension, and
//! history limits for the jobs it keeps.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod spec;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{CronJobId, JobId};

pub use spec::{ConcurrencyPolicy, CronJobSpec, JobTemplate};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CronJob {
    pub id: CronJobId,
    pub spec: CronJobSpec,
    /// Its jobs still in the state, by the time they were scheduled for.
    pub jobs: BTreeMap<i64, JobId>,
    /// The last scheduled time handled (run or skipped), ms since the epoch.
    pub last_scheduled_ms: Option<i64>,
    /// When it was created (the envelope's time): the schedule counts from here.
    pub created_at_ms: i64,
    pub version: u64,
    #[serde(default)]
    pub cause: Option<uuid::Uuid>,
}
