//! Level-triggered reconcile rules: desired and observed state in, commands
//! out. Command ids are derived from the object and its version, so running
//! a pass twice on the same view sends the same commands, which the decider
//! drops as duplicates.

use crate::command as cmd;
pub use crate::statefulset::controller::{ReadyClock, stateful_sets};
use std::cmp::Reverse;
use std::collections::HashMap;

use uuid::Uuid;

use crate::command::Command;
use crate::event::{EvictionCause, RolloutTrigger};
use crate::ids::{DeploymentId, NodeId, PodId, derive_id};
use crate::model::{NodeCondition, PodPhase, TaintEffect};
use crate::scheduler::taints::no_execute_allowance;
use crate::state::{Deployment, Pod, Rollout, State};

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub command_id: Uuid,
    pub command: Command,
    pub reason: String,
}

/// Deployment and rollout controller: converge each deployment's live pods
/// to `replicas` pods of its current revision. While pods of other
/// revisions remain (a rollout or a rollback), it is a rolling update: at
/// most `replicas + maxSurge` live pods, old pods removed only while at
/// least `replicas - maxUnavailable` pods stay Ready (and within the
/// disruption budget), unready old pods first. A canary stops at its pod
/// count until promoted; a paused rollout makes no progress. A rollout
/// whose new pods fail `rollbackAfterFailedPods` times is rolled back
/// (or failed, without `autoRollback`); one that converged succeeds.
///
/// `window` (e.g. seconds / 5) goes into the ids of commands the decider may
/// refuse as premature, so a later pass can ask again.
pub fn deployments(state: &State, window: u64) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut ids: Vec<_> = state.deployments.keys().copied().collect();
    ids.sort();
    for id in ids {
        plan_deployment(state, &state.deployments[&id], window, &mut out);
    }
    out
}

