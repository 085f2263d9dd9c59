//! StatefulSets: given / when / then for each command, the controller's
//! rules (ordered start, reverse scale-down, partitioned rolling update,
//! automatic rollback, replacement under the same name), and the
//! invariants as properties.

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event::Event;
use domain::ids::{NodeId, PodId, StatefulSetId};
use domain::reconcile;
use domain::statefulset::{PodManagementPolicy, StatefulSetSpec};
use domain::testing::*;
use proptest::prelude::*;

const SET: u128 = 7;

fn cluster() -> Vec<Event> {
    vec![
        node_registered("n-a", "az-a", 8000, 16384),
        node_registered("n-b", "az-b", 8000, 16384),
    ]
}

fn id() -> StatefulSetId {
    stateful_set_id(SET)
}

fn created(spec: StatefulSetSpec) -> Given {
    let mut g = given(&cluster());
    g.apply(Command::CreateStatefulSet(cmd::CreateStatefulSet {
        stateful_set_id: id(),
        spec,
    }))
    .unwrap();
    g
}

/// One controller pass at `now_ms` with the controller's clock, every command applied.
fn pass_at(g: &mut Given, now_ms: i64, clock: &mut reconcile::ReadyClock) -> Vec<Event> {
    let mut out = Vec::new();
    for p in reconcile::stateful_sets(&g.state, now_ms, clock) {
        if let Ok(events) = g.apply(p.command) {
            out.extend(events);
        }
    }
    out
}

/// One controller pass, every command applied; the events it caused.
fn pass(g: &mut Given) -> Vec<Event> {
    let mut out = Vec::new();
    for p in reconcile::stateful_sets(&g.state, 0, &mut Default::default()) {
        if let Ok(events) = g.apply(p.command) {
            out.extend(events);
        }
    }
    out
}

fn node_of(n: u64) -> NodeId {
    NodeId::from_name(if n.is_multiple_of(2) { "n-a" } else { "n-b" })
}

/// Bind (ordinal parity picks the node) and start every unbound pod; Ready unless `ready` says no.
fn run_pending(g: &mut Given, ready: impl Fn(u64) -> bool) -> Vec<PodId> {
    let pods: Vec<(PodId, u64)> = g.state.unbound_pods().map(|p| (p.id, p.ordinal)).collect();
    for (p, o) in &pods {
        let node_id = node_of(*o);
        g.apply(Command::BindPod(cmd::BindPod {
            pod_id: *p,
            node_id,
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
        g.apply(Command::ReportPodStarted(cmd::ReportPodStarted {
            pod_id: *p,
            node_id,
            address: Some(format!("127.0.0.1:{}", 9000 + o)),
        }))
        .unwrap();
        if ready(*o) {
            g.apply(Command::ReportPodReady(cmd::ReportPodReady {
                pod_id: *p,
                node_id,
            }))
            .unwrap();
        }
    }
    pods.into_iter().map(|(p, _)| p).collect()
}

/// Passes until the controller asks for nothing, pods run and turn Ready.
fn converge(g: &mut Given) -> Vec<Event> {
    let mut all = Vec::new();
    for _ in 0..50 {
        let events = pass(g);
        let started = run_pending(g, |_| true);
        if events.is_empty() && started.is_empty() {
            return all;
        }
        all.extend(events);
    }
    panic!("the statefulset did not converge");
}

/// The live pods' (ordinal, name-from-events) of the set.
fn live_ordinals(g: &Given) -> Vec<(u64, u64)> {
    let s = &g.state.stateful_sets[&id()];
    let mut v: Vec<(u64, u64)> = s
        .pods
        .iter()
        .map(|p| &g.state.pods[p])
        .filter(|p| p.is_live())
        .map(|p| (p.ordinal, p.revision))
        .collect();
    v.sort();
    v
}

fn created_names(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PodCreated(p) => Some(p.name.clone()),
            _ => None,
        })
        .collect()
}

fn deleted_ordinals(g_before: &Given, events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PodDeleted(d) => g_before.state.pods.get(&d.pod_id).map(|p| p.ordinal),
            _ => None,
        })
        .collect()
}

fn restart(g: &mut Given, pod: PodId, n: u32) {
    let node_id = g.state.pods[&pod].node.unwrap();
    g.apply(Command::ReportPodRestarted(cmd::ReportPodRestarted {
        pod_id: pod,
        node_id,
        restarts: n,
        backoff_ms: 10,
        reason: "container exited with code 1".into(),
    }))
    .unwrap();
}

