//! Jobs: given / when / then for each command, the controller's rules, and
//! the invariants as properties.

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event as ev;
use domain::event::Event;
use domain::ids::{JobId, NodeId, PodId};
use domain::job::spec::{ExitCodeOperator, ExitCodeRequirement};
use domain::job::{
    CompletionMode, JobFailureReason, JobOutcome, PodFailureAction, PodFailurePolicyRule,
};
use domain::model::PodPhase;
use domain::reconcile;
use domain::testing::*;
use proptest::prelude::*;

fn cluster() -> Vec<Event> {
    vec![
        node_registered("n-a", "az-a", 4000, 8192),
        node_registered("n-b", "az-b", 4000, 8192),
    ]
}

fn create(g: &mut Given, id: JobId, spec: domain::job::JobSpec) {
    g.apply(Command::CreateJob(cmd::CreateJob { job_id: id, spec }))
        .unwrap();
}

/// One controller pass at `now_ms`, every command applied.
fn reconcile_at(g: &mut Given, now_ms: i64, backoff_ms: i64) -> usize {
    let planned = reconcile::jobs(&g.state, now_ms, backoff_ms);
    let n = planned.len();
    for p in planned {
        let _ = g.apply(p.command);
    }
    n
}

/// Bind every unbound pod to n-a and start it.
fn run_pending(g: &mut Given) -> Vec<PodId> {
    let pods: Vec<PodId> = g.state.unbound_pods().map(|p| p.id).collect();
    for p in &pods {
        g.apply(Command::BindPod(cmd::BindPod {
            pod_id: *p,
            node_id: NodeId::from_name("n-a"),
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
        g.apply(Command::ReportPodStarted(cmd::ReportPodStarted {
            pod_id: *p,
            node_id: NodeId::from_name("n-a"),
            address: None,
        }))
        .unwrap();
    }
    pods
}

fn exit(g: &mut Given, pod: PodId, code: i32) -> Vec<Event> {
    let node_id = NodeId::from_name("n-a");
    if code == 0 {
        g.apply(Command::ReportPodSucceeded(cmd::ReportPodSucceeded {
            pod_id: pod,
            node_id,
        }))
        .unwrap()
    } else {
        g.apply(Command::ReportPodFailed(cmd::ReportPodFailed {
            pod_id: pod,
            node_id,
            reason: format!("exited with code {code}"),
            exit_code: Some(code),
        }))
        .unwrap()
    }
}

#[test]
fn a_job_is_created_once_and_bad_specs_are_refused_with_field_paths() {
    let mut g = given(&cluster());
    create(&mut g, job_id(1), job_spec("batch", 3, 2, 100, 64));
    let again = g.when(Command::CreateJob(cmd::CreateJob {
        job_id: job_id(2),
        spec: job_spec("batch", 3, 2, 100, 64),
    }));
    assert_eq!(again.unwrap_err().code, RejectionCode::AlreadyExists);
    let mut bad = job_spec("bad", 0, 0, 100, 64);
    bad.template.restart_policy = domain::model::RestartPolicy::Always;
    bad.pod_failure_policy = vec![PodFailurePolicyRule {
        action: PodFailureAction::FailJob,
        on_exit_codes: ExitCodeRequirement {
            operator: ExitCodeOperator::In,
            values: vec![0],
        },
    }];
    let err = g
        .when(Command::CreateJob(cmd::CreateJob {
            job_id: job_id(3),
            spec: bad,
        }))
        .unwrap_err();
    assert_eq!(err.code, RejectionCode::ValidationFailed);
    let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "completions",
            "parallelism",
            "template.restartPolicy",
            "podFailurePolicy[0].onExitCodes.values"
        ]
    );
}

#[test]
fn the_controller_starts_parallelism_pods_and_no_more_than_the_completions_left() {
    let mut g = given(&cluster());
    create(&mut g, job_id(1), job_spec("batch", 5, 3, 100, 64));
    assert_eq!(reconcile_at(&mut g, 1_000, 10_000), 3);
    assert_eq!(g.state.jobs[&job_id(1)].live, 3);
    // A second pass on the same view starts nothing more.
    assert_eq!(reconcile_at(&mut g, 1_000, 10_000), 0);
    // An extra CreatePod is dropped: parallelism holds in the decider too.
    let next = g.state.jobs[&job_id(1)].next_ordinal;
    let extra = g
        .when(Command::CreatePod(cmd::CreatePod {
            owner: job_id(1).into(),
            ordinal: next,
            revision: None,
        }))
        .unwrap();
    assert!(extra.is_empty());
    let pods = run_pending(&mut g);
    for p in &pods {
        exit(&mut g, *p, 0);
    }
    // 3 done, 2 to go: two pods, not three.
    assert_eq!(reconcile_at(&mut g, 2_000, 10_000), 2);
    let pods = run_pending(&mut g);
    let last = exit(&mut g, pods[0], 0);
    assert!(!last.iter().any(|e| matches!(e, Event::JobCompleted(_))));
    let last = exit(&mut g, pods[1], 0);
    assert!(matches!(
        last.as_slice(),
        [
            Event::PodSucceeded(_),
            Event::JobCompleted(ev::JobCompleted {
                succeeded: 5,
                failed: 0,
                ..
            })
        ]
    ));
    assert_eq!(g.state.jobs[&job_id(1)].outcome, Some(JobOutcome::Complete));
    assert_eq!(reconcile_at(&mut g, 3_000, 10_000), 0);
    assert_eq!(g.state.pods[&pods[1]].phase, PodPhase::Succeeded);
}

#[test]
fn a_failed_pod_is_replaced_after_an_exponential_back_off() {
    let mut g = given(&cluster());
    create(&mut g, job_id(1), job_spec("batch", 1, 1, 100, 64));
    reconcile_at(&mut g, 0, 1_000);
    let p = run_pending(&mut g)[0];
    exit(&mut g, p, 1);
    g.state.jobs.get_mut(&job_id(1)).unwrap().last_failure_at_ms = Some(10_000);
    let j = &g.state.jobs[&job_id(1)];
    assert_eq!((j.failed, j.live), (1, 0));
    assert_eq!(
        reconcile_at(&mut g, 10_500, 1_000),
        0,
        "within the back-off"
    );
    assert_eq!(reconcile_at(&mut g, 11_000, 1_000), 1, "after 1 s");
    let p = run_pending(&mut g)[0];
    exit(&mut g, p, 1);
    g.state.jobs.get_mut(&job_id(1)).unwrap().last_failure_at_ms = Some(20_000);
    assert_eq!(
        reconcile_at(&mut g, 21_500, 1_000),
        0,
        "the second back-off is 2 s"
    );
    assert_eq!(reconcile_at(&mut g, 22_000, 1_000), 1);
}

#[test]
fn a_success_between_failures_starts_the_back_off_over() {
    let mut g = given(&cluster());
    create(&mut g, job_id(1), job_spec("batch", 3, 1, 100, 64));
    for code in [1, 1, 0, 1] {
        reconcile_at(&mut g, i64::MAX / 2, 1_000);
        let p = run_pending(&mut g)[0];
        exit(&mut g, p, code);
    }
    let j = &g.state.jobs[&job_id(1)];
    assert_eq!((j.failed, j.consecutive_failures, j.succeeded), (3, 1, 1));
    assert_eq!(j.backoff_ms(1_000), 1_000);
}

#[test]
fn more_failures_than_the_back_off_limit_fail_the_job_and_stop_its_pods() {
    let mut g = given(&cluster());
    let mut spec = job_spec("batch", 4, 2, 100, 64);
    spec.backoff_limit = 1;
    create(&mut g, job_id(1), spec);
    reconcile_at(&mut g, 0, 0);
    let pods = run_pending(&mut g);
    exit(&mut g, pods[0], 2);
    reconcile_at(&mut g, 0, 0);
    run_pending(&mut g);
    let events = exit(&mut g, pods[1], 2);
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::PodFailed(ev::PodFailed {
                    exit_code: Some(2),
                    ..
                }),
                Event::PodDeleted(_),
                Event::JobFailed(ev::JobFailed {
                    reason: JobFailureReason::BackoffLimitExceeded,
                    failed: 2,
                    ..
                }),
            ]
        ),
        "{events:?}"
    );
    let j = &g.state.jobs[&job_id(1)];
    assert_eq!(
        (j.outcome, j.live, j.failed),
        (Some(JobOutcome::Failed), 0, 2)
    );
    assert_eq!(
        reconcile_at(&mut g, 100_000, 0),
        0,
        "no retry after the limit"
    );
}

