//! Cron jobs: given / when / then for each command and the controller's rules.

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::cronjob::ConcurrencyPolicy;
use domain::event as ev;
use domain::event::Event;
use domain::ids::{CronJobId, NodeId};
use domain::reconcile;
use domain::testing::*;

/// 2026-12-01T10:00:00Z.
const T0: i64 = 1_796_119_200_000;

fn cluster() -> Vec<Event> {
    vec![node_registered("n-a", "az-a", 4000, 8192)]
}

fn create(g: &mut Given, id: CronJobId, spec: domain::cronjob::CronJobSpec) {
    g.apply(Command::CreateCronJob(cmd::CreateCronJob {
        cron_job_id: id,
        spec,
    }))
    .unwrap();
    g.state.cron_jobs.get_mut(&id).unwrap().created_at_ms = T0;
}

fn tick(g: &mut Given, now_ms: i64) -> Vec<Event> {
    let mut out = Vec::new();
    for p in reconcile::cron_jobs(&g.state, now_ms) {
        out.extend(g.apply(p.command).unwrap());
    }
    out
}

/// Run the cron job's active jobs' pods to success.
fn finish_active(g: &mut Given) {
    for p in reconcile::jobs(&g.state, 0, 0) {
        g.apply(p.command).unwrap();
    }
    let pods: Vec<_> = g.state.unbound_pods().map(|p| p.id).collect();
    let node_id = NodeId::from_name("n-a");
    for pod_id in pods {
        g.apply(Command::BindPod(cmd::BindPod {
            pod_id,
            node_id,
            placement: Default::default(),
            preempt: vec![],
        }))
        .unwrap();
        g.apply(Command::ReportPodStarted(cmd::ReportPodStarted {
            pod_id,
            node_id,
            address: None,
        }))
        .unwrap();
        g.apply(Command::ReportPodSucceeded(cmd::ReportPodSucceeded {
            pod_id,
            node_id,
        }))
        .unwrap();
    }
}

#[test]
fn bad_schedules_time_zones_and_names_are_refused_with_field_paths() {
    let g = given(&cluster());
    let mut spec = cron_job_spec("nightly", "every day at noon", ConcurrencyPolicy::Allow);
    spec.time_zone = "Mars/Olympus".into();
    spec.job_template.completions = 0;
    let err = g
        .when(Command::CreateCronJob(cmd::CreateCronJob {
            cron_job_id: cron_job_id(1),
            spec,
        }))
        .unwrap_err();
    assert_eq!(err.code, RejectionCode::ValidationFailed);
    let fields: Vec<&str> = err.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["schedule", "timeZone", "jobTemplate.completions"]
    );
    // Five fields (Kubernetes), six with seconds, and the @ shortcuts all parse.
    for s in ["*/5 * * * *", "*/2 * * * * *", "@hourly"] {
        let spec = cron_job_spec("ok", s, ConcurrencyPolicy::Allow);
        assert!(spec.validate().is_empty(), "{s}");
    }
}

#[test]
fn a_due_run_creates_one_job_and_a_second_pass_creates_none() {
    let mut g = given(&cluster());
    create(
        &mut g,
        cron_job_id(1),
        cron_job_spec("tick", "0 * * * * *", ConcurrencyPolicy::Allow),
    );
    assert!(tick(&mut g, T0 + 59_000).is_empty(), "not due yet");
    let events = tick(&mut g, T0 + 60_500);
    assert!(
        matches!(events.as_slice(), [
        Event::CronJobRunStarted(ev::CronJobRunStarted { scheduled_at_ms, .. }),
        Event::JobCreated(ev::JobCreated { cron_job_id: Some(_), .. }),
    ] if *scheduled_at_ms == T0 + 60_000),
        "{events:?}"
    );
    assert_eq!(g.state.jobs.len(), 1);
    let job = g.state.jobs.values().next().unwrap();
    assert_eq!(
        job.spec.name.as_str(),
        format!("tick-{}", (T0 + 60_000) / 1000)
    );
    assert!(tick(&mut g, T0 + 61_000).is_empty());
}

#[test]
fn after_downtime_only_the_latest_missed_run_is_made_up() {
    let mut g = given(&cluster());
    create(
        &mut g,
        cron_job_id(1),
        cron_job_spec("tick", "0 * * * * *", ConcurrencyPolicy::Allow),
    );
    // Ten minutes without a controller: one catch-up run, for the latest time.
    let events = tick(&mut g, T0 + 600_500);
    let started: Vec<i64> = events
        .iter()
        .filter_map(|e| match e {
            Event::CronJobRunStarted(r) => Some(r.scheduled_at_ms),
            _ => None,
        })
        .collect();
    assert_eq!(started, vec![T0 + 600_000]);
}

#[test]
fn a_run_later_than_its_starting_deadline_is_skipped_and_says_why() {
    let mut g = given(&cluster());
    let mut spec = cron_job_spec("tick", "0 * * * * *", ConcurrencyPolicy::Allow);
    spec.starting_deadline_seconds = Some(10);
    create(&mut g, cron_job_id(1), spec);
    let events = tick(&mut g, T0 + 75_000);
    assert!(
        matches!(events.as_slice(), [Event::CronJobRunSkipped(ev::CronJobRunSkipped { reason, .. })]
        if reason.starts_with("missed its starting deadline (10 s) by 5000 ms")),
        "{events:?}"
    );
    assert!(g.state.jobs.is_empty());
}

