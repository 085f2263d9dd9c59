//! One test (or more) per scheduler plugin: given a node set and a pod, the
//! expected feasible set and winner; then preemption, disruption budgets,
//! drain, NoExecute taints and the per-zone eviction limit.

use domain::command as cmd;
use domain::event as ev;
use std::collections::{BTreeMap, BTreeSet};

use domain::RejectionCode;
use domain::command::Command;
use domain::event::{Event, EvictionCause};
use domain::ids::{DeploymentId, NodeId, PodId};
use domain::model::*;
use domain::reconcile::{LifecycleConfig, ZoneLimiter, evictions, node_lifecycle};
use domain::scheduler::{Cycle, nodes_to_find, reason};
use domain::testing::*;

fn labelled(name: &str, zone: &str, cpu: u64, labels: &[(&str, &str)]) -> Event {
    let mut e = node_registered(name, zone, cpu, 8192);
    if let Event::NodeRegistered(ev::NodeRegistered { spec, .. }) = &mut e {
        spec.labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    e
}

fn six_nodes() -> Vec<Event> {
    vec![
        labelled("a1", "az-a", 4000, &[("disk", "ssd")]),
        labelled("a2", "az-a", 4000, &[("disk", "hdd")]),
        labelled("b1", "az-b", 4000, &[("disk", "ssd"), ("gen", "3")]),
        labelled("b2", "az-b", 4000, &[("gen", "5")]),
        labelled("c1", "az-c", 4000, &[("disk", "hdd")]),
        labelled("c2", "az-c", 4000, &[]),
    ]
}

fn sel(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Create the deployment and its first `pods` pods (unbound).
fn deploy(g: &mut Given, n: u128, spec: DeploymentSpec, pods: u64) -> DeploymentId {
    let d = deployment_id(n);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec,
    }))
    .unwrap();
    for o in 0..pods {
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: o,
            revision: None,
        }))
        .unwrap();
    }
    d
}

fn bind(g: &mut Given, d: DeploymentId, ordinal: u64, node: &str) {
    g.apply(Command::BindPod(cmd::BindPod {
        pod_id: PodId::for_ordinal(d, ordinal),
        node_id: NodeId::from_name(node),
        placement: Default::default(),
        preempt: vec![],
    }))
    .unwrap();
}

fn ready(g: &mut Given, d: DeploymentId, ordinal: u64) {
    let pod_id = PodId::for_ordinal(d, ordinal);
    let node_id = g.state.pods[&pod_id].node.unwrap();
    g.apply(Command::ReportPodStarted(cmd::ReportPodStarted {
        pod_id,
        node_id,
        address: None,
    }))
    .unwrap();
    g.apply(Command::ReportPodReady(cmd::ReportPodReady {
        pod_id,
        node_id,
    }))
    .unwrap();
}

/// Names of the feasible nodes (the cycle scores every feasible node on a
/// small cluster, so `top` with a large `top_n` lists them all) and the winner.
fn feasible(g: &Given, d: DeploymentId, ordinal: u64) -> (BTreeSet<String>, String) {
    let mut c = Cycle::new(&g.state);
    c.top_n = 100;
    let pod = g.state.pods[&PodId::for_ordinal(d, ordinal)].clone();
    let (node, p) = c.place(&pod).expect("schedulable");
    let names = p.top.iter().map(|s| s.node_name.clone()).collect();
    (names, g.state.nodes[&node].spec.name.to_string())
}

/// `n` nodes `n0`, `n1`, … dealt over three zones.
fn round_robin(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            node_registered(
                &format!("n{i}"),
                ["az-a", "az-b", "az-c"][i % 3],
                4000,
                8192,
            )
        })
        .collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn node_selector_keeps_only_matching_nodes() {
    let mut g = given(&six_nodes());
    let mut spec = deployment_spec("db", 1, 100, 100);
    spec.template.node_selector = sel(&[("disk", "ssd")]);
    let d = deploy(&mut g, 1, spec, 1);
    let (set, winner) = feasible(&g, d, 0);
    assert_eq!(set, names(&["a1", "b1"]));
    assert!(set.contains(&winner));
}

