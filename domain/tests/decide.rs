use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event as ev;
use domain::event::Event;
use domain::ids::{NodeId, PodId};
use domain::model::{NodeCondition, PodPhase, Taint, TaintEffect, Toleration, TolerationOperator};
use domain::scheduler::Cycle;
use domain::testing::*;

fn cluster() -> Vec<Event> {
    vec![
        node_registered("n-a", "az-a", 2000, 4096),
        node_registered("n-b", "az-b", 2000, 4096),
        node_registered("n-c", "az-c", 2000, 4096),
    ]
}

#[test]
fn a_deployment_that_fits_is_created() {
    let g = given(&cluster());
    let events = g
        .when(Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id: deployment_id(1),
            spec: deployment_spec("web", 3, 500, 512),
        }))
        .unwrap();
    assert!(matches!(
        events.as_slice(),
        [Event::DeploymentCreated(ev::DeploymentCreated {
            revision: 1,
            ..
        })]
    ));
}

#[test]
fn a_deployment_that_can_never_fit_is_refused_with_insufficient_cluster_capacity() {
    let g = given(&cluster());
    let too_big_pod = g.when(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: deployment_id(1),
        spec: deployment_spec("web", 1, 4000, 512),
    }));
    assert_eq!(
        too_big_pod.unwrap_err().code,
        RejectionCode::InsufficientClusterCapacity
    );
    let too_many = g.when(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: deployment_id(1),
        spec: deployment_spec("web", 13, 500, 512),
    }));
    assert_eq!(
        too_many.unwrap_err().code,
        RejectionCode::InsufficientClusterCapacity
    );
}

#[test]
fn a_second_deployment_with_the_same_name_is_refused() {
    let mut g = given(&cluster());
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: deployment_id(1),
        spec: deployment_spec("web", 1, 100, 100),
    }))
    .unwrap();
    let r = g.when(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: deployment_id(2),
        spec: deployment_spec("web", 1, 100, 100),
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::AlreadyExists);
}

#[test]
fn create_pod_is_idempotent_and_never_exceeds_replicas() {
    let mut g = given(&cluster());
    let d = deployment_id(1);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 2, 100, 100),
    }))
    .unwrap();
    assert_eq!(
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: 0,
            revision: None
        }))
        .unwrap()
        .len(),
        1
    );
    // A stale controller asks for ordinal 0 again: dropped.
    assert!(
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: 0,
            revision: None
        }))
        .unwrap()
        .is_empty()
    );
    assert_eq!(
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: 1,
            revision: None
        }))
        .unwrap()
        .len(),
        1
    );
    // Replicas reached: a third pod is not created.
    assert!(
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: 2,
            revision: None
        }))
        .unwrap()
        .is_empty()
    );
}

#[test]
fn a_bind_is_validated_and_a_duplicate_bind_is_refused() {
    let mut g = given(&cluster());
    let d = deployment_id(1);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 1, 1500, 100),
    }))
    .unwrap();
    g.apply(Command::CreatePod(cmd::CreatePod {
        owner: d.into(),
        ordinal: 0,
        revision: None,
    }))
    .unwrap();
    let pod = PodId::for_ordinal(d, 0);
    let node = NodeId::from_name("n-a");
    let ev = g
        .apply(Command::BindPod(cmd::BindPod {
            pod_id: pod,
            node_id: node,
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
    match &ev[0] {
        Event::PodBound(ev::PodBound { usage, .. }) => assert_eq!(usage.cpu_requested_milli, 1500),
        e => panic!("unexpected {e:?}"),
    }
    let again = g.when(Command::BindPod(cmd::BindPod {
        pod_id: pod,
        node_id: NodeId::from_name("n-b"),
        placement: Default::default(),
        preempt: vec![],
    }));
    assert_eq!(again.unwrap_err().code, RejectionCode::PodAlreadyBound);
}

#[test]
fn a_bind_that_would_overcommit_the_node_is_refused() {
    let mut g = given(&cluster());
    let d = deployment_id(1);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 2, 1500, 100),
    }))
    .unwrap();
    g.apply(Command::CreatePod(cmd::CreatePod {
        owner: d.into(),
        ordinal: 0,
        revision: None,
    }))
    .unwrap();
    g.apply(Command::CreatePod(cmd::CreatePod {
        owner: d.into(),
        ordinal: 1,
        revision: None,
    }))
    .unwrap();
    let node = NodeId::from_name("n-a");
    g.apply(Command::BindPod(cmd::BindPod {
        pod_id: PodId::for_ordinal(d, 0),
        node_id: node,
        placement: Default::default(),
        preempt: vec![],
    }))
    .unwrap();
    let r = g.when(Command::BindPod(cmd::BindPod {
        pod_id: PodId::for_ordinal(d, 1),
        node_id: node,
        placement: Default::default(),
        preempt: vec![],
    }));
    assert_eq!(r.unwrap_err().code, RejectionCode::BindInfeasible);
}