#[test]
fn the_pod_failure_policy_ignores_or_fails_by_exit_code() {
    let mut g = given(&cluster());
    let mut spec = job_spec("batch", 1, 1, 100, 64);
    spec.backoff_limit = 0;
    spec.pod_failure_policy = vec![
        PodFailurePolicyRule {
            action: PodFailureAction::Ignore,
            on_exit_codes: ExitCodeRequirement {
                operator: ExitCodeOperator::In,
                values: vec![143],
            },
        },
        PodFailurePolicyRule {
            action: PodFailureAction::FailJob,
            on_exit_codes: ExitCodeRequirement {
                operator: ExitCodeOperator::In,
                values: vec![42],
            },
        },
    ];
    create(&mut g, job_id(1), spec);
    reconcile_at(&mut g, 0, 0);
    let p = run_pending(&mut g)[0];
    exit(&mut g, p, 143);
    assert_eq!(g.state.jobs[&job_id(1)].failed, 0, "ignored");
    assert!(g.state.jobs[&job_id(1)].is_active());
    reconcile_at(&mut g, 0, 0);
    let p = run_pending(&mut g)[0];
    let events = exit(&mut g, p, 42);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::JobFailed(ev::JobFailed {
            reason: JobFailureReason::PodFailurePolicy,
            ..
        })
    )));
}

