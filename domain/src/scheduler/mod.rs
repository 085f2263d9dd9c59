//! Filter → score → pick, one module per plugin. The decider reuses the
//! node filters to validate binds, so "fits" means the same thing on both
//! sides. Scores are 0–100 per plugin, combined by weight; ties break on a
//! hash of (pod, node), so a placement can be replayed.
//!
//! A `Cycle` is one scheduling pass over a consistent view plus the binds
//! this scheduler has sent but not yet seen decided (`assume`). On a large
//! cluster it stops looking once it has found enough feasible nodes
//! (`nodes_to_find`, like kube-scheduler's `percentageOfNodesToScore`),
//! starting where the previous pod stopped, so work per pod is bounded.

pub mod balanced;
pub mod default_spread;
pub mod inter_pod_affinity;
pub mod least_allocated;
pub mod node_affinity;
pub mod node_ready;
pub mod node_selector;
pub mod preemption;
pub mod resources;
pub mod taints;
pub mod topology_spread;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use crate::ids::{IdMap, IdSet, NodeId, PodId};
pub use crate::model::{HOSTNAME_LABEL, ZONE_LABEL};
use crate::model::{
    NodeCondition, Placement, PodTemplate, ScoredNode, TaintEffect, WhenUnsatisfiable,
};
use crate::pod::owner::Owner;
use crate::state::Workload;
use crate::state::{Node, Pod, State};

/// Why a node was filtered out: an expected outcome, not an error.
pub mod reason {
    pub const NODE_NOT_READY: &str = "NodeNotReady";
    pub const NODE_UNSCHEDULABLE: &str = "NodeUnschedulable";
    pub const INSUFFICIENT_CPU: &str = "InsufficientCpu";
    pub const INSUFFICIENT_MEMORY: &str = "InsufficientMemory";
    pub const TAINT_NOT_TOLERATED: &str = "TaintNotTolerated";
    pub const NODE_SELECTOR_MISMATCH: &str = "NodeSelectorMismatch";
    pub const NODE_AFFINITY_MISMATCH: &str = "NodeAffinityMismatch";
    pub const POD_AFFINITY_UNSATISFIED: &str = "PodAffinityUnsatisfied";
    pub const POD_ANTI_AFFINITY_VIOLATED: &str = "PodAntiAffinityViolated";
    pub const TOPOLOGY_SPREAD_SKEW: &str = "TopologySpreadSkew";
}

pub use crate::model::Topology;

/// Live, bound pods of some set, per node and per zone.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub zones: IdMap<String, u32>,
    pub nodes: IdMap<NodeId, u32>,
    pub total: u32,
}

impl Counts {
    pub fn in_domain(&self, t: Topology, node: &Node) -> u32 {
        match t {
            Topology::Node => self.nodes.get(&node.id).copied().unwrap_or(0),
            Topology::Zone => self.zones.get(&node.spec.zone).copied().unwrap_or(0),
        }
    }

    fn add(&mut self, node: &Node) {
        *self.zones.entry(node.spec.zone.clone()).or_default() += 1;
        *self.nodes.entry(node.id).or_default() += 1;
        self.total += 1;
    }

    fn merge(&mut self, other: &Counts) {
        for (z, n) in &other.zones {
            *self.zones.entry(z.clone()).or_default() += n;
        }
        for (id, n) in &other.nodes {
            *self.nodes.entry(*id).or_default() += n;
        }
        self.total += other.total;
    }
}

/// The filters that depend only on the node and the template, in the order
/// their rejections are reported. Cached per owner within a cycle.
pub fn static_filters(node: &Node, spec: &PodTemplate) -> Result<(), &'static str> {
    node_ready::filter(node)?;
    taints::filter(node, spec)?;
    node_selector::filter(node, spec)?;
    node_affinity::filter(node, spec)
}

/// What the decider checks on a bind: the node-level filters and room.
pub fn run_filters(
    node: &Node,
    spec: &PodTemplate,
    cpu: u64,
    mem: u64,
    extra: (i64, i64),
) -> Result<(), &'static str> {
    static_filters(node, spec)?;
    resources::filter(node, cpu, mem, extra)
}

