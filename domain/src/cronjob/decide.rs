//! Deciding a cron job's commands.

use crate::command as cmd;
use crate::cronjob::{ConcurrencyPolicy, CronJob};
use crate::decision::{Decision, UsageTracker, check_capacity, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::ids::{CronJobId, JobId, derive_id};
use crate::job::JobOutcome;
use crate::names::Name;
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

fn cron_job<'s>(state: &'s State, id: &CronJobId) -> Result<&'s CronJob, Rejection> {
    state
        .cron_jobs
        .get(id)
        .ok_or_else(|| Rejection::new(RejectionCode::NotFound, format!("cron job {id} not found")))
}

pub(crate) fn create_cron_job(state: &State, c: &cmd::CreateCronJob) -> Decision {
    let cmd::CreateCronJob { cron_job_id, spec } = c;
    if state.cron_jobs.contains_key(cron_job_id) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("cron job {cron_job_id} already exists"),
        );
    }
    if state
        .cron_job_by_name(spec.namespace.as_str(), spec.name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!(
                "cron job '{}' already exists in namespace '{}'",
                spec.name, spec.namespace
            ),
        );
    }
    crate::namespace::lookup::check_open(state, &spec.namespace)?;
    let mut spec = spec.clone();
    spec.job_template.template = crate::limitrange::apply::resolve(
        state,
        &spec.namespace,
        &spec.job_template.template,
        "jobTemplate.template.",
    )?;
    let spec = &spec;
    let errors = spec.validate();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    crate::namespace::security::check(
        state,
        &spec.namespace,
        &spec.job_template.template,
        "jobTemplate.template.",
    )?;
    crate::secret::decide::check_refs(
        state,
        &spec.namespace,
        &spec.job_template.template,
        "jobTemplate.template.",
    )?;
    check_capacity(state, &spec.job_template.template, 1)?;
    crate::quota::commitment::admit(
        state,
        &spec.namespace,
        Default::default(),
        crate::quota::Usage::count(crate::namespace::ObjectKind::CronJob),
    )?;
    Ok(vec![Event::CronJobCreated(ev::CronJobCreated {
        cron_job_id: *cron_job_id,
        spec: spec.clone(),
    })])
}

pub(crate) fn suspend_cron_job(state: &State, c: &cmd::SuspendCronJob) -> Decision {
    let cj = cron_job(state, &c.cron_job_id)?;
    if cj.spec.suspend == c.suspend {
        return Ok(vec![]);
    }
    Ok(vec![Event::CronJobSuspended(ev::CronJobSuspended {
        cron_job_id: cj.id,
        suspend: c.suspend,
    })])
}

pub(crate) fn delete_cron_job(state: &State, c: &cmd::DeleteCronJob) -> Decision {
    let cj = cron_job(state, &c.cron_job_id)?;
    let mut usage = UsageTracker::default();
    let mut events = Vec::new();
    for job in cj.jobs.values() {
        events.extend(crate::job::decide::job_deleted(
            state,
            job,
            "cron job deleted",
            &mut usage,
        ));
    }
    events.push(Event::CronJobDeleted(ev::CronJobDeleted {
        cron_job_id: cj.id,
        namespace: cj.spec.namespace.clone(),
        name: cj.spec.name.clone(),
    }));
    Ok(events)
}

pub(crate) fn undelete_cron_job(state: &State, c: &cmd::UndeleteCronJob) -> Decision {
    let cmd::UndeleteCronJob { namespace, name } = c;
    if state
        .cron_job_by_name(namespace.as_str(), name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("cron job '{name}' exists in namespace '{namespace}': delete it first"),
        );
    }
    let Some(cj) = state.deleted_cron_jobs.get(&format!("{namespace}/{name}")) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted cron job '{name}' in namespace '{namespace}'"),
        );
    };
    crate::namespace::security::check(
        state,
        namespace,
        &cj.spec.job_template.template,
        "jobTemplate.template.",
    )?;
    crate::quota::commitment::admit(
        state,
        namespace,
        Default::default(),
        crate::quota::Usage::count(crate::namespace::ObjectKind::CronJob),
    )?;
    Ok(vec![Event::CronJobUndeleted(ev::CronJobUndeleted {
        cron_job_id: cj.id,
        spec: cj.spec.clone(),
    })])
}