#[test]
fn required_node_affinity_ors_terms_and_ands_expressions() {
    let mut g = given(&six_nodes());
    let mut spec = deployment_spec("db", 1, 100, 100);
    spec.template.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required: vec![
                NodeSelectorTerm {
                    match_expressions: vec![
                        LabelRequirement {
                            key: "disk".into(),
                            operator: SelectorOperator::In,
                            values: vec!["ssd".into()],
                        },
                        LabelRequirement {
                            key: ZONE_LABEL.into(),
                            operator: SelectorOperator::NotIn,
                            values: vec!["az-a".into()],
                        },
                    ],
                },
                NodeSelectorTerm {
                    match_expressions: vec![LabelRequirement {
                        key: "gen".into(),
                        operator: SelectorOperator::Gt,
                        values: vec!["4".into()],
                    }],
                },
            ],
            preferred: vec![],
        }),
        ..Default::default()
    });
    let d = deploy(&mut g, 1, spec, 1);
    let (set, _) = feasible(&g, d, 0);
    assert_eq!(set, names(&["b1", "b2"]));
    let mut c = Cycle::new(&g.state);
    let pod = g.state.pods[&PodId::for_ordinal(d, 0)].clone();
    let p = c.place(&pod).unwrap().1;
    assert_eq!(p.filtered.get(reason::NODE_AFFINITY_MISMATCH), Some(&4));
}

#[test]
fn preferred_node_affinity_picks_the_preferred_node_and_shows_its_score() {
    let mut g = given(&six_nodes());
    let mut spec = deployment_spec("db", 1, 100, 100);
    spec.template.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required: vec![],
            preferred: vec![PreferredSchedulingTerm {
                weight: 100,
                preference: NodeSelectorTerm {
                    match_expressions: vec![LabelRequirement {
                        key: "gen".into(),
                        operator: SelectorOperator::Exists,
                        values: vec![],
                    }],
                },
            }],
        }),
        ..Default::default()
    });
    let d = deploy(&mut g, 1, spec, 1);
    let (set, winner) = feasible(&g, d, 0);
    assert_eq!(set.len(), 6, "a preference filters nothing");
    assert!(winner == "b1" || winner == "b2", "{winner}");
    let mut c = Cycle::new(&g.state);
    let pod = g.state.pods[&PodId::for_ordinal(d, 0)].clone();
    let p = c.place(&pod).unwrap().1;
    assert_eq!(p.top[0].scores.get("nodeAffinity"), Some(&100));
}

fn anti(key: &str, app: &str) -> PodAffinity {
    PodAffinity {
        required: vec![PodAffinityTerm {
            label_selector: sel(&[("app", app)]),
            topology_key: key.into(),
        }],
        preferred: vec![],
    }
}