fn plan_deployment(state: &State, d: &Deployment, window: u64, out: &mut Vec<Planned>) {
    let id = d.id;
    let replicas = d.spec.replicas;
    // The common case, without looking at any pod: steady, or short of pods.
    if d.rollout.is_none() && d.live_other_revision == 0 && d.live <= replicas {
        let digest = [window, d.live as u64, d.version]
            .map(|v| v.to_be_bytes())
            .concat();
        for ordinal in d.next_ordinal..d.next_ordinal + (replicas - d.live) as u64 {
            out.push(create_pod(d, ordinal, d.revision, &digest, || {
                format!(
                    "deployment {} has {} of {} replicas",
                    d.spec.name, d.live, replicas
                )
            }));
        }
        return;
    }
    let strategy = d.spec.strategy;
    let rollout = d.rollout.as_ref();
    let live: Vec<&Pod> = state.live_pods(d).collect();
    let (new, old): (Vec<&Pod>, Vec<&Pod>) = live.iter().partition(|p| p.revision == d.revision);
    let ready = live.iter().filter(|p| p.ready).count() as u32;
    let new_ready = new.iter().filter(|p| p.ready).count() as u32;
    let digest = [
        window,
        live.len() as u64,
        ready as u64,
        new.len() as u64,
        d.version,
    ]
    .map(|v| v.to_be_bytes())
    .concat();

    if let Some(r) = rollout {
        let failed = r.failed_pods.len() as u32;
        if failed >= strategy.rollback_after_failed_pods {
            let why = format!(
                "{failed} pod(s) of revision {} failed (threshold {}): {}",
                r.to,
                strategy.rollback_after_failed_pods,
                r.last_failure.as_deref().unwrap_or("unknown")
            );
            out.push(stop_rollout(d, r, why));
            return;
        }
        if !r.paused && r.canary.is_none() && old.is_empty() && new_ready >= replicas {
            out.push(Planned {
                command_id: derive_id(&[
                    b"rollout-complete",
                    id.0.as_bytes(),
                    &r.number.to_be_bytes(),
                ]),
                command: Command::CompleteRollout(cmd::CompleteRollout {
                    deployment_id: id,
                    rollout: r.number,
                }),
                reason: format!("{new_ready} of {replicas} pods Ready on revision {}", r.to),
            });
        }
    }

    let rolling = rollout.is_some() || !old.is_empty();
    let want_new = match rollout {
        Some(r) if r.paused => (new.len() as u32).min(replicas),
        Some(r) => r.canary.map_or(replicas, |c| c.min(replicas)),
        None => replicas,
    };
    let want_old = replicas - want_new;
    let max_total = replicas + if rolling { strategy.max_surge } else { 0 };
    let min_ready = replicas.saturating_sub(strategy.max_unavailable);
    let total = live.len() as u32;

    // Create: new pods up to `want_new` within the surge; old ones to refill a paused or canary rollout.
    let mut room = max_total.saturating_sub(total);
    let create_new = want_new.saturating_sub(new.len() as u32).min(room);
    room -= create_new;
    let short = replicas.saturating_sub(total + create_new);
    let old_revision = rollout.map_or(d.revision, |r| r.from);
    let create_old = if d.template(old_revision).is_some() && old_revision != d.revision {
        want_old
            .saturating_sub(old.len() as u32)
            .min(short)
            .min(room)
    } else {
        0
    };
    let mut ordinal = d.next_ordinal;
    for (n, revision) in [(create_new, d.revision), (create_old, old_revision)] {
        for _ in 0..n {
            out.push(create_pod(
                d,
                ordinal,
                revision,
                &digest,
                || match rollout {
                    Some(r) => format!(
                        "rollout {} of {}: {} of {} pods on revision {}",
                        r.number,
                        d.spec.name,
                        new.len(),
                        want_new,
                        r.to
                    ),
                    None => format!(
                        "deployment {} has {} of {} replicas",
                        d.spec.name, total, replicas
                    ),
                },
            ));
            ordinal += 1;
        }
    }

    // Delete: surplus pods, least useful first; a Ready one only while
    // enough stay Ready and the disruption budget allows.
    let mut ready_left = ready;
    let mut budget = state.disruptions_allowed(d);
    let least_useful = |p: &&Pod| {
        (
            p.ready,
            p.node.is_some(),
            p.phase == crate::model::PodPhase::Running,
            Reverse(p.ordinal),
        )
    };
    let mut plan_deletes = |pods: &[&Pod], excess: u32, what: &str, out: &mut Vec<Planned>| {
        let mut pods = pods.to_vec();
        pods.sort_by_key(least_useful);
        let mut excess = excess;
        for pod in pods {
            if excess == 0 {
                break;
            }
            if pod.ready {
                if (rolling && ready_left <= min_ready) || budget == 0 {
                    break;
                }
                ready_left -= 1;
                budget -= 1;
            }
            excess -= 1;
            out.push(Planned {
                command_id: derive_id(&[b"delete-pod", pod.id.0.as_bytes(), &digest]),
                command: Command::DeletePod(cmd::DeletePod {
                    pod_id: pod.id,
                    reason: what.to_string(),
                    only_if_surplus: !rolling,
                    keep_ready: rolling.then_some(min_ready),
                    respect_budget: true,
                }),
                reason: format!(
                    "deployment {}: {} live, {} Ready, wants {} (revision {})",
                    d.spec.name, total, ready, replicas, d.revision
                ),
            });
        }
    };
    let excess_old = (old.len() as u32).saturating_sub(want_old);
    if excess_old > 0 {
        plan_deletes(
            &old,
            excess_old,
            "rolling update: replaced by a new revision",
            out,
        );
    }
    let excess_new = (new.len() as u32).saturating_sub(want_new);
    if excess_new > 0 {
        plan_deletes(&new, excess_new, "scale-down", out);
    }
}

fn create_pod(
    d: &Deployment,
    ordinal: u64,
    revision: u64,
    digest: &[u8],
    reason: impl FnOnce() -> String,
) -> Planned {
    Planned {
        command_id: derive_id(&[
            b"create-pod",
            d.id.0.as_bytes(),
            &ordinal.to_be_bytes(),
            &revision.to_be_bytes(),
            digest,
        ]),
        command: Command::CreatePod(cmd::CreatePod {
            owner: d.id.into(),
            ordinal,
            revision: Some(revision),
        }),
        reason: reason(),
    }
}

