//! The quota slice: a namespace's `ResourceQuota` (hard limits on pods,
//! CPU and memory requests and limits, and objects per kind), enforced by
//! the decider, the log's single writer: every create, scale, template
//! change and undelete is admitted against what the namespace has already
//! committed, so concurrent requests can never overshoot a quota.
//!
//! What a workload commits is what its controller may run at most: a
//! deployment's replicas (plus `maxSurge` while revisions are mixed, as
//! its pod creation allows), a StatefulSet's replicas, an active job's
//! `min(parallelism, completions left)`; each pod at the larger of the
//! requests of the revisions it may run. The namespace controller records
//! the usage (`ResourceQuotaUsageRecorded`) whenever it changes, for the
//! API and the BI views.

pub mod commands;
pub mod commitment;
pub(crate) mod decide;
pub mod events;
mod evolve;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::model::Resources;
use crate::names::Name;
use crate::namespace::ObjectKind;

/// A quota's aggregate id: one quota per namespace.
pub fn quota_id(namespace: &str) -> Uuid {
    derive_id(&[b"resourcequota", namespace.as_bytes()])
}

/// Hard limits; a limit left out is not enforced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuotaSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_cpu_milli: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_cpu_milli: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_memory_mb: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployments: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stateful_sets: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jobs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_jobs: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<u64>,
}

/// What a namespace (or one object) commits, in the quota's units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Usage {
    pub pods: u64,
    pub requests_cpu_milli: u64,
    pub requests_memory_mb: u64,
    pub limits_cpu_milli: u64,
    pub limits_memory_mb: u64,
    pub deployments: u64,
    pub stateful_sets: u64,
    pub jobs: u64,
    pub cron_jobs: u64,
    pub services: u64,
}

/// Each resource: its name in messages (Kubernetes' where it has one), the
/// usage's figure and the hard limit.
pub(super) type Field = (
    &'static str,
    fn(&Usage) -> u64,
    fn(&QuotaSpec) -> Option<u64>,
);
pub(super) const FIELDS: [Field; 10] = [
    ("pods", |u| u.pods, |h| h.pods),
    (
        "requests.cpu (millicores)",
        |u| u.requests_cpu_milli,
        |h| h.requests_cpu_milli,
    ),
    (
        "requests.memory (MB)",
        |u| u.requests_memory_mb,
        |h| h.requests_memory_mb,
    ),
    (
        "limits.cpu (millicores)",
        |u| u.limits_cpu_milli,
        |h| h.limits_cpu_milli,
    ),
    (
        "limits.memory (MB)",
        |u| u.limits_memory_mb,
        |h| h.limits_memory_mb,
    ),
    ("count/deployments", |u| u.deployments, |h| h.deployments),
    (
        "count/statefulsets",
        |u| u.stateful_sets,
        |h| h.stateful_sets,
    ),
    ("count/jobs", |u| u.jobs, |h| h.jobs),
    ("count/cronjobs", |u| u.cron_jobs, |h| h.cron_jobs),
    ("count/services", |u| u.services, |h| h.services),
];

impl Usage {
    /// `n` pods of `r` each.
    pub fn pods(n: u64, r: &Resources) -> Usage {
        Usage {
            pods: n,
            requests_cpu_milli: n * r.cpu_request_milli as u64,
            requests_memory_mb: n * r.mem_request_mb as u64,
            limits_cpu_milli: n * r.cpu_limit_milli as u64,
            limits_memory_mb: n * r.mem_limit_mb as u64,
            ..Usage::default()
        }
    }

    /// One object of `kind`, without pods.
    pub fn count(kind: ObjectKind) -> Usage {
        let mut u = Usage::default();
        match kind {
            ObjectKind::Deployment => u.deployments = 1,
            ObjectKind::StatefulSet => u.stateful_sets = 1,
            ObjectKind::Job => u.jobs = 1,
            ObjectKind::CronJob => u.cron_jobs = 1,
            ObjectKind::Service => u.services = 1,
            // Not counted (a quota has no figure for secrets).
            ObjectKind::Secret => {}
        }
        u
    }

    pub fn plus(self, o: Usage) -> Usage {
        Usage {
            pods: self.pods + o.pods,
            requests_cpu_milli: self.requests_cpu_milli + o.requests_cpu_milli,
            requests_memory_mb: self.requests_memory_mb + o.requests_memory_mb,
            limits_cpu_milli: self.limits_cpu_milli + o.limits_cpu_milli,
            limits_memory_mb: self.limits_memory_mb + o.limits_memory_mb,
            deployments: self.deployments + o.deployments,
            stateful_sets: self.stateful_sets + o.stateful_sets,
            jobs: self.jobs + o.jobs,
            cron_jobs: self.cron_jobs + o.cron_jobs,
            services: self.services + o.services,
        }
    }

    pub(super) fn minus(self, o: Usage) -> Usage {
        Usage {
            pods: self.pods.saturating_sub(o.pods),
            requests_cpu_milli: self.requests_cpu_milli.saturating_sub(o.requests_cpu_milli),
            requests_memory_mb: self.requests_memory_mb.saturating_sub(o.requests_memory_mb),
            limits_cpu_milli: self.limits_cpu_milli.saturating_sub(o.limits_cpu_milli),
            limits_memory_mb: self.limits_memory_mb.saturating_sub(o.limits_memory_mb),
            deployments: self.deployments.saturating_sub(o.deployments),
            stateful_sets: self.stateful_sets.saturating_sub(o.stateful_sets),
            jobs: self.jobs.saturating_sub(o.jobs),
            cron_jobs: self.cron_jobs.saturating_sub(o.cron_jobs),
            services: self.services.saturating_sub(o.services),
        }
    }
}

/// A namespace's quota: the hard limits and the usage last recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuota {
    pub namespace: Name,
    pub hard: QuotaSpec,
    pub used: Usage,
}