fn pod_of(g: &Given, ordinal: u64) -> PodId {
    g.state.stateful_sets[&id()].ordinals[&ordinal]
}

#[test]
fn bad_specs_are_refused_with_field_paths_and_nothing_is_written() {
    let g = given(&cluster());
    let cases: Vec<(StatefulSetSpec, &str)> = vec![
        (
            {
                let mut s = stateful_set_spec("db", 3, 100, 64);
                s.update_strategy.partition = 4;
                s
            },
            "updateStrategy.partition",
        ),
        (
            {
                let mut s = stateful_set_spec(&"d".repeat(61), 11, 100, 64);
                s.volume_claim_template = None;
                s
            },
            "name",
        ),
        (
            {
                let mut s = stateful_set_spec("db", 1, 100, 64);
                s.template.restart_policy = domain::model::RestartPolicy::Never;
                s
            },
            "template.restartPolicy",
        ),
        (
            {
                let mut s = stateful_set_spec("db", 1, 100, 64);
                // Neither request nor limit, and no limit range to default them.
                s.template.resources.cpu_request_milli = 0;
                s.template.resources.cpu_limit_milli = 0;
                s
            },
            "template.resources",
        ),
    ];
    for (spec, field) in cases {
        let r = g
            .when(Command::CreateStatefulSet(cmd::CreateStatefulSet {
                stateful_set_id: id(),
                spec,
            }))
            .unwrap_err();
        assert_eq!(r.code, RejectionCode::ValidationFailed, "{field}");
        assert!(
            r.fields.iter().any(|f| f.field == field),
            "{field}: {:?}",
            r.fields
        );
    }
    // A name whose last ordinal still fits is fine.
    let mut ok = stateful_set_spec(&"d".repeat(61), 10, 100, 64);
    ok.volume_claim_template = None;
    ok.replicas = 10;
    assert!(
        g.when(Command::CreateStatefulSet(cmd::CreateStatefulSet {
            stateful_set_id: id(),
            spec: ok
        }))
        .is_ok()
    );
}

#[test]
fn a_second_set_of_the_same_name_is_refused() {
    let g = created(stateful_set_spec("db", 3, 100, 64));
    let r = g
        .when(Command::CreateStatefulSet(cmd::CreateStatefulSet {
            stateful_set_id: stateful_set_id(8),
            spec: stateful_set_spec("db", 1, 100, 64),
        }))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::AlreadyExists);
}

#[test]
fn ordered_ready_starts_each_ordinal_after_the_one_below_is_ready() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    let first = pass(&mut g);
    assert_eq!(created_names(&first), ["db-0"]);
    // db-0 runs but is not Ready: nothing more.
    run_pending(&mut g, |_| false);
    assert!(pass(&mut g).is_empty());
    // Asked directly, ordinal 1 is refused while 0 is not Ready.
    let early = g
        .when(Command::CreatePod(cmd::CreatePod {
            owner: id().into(),
            ordinal: 1,
            revision: None,
        }))
        .unwrap();
    assert!(early.is_empty());
    let p0 = pod_of(&g, 0);
    g.apply(Command::ReportPodReady(cmd::ReportPodReady {
        pod_id: p0,
        node_id: node_of(0),
    }))
    .unwrap();
    let rest = converge(&mut g);
    assert_eq!(created_names(&rest), ["db-1", "db-2"]);
    assert_eq!(live_ordinals(&g), [(0, 1), (1, 1), (2, 1)]);
    let claims: Vec<Option<String>> = first
        .iter()
        .chain(&rest)
        .filter_map(|e| match e {
            Event::PodCreated(p) => Some(p.volume_claim.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        claims,
        [
            Some("data-db-0".into()),
            Some("data-db-1".into()),
            Some("data-db-2".into())
        ]
    );
}

#[test]
fn parallel_starts_every_ordinal_at_once() {
    let mut spec = stateful_set_spec("db", 3, 100, 64);
    spec.pod_management_policy = PodManagementPolicy::Parallel;
    let mut g = created(spec);
    assert_eq!(created_names(&pass(&mut g)), ["db-0", "db-1", "db-2"]);
}

#[test]
fn a_pod_lost_with_its_node_comes_back_under_the_same_name_and_claim() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    converge(&mut g);
    let old = pod_of(&g, 1);
    assert_eq!(g.state.pods[&old].node, Some(NodeId::from_name("n-b")));
    g.apply(Command::MarkNodeLost(cmd::MarkNodeLost {
        node_id: NodeId::from_name("n-b"),
        silent_for_ms: 60_000,
    }))
    .unwrap();
    let events = pass(&mut g);
    // The failed pod is deleted and its ordinal created again: a new id, the same name.
    assert!(
        matches!(&events[0], Event::PodDeleted(d) if d.pod_id == old),
        "{events:?}"
    );
    let Event::PodCreated(p) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (p.name.as_str(), p.ordinal, p.volume_claim.as_deref()),
        ("db-1", 1, Some("data-db-1"))
    );
    assert_ne!(p.pod_id, old);
    assert!(!g.state.pods.contains_key(&old));
    assert_eq!(g.state.stateful_sets[&id()].live, 3);
}