/// A due run: skipped (a missed deadline, or Forbid while a job is active),
/// or a new job (after deleting the active ones under Replace); then the
/// finished jobs beyond the history limits are deleted, oldest first.
pub(crate) fn run_cron_job(state: &State, c: &cmd::RunCronJob) -> Decision {
    let Some(cj) = state.cron_jobs.get(&c.cron_job_id) else {
        return Ok(vec![]);
    };
    if cj.spec.suspend || cj.last_scheduled_ms.is_some_and(|t| t >= c.scheduled_at_ms) {
        return Ok(vec![]);
    }
    let skipped = |reason: String| {
        Ok(vec![Event::CronJobRunSkipped(ev::CronJobRunSkipped {
            cron_job_id: cj.id,
            scheduled_at_ms: c.scheduled_at_ms,
            reason,
        })])
    };
    if let Some(why) = &c.skip {
        return skipped(why.clone());
    }
    let active: Vec<JobId> = cj
        .jobs
        .values()
        .filter(|j| state.jobs.get(j).is_some_and(|j| j.is_active()))
        .copied()
        .collect();
    let mut usage = UsageTracker::default();
    let mut events = Vec::new();
    match cj.spec.concurrency_policy {
        ConcurrencyPolicy::Forbid if !active.is_empty() => {
            let names: Vec<String> = active
                .iter()
                .filter_map(|j| state.jobs.get(j))
                .map(|j| j.spec.name.to_string())
                .collect();
            return skipped(format!(
                "concurrencyPolicy Forbid: job {} is still running",
                names.join(", ")
            ));
        }
        ConcurrencyPolicy::Replace => {
            for j in &active {
                events.extend(crate::job::decide::job_deleted(
                    state,
                    j,
                    "replaced by the cron job's next run (concurrencyPolicy Replace)",
                    &mut usage,
                ));
            }
        }
        _ => {}
    }
    let job_id = JobId(derive_id(&[
        b"cron-run",
        cj.id.0.as_bytes(),
        &c.scheduled_at_ms.to_be_bytes(),
    ]));
    let name = format!("{}-{}", cj.spec.name, c.scheduled_at_ms.div_euclid(1000));
    let Ok(name) = Name::parse("name", &name) else {
        return skipped(format!("the job name '{name}' is not a valid name"));
    };
    // The run's job must fit in the namespace's quota (the jobs it
    // replaces give theirs back); if not, the run is skipped, saying why.
    let spec = cj.spec.job_spec(name);
    if crate::quota::commitment::applies(state, &spec.namespace) {
        let replaced = if cj.spec.concurrency_policy == ConcurrencyPolicy::Replace {
            active
                .iter()
                .filter_map(|j| state.jobs.get(j))
                .fold(crate::quota::Usage::default(), |u, j| {
                    u.plus(crate::quota::commitment::job_usage(j))
                })
        } else {
            crate::quota::Usage::default()
        };
        if let Err(r) = crate::quota::commitment::admit(
            state,
            &spec.namespace,
            replaced,
            crate::quota::commitment::job_spec_usage(&spec),
        ) {
            return skipped(r.message);
        }
    }
    events.push(Event::CronJobRunStarted(ev::CronJobRunStarted {
        cron_job_id: cj.id,
        job_id,
        scheduled_at_ms: c.scheduled_at_ms,
    }));
    events.push(Event::JobCreated(ev::JobCreated {
        job_id,
        spec,
        cron_job_id: Some(cj.id),
    }));
    // History limits, over the jobs that finished (the replaced ones are gone).
    for (outcome, limit) in [
        (JobOutcome::Complete, cj.spec.successful_jobs_history_limit),
        (JobOutcome::Failed, cj.spec.failed_jobs_history_limit),
    ] {
        let done: Vec<&JobId> = cj
            .jobs
            .values()
            .filter(|j| !active.contains(j))
            .filter(|j| {
                state
                    .jobs
                    .get(j)
                    .is_some_and(|j| j.outcome == Some(outcome))
            })
            .collect();
        let excess = done.len().saturating_sub(limit as usize);
        for j in done.into_iter().take(excess) {
            events.extend(crate::job::decide::job_deleted(
                state,
                j,
                "beyond the cron job's history limit",
                &mut usage,
            ));
        }
    }
    Ok(events)
}
