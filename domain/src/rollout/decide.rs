//! Deciding a rollout's commands: rollback, abort, pause, resume, promote, complete, fail.

use crate::command as cmd;
use crate::decision::{Decision, deployment, reject};
use crate::event as ev;
use crate::event::{Event, RolloutTrigger};
use crate::ids::DeploymentId;
use crate::rejection::{Rejection, RejectionCode};
use crate::state::{Deployment, Rollout, State};

pub(crate) fn rollback_deployment(state: &State, c: &cmd::RollbackDeployment) -> Decision {
    let cmd::RollbackDeployment {
        deployment_id,
        revision,
        automatic,
        rollout,
        reason,
        ..
    } = c;
    rollback(
        state,
        deployment_id,
        *revision,
        *automatic,
        *rollout,
        reason,
    )
}

pub(crate) fn abort_rollout(state: &State, c: &cmd::AbortRollout) -> Decision {
    let cmd::AbortRollout {
        deployment_id,
        reason,
        ..
    } = c;
    let d = deployment(state, deployment_id)?;
    let Some(r) = &d.rollout else {
        return reject(
            RejectionCode::NoRolloutInProgress,
            format!("deployment {} has no rollout in progress", d.spec.name),
        );
    };
    rollback(state, deployment_id, r.from, false, None, reason)
}

pub(crate) fn complete_rollout(state: &State, c: &cmd::CompleteRollout) -> Decision {
    let cmd::CompleteRollout {
        deployment_id,
        rollout,
        ..
    } = c;
    let Some(d) = state.deployments.get(deployment_id) else {
        return Ok(vec![]);
    };
    let Some(r) = d.rollout.as_ref().filter(|r| r.number == *rollout) else {
        return Ok(vec![]);
    };
    let (mut ready, mut other) = (0u32, 0u32);
    for p in state.live_pods(d) {
        if p.revision != r.to {
            other += 1;
        } else if p.ready {
            ready += 1;
        }
    }
    if r.canary.is_some() || other > 0 || ready < d.spec.replicas {
        return Ok(vec![]);
    }
    Ok(vec![Event::RolloutSucceeded(ev::RolloutSucceeded {
        deployment_id: *deployment_id,
        rollout: r.number,
        from: r.from,
        to: r.to,
    })])
}

pub(crate) fn fail_rollout(state: &State, c: &cmd::FailRollout) -> Decision {
    let cmd::FailRollout {
        deployment_id,
        rollout,
        reason,
        ..
    } = c;
    let Some(d) = state.deployments.get(deployment_id) else {
        return Ok(vec![]);
    };
    if d.rollout.as_ref().map(|r| r.number) != Some(*rollout) {
        return Ok(vec![]);
    }
    Ok(vec![Event::RolloutFailed(ev::RolloutFailed {
        deployment_id: *deployment_id,
        rollout: *rollout,
        reason: reason.to_string(),
    })])
}

/// The deployment and its running rollout, or why there is none.
fn running_rollout<'s>(
    state: &'s State,
    deployment_id: &DeploymentId,
) -> Result<(&'s Deployment, &'s Rollout), Rejection> {
    let d = deployment(state, deployment_id)?;
    let Some(r) = &d.rollout else {
        return Err(Rejection::new(
            RejectionCode::NoRolloutInProgress,
            format!("deployment {} has no rollout in progress", d.spec.name),
        ));
    };
    Ok((d, r))
}

pub(crate) fn pause_rollout(state: &State, c: &cmd::PauseRollout) -> Decision {
    let cmd::PauseRollout { deployment_id, .. } = c;
    let (_, r) = running_rollout(state, deployment_id)?;
    Ok(if r.paused {
        vec![]
    } else {
        vec![Event::RolloutPaused(ev::RolloutPaused {
            deployment_id: *deployment_id,
            rollout: r.number,
        })]
    })
}

pub(crate) fn resume_rollout(state: &State, c: &cmd::ResumeRollout) -> Decision {
    let cmd::ResumeRollout { deployment_id, .. } = c;
    let (_, r) = running_rollout(state, deployment_id)?;
    Ok(if r.paused {
        vec![Event::RolloutResumed(ev::RolloutResumed {
            deployment_id: *deployment_id,
            rollout: r.number,
        })]
    } else {
        vec![]
    })
}

/// A canary's new revision goes to every replica.
pub(crate) fn promote_rollout(state: &State, c: &cmd::PromoteRollout) -> Decision {
    let cmd::PromoteRollout { deployment_id, .. } = c;
    let (d, r) = running_rollout(state, deployment_id)?;
    if r.canary.is_none() {
        return reject(
            RejectionCode::NotACanary,
            format!("rollout {} of {} is not a canary", r.number, d.spec.name),
        );
    }
    Ok(vec![Event::RolloutPromoted(ev::RolloutPromoted {
        deployment_id: *deployment_id,
        rollout: r.number,
    })])
}

/// Roll back to `revision`: the running rollout (if any) is stopped as
/// ROLLED_BACK and a rollout to `revision` starts, in one batch.
pub(crate) fn rollback(
    state: &State,
    deployment_id: &DeploymentId,
    revision: u64,
    automatic: bool,
    rollout: Option<u64>,
    reason: &str,
) -> Result<Vec<Event>, Rejection> {
    let d = deployment(state, deployment_id)?;
    if automatic && d.rollout.as_ref().map(|r| r.number) != rollout {
        return Ok(vec![]);
    }
    if d.template(revision).is_none() || revision == 0 {
        return reject(
            RejectionCode::RevisionNotFound,
            format!(
                "deployment {} has no revision {revision} (revisions 1 to {})",
                d.spec.name,
                d.latest_revision()
            ),
        );
    }
    if revision == d.revision && d.rollout.is_none() {
        return Ok(vec![]);
    }
    // A rollback asked for by a person must fit in the quota with its
    // surge; an automatic one (a failed rollout undone) is never held back.
    if !automatic && crate::quota::commitment::applies(state, &d.spec.namespace) {
        let target = &d.template(revision).expect("checked").template.resources;
        crate::quota::commitment::admit(
            state,
            &d.spec.namespace,
            crate::quota::commitment::deployment_usage(d),
            crate::quota::commitment::deployment_spec_usage(&d.spec, true, Some(target)),
        )?;
    }
    let mut events = Vec::with_capacity(2);
    if let Some(r) = &d.rollout {
        events.push(Event::RolloutRolledBack(ev::RolloutRolledBack {
            deployment_id: *deployment_id,
            rollout: r.number,
            from: r.to,
            to: revision,
            automatic,
            reason: reason.to_string(),
        }));
    }
    events.push(Event::RolloutStarted(ev::RolloutStarted {
        deployment_id: *deployment_id,
        rollout: d.rollouts + 1,
        from: d.revision,
        to: revision,
        trigger: if automatic {
            RolloutTrigger::AutoRollback
        } else {
            RolloutTrigger::Rollback
        },
        canary: None,
    }));
    Ok(events)
}