/// Could this pod ever run there (ignoring load and health)?
pub fn statically_feasible(node: &Node, spec: &PodTemplate) -> bool {
    taints::filter(node, spec).is_ok()
        && node_selector::filter(node, spec).is_ok()
        && node_affinity::filter(node, spec).is_ok()
        && node.condition != NodeCondition::Lost
}

/// How many feasible nodes to find before scoring, for a cluster of `n`
/// nodes: all up to 100, then kube-scheduler's adaptive share
/// (50 % − 1 % per 125 nodes, at least 5 %), at least 100.
pub fn nodes_to_find(n: usize) -> usize {
    if n <= 100 {
        return n;
    }
    let pct = (50i64 - n as i64 / 125).max(5) as usize;
    (n * pct / 100).max(100)
}

/// Plugins that score, with their weights.
const PLUGINS: [(&str, u32); 8] = [
    ("zoneSpread", 3),
    ("nodeSpread", 1),
    ("leastAllocated", 1),
    ("balanced", 1),
    ("nodeAffinity", 2),
    ("interPodAffinity", 2),
    ("topologySpread", 2),
    ("taintToleration", 1),
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

/// The nodes a deployment's pods may use this cycle, after the static filters.
struct StaticFit {
    nodes: Vec<usize>,
    filtered: BTreeMap<&'static str, u32>,
    zones: HashSet<String>,
}

type SelectorKey = Vec<(String, String)>;
/// A deployment with a required anti-affinity term: (id, domain, selector).
type AntiHolder = (Owner, Topology, BTreeMap<String, String>);

fn key_of(sel: &BTreeMap<String, String>) -> SelectorKey {
    sel.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

pub struct Cycle<'s> {
    state: &'s State,
    nodes: Vec<&'s Node>,
    /// Reserved (+) or freed (−) by this pass: (cpu milli, memory MB).
    extra: IdMap<NodeId, (i64, i64)>,
    by_owner: IdMap<Owner, Counts>,
    by_selector: HashMap<SelectorKey, Counts>,
    fits: IdMap<Owner, Rc<StaticFit>>,
    /// Deployments with required anti-affinity terms: (id, domain, selector).
    anti_holders: Option<Vec<AntiHolder>>,
    /// Pods chosen as preemption victims in this pass.
    evicting: IdSet<PodId>,
    budgets: IdMap<Owner, u32>,
    next_start: usize,
    /// Feasible nodes to find per pod; 0 = `nodes_to_find(cluster size)`.
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
            extra: IdMap::default(),
            by_owner: IdMap::default(),
            by_selector: HashMap::new(),
            fits: IdMap::default(),
            anti_holders: None,
            evicting: IdSet::default(),
            budgets: IdMap::default(),
            next_start: 0,
            max_nodes_to_score: 0,
            top_n: 3,
        }
    }

    fn ensure_owner_counts(&mut self, id: Owner) {
        if self.by_owner.contains_key(&id) {
            return;
        }
        let state = self.state;
        let mut c = Counts::default();
        if let Some(w) = state.workload(id) {
            for pod in w
                .pods
                .iter()
                .filter_map(|p| state.pods.get(p))
                .filter(|p| p.is_live())
            {
                if let Some(node) = pod.node.and_then(|n| state.nodes.get(&n)) {
                    c.add(node);
                }
            }
        }
        self.by_owner.insert(id, c);
    }

    fn ensure_selector_counts(&mut self, sel: &BTreeMap<String, String>) {
        let key = key_of(sel);
        if self.by_selector.contains_key(&key) {
            return;
        }
        let state = self.state;
        let matching: Vec<Owner> = state
            .workloads()
            .filter(|w| w.labels_match(sel))
            .map(|w| w.owner)
            .collect();
        let mut total = Counts::default();
        for id in matching {
            self.ensure_owner_counts(id);
            total.merge(&self.by_owner[&id]);
        }
        self.by_selector.insert(key, total);
    }

    fn anti_holders(&mut self) -> &[AntiHolder] {
        let state = self.state;
        self.anti_holders.get_or_insert_with(|| {
            let mut v = Vec::new();
            for w in state.workloads() {
                if let Some(a) = w.template.pod_anti_affinity() {
                    for t in &a.required {
                        if let Some(topo) = Topology::parse(&t.topology_key) {
                            v.push((w.owner, topo, t.label_selector.clone()));
                        }
                    }
                }
            }
            v
        })
    }

    fn static_fit(&mut self, id: Owner, spec: &PodTemplate) -> Rc<StaticFit> {
        if let Some(f) = self.fits.get(&id) {
            return f.clone();
        }
        let mut fit = StaticFit {
            nodes: Vec::new(),
            filtered: BTreeMap::new(),
            zones: HashSet::new(),
        };
        for (i, node) in self.nodes.iter().enumerate() {
            match static_filters(node, spec) {
                Ok(()) => {
                    fit.nodes.push(i);
                    if !fit.zones.contains(&node.spec.zone) {
                        fit.zones.insert(node.spec.zone.clone());
                    }
                }
                Err(r) => *fit.filtered.entry(r).or_default() += 1,
            }
        }
        let fit = Rc::new(fit);
        self.fits.insert(id, fit.clone());
        fit
    }

    /// Count a bind that was sent but is not in the state yet.
    pub fn assume(&mut self, pod: &Pod, node_id: NodeId) {
        let state = self.state;
        let Some(node) = state.nodes.get(&node_id) else {
            return;
        };
        let e = self.extra.entry(node_id).or_default();
        e.0 += pod.cpu_milli as i64;
        e.1 += pod.mem_mb as i64;
        self.ensure_owner_counts(pod.owner);
        if let Some(c) = self.by_owner.get_mut(&pod.owner) {
            c.add(node);
        }
        if let Some(w) = state.workload(pod.owner) {
            for (key, c) in self.by_selector.iter_mut() {
                if w.labels_match_pairs(key.iter().map(|(k, v)| (k, v))) {
                    c.add(node);
                }
            }
        }
    }

    /// Everything the dynamic filters and scores need for one template.
    fn prepare(&mut self, spec: &Workload<'_>) {
        self.ensure_owner_counts(spec.owner);
        if let Some(a) = spec.template.pod_affinity() {
            for t in &a.required {
                self.ensure_selector_counts(&t.label_selector);
            }
            for t in &a.preferred {
                self.ensure_selector_counts(&t.pod_affinity_term.label_selector);
            }
        }
        if let Some(a) = spec.template.pod_anti_affinity() {
            for t in &a.required {
                self.ensure_selector_counts(&t.label_selector);
            }
            for t in &a.preferred {
                self.ensure_selector_counts(&t.pod_affinity_term.label_selector);
            }
        }
        for c in &spec.template.topology_spread_constraints {
            if !c.label_selector.is_empty() {
                self.ensure_selector_counts(&c.label_selector);
            }
        }
        let holders: Vec<Owner> = self
            .anti_holders()
            .iter()
            .filter(|(_, _, sel)| spec.labels_match(sel))
            .map(|(d, _, _)| *d)
            .collect();
        for d in holders {
            self.ensure_owner_counts(d);
        }
    }

    fn pod_terms(&self, spec: &Workload<'_>) -> inter_pod_affinity::PodTerms<'_> {
        let mut t = inter_pod_affinity::PodTerms::default();
        let sel = |s: &BTreeMap<String, String>| &self.by_selector[&key_of(s)];
        if let Some(a) = spec.template.pod_affinity() {
            for term in &a.required {
                if let Some(topo) = Topology::parse(&term.topology_key) {
                    let selects_itself = spec.labels_match(&term.label_selector);
                    t.required_affinity
                        .push((topo, sel(&term.label_selector), selects_itself));
                }
            }
            for w in &a.preferred {
                if let Some(topo) = Topology::parse(&w.pod_affinity_term.topology_key) {
                    t.preferred.push((
                        topo,
                        sel(&w.pod_affinity_term.label_selector),
                        w.weight as i64,
                    ));
                }
            }
        }
        if let Some(a) = spec.template.pod_anti_affinity() {
            for term in &a.required {
                if let Some(topo) = Topology::parse(&term.topology_key) {
                    t.required_anti.push((topo, sel(&term.label_selector)));
                }
            }
            for w in &a.preferred {
                if let Some(topo) = Topology::parse(&w.pod_affinity_term.topology_key) {
                    t.preferred.push((
                        topo,
                        sel(&w.pod_affinity_term.label_selector),
                        -(w.weight as i64),
                    ));
                }
            }
        }
        for (d, topo, s) in self.anti_holders.as_deref().unwrap_or_default() {
            if spec.labels_match(s) {
                t.required_anti.push((*topo, &self.by_owner[d]));
            }
        }
        t
    }

    fn spread_constraints(
        &self,
        spec: &Workload<'_>,
        fit: &StaticFit,
    ) -> Vec<topology_spread::Constraint<'_>> {
        let mut out = Vec::new();
        for c in &spec.template.topology_spread_constraints {
            let Some(topology) = Topology::parse(&c.topology_key) else {
                continue;
            };
            let counts = if c.label_selector.is_empty() {
                &self.by_owner[&spec.owner]
            } else {
                &self.by_selector[&key_of(&c.label_selector)]
            };
            let min = match topology {
                Topology::Zone => fit
                    .zones
                    .iter()
                    .map(|z| counts.zones.get(z).copied().unwrap_or(0))
                    .min()
                    .unwrap_or(0),
                Topology::Node if counts.nodes.len() < fit.nodes.len() => 0,
                Topology::Node => fit
                    .nodes
                    .iter()
                    .map(|i| counts.nodes.get(&self.nodes[*i].id).copied().unwrap_or(0))
                    .min()
                    .unwrap_or(0),
            };
            let self_count =
                u32::from(c.label_selector.is_empty() || spec.labels_match(&c.label_selector));
            out.push(topology_spread::Constraint {
                max_skew: c.max_skew.max(1),
                topology,
                counts,
                hard: c.when_unsatisfiable == WhenUnsatisfiable::DoNotSchedule,
                self_count,
                min,
            });
        }
        out
    }

    /// Pick a node for `pod`. Does not assume it: call `assume` once the bind is sent.
    pub fn place(&mut self, pod: &Pod) -> Result<(NodeId, Placement), Unschedulable> {
        let state = self.state;
        let nodes_total = self.nodes.len() as u32;
        let Some(w) = state.workload(pod.owner) else {
            return Err(Unschedulable {
                nodes_total,
                filtered: BTreeMap::new(),
            });
        };
        let spec = &w;
        let fit = self.static_fit(w.owner, w.template);
        self.prepare(spec);
        let (cpu, mem) = (pod.cpu_milli as u64, pod.mem_mb as u64);
        let want = if self.max_nodes_to_score > 0 {
            self.max_nodes_to_score
        } else {
            nodes_to_find(self.nodes.len())
        };

        let terms = self.pod_terms(spec);
        let spread = self.spread_constraints(spec, &fit);
        let mut filtered: BTreeMap<String, u32> = fit
            .filtered
            .iter()
            .map(|(r, n)| (r.to_string(), *n))
            .collect();
        let n = fit.nodes.len();
        let start = if n == 0 { 0 } else { self.next_start % n };
        let mut feasible: Vec<&Node> = Vec::with_capacity(want.min(n));
        let mut examined = 0usize;
        for i in 0..n {
            let node = self.nodes[fit.nodes[(start + i) % n]];
            examined += 1;
            let extra = self.extra.get(&node.id).copied().unwrap_or_default();
            let verdict = resources::filter(node, cpu, mem, extra)
                .and_then(|()| {
                    if terms.has_filters() {
                        inter_pod_affinity::filter(node, &terms)
                    } else {
                        Ok(())
                    }
                })
                .and_then(|()| topology_spread::filter(node, &spread));
            match verdict {
                Ok(()) => {
                    feasible.push(node);
                    if feasible.len() >= want {
                        break;
                    }
                }
                Err(r) => *filtered.entry(r.to_string()).or_default() += 1,
            }
        }
        if feasible.is_empty() {
            return Err(Unschedulable {
                nodes_total,
                filtered,
            });
        }
        let nodes_feasible = feasible.len() as u32;

        // Score into plain arrays; only the top few become `ScoredNode`s.
        let own = &self.by_owner[&w.owner];
        let max_zone = feasible
            .iter()
            .map(|n| own.in_domain(Topology::Zone, n))
            .max()
            .unwrap_or(0);
        let max_node = feasible
            .iter()
            .map(|n| own.in_domain(Topology::Node, n))
            .max()
            .unwrap_or(0);
        let mut active = [true, true, true, true, false, false, false, false];
        active[4] = spec
            .template
            .node_affinity()
            .is_some_and(|a| !a.preferred.is_empty());
        active[5] = !terms.preferred.is_empty();
        active[6] = spread.iter().any(|c| !c.hard);
        active[7] = feasible.iter().any(|n| {
            n.spec
                .taints
                .iter()
                .any(|t| t.effect == TaintEffect::PreferNoSchedule)
        });
        let mut raw_affinity: Vec<i64> = Vec::new();
        let mut raw_spread: Vec<u32> = Vec::new();
        let mut raw_taints: Vec<u32> = Vec::new();
        if active[5] {
            raw_affinity = feasible
                .iter()
                .map(|n| inter_pod_affinity::raw_score(n, &terms))
                .collect();
        }
        if active[6] {
            raw_spread = feasible
                .iter()
                .map(|n| topology_spread::raw_score(n, &spread))
                .collect();
        }
        if active[7] {
            raw_taints = feasible
                .iter()
                .map(|n| taints::intolerable_preferences(n, spec.template))
                .collect();
        }
        let (aff_min, aff_max) = (
            raw_affinity.iter().copied().min().unwrap_or(0),
            raw_affinity.iter().copied().max().unwrap_or(0),
        );
        let spread_max = raw_spread.iter().copied().max().unwrap_or(0);
        let taint_max = raw_taints.iter().copied().max().unwrap_or(0);
        let weight_sum: u32 = PLUGINS
            .iter()
            .zip(active)
            .filter(|(_, a)| *a)
            .map(|(p, _)| p.1)
            .sum();
        type Row = (u32, u64, usize, [u32; 8]);
        let mut scored: Vec<Row> = feasible
            .iter()
            .enumerate()
            .map(|(idx, node)| {
                let extra = self.extra.get(&node.id).copied().unwrap_or_default();
                let mut v = [0u32; 8];
                v[0] = default_spread::score(own.in_domain(Topology::Zone, node), max_zone);
                v[1] = default_spread::score(own.in_domain(Topology::Node, node), max_node);
                v[2] = least_allocated::score(node, cpu, mem, extra);
                v[3] = balanced::score(node, cpu, mem, extra);
                if active[4] {
                    v[4] = node_affinity::score(node, spec.template).unwrap_or(0);
                }
                if active[5] {
                    v[5] = if aff_max > aff_min {
                        ((raw_affinity[idx] - aff_min) * 100 / (aff_max - aff_min)) as u32
                    } else {
                        100
                    };
                }
                if active[6] {
                    v[6] = default_spread::score(raw_spread[idx], spread_max);
                }
                if active[7] {
                    v[7] = default_spread::score(raw_taints[idx], taint_max);
                }
                let total = PLUGINS
                    .iter()
                    .zip(v)
                    .zip(active)
                    .filter(|(_, a)| *a)
                    .map(|((p, s), _)| p.1 * s)
                    .sum::<u32>()
                    / weight_sum.max(1);
                (total, tiebreak(pod.id, node.id), idx, v)
            })
            .collect();
        let keep = self.top_n.max(1).min(scored.len());
        let by_rank = |a: &Row, b: &Row| b.0.cmp(&a.0).then(b.1.cmp(&a.1));
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
                scores: PLUGINS
                    .iter()
                    .zip(values)
                    .zip(active)
                    .filter(|(_, a)| *a)
                    .map(|((p, v), _)| (p.0.to_string(), *v))
                    .collect(),
            })
            .collect();
        let winner = top[0].node_id;
        drop(terms);
        drop(spread);
        if n > 0 {
            self.next_start = (start + examined) % n;
        }
        let placement = Placement {
            nodes_total,
            nodes_feasible,
            filtered,
            top,
            nodes_examined: examined as u32,
            preempted: vec![],
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