#[test]
fn pod_anti_affinity_by_node_keeps_replicas_apart_and_the_decider_enforces_it() {
    let mut g = given(&six_nodes()[..3]);
    let mut spec = deployment_spec("cache", 4, 100, 100);
    spec.template.affinity = Some(Affinity {
        pod_anti_affinity: Some(anti(HOSTNAME_LABEL, "cache")),
        ..Default::default()
    });
    let d = deploy(&mut g, 1, spec, 4);
    bind(&mut g, d, 0, "a1");
    let (set, _) = feasible(&g, d, 1);
    assert_eq!(set, names(&["a2", "b1"]));
    // The decider refuses a second replica on a1 even if asked directly.
    let r = g.when(Command::BindPod(cmd::BindPod {
        pod_id: PodId::for_ordinal(d, 1),
        node_id: NodeId::from_name("a1"),
        placement: Default::default(),
        preempt: vec![],
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::BindInfeasible);
    bind(&mut g, d, 1, "a2");
    bind(&mut g, d, 2, "b1");
    // Three nodes, three replicas: the fourth has nowhere to go, and says why.
    let pod = g.state.pods[&PodId::for_ordinal(d, 3)].clone();
    let err = Cycle::new(&g.state).place(&pod).unwrap_err();
    assert_eq!(
        err.filtered.get(reason::POD_ANTI_AFFINITY_VIOLATED),
        Some(&3)
    );
    assert!(
        err.to_string().contains("3 PodAntiAffinityViolated"),
        "{err}"
    );
}

#[test]
fn anti_affinity_is_symmetric_an_existing_pods_term_keeps_others_away() {
    let mut g = given(&six_nodes()[..2]);
    let mut lonely = deployment_spec("lonely", 1, 100, 100);
    lonely.template.affinity = Some(Affinity {
        pod_anti_affinity: Some(anti(HOSTNAME_LABEL, "web")),
        ..Default::default()
    });
    let l = deploy(&mut g, 1, lonely, 1);
    bind(&mut g, l, 0, "a1");
    let w = deploy(&mut g, 2, deployment_spec("web", 1, 100, 100), 1);
    let (set, _) = feasible(&g, w, 0);
    assert_eq!(set, names(&["a2"]));
}

#[test]
fn pod_affinity_by_zone_follows_the_selected_pods_and_lets_the_first_one_start() {
    let mut g = given(&six_nodes());
    let mut spec = deployment_spec("api", 2, 100, 100);
    spec.template.affinity = Some(Affinity {
        pod_affinity: Some(PodAffinity {
            required: vec![PodAffinityTerm {
                label_selector: sel(&[("app", "db")]),
                topology_key: ZONE_LABEL.into(),
            }],
            preferred: vec![],
        }),
        ..Default::default()
    });
    let api = deploy(&mut g, 1, spec, 1);
    // No db pod anywhere and api does not select itself: unschedulable.
    let pod = g.state.pods[&PodId::for_ordinal(api, 0)].clone();
    let err = Cycle::new(&g.state).place(&pod).unwrap_err();
    assert_eq!(err.filtered.get(reason::POD_AFFINITY_UNSATISFIED), Some(&6));
    let db = deploy(&mut g, 2, deployment_spec("db", 1, 100, 100), 1);
    bind(&mut g, db, 0, "b2");
    let (set, _) = feasible(&g, api, 0);
    assert_eq!(set, names(&["b1", "b2"]));
}

#[test]
fn topology_spread_by_zone_never_exceeds_max_skew() {
    let mut g = given(&six_nodes());
    let mut spec = deployment_spec("web", 3, 100, 100);
    spec.template.topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE_LABEL.into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        label_selector: BTreeMap::new(),
    }];
    let d = deploy(&mut g, 1, spec, 3);
    bind(&mut g, d, 0, "a1");
    bind(&mut g, d, 1, "a2");
    // az-a holds 2, the others 0: a third in az-a would make the skew 3.
    let _ = g.state.pods.len();
    let (set, _) = feasible(&g, d, 2);
    assert_eq!(set, names(&["b1", "b2", "c1", "c2"]));
}

#[test]
fn topology_spread_schedule_anyway_only_scores() {
    let mut g = given(&six_nodes()[..4]);
    let mut spec = deployment_spec("web", 2, 100, 100);
    spec.template.topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 1,
        topology_key: ZONE_LABEL.into(),
        when_unsatisfiable: WhenUnsatisfiable::ScheduleAnyway,
        label_selector: BTreeMap::new(),
    }];
    let d = deploy(&mut g, 1, spec, 2);
    bind(&mut g, d, 0, "a1");
    let (set, winner) = feasible(&g, d, 1);
    assert_eq!(set.len(), 4);
    assert!(winner.starts_with('b'), "{winner}");
}

