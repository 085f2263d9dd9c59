//! The design's scenario with one command: thousands of hollow nodes in
//! three zones (some tainted GPU nodes), deployments created through the
//! REST API in steps until the pod total is reached, heartbeats throughout,
//! a steady-rate phase for latency, then a zone outage. Prints progress
//! while it runs and a report at the end, with this machine's raw limits
//! (rdkafka → broker produce rate, PostgreSQL COPY rate) measured in the
//! same run. The whole control plane runs in this process against a real
//! broker and PostgreSQL.
//!
//! `KAFKA_BROKERS=127.0.0.1:19092 cargo run --release -p load-tests --bin scale -- --preset small`

use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use infra::kafka::KafkaConfig;
use load_tests::{fresh_database, raw_produce_rate, serve_api, wait_for};
use serde_json::json;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

#[derive(Clone, Copy, ValueEnum, Debug)]
enum Preset {
    /// 60 nodes, 2,000 pods: seconds; what CI could afford.
    Tiny,
    /// 500 nodes, 50,000 pods.
    Small,
    /// 2,000 nodes, 300,000 pods.
    Medium,
    /// The design: 8,000 nodes, 1,200,000 pods.
    Design,
}

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    #[arg(long, value_enum, default_value = "small")]
    preset: Preset,
    /// Override the preset's node count (a multiple of 3 is used).
    #[arg(long)]
    nodes: Option<u32>,
    /// Override the preset's pod total.
    #[arg(long)]
    pods: Option<u32>,
    /// Pods created per step (the step's deployments are created, then all bound before the next).
    #[arg(long)]
    step: Option<u32>,
    /// Replicas of an ordinary deployment.
    #[arg(long, default_value_t = 1000)]
    deployment_size: u32,
    /// GPU nodes per zone (tainted `gpu=true:NoSchedule`, labelled `accelerator=gpu`).
    #[arg(long)]
    gpu_nodes_per_zone: Option<u32>,
    /// Heartbeats per second over all nodes (the interval is nodes / rate).
    #[arg(long, default_value_t = 800.0)]
    heartbeats_per_second: f64,
    /// Silent this long → NotReady.
    #[arg(long, default_value_t = 10.0)]
    grace_seconds: f64,
    /// Silent this long → Lost and its pods replaced.
    #[arg(long, default_value_t = 12.0)]
    lost_seconds: f64,
    /// Nodes stopped in zone az-a for the outage (0 = no outage).
    #[arg(long, default_value_t = 30)]
    outage_nodes: u32,
    /// Pods per second of the steady phase (0 = skip it).
    #[arg(long, default_value_t = 250)]
    steady_rate: u32,
    #[arg(long, default_value_t = 20)]
    steady_seconds: u32,
    /// Records for the raw produce-rate measurement.
    #[arg(long, default_value_t = 200_000)]
    raw_records: u32,
    /// Keep the database afterwards (for SQL by hand).
    #[arg(long)]
    keep: bool,
}

struct Plan {
    nodes: u32,
    pods: u32,
    step: u32,
    gpu_per_zone: u32,
}

fn plan(a: &Args) -> Plan {
    let (nodes, pods, step, gpu) = match a.preset {
        Preset::Tiny => (60, 2_000, 1_000, 2),
        Preset::Small => (500, 50_000, 10_000, 5),
        Preset::Medium => (2_000, 300_000, 50_000, 20),
        Preset::Design => (8_000, 1_200_000, 100_000, 40),
    };
    let nodes = a.nodes.unwrap_or(nodes).div_ceil(3) * 3;
    Plan {
        nodes,
        pods: a.pods.unwrap_or(pods),
        step: a.step.unwrap_or(step),
        gpu_per_zone: a.gpu_nodes_per_zone.unwrap_or(gpu),
    }
}

/// Node size: 200 pods of 200m / 512 MB fit by CPU, so 1.2 M pods fill 8,000 nodes to 75 %.
const NODE_CPU: u64 = 40_000;
const NODE_MEM: u64 = 160_000;
const POD_CPU: u32 = 200;
const POD_MEM: u32 = 512;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Plain,
    /// Topology spread by zone, maxSkew 1, DoNotSchedule.
    Spread,
    /// Required anti-affinity by node with itself.
    AntiAffinity,
    /// Tolerates the GPU taint and selects GPU nodes.
    Gpu,
}

