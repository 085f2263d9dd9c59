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
pub(crate) mod decide;
pub mod events;
mod evolve;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::job::Job;
use crate::model::Resources;
use crate::names::Name;
use crate::namespace::ObjectKind;
use crate::rejection::{QuotaExceeded, Rejection, RejectionCode};
use crate::state::{Deployment, State};
use crate::statefulset::StatefulSet;

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
type Field = (
    &'static str,
    fn(&Usage) -> u64,
    fn(&QuotaSpec) -> Option<u64>,
);
const FIELDS: [Field; 10] = [
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

    fn minus(self, o: Usage) -> Usage {
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
    pub version: u64,
}

/// The larger of two pods' resources, field by field.
fn max_resources(a: Resources, b: Option<&Resources>) -> Resources {
    let Some(b) = b else { return a };
    Resources {
        cpu_request_milli: a.cpu_request_milli.max(b.cpu_request_milli),
        cpu_limit_milli: a.cpu_limit_milli.max(b.cpu_limit_milli),
        mem_request_mb: a.mem_request_mb.max(b.mem_request_mb),
        mem_limit_mb: a.mem_limit_mb.max(b.mem_limit_mb),
    }
}

/// A deployment's commitment: `replicas` (plus the surge while revisions
/// are mixed) pods of the larger of the current and the rollout's source
/// template, and the object itself.
pub fn deployment_usage(d: &Deployment) -> Usage {
    deployment_usage_with(d, &d.spec)
}

/// The deployment's commitment were its spec `spec` (a scale's replicas).
pub fn deployment_usage_with(d: &Deployment, spec: &crate::model::DeploymentSpec) -> Usage {
    let mixed = d.rollout.is_some() || d.live_other_revision > 0;
    let from = d
        .rollout
        .as_ref()
        .and_then(|r| d.template(r.from))
        .map(|s| &s.template.resources);
    deployment_spec_usage(spec, mixed, from)
}

/// Whether the namespace has a quota (else nothing need be counted).
pub fn applies(state: &State, namespace: &Name) -> bool {
    state.quotas.contains_key(namespace.as_str())
}

/// The same for a spec: `mixed` adds the surge, `other` the resources of
/// the revision it rolls from.
pub fn deployment_spec_usage(
    spec: &crate::model::DeploymentSpec,
    mixed: bool,
    other: Option<&Resources>,
) -> Usage {
    let pods = spec.replicas as u64
        + if mixed {
            spec.strategy.max_surge as u64
        } else {
            0
        };
    Usage::pods(pods, &max_resources(spec.template.resources, other))
        .plus(Usage::count(ObjectKind::Deployment))
}

/// A set's: `replicas` pods of the larger of its update and current templates.
pub fn stateful_set_usage(s: &StatefulSet) -> Usage {
    stateful_set_usage_with(s, s.spec.replicas, &s.spec.template.resources)
}

/// The set's commitment with `replicas` and an update template of `update`.
pub fn stateful_set_usage_with(s: &StatefulSet, replicas: u32, update: &Resources) -> Usage {
    let current = s
        .revisions
        .get(&s.current_revision)
        .map_or(s.spec.template.resources, |t| t.resources);
    Usage::pods(replicas as u64, &max_resources(*update, Some(&current)))
        .plus(Usage::count(ObjectKind::StatefulSet))
}

/// A job's: while active, the pods it may still run at once.
pub fn job_usage(j: &Job) -> Usage {
    let pods = if j.is_active() {
        j.spec
            .parallelism
            .min(j.spec.completions.saturating_sub(j.completed())) as u64
    } else {
        0
    };
    Usage::pods(pods, &j.spec.template.resources).plus(Usage::count(ObjectKind::Job))
}

/// A new job's: `min(parallelism, completions)` pods.
pub fn job_spec_usage(spec: &crate::job::JobSpec) -> Usage {
    Usage::pods(
        spec.parallelism.min(spec.completions) as u64,
        &spec.template.resources,
    )
    .plus(Usage::count(ObjectKind::Job))
}

/// Everything the namespace commits now.
pub fn usage(state: &State, namespace: &str) -> Usage {
    let mut u = Usage::default();
    for d in state
        .deployments
        .values()
        .filter(|d| d.spec.namespace.as_str() == namespace)
    {
        u = u.plus(deployment_usage(d));
    }
    for s in state
        .stateful_sets
        .values()
        .filter(|s| s.spec.namespace.as_str() == namespace)
    {
        u = u.plus(stateful_set_usage(s));
    }
    for j in state
        .jobs
        .values()
        .filter(|j| j.spec.namespace.as_str() == namespace)
    {
        u = u.plus(job_usage(j));
    }
    let cron_jobs = state
        .cron_jobs
        .values()
        .filter(|c| c.spec.namespace.as_str() == namespace)
        .count() as u64;
    let services = state
        .services
        .values()
        .filter(|s| s.spec.namespace.as_str() == namespace)
        .count() as u64;
    u.cron_jobs += cron_jobs;
    u.services += services;
    u
}

/// Admit a change of one object's commitment from `before` to `after` in
/// `namespace`: `403 QUOTA_EXCEEDED` when, for some resource the change
/// raises, the namespace would then commit more than its hard limit (a
/// change that raises nothing passes, even over a quota lowered since).
pub(crate) fn admit(
    state: &State,
    namespace: &Name,
    before: Usage,
    after: Usage,
) -> Result<(), Rejection> {
    let Some(q) = state.quotas.get(namespace.as_str()) else {
        return Ok(());
    };
    let used = usage(state, namespace.as_str());
    let next = used.minus(before).plus(after);
    for (resource, figure, limit) in FIELDS {
        let Some(hard) = limit(&q.hard) else { continue };
        let (b, a) = (figure(&before), figure(&after));
        if a > b && figure(&next) > hard {
            let (used, requested) = (figure(&used), a - b);
            return Err(Rejection {
                quota: Some(Box::new(QuotaExceeded {
                    namespace: namespace.to_string(),
                    resource: resource.to_string(),
                    used,
                    requested,
                    hard,
                })),
                ..Rejection::new(
                    RejectionCode::QuotaExceeded,
                    format!(
                        "exceeded quota in namespace '{namespace}': {resource}: requested {requested}, used {used}, hard {hard}"
                    ),
                )
            });
        }
    }
    Ok(())
}

/// Every quota's namespace whose usage differs from the one recorded.
pub fn stale_usage(state: &State) -> Vec<(Name, Usage, u64)> {
    state
        .quotas
        .values()
        .filter_map(|q| {
            let now = usage(state, q.namespace.as_str());
            (now != q.used).then(|| (q.namespace.clone(), now, q.version))
        })
        .collect()
}