#[test]
fn an_indexed_job_runs_each_index_until_it_succeeds_once() {
    let mut g = given(&cluster());
    let mut spec = job_spec("idx", 3, 3, 100, 64);
    spec.completion_mode = CompletionMode::Indexed;
    create(&mut g, job_id(1), spec);
    reconcile_at(&mut g, 0, 0);
    let pods = run_pending(&mut g);
    let index = |g: &Given, p: &PodId| g.state.jobs[&job_id(1)].index_of[p];
    let mut idx: Vec<u32> = pods.iter().map(|p| index(&g, p)).collect();
    idx.sort();
    assert_eq!(idx, vec![0, 1, 2]);
    let failing = *pods.iter().find(|p| index(&g, p) == 1).unwrap();
    exit(&mut g, failing, 1);
    for p in pods.iter().filter(|p| **p != failing) {
        exit(&mut g, *p, 0);
    }
    reconcile_at(&mut g, 0, 0);
    let retry = run_pending(&mut g);
    assert_eq!(retry.len(), 1);
    assert_eq!(index(&g, &retry[0]), 1, "the failed index runs again");
    let events = exit(&mut g, retry[0], 0);
    assert!(events.iter().any(|e| matches!(
        e,
        Event::JobCompleted(ev::JobCompleted {
            succeeded: 3,
            failed: 1,
            ..
        })
    )));
}

#[test]
fn a_job_past_its_deadline_fails_and_deleting_a_job_deletes_its_pods() {
    let mut g = given(&cluster());
    let mut spec = job_spec("slow", 2, 2, 100, 64);
    spec.active_deadline_seconds = Some(30);
    create(&mut g, job_id(1), spec);
    g.state.jobs.get_mut(&job_id(1)).unwrap().started_at_ms = 1_000;
    reconcile_at(&mut g, 2_000, 0);
    run_pending(&mut g);
    let planned = reconcile::jobs(&g.state, 31_000, 0);
    assert!(matches!(planned.as_slice(), [p] if matches!(p.command,
        Command::FailJob(cmd::FailJob { reason: JobFailureReason::DeadlineExceeded, .. }))));
    for p in planned {
        g.apply(p.command).unwrap();
    }
    let j = &g.state.jobs[&job_id(1)];
    assert_eq!((j.outcome, j.live), (Some(JobOutcome::Failed), 0));
    let pods = j.pods.len();
    let events = g
        .apply(Command::DeleteJob(cmd::DeleteJob { job_id: job_id(1) }))
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::PodDeleted(_)))
            .count(),
        pods
    );
    assert!(g.state.jobs.is_empty() && g.state.pods.is_empty());
    let missing = g.when(Command::DeleteJob(cmd::DeleteJob { job_id: job_id(1) }));
    assert_eq!(missing.unwrap_err().code, RejectionCode::NotFound);
}

#[test]
fn a_finished_jobs_pods_are_deleted_after_its_ttl_and_not_before() {
    let mut g = given(&cluster());
    let mut spec = job_spec("ttl", 1, 1, 100, 64);
    spec.ttl_seconds_after_finished = Some(10);
    create(&mut g, job_id(1), spec);
    reconcile_at(&mut g, 0, 0);
    let p = run_pending(&mut g)[0];
    exit(&mut g, p, 0);
    g.state.jobs.get_mut(&job_id(1)).unwrap().finished_at_ms = Some(5_000);
    assert!(reconcile::job_pod_ttl(&g.state, 14_999, 100).is_empty());
    let planned = reconcile::job_pod_ttl(&g.state, 15_000, 100);
    assert_eq!(planned.len(), 1);
    for pl in planned {
        g.apply(pl.command).unwrap();
    }
    assert!(!g.state.pods.contains_key(&p));
    assert!(g.state.jobs.contains_key(&job_id(1)), "the job stays");
}

