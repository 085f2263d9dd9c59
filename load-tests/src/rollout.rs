//! Rollout benchmark: a real cluster (`orch up` with the process runtime and
//! the gateway, pods as `orch demo-app` processes) under continuous HTTP load
//! through the gateway, for each replica count: how long a rolling update
//! v1 → v2 takes (PATCH → RolloutSucceeded), how long a failing release
//! takes to be rolled back, and what share of requests succeeded throughout.
//!
//! cargo build --release -p orch -p load-tests
//! KAFKA_BROKERS=127.0.0.1:19092 target/release/rollout --replicas 10,100

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Parser)]
struct Args {
    /// Replica counts to measure, one cluster each.
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    replicas: Vec<u32>,
    #[command(flatten)]
    conn: load_tests::Conn,
    /// The `orch` binary (default: beside this program).
    #[arg(long)]
    orch: Option<std::path::PathBuf>,
    /// Concurrent HTTP clients sending requests through the gateway.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 1)]
    max_surge: u32,
    #[arg(long, default_value_t = 1)]
    max_unavailable: u32,
}

struct Load {
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(gateway: &str, host: &str, clients: usize) -> Load {
        let (ok, failed, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client");
        let tasks = (0..clients)
            .map(|_| {
                let (ok, failed, stop, http) =
                    (ok.clone(), failed.clone(), stop.clone(), http.clone());
                let (url, host) = (format!("{gateway}/"), host.to_string());
                tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match http.get(&url).header("host", &host).send().await {
                            Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                            _ => failed.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                })
            })
            .collect();
        Load {
            ok,
            failed,
            stop,
            tasks,
        }
    }

    fn counts(&self) -> (u64, u64) {
        (
            self.ok.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        )
    }

    async fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        for t in std::mem::take(&mut self.tasks) {
            let _ = t.await;
        }
        self.counts()
    }
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await?;
        let s = r.status().as_u16();
        Ok((s, r.json().await.unwrap_or(Value::Null)))
    }

    /// Wait for rollout `n` to reach `status`, printing progress every 2 s.
    async fn wait_rollout(
        &self,
        id: &str,
        n: i64,
        status: &str,
        load: &Load,
        limit: Duration,
    ) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let mut last = Instant::now();
        loop {
            let (_, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!("/api/v1/workloads/deployments/{id}/rollouts"),
                    None,
                )
                .await?;
            if v["items"]
                .as_array()
                .and_then(|a| a.iter().find(|r| r["rollout"] == n))
                .is_some_and(|r| r["status"] == status)
            {
                return Ok(t.elapsed());
            }
            if last.elapsed() > Duration::from_secs(2) {
                let (_, d) = self
                    .call(
                        reqwest::Method::GET,
                        &format!("/api/v1/workloads/deployments/{id}"),
                        None,
                    )
                    .await?;
                let (ok, failed) = load.counts();
                println!(
                    "  {:>5.1} s  rollout {n}: ready {}/{}  requests ok {ok} failed {failed}",
                    t.elapsed().as_secs_f64(),
                    d["status"]["readyPods"],
                    d["replicas"]
                );
                last = Instant::now();
            }
            anyhow::ensure!(
                t.elapsed() < limit,
                "rollout {n} not {status} after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let orch = a.orch.clone().unwrap_or_else(|| {
        std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(|d| d.join("orch")))
            .unwrap_or_else(|| "orch".into())
    });
    println!(
        "rollout benchmark: orch {}, {} clients, maxSurge {}, maxUnavailable {}",
        orch.display(),
        a.clients,
        a.max_surge,
        a.max_unavailable
    );
    let mut table = Vec::new();
    for &replicas in &a.replicas {
        table.push(run(&a, &orch, replicas).await?);
    }
    println!(
        "\n| replicas | v1→v2 rollout | requests | failed | success | failing v3 → rolled back | requests | failed |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in table {
        println!("{r}");
    }
    Ok(())
}