#[test]
fn a_lost_node_fails_its_pods_and_frees_its_capacity() {
    let mut g = given(&cluster());
    let d = deployment_id(1);
    let node = NodeId::from_name("n-a");
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 2, 500, 100),
    }))
    .unwrap();
    for o in 0..2 {
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: o,
            revision: None,
        }))
        .unwrap();
        g.apply(Command::BindPod(cmd::BindPod {
            pod_id: PodId::for_ordinal(d, o),
            node_id: node,
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
    }
    let ev = g
        .apply(Command::MarkNodeLost(cmd::MarkNodeLost {
            node_id: node,
            silent_for_ms: 31_000,
        }))
        .unwrap();
    assert!(matches!(
        ev[0],
        Event::NodeLost(ev::NodeLost { pods_failed: 2, .. })
    ));
    assert_eq!(ev.len(), 3);
    assert_eq!(g.state.nodes[&node].condition, NodeCondition::Lost);
    assert_eq!(g.state.nodes[&node].cpu_requested_milli, 0);
    assert!(g.state.pods.values().all(|p| p.phase == PodPhase::Failed));
    // The controller now wants two replacements.
    let plan = domain::reconcile::deployments(&g.state, 0);
    assert_eq!(plan.len(), 2);
}

#[test]
fn a_gpu_only_node_takes_only_pods_that_tolerate_its_taint() {
    let mut gpu = node_registered("gpu-1", "az-a", 8000, 8192);
    if let Event::NodeRegistered(ev::NodeRegistered { spec, .. }) = &mut gpu {
        spec.taints.push(Taint {
            time_added_ms: None,
            key: "gpu".into(),
            value: "true".into(),
            effect: TaintEffect::NoSchedule,
        });
    }
    let mut g = given(&[gpu]);
    let d = deployment_id(1);
    let plain = g.when(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 1, 100, 100),
    }));
    assert_eq!(
        plain.unwrap_err().code,
        RejectionCode::InsufficientClusterCapacity
    );
    let mut spec = deployment_spec("trainer", 1, 100, 100);
    spec.template.tolerations.push(Toleration {
        toleration_seconds: None,
        key: Some("gpu".into()),
        operator: TolerationOperator::Equal,
        value: Some("true".into()),
        effect: Some(TaintEffect::NoSchedule),
    });
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec,
    }))
    .unwrap();
    g.apply(Command::CreatePod(cmd::CreatePod {
        owner: d.into(),
        ordinal: 0,
        revision: None,
    }))
    .unwrap();
    let pod = g.state.pods.values().next().unwrap().clone();
    let (node, placement) = Cycle::new(&g.state).place(&pod).unwrap();
    assert_eq!(node, NodeId::from_name("gpu-1"));
    assert_eq!(placement.nodes_feasible, 1);
}

