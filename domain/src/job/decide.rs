//! Deciding a job's commands, and what its pods' exits mean for it.

use crate::command as cmd;
use crate::decision::{Decision, UsageTracker, check_capacity, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::ids::JobId;
use crate::job::{Job, JobFailureReason, PodFailureAction};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::{Pod, State};

fn job<'s>(state: &'s State, id: &JobId) -> Result<&'s Job, Rejection> {
    state
        .jobs
        .get(id)
        .ok_or_else(|| Rejection::new(RejectionCode::NotFound, format!("job {id} not found")))
}

pub(crate) fn create_job(state: &State, c: &cmd::CreateJob) -> Decision {
    let cmd::CreateJob { job_id, spec } = c;
    // (A cron job's runs are created by its own decisions, not this command.)
    if state.jobs.contains_key(job_id) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("job {job_id} already exists"),
        );
    }
    if state
        .job_by_name(spec.namespace.as_str(), spec.name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!(
                "job '{}' already exists in namespace '{}'",
                spec.name, spec.namespace
            ),
        );
    }
    crate::namespace::lookup::check_open(state, &spec.namespace)?;
    let spec = &crate::job::JobSpec {
        template: crate::limitrange::apply::resolve(
            state,
            &spec.namespace,
            &spec.template,
            "template.",
        )?,
        ..spec.clone()
    };
    let errors = spec.validate();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    crate::namespace::security::check(state, &spec.namespace, &spec.template, "template.")?;
    crate::secret::decide::check_refs(state, &spec.namespace, &spec.template, "template.")?;
    check_capacity(state, &spec.template, 1)?;
    crate::quota::commitment::admit(
        state,
        &spec.namespace,
        Default::default(),
        crate::quota::commitment::job_spec_usage(spec),
    )?;
    Ok(vec![Event::JobCreated(ev::JobCreated {
        job_id: *job_id,
        spec: spec.clone(),
        cron_job_id: None,
    })])
}

pub(crate) fn delete_job(state: &State, c: &cmd::DeleteJob) -> Decision {
    job(state, &c.job_id)?;
    let mut usage = UsageTracker::default();
    Ok(job_deleted(state, &c.job_id, "job deleted", &mut usage))
}

/// The job's pods deleted (for `reason`), then the job.
pub(crate) fn job_deleted(
    state: &State,
    id: &JobId,
    reason: &str,
    usage: &mut UsageTracker,
) -> Vec<Event> {
    let Some(j) = state.jobs.get(id) else {
        return vec![];
    };
    let mut events = delete_pods(state, j, reason, usage, false, |_| true);
    events.push(Event::JobDeleted(ev::JobDeleted {
        job_id: j.id,
        namespace: j.spec.namespace.clone(),
        name: j.spec.name.clone(),
    }));
    events
}

pub(crate) fn undelete_job(state: &State, c: &cmd::UndeleteJob) -> Decision {
    let cmd::UndeleteJob { namespace, name } = c;
    if state
        .job_by_name(namespace.as_str(), name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("job '{name}' exists in namespace '{namespace}': delete it first"),
        );
    }
    let Some(j) = state.deleted_jobs.get(&format!("{namespace}/{name}")) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted job '{name}' in namespace '{namespace}'"),
        );
    };
    crate::namespace::security::check(state, namespace, &j.spec.template, "template.")?;
    crate::quota::commitment::admit(
        state,
        namespace,
        Default::default(),
        crate::quota::commitment::job_usage(j),
    )?;
    Ok(vec![Event::JobUndeleted(ev::JobUndeleted {
        job_id: j.id,
        spec: j.spec.clone(),
    })])
}

pub(crate) fn fail_job(state: &State, c: &cmd::FailJob) -> Decision {
    let j = job(state, &c.job_id)?;
    if !j.is_active() {
        return Ok(vec![]);
    }
    let mut usage = UsageTracker::default();
    Ok(finish_failed(
        state,
        j,
        c.reason,
        c.message.clone(),
        None,
        &mut usage,
    ))
}