#[test]
fn scale_down_removes_the_highest_ordinal_first_one_at_a_time() {
    let mut g = created(stateful_set_spec("db", 4, 100, 64));
    converge(&mut g);
    g.apply(Command::ScaleStatefulSet(cmd::ScaleStatefulSet {
        stateful_set_id: id(),
        replicas: 1,
    }))
    .unwrap();
    let mut order = Vec::new();
    for _ in 0..5 {
        let before = Given {
            state: g.state.clone(),
        };
        let events = pass(&mut g);
        let d = deleted_ordinals(&before, &events);
        assert!(d.len() <= 1, "OrderedReady deletes one per pass: {d:?}");
        order.extend(d);
    }
    assert_eq!(order, [3, 2, 1]);
    assert_eq!(live_ordinals(&g), [(0, 1)]);
}

#[test]
fn a_rolling_update_replaces_pods_from_the_highest_ordinal_down() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    converge(&mut g);
    let mut t = g.state.stateful_sets[&id()].spec.template.clone();
    t.image = domain::names::Image::parse("image", "demo:v2").unwrap();
    let e = g
        .apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
            stateful_set_id: id(),
            template: Some(t.clone()),
            image: None,
            partition: None,
        }))
        .unwrap();
    assert!(
        matches!(&e[..], [Event::StatefulSetRevisionCreated(r)] if r.revision == 2 && r.from == 1)
    );
    // The same template again changes nothing.
    assert!(
        g.when(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
            stateful_set_id: id(),
            template: Some(t),
            image: None,
            partition: None,
        }))
        .unwrap()
        .is_empty()
    );
    let before = Given {
        state: g.state.clone(),
    };
    let events = converge(&mut g);
    let order: Vec<u64> = deleted_ordinals(&before, &events);
    assert_eq!(order, [2, 1, 0]);
    assert_eq!(created_names(&events), ["db-2", "db-1", "db-0"]);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::StatefulSetUpdateCompleted(c) if c.revision == 2))
    );
    let s = &g.state.stateful_sets[&id()];
    assert_eq!(
        (s.revision, s.current_revision, s.update.is_none()),
        (2, 2, true)
    );
    assert_eq!(live_ordinals(&g), [(0, 2), (1, 2), (2, 2)]);
}

#[test]
fn a_partition_keeps_the_ordinals_below_it_on_the_current_revision() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    converge(&mut g);
    let mut t = g.state.stateful_sets[&id()].spec.template.clone();
    t.image = domain::names::Image::parse("image", "demo:v2").unwrap();
    g.apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
        stateful_set_id: id(),
        template: Some(t),
        image: None,
        partition: Some(2),
    }))
    .unwrap();
    converge(&mut g);
    assert_eq!(live_ordinals(&g), [(0, 1), (1, 1), (2, 2)]);
    assert_eq!(g.state.stateful_sets[&id()].current_revision, 1);
    // Lower the partition: the rest follow, and revision 2 becomes current.
    g.apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
        stateful_set_id: id(),
        template: None,
        image: None,
        partition: Some(0),
    }))
    .unwrap();
    converge(&mut g);
    assert_eq!(live_ordinals(&g), [(0, 2), (1, 2), (2, 2)]);
    assert_eq!(g.state.stateful_sets[&id()].current_revision, 2);
    let r = g
        .when(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
            stateful_set_id: id(),
            template: None,
            image: None,
            partition: Some(4),
        }))
        .unwrap_err();
    assert_eq!(r.fields[0].field, "updateStrategy.partition");
}

