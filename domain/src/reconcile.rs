//! Level-triggered reconcile rules: desired and observed state in, commands
//! out. Command ids are derived from the object and its version, so running
//! a pass twice on the same view sends the same commands, which the decider
//! drops as duplicates.

use std::cmp::Reverse;
use std::collections::HashMap;

use uuid::Uuid;

use crate::command::Command;
use crate::event::EvictionCause;
use crate::ids::{DeploymentId, NodeId, derive_id};
use crate::model::{NodeCondition, TaintEffect};
use crate::scheduler::taints::no_execute_allowance;
use crate::state::State;

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub command_id: Uuid,
    pub command: Command,
    pub reason: String,
}

/// Deployment controller: create or delete pods until each deployment has
/// exactly `replicas` live pods.
pub fn deployments(state: &State) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut ids: Vec<_> = state.deployments.keys().copied().collect();
    ids.sort();
    for id in ids {
        let d = &state.deployments[&id];
        let live_count = d.live as usize;
        let want = d.spec.replicas as usize;
        if live_count < want {
            for i in 0..(want - live_count) as u64 {
                let ordinal = d.next_ordinal + i;
                out.push(Planned {
                    command_id: derive_id(&[
                        b"create-pod",
                        id.0.as_bytes(),
                        &ordinal.to_be_bytes(),
                    ]),
                    command: Command::CreatePod {
                        deployment_id: id,
                        ordinal,
                    },
                    reason: format!(
                        "deployment {} has {} of {} replicas",
                        d.spec.name, live_count, want
                    ),
                });
            }
        } else if live_count > want {
            // Remove the least useful first: unbound, then not running, then not ready, then newest.
            let mut victims: Vec<_> = state.live_pods(d).collect();
            victims.sort_by_key(|p| {
                (
                    p.node.is_some(),
                    p.phase == crate::model::PodPhase::Running,
                    p.ready,
                    Reverse(p.ordinal),
                )
            });
            for pod in victims.iter().take(victims.len() - want) {
                out.push(Planned {
                    command_id: derive_id(&[b"scale-down", pod.id.0.as_bytes()]),
                    command: Command::DeletePod {
                        pod_id: pod.id,
                        reason: "scale-down".into(),
                        only_if_surplus: true,
                    },
                    reason: format!(
                        "deployment {} has {} live replicas, wants {}",
                        d.spec.name,
                        victims.len(),
                        want
                    ),
                });
            }
        }
    }
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

/// Node lifecycle: compare each node's last heartbeat (ms since epoch) with `now_ms`.
/// A node never heard from counts as heard at `watch_started_ms`, so a
/// restarted controller gives every node a full grace period.
pub fn node_lifecycle(
    state: &State,
    last_seen: impl Fn(NodeId) -> Option<i64>,
    now_ms: i64,
    watch_started_ms: i64,
    cfg: LifecycleConfig,
    limiter: &mut ZoneLimiter,
) -> Vec<Planned> {
    let mut out = Vec::new();
    let silent_of = |id: NodeId| {
        let seen = last_seen(id)
            .unwrap_or(watch_started_ms)
            .max(watch_started_ms.min(now_ms));
        (now_ms - seen).max(0)
    };
    let mut nodes: Vec<_> = state.nodes.values().map(|n| (n, silent_of(n.id))).collect();
    // Longest silent first, so the rate limit takes the surest losses first.
    nodes.sort_by_key(|(n, silent)| (Reverse(*silent), n.id));
    let mut zones: HashMap<&str, (u32, u32)> = HashMap::new();
    for (n, silent) in &nodes {
        let z = zones.entry(n.spec.zone.as_str()).or_default();
        z.0 += 1;
        if *silent >= cfg.grace_ms || n.condition == NodeCondition::Lost {
            z.1 += 1;
        }
    }
    limiter.forget_older_than(now_ms - 10_000);
    limiter.held_back = 0;
    for (node, silent) in nodes {
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
        let planned = match node.condition {
            NodeCondition::Ready | NodeCondition::NotReady if silent >= cfg.lost_after_ms => {
                if lose(limiter) {
                    Some((
                        id(b"node-lost"),
                        Command::MarkNodeLost {
                            node_id: node.id,
                            silent_for_ms: silent as u64,
                        },
                    ))
                } else {
                    limiter.held_back += 1;
                    (node.condition == NodeCondition::Ready).then(|| {
                        (
                            id(b"node-not-ready"),
                            Command::MarkNodeNotReady {
                                node_id: node.id,
                                silent_for_ms: silent as u64,
                            },
                        )
                    })
                }
            }
            NodeCondition::Ready if silent >= cfg.grace_ms => Some((
                id(b"node-not-ready"),
                Command::MarkNodeNotReady {
                    node_id: node.id,
                    silent_for_ms: silent as u64,
                },
            )),
            NodeCondition::NotReady | NodeCondition::Lost
                if silent < cfg.grace_ms && last_seen(node.id).is_some() =>
            {
                Some((
                    id(b"node-ready"),
                    Command::MarkNodeReady { node_id: node.id },
                ))
            }
            _ => None,
        };
        if let Some((command_id, command)) = planned {
            out.push(Planned {
                command_id,
                command,
                reason: format!("node {} last heard {} ms ago", node.spec.name, silent),
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
    let mut budgets: HashMap<DeploymentId, u32> = HashMap::new();
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
        pods.sort_by_key(|p| (p.ready, p.deployment, p.ordinal));
        for pod in pods {
            let Some(d) = state.deployments.get(&pod.deployment) else {
                continue;
            };
            let version = pod.version.to_be_bytes();
            let tainted = node
                .spec
                .taints
                .iter()
                .filter(|t| t.effect == TaintEffect::NoExecute)
                // (taint, whether the pod tolerated it until its seconds ran out)
                .find_map(|t| match no_execute_allowance(&d.spec.tolerations, t) {
                    None => Some((t, false)),
                    Some(None) => None,
                    Some(Some(secs)) => (now_ms
                        >= t.time_added_ms.unwrap_or(0) + secs as i64 * 1000)
                        .then_some((t, true)),
                });
            if let Some((t, expired)) = tainted {
                out.push(Planned {
                    command_id: derive_id(&[b"no-execute", pod.id.0.as_bytes(), &version]),
                    command: Command::EvictPod {
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
                    },
                    reason: format!("NoExecute taint {} on node {}", t.key, node.spec.name),
                });
                continue;
            }
            if node.draining {
                if pod.ready {
                    let left = budgets
                        .entry(d.id)
                        .or_insert_with(|| state.disruptions_allowed(d));
                    if *left == 0 {
                        continue;
                    }
                    *left -= 1;
                }
                out.push(Planned {
                    command_id: derive_id(&[b"drain", pod.id.0.as_bytes(), &version, &window]),
                    command: Command::EvictPod {
                        pod_id: pod.id,
                        cause: EvictionCause::Drain,
                        reason: format!("node {} is being drained", node.spec.name),
                        respect_budget: true,
                    },
                    reason: format!("drain of node {}", node.spec.name),
                });
            }
        }
    }
    out
}