/// `CreatePod` for a job: its pod number `next_ordinal`, while it is active,
/// within `parallelism` and the completions that remain; an Indexed job's
/// pod takes the lowest index neither done nor running.
pub(crate) fn create_pod(state: &State, id: JobId, c: &cmd::CreatePod) -> Decision {
    let Some(j) = state.jobs.get(&id) else {
        return Ok(vec![]);
    };
    if c.ordinal != j.next_ordinal || j.pods_wanted() == 0 {
        return Ok(vec![]);
    }
    let index = match j.spec.completion_mode {
        crate::job::CompletionMode::NonIndexed => None,
        crate::job::CompletionMode::Indexed => {
            let live = |p: &crate::ids::PodId| state.pods.get(p).is_some_and(Pod::is_live);
            match j.next_index(live) {
                Some(i) => Some(i),
                None => return Ok(vec![]),
            }
        }
    };
    let mut e = crate::decision::pod_created(
        id.into(),
        &j.spec.namespace,
        &j.spec.name,
        c.ordinal,
        &j.spec.template,
        1,
    );
    if let Event::PodCreated(p) = &mut e {
        p.completion_index = index;
    }
    Ok(vec![e])
}

/// The events a job adds to its pod's exit (`exit_code` 0: success): the
/// job completes with its last success, fails at its back-off limit or by
/// its pod failure policy; either way its other live pods are deleted.
pub(crate) fn after_pod_exit(
    state: &State,
    id: JobId,
    pod: &Pod,
    exit_code: Option<i32>,
    succeeded: bool,
    usage: &mut UsageTracker,
) -> Vec<Event> {
    let Some(j) = state.jobs.get(&id).filter(|j| j.is_active()) else {
        return vec![];
    };
    if succeeded {
        let done = match j.spec.completion_mode {
            crate::job::CompletionMode::NonIndexed => j.succeeded + 1,
            crate::job::CompletionMode::Indexed => {
                let mut s = j.succeeded_indexes.clone();
                if let Some(i) = j.index_of.get(&pod.id) {
                    s.insert(*i);
                }
                s.len() as u32
            }
        };
        if done < j.spec.completions {
            return vec![];
        }
        let mut events = delete_pods(state, j, "job complete", usage, true, |p| p != pod.id);
        events.push(Event::JobCompleted(ev::JobCompleted {
            job_id: id,
            succeeded: done,
            failed: j.failed,
        }));
        return events;
    }
    match j.spec.failure_action(exit_code) {
        PodFailureAction::Ignore => vec![],
        PodFailureAction::FailJob => finish_failed(
            state,
            j,
            JobFailureReason::PodFailurePolicy,
            format!(
                "pod {} exited with code {} that the pod failure policy says fails the job",
                pod.id,
                exit_code.unwrap_or(-1)
            ),
            Some(pod.id),
            usage,
        ),
        PodFailureAction::Count if j.failed + 1 > j.spec.backoff_limit => finish_failed(
            state,
            j,
            JobFailureReason::BackoffLimitExceeded,
            format!(
                "{} pod failure(s), more than backoffLimit {}",
                j.failed + 1,
                j.spec.backoff_limit
            ),
            Some(pod.id),
            usage,
        ),
        PodFailureAction::Count => vec![],
    }
}

/// `JobFailed` after deleting the live pods (but `except`, which just ended).
fn finish_failed(
    state: &State,
    j: &Job,
    reason: JobFailureReason,
    message: String,
    except: Option<crate::ids::PodId>,
    usage: &mut UsageTracker,
) -> Vec<Event> {
    let counted = u32::from(except.is_some());
    let mut events = delete_pods(state, j, "job failed", usage, true, |p| Some(p) != except);
    events.push(Event::JobFailed(ev::JobFailed {
        job_id: j.id,
        reason,
        message,
        succeeded: j.completed(),
        failed: j.failed + counted,
    }));
    events
}

/// `PodDeleted` for the job's pods (`live_only`: its live ones) that `which` picks.
fn delete_pods(
    state: &State,
    j: &Job,
    reason: &str,
    usage: &mut UsageTracker,
    live_only: bool,
    which: impl Fn(crate::ids::PodId) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    for pod_id in &j.pods {
        let Some(pod) = state.pods.get(pod_id) else {
            continue;
        };
        if (live_only && !pod.is_live()) || !which(*pod_id) {
            continue;
        }
        let u = usage.release(state, pod_id, pod.node);
        events.push(Event::PodDeleted(ev::PodDeleted {
            pod_id: *pod_id,
            reason: reason.into(),
            usage: u,
        }));
    }
    events
}