async fn run(a: &Args, orch: &std::path::Path, replicas: u32) -> anyhow::Result<String> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let db = format!("orch_bench_rollout_{}", &id[..8]);
    let (admin, url, pool) = load_tests::fresh_database(&a.conn.database_url, &db).await?;
    pool.close().await;
    let logs = std::env::temp_dir().join(format!("orch-bench-{}", &id[..8]));
    let mut child = tokio::process::Command::new(orch)
        .args([
            "up",
            "--listen",
            "127.0.0.1:0",
            "--gateway-listen",
            "127.0.0.1:0",
            "--runtime",
            "process",
            "--node-name",
            "bench",
            "--process-heartbeat-ms",
            "1000",
            "--drain-delay-ms",
            "500",
            "--termination-grace-ms",
            "3000",
            "--log-dir",
        ])
        .arg(&logs)
        .env("KAFKA_BROKERS", &a.conn.kafka_brokers)
        .env("DATABASE_URL", &url)
        .env("ORCH_TOPIC_PREFIX", format!("bench{}.", &id[..8]))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", orch.display()))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let (mut api, mut token, mut gateway) = (String::new(), String::new(), String::new());
    while let Some(l) = lines.next_line().await? {
        if let Some(v) = l.strip_prefix("API ") {
            api = v.into();
        }
        if let Some(v) = l.strip_prefix("TOKEN ") {
            token = v.into();
        }
        if let Some(v) = l.strip_prefix("GATEWAY ") {
            gateway = v.into();
        }
        if l == "READY" {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let api = Api {
        base: api,
        token,
        http: reqwest::Client::new(),
    };
    println!(
        "\n== {replicas} replicas (API {}, gateway {gateway})",
        api.base
    );
    // Wait for the node.
    let t = Instant::now();
    loop {
        let (_, v) = api
            .call(reqwest::Method::GET, "/api/v1/nodes", None)
            .await?;
        if v["items"].as_array().is_some_and(|i| !i.is_empty()) {
            break;
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(60), "no node registered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (s, v) = api.call(reqwest::Method::POST, "/api/v1/workloads/deployments", Some(json!({
        "namespace": "default", "name": "bench", "image": "demo-app:v1", "replicas": replicas,
        "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
        "strategy": {"maxSurge": a.max_surge, "maxUnavailable": a.max_unavailable, "progressDeadlineSeconds": 300},
        "readinessProbe": {"httpGet": {"path": "/ready"}, "periodMs": 500, "timeoutMs": 1000, "failureThreshold": 2},
    }))).await?;
    anyhow::ensure!(s == 201, "create: {s} {v}");
    let dep = v["deploymentId"].as_str().unwrap_or_default().to_string();
    let (s, v) = api.call(reqwest::Method::POST, "/api/v1/services", Some(json!({
        "namespace": "default", "name": "bench", "selector": {"app": "bench"}, "host": "bench.test"}))).await?;
    anyhow::ensure!(s == 201, "service: {s} {v}");
    let sid = v["serviceId"].as_str().unwrap_or_default().to_string();
    let t = Instant::now();
    let mut last = Instant::now();
    loop {
        let (_, v) = api
            .call(
                reqwest::Method::GET,
                &format!("/api/v1/services/{sid}/endpoints"),
                None,
            )
            .await?;
        let n = v["items"].as_array().map_or(0, |i| i.len());
        if n as u32 >= replicas {
            break;
        }
        if last.elapsed() > Duration::from_secs(2) {
            println!(
                "  {:>5.1} s  endpoints Ready {n}/{replicas}",
                t.elapsed().as_secs_f64()
            );
            last = Instant::now();
        }
        anyhow::ensure!(t.elapsed() < Duration::from_secs(300), "replicas not Ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "  {replicas} replicas Ready in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let path = format!("/api/v1/workloads/deployments/{dep}");
    let load = Load::start(&gateway, "bench.test", a.clients);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (s, v) = api
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"image": "demo-app:v2"})),
        )
        .await?;
    anyhow::ensure!(s == 200, "patch: {s} {v}");
    let took = api
        .wait_rollout(&dep, 1, "SUCCEEDED", &load, Duration::from_secs(600))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok, failed) = load.finish().await;
    println!(
        "  v1 → v2: {:.1} s, {ok} requests ok, {failed} failed",
        took.as_secs_f64()
    );

    let load = Load::start(&gateway, "bench.test", a.clients);
    let (s, v) = api
        .call(
            reqwest::Method::PATCH,
            &path,
            Some(json!({"image": "demo-app:v3", "env": {"FAIL_READINESS": "1"}})),
        )
        .await?;
    anyhow::ensure!(s == 200, "patch: {s} {v}");
    let stopped = api
        .wait_rollout(&dep, 2, "ROLLED_BACK", &load, Duration::from_secs(600))
        .await?;
    let back = api
        .wait_rollout(&dep, 3, "SUCCEEDED", &load, Duration::from_secs(600))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (ok3, failed3) = load.finish().await;
    println!(
        "  failing v3: stopped and rolled back after {:.1} s, converged on v2 {:.1} s later; {ok3} requests ok, {failed3} failed",
        stopped.as_secs_f64(),
        back.as_secs_f64()
    );
    let _ = child.start_kill();
    let _ = child.wait().await;
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&admin)
        .await;
    let _ = std::fs::remove_dir_all(&logs);
    let rate = |ok: u64, failed: u64| 100.0 * ok as f64 / (ok + failed).max(1) as f64;
    Ok(format!(
        "| {replicas} | {:.1} s | {} | {} | {:.3} % | {:.1} s + {:.1} s | {} | {} |",
        took.as_secs_f64(),
        ok + failed,
        failed,
        rate(ok, failed),
        stopped.as_secs_f64(),
        back.as_secs_f64(),
        ok3 + failed3,
        failed3
    ))
}
