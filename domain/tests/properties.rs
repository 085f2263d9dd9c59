//! Invariants under any sequence of commands.

use domain::command as cmd;
use domain::command::Command;
use domain::event as ev;
use domain::event::{Event, EvictionCause};
use domain::ids::{NodeId, PodId};
use domain::model::{NodeCondition, PodPhase};
use domain::scheduler::Cycle;
use domain::testing::*;
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Bind(u8, u8),
    Scale(u8),
    Lose(u8),
    Delete(u8),
    Fail(u8),
    Evict(u8),
    NotReady(u8),
    Ready(u8),
    Drain(u8),
    /// Place a pending pod of the high-priority deployment, preempting if needed.
    Schedule(u8),
    Started(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..20).prop_map(Op::Create),
        (0u8..20, 0u8..4).prop_map(|(p, n)| Op::Bind(p, n)),
        (0u8..15).prop_map(Op::Scale),
        (0u8..4).prop_map(Op::Lose),
        (0u8..20).prop_map(Op::Delete),
        (0u8..20).prop_map(Op::Fail),
        (0u8..20).prop_map(Op::Evict),
        (0u8..4).prop_map(Op::NotReady),
        (0u8..4).prop_map(Op::Ready),
        (0u8..4).prop_map(Op::Drain),
        (0u8..8).prop_map(Op::Schedule),
        (0u8..20).prop_map(Op::Started),
    ]
}