/// Roll a failing rollout back to where it started (an update) or mark it
/// failed (a rollback that fails, or `autoRollback: false`).
fn stop_rollout(d: &Deployment, r: &Rollout, why: String) -> Planned {
    let auto = d.spec.strategy.auto_rollback && r.trigger == RolloutTrigger::Update;
    let number = r.number.to_be_bytes();
    if auto {
        Planned {
            command_id: derive_id(&[b"auto-rollback", d.id.0.as_bytes(), &number]),
            command: Command::RollbackDeployment(cmd::RollbackDeployment {
                deployment_id: d.id,
                revision: r.from,
                automatic: true,
                rollout: Some(r.number),
                reason: why.clone(),
            }),
            reason: why,
        }
    } else {
        Planned {
            command_id: derive_id(&[b"rollout-failed", d.id.0.as_bytes(), &number]),
            command: Command::FailRollout(cmd::FailRollout {
                deployment_id: d.id,
                rollout: r.number,
                reason: why.clone(),
            }),
            reason: why,
        }
    }
}

/// Watches running rollouts for progress (pods created, Ready, old ones
/// gone); one without progress for `progressDeadlineSeconds` is stopped
/// like a failing one. Paused time does not count.
#[derive(Debug, Default)]
pub struct RolloutClock {
    seen: HashMap<(DeploymentId, u64), ([u32; 3], i64)>,
}

pub fn rollout_deadlines(state: &State, now_ms: i64, clock: &mut RolloutClock) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut running = std::collections::HashSet::new();
    for d in state.deployments.values() {
        let Some(r) = &d.rollout else { continue };
        running.insert((d.id, r.number));
        let (mut new, mut new_ready, mut old) = (0u32, 0u32, 0u32);
        for p in state.live_pods(d) {
            if p.revision == r.to {
                new += 1;
                new_ready += p.ready as u32;
            } else {
                old += 1;
            }
        }
        let progress = [new, new_ready, old];
        let entry = clock
            .seen
            .entry((d.id, r.number))
            .or_insert((progress, now_ms));
        if entry.0 != progress || r.paused {
            *entry = (progress, now_ms);
            continue;
        }
        let deadline = d.spec.strategy.progress_deadline_seconds as i64 * 1000;
        if now_ms - entry.1 > deadline {
            out.push(stop_rollout(
                d,
                r,
                format!(
                    "no progress for {} s (progressDeadlineSeconds): {new_ready} of {} pods Ready on revision {}",
                    d.spec.strategy.progress_deadline_seconds, d.spec.replicas, r.to
                ),
            ));
        }
    }
    clock.seen.retain(|k, _| running.contains(k));
    out
}

#[derive(Debug, Clone, Copy)]
pub struct LifecycleConfig {
    /// Silent this long → NotReady.
    pub grace_ms: i64,
    /// Silent this long → Lost, and its pods are replaced.
    pub lost_after_ms: i64,
    /// Nodes per second per zone whose pods may be evicted (declared Lost).
    pub evictions_per_zone_per_sec: f64,
    /// A zone with at least this share of its nodes silent looks partitioned
    /// rather than broken: it drops to `unhealthy_zone_per_sec`.
    pub unhealthy_zone_fraction: f64,
    pub unhealthy_zone_per_sec: f64,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            grace_ms: 30_000,
            lost_after_ms: 60_000,
            evictions_per_zone_per_sec: 10.0,
            unhealthy_zone_fraction: 0.55,
            unhealthy_zone_per_sec: 1.0,
        }
    }
}

/// Token buckets, one per zone, for declaring nodes Lost (which evicts
/// their pods): an outage drains at a bounded rate instead of a storm. A
/// node admitted once is admitted again while its command is in flight.
#[derive(Debug, Default)]
pub struct ZoneLimiter {
    buckets: HashMap<String, (f64, i64)>,
    admitted: HashMap<NodeId, i64>,
    /// Nodes held back at the last pass.
    pub held_back: usize,
}

impl ZoneLimiter {
    fn admit(&mut self, zone: &str, node: NodeId, now_ms: i64, rate: f64) -> bool {
        if self.admitted.contains_key(&node) {
            return true;
        }
        let burst = if rate > 0.0 { rate.max(1.0) } else { 0.0 };
        let b = self
            .buckets
            .entry(zone.to_string())
            .or_insert((burst, now_ms));
        b.0 = (b.0 + (now_ms - b.1).max(0) as f64 / 1000.0 * rate).min(burst);
        b.1 = now_ms;
        if b.0 >= 1.0 {
            b.0 -= 1.0;
            self.admitted.insert(node, now_ms);
            true
        } else {
            false
        }
    }