#[test]
fn a_failing_revision_is_rolled_back_by_itself_and_says_why() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    converge(&mut g);
    let mut t = g.state.stateful_sets[&id()].spec.template.clone();
    t.image = domain::names::Image::parse("image", "demo:broken").unwrap();
    g.apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
        stateful_set_id: id(),
        template: Some(t),
        image: None,
        partition: None,
    }))
    .unwrap();
    pass(&mut g); // deletes db-2
    pass(&mut g); // creates db-2 on revision 2
    run_pending(&mut g, |_| false); // it never turns Ready: it crashes
    let bad = pod_of(&g, 2);
    assert_eq!(g.state.pods[&bad].revision, 2);
    for n in 1..=3 {
        assert!(
            !pass(&mut g)
                .iter()
                .any(|e| matches!(e, Event::StatefulSetRolledBack(_)))
        );
        restart(&mut g, bad, n);
    }
    let events = pass(&mut g);
    let Some(Event::StatefulSetRolledBack(rb)) = events.first() else {
        panic!("{events:?}")
    };
    assert!(rb.automatic);
    assert_eq!((rb.from, rb.to), (2, 1));
    assert!(rb.reason.contains("failed 3 time(s)"), "{}", rb.reason);
    // The broken pod goes first (it is not Ready), and comes back on revision 1.
    converge(&mut g);
    assert_eq!(live_ordinals(&g), [(0, 1), (1, 1), (2, 1)]);
    let s = &g.state.stateful_sets[&id()];
    assert_eq!((s.revision, s.current_revision), (1, 1));
}

#[test]
fn deleting_a_set_deletes_its_pods_highest_ordinal_first() {
    let mut g = created(stateful_set_spec("db", 3, 100, 64));
    converge(&mut g);
    let before = Given {
        state: g.state.clone(),
    };
    let events = g
        .apply(Command::DeleteStatefulSet(cmd::DeleteStatefulSet {
            stateful_set_id: id(),
        }))
        .unwrap();
    assert_eq!(deleted_ordinals(&before, &events), [2, 1, 0]);
    assert!(matches!(events.last(), Some(Event::StatefulSetDeleted(_))));
    assert!(g.state.stateful_sets.is_empty());
    assert!(g.state.pods.is_empty());
    assert!(g.state.stateful_set_by_name("default", "db").is_none());
}

#[test]
fn a_rollback_to_an_unknown_revision_is_a_validation_error() {
    let g = created(stateful_set_spec("db", 1, 100, 64));
    let r = g
        .when(Command::RollbackStatefulSet(cmd::RollbackStatefulSet {
            stateful_set_id: id(),
            revision: 9,
            automatic: false,
            update: None,
            reason: "x".into(),
        }))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::ValidationFailed);
    assert_eq!(r.fields[0].field, "revision");
}

#[test]
fn scaling_past_the_name_length_is_refused() {
    let mut spec = stateful_set_spec(&"d".repeat(61), 10, 100, 64);
    spec.volume_claim_template = None;
    let g = created(spec);
    let r = g
        .when(Command::ScaleStatefulSet(cmd::ScaleStatefulSet {
            stateful_set_id: id(),
            replicas: 11,
        }))
        .unwrap_err();
    assert_eq!(r.fields[0].field, "name");
}