const NODES: [&str; 4] = ["n-0", "n-1", "n-2", "n-3"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_sequence_of_commands_overcommits_a_node_or_binds_a_pod_twice(ops in prop::collection::vec(op(), 1..120)) {
        let mut g = given(&NODES.iter().map(|n| node_registered(n, "az-a", 2000, 2048)).collect::<Vec<_>>());
        let d = deployment_id(7);
        g.apply(Command::CreateDeployment(cmd::CreateDeployment { deployment_id: d, spec: deployment_spec("web", 8, 700, 500) })).unwrap();
        let hi = deployment_id(8);
        let mut hi_spec = deployment_spec("hi", 4, 900, 500);
        hi_spec.template.priority_class_name = Some("high".into());
        g.apply(Command::CreateDeployment(cmd::CreateDeployment { deployment_id: hi, spec: hi_spec })).unwrap();
        for o in 0..4 {
            g.apply(Command::CreatePod(cmd::CreatePod { owner: hi.into(), ordinal: o , revision: None})).unwrap();
        }
        let mut bound_events: std::collections::HashMap<PodId, u32> = Default::default();
        for op in ops {
            let cmd = match op {
                Op::Create(o) => Command::CreatePod(cmd::CreatePod { owner: d.into(), ordinal: o as u64 , revision: None}),
                Op::Bind(p, n) => Command::BindPod(cmd::BindPod { pod_id: PodId::for_ordinal(d, p as u64), node_id: NodeId::from_name(NODES[n as usize]), placement: Default::default(), preempt: vec![] }),
                Op::Evict(p) => Command::EvictPod(cmd::EvictPod { pod_id: PodId::for_ordinal(d, p as u64), cause: EvictionCause::Api, reason: "test".into(), respect_budget: true }),
                Op::NotReady(n) => Command::MarkNodeNotReady(cmd::MarkNodeNotReady { node_id: NodeId::from_name(NODES[n as usize]), silent_for_ms: 1 }),
                Op::Ready(n) => Command::MarkNodeReady(cmd::MarkNodeReady { node_id: NodeId::from_name(NODES[n as usize]) }),
                Op::Drain(n) => Command::DrainNode(cmd::DrainNode { node_id: NodeId::from_name(NODES[n as usize]) }),
                Op::Started(p) => {
                    let pod = PodId::for_ordinal(d, p as u64);
                    match g.state.pods.get(&pod).and_then(|x| x.node) {
                        Some(node_id) => Command::ReportPodStarted(cmd::ReportPodStarted { pod_id: pod, node_id, address: None }),
                        None => continue,
                    }
                }
                Op::Schedule(p) => {
                    let Some(pod) = g.state.pods.get(&PodId::for_ordinal(hi, p as u64 % 4)).filter(|p| p.node.is_none() && p.is_live()).cloned() else { continue };
                    let mut cycle = Cycle::new(&g.state);
                    match cycle.place(&pod) {
                        Ok((node_id, placement)) => Command::BindPod(cmd::BindPod { pod_id: pod.id, node_id, placement, preempt: vec![] }),
                        Err(_) => match cycle.preempt(&pod) {
                            Some(pre) => Command::BindPod(cmd::BindPod { pod_id: pod.id, node_id: pre.node_id, placement: Default::default(), preempt: pre.victims.iter().map(|v| v.0).collect() }),
                            None => continue,
                        },
                    }
                }
                Op::Scale(r) => Command::ScaleDeployment(cmd::ScaleDeployment { deployment_id: d, replicas: r as u32 }),
                Op::Lose(n) => Command::MarkNodeLost(cmd::MarkNodeLost { node_id: NodeId::from_name(NODES[n as usize]), silent_for_ms: 1 }),
                Op::Delete(p) => Command::DeletePod(cmd::DeletePod { pod_id: PodId::for_ordinal(d, p as u64), reason: "test".into(), only_if_surplus: false, keep_ready: None, respect_budget: false }),
                Op::Fail(p) => {
                    let pod = PodId::for_ordinal(d, p as u64);
                    match g.state.pods.get(&pod).and_then(|x| x.node) {
                        Some(node_id) => Command::ReportPodFailed(cmd::ReportPodFailed { pod_id: pod, node_id, reason: "crash".into(), exit_code: None }),
                        None => continue,
                    }
                }
            };
            if let Ok(events) = g.apply(cmd) {
                for e in events {
                    if let Event::PodBound(ev::PodBound { pod_id, usage, node_id, .. }) = e {
                        *bound_events.entry(pod_id).or_default() += 1;
                        let n = &g.state.nodes[&node_id];
                        prop_assert_eq!(usage.cpu_requested_milli, n.cpu_requested_milli);
                    }
                }
            }
            for n in g.state.nodes.values() {
                prop_assert!(n.cpu_requested_milli <= n.spec.cpu_allocatable_milli);
                prop_assert!(n.mem_requested_mb <= n.spec.mem_allocatable_mb);
                let sum: u64 = n.pods.iter().map(|p| g.state.pods[p].cpu_milli as u64).sum();
                prop_assert_eq!(sum, n.cpu_requested_milli);
            }
            for p in g.state.pods.values() {
                if p.phase == PodPhase::Running { prop_assert!(p.node.is_some()); }
                if p.is_live() && let Some(n) = p.node {
                    prop_assert!(g.state.nodes[&n].condition != NodeCondition::Lost, "a live pod sits on a lost node");
                }
            }
            // The maintained indexes agree with a recount.
            for dep in g.state.deployments.values() {
                prop_assert_eq!(dep.live as usize, g.state.live_pods(dep).count());
            }
            let unbound = g.state.pods.values().filter(|p| p.node.is_none() && p.phase == PodPhase::Pending).count();
            prop_assert_eq!(g.state.unbound_count(), unbound);
        }
        prop_assert!(bound_events.values().all(|n| *n == 1));
    }

    #[test]
    fn every_event_round_trips_through_json(cpu in 1u32..10_000, mem in 1u32..10_000, replicas in 0u32..1000) {
        let spec = deployment_spec("web", replicas, cpu, mem);
        let events = vec![
            node_registered("n-0", "az-a", 1000, 1000),
            Event::DeploymentCreated(ev::DeploymentCreated { deployment_id: deployment_id(1), spec: spec.clone(), revision: 1 }),
            Event::DeploymentScaled(ev::DeploymentScaled { deployment_id: deployment_id(1), from: replicas, to: replicas + 1 }),
        ];
        for e in events {
            let json = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&json).unwrap();
            prop_assert_eq!(back, e);
        }
    }
}
