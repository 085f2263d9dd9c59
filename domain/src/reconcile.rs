//! Level-triggered reconcile rules: desired and observed state in, commands
//! out. Command ids are derived from the object and its version, so running
//! a pass twice on the same view sends the same commands, which the decider
//! drops as duplicates.

use std::cmp::Reverse;

use uuid::Uuid;

use crate::command::Command;
use crate::ids::{NodeId, derive_id};
use crate::model::NodeCondition;
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
        let live: Vec<_> = state.live_pods(d).collect();
        let want = d.spec.replicas as usize;
        if live.len() < want {
            for i in 0..(want - live.len()) as u64 {
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
                        d.spec.name,
                        live.len(),
                        want
                    ),
                });
            }
        } else if live.len() > want {
            // Remove the least useful first: unbound, then not running, then not ready, then newest.
            let mut victims = live;
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
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        LifecycleConfig {
            grace_ms: 30_000,
            lost_after_ms: 60_000,
        }
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
) -> Vec<Planned> {
    let mut out = Vec::new();
    let mut nodes: Vec<_> = state.nodes.values().collect();
    nodes.sort_by_key(|n| n.id);
    for node in nodes {
        let seen = last_seen(node.id)
            .unwrap_or(watch_started_ms)
            .max(watch_started_ms.min(now_ms));
        let silent = (now_ms - seen).max(0);
        let version = node.version.to_be_bytes();
        let id = |what: &[u8]| derive_id(&[what, node.id.0.as_bytes(), &version]);
        let planned = match node.condition {
            NodeCondition::Ready if silent >= cfg.lost_after_ms => Some((
                id(b"node-lost"),
                Command::MarkNodeLost {
                    node_id: node.id,
                    silent_for_ms: silent as u64,
                },
            )),
            NodeCondition::Ready if silent >= cfg.grace_ms => Some((
                id(b"node-not-ready"),
                Command::MarkNodeNotReady {
                    node_id: node.id,
                    silent_for_ms: silent as u64,
                },
            )),
            NodeCondition::NotReady if silent >= cfg.lost_after_ms => Some((
                id(b"node-lost"),
                Command::MarkNodeLost {
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