#[derive(Debug, Clone)]
enum Step {
    Pass,
    Run { ready: bool },
    Ready(u64),
    Restart(u64),
    LoseNode(bool),
    Scale(u32),
    Update,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Pass),
        3 => any::<bool>().prop_map(|ready| Step::Run { ready }),
        2 => (0u64..5).prop_map(Step::Ready),
        1 => (0u64..5).prop_map(Step::Restart),
        1 => any::<bool>().prop_map(Step::LoseNode),
        1 => (0u32..6).prop_map(Step::Scale),
        1 => Just(Step::Update),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever happens: no two live pods of a set hold one ordinal, and
    /// under OrderedReady a pod of ordinal n is only ever created while
    /// every ordinal below n has a live, Ready pod.
    #[test]
    fn ordinals_are_unique_and_ordered_ready_is_ordered(
        parallel in any::<bool>(),
        steps in proptest::collection::vec(step(), 1..60),
    ) {
        let mut spec = stateful_set_spec("db", 3, 100, 64);
        if parallel {
            spec.pod_management_policy = PodManagementPolicy::Parallel;
        }
        let mut g = created(spec);
        let mut version = 1;
        for s in steps {
            let commands: Vec<Command> = match s {
                Step::Pass => reconcile::stateful_sets(&g.state, 0, &mut Default::default()).into_iter().map(|p| p.command).collect(),
                Step::Run { ready } => { run_pending(&mut g, |_| ready); vec![] }
                Step::Ready(o) | Step::Restart(o) => {
                    let set = &g.state.stateful_sets[&id()];
                    match set.ordinals.get(&o).and_then(|p| g.state.pods.get(p)) {
                        Some(p) if p.is_live() && p.node.is_some() => {
                            let node_id = p.node.unwrap();
                            if matches!(s, Step::Ready(_)) {
                                vec![Command::ReportPodReady(cmd::ReportPodReady { pod_id: p.id, node_id })]
                            } else {
                                vec![Command::ReportPodRestarted(cmd::ReportPodRestarted {
                                    pod_id: p.id, node_id, restarts: p.restarts + 1, backoff_ms: 1, reason: "crash".into(),
                                })]
                            }
                        }
                        _ => vec![],
                    }
                }
                Step::LoseNode(a) => vec![Command::MarkNodeLost(cmd::MarkNodeLost {
                    node_id: NodeId::from_name(if a { "n-a" } else { "n-b" }), silent_for_ms: 1,
                }), Command::MarkNodeReady(cmd::MarkNodeReady { node_id: NodeId::from_name(if a { "n-a" } else { "n-b" }) })],
                Step::Scale(n) => vec![Command::ScaleStatefulSet(cmd::ScaleStatefulSet { stateful_set_id: id(), replicas: n })],
                Step::Update => {
                    version += 1;
                    let mut t = g.state.stateful_sets[&id()].spec.template.clone();
                    t.image = domain::names::Image::parse("image", &format!("demo:v{version}")).unwrap();
                    vec![Command::UpdateStatefulSet(cmd::UpdateStatefulSet { stateful_set_id: id(), template: Some(t), image: None, partition: None })]
                }
            };
            for c in commands {
                let Ok(events) = domain::decide(&g.state, &c) else { continue };
                for e in &events {
                    if let Event::PodCreated(p) = e && !parallel {
                        let set = &g.state.stateful_sets[&id()];
                        for o in 0..p.ordinal {
                            let ok = set.ordinals.get(&o).and_then(|q| g.state.pods.get(q)).is_some_and(|q| q.is_live() && q.ready);
                            prop_assert!(ok, "ordinal {} created while {} is not Ready", p.ordinal, o);
                        }
                    }
                    g.state.evolve(e);
                }
                let mut seen = std::collections::BTreeSet::new();
                let set = &g.state.stateful_sets[&id()];
                for p in set.pods.iter().map(|p| &g.state.pods[p]).filter(|p| p.is_live()) {
                    prop_assert!(seen.insert(p.ordinal), "two live pods hold ordinal {}", p.ordinal);
                }
                prop_assert_eq!(set.live as usize, seen.len());
            }
        }
    }
}

/// The decider's anti-affinity check looks at every kind's pods: with no
/// deployment in the cluster, a set whose pods must not share a node still
/// cannot have two bound to one.
#[test]
fn required_anti_affinity_of_a_set_is_enforced_at_bind_without_any_deployment() {
    use domain::model::{Affinity, HOSTNAME_LABEL, PodAffinity, PodAffinityTerm};
    let mut spec = stateful_set_spec("db", 2, 100, 64);
    spec.pod_management_policy = PodManagementPolicy::Parallel;
    spec.template.affinity = Some(Affinity {
        pod_anti_affinity: Some(PodAffinity {
            required: vec![PodAffinityTerm {
                label_selector: [("app".to_string(), "db".to_string())].into(),
                topology_key: HOSTNAME_LABEL.into(),
            }],
            preferred: vec![],
        }),
        ..Default::default()
    });
    let mut g = created(spec);
    pass(&mut g);
    let (p0, p1) = (pod_of(&g, 0), pod_of(&g, 1));
    let bind = |pod_id| {
        Command::BindPod(cmd::BindPod {
            pod_id,
            node_id: NodeId::from_name("n-a"),
            placement: Default::default(),
            preempt: vec![],
        })
    };
    g.apply(bind(p0)).unwrap();
    let r = g.when(bind(p1)).unwrap_err();
    assert_eq!(r.code, RejectionCode::BindInfeasible, "{r:?}");
}

