//! Job throughput: one job of `--completions` pods, `--parallelism` at a
//! time, on hollow nodes whose job pods run `--run-ms` and fail at
//! `--failure-rate`; prints completions/s (and pods/s, retries included)
//! next to the raw broker produce rate of the same run, and checks the
//! outcome against the projections and the log.
//!
//! `KAFKA_BROKERS=127.0.0.1:9092 cargo run --release -p load-tests --bin jobs -- --completions 10000 --parallelism 500`

use std::time::{Duration, Instant};

use clap::Parser;
use load_tests::Plane;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    #[arg(long, default_value_t = 10_000)]
    completions: u32,
    #[arg(long, default_value_t = 500)]
    parallelism: u32,
    /// How long each hollow job pod runs.
    #[arg(long, default_value_t = 200)]
    run_ms: u64,
    /// The share of pods that exit 1 (each is retried, counted against backoffLimit).
    #[arg(long, default_value_t = 0.0)]
    failure_rate: f64,
    #[arg(long, default_value_t = 60)]
    nodes: u32,
    #[arg(long, default_value_t = 50_000)]
    raw_records: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (kafka, run, raw) = a.conn.begin(a.raw_records).await?;
    let (run_ms, rate) = (a.run_ms, a.failure_rate);
    let plane = Plane::start_with(
        kafka,
        &a.conn.database_url,
        &format!("orch_lt_jobs_{run}"),
        a.nodes,
        |r, h| {
            r.job_backoff_base = Duration::from_millis(100);
            h.job_run = Duration::from_millis(run_ms);
            h.job_failure_rate = rate;
        },
    )
    .await?;
    plane.namespace("bench").await?;
    let http = reqwest::Client::new();
    let body = json!({
        "namespace": "bench", "name": "batch", "completions": a.completions,
        "parallelism": a.parallelism, "backoffLimit": 10_000,
        "template": {"image": "batch:v1", "resources": {"cpuRequestMilli": 10, "memRequestMb": 8}}
    });
    let t = Instant::now();
    let r = http
        .post(format!("{}/api/v1/workloads/jobs", plane.api))
        .bearer_auth(&plane.token)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create: {}", r.text().await?);
    let id = r.json::<Value>().await?["jobId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    println!(
        "== job: {} completions, parallelism {}, pods run {} ms, failure rate {}",
        a.completions, a.parallelism, a.run_ms, a.failure_rate
    );
    let mut last = Instant::now();
    let status = loop {
        let v: Value = http
            .get(format!("{}/api/v1/workloads/jobs/{id}", plane.api))
            .bearer_auth(&plane.token)
            .send()
            .await?
            .json()
            .await?;
        let st = v["status"].clone();
        // (Until the projection shows the job, the read is a 404 without a status.)
        if st["outcome"].is_string() && st["outcome"] != "Running" {
            break st;
        }
        if last.elapsed() >= Duration::from_secs(5) {
            println!(
                "  progress: {} / {} succeeded pods, {} active, {} attempts after {:.1} s",
                st["succeededPods"],
                a.completions,
                st["active"],
                st["attempts"],
                t.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
        anyhow::ensure!(
            t.elapsed() < Duration::from_secs(1800),
            "the job did not finish in 30 min"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let secs = t.elapsed().as_secs_f64();
    let attempts = status["attempts"].as_f64().unwrap_or(0.0);
    println!(
        "outcome {} in {secs:.1} s: {} succeeded, {} failed, {} attempts",
        status["outcome"], status["succeeded"], status["failed"], status["attempts"]
    );
    let completions_s = a.completions as f64 / secs;
    println!(
        "completions/s: {completions_s:.0}; pods/s (attempts): {:.0}",
        attempts / secs
    );
    println!(
        "completions/s as a share of raw produce: {:.2} %",
        100.0 * completions_s / raw
    );
    // Check: the log and the projections agree with the status.
    let (succeeded_events, created_events): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE event_type = 'PodSucceeded'), count(*) FILTER (WHERE event_type = 'PodCreated')
           FROM event_log WHERE aggregate_kind = 'pod'",
    )
    .fetch_one(&plane.pool)
    .await?;
    println!("log: {created_events} PodCreated, {succeeded_events} PodSucceeded");
    anyhow::ensure!(status["outcome"] == "Complete", "the job did not complete");
    anyhow::ensure!(
        succeeded_events == a.completions as i64,
        "successes in the log"
    );
    anyhow::ensure!(created_events as f64 == attempts, "attempts in job_run");
    plane.finish().await;
    Ok(())
}