    fn forget_older_than(&mut self, cutoff_ms: i64) {
        self.admitted.retain(|_, at| *at >= cutoff_ms);
    }
}

/// Node lifecycle: compare each node's last heartbeat (ms since epoch, `None`
/// for a node never heard from) with `now_ms`. The caller has read every
/// heartbeat the log held when it started (`watch_started_ms`), so a node
/// silent past the grace period is NotReady at once, even right after a
/// control-plane restart: nothing new lands on it. Declaring it Lost (which
/// evicts its pods) counts the silence from the later of its last heartbeat
/// and the watch's start, so a control-plane outage gives every node a fresh
/// period before its pods move instead of becoming an eviction storm.
pub fn node_lifecycle(
    state: &State,
    last_seen: impl Fn(NodeId) -> Option<i64>,
    now_ms: i64,
    watch_started_ms: i64,
    cfg: LifecycleConfig,
    limiter: &mut ZoneLimiter,
) -> Vec<Planned> {
    let mut out = Vec::new();
    // (silent, silent since the watch started): the first decides NotReady, the second Lost.
    let silence = |id: NodeId| {
        let seen = last_seen(id);
        let silent = seen.map_or(i64::MAX, |s| (now_ms - s).max(0));
        let since_watch = seen
            .unwrap_or(watch_started_ms)
            .max(watch_started_ms.min(now_ms));
        (silent, (now_ms - since_watch).max(0))
    };
    let mut nodes: Vec<_> = state.nodes.values().map(|n| (n, silence(n.id))).collect();
    // Longest silent first, so the rate limit takes the surest losses first.
    nodes.sort_by_key(|(n, (_, silent))| (Reverse(*silent), n.id));
    let mut zones: HashMap<&str, (u32, u32)> = HashMap::new();
    for (n, (_, silent)) in &nodes {
        let z = zones.entry(n.spec.zone.as_str()).or_default();
        z.0 += 1;
        if *silent >= cfg.grace_ms || n.condition == NodeCondition::Lost {
            z.1 += 1;
        }
    }
    limiter.forget_older_than(now_ms - 10_000);
    limiter.held_back = 0;
    for (node, (heard_silent, silent)) in nodes {
        let version = node.version.to_be_bytes();
        let id = |what: &[u8]| derive_id(&[what, node.id.0.as_bytes(), &version]);
        let lose = |limiter: &mut ZoneLimiter| {
            let (total, down) = zones[node.spec.zone.as_str()];
            let rate = if total > 2 && down as f64 >= total as f64 * cfg.unhealthy_zone_fraction {
                cfg.unhealthy_zone_per_sec
            } else {
                cfg.evictions_per_zone_per_sec
            };
            limiter.admit(&node.spec.zone, node.id, now_ms, rate)
        };
        // What the events say: the real silence, or (never heard) the watch's.
        let reported = if heard_silent == i64::MAX {
            silent
        } else {
            heard_silent
        };
        let planned = match node.condition {
            NodeCondition::Ready | NodeCondition::NotReady if silent >= cfg.lost_after_ms => {
                if lose(limiter) {
                    Some((
                        id(b"node-lost"),
                        Command::MarkNodeLost(cmd::MarkNodeLost {
                            node_id: node.id,
                            silent_for_ms: reported as u64,
                        }),
                    ))
                } else {
                    limiter.held_back += 1;
                    (node.condition == NodeCondition::Ready).then(|| {
                        (
                            id(b"node-not-ready"),
                            Command::MarkNodeNotReady(cmd::MarkNodeNotReady {
                                node_id: node.id,
                                silent_for_ms: reported as u64,
                            }),
                        )
                    })
                }
            }
            NodeCondition::Ready if heard_silent >= cfg.grace_ms => Some((
                id(b"node-not-ready"),
                Command::MarkNodeNotReady(cmd::MarkNodeNotReady {
                    node_id: node.id,
                    silent_for_ms: reported as u64,
                }),
            )),
            NodeCondition::NotReady | NodeCondition::Lost if heard_silent < cfg.grace_ms => Some((
                id(b"node-ready"),
                Command::MarkNodeReady(cmd::MarkNodeReady { node_id: node.id }),
            )),
            _ => None,
        };
        if let Some((command_id, command)) = planned {
            out.push(Planned {
                command_id,
                command,
                reason: if heard_silent == i64::MAX {
                    format!(
                        "node {} never heard from ({} ms since the controller started)",
                        node.spec.name, silent
                    )
                } else {
                    format!("node {} last heard {} ms ago", node.spec.name, heard_silent)
                },
            });
        }
    }
    out
}

