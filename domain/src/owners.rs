//! The workload kinds that own pods: what each does when asked to create
//! one of its pods, and what a pod's exit means to it. A new kind is one arm
//! in each (and in `Owner`, `State::workload` and the pod hooks in `state`).

use crate::command as cmd;
use crate::decision::{Decision, UsageTracker};
use crate::event::Event;
use crate::pod::owner::Owner;
use crate::state::{Pod, State};

/// `CreatePod`: the owner's rules for its next pod.
pub(crate) fn create_pod(state: &State, c: &cmd::CreatePod) -> Decision {
    match c.owner {
        Owner::Deployment(id) => crate::deployment::decide::create_pod(state, id, c),
        Owner::Job(id) => crate::job::decide::create_pod(state, id, c),
        Owner::StatefulSet(id) => crate::statefulset::decide::create_pod(state, id, c),
    }
}

/// The events the owner adds to its pod's exit (`succeeded`: code 0).
pub(crate) fn after_pod_exit(
    state: &State,
    pod: &Pod,
    exit_code: Option<i32>,
    succeeded: bool,
    usage: &mut UsageTracker,
) -> Vec<Event> {
    match pod.owner {
        // A deployment's and a set's pods restart in place; their exits are not its business.
        Owner::Deployment(_) | Owner::StatefulSet(_) => vec![],
        Owner::Job(id) => {
            crate::job::decide::after_pod_exit(state, id, pod, exit_code, succeeded, usage)
        }
    }
}