#[test]
fn forbid_skips_a_run_while_one_is_active_and_replace_deletes_it() {
    let mut g = given(&cluster());
    create(
        &mut g,
        cron_job_id(1),
        cron_job_spec("f", "0 * * * * *", ConcurrencyPolicy::Forbid),
    );
    create(
        &mut g,
        cron_job_id(2),
        cron_job_spec("r", "0 * * * * *", ConcurrencyPolicy::Replace),
    );
    tick(&mut g, T0 + 60_000);
    assert_eq!(g.state.jobs.len(), 2);
    let events = tick(&mut g, T0 + 120_000);
    assert!(events.iter().any(|e| matches!(e, Event::CronJobRunSkipped(ev::CronJobRunSkipped { cron_job_id, reason, .. })
        if *cron_job_id == domain::testing::cron_job_id(1) && reason.contains("Forbid: job f-"))), "{events:?}");
    assert!(events.iter().any(|e| matches!(e, Event::JobDeleted(ev::JobDeleted { name, .. }) if name.as_str().starts_with("r-"))));
    let f_jobs = g.state.cron_jobs[&cron_job_id(1)].jobs.len();
    let r_jobs = g.state.cron_jobs[&cron_job_id(2)].jobs.len();
    assert_eq!((f_jobs, r_jobs), (1, 1));
    // Once f's job is done, its next run starts.
    finish_active(&mut g);
    let events = tick(&mut g, T0 + 180_000);
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::CronJobRunStarted(r) if r.cron_job_id == cron_job_id(1)))
    );
}

#[test]
fn finished_jobs_beyond_the_history_limit_are_deleted_oldest_first_and_suspend_stops_runs() {
    let mut g = given(&cluster());
    let mut spec = cron_job_spec("h", "0 * * * * *", ConcurrencyPolicy::Allow);
    spec.successful_jobs_history_limit = 2;
    create(&mut g, cron_job_id(1), spec);
    for m in 1..=4 {
        tick(&mut g, T0 + m * 60_000);
        finish_active(&mut g);
    }
    let kept: Vec<i64> = g.state.cron_jobs[&cron_job_id(1)]
        .jobs
        .keys()
        .copied()
        .collect();
    // The run at minute 4 deleted minute 1's (2 finished kept + the new one).
    assert_eq!(kept, vec![T0 + 120_000, T0 + 180_000, T0 + 240_000]);
    g.apply(Command::SuspendCronJob(cmd::SuspendCronJob {
        cron_job_id: cron_job_id(1),
        suspend: true,
    }))
    .unwrap();
    assert!(tick(&mut g, T0 + 300_000).is_empty());
    let again = g
        .when(Command::SuspendCronJob(cmd::SuspendCronJob {
            cron_job_id: cron_job_id(1),
            suspend: true,
        }))
        .unwrap();
    assert!(again.is_empty());
    let events = g
        .apply(Command::DeleteCronJob(cmd::DeleteCronJob {
            cron_job_id: cron_job_id(1),
        }))
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::JobDeleted(_)))
            .count(),
        3
    );
    assert!(g.state.cron_jobs.is_empty() && g.state.jobs.is_empty() && g.state.pods.is_empty());
}

#[test]
fn the_schedule_is_read_in_its_time_zone() {
    let mut spec = cron_job_spec("tz", "0 0 12 * * *", ConcurrencyPolicy::Allow);
    spec.time_zone = "Asia/Tokyo".into();
    // Noon in Tokyo is 03:00 UTC; T0 is 10:00 UTC, so the last one was at 03:00 UTC that day.
    let due = spec.latest_due(T0 - 86_400_000, T0).unwrap();
    assert_eq!(due, T0 - 7 * 3_600_000);
}

#[test]
fn an_undeleted_cron_job_keeps_its_id_and_spec_and_its_runs_are_not_kept_for_undelete() {
    let mut g = given(&cluster());
    let id = cron_job_id(1);
    create(
        &mut g,
        id,
        cron_job_spec(
            "nightly",
            "0 * * * *",
            domain::cronjob::ConcurrencyPolicy::Forbid,
        ),
    );
    // One run, then the cron job (and its job) deleted.
    tick(&mut g, T0 + 3_600_500);
    assert_eq!(g.state.jobs.len(), 1);
    g.apply(Command::DeleteCronJob(cmd::DeleteCronJob {
        cron_job_id: id,
    }))
    .unwrap();
    let undelete = || {
        Command::UndeleteCronJob(cmd::UndeleteCronJob {
            namespace: domain::names::Name::parse("namespace", "default").unwrap(),
            name: domain::names::Name::parse("name", "nightly").unwrap(),
        })
    };
    let e = g.apply(undelete()).unwrap();
    assert!(
        matches!(&e[..], [Event::CronJobUndeleted(u)] if u.cron_job_id == id && u.spec.schedule == "0 * * * *")
    );
    assert!(g.state.cron_job_by_name("default", "nightly").is_some());
    assert_eq!(
        g.when(undelete()).unwrap_err().code,
        domain::RejectionCode::AlreadyExists
    );
    // Its run is not kept for undelete (a cron job makes thousands).
    assert!(g.state.jobs.is_empty() && g.state.deleted_jobs.is_empty());
}
