//! Preemption: when no node fits a pod, find the node where evicting the
//! fewest lower-priority pods makes room, never taking a pod whose
//! deployment's disruption budget is used up. Victims are tried lowest
//! priority first (not-ready and newest before ready and old); then each
//! is given back, highest priority first, if the pod still fits without
//! evicting it. Among candidate nodes: fewest victims, then the lowest
//! highest victim priority, then the lowest sum of priorities.

use std::cmp::Reverse;
use std::collections::HashMap;

use super::{Cycle, inter_pod_affinity, resources, topology_spread};
use crate::ids::{NodeId, PodId};
use crate::pod::owner::Owner;
use crate::state::Pod;

/// Stop after this many nodes with a valid victim set (like kube-scheduler's
/// candidate limit): preemption stays cheap on a large cluster.
const MAX_CANDIDATES: usize = 100;

/// (victims, highest victim priority, sum of victim priorities): lower is better.
type Rank = (usize, i32, i64);
/// (pod, priority, cpu milli, memory MB)
type Victim = (PodId, i32, i64, i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preemption {
    pub node_id: NodeId,
    /// (pod, its priority), lowest priority first.
    pub victims: Vec<(PodId, i32)>,
}

impl Cycle<'_> {
    /// Lowest priority among live pods, or `None` when no pod is live.
    fn lowest_live_priority(&self) -> Option<i32> {
        self.state
            .workloads()
            .filter(|w| w.live > 0)
            .map(|w| w.template.effective_priority())
            .min()
    }

    /// Where to put `pod` by evicting others, and whom. Reserves the room in
    /// this cycle (the victims' resources are freed, they are not chosen
    /// again); the caller still `assume`s the pod itself.
    pub fn preempt(&mut self, pod: &Pod) -> Option<Preemption> {
        let state = self.state;
        let w = state.workload(pod.owner)?;
        let spec = &w;
        let priority = w.template.effective_priority();
        if self
            .lowest_live_priority()
            .is_none_or(|low| low >= priority)
        {
            return None;
        }
        let fit = self.static_fit(w.owner, w.template);
        self.prepare(spec);
        let mut budgets = std::mem::take(&mut self.budgets);
        let (cpu, mem) = (pod.cpu_milli as i64, pod.mem_mb as i64);
        let mut best: Option<(Rank, NodeId, Vec<Victim>)> = None;
        {
            let terms = self.pod_terms(spec);
            let spread = self.spread_constraints(spec, &fit);
            let mut found = 0;
            for &i in &fit.nodes {
                let node = self.nodes[i];
                let extra = self.extra.get(&node.id).copied().unwrap_or_default();
                if resources::filter(node, cpu as u64, mem as u64, extra).is_ok()
                    || inter_pod_affinity::filter(node, &terms).is_err()
                    || topology_spread::filter(node, &spread).is_err()
                {
                    continue;
                }
                let need_cpu = node.cpu_requested_milli as i64 + extra.0 + cpu
                    - node.spec.cpu_allocatable_milli as i64;
                let need_mem = node.mem_requested_mb as i64 + extra.1 + mem
                    - node.spec.mem_allocatable_mb as i64;
                let mut candidates: Vec<(&Pod, i32)> = node
                    .pods
                    .iter()
                    .filter(|p| !self.evicting.contains(p))
                    .filter_map(|p| state.pods.get(p))
                    .filter(|p| p.is_live())
                    .map(|p| (p, state.priority_of(p)))
                    .filter(|(_, pr)| *pr < priority)
                    .collect();
                if candidates.is_empty() {
                    continue;
                }
                candidates.sort_by_key(|(p, pr)| (*pr, p.ready, Reverse(p.ordinal)));
                let mut used: HashMap<Owner, u32> = HashMap::new();
                let mut chosen: Vec<(PodId, i32, i64, i64, Option<Owner>)> = Vec::new();
                let (mut freed_cpu, mut freed_mem) = (0i64, 0i64);
                for (p, pr) in &candidates {
                    if freed_cpu >= need_cpu && freed_mem >= need_mem {
                        break;
                    }
                    let mut charged = None;
                    if p.ready {
                        let allowed = *budgets
                            .entry(p.owner)
                            .or_insert_with(|| state.disruptions_allowed_for(&p.owner));
                        let u = used.entry(p.owner).or_default();
                        if *u >= allowed {
                            continue;
                        }
                        *u += 1;
                        charged = Some(p.owner);
                    }
                    freed_cpu += p.cpu_milli as i64;
                    freed_mem += p.mem_mb as i64;
                    chosen.push((p.id, *pr, p.cpu_milli as i64, p.mem_mb as i64, charged));
                }
                if freed_cpu < need_cpu || freed_mem < need_mem {
                    continue;
                }
                // Give back what is not needed, most important first.
                let mut keep: Vec<Victim> = Vec::new();
                chosen.sort_by_key(|c| Reverse(c.1));
                for (id, pr, c, m, _) in chosen {
                    if freed_cpu - c >= need_cpu && freed_mem - m >= need_mem {
                        freed_cpu -= c;
                        freed_mem -= m;
                    } else {
                        keep.push((id, pr, c, m));
                    }
                }
                keep.sort_by_key(|k| k.1);
                let rank = (
                    keep.len(),
                    keep.iter().map(|k| k.1).max().unwrap_or(i32::MIN),
                    keep.iter().map(|k| k.1 as i64).sum::<i64>(),
                );
                if best.as_ref().is_none_or(|(r, _, _)| rank < *r) {
                    best = Some((rank, node.id, keep));
                }
                found += 1;
                if found >= MAX_CANDIDATES {
                    break;
                }
            }
        }
        let Some((_, node_id, victims)) = best else {
            self.budgets = budgets;
            return None;
        };
        let e = self.extra.entry(node_id).or_default();
        for (id, _, c, m) in &victims {
            e.0 -= c;
            e.1 -= m;
            self.evicting.insert(*id);
            if let Some(p) = state.pods.get(id)
                && p.ready
                && let Some(b) = budgets.get_mut(&p.owner)
            {
                *b = b.saturating_sub(1);
            }
        }
        self.budgets = budgets;
        Some(Preemption {
            node_id,
            victims: victims.into_iter().map(|(id, pr, _, _)| (id, pr)).collect(),
        })
    }
}
