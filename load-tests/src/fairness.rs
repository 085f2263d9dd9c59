//! The noisy tenant: tenant A asks the API at 3× its rate limit while
//! tenant B asks at half of it; A must get 429s and B none, and B's p99
//! must stay near what it is alone (target ≤ 1 s). Each request is a write
//! (a scale of the tenant's own deployment, through the decider) or a read
//! (that deployment), alternating. Printed with this run's raw broker rate.
//!
//! `KAFKA_BROKERS=127.0.0.1:9092 cargo run --release -p load-tests --bin fairness -- --rate 50 --seconds 20`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use load_tests::Plane;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    /// Each subject's rate limit (requests/s); its burst is the same.
    #[arg(long, default_value_t = 50)]
    rate: u32,
    /// How long each phase sends.
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    #[arg(long, default_value_t = 12)]
    nodes: u32,
    #[arg(long, default_value_t = 50_000)]
    raw_records: u32,
}

#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    limited: AtomicU64,
    other: AtomicU64,
    /// Latencies of the answered requests (µs).
    lat: std::sync::Mutex<Vec<u64>>,
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

/// Send at `per_second` for `seconds` as `token`, alternating a scale and a
/// read of deployment `id`, without waiting for answers before the next.
async fn drive(
    api: String,
    token: String,
    id: String,
    per_second: u32,
    seconds: u64,
    tally: Arc<Tally>,
) {
    let http = reqwest::Client::new();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut n: u64 = 0;
    let mut inflight = tokio::task::JoinSet::new();
    while Instant::now() < end {
        tick.tick().await;
        n += 1;
        let (http, api, token, id, tally) = (
            http.clone(),
            api.clone(),
            token.clone(),
            id.clone(),
            tally.clone(),
        );
        inflight.spawn(async move {
            let t = Instant::now();
            let req = if n.is_multiple_of(2) {
                http.post(format!("{api}/api/v1/workloads/deployments/{id}/scale"))
                    .json(&json!({"replicas": n % 3}))
            } else {
                http.get(format!("{api}/api/v1/workloads/deployments/{id}"))
            };
            match req.bearer_auth(token).send().await {
                Ok(r) if r.status().is_success() => {
                    tally.ok.fetch_add(1, Ordering::Relaxed);
                    tally
                        .lat
                        .lock()
                        .unwrap()
                        .push(t.elapsed().as_micros() as u64);
                }
                Ok(r) if r.status().as_u16() == 429 => {
                    tally.limited.fetch_add(1, Ordering::Relaxed);
                }
                other => {
                    tally.other.fetch_add(1, Ordering::Relaxed);
                    let what = match other {
                        Ok(r) => format!("{} {}", r.status(), r.text().await.unwrap_or_default()),
                        Err(e) => e.to_string(),
                    };
                    eprintln!("neither answered nor limited: {what}");
                }
            }
        });
    }
    while inflight.join_next().await.is_some() {}
}

async fn deployment(api: &str, token: &str, ns: &str) -> anyhow::Result<String> {
    let r = reqwest::Client::new()
        .post(format!("{api}/api/v1/workloads/deployments"))
        .bearer_auth(token)
        .json(
            &json!({"namespace": ns, "name": "app", "image": "demo:v1", "replicas": 1,
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

fn report(label: &str, t: &Tally, seconds: u64) {
    let mut lat = t.lat.lock().unwrap().clone();
    println!(
        "{label}: {} answered ({:.0}/s), {} × 429, {} other; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        t.ok.load(Ordering::Relaxed),
        t.ok.load(Ordering::Relaxed) as f64 / seconds as f64,
        t.limited.load(Ordering::Relaxed),
        t.other.load(Ordering::Relaxed),
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0),
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (kafka, run, _) = a.conn.begin(a.raw_records).await?;
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
    let (api, admin, handle) = load_tests::serve_api_with(
        &kafka,
        &plane.pool,
        "bench-admin",
        Duration::from_secs(30),
        plane.stop.clone(),
        Some(command_api::RateLimit {
            per_second: a.rate,
            burst: a.rate,
        }),
        true,
    )
    .await?;
    // The admin makes the tenants' namespaces; each tenant edits its own.
    load_tests::create_namespace(&api, &admin, "team-a").await?;
    load_tests::create_namespace(&api, &admin, "team-b").await?;
    let ta = load_tests::mint(&handle, "tenant-a", &["editor"]).await?;
    let tb = load_tests::mint(&handle, "tenant-b", &["editor"]).await?;
    let id_a = deployment(&api, &ta, "team-a").await?;
    let id_b = deployment(&api, &tb, "team-b").await?;
    let b_rate = (a.rate / 2).max(1);

    println!(
        "== alone: tenant B at {b_rate}/s for {} s (limit {}/s)",
        a.seconds, a.rate
    );
    let alone = Arc::new(Tally::default());
    drive(
        api.clone(),
        tb.clone(),
        id_b.clone(),
        b_rate,
        a.seconds,
        alone.clone(),
    )
    .await;
    report("tenant B alone", &alone, a.seconds);

    tokio::time::sleep(Duration::from_secs(2)).await; // B's bucket refills
    println!(
        "== noisy: tenant A at {}/s (3× its limit) and tenant B at {b_rate}/s, {} s",
        a.rate * 3,
        a.seconds
    );
    let (ra, rb) = (Arc::new(Tally::default()), Arc::new(Tally::default()));
    let noisy = tokio::spawn(drive(
        api.clone(),
        ta,
        id_a,
        a.rate * 3,
        a.seconds,
        ra.clone(),
    ));
    drive(api, tb, id_b, b_rate, a.seconds, rb.clone()).await;
    noisy.await?;
    report("tenant A (noisy)", &ra, a.seconds);
    report("tenant B beside it", &rb, a.seconds);
    let (mut alone_lat, mut beside_lat) = (
        alone.lat.lock().unwrap().clone(),
        rb.lat.lock().unwrap().clone(),
    );
    println!(
        "tenant B p99 beside the noisy tenant / alone: {:.2}×; B refused: {}; A refused: {:.0} %",
        pct(&mut beside_lat, 0.99) / pct(&mut alone_lat, 0.99).max(0.001),
        rb.limited.load(Ordering::Relaxed),
        100.0 * ra.limited.load(Ordering::Relaxed) as f64
            / (ra.limited.load(Ordering::Relaxed) + ra.ok.load(Ordering::Relaxed)).max(1) as f64
    );
    plane.finish().await;
    Ok(())
}