/// Evictions the nodes' state asks for: pods of a draining node (within
/// their deployments' disruption budgets), and pods on a node with a
/// `NoExecute` taint they do not tolerate, or no longer (toleration seconds
/// counted from the taint's `timeAddedMs`). Drain evictions refused for the
/// budget are asked again in the next `retry_ms` window.
pub fn evictions(state: &State, now_ms: i64, retry_ms: i64) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut budgets: HashMap<crate::pod::owner::Owner, u32> = HashMap::new();
    let mut nodes: Vec<_> = state
        .nodes
        .values()
        .filter(|n| {
            n.draining
                || n.spec
                    .taints
                    .iter()
                    .any(|t| t.effect == TaintEffect::NoExecute)
        })
        .collect();
    nodes.sort_by_key(|n| n.id);
    let window = (now_ms / retry_ms.max(1)).to_be_bytes();
    for node in nodes {
        let mut pods: Vec<_> = node
            .pods
            .iter()
            .filter_map(|p| state.pods.get(p))
            .filter(|p| p.is_live())
            .collect();
        pods.sort_by_key(|p| (p.ready, p.owner, p.ordinal));
        for pod in pods {
            let Some(w) = state.workload(pod.owner) else {
                continue;
            };
            let version = pod.version.to_be_bytes();
            let tainted = node
                .spec
                .taints
                .iter()
                .filter(|t| t.effect == TaintEffect::NoExecute)
                // (taint, whether the pod tolerated it until its seconds ran out)
                .find_map(|t| match no_execute_allowance(&w.template.tolerations, t) {
                    None => Some((t, false)),
                    Some(None) => None,
                    Some(Some(secs)) => (now_ms
                        >= t.time_added_ms.unwrap_or(0) + secs as i64 * 1000)
                        .then_some((t, true)),
                });
            if let Some((t, expired)) = tainted {
                out.push(Planned {
                    command_id: derive_id(&[b"no-execute", pod.id.0.as_bytes(), &version]),
                    command: Command::EvictPod(cmd::EvictPod {
                        pod_id: pod.id,
                        cause: EvictionCause::Taint { key: t.key.clone() },
                        reason: format!(
                            "node {} has taint {}={}:NoExecute that the pod does not tolerate{}",
                            node.spec.name,
                            t.key,
                            t.value,
                            if expired {
                                " any longer (toleration seconds ran out)"
                            } else {
                                ""
                            }
                        ),
                        respect_budget: false,
                    }),
                    reason: format!("NoExecute taint {} on node {}", t.key, node.spec.name),
                });
                continue;
            }
            if node.draining {
                if pod.ready {
                    let left = budgets
                        .entry(pod.owner)
                        .or_insert_with(|| state.disruptions_allowed_for(&pod.owner));
                    if *left == 0 {
                        continue;
                    }
                    *left -= 1;
                }
                out.push(Planned {
                    command_id: derive_id(&[b"drain", pod.id.0.as_bytes(), &version, &window]),
                    command: Command::EvictPod(cmd::EvictPod {
                        pod_id: pod.id,
                        cause: EvictionCause::Drain,
                        reason: format!("node {} is being drained", node.spec.name),
                        respect_budget: true,
                    }),
                    reason: format!("drain of node {}", node.spec.name),
                });
            }
        }
    }
    out
}

