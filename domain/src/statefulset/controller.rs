//! The StatefulSet controller: level-triggered, state in, commands out.

use std::collections::HashMap;

use crate::command as cmd;
use crate::command::Command;
use crate::ids::{PodId, derive_id};
use crate::reconcile::Planned;
use crate::state::{Pod, State};
use crate::statefulset::decide::update_converged;
use crate::statefulset::{PodManagementPolicy, StatefulSet};

/// Converge each set to one live pod per ordinal `0..replicas`, each on the
/// revision its ordinal should run:
/// - missing ordinals are created (`OrderedReady`: the lowest missing one,
///   once every lower ordinal is Ready; `Parallel`: all of them);
/// - ordinals at or above `replicas` are deleted, highest first
///   (`OrderedReady`: one per pass);
/// - once every ordinal exists, the highest ordinal on the wrong revision is
///   deleted (to be recreated on the right one) when it is not Ready or every
///   other pod is: one pod at a time, from the top down to `partition`;
/// - an update whose pods failed `rollbackAfterFailures` times is rolled
///   back (`autoRollback`), one that converged is completed.
///
/// An update completes once every pod of its revision has stayed Ready for
/// `minReadySeconds` (as `clock` saw them: the controller's memory, so a
/// restarted controller waits the whole time again).
///
/// The ids of commands the decider may refuse as premature carry `now_ms /
/// 5000`, so a later pass can ask again.
pub fn stateful_sets(state: &State, now_ms: i64, clock: &mut ReadyClock) -> Vec<Planned> {
    let mut sets: Vec<&StatefulSet> = state.stateful_sets.values().collect();
    sets.sort_by_key(|s| s.id);
    let mut out = Vec::new();
    for s in sets {
        plan(state, s, now_ms, clock, &mut out);
    }
    clock
        .since
        .retain(|p, _| state.pods.get(p).is_some_and(|p| p.is_live() && p.ready));
    out
}

/// Since when the controller has seen each StatefulSet pod Ready.
#[derive(Debug, Default)]
pub struct ReadyClock {
    since: HashMap<PodId, i64>,
}

impl ReadyClock {
    /// How long `pod` has been Ready without a break (0 if it is not).
    fn ready_for(&mut self, pod: &Pod, now_ms: i64) -> i64 {
        if pod.is_live() && pod.ready {
            now_ms - *self.since.entry(pod.id).or_insert(now_ms)
        } else {
            self.since.remove(&pod.id);
            0
        }
    }
}

