use domain::command as cmd;
use domain::event as ev;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use domain::command::Command;
use domain::ids::DeploymentId;
use domain::{CommandEnvelope, EventBatch};
use infra::kafka::{CommandBus, EventFollower};
use serde_json::json;

use crate::support::*;

async fn read_log(c: &Cluster) -> Vec<(i64, EventBatch)> {
    let kafka = c.kafka();
    let (_, high) = kafka.watermarks(&kafka.events_topic()).await.unwrap();
    let mut f = EventFollower::new(&kafka, 0, 0).unwrap();
    let mut out = Vec::new();
    while f.next_offset < high {
        out.extend(f.next(5000, Duration::from_secs(5)).await.unwrap());
    }
    out
}

async fn wait_projector_at(pool: &sqlx::PgPool, offset: i64) {
    eventually(
        "the projector to reach the end of the log",
        DEADLINE,
        || async {
            let n: Option<i64> =
                sqlx::query_scalar("SELECT max(next_offset) FROM projection_offsets")
                    .fetch_one(pool)
                    .await
                    .ok()?;
            (n == Some(offset)).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_killed_mid_stream_and_restarted_ends_with_the_tables_of_a_fresh_replay() {
    let opts = Options {
        processes: vec!["decider,reconcilers,api", "projector"],
        ..Default::default()
    };
    let mut c = Cluster::start("projkill", opts).await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 40, 100))
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["deploymentId"].as_str().unwrap().to_string();
    let pool = c.pool.clone();
    eventually("the projector to be mid-stream", DEADLINE, || async {
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM event_log")
            .fetch_one(&pool)
            .await
            .ok()?;
        (n > 12).then_some(())
    })
    .await;
    c.procs[1].kill().await;
    let (status, _) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 70}),
        )
        .await;
    assert_eq!(status, 200);
    let restarted = c
        .spawn_up("projector", &Options::default(), &c.database_url.clone())
        .await;
    c.procs.push(restarted);
    c.wait_count(
        "70 running",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        70,
    )
    .await;

    // Quiesce the writers, then compare with a replay from offset 0 into another database.
    c.procs[0].kill().await;
    c.procs[2].kill().await;
    let kafka = c.kafka();
    let (_, high) = kafka.watermarks(&kafka.events_topic()).await.unwrap();
    wait_projector_at(&c.pool, high).await;
    let (fresh_url, fresh_pool) = create_database(&format!("{}_replay", c.db_name)).await;
    let mut replay = c
        .spawn_up("projector", &Options::default(), &fresh_url)
        .await;
    wait_projector_at(&fresh_pool, high).await;
    let live = projectors::table_checksums(&mut c.pool.acquire().await.unwrap())
        .await
        .unwrap();
    let fresh = projectors::table_checksums(&mut fresh_pool.acquire().await.unwrap())
        .await
        .unwrap();
    assert_eq!(live, fresh);
    assert_eq!(
        c.count("SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING'")
            .await,
        70
    );
    replay.kill().await;
    fresh_pool.close().await;
    let db = format!("{}_replay", c.db_name);
    c.finish().await;
    let admin = sqlx::PgPool::connect(
        &std::env::var("DATABASE_URL")
            .unwrap_or("postgres://postgres@127.0.0.1:5432/postgres".into()),
    )
    .await
    .unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decider_killed_mid_stream_loses_no_command_and_doubles_no_event() {
    let opts = Options {
        processes: vec!["projector,reconcilers,api", "decider"],
        ..Default::default()
    };
    let mut c = Cluster::start("deckill", opts).await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 12, 100))
        .await;
    assert_eq!(status, 201, "{body}");

    let bus = CommandBus::new(&c.kafka()).unwrap();
    let burst = |from: usize, n: usize| {
        (from..from + n)
            .map(|i| {
                let spec = domain::testing::deployment_spec(&format!("d-{i}"), 0, 10, 10);
                CommandEnvelope::new(
                    uuid::Uuid::now_v7(),
                    "admin",
                    None,
                    Command::CreateDeployment(cmd::CreateDeployment {
                        deployment_id: DeploymentId(uuid::Uuid::now_v7()),
                        spec,
                    }),
                )
            })
            .collect::<Vec<_>>()
    };
    let first = burst(0, 1500);
    bus.send_all(&first).await.unwrap();
    // Kill as soon as the decider has answered a few of them: watch the log itself, not SQL.
    let kafka = c.kafka();
    let at_kill = eventually("the decider to be mid-stream", DEADLINE, || async {
        let (_, high) = kafka.watermarks(&kafka.events_topic()).await.ok()?;
        (high > 20).then_some(high)
    })
    .await;
    eprintln!("killing the decider at event offset {at_kill}");
    c.procs[1].kill().await;
    let second = burst(1500, 1500);
    bus.send_all(&second).await.unwrap();
    let restarted = c
        .spawn_up("decider", &Options::default(), &c.database_url.clone())
        .await;
    c.procs.push(restarted);

    c.wait_count(
        "every deployment created",
        "SELECT count(*) FROM event_log WHERE event_type = 'DeploymentCreated'",
        3001,
    )
    .await;
    c.wait_count(
        "12 running",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        12,
    )
    .await;
    assert_eq!(
        c.count("SELECT max(epoch) FROM decider_epochs").await,
        2,
        "the restart took a new fencing epoch"
    );

    let log = read_log(&c).await;
    let mut batches_per_command: HashMap<uuid::Uuid, u32> = HashMap::new();
    let mut seqs = HashSet::new();
    let mut epochs = HashSet::new();
    for (_, b) in &log {
        *batches_per_command.entry(b.command_id).or_default() += 1;
        epochs.insert(b.epoch);
        for e in &b.events {
            assert!(
                seqs.insert((e.aggregate.id, e.sequence)),
                "sequence {} of {:?} written twice",
                e.sequence,
                e.aggregate
            );
        }
    }
    assert!(
        batches_per_command.values().all(|n| *n == 1),
        "a command was decided twice"
    );
    for cmd in first.iter().chain(&second) {
        assert_eq!(
            batches_per_command.get(&cmd.command_id),
            Some(&1),
            "command {} lost",
            cmd.command_id
        );
    }
    assert_eq!(epochs, HashSet::from([1, 2]));
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_decider_writes_get_503_and_are_applied_once_it_returns() {
    let opts = Options {
        processes: vec!["projector,reconcilers,api", "decider"],
        ..Default::default()
    };
    let mut c = Cluster::start("nodecider", opts).await;
    c.procs[1].kill().await;
    let (status, body) = c
        .post("/api/v1/workloads/deployments", deployment("web", 3, 100))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "CONTROL_PLANE_DEGRADED");
    let restarted = c
        .spawn_up("decider", &Options::default(), &c.database_url.clone())
        .await;
    c.procs.push(restarted);
    // The command was in the log all along: the new decider applies it.
    c.wait_count(
        "the queued create applied",
        "SELECT count(*) FROM workload_def WHERE name = 'web'",
        1,
    )
    .await;
    c.wait_count(
        "3 running",
        "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
        3,
    )
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fenced_off_deciders_late_writes_are_ignored_by_every_reader() {
    let opts = Options {
        processes: vec!["projector,reconcilers,api", "decider"],
        ..Default::default()
    };
    let mut c = Cluster::start("fence", opts).await;
    c.procs[1].kill().await;
    let restarted = c
        .spawn_up("decider", &Options::default(), &c.database_url.clone())
        .await;
    c.procs.push(restarted);
    let (status, body) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment("before", 1, 100),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // A zombie of epoch 1 writes after epoch 2 has written.
    let spec = domain::testing::deployment_spec("zombie", 0, 10, 10);
    let id = uuid::Uuid::now_v7();
    let body = domain::Event::DeploymentCreated(ev::DeploymentCreated {
        deployment_id: DeploymentId(id),
        spec,
        revision: 1,
    });
    let zombie = EventBatch {
        command_id: id,
        command_offset: 0,
        epoch: 1,
        events: vec![domain::EventEnvelope {
            event_id: id,
            causation_id: id,
            correlation_id: id,
            aggregate: body.aggregate(id),
            sequence: 1,
            occurred_at: chrono::Utc::now(),
            actor: "zombie".into(),
            reason: None,
            command: None,
            schema_version: 1,
            body,
        }],
    };
    let kafka = c.kafka();
    let producer = kafka.producer(0).unwrap();
    let payload = serde_json::to_vec(&zombie).unwrap();
    let topic = kafka.events_topic();
    producer
        .send(
            rdkafka::producer::FutureRecord::to(&topic)
                .key("zombie")
                .payload(&payload),
            Duration::from_secs(5),
        )
        .await
        .unwrap();

    let (status, _) = c
        .post("/api/v1/workloads/deployments", deployment("after", 1, 100))
        .await;
    assert_eq!(status, 201);
    c.wait_count(
        "the later deployment projected",
        "SELECT count(*) FROM workload_def WHERE name = 'after'",
        1,
    )
    .await;
    assert_eq!(
        c.count("SELECT count(*) FROM workload_def WHERE name = 'zombie'")
            .await,
        0
    );
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE actor = 'zombie'")
            .await,
        0
    );
    assert_eq!(c.count("SELECT count(*) FROM workload_def").await, 2);
    c.finish().await;
}