/// Pod garbage collection: a pod that failed or was evicted (and so was
/// replaced by its controller) is deleted `ttl_ms` after it ended, so the
/// live state and the pod listings hold only pods that may still run; the
/// log keeps every one of them. `ended` lists the pods that ended (when, in
/// ms since epoch, and why): the candidates, so a pass costs nothing for the
/// pods that run. At most `max` per pass, oldest first.
pub fn pod_gc<'a>(
    state: &State,
    ended: impl IntoIterator<Item = (PodId, i64, &'a str)>,
    now_ms: i64,
    ttl_ms: i64,
    max: usize,
) -> Vec<Planned> {
    let mut due: Vec<(i64, &Pod, &str)> = ended
        .into_iter()
        .filter(|(_, at, _)| now_ms - at >= ttl_ms)
        .filter_map(|(id, at, why)| {
            let p = state.pods.get(&id)?;
            // A job's pods are kept for its TTL (`job_pod_ttl`), not this one.
            (p.phase == PodPhase::Failed && p.owner.job().is_none()).then_some((at, p, why))
        })
        .collect();
    due.sort_by_key(|(at, p, _)| (*at, p.id));
    due.into_iter()
        .take(max)
        .map(|(at, p, why)| {
            let after = (now_ms - at).max(0) / 1000;
            let reason = if why.is_empty() {
                format!("garbage-collected: ended {after} s ago")
            } else {
                format!("garbage-collected: ended {after} s ago ({why})")
            };
            Planned {
                command_id: derive_id(&[b"pod-gc", p.id.0.as_bytes(), &p.version.to_be_bytes()]),
                command: Command::DeletePod(cmd::DeletePod {
                    pod_id: p.id,
                    reason,
                    only_if_surplus: false,
                    keep_ready: None,
                    respect_budget: false,
                }),
                reason: "pod garbage collection".into(),
            }
        })
        .collect()
}

/// Job controller: start each active job's missing pods (within
/// `parallelism` and the completions that remain), after the back-off that
/// its counted failures ask for (`backoff_base_ms · 2^(failures − 1)`, at
/// most six minutes), and fail a job that ran past `activeDeadlineSeconds`.
pub fn jobs(state: &State, now_ms: i64, backoff_base_ms: i64) -> Vec<Planned> {
    let mut ids: Vec<&crate::job::Job> = state.jobs.values().filter(|j| j.is_active()).collect();
    ids.sort_by_key(|j| j.id);
    let mut out = Vec::new();
    for j in ids {
        if let Some(secs) = j.spec.active_deadline_seconds
            && j.started_at_ms > 0
            && now_ms >= j.started_at_ms + secs as i64 * 1000
        {
            out.push(Planned {
                command_id: derive_id(&[b"job-deadline", j.id.0.as_bytes()]),
                command: Command::FailJob(cmd::FailJob {
                    job_id: j.id,
                    reason: crate::job::JobFailureReason::DeadlineExceeded,
                    message: format!("the job ran longer than activeDeadlineSeconds ({secs} s)"),
                }),
                reason: "job deadline".into(),
            });
            continue;
        }
        let wanted = j.pods_wanted();
        if wanted == 0 {
            continue;
        }
        if let Some(at) = j.last_failure_at_ms
            && now_ms < at + j.backoff_ms(backoff_base_ms)
        {
            continue;
        }
        // The id changes with the job's progress and every 5 s: a CreatePod
        // the decider dropped on a stale view is asked again, never lost.
        let view = [
            j.completed().to_be_bytes(),
            j.failed.to_be_bytes(),
            j.live.to_be_bytes(),
            ((now_ms / 5_000) as u32).to_be_bytes(),
        ]
        .concat();
        for k in 0..wanted as u64 {
            let ordinal = j.next_ordinal + k;
            out.push(Planned {
                command_id: derive_id(&[
                    b"job-pod",
                    j.id.0.as_bytes(),
                    &ordinal.to_be_bytes(),
                    &view,
                ]),
                command: Command::CreatePod(cmd::CreatePod {
                    owner: j.id.into(),
                    ordinal,
                    revision: None,
                }),
                reason: format!(
                    "job {} has {} of {} completions and {} of {} pods running",
                    j.spec.name,
                    j.completed(),
                    j.spec.completions,
                    j.live,
                    j.spec.parallelism
                ),
            });
        }
    }
    out
}