fn plan(
    state: &State,
    s: &StatefulSet,
    now_ms: i64,
    clock: &mut ReadyClock,
    out: &mut Vec<Planned>,
) {
    let window = (now_ms / 5_000) as u64;
    let name = &s.spec.name;
    let strategy = s.spec.update_strategy;
    if let Some(u) = &s.update
        && strategy.auto_rollback
        && u.failures >= strategy.rollback_after_failures
    {
        let why = format!(
            "revision {} of statefulset {name} failed {} time(s) (threshold {}) in {} pod(s): {}; back to revision {}",
            u.to,
            u.failures,
            strategy.rollback_after_failures,
            u.failed_pods.len(),
            u.last_failure.as_deref().unwrap_or("unknown"),
            u.from
        );
        out.push(Planned {
            command_id: derive_id(&[
                b"sts-auto-rollback",
                s.id.0.as_bytes(),
                &u.number.to_be_bytes(),
            ]),
            command: Command::RollbackStatefulSet(cmd::RollbackStatefulSet {
                stateful_set_id: s.id,
                revision: u.from,
                automatic: true,
                update: Some(u.number),
                reason: why.clone(),
            }),
            reason: why,
        });
        return;
    }

    let replicas = s.spec.replicas as u64;
    let ordered = s.spec.pod_management_policy == PodManagementPolicy::OrderedReady;
    let pod_at = |o: u64| s.ordinals.get(&o).and_then(|p| state.pods.get(p));
    let window = window.to_be_bytes();

    // Create the missing ordinals.
    let mut creating = false;
    for o in 0..replicas {
        match pod_at(o) {
            Some(p) if p.is_live() => {
                if ordered && !p.ready {
                    break; // the next ordinal waits for this one
                }
            }
            holder => {
                creating = true;
                let revision = s.target_revision(o);
                let incarnation = s.incarnations.get(&o).copied().unwrap_or(0);
                out.push(Planned {
                    command_id: derive_id(&[
                        b"sts-create-pod",
                        s.id.0.as_bytes(),
                        &o.to_be_bytes(),
                        &incarnation.to_be_bytes(),
                        &revision.to_be_bytes(),
                        &window,
                    ]),
                    command: Command::CreatePod(cmd::CreatePod {
                        owner: s.id.into(),
                        ordinal: o,
                        revision: Some(revision),
                    }),
                    reason: match holder {
                        Some(_) => format!(
                            "statefulset {name}: {} failed; it comes back under its name (revision {revision})",
                            s.spec.pod_name(o)
                        ),
                        None if ordered && o > 0 => format!(
                            "statefulset {name}: ordinal {o} of {replicas} missing; ordinals 0..{} are Ready (OrderedReady)",
                            o - 1
                        ),
                        None => format!(
                            "statefulset {name}: ordinal {o} of {replicas} missing (revision {revision})"
                        ),
                    },
                });
                if ordered {
                    break;
                }
            }
        }
    }

    // Scale down: highest ordinal first.
    let mut surplus: Vec<&Pod> = s
        .pods
        .iter()
        .filter_map(|p| state.pods.get(p))
        .filter(|p| p.is_live() && p.ordinal >= replicas)
        .collect();
    surplus.sort_by_key(|p| std::cmp::Reverse(p.ordinal));
    if ordered {
        surplus.truncate(1);
    }
    for p in &surplus {
        out.push(delete(
            p,
            &window,
            true,
            "scale-down",
            format!(
                "statefulset {name} scaled to {replicas}: {} goes, highest ordinal first",
                s.spec.pod_name(p.ordinal)
            ),
        ));
    }
    if creating || !surplus.is_empty() {
        return;
    }

    // Rolling update: the highest ordinal on the wrong revision, one at a
    // time; a Ready one only while every other ordinal is there and Ready
    // (one that is not Ready is broken anyway: replacing it costs nothing).
    let stale = (0..replicas)
        .rev()
        .filter_map(pod_at)
        .find(|p| p.revision != s.target_revision(p.ordinal));
    if let Some(p) = stale {
        let others_ready = (0..replicas)
            .all(|o| o == p.ordinal || pod_at(o).is_some_and(|q| q.is_live() && q.ready));
        if !p.ready || others_ready {
            let to = s.target_revision(p.ordinal);
            out.push(delete(
                p,
                &window,
                false,
                "rolling update: replaced by its ordinal on a new revision",
                format!(
                    "statefulset {name}: {} runs revision {}, its ordinal should run {to} (partition {}); highest ordinal first",
                    s.spec.pod_name(p.ordinal),
                    p.revision,
                    strategy.partition
                ),
            ));
        }
        return;
    }

    let pending = match &s.update {
        Some(u) => Some(u.number),
        None if strategy.partition == 0 && s.current_revision != s.revision => Some(s.updates),
        None => None,
    };
    let min_ready_ms = strategy.min_ready_seconds as i64 * 1000;
    let partition = strategy.partition.min(s.spec.replicas) as u64;
    let mut settled = true;
    for o in partition..replicas {
        let held = pod_at(o).map_or(0, |p| clock.ready_for(p, now_ms));
        settled &= held >= min_ready_ms;
    }
    if let Some(update) = pending
        && update_converged(state, s)
        && settled
    {
        out.push(Planned {
            command_id: derive_id(&[
                b"sts-update-complete",
                s.id.0.as_bytes(),
                &update.to_be_bytes(),
                &s.version.to_be_bytes(),
            ]),
            command: Command::CompleteStatefulSetUpdate(cmd::CompleteStatefulSetUpdate {
                stateful_set_id: s.id,
                update,
            }),
            reason: format!(
                "statefulset {name}: ordinals {}..{} run revision {} and are Ready{}",
                strategy.partition.min(s.spec.replicas),
                replicas.saturating_sub(1),
                s.revision,
                if min_ready_ms > 0 {
                    format!(" (for at least {} s)", strategy.min_ready_seconds)
                } else {
                    String::new()
                }
            ),
        });
    }
}

fn delete(p: &Pod, window: &[u8], surplus: bool, what: &str, reason: String) -> Planned {
    Planned {
        command_id: derive_id(&[
            b"sts-delete-pod",
            p.id.0.as_bytes(),
            &p.version.to_be_bytes(),
            window,
        ]),
        command: Command::DeletePod(cmd::DeletePod {
            pod_id: p.id,
            reason: what.to_string(),
            only_if_surplus: surplus,
            keep_ready: None,
            respect_budget: false,
        }),
        reason,
    }
}