#[test]
fn an_undeleted_set_comes_back_with_its_id_revisions_and_claims_and_new_pod_ids() {
    let mut g = created(stateful_set_spec("db", 2, 100, 64));
    converge(&mut g);
    let mut t = g.state.stateful_sets[&id()].spec.template.clone();
    t.image = domain::names::Image::parse("image", "demo:v2").unwrap();
    g.apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
        stateful_set_id: id(),
        template: Some(t),
        image: None,
        partition: None,
    }))
    .unwrap();
    converge(&mut g);
    let old: Vec<PodId> = g.state.stateful_sets[&id()].pods.iter().copied().collect();
    g.apply(Command::DeleteStatefulSet(cmd::DeleteStatefulSet {
        stateful_set_id: id(),
    }))
    .unwrap();
    let undelete = || {
        Command::UndeleteStatefulSet(cmd::UndeleteStatefulSet {
            namespace: domain::names::Name::parse("namespace", "default").unwrap(),
            name: domain::names::Name::parse("name", "db").unwrap(),
        })
    };
    let e = g.apply(undelete()).unwrap();
    let [Event::StatefulSetUndeleted(u)] = &e[..] else {
        panic!("{e:?}")
    };
    assert_eq!(
        (u.stateful_set_id, u.revision, u.current_revision),
        (id(), 2, 2)
    );
    // A second undelete finds the name in use.
    assert_eq!(
        g.when(undelete()).unwrap_err().code,
        RejectionCode::AlreadyExists
    );
    let events = converge(&mut g);
    let claims: Vec<(String, Option<String>, u64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::PodCreated(p) => Some((p.name.clone(), p.volume_claim.clone(), p.revision)),
            _ => None,
        })
        .collect();
    assert_eq!(
        claims,
        [
            ("db-0".into(), Some("data-db-0".into()), 2),
            ("db-1".into(), Some("data-db-1".into()), 2)
        ]
    );
    let new: Vec<PodId> = g.state.stateful_sets[&id()].pods.iter().copied().collect();
    assert!(new.iter().all(|p| !old.contains(p)), "a pod id was reused");
    assert_eq!(g.state.stateful_sets[&id()].revisions.len(), 2);
}

/// With `minReadySeconds` the update completes only once its pods have
/// stayed Ready that long; a pod that crashes after turning Ready in that
/// time counts against the update, which is rolled back.
#[test]
fn min_ready_seconds_holds_the_update_open_and_a_late_crash_rolls_it_back() {
    let mut spec = stateful_set_spec("db", 1, 100, 64);
    spec.update_strategy.min_ready_seconds = 10;
    spec.update_strategy.rollback_after_failures = 2;
    let mut g = created(spec);
    converge(&mut g);
    let mut clock = reconcile::ReadyClock::default();
    let update = |g: &mut Given, image: &str| {
        let mut t = g.state.stateful_sets[&id()].spec.template.clone();
        t.image = domain::names::Image::parse("image", image).unwrap();
        g.apply(Command::UpdateStatefulSet(cmd::UpdateStatefulSet {
            stateful_set_id: id(),
            template: Some(t),
            image: None,
            partition: None,
        }))
        .unwrap();
    };
    let completed = |e: &[Event]| {
        e.iter()
            .any(|e| matches!(e, Event::StatefulSetUpdateCompleted(_)))
    };
    // A good revision: first seen Ready at 1 s, so not complete before 11 s.
    update(&mut g, "demo:v2");
    pass_at(&mut g, 0, &mut clock); // deletes db-0
    pass_at(&mut g, 0, &mut clock); // creates it on revision 2
    run_pending(&mut g, |_| true);
    assert!(!completed(&pass_at(&mut g, 1_000, &mut clock)));
    assert!(!completed(&pass_at(&mut g, 10_999, &mut clock)));
    assert!(completed(&pass_at(&mut g, 11_000, &mut clock)));
    // A revision whose pod turns Ready, then crashes twice within the window.
    update(&mut g, "demo:v3");
    pass_at(&mut g, 20_000, &mut clock);
    pass_at(&mut g, 20_000, &mut clock);
    run_pending(&mut g, |_| true);
    let bad = pod_of(&g, 0);
    assert!(!completed(&pass_at(&mut g, 21_000, &mut clock)));
    restart(&mut g, bad, 1);
    assert!(!completed(&pass_at(&mut g, 22_000, &mut clock)));
    restart(&mut g, bad, 2);
    let events = pass_at(&mut g, 23_000, &mut clock);
    assert!(
        matches!(events.first(), Some(Event::StatefulSetRolledBack(r)) if r.automatic && r.from == 3 && r.to == 2),
        "{events:?}"
    );
}
