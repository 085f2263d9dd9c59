//! Filter → score → pick. One function per plugin; the decider reuses the
//! filters to validate binds, so "fits" means the same thing on both sides.
//! Scores are 0–100; ties break on a hash seeded by the pod id, so a
//! placement can be replayed.

use std::collections::{BTreeMap, HashMap};

use crate::ids::{DeploymentId, NodeId, PodId};
use crate::model::{DeploymentSpec, NodeCondition, Placement, ScoredNode, TaintEffect};
use crate::state::{Node, Pod, State};

pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Why a node was filtered out: an expected outcome, not an error.
pub mod reason {
    pub const NODE_NOT_READY: &str = "NodeNotReady";
    pub const INSUFFICIENT_CPU: &str = "InsufficientCpu";
    pub const INSUFFICIENT_MEMORY: &str = "InsufficientMemory";
    pub const TAINT_NOT_TOLERATED: &str = "TaintNotTolerated";
    pub const NODE_SELECTOR_MISMATCH: &str = "NodeSelectorMismatch";
}

/// Filter: the node must be Ready.
pub fn filter_node_ready(node: &Node) -> Result<(), &'static str> {
    if node.condition == NodeCondition::Ready {
        Ok(())
    } else {
        Err(reason::NODE_NOT_READY)
    }
}

/// Filter: requests fit what is left of allocatable (`extra` = reserved, not yet in state).
pub fn filter_resources(
    node: &Node,
    cpu: u64,
    mem: u64,
    extra: (u64, u64),
) -> Result<(), &'static str> {
    if node.cpu_requested_milli + extra.0 + cpu > node.spec.cpu_allocatable_milli {
        return Err(reason::INSUFFICIENT_CPU);
    }
    if node.mem_requested_mb + extra.1 + mem > node.spec.mem_allocatable_mb {
        return Err(reason::INSUFFICIENT_MEMORY);
    }
    Ok(())
}

/// Filter: every NoSchedule / NoExecute taint is tolerated.
pub fn filter_taints(node: &Node, spec: &DeploymentSpec) -> Result<(), &'static str> {
    let blocking = node
        .spec
        .taints
        .iter()
        .filter(|t| t.effect != TaintEffect::PreferNoSchedule);
    for taint in blocking {
        if !spec.tolerations.iter().any(|tol| tol.tolerates(taint)) {
            return Err(reason::TAINT_NOT_TOLERATED);
        }
    }
    Ok(())
}

/// Filter: every node-selector pair matches a label (the zone is a label too).
pub fn filter_node_selector(node: &Node, spec: &DeploymentSpec) -> Result<(), &'static str> {
    for (k, v) in &spec.node_selector {
        let actual = if k == ZONE_LABEL {
            Some(&node.spec.zone)
        } else {
            node.spec.labels.get(k)
        };
        if actual != Some(v) {
            return Err(reason::NODE_SELECTOR_MISMATCH);
        }
    }
    Ok(())
}

/// The filters that do not depend on the node's current load or health:
/// could this pod ever run there?
pub fn statically_feasible(node: &Node, spec: &DeploymentSpec) -> bool {
    filter_taints(node, spec).is_ok()
        && filter_node_selector(node, spec).is_ok()
        && node.condition != NodeCondition::Lost
}

/// All filters, in the order their rejections are reported.
pub fn run_filters(
    node: &Node,
    spec: &DeploymentSpec,
    cpu: u64,
    mem: u64,
    extra: (u64, u64),
) -> Result<(), &'static str> {
    filter_node_ready(node)?;
    filter_taints(node, spec)?;
    filter_node_selector(node, spec)?;
    filter_resources(node, cpu, mem, extra)
}

/// Score: prefer nodes with more room left after placing (spreads load).
pub fn score_least_allocated(node: &Node, cpu: u64, mem: u64, extra: (u64, u64)) -> u32 {
    let free = |alloc: u64, used: u64| {
        (alloc.saturating_sub(used) * 100)
            .checked_div(alloc)
            .unwrap_or(0) as u32
    };
    let c = free(
        node.spec.cpu_allocatable_milli,
        node.cpu_requested_milli + extra.0 + cpu,
    );
    let m = free(
        node.spec.mem_allocatable_mb,
        node.mem_requested_mb + extra.1 + mem,
    );
    (c + m) / 2
}