/// A finished job's pods are deleted `ttlSecondsAfterFinished` after it
/// finished (the job and its events stay). At most `max` per pass.
pub fn job_pod_ttl(state: &State, now_ms: i64, max: usize) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut jobs: Vec<&crate::job::Job> = state.jobs.values().collect();
    jobs.sort_by_key(|j| j.id);
    for j in jobs {
        let (Some(ttl), Some(done)) = (j.spec.ttl_seconds_after_finished, j.finished_at_ms) else {
            continue;
        };
        if now_ms < done + ttl as i64 * 1000 {
            continue;
        }
        for pod_id in &j.pods {
            let Some(p) = state.pods.get(pod_id).filter(|p| !p.is_live()) else {
                continue;
            };
            out.push(Planned {
                command_id: derive_id(&[b"job-ttl", p.id.0.as_bytes(), &p.version.to_be_bytes()]),
                command: Command::DeletePod(cmd::DeletePod {
                    pod_id: p.id,
                    reason: format!(
                        "job {} finished more than {ttl} s ago (ttlSecondsAfterFinished)",
                        j.spec.name
                    ),
                    only_if_surplus: false,
                    keep_ready: None,
                    respect_budget: false,
                }),
                reason: "job pod ttl".into(),
            });
            if out.len() >= max {
                return out;
            }
        }
    }
    out
}

/// Cron job controller: for each cron job not suspended, the latest run its
/// schedule made due since the last one handled (at most one catch-up
/// after downtime, as Kubernetes), skipped with the reason when it is later
/// than `startingDeadlineSeconds`.
pub fn cron_jobs(state: &State, now_ms: i64) -> Vec<Planned> {
    let mut all: Vec<&crate::cronjob::CronJob> = state
        .cron_jobs
        .values()
        .filter(|c| !c.spec.suspend && c.created_at_ms > 0)
        .collect();
    all.sort_by_key(|c| c.id);
    let mut out = Vec::new();
    for c in all {
        let after = c.last_scheduled_ms.unwrap_or(c.created_at_ms);
        let Some(due) = c.spec.latest_due(after, now_ms) else {
            continue;
        };
        let late_ms = now_ms - due;
        let skip = c
            .spec
            .starting_deadline_seconds
            .filter(|d| late_ms > *d as i64 * 1000)
            .map(|d| {
                format!(
                    "missed its starting deadline ({d} s) by {} ms",
                    late_ms - d as i64 * 1000
                )
            });
        out.push(Planned {
            command_id: derive_id(&[b"cron-run", c.id.0.as_bytes(), &due.to_be_bytes()]),
            command: Command::RunCronJob(cmd::RunCronJob {
                cron_job_id: c.id,
                scheduled_at_ms: due,
                skip,
            }),
            reason: format!("cron job {} is due ({})", c.spec.name, c.spec.schedule),
        });
    }
    out
}

/// Namespace controller: every object a deleted namespace held and still
/// has is deleted through `PurgeNamespaceObject` (its kind's own delete,
/// so each object's history says it went with its namespace); every quota
/// whose namespace commits something else than last recorded has the new
/// figures recorded.
pub fn namespaces(state: &State) -> Vec<Planned> {
    let mut out = Vec::new();
    for ns in state.namespaces.values().filter(|n| n.deleted) {
        for o in ns.objects.iter().filter(|o| state.holds(o)) {
            let kind: &'static str = o.kind.into();
            out.push(Planned {
                command_id: derive_id(&[
                    b"purge",
                    ns.name.as_str().as_bytes(),
                    o.id.as_bytes(),
                    &ns.version.to_be_bytes(),
                ]),
                command: Command::PurgeNamespaceObject(cmd::PurgeNamespaceObject {
                    namespace: ns.name.clone(),
                    object: o.clone(),
                }),
                reason: format!(
                    "namespace {} was deleted: its {} {} goes with it",
                    ns.name,
                    kind.to_ascii_lowercase(),
                    o.name
                ),
            });
        }
    }
    for (namespace, used, version) in crate::quota::commitment::stale_usage(state) {
        let digest = serde_json::to_vec(&used).unwrap_or_default();
        out.push(Planned {
            command_id: derive_id(&[
                b"quota-usage",
                namespace.as_str().as_bytes(),
                &version.to_be_bytes(),
                &digest,
            ]),
            reason: format!(
                "namespace {namespace} now commits {} pods, {}m CPU and {} MB memory requested",
                used.pods, used.requests_cpu_milli, used.requests_memory_mb
            ),
            command: Command::RecordQuotaUsage(cmd::RecordQuotaUsage { namespace }),
        });
    }
    out
}