#[derive(Debug, Clone)]
enum Op {
    Reconcile,
    Run,
    Succeed(u8),
    Fail(u8, i32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Reconcile),
        Just(Op::Run),
        any::<u8>().prop_map(Op::Succeed),
        (any::<u8>(), 1..4i32).prop_map(|(p, c)| Op::Fail(p, c)),
    ]
}

proptest! {
    /// Whatever order pods start, succeed and fail in: never more than
    /// `parallelism` live pods, never more than `completions` successes
    /// (an Indexed job: each index once), no pod started after the job ended,
    /// and the job fails exactly when the failures pass `backoffLimit`.
    #[test]
    fn a_job_never_exceeds_parallelism_completions_or_its_back_off_limit(
        completions in 1u32..8,
        parallelism in 1u32..5,
        backoff_limit in 0u32..4,
        indexed in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..80),
    ) {
        let mut g = given(&cluster());
        let mut spec = job_spec("p", completions, parallelism, 100, 64);
        spec.backoff_limit = backoff_limit;
        if indexed {
            spec.completion_mode = CompletionMode::Indexed;
        }
        create(&mut g, job_id(1), spec);
        for op in ops {
            match op {
                Op::Reconcile => { reconcile_at(&mut g, 0, 0); }
                Op::Run => { run_pending(&mut g); }
                Op::Succeed(i) | Op::Fail(i, _) => {
                    let running: Vec<PodId> = g.state.jobs[&job_id(1)].pods.iter()
                        .filter(|p| g.state.pods[*p].phase == PodPhase::Running).copied().collect();
                    if running.is_empty() { continue; }
                    let p = running[i as usize % running.len()];
                    let code = if let Op::Fail(_, c) = op { c } else { 0 };
                    exit(&mut g, p, code);
                }
            }
            let j = &g.state.jobs[&job_id(1)];
            let live = j.pods.iter().filter(|p| g.state.pods[*p].is_live()).count() as u32;
            prop_assert_eq!(live, j.live);
            prop_assert!(j.live <= parallelism);
            prop_assert!(j.completed() <= completions);
            if indexed {
                prop_assert!(j.succeeded_indexes.iter().all(|i| *i < completions));
            }
            if !j.is_active() {
                prop_assert_eq!(j.live, 0);
            }
            prop_assert_eq!(j.outcome == Some(JobOutcome::Failed), j.failed > backoff_limit);
            prop_assert_eq!(j.outcome == Some(JobOutcome::Complete), j.completed() == completions);
        }
    }
}

#[test]
fn a_job_deleted_while_running_is_undeleted_with_its_counts_and_goes_on() {
    let mut g = given(&cluster());
    let id = job_id(1);
    create(&mut g, id, job_spec("etl", 3, 1, 100, 64));
    reconcile_at(&mut g, 0, 0);
    let first = run_pending(&mut g)[0];
    exit(&mut g, first, 0);
    g.apply(Command::DeleteJob(cmd::DeleteJob { job_id: id }))
        .unwrap();
    assert!(g.state.jobs.is_empty());
    let undelete = || {
        Command::UndeleteJob(cmd::UndeleteJob {
            namespace: domain::names::Name::parse("namespace", "default").unwrap(),
            name: domain::names::Name::parse("name", "etl").unwrap(),
        })
    };
    let e = g.apply(undelete()).unwrap();
    assert!(matches!(&e[..], [Event::JobUndeleted(u)] if u.job_id == id));
    assert_eq!(
        g.when(undelete()).unwrap_err().code,
        RejectionCode::AlreadyExists
    );
    let j = &g.state.jobs[&id];
    assert_eq!((j.succeeded, j.live, j.pods.len()), (1, 0, 0));
    // It goes on: the controller starts a pod for the completions left.
    assert_eq!(reconcile_at(&mut g, 0, 0), 1);
    // Nothing of that name was deleted in another namespace.
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: domain::names::Name::parse("name", "other").unwrap(),
        labels: Default::default(),
    }))
    .unwrap();
    let r = g
        .when(Command::UndeleteJob(cmd::UndeleteJob {
            namespace: domain::names::Name::parse("namespace", "other").unwrap(),
            name: domain::names::Name::parse("name", "etl").unwrap(),
        }))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::NotFound);
}