struct Workload {
    name: String,
    kind: Kind,
    replicas: u32,
}

fn workloads(p: &Plan, size: u32) -> Vec<Workload> {
    let mut out = Vec::new();
    let mut left = p.pods;
    let gpu_capacity = p.gpu_per_zone * 3 * (NODE_CPU as u32 / POD_CPU) / 2;
    let mut gpu_used = 0;
    let mut i = 0u32;
    while left > 0 {
        let mut kind = match i % 10 {
            3 => Kind::Spread,
            6 => Kind::AntiAffinity,
            9 => Kind::Gpu,
            _ => Kind::Plain,
        };
        let mut replicas = size.min(left);
        if kind == Kind::AntiAffinity {
            replicas = replicas.min(p.nodes / 2);
        }
        if kind == Kind::Gpu {
            replicas = replicas.min(gpu_capacity.saturating_sub(gpu_used)).min(100);
            if replicas == 0 {
                kind = Kind::Plain;
                replicas = size.min(left);
            } else {
                gpu_used += replicas;
            }
        }
        out.push(Workload {
            name: format!("w{i:05}"),
            kind,
            replicas,
        });
        left -= replicas;
        i += 1;
    }
    out
}

fn body(w: &Workload) -> serde_json::Value {
    let mut b = json!({
        "namespace": "scale", "name": w.name, "image": "demo:v1", "replicas": w.replicas,
        "resources": {"cpuRequestMilli": POD_CPU, "memRequestMb": POD_MEM},
    });
    match w.kind {
        Kind::Plain => {}
        Kind::Spread => {
            b["topologySpreadConstraints"] = json!([{"maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}]);
        }
        Kind::AntiAffinity => {
            b["affinity"] = json!({"podAntiAffinity": {"required": [{
                "labelSelector": {"app": w.name}, "topologyKey": "kubernetes.io/hostname"}]}});
        }
        Kind::Gpu => {
            b["tolerations"] = json!([{"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]);
            b["nodeSelector"] = json!({"accelerator": "gpu"});
        }
    }
    b
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    let a = Args::parse();
    let p = plan(&a);
    let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
    let kafka = KafkaConfig {
        brokers: a.conn.kafka_brokers.clone(),
        prefix: format!("sc{run}."),
    };
    println!(
        "== scale scenario {:?}: {} nodes ({} GPU), {} pods in steps of {}, {} heartbeats/s",
        a.preset,
        p.nodes,
        p.gpu_per_zone * 3,
        p.pods,
        p.step,
        a.heartbeats_per_second
    );

    println!("== raw limits of this machine");
    let raw = raw_produce_rate(&kafka, a.raw_records).await?;
    println!("  rdkafka -> broker produce (idempotent, acks=all, 250 B): {raw:.0} records/s");
    let db = format!("orch_scale_{run}");
    let (admin, url, pool) = fresh_database(&a.conn.database_url, &db).await?;
    let copy_rate = copy_rate(&pool, 200_000).await?;
    println!(
        "  PostgreSQL COPY into an event_log-shaped table (~600 B rows): {copy_rate:.0} rows/s"
    );

    println!("== setup: database, topics, control plane, hollow nodes");
    infra::db::migrate(&pool).await?;
    kafka.ensure_topics().await?;
    let stop = CancellationToken::new();
    {
        let (k, p, u, s) = (kafka.clone(), pool.clone(), url.clone(), stop.clone());
        supervise("decider", stop.clone(), move || {
            decider::run(
                k.clone(),
                p.clone(),
                decider::DeciderConfig {
                    cell: 0,
                    snapshot_every: 5_000_000,
                    holder: "scale-test".into(),
                    database_url: u.clone(),
                },
                s.clone(),
            )
        });
    }
    {
        let (k, p, s) = (kafka.clone(), pool.clone(), stop.clone());
        supervise("projector", stop.clone(), move || {
            projectors::run(
                k.clone(),
                p.clone(),
                projectors::ProjectorConfig::default(),
                s.clone(),
            )
        });
    }
    {
        let (k, p, s) = (kafka.clone(), pool.clone(), stop.clone());
        supervise("heartbeat projector", stop.clone(), move || {
            projectors::run_heartbeats(k.clone(), p.clone(), s.clone())
        });
    }
    let lifecycle = domain::reconcile::LifecycleConfig {
        grace_ms: (a.grace_seconds * 1000.0) as i64,
        lost_after_ms: (a.lost_seconds * 1000.0) as i64,
        ..Default::default()
    };
    {
        let (k, s) = (kafka.clone(), stop.clone());
        let cfg = reconcilers::ReconcilerConfig {
            lifecycle,
            ..Default::default()
        };
        supervise("reconcilers", stop.clone(), move || {
            reconcilers::run(k.clone(), cfg.clone(), s.clone())
        });
    }
    let hb_interval = Duration::from_secs_f64(p.nodes as f64 / a.heartbeats_per_second);
    let hollow = node_agent::HollowConfig {
        nodes_per_zone: p.nodes / 3,
        gpu_nodes_per_zone: p.gpu_per_zone,
        cpu_milli: NODE_CPU,
        mem_mb: NODE_MEM,
        heartbeat_interval: hb_interval,
        start_delay: Duration::from_millis(100),
        ready_delay: Duration::from_millis(100),
        ..Default::default()
    };
    let control = std::net::TcpListener::bind("127.0.0.1:0")?;
    let agent = format!("http://{}", control.local_addr()?);
    tokio::spawn(node_agent::run_hollow(
        kafka.clone(),
        hollow.clone(),
        Some(control),
        stop.clone(),
    ));
    let (api, token) = serve_api(
        &kafka,
        &pool,
        "scale-test",
        Duration::from_secs(60),
        stop.clone(),
    )
    .await?;
    load_tests::create_namespace(&api, &token, "scale").await?;
    let t = Instant::now();
    wait_for(
        &pool,
        "SELECT count(*) FROM node_status WHERE ready",
        p.nodes as i64,
        "nodes Ready",
        Duration::from_secs(300),
    )
    .await?;
    println!(
        "  {} nodes Ready in {:.1} s (heartbeat every {:.1} s)",
        p.nodes,
        t.elapsed().as_secs_f64(),
        hb_interval.as_secs_f64()
    );

    // ---- placement in steps
    let plan_w = workloads(&p, a.deployment_size);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(16)
        .build()?;
    println!(
        "== placement: {} deployments ({} spread, {} anti-affinity, {} GPU)",
        plan_w.len(),
        plan_w.iter().filter(|w| w.kind == Kind::Spread).count(),
        plan_w
            .iter()
            .filter(|w| w.kind == Kind::AntiAffinity)
            .count(),
        plan_w.iter().filter(|w| w.kind == Kind::Gpu).count()
    );
    let events_before = count(&pool, "SELECT count(*) FROM event_log").await?;
    let started = Instant::now();
    let mut target: i64 = 0;
    let mut idx = 0;
    let mut step_no = 0;
    let mut last_print = Instant::now();
    let mut last_bound = 0i64;
    let mut last_at = Instant::now();
    while idx < plan_w.len() {
        step_no += 1;
        let mut in_step = 0;
        let mut names = Vec::new();
        while idx < plan_w.len() && in_step < p.step {
            in_step += plan_w[idx].replicas;
            names.push(idx);
            idx += 1;
        }
        target += in_step as i64;
        // Create the step's deployments, 8 calls at a time.
        for chunk in names.chunks(8) {
            let mut calls = Vec::new();
            for &i in chunk {
                let req = http
                    .post(format!("{api}/api/v1/workloads/deployments"))
                    .bearer_auth(&token)
                    .json(&body(&plan_w[i]))
                    .send();
                calls.push(tokio::spawn(req));
            }
            for c in calls {
                let r = c.await??;
                let status = r.status().as_u16();
                anyhow::ensure!(
                    status == 201,
                    "create failed ({status}): {}",
                    r.text().await?
                );
            }
        }
        loop {
            let bound = count(
                &pool,
                "SELECT count(*) FROM pod_instance WHERE node_id IS NOT NULL AND phase <> 'FAILED'",
            )
            .await?;
            if last_print.elapsed() >= Duration::from_secs(2) || bound >= target {
                let dt = last_at.elapsed().as_secs_f64().max(1e-3);
                println!(
                    "  step {step_no}: {bound}/{} bound, {:.0} pods/s now, {:.0} pods/s overall, {:.0} s",
                    p.pods,
                    (bound - last_bound) as f64 / dt,
                    bound as f64 / started.elapsed().as_secs_f64(),
                    started.elapsed().as_secs_f64()
                );
                last_print = Instant::now();
                last_bound = bound;
                last_at = Instant::now();
            }
            if bound >= target {
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(3600),
                "pods not bound within an hour"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let placement_s = started.elapsed().as_secs_f64();
    let events_placed = count(&pool, "SELECT count(*) FROM event_log").await? - events_before;
    let ready_wait = Instant::now();
    wait_for(
        &pool,
        "SELECT count(*) FROM pod_instance WHERE ready",
        p.pods as i64,
        "pods Ready",
        Duration::from_secs(1800),
    )
    .await?;
    let all_s = started.elapsed().as_secs_f64();
    let ready_extra = ready_wait.elapsed().as_secs_f64();
    let (p50, p95, p99) = latency(&pool, "TRUE").await?;
    // The best 10 s of binding on the decider's clock: the rate once the
    // pipeline is full, without the gaps while a step's deployments are created.
    let best10: Option<f64> = sqlx::query_scalar(
        "SELECT max(n)::float8 FROM (
           SELECT sum(c) OVER (ORDER BY s RANGE BETWEEN 9 PRECEDING AND CURRENT ROW) AS n
           FROM (SELECT floor(extract(epoch FROM occurred_at))::int8 AS s, count(*) AS c
                 FROM event_log WHERE event_type = 'PodBound' GROUP BY 1) per_second) t",
    )
    .fetch_one(&pool)
    .await?;
    let events_all = count(&pool, "SELECT count(*) FROM event_log").await? - events_before;

    // ---- steady phase: one deployment scaled up at a fixed rate
    let mut steady = None;
    if a.steady_rate > 0 {
        println!(
            "== steady: {} pods/s for {} s (scale-ups every 100 ms)",
            a.steady_rate, a.steady_seconds
        );
        let r = http
            .post(format!("{api}/api/v1/workloads/deployments"))
            .bearer_auth(&token)
            .json(
                &json!({"namespace": "scale", "name": "steady", "image": "demo:v1", "replicas": 0,
                "resources": {"cpuRequestMilli": 10, "memRequestMb": 16}}),
            )
            .send()
            .await?;
        anyhow::ensure!(
            r.status().as_u16() == 201,
            "steady create: {}",
            r.text().await?
        );
        let id = r.json::<serde_json::Value>().await?["deploymentId"]
            .as_str()
            .context("id")?
            .to_string();
        let per_tick = (a.steady_rate / 10).max(1);
        let ticks = a.steady_seconds * 10;
        let mut iv = tokio::time::interval(Duration::from_millis(100));
        let t0 = Instant::now();
        for k in 1..=ticks {
            iv.tick().await;
            let r = http
                .post(format!("{api}/api/v1/workloads/deployments/{id}/scale"))
                .bearer_auth(&token)
                .json(&json!({"replicas": k * per_tick}))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "scale: {}", r.text().await?);
        }
        let want = (ticks * per_tick) as i64;
        wait_for(
            &pool,
            &format!(
                "SELECT count(*) FROM pod_instance WHERE workload_id = '{id}' AND node_id IS NOT NULL"
            ),
            want,
            "steady pods bound",
            Duration::from_secs(120),
        )
        .await?;
        let l = latency(&pool, &format!("workload_id = '{id}'")).await?;
        steady = Some((want, t0.elapsed().as_secs_f64(), l));
    }

    // ---- zone outage
    let mut outage = None;
    if a.outage_nodes > 0 {
        println!(
            "== outage: {} nodes of zone az-a stop heartbeating",
            a.outage_nodes
        );
        let victims: Vec<(uuid::Uuid, String)> = sqlx::query_as(
            "SELECT id, name FROM node_status WHERE zone = 'az-a' AND labels->>'accelerator' IS NULL
             ORDER BY pod_count DESC, name LIMIT $1",
        )
        .bind(a.outage_nodes as i64)
        .fetch_all(&pool)
        .await?;
        let ids: Vec<uuid::Uuid> = victims.iter().map(|v| v.0).collect();
        let affected: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pod_instance WHERE node_id = ANY($1) AND phase IN ('PENDING', 'RUNNING')",
        )
        .bind(&ids)
        .fetch_one(&pool)
        .await?;
        let live_before = count(
            &pool,
            "SELECT count(*) FROM pod_instance WHERE phase IN ('PENDING', 'RUNNING')",
        )
        .await?;
        let t0 = Instant::now();
        let stopped_at = chrono::Utc::now();
        for (_, name) in &victims {
            let r = http
                .post(format!("{agent}/nodes/{name}/stop"))
                .send()
                .await?;
            anyhow::ensure!(r.status().is_success(), "stop {name}: {}", r.status());
        }
        wait_for_rows(
            &pool,
            "SELECT count(*) FROM node_status WHERE id = ANY($1) AND condition <> 'Ready'",
            &ids,
            ids.len() as i64,
            "outage nodes NotReady",
        )
        .await?;
        let not_ready_s = t0.elapsed().as_secs_f64();
        println!("  all {} NotReady after {not_ready_s:.1} s", ids.len());
        wait_for_rows(
            &pool,
            "SELECT count(*) FROM node_status WHERE id = ANY($1) AND condition = 'Lost'",
            &ids,
            ids.len() as i64,
            "outage nodes Lost",
        )
        .await?;
        let lost_s = t0.elapsed().as_secs_f64();
        println!("  all Lost after {lost_s:.1} s");
        // Every affected pod replaced and bound elsewhere.
        loop {
            let (live, unbound): (i64, i64) = sqlx::query_as(
                "SELECT count(*) FILTER (WHERE phase IN ('PENDING', 'RUNNING')),
                        count(*) FILTER (WHERE phase IN ('PENDING', 'RUNNING') AND node_id IS NULL)
                 FROM pod_instance",
            )
            .fetch_one(&pool)
            .await?;
            if live >= live_before && unbound == 0 {
                break;
            }
            anyhow::ensure!(
                t0.elapsed() < Duration::from_secs(300),
                "replacements not bound within 300 s ({live}/{live_before} live, {unbound} unbound)"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let rebound_s = t0.elapsed().as_secs_f64();
        // NotReady measured against each node's last heartbeat, on the decider's clock.
        let (hb_to_not_ready_max,): (Option<f64>,) = sqlx::query_as(
            "SELECT max(extract(epoch FROM e.occurred_at - n.last_heartbeat))::float8
             FROM event_log e JOIN node_status n ON n.id = e.aggregate_id
             WHERE e.event_type = 'NodeNotReady' AND e.aggregate_id = ANY($1) AND e.occurred_at >= $2",
        )
        .bind(&ids)
        .bind(stopped_at)
        .fetch_one(&pool)
        .await?;
        let (not_ready_to_rebound,): (Option<f64>,) = sqlx::query_as(
            "SELECT extract(epoch FROM
                (SELECT max(occurred_at) FROM event_log WHERE event_type = 'PodBound' AND occurred_at >= $2)
              - (SELECT max(occurred_at) FROM event_log WHERE event_type = 'NodeNotReady' AND aggregate_id = ANY($1)
                   AND occurred_at >= $2))::float8",
        )
        .bind(&ids)
        .bind(stopped_at)
        .fetch_one(&pool)
        .await?;
        outage = Some((
            affected,
            not_ready_s,
            lost_s,
            rebound_s,
            hb_to_not_ready_max.unwrap_or(f64::NAN),
            not_ready_to_rebound.unwrap_or(f64::NAN),
        ));
    }

    // ---- correctness
    let over = count(
        &pool,
        "SELECT count(*) FROM node_status WHERE cpu_requested_milli > cpu_allocatable_milli
           OR mem_requested_mb > mem_allocatable_mb",
    )
    .await?;
    let mismatch = count(
        &pool,
        "SELECT count(*) FROM node_status n LEFT JOIN (
            SELECT node_id, sum(cpu_request_milli) AS cpu FROM pod_instance
            WHERE phase IN ('PENDING', 'RUNNING') AND node_id IS NOT NULL GROUP BY 1) p ON p.node_id = n.id
         WHERE n.cpu_requested_milli <> COALESCE(p.cpu, 0)",
    )
    .await?;
    let zones: Vec<(String, i64)> = sqlx::query_as(
        "SELECT n.zone, count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
         WHERE p.phase IN ('PENDING', 'RUNNING') GROUP BY 1 ORDER BY 1",
    )
    .fetch_all(&pool)
    .await?;
    let anti_names: Vec<String> = plan_w
        .iter()
        .filter(|w| w.kind == Kind::AntiAffinity)
        .map(|w| w.name.clone())
        .collect();
    let anti_violations: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT p.workload_id, p.node_id FROM pod_instance p
           JOIN workload_def w ON w.id = p.workload_id
           WHERE w.name = ANY($1) AND p.phase IN ('PENDING', 'RUNNING') AND p.node_id IS NOT NULL
           GROUP BY 1, 2 HAVING count(*) > 1) t",
    )
    .bind(&anti_names)
    .fetch_one(&pool)
    .await?;
    let spread_names: Vec<String> = plan_w
        .iter()
        .filter(|w| w.kind == Kind::Spread)
        .map(|w| w.name.clone())
        .collect();
    let spread_worst: Option<i64> = sqlx::query_scalar(
        "SELECT max(mx - mn) FROM (
           SELECT w.id, max(c) AS mx, min(c) AS mn FROM workload_def w
           CROSS JOIN (SELECT DISTINCT zone FROM node_status) z
           LEFT JOIN LATERAL (SELECT count(*) AS c FROM pod_instance p JOIN node_status n ON n.id = p.node_id
                              WHERE p.workload_id = w.id AND n.zone = z.zone AND p.phase IN ('PENDING', 'RUNNING')) x ON true
           WHERE w.name = ANY($1) GROUP BY w.id) t",
    )
    .bind(&spread_names)
    .fetch_one(&pool)
    .await?;
    let gpu_names: Vec<String> = plan_w
        .iter()
        .filter(|w| w.kind == Kind::Gpu)
        .map(|w| w.name.clone())
        .collect();
    let (gpu_off, plain_on_gpu): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE w.name = ANY($1) AND n.labels->>'accelerator' IS NULL),
                count(*) FILTER (WHERE NOT (w.name = ANY($1)) AND n.labels->>'accelerator' = 'gpu')
         FROM pod_instance p JOIN node_status n ON n.id = p.node_id JOIN workload_def w ON w.id = p.workload_id
         WHERE p.phase IN ('PENDING', 'RUNNING')",
    )
    .bind(&gpu_names)
    .fetch_one(&pool)
    .await?;

    // ---- resources
    let wm_bytes = infra::metrics::gauge("decider_write_model_bytes", "")
        .load(std::sync::atomic::Ordering::Relaxed);
    let wm_pods = infra::metrics::gauge("decider_write_model_pods", "")
        .load(std::sync::atomic::Ordering::Relaxed);
    let hb = infra::metrics::histogram("reconciler_heartbeat_batch_seconds", "");
    let hb_n = infra::metrics::counter("reconciler_heartbeats_total", "")
        .load(std::sync::atomic::Ordering::Relaxed);
    let hb_proj = infra::metrics::histogram("heartbeat_projector_batch_seconds", "");
    let proj = infra::metrics::histogram("projector_batch_seconds", "");
    let total_s = started.elapsed().as_secs_f64();

    println!(
        "== report ({:?}: {} nodes, {} pods)",
        a.preset, p.nodes, p.pods
    );
    let rate = p.pods as f64 / placement_s;
    println!(
        "placement, create call -> PodBound visible in SQL   {} pods in {placement_s:.1} s = {rate:.0} pods/s",
        p.pods
    );
    println!(
        "  all Ready (agents' reports through the log)      {all_s:.1} s ({ready_extra:.1} s after the last bind)"
    );
    println!(
        "  best 10 s of binding (decider clock)              {:.0} pods/s",
        best10.unwrap_or(0.0) / placement_s.clamp(1.0, 10.0)
    );
    println!(
        "  Pending->Bound (decider clock) p50/p95/p99        {:.0} / {:.0} / {:.0} ms",
        p50 * 1e3,
        p95 * 1e3,
        p99 * 1e3
    );
    if let Some((n, secs, (s50, s95, s99))) = steady {
        println!(
            "steady {} pods/s: {n} pods in {secs:.1} s, Pending->Bound p50/p95/p99  {:.0} / {:.0} / {:.0} ms",
            a.steady_rate,
            s50 * 1e3,
            s95 * 1e3,
            s99 * 1e3
        );
    }
    println!(
        "events through the projectors                       {events_placed} during placement = {:.0} events/s; {events_all} until all Ready = {:.0} events/s",
        events_placed as f64 / placement_s,
        events_all as f64 / all_s
    );
    println!(
        "projector transactions                              {} , p50 {:.0} ms, p95 {:.0} ms (bucket bounds)",
        proj.count(),
        proj.quantile(0.5) * 1e3,
        proj.quantile(0.95) * 1e3
    );
    println!(
        "heartbeats                                          {hb_n} read by the lifecycle controller: {:.3} s CPU applying them ({:.3} % of one core over {total_s:.0} s); heartbeat projector {:.2} s in {} transactions",
        hb.sum_seconds(),
        hb.sum_seconds() / total_s * 100.0,
        hb_proj.sum_seconds(),
        hb_proj.count()
    );
    if let Some((affected, nr, lost, rebound, hb_nr, nr_rb)) = outage {
        println!(
            "outage of {} nodes ({affected} pods): NotReady after {nr:.1} s, Lost after {lost:.1} s, every pod re-bound after {rebound:.1} s (wall clock from the stop)",
            a.outage_nodes
        );
        println!(
            "  grace {:.0} s: last heartbeat -> NotReady at most {hb_nr:.1} s; last NotReady -> last replacement bound {nr_rb:.1} s",
            a.grace_seconds
        );
    }
    println!(
        "write model (estimate)                              {:.1} MiB for {wm_pods} pods = {:.0} bytes/pod",
        wm_bytes as f64 / 1048576.0,
        wm_bytes as f64 / wm_pods.max(1) as f64
    );
    let (rss, hwm) = proc_mem(std::process::id());
    println!(
        "peak RSS: this process (API, decider, projectors, reconcilers, {} hollow nodes; 4 folded views) {:.0} MiB (now {:.0} MiB)",
        p.nodes,
        hwm as f64 / 1024.0,
        rss as f64 / 1024.0
    );
    for (name, pids) in [
        ("nisshi", pids_of("nisshi")),
        ("postgres", pids_of("postgres")),
    ] {
        let (r, h): (u64, u64) = pids
            .iter()
            .map(|p| proc_mem(*p))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        println!(
            "  {name}: {} processes, peak RSS sum {:.0} MiB (now {:.0} MiB; shared pages counted per process)",
            pids.len(),
            h as f64 / 1024.0,
            r as f64 / 1024.0
        );
    }
    println!("correctness");
    println!("  nodes over allocatable                            {over}");
    println!("  nodes whose requested CPU differs from their pods  {mismatch}");
    let zmax = zones.iter().map(|z| z.1).max().unwrap_or(0);
    let zmin = zones.iter().map(|z| z.1).min().unwrap_or(0);
    println!(
        "  live pods per zone {:?}: max/min {:.3}",
        zones,
        zmax as f64 / zmin.max(1) as f64
    );
    println!("  anti-affinity deployments with two pods on a node {anti_violations}");
    println!(
        "  worst zone skew of a maxSkew=1 deployment         {}",
        spread_worst.unwrap_or(0)
    );
    println!("  GPU pods off GPU nodes / other pods on GPU nodes  {gpu_off} / {plain_on_gpu}");
    println!("share of raw limits");
    println!(
        "  pods/s as a share of raw produce records/s         {:.2} %",
        rate / raw * 100.0
    );
    println!(
        "  projector events/s as a share of raw COPY rows/s   {:.2} %",
        events_placed as f64 / placement_s / copy_rate * 100.0
    );
    let ok = over == 0
        && mismatch == 0
        && anti_violations == 0
        && spread_worst.unwrap_or(0) <= 1
        && gpu_off == 0
        && plain_on_gpu == 0;
    println!("correct: {}", if ok { "yes" } else { "NO" });
    stop.cancel();
    tokio::time::sleep(Duration::from_millis(500)).await;
    pool.close().await;
    if !a.keep {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .execute(&admin)
            .await;
    } else {
        println!("database kept: {db}, topic prefix {}", kafka.prefix);
    }
    anyhow::ensure!(ok, "correctness checks failed");
    Ok(())
}

/// Run a component until shutdown, restarting it after an error (as `orch up` does).
fn supervise<F, Fut, E>(name: &'static str, stop: CancellationToken, f: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    tokio::spawn(async move {
        while !stop.is_cancelled() {
            match f().await {
                Ok(()) => return,
                Err(e) => {
                    eprintln!("  ! {name} failed ({e}); restarting");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    });
}

async fn count(pool: &PgPool, sql: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

async fn latency(pool: &PgPool, filter: &str) -> anyhow::Result<(f64, f64, f64)> {
    let r: (Option<f64>, Option<f64>, Option<f64>) = sqlx::query_as(&format!(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.95) WITHIN GROUP (ORDER BY s),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY s)
         FROM (SELECT extract(epoch FROM bound_at - created_at)::float8 AS s FROM pod_instance
               WHERE bound_at IS NOT NULL AND {filter}) t"
    ))
    .fetch_one(pool)
    .await?;
    Ok((r.0.unwrap_or(0.0), r.1.unwrap_or(0.0), r.2.unwrap_or(0.0)))
}

async fn wait_for_rows(
    pool: &PgPool,
    sql: &str,
    ids: &[uuid::Uuid],
    n: i64,
    what: &str,
) -> anyhow::Result<()> {
    let t = Instant::now();
    loop {
        let c: i64 = sqlx::query_scalar(sql).bind(ids).fetch_one(pool).await?;
        if c >= n {
            return Ok(());
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(300),
            "{what}: {c}/{n} after 300 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (VmRSS, VmHWM) in KiB.
fn proc_mem(pid: u32) -> (u64, u64) {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |k: &str| {
        s.lines()
            .find(|l| l.starts_with(k))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn pids_of(comm: &str) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let c = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            if c.trim() == comm {
                out.push(pid);
            }
        }
    }
    out
}

/// Rows/s that `COPY` writes into a table shaped like `event_log` (with its indexes), in 5,000-row chunks.
async fn copy_rate(pool: &PgPool, n: usize) -> anyhow::Result<f64> {
    sqlx::query(
        "CREATE TABLE copy_probe (event_id uuid PRIMARY KEY, log_offset bigint, aggregate_id uuid,
           event_type text, occurred_at timestamptz, actor text, body jsonb)",
    )
    .execute(pool)
    .await?;
    sqlx::query("CREATE INDEX ON copy_probe (aggregate_id, log_offset)")
        .execute(pool)
        .await?;
    sqlx::query("CREATE INDEX ON copy_probe (event_type, occurred_at)")
        .execute(pool)
        .await?;
    let body = format!("\"{{\"\"x\"\": \"\"{}\"\"}}\"", "y".repeat(450));
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let chunk = 5_000.min(n - done);
        let mut buf = String::with_capacity(chunk * 700);
        for i in 0..chunk {
            use std::fmt::Write;
            let _ = writeln!(
                buf,
                "{},{},{},PodBound,2026-11-29T00:00:00Z,system:scheduler,{body}",
                uuid::Uuid::new_v4(),
                done + i,
                uuid::Uuid::new_v4()
            );
        }
        let mut tx = pool.begin().await?;
        let mut copy = (*tx)
            .copy_in_raw(
                "COPY copy_probe (event_id, log_offset, aggregate_id, event_type, occurred_at, actor, body)
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        copy.send(buf.into_bytes()).await?;
        copy.finish().await?;
        tx.commit().await?;
        done += chunk;
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE copy_probe").execute(pool).await?;
    Ok(rate)
}