#[test]
fn the_scheduler_spreads_a_deployment_across_zones() {
    let mut g = given(&cluster());
    let d = deployment_id(1);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 6, 100, 100),
    }))
    .unwrap();
    for o in 0..6 {
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal: o,
            revision: None,
        }))
        .unwrap();
    }
    let pods: Vec<_> = (0..6)
        .map(|o| g.state.pods[&PodId::for_ordinal(d, o)].clone())
        .collect();
    let mut cycle = Cycle::new(&g.state);
    let mut per_node = std::collections::HashMap::new();
    for pod in &pods {
        let (node, _) = cycle.place(pod).unwrap();
        cycle.assume(pod, node);
        *per_node.entry(node).or_insert(0) += 1;
    }
    assert_eq!(per_node.len(), 3);
    assert!(per_node.values().all(|n| *n == 2), "{per_node:?}");
}

#[test]
fn after_a_restart_a_node_long_silent_is_not_ready_at_once_but_lost_only_after_a_fresh_period() {
    use domain::reconcile::{LifecycleConfig, node_lifecycle};
    let g = given(&cluster());
    let cfg = LifecycleConfig {
        grace_ms: 10_000,
        lost_after_ms: 20_000,
        ..Default::default()
    };
    let (dead, fresh) = (NodeId::from_name("n-a"), NodeId::from_name("n-b"));
    // The controller starts at 1,000,000 ms; n-a's last heartbeat was 16 minutes
    // earlier, n-c's agent never heartbeat at all, n-b is alive.
    let restart = 1_000_000;
    // As seen at `now`: n-b heartbeats all along.
    let seen_at = |now: i64| {
        move |n: NodeId| {
            if n == dead {
                Some(restart - 960_000)
            } else if n == fresh {
                Some(now - 500)
            } else {
                None
            }
        }
    };
    let seen = seen_at(restart);
    let kinds = |plan: &[domain::reconcile::Planned]| {
        let mut v: Vec<(String, &'static str)> = plan
            .iter()
            .map(|p| match &p.command {
                Command::MarkNodeNotReady(cmd::MarkNodeNotReady { node_id, .. }) => {
                    (node_id.to_string(), "NotReady")
                }
                Command::MarkNodeLost(cmd::MarkNodeLost { node_id, .. }) => {
                    (node_id.to_string(), "Lost")
                }
                Command::MarkNodeReady(cmd::MarkNodeReady { node_id }) => {
                    (node_id.to_string(), "Ready")
                }
                c => panic!("unexpected {c:?}"),
            })
            .collect();
        v.sort();
        v
    };
    let never = NodeId::from_name("n-c");
    let plan = node_lifecycle(
        &g.state,
        seen,
        restart,
        restart,
        cfg,
        &mut Default::default(),
    );
    assert_eq!(
        kinds(&plan),
        {
            let mut want = vec![
                (dead.to_string(), "NotReady"),
                (never.to_string(), "NotReady"),
            ];
            want.sort();
            want
        },
        "unschedulable at the first pass: {plan:?}"
    );
    let why = plan
        .iter()
        .find(|p| matches!(p.command, Command::MarkNodeNotReady(cmd::MarkNodeNotReady { node_id, .. }) if node_id == dead))
        .unwrap();
    assert!(
        why.reason.contains("last heard 960000 ms ago"),
        "{}",
        why.reason
    );
    assert!(
        matches!(
            why.command,
            Command::MarkNodeNotReady(cmd::MarkNodeNotReady {
                silent_for_ms: 960_000,
                ..
            })
        ),
        "the event carries the real silence"
    );
    // Until a fresh lost-after period has passed since the restart, nobody is Lost.
    let later = restart + 19_999;
    let plan = node_lifecycle(
        &g.state,
        seen_at(later),
        later,
        restart,
        cfg,
        &mut Default::default(),
    );
    assert!(
        !plan
            .iter()
            .any(|p| matches!(p.command, Command::MarkNodeLost(_))),
        "{plan:?}"
    );
    let later = restart + 20_000;
    let plan = node_lifecycle(
        &g.state,
        seen_at(later),
        later,
        restart,
        cfg,
        &mut Default::default(),
    );
    let lost: Vec<_> = kinds(&plan).into_iter().filter(|k| k.1 == "Lost").collect();
    assert_eq!(lost.len(), 2, "{plan:?}");
}

#[test]
fn node_lifecycle_marks_silent_nodes_not_ready_then_lost_and_heals_on_heartbeat() {
    use domain::reconcile::{LifecycleConfig, node_lifecycle};
    let g = given(&cluster());
    let cfg = LifecycleConfig {
        evictions_per_zone_per_sec: 10.0,
        unhealthy_zone_fraction: 0.55,
        unhealthy_zone_per_sec: 1.0,
        grace_ms: 10_000,
        lost_after_ms: 20_000,
    };
    let a = NodeId::from_name("n-a");
    let seen = |n: NodeId| if n == a { Some(0) } else { Some(14_000) };
    let plan = node_lifecycle(&g.state, seen, 15_000, 0, cfg, &mut Default::default());
    assert_eq!(plan.len(), 1);
    assert!(
        matches!(plan[0].command, Command::MarkNodeNotReady(cmd::MarkNodeNotReady { node_id, .. }) if node_id == a)
    );
    let plan = node_lifecycle(&g.state, seen, 25_000, 0, cfg, &mut Default::default());
    assert!(
        plan.iter()
            .any(|p| matches!(p.command, Command::MarkNodeLost(cmd::MarkNodeLost { node_id, .. }) if node_id == a))
    );
    // Same view, same pass: same command ids (duplicates the decider drops).
    assert_eq!(
        node_lifecycle(&g.state, seen, 25_000, 0, cfg, &mut Default::default()),
        plan
    );
}

#[test]
fn a_pod_that_failed_is_deleted_a_ttl_after_it_ended_and_leaves_the_state() {
    use domain::reconcile::pod_gc;
    let mut g = given(&cluster());
    let d = deployment_id(1);
    g.apply(Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: d,
        spec: deployment_spec("web", 2, 100, 100),
    }))
    .unwrap();
    for ordinal in 0..2 {
        g.apply(Command::CreatePod(cmd::CreatePod {
            owner: d.into(),
            ordinal,
            revision: None,
        }))
        .unwrap();
    }
    let (failed, alive) = (PodId::for_ordinal(d, 0), PodId::for_ordinal(d, 1));
    let node = NodeId::from_name("n-a");
    for pod in [failed, alive] {
        g.apply(Command::BindPod(cmd::BindPod {
            pod_id: pod,
            node_id: node,
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
    }
    g.apply(Command::ReportPodFailed(cmd::ReportPodFailed {
        pod_id: failed,
        node_id: node,
        reason: "exit 1".into(),
        exit_code: Some(1),
    }))
    .unwrap();
    // The reconciler lists the pods that ended; a live one listed by mistake is never collected.
    let ended = || [(failed, 10_000, "exit 1"), (alive, 0, "")];
    // Within its ttl it stays.
    assert!(pod_gc(&g.state, ended(), 39_999, 30_000, 100).is_empty());
    let plan = pod_gc(&g.state, ended(), 40_000, 30_000, 100);
    assert_eq!(plan.len(), 1, "{plan:?}");
    let Command::DeletePod(cmd::DeletePod { pod_id, reason, .. }) = &plan[0].command else {
        panic!("{plan:?}")
    };
    assert_eq!(*pod_id, failed);
    assert_eq!(reason, "garbage-collected: ended 30 s ago (exit 1)");
    let live_before = g.state.deployments[&d].live;
    let events = g.apply(plan[0].command.clone()).unwrap();
    assert!(
        matches!(events.as_slice(), [Event::PodDeleted(_)]),
        "{events:?}"
    );
    assert!(!g.state.pods.contains_key(&failed));
    assert_eq!(g.state.deployments[&d].live, live_before, "it was not live");
    assert!(pod_gc(&g.state, ended(), 90_000, 30_000, 100).is_empty());
    // The same pass twice asks with the same id: the decider drops the duplicate.
    assert!(g.when(plan[0].command.clone()).unwrap().is_empty());
}
