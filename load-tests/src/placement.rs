//! Placement throughput end to end: how many pods per second go from the
//! create call to `PodBound` visible in SQL, with the raw broker produce
//! rate measured in the same run for scale. Runs the whole control plane
//! in this process against a real broker and PostgreSQL.
//!
//! `KAFKA_BROKERS=127.0.0.1:9092 cargo run --release -p load-tests --bin placement -- --pods 1000 --nodes 100`

use std::time::{Duration, Instant};

use clap::Parser;
use load_tests::Plane;

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    #[arg(long, default_value_t = 1000)]
    pods: u32,
    #[arg(long, default_value_t = 100)]
    nodes: u32,
    #[arg(long, default_value_t = 10)]
    deployments: u32,
    /// Records for the raw produce-rate measurement.
    #[arg(long, default_value_t = 100_000)]
    raw_records: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (kafka, run, raw) = a.conn.begin(a.raw_records).await?;

    println!(
        "== setup: database, topics, control plane, {} hollow nodes",
        a.nodes
    );
    let plane = Plane::start(
        kafka.clone(),
        &a.conn.database_url,
        &format!("orch_lt_{run}"),
        a.nodes,
    )
    .await?;
    let (pool, api, token) = (plane.pool.clone(), plane.api.clone(), plane.token.clone());
    plane.namespace("load").await?;

    println!("== {} pods in {} deployments", a.pods, a.deployments);
    let http = reqwest::Client::new();
    let per = a.pods / a.deployments;
    let started = Instant::now();
    let mut calls = Vec::new();
    for d in 0..a.deployments {
        let body = serde_json::json!({
            "namespace": "load", "name": format!("web-{d}"), "image": "demo:v1", "replicas": per,
            "resources": {"cpuRequestMilli": 100, "memRequestMb": 64}
        });
        let req = http
            .post(format!("{api}/api/v1/workloads/deployments"))
            .bearer_auth(&token)
            .json(&body)
            .send();
        calls.push(tokio::spawn(req));
    }
    for c in calls {
        let r = c.await??;
        anyhow::ensure!(
            r.status().as_u16() == 201,
            "create failed: {}",
            r.text().await?
        );
    }
    let accepted = started.elapsed();
    let target = (per * a.deployments) as i64;
    let mut last = Instant::now();
    loop {
        let bound: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pod_instance WHERE node_id IS NOT NULL")
                .fetch_one(&pool)
                .await?;
        if bound >= target {
            break;
        }
        if last.elapsed() > Duration::from_millis(500) {
            last = Instant::now();
            println!(
                "  progress: {bound}/{target} bound after {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(600),
            "pods not bound within 10 minutes"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e2e = started.elapsed().as_secs_f64();
    let (p50, p95, p99): (f64, f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY s), percentile_cont(0.95) WITHIN GROUP (ORDER BY s),
                percentile_cont(0.99) WITHIN GROUP (ORDER BY s)
         FROM (SELECT extract(epoch FROM bound_at - created_at)::float8 AS s FROM pod_instance) t",
    )
    .fetch_one(&pool)
    .await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM event_log")
        .fetch_one(&pool)
        .await?;
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM node_status WHERE cpu_requested_milli > cpu_allocatable_milli",
    )
    .fetch_one(&pool)
    .await?;
    let rate = target as f64 / e2e;
    println!("== report");
    println!(
        "create calls accepted (201) after      {:.3} s",
        accepted.as_secs_f64()
    );
    println!("pods bound and visible in SQL          {target} in {e2e:.3} s = {rate:.0} pods/s");
    println!(
        "Pending->Bound (decider clock) p50/p95/p99  {:.1} / {:.1} / {:.1} ms",
        p50 * 1e3,
        p95 * 1e3,
        p99 * 1e3
    );
    println!("events in event_log at that point      {events}");
    println!("nodes over allocatable                 {over}");
    let stages: Vec<(String, f64, f64, i64)> = sqlx::query_as(
        "SELECT event_type,
                extract(epoch FROM min(occurred_at) - (SELECT min(occurred_at) FROM event_log WHERE event_type = 'DeploymentCreated'))::float8,
                extract(epoch FROM max(occurred_at) - (SELECT min(occurred_at) FROM event_log WHERE event_type = 'DeploymentCreated'))::float8,
                count(*)
         FROM event_log WHERE event_type IN ('DeploymentCreated', 'PodCreated', 'PodBound', 'PodStarted', 'PodReady')
         GROUP BY 1 ORDER BY 2",
    )
    .fetch_all(&pool)
    .await?;
    let batches = infra::metrics::histogram("projector_batch_seconds", "");
    println!(
        "projector transactions                 p50 {:.0} ms, p95 {:.0} ms (bucket bounds)",
        batches.quantile(0.5) * 1e3,
        batches.quantile(0.95) * 1e3
    );
    println!("stages (decider clock, ms after the first DeploymentCreated): first .. last (count)");
    for (t, first, last, n) in stages {
        println!(
            "  {t:<18} {:>7.1} .. {:>7.1}  ({n})",
            first * 1e3,
            last * 1e3
        );
    }
    println!(
        "pipeline pods/s as a share of raw produce records/s  {:.2}%",
        rate / raw * 100.0
    );
    plane.finish().await;
    Ok(())
}
