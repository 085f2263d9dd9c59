//! What a workload commits against its namespace's quota, what a
//! namespace commits in all, and the admission of a change.

use super::{FIELDS, Usage};
use crate::job::Job;
use crate::model::Resources;
use crate::names::Name;
use crate::namespace::ObjectKind;
use crate::rejection::{QuotaExceeded, Rejection, RejectionCode};
use crate::state::{Deployment, State};
use crate::statefulset::StatefulSet;

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
            (now != q.used).then(|| {
                let version = state.policy_version(super::quota_id(q.namespace.as_str()));
                (q.namespace.clone(), now, version)
            })
        })
        .collect()
}
