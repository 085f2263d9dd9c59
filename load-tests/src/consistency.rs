//! How far reads trail acknowledged writes: for each write (a scale), the
//! time from its 200 to the first plain read (no `minOffset`) that shows it,
//! how often the very first read after the answer is still stale, and what
//! a read with `?minOffset=` costs instead. Measured idle and while other
//! clients write, with the raw broker produce rate of the same run for scale.
//!
//! `KAFKA_BROKERS=127.0.0.1:9092 cargo run --release -p load-tests --bin consistency -- --writes 300`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use load_tests::Plane;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    /// Measured writes per phase.
    #[arg(long, default_value_t = 300)]
    writes: usize,
    /// Clients writing (scaling their own deployment) during the loaded phase.
    #[arg(long, default_value_t = 8)]
    background_writers: usize,
    #[arg(long, default_value_t = 30)]
    nodes: u32,
    #[arg(long, default_value_t = 50_000)]
    raw_records: u32,
}

struct Client {
    http: reqwest::Client,
    api: String,
    token: String,
}

impl Client {
    async fn create(&self, name: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .post(format!("{}/api/v1/workloads/deployments", self.api))
            .bearer_auth(&self.token)
            .json(
                &json!({"namespace": "lag", "name": name, "image": "demo:v1", "replicas": 1,
                          "resources": {"cpuRequestMilli": 10, "memRequestMb": 8}}),
            )
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 201, "create: {}", r.text().await?);
        Ok(r.json::<Value>().await?["deploymentId"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Scale; returns the write's log offset.
    async fn scale(&self, id: &str, replicas: i64) -> anyhow::Result<i64> {
        let r = self
            .http
            .post(format!(
                "{}/api/v1/workloads/deployments/{id}/scale",
                self.api
            ))
            .bearer_auth(&self.token)
            .json(&json!({ "replicas": replicas }))
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 200, "scale: {}", r.text().await?);
        Ok(r.headers()
            .get("x-orch-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1))
    }

    async fn replicas(&self, id: &str, min_offset: Option<i64>) -> anyhow::Result<i64> {
        let mut url = format!("{}/api/v1/workloads/deployments/{id}", self.api);
        if let Some(o) = min_offset {
            url.push_str(&format!("?minOffset={o}"));
        }
        let r = self.http.get(url).bearer_auth(&self.token).send().await?;
        anyhow::ensure!(r.status().is_success(), "read: {}", r.text().await?);
        Ok(r.json::<Value>().await?["replicas"].as_i64().unwrap_or(-1))
    }
}

#[derive(Default)]
struct Phase {
    /// Write answered → a plain read shows it (µs).
    visible: Vec<u64>,
    first_read_stale: usize,
    /// A read with minOffset, sent right after the answer (µs).
    with_offset: Vec<u64>,
    /// The write itself (µs).
    write: Vec<u64>,
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

async fn measure(c: &Client, id: &str, writes: usize, label: &str) -> anyhow::Result<Phase> {
    let mut ph = Phase::default();
    let mut last_print = Instant::now();
    for i in 0..writes {
        let want = 2 + (i % 2) as i64;
        let t = Instant::now();
        let offset = c.scale(id, want).await?;
        let acked = Instant::now();
        ph.write.push((acked - t).as_micros() as u64);
        // Odd rounds: plain reads until visible; even rounds: one read with minOffset.
        if i % 2 == 0 {
            let mut first = true;
            loop {
                let got = c.replicas(id, None).await?;
                if got == want {
                    break;
                }
                if first {
                    ph.first_read_stale += 1;
                    first = false;
                }
                anyhow::ensure!(
                    acked.elapsed() < Duration::from_secs(30),
                    "write not visible after 30 s"
                );
            }
            ph.visible.push(acked.elapsed().as_micros() as u64);
        } else {
            let got = c.replicas(id, Some(offset)).await?;
            anyhow::ensure!(
                got == want,
                "a read with minOffset={offset} showed {got}, not {want}"
            );
            ph.with_offset.push(acked.elapsed().as_micros() as u64);
        }
        if last_print.elapsed() > Duration::from_secs(2) {
            last_print = Instant::now();
            println!("  {label}: {}/{writes} writes", i + 1);
        }
    }
    Ok(ph)
}

fn report(label: &str, mut ph: Phase) {
    let plain = ph.visible.len();
    println!(
        "{label:<8} write p50/p99 {:>6.2} / {:>6.2} ms | ack→visible (plain reads) p50/p99/max {:>6.2} / {:>6.2} / {:>6.2} ms, first read stale {}/{} ({:.1} %) | read with minOffset p50/p99 {:>6.2} / {:>6.2} ms",
        pct(&mut ph.write, 0.5),
        pct(&mut ph.write, 0.99),
        pct(&mut ph.visible, 0.5),
        pct(&mut ph.visible, 0.99),
        pct(&mut ph.visible, 1.0),
        ph.first_read_stale,
        plain,
        ph.first_read_stale as f64 * 100.0 / plain.max(1) as f64,
        pct(&mut ph.with_offset, 0.5),
        pct(&mut ph.with_offset, 0.99),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (kafka, run, _) = a.conn.begin(a.raw_records).await?;
    println!(
        "== setup: database, topics, control plane, {} hollow nodes",
        a.nodes
    );
    let plane = Plane::start(
        kafka,
        &a.conn.database_url,
        &format!("orch_lt_{run}"),
        a.nodes,
    )
    .await?;
    plane.namespace("lag").await?;
    let c = Arc::new(Client {
        http: reqwest::Client::new(),
        api: plane.api.clone(),
        token: plane.token.clone(),
    });
    let id = c.create("probe").await?;

    println!("== idle: {} writes, nothing else writing", a.writes);
    let idle = measure(&c, &id, a.writes, "idle").await?;

    println!(
        "== loaded: {} writes while {} other clients scale their deployments",
        a.writes, a.background_writers
    );
    let busy = Arc::new(AtomicBool::new(true));
    let background = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for w in 0..a.background_writers {
        let own = c.create(&format!("bg-{w}")).await?;
        let (c, busy, n) = (c.clone(), busy.clone(), background.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0i64;
            while busy.load(Ordering::Relaxed) {
                if c.scale(&own, 1 + i % 3).await.is_ok() {
                    n.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
        }));
    }
    let started = Instant::now();
    let loaded = measure(&c, &id, a.writes, "loaded").await?;
    let elapsed = started.elapsed().as_secs_f64();
    busy.store(false, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let bg = background.load(Ordering::Relaxed);

    println!("== report");
    report("idle", idle);
    report("loaded", loaded);
    println!(
        "background writes during the loaded phase: {bg} ({:.0}/s, plus the pods they create and delete)",
        bg as f64 / elapsed
    );
    plane.finish().await;
    Ok(())
}