/// Score: prefer nodes whose CPU and memory use stay in proportion.
pub fn score_balanced(node: &Node, cpu: u64, mem: u64, extra: (u64, u64)) -> u32 {
    let frac =
        |alloc: u64, used: u64| (used * 100).checked_div(alloc).unwrap_or(100).min(100) as i64;
    let c = frac(
        node.spec.cpu_allocatable_milli,
        node.cpu_requested_milli + extra.0 + cpu,
    );
    let m = frac(
        node.spec.mem_allocatable_mb,
        node.mem_requested_mb + extra.1 + mem,
    );
    (100 - (c - m).abs()) as u32
}

/// Score: fewer replicas of the same deployment in this group (zone or node) is better.
pub fn score_spread(count_here: u32, max_count: u32) -> u32 {
    (max_count.saturating_sub(count_here) * 100)
        .checked_div(max_count)
        .unwrap_or(100)
}

const WEIGHTS: [(&str, u32); 4] = [
    ("zoneSpread", 3),
    ("nodeSpread", 1),
    ("leastAllocated", 1),
    ("balanced", 1),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unschedulable {
    pub nodes_total: u32,
    pub filtered: BTreeMap<String, u32>,
}

impl std::fmt::Display for Unschedulable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0/{} nodes are available:", self.nodes_total)?;
        for (r, n) in &self.filtered {
            write!(f, " {n} {r};")?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Spread {
    zones: HashMap<String, u32>,
    nodes: HashMap<NodeId, u32>,
}

/// One scheduling pass over a consistent view of the state, plus the binds
/// this scheduler has sent but not yet seen decided (`assume`).
pub struct Cycle<'s> {
    state: &'s State,
    nodes: Vec<&'s Node>,
    extra: HashMap<NodeId, (u64, u64)>,
    spread: HashMap<DeploymentId, Spread>,
    /// Score at most this many feasible nodes (0 = all): bounds work on large clusters.
    pub max_nodes_to_score: usize,
    pub top_n: usize,
}

impl<'s> Cycle<'s> {
    pub fn new(state: &'s State) -> Self {
        let mut nodes: Vec<&Node> = state.nodes.values().collect();
        nodes.sort_by_key(|n| n.id);
        Cycle {
            state,
            nodes,
            extra: HashMap::new(),
            spread: HashMap::new(),
            max_nodes_to_score: 0,
            top_n: 3,
        }
    }

    fn spread_for(&mut self, deployment: DeploymentId) -> &mut Spread {
        let state = self.state;
        self.spread.entry(deployment).or_insert_with(|| {
            let mut s = Spread::default();
            if let Some(d) = state.deployments.get(&deployment) {
                for pod in state.live_pods(d) {
                    if let Some(node) = pod.node.and_then(|n| state.nodes.get(&n)) {
                        *s.zones.entry(node.spec.zone.clone()).or_default() += 1;
                        *s.nodes.entry(node.id).or_default() += 1;
                    }
                }
            }
            s
        })
    }

    /// Count a bind that was sent but is not in the state yet.
    pub fn assume(&mut self, pod: &Pod, node_id: NodeId) {
        let Some(node) = self.state.nodes.get(&node_id) else {
            return;
        };
        let e = self.extra.entry(node_id).or_default();
        e.0 += pod.cpu_milli as u64;
        e.1 += pod.mem_mb as u64;
        let zone = node.spec.zone.clone();
        let s = self.spread_for(pod.deployment);
        *s.zones.entry(zone).or_default() += 1;
        *s.nodes.entry(node_id).or_default() += 1;
    }

    /// Pick a node for `pod`. Does not assume it: call `assume` once the bind is sent.
    pub fn place(&mut self, pod: &Pod) -> Result<(NodeId, Placement), Unschedulable> {
        let state = self.state;
        let Some(d) = state.deployments.get(&pod.deployment) else {
            return Err(Unschedulable {
                nodes_total: self.nodes.len() as u32,
                filtered: BTreeMap::new(),
            });
        };
        let spec = &d.spec;
        let (cpu, mem) = (pod.cpu_milli as u64, pod.mem_mb as u64);
        let mut filtered: BTreeMap<String, u32> = BTreeMap::new();
        let mut feasible: Vec<&Node> = Vec::new();
        for node in &self.nodes {
            let extra = self.extra.get(&node.id).copied().unwrap_or_default();
            match run_filters(node, spec, cpu, mem, extra) {
                Ok(()) => feasible.push(node),
                Err(r) => *filtered.entry(r.to_string()).or_default() += 1,
            }
        }
        let nodes_total = self.nodes.len() as u32;
        if feasible.is_empty() {
            return Err(Unschedulable {
                nodes_total,
                filtered,
            });
        }
        let nodes_feasible = feasible.len() as u32;
        if self.max_nodes_to_score > 0 && feasible.len() > self.max_nodes_to_score {
            // A window starting at a pod-seeded offset: different pods look at different nodes.
            let start = (tiebreak(pod.id, NodeId(uuid::Uuid::nil())) as usize) % feasible.len();
            feasible.rotate_left(start);
            feasible.truncate(self.max_nodes_to_score);
        }
        let top_n = self.top_n;
        self.spread_for(pod.deployment);
        let s = &self.spread[&pod.deployment];
        let spread = (&s.zones, &s.nodes);
        let extra_map = &self.extra;
        let max_zone = feasible
            .iter()
            .map(|n| spread.0.get(&n.spec.zone).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let max_node = feasible
            .iter()
            .map(|n| spread.1.get(&n.id).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let weight_sum: u32 = WEIGHTS.iter().map(|w| w.1).sum();
        // Score into plain arrays; only the top few become `ScoredNode`s.
        let mut scored: Vec<(u32, u64, usize, [u32; 4])> = feasible
            .iter()
            .enumerate()
            .map(|(idx, node)| {
                let extra = extra_map.get(&node.id).copied().unwrap_or_default();
                let values = [
                    score_spread(
                        spread.0.get(&node.spec.zone).copied().unwrap_or(0),
                        max_zone,
                    ),
                    score_spread(spread.1.get(&node.id).copied().unwrap_or(0), max_node),
                    score_least_allocated(node, cpu, mem, extra),
                    score_balanced(node, cpu, mem, extra),
                ];
                let total = WEIGHTS
                    .iter()
                    .zip(values)
                    .map(|(w, v)| w.1 * v)
                    .sum::<u32>()
                    / weight_sum;
                (total, tiebreak(pod.id, node.id), idx, values)
            })
            .collect();
        let keep = top_n.max(1).min(scored.len());
        let by_rank = |a: &(u32, u64, usize, [u32; 4]), b: &(u32, u64, usize, [u32; 4])| {
            b.0.cmp(&a.0).then(b.1.cmp(&a.1))
        };
        if scored.len() > keep {
            scored.select_nth_unstable_by(keep - 1, by_rank);
            scored.truncate(keep);
        }
        scored.sort_by(by_rank);
        let top: Vec<ScoredNode> = scored
            .iter()
            .map(|(total, _, idx, values)| ScoredNode {
                node_id: feasible[*idx].id,
                node_name: feasible[*idx].spec.name.to_string(),
                total: *total,
                scores: WEIGHTS
                    .iter()
                    .zip(values)
                    .map(|(w, v)| (w.0.to_string(), *v))
                    .collect(),
            })
            .collect();
        let winner = top[0].node_id;
        let placement = Placement {
            nodes_total,
            nodes_feasible,
            filtered,
            top,
        };
        Ok((winner, placement))
    }
}

/// A cheap, stable hash of (pod, node): ties break the same way on every replay.
fn tiebreak(pod: PodId, node: NodeId) -> u64 {
    let mut x = pod.0.as_u64_pair().0 ^ node.0.as_u64_pair().1.rotate_left(17);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
