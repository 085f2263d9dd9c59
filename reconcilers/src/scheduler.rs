//! The scheduler's pass: take pending pods, place each on the view plus the
//! binds already sent (assumed, like kube-scheduler's assume cache), emit
//! `BindPod`. A bind the decider rejects returns the pod to the queue.

use domain::command as cmd;
use std::time::{Duration, Instant};

use domain::command::Command;
use domain::ids::{IdMap, NodeId, PodId};
use domain::model::PodPhase;
use domain::scheduler::Cycle;
use domain::state::State;
use uuid::Uuid;

/// How long a sent bind is assumed before the pod is tried again.
const ASSUME_FOR: Duration = Duration::from_secs(10);
/// How long an unschedulable pod waits before it is tried again.
const BACKOFF: Duration = Duration::from_millis(500);
/// Preemption searches per pass: each may look at many nodes' pods.
const MAX_PREEMPTIONS_PER_PASS: usize = 50;

#[derive(Default)]
pub struct SchedulerQueue {
    assumed: IdMap<PodId, (NodeId, Uuid, Instant)>,
    backoff: IdMap<PodId, Instant>,
    pub last_unschedulable: IdMap<PodId, String>,
    /// What was last recorded (as a `PodUnschedulable` event) per pod: a
    /// new event only when the reasons change.
    reported: IdMap<PodId, String>,
    pub max_per_pass: usize,
    /// Pods waiting for a node at the last `plan` (not counting binds in flight).
    pub depth: usize,
}

pub struct PlannedBind {
    pub command_id: Uuid,
    pub command: Command,
}

impl SchedulerQueue {
    pub fn new(max_per_pass: usize) -> Self {
        SchedulerQueue {
            max_per_pass,
            ..Default::default()
        }
    }

    /// The decider refused a bind: forget the assumption now.
    pub fn rejected(&mut self, command_id: Uuid) {
        self.assumed.retain(|_, (_, c, _)| *c != command_id);
    }

    pub fn plan(&mut self, state: &State, now: Instant) -> Vec<PlannedBind> {
        // Drop assumptions the view has caught up with, or that are too old.
        self.assumed.retain(|pod, (_, _, at)| {
            state
                .pods
                .get(pod)
                .is_some_and(|p| p.node.is_none() && p.phase == PodPhase::Pending)
                && now.duration_since(*at) < ASSUME_FOR
        });
        self.backoff
            .retain(|pod, until| *until > now && state.pods.contains_key(pod));
        let unbound = |pod: &PodId| {
            state
                .pods
                .get(pod)
                .is_some_and(|p| p.node.is_none() && p.phase == PodPhase::Pending)
        };
        self.last_unschedulable.retain(|pod, _| unbound(pod));
        self.reported.retain(|pod, _| unbound(pod));
        let waiting: Vec<_> = state
            .unbound_pods()
            .filter(|p| !self.assumed.contains_key(&p.id))
            .collect();
        self.depth = waiting.len();
        let mut pending: Vec<_> = waiting
            .into_iter()
            .filter(|p| !self.backoff.contains_key(&p.id))
            .collect();
        if pending.is_empty() {
            return vec![];
        }
        // Highest priority first (like kube-scheduler's active queue), then in creation order.
        let key =
            |p: &&domain::state::Pod| (std::cmp::Reverse(state.priority_of(p)), p.owner, p.ordinal);
        let keep = self.max_per_pass.max(1);
        if pending.len() > keep {
            pending.select_nth_unstable_by_key(keep - 1, key);
            pending.truncate(keep);
        }
        pending.sort_by_key(key);
        let mut cycle = Cycle::new(state);
        for (pod, (node, _, _)) in &self.assumed {
            if let Some(p) = state.pods.get(pod) {
                cycle.assume(p, *node);
            }
        }
        let mut out = Vec::new();
        let mut preemptions = 0;
        for pod in pending {
            let (node, placement, preempt) = match cycle.place(pod) {
                Ok((node, placement)) => (node, placement, vec![]),
                Err(why) => {
                    let preemption = if preemptions < MAX_PREEMPTIONS_PER_PASS {
                        preemptions += 1;
                        cycle.preempt(pod)
                    } else {
                        None
                    };
                    if let Some(pre) = preemption {
                        // No node fits as is: the explanation is why, and the
                        // decider records the victims on the `PodBound`.
                        let placement = domain::model::Placement {
                            nodes_total: why.nodes_total,
                            filtered: why.filtered,
                            ..Default::default()
                        };
                        let victims = pre.victims.iter().map(|v| v.0).collect();
                        (pre.node_id, placement, victims)
                    } else {
                        self.backoff.insert(pod.id, now + BACKOFF);
                        let text = why.to_string();
                        if self.reported.get(&pod.id) != Some(&text) {
                            self.reported.insert(pod.id, text.clone());
                            out.push(PlannedBind {
                                command_id: Uuid::now_v7(),
                                command: Command::MarkPodUnschedulable(cmd::MarkPodUnschedulable {
                                    pod_id: pod.id,
                                    nodes_total: why.nodes_total,
                                    filtered: why.filtered,
                                }),
                            });
                        }
                        self.last_unschedulable.insert(pod.id, text);
                        continue;
                    }
                }
            };
            cycle.assume(pod, node);
            let command_id = Uuid::now_v7();
            self.assumed.insert(pod.id, (node, command_id, now));
            self.last_unschedulable.remove(&pod.id);
            out.push(PlannedBind {
                command_id,
                command: Command::BindPod(cmd::BindPod {
                    pod_id: pod.id,
                    node_id: node,
                    placement,
                    preempt,
                }),
            });
        }
        let binds = out
            .iter()
            .filter(|b| matches!(b.command, Command::BindPod(_)))
            .count();
        // Binds sent this pass are in flight, not waiting.
        self.depth = self.depth.saturating_sub(binds);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::testing::*;

    #[test]
    fn sent_binds_are_assumed_so_a_second_pass_does_not_overcommit() {
        let mut g = given(&[node_registered("n1", "az-a", 1000, 1000)]);
        let d = deployment_id(1);
        g.apply(Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id: d,
            spec: deployment_spec("web", 2, 600, 100),
        }))
        .unwrap_err();
        g.apply(Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id: d,
            spec: deployment_spec("web", 1, 600, 100),
        }))
        .unwrap();
        g.apply(Command::ScaleDeployment(cmd::ScaleDeployment {
            deployment_id: d,
            replicas: 1,
        }))
        .unwrap();
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: 0,
            revision: None,
        }))
        .unwrap();
        let mut q = SchedulerQueue::new(100);
        let now = Instant::now();
        assert_eq!(q.plan(&g.state, now).len(), 1);
        assert_eq!(
            q.plan(&g.state, now).len(),
            0,
            "the pod is assumed, not bound twice"
        );
        // After a rejection it is tried again.
        let id = q.assumed.values().next().unwrap().1;
        q.rejected(id);
        assert_eq!(q.plan(&g.state, now).len(), 1);
    }
}