#[test]
fn a_cordoned_node_takes_no_new_pods() {
    let mut g = given(&six_nodes()[..2]);
    g.apply(Command::CordonNode(cmd::CordonNode {
        node_id: NodeId::from_name("a1"),
    }))
    .unwrap();
    let d = deploy(&mut g, 1, deployment_spec("web", 1, 100, 100), 1);
    let (set, _) = feasible(&g, d, 0);
    assert_eq!(set, names(&["a2"]));
    let r = g.when(Command::BindPod(cmd::BindPod {
        pod_id: PodId::for_ordinal(d, 0),
        node_id: NodeId::from_name("a1"),
        placement: Default::default(),
        preempt: vec![],
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::BindInfeasible);
}

#[test]
fn prefer_no_schedule_taints_only_lower_the_score() {
    let mut a = node_registered("a1", "az-a", 4000, 8192);
    if let Event::NodeRegistered(ev::NodeRegistered { spec, .. }) = &mut a {
        spec.taints.push(Taint {
            key: "spot".into(),
            value: "true".into(),
            effect: TaintEffect::PreferNoSchedule,
            time_added_ms: None,
        });
    }
    let mut g = given(&[a, node_registered("a2", "az-a", 4000, 8192)]);
    let d = deploy(&mut g, 1, deployment_spec("web", 1, 100, 100), 1);
    let (set, winner) = feasible(&g, d, 0);
    assert_eq!(set.len(), 2);
    assert_eq!(winner, "a2");
}

#[test]
fn large_clusters_score_a_sample_and_say_how_many_nodes_were_examined() {
    let nodes = round_robin(1000);
    let mut g = given(&nodes);
    let d = deploy(&mut g, 1, deployment_spec("web", 1, 100, 100), 1);
    let pod = g.state.pods[&PodId::for_ordinal(d, 0)].clone();
    let p = Cycle::new(&g.state).place(&pod).unwrap().1;
    assert_eq!(nodes_to_find(1000), 420);
    assert_eq!(p.nodes_feasible, 420);
    assert_eq!(p.nodes_examined, 420);
    assert_eq!(p.nodes_total, 1000);
    assert_eq!(nodes_to_find(8000), 400);
    assert_eq!(nodes_to_find(50), 50);
}

/// Two 2000m nodes full of low-priority pods (4 × 500m each).
fn full_cluster(g: &mut Given, budget: Option<DisruptionBudget>) -> DeploymentId {
    let mut spec = deployment_spec("batch", 8, 500, 100);
    spec.template.priority_class_name = Some("low".into());
    spec.disruption_budget = budget;
    let d = deploy(g, 1, spec, 8);
    for o in 0..8 {
        bind(g, d, o, if o < 4 { "n1" } else { "n2" });
        ready(g, d, o);
    }
    d
}

#[test]
fn a_high_priority_pod_preempts_the_fewest_lower_priority_pods_in_one_command() {
    let mut g = given(&[
        node_registered("n1", "az-a", 2000, 8192),
        node_registered("n2", "az-b", 2000, 8192),
    ]);
    let low = full_cluster(&mut g, None);
    let mut spec = deployment_spec("critical", 1, 900, 100);
    spec.template.priority_class_name = Some("high".into());
    let hi = deploy(&mut g, 2, spec, 1);
    let pod = g.state.pods[&PodId::for_ordinal(hi, 0)].clone();
    let mut cycle = Cycle::new(&g.state);
    assert!(cycle.place(&pod).is_err());
    let pre = cycle.preempt(&pod).expect("a node can be freed");
    assert_eq!(pre.victims.len(), 2, "900m needs two 500m pods, not more");
    assert!(pre.victims.iter().all(|(_, p)| *p == -1000));
    let events = g
        .apply(Command::BindPod(cmd::BindPod {
            pod_id: pod.id,
            node_id: pre.node_id,
            placement: Default::default(),
            preempt: pre.victims.iter().map(|v| v.0).collect(),
        }))
        .unwrap();
    let evicted: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::PodEvicted(ev::PodEvicted { cause, reason, .. }) => {
                Some((cause.clone(), reason.clone()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(evicted.len(), 2);
    assert!(matches!(
        evicted[0].0,
        EvictionCause::Preemption { preemptor, preemptor_priority: 1000, victim_priority: -1000 } if preemptor == pod.id
    ));
    assert!(
        evicted[0].1.contains("preempted by pod"),
        "{}",
        evicted[0].1
    );
    assert!(matches!(events.last(), Some(Event::PodBound(_))));
    let node = &g.state.nodes[&pre.node_id];
    assert_eq!(node.cpu_requested_milli, 2000 - 1000 + 900);
    // The controller replaces the evicted pods.
    assert_eq!(g.state.live_pod_count(&g.state.deployments[&low]), 6);
}

#[test]
fn preemption_never_breaks_a_disruption_budget() {
    let mut g = given(&[
        node_registered("n1", "az-a", 2000, 8192),
        node_registered("n2", "az-b", 2000, 8192),
    ]);
    // 8 ready, at least 7 must stay: one disruption allowed in all.
    let low = full_cluster(
        &mut g,
        Some(DisruptionBudget {
            min_available: Some(7),
            max_unavailable: None,
        }),
    );
    assert_eq!(g.state.disruptions_allowed(&g.state.deployments[&low]), 1);
    let mut spec = deployment_spec("critical", 1, 900, 100);
    spec.template.priority_class_name = Some("high".into());
    let hi = deploy(&mut g, 2, spec, 1);
    let pod = g.state.pods[&PodId::for_ordinal(hi, 0)].clone();
    assert_eq!(Cycle::new(&g.state).preempt(&pod), None);
    // Asked directly, the decider refuses too.
    let victims: Vec<PodId> = g.state.nodes[&NodeId::from_name("n1")]
        .pods
        .iter()
        .take(2)
        .copied()
        .collect();
    let r = g.when(Command::BindPod(cmd::BindPod {
        pod_id: pod.id,
        node_id: NodeId::from_name("n1"),
        placement: Default::default(),
        preempt: victims,
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::DisruptionBudgetExceeded);
    // A pod of equal priority never preempts.
    let eq = deploy(&mut g, 3, deployment_spec("same", 1, 900, 100), 1);
    let mut low_eq = g.state.deployments[&eq].spec.clone();
    low_eq.template.priority_class_name = Some("low".into());
    let pod = g.state.pods[&PodId::for_ordinal(eq, 0)].clone();
    assert_eq!(Cycle::new(&g.state).preempt(&pod), None);
}

#[test]
fn drain_evicts_within_the_disruption_budget_and_eviction_api_refuses_beyond_it() {
    let mut g = given(&[
        node_registered("n1", "az-a", 2000, 8192),
        node_registered("n2", "az-b", 2000, 8192),
        node_registered("n3", "az-c", 2000, 8192),
    ]);
    let low = full_cluster(
        &mut g,
        Some(DisruptionBudget {
            min_available: None,
            max_unavailable: Some(1),
        }),
    );
    let n1 = NodeId::from_name("n1");
    g.apply(Command::DrainNode(cmd::DrainNode { node_id: n1 }))
        .unwrap();
    assert!(g.state.nodes[&n1].unschedulable && g.state.nodes[&n1].draining);
    let plan = evictions(&g.state, 0, 3000);
    assert_eq!(plan.len(), 1, "one disruption allowed at a time");
    let events = g.apply(plan[0].command.clone()).unwrap();
    assert!(matches!(
        &events[0],
        Event::PodEvicted(ev::PodEvicted {
            cause: EvictionCause::Drain,
            ..
        })
    ));
    // Budget used up: nothing more until a replacement is Ready.
    assert!(evictions(&g.state, 0, 3000).is_empty());
    let next = *g.state.nodes[&n1].pods.iter().next().unwrap();
    let r = g.when(Command::EvictPod(cmd::EvictPod {
        pod_id: next,
        cause: EvictionCause::Api,
        reason: "test".into(),
        respect_budget: true,
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::DisruptionBudgetExceeded);
    // The replacement lands on n3 (n1 is cordoned, n2 full), becomes Ready: the drain goes on.
    let o = g.state.deployments[&low].next_ordinal;
    g.apply(Command::CreatePod(cmd::CreatePod {
        owner: low.into(),
        ordinal: o,
        revision: None,
    }))
    .unwrap();
    let pod = g.state.pods[&PodId::for_ordinal(low, o)].clone();
    let (node, _) = Cycle::new(&g.state).place(&pod).unwrap();
    assert_eq!(node, NodeId::from_name("n3"));
    bind(&mut g, low, o, "n3");
    ready(&mut g, low, o);
    assert_eq!(evictions(&g.state, 0, 3000).len(), 1);
}

#[test]
fn no_execute_taints_evict_untolerating_pods_now_and_tolerating_ones_after_their_seconds() {
    let mut g = given(&[node_registered("n1", "az-a", 4000, 8192)]);
    let plain = deploy(&mut g, 1, deployment_spec("plain", 1, 100, 100), 1);
    let mut patient = deployment_spec("patient", 1, 100, 100);
    patient.template.tolerations.push(Toleration {
        key: Some("maintenance".into()),
        operator: TolerationOperator::Exists,
        value: None,
        effect: Some(TaintEffect::NoExecute),
        toleration_seconds: Some(30),
    });
    let patient = deploy(&mut g, 2, patient, 1);
    bind(&mut g, plain, 0, "n1");
    bind(&mut g, patient, 0, "n1");
    let n1 = NodeId::from_name("n1");
    g.apply(Command::SetNodeTaints(cmd::SetNodeTaints {
        node_id: n1,
        taints: vec![Taint {
            key: "maintenance".into(),
            value: String::new(),
            effect: TaintEffect::NoExecute,
            time_added_ms: Some(100_000),
        }],
    }))
    .unwrap();
    let evicted_at = |now: i64| -> Vec<PodId> {
        evictions(&g.state, now, 3000)
            .into_iter()
            .filter_map(|p| match p.command {
                Command::EvictPod(cmd::EvictPod { pod_id, .. }) => Some(pod_id),
                _ => None,
            })
            .collect()
    };
    assert_eq!(evicted_at(100_000), vec![PodId::for_ordinal(plain, 0)]);
    assert_eq!(evicted_at(129_999).len(), 1);
    assert_eq!(evicted_at(130_000).len(), 2);
}

#[test]
fn a_zone_outage_is_evicted_at_a_bounded_rate_per_zone() {
    let nodes = round_robin(30);
    let g = given(&nodes);
    let cfg = LifecycleConfig {
        grace_ms: 10_000,
        lost_after_ms: 15_000,
        evictions_per_zone_per_sec: 2.0,
        unhealthy_zone_fraction: 0.55,
        unhealthy_zone_per_sec: 0.0,
    };
    // Four nodes of az-a silent (40 % of the zone): two per second may go.
    let silent: BTreeSet<NodeId> = (0..30)
        .step_by(3)
        .take(4)
        .map(|i| NodeId::from_name(&format!("n{i}")))
        .collect();
    let seen = |n: NodeId| Some(if silent.contains(&n) { 0 } else { 19_000 });
    let mut limiter = ZoneLimiter::default();
    let lost = |plan: &[domain::reconcile::Planned]| {
        plan.iter()
            .filter(|p| matches!(p.command, Command::MarkNodeLost(_)))
            .count()
    };
    let plan = node_lifecycle(&g.state, seen, 20_000, 0, cfg, &mut limiter);
    assert_eq!(lost(&plan), 2);
    assert_eq!(limiter.held_back, 2);
    let plan = node_lifecycle(&g.state, seen, 20_500, 0, cfg, &mut limiter);
    assert_eq!(
        lost(&plan),
        3,
        "the two admitted stay admitted, one more token"
    );
    // A whole zone silent looks like a partition: the secondary rate (0) applies.
    let zone_a: BTreeSet<NodeId> = (0..30)
        .step_by(3)
        .map(|i| NodeId::from_name(&format!("n{i}")))
        .collect();
    let seen = |n: NodeId| Some(if zone_a.contains(&n) { 0 } else { 19_000 });
    let plan = node_lifecycle(&g.state, seen, 20_000, 0, cfg, &mut ZoneLimiter::default());
    assert_eq!(lost(&plan), 0);
}

#[test]
fn bad_scheduling_fields_are_refused_with_field_paths() {
    let mut spec = deployment_spec("web", 1, 100, 100);
    spec.template.priority_class_name = Some("urgent".into());
    spec.template.topology_spread_constraints = vec![TopologySpreadConstraint {
        max_skew: 0,
        topology_key: "rack".into(),
        when_unsatisfiable: WhenUnsatisfiable::DoNotSchedule,
        label_selector: BTreeMap::new(),
    }];
    spec.disruption_budget = Some(DisruptionBudget {
        min_available: Some(1),
        max_unavailable: Some(1),
    });
    let fields: Vec<String> = spec.validate().into_iter().map(|e| e.field).collect();
    assert_eq!(
        fields,
        vec![
            "priorityClassName",
            "topologySpreadConstraints[0].maxSkew",
            "topologySpreadConstraints[0].topologyKey",
            "disruptionBudget"
        ]
    );
}
