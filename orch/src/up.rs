//! `orch up` and `orch agent`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use domain::reconcile::LifecycleConfig;
use infra::kafka::KafkaConfig;
use tokio_util::sync::CancellationToken;

use crate::Conn;

#[derive(clap::Args, Debug)]
pub struct UpArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// Where the REST API listens (port 0 = any free port).
    #[arg(long, env = "ORCH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Which components this process runs (decider, projector, reconcilers, api, gateway).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "decider,projector,reconcilers,api,gateway"
    )]
    pub components: Vec<String>,
    /// Where the gateway (HTTP to the Ready endpoints of services) listens.
    #[arg(long, env = "ORCH_GATEWAY_LISTEN", default_value = "127.0.0.1:8000")]
    pub gateway_listen: SocketAddr,
    /// Forget the projections, snapshots and epochs in the database (for a new, empty log).
    #[arg(long)]
    pub reset_state: bool,
    /// Where /metrics is served when this process runs no API.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub metrics_listen: SocketAddr,
    /// Do not start a node agent in this process.
    #[arg(long)]
    pub no_agent: bool,
    /// The node agent `orch up` starts: `process` (this machine as one node,
    /// pods as real processes) or `hollow` (3 zones × 4 simulated nodes).
    #[arg(long, default_value = "process", value_parser = ["process", "hollow"])]
    pub runtime: String,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// The local broker's port when KAFKA_BROKERS is unset.
    #[arg(long, default_value_t = 9092)]
    pub broker_port: u16,
    #[arg(long, default_value = "sqlite")]
    pub broker_storage: String,
    /// Where the local broker keeps its data, and the bootstrap admin token.
    #[arg(long, default_value = ".orch")]
    pub data_dir: PathBuf,
    /// A node silent this long becomes NotReady.
    #[arg(long, env = "ORCH_NODE_GRACE_SECONDS", default_value_t = 30.0)]
    pub grace_seconds: f64,
    /// A node silent this long is lost and its pods are replaced (default: grace + 10 s).
    #[arg(long, env = "ORCH_NODE_LOST_SECONDS")]
    pub lost_seconds: Option<f64>,
    /// A failed or evicted pod (replaced by its controller) is deleted from the
    /// live state and the pod listings this long after it ended; its history stays.
    #[arg(long, env = "ORCH_FAILED_POD_TTL_SECONDS", default_value_t = 60.0)]
    pub failed_pod_ttl_seconds: f64,
    /// A job's first retry after a failed pod waits this long, each further one
    /// twice as long (at most six minutes), like Kubernetes' 10 s back-off.
    #[arg(long, env = "ORCH_JOB_BACKOFF_BASE_MS", default_value_t = 10_000)]
    pub job_backoff_base_ms: u64,
    /// Nodes per second per zone that may be declared Lost (their pods evicted).
    #[arg(long, env = "ORCH_EVICTION_NODES_PER_SECOND", default_value_t = 10.0)]
    pub eviction_nodes_per_second: f64,
    /// The rate in a zone where at least 55 % of the nodes are silent (a partition more likely than a failure).
    #[arg(
        long,
        env = "ORCH_UNHEALTHY_ZONE_NODES_PER_SECOND",
        default_value_t = 1.0
    )]
    pub unhealthy_zone_nodes_per_second: f64,
    /// The bootstrap admin token (default: the one kept in `<data-dir>/admin-token`,
    /// or a new random one kept there). Any other bootstrap token is revoked.
    #[arg(long, env = "ORCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Mint a new bootstrap admin token and revoke the kept one.
    #[arg(long)]
    pub rotate_admin_token: bool,
    /// Let every authenticated subject call every route (only to measure
    /// what authorization costs: the decider still authorizes each command).
    #[arg(long)]
    pub no_authorization: bool,
    /// How long a read with `?minOffset=` waits for the projections before answering 503.
    #[arg(long, env = "ORCH_READ_WAIT_MS", default_value_t = 10_000)]
    pub read_wait_ms: u64,
    /// How long a write waits for the decider before answering 503.
    #[arg(long, env = "ORCH_COMMAND_TIMEOUT_MS", default_value_t = 10_000)]
    pub command_timeout_ms: u64,
    /// API requests per second each subject (token actor) may make; beyond
    /// it (and the burst) the answer is 429 with Retry-After. 0: no limit.
    #[arg(long, env = "ORCH_API_RATE_LIMIT", default_value_t = 100)]
    pub api_rate_limit: u32,
    /// How many requests a subject may make at once above its rate.
    #[arg(long, env = "ORCH_API_BURST", default_value_t = 200)]
    pub api_burst: u32,
    /// Snapshot the write model every this many events.
    #[arg(long, default_value_t = 20_000)]
    pub snapshot_every: u64,
    /// Snapshot the projection tables every this many log records (0: never), so
    /// time travel and replays to later points need not start at offset 0.
    #[arg(long, default_value_t = 100_000)]
    pub projection_snapshot_every: i64,
    /// Once the demo nodes are Ready, create the demo deployment `default/hello`
    /// (6 replicas; with the process runtime 3, behind service `hello`, and
    /// the StatefulSet `default/db` of 2, behind service `db`).
    #[arg(long)]
    pub demo_deployment: bool,
    #[command(flatten)]
    pub demo: DemoNodes,
}

#[derive(clap::Args, Debug, Clone)]
pub struct DemoNodes {
    #[arg(long, value_delimiter = ',', default_value = "az-a,az-b,az-c")]
    pub zones: Vec<String>,
    #[arg(long, default_value_t = 4)]
    pub nodes_per_zone: u32,
    #[arg(long, default_value_t = 4000)]
    pub node_cpu_milli: u64,
    #[arg(long, default_value_t = 8192)]
    pub node_mem_mb: u64,
    #[arg(long, default_value_t = 0)]
    pub gpu_nodes_per_zone: u32,
    #[arg(long, default_value_t = 10_000)]
    pub heartbeat_ms: u64,
    #[arg(long, default_value_t = 200)]
    pub start_delay_ms: u64,
    #[arg(long, default_value_t = 300)]
    pub ready_delay_ms: u64,
    /// Hollow nodes: a job's pod (restartPolicy Never) exits this long after it started.
    #[arg(long, default_value_t = 1000)]
    pub job_run_ms: u64,
    /// Hollow nodes: the share of job pods that exit 1 instead of 0 (0–1).
    #[arg(long, default_value_t = 0.0)]
    pub job_failure_rate: f64,
    #[arg(long, default_value = "node")]
    pub name_prefix: String,
}

impl DemoNodes {
    fn hollow(&self) -> node_agent::HollowConfig {
        node_agent::HollowConfig {
            name_prefix: self.name_prefix.clone(),
            zones: self.zones.clone(),
            nodes_per_zone: self.nodes_per_zone,
            cpu_milli: self.node_cpu_milli,
            mem_mb: self.node_mem_mb,
            gpu_nodes_per_zone: self.gpu_nodes_per_zone,
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            start_delay: Duration::from_millis(self.start_delay_ms),
            ready_delay: Duration::from_millis(self.ready_delay_ms),
            job_run: Duration::from_millis(self.job_run_ms),
            job_failure_rate: self.job_failure_rate.clamp(0.0, 1.0),
        }
    }
}

/// The process runtime's node.
#[derive(clap::Args, Debug, Clone)]
pub struct ProcessArgs {
    /// The node's name (default: the host name).
    #[arg(long)]
    pub node_name: Option<String>,
    #[arg(long, default_value = "local")]
    pub zone: String,
    /// CPU the node offers to pods (millicores).
    #[arg(long, default_value_t = 32_000)]
    pub process_cpu_milli: u64,
    #[arg(long, default_value_t = 65_536)]
    pub process_mem_mb: u64,
    /// Where pods' stdout and stderr go (`<dir>/<pod id>.log`).
    #[arg(long, default_value = ".orch/pod-logs")]
    pub log_dir: PathBuf,
    /// StatefulSet volume claims live here (`<dir>/<namespace>/<claim>`, the pod's `VOLUME_DIR`).
    #[arg(long, default_value = ".orch/volumes")]
    pub volume_dir: PathBuf,
    /// CrashLoopBackOff: the first restart waits this long, doubling up to --backoff-max-ms.
    #[arg(long, default_value_t = 1_000)]
    pub backoff_base_ms: u64,
    #[arg(long, default_value_t = 60_000)]
    pub backoff_max_ms: u64,
    /// A pod that stops being live keeps serving this long (gateways drop it first), then gets SIGTERM.
    #[arg(long, default_value_t = 1_000)]
    pub drain_delay_ms: u64,
    /// SIGKILL this long after SIGTERM.
    #[arg(long, default_value_t = 10_000)]
    pub termination_grace_ms: u64,
    #[arg(long, default_value_t = 5_000)]
    pub process_heartbeat_ms: u64,
    /// The secrets' key ring: lines `<id>:<base64 32-byte key>`, the last
    /// active (`ORCH_SECRET_KEYS` holds the ring itself instead). `orch up`
    /// defaults to `<data-dir>/secret-keys`, made with one fresh key.
    #[arg(long, env = "ORCH_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
    /// Where pods' secret files are written (`<dir>/<pod id>/<NAME>/<key>`,
    /// mode 0400), removed when the pod stops; a tmpfs keeps them off disk.
    #[arg(long, env = "ORCH_SECRET_DIR", default_value = default_secret_dir())]
    pub secret_dir: PathBuf,
}

fn default_secret_dir() -> &'static str {
    if std::path::Path::new("/dev/shm").is_dir() {
        "/dev/shm/orch-secrets"
    } else {
        ".orch/secrets"
    }
}

impl ProcessArgs {
    pub fn config(&self) -> node_agent::process::ProcessConfig {
        node_agent::process::ProcessConfig {
            node_name: self.node_name.clone().unwrap_or_else(hostname_label),
            zone: self.zone.clone(),
            cpu_milli: self.process_cpu_milli,
            mem_mb: self.process_mem_mb,
            heartbeat_interval: Duration::from_millis(self.process_heartbeat_ms),
            log_dir: self.log_dir.clone(),
            volume_dir: self.volume_dir.clone(),
            demo_app_bin: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("orch")),
            backoff_base: Duration::from_millis(self.backoff_base_ms),
            backoff_max: Duration::from_millis(self.backoff_max_ms),
            drain_delay: Duration::from_millis(self.drain_delay_ms),
            termination_grace: Duration::from_millis(self.termination_grace_ms),
            secret_keys: infra::keyring::KeySource::from_env_or(self.secret_key_file.clone()),
            secret_dir: self.secret_dir.clone(),
        }
    }
}

/// The host name as a DNS-1123 label (a node name).
fn hostname_label() -> String {
    let h: String = hostname()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let h = h.trim_matches('-').chars().take(50).collect::<String>();
    if h.is_empty() { "local".into() } else { h }
}

#[derive(clap::Args, Debug)]
pub struct AgentArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The control API (stop/start nodes and zones, metrics).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub control: SocketAddr,
    /// `hollow` (many simulated nodes) or `process` (one real node).
    #[arg(long, default_value = "hollow", value_parser = ["process", "hollow"])]
    pub runtime: String,
    #[command(flatten)]
    pub nodes: DemoNodes,
    #[command(flatten)]
    pub process: ProcessArgs,
}

fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        t.cancel();
    });
    token
}

/// Run `f` until shutdown, restarting it after an error (a restart is a rebuild).
fn supervise<F, Fut, E>(
    name: &'static str,
    shutdown: CancellationToken,
    f: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), E>> + Send,
    E: std::fmt::Display,
{
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match f().await {
                Ok(()) if shutdown.is_cancelled() => return,
                Ok(()) => tracing::warn!(component = name, "stopped; restarting"),
                Err(e) => tracing::error!(component = name, error = %e, "failed; restarting"),
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// `<data-dir>/secret-keys` unless a ring is given: made (mode 0600, one
/// fresh key) when missing, so `orch up` seals secrets from the start.
fn default_key_ring(a: &mut UpArgs) -> anyhow::Result<()> {
    if a.process.secret_key_file.is_some()
        || std::env::var("ORCH_SECRET_KEYS").is_ok_and(|v| !v.trim().is_empty())
    {
        return Ok(());
    }
    let path = a.data_dir.join("secret-keys");
    if !path.exists() {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(&a.data_dir)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("creating the secrets' key ring {}", path.display()))?;
        writeln!(
            f,
            "# orch secrets' key-encryption keys: <id>:<base64 32 bytes>; the last is active.\n{}",
            infra::keyring::generate_line("k1")
        )?;
        eprintln!(
            "secrets: made the key ring {} (one fresh key, mode 0600; back it up: without it no secret opens)",
            path.display()
        );
    }
    a.process.secret_key_file = Some(path);
    Ok(())
}

pub async fn up(mut a: UpArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    default_key_ring(&mut a)?;
    let mut _broker = None;
    let brokers = match &a.conn.kafka_brokers {
        Some(b) => b.clone(),
        None => {
            eprintln!(
                "KAFKA_BROKERS is unset: starting a local nisshi broker on 127.0.0.1:{}",
                a.broker_port
            );
            _broker =
                Some(crate::broker::start(a.broker_port, &a.broker_storage, &a.data_dir).await?);
            format!("127.0.0.1:{}", a.broker_port)
        }
    };
    let kafka = KafkaConfig {
        brokers,
        prefix: a.conn.topic_prefix.clone(),
    };
    let pool = infra::db::connect(&a.conn.database_url, None, 10)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", a.conn.database_url))?;
    infra::db::migrate(&pool)
        .await
        .context("running migrations")?;
    kafka.ensure_topics().await.context("creating topics")?;
    if a.reset_state {
        reset_state(&pool).await?;
    }
    preflight(&kafka, &pool).await?;

    let has = |c: &str| a.components.iter().any(|x| x == c);
    let mut tasks = Vec::new();
    if has("decider") {
        let (k, p, s) = (kafka.clone(), pool.clone(), shutdown.clone());
        let cfg = decider::DeciderConfig {
            cell: 0,
            snapshot_every: a.snapshot_every,
            holder: format!("{}:{}", hostname(), std::process::id()),
            database_url: a.conn.database_url.clone(),
        };
        tasks.push(supervise("decider", shutdown.clone(), move || {
            decider::run(k.clone(), p.clone(), cfg.clone(), s.clone())
        }));
    }
    if has("projector") && a.projection_snapshot_every > 0 {
        let (t, p, s, every) = (
            kafka.events_topic(),
            pool.clone(),
            shutdown.clone(),
            a.projection_snapshot_every,
        );
        tasks.push(supervise(
            "projection-snapshots",
            shutdown.clone(),
            move || {
                projectors::timetravel::snapshot_periodically(
                    p.clone(),
                    t.clone(),
                    every,
                    Duration::from_secs(30),
                    s.clone(),
                )
            },
        ));
    }
    if has("projector") {
        let (k, p, s) = (kafka.clone(), pool.clone(), shutdown.clone());
        tasks.push(supervise("projector", shutdown.clone(), move || {
            projectors::run(
                k.clone(),
                p.clone(),
                projectors::ProjectorConfig::default(),
                s.clone(),
            )
        }));
        let (k, p, s) = (kafka.clone(), pool.clone(), shutdown.clone());
        tasks.push(supervise(
            "heartbeat-projector",
            shutdown.clone(),
            move || projectors::run_heartbeats(k.clone(), p.clone(), s.clone()),
        ));
    }
    if has("reconcilers") {
        let grace = Duration::from_secs_f64(a.grace_seconds);
        let lost = a
            .lost_seconds
            .map(Duration::from_secs_f64)
            .unwrap_or(grace + Duration::from_secs(10));
        let cfg = reconcilers::ReconcilerConfig {
            lifecycle: LifecycleConfig {
                grace_ms: grace.as_millis() as i64,
                lost_after_ms: lost.as_millis() as i64,
                evictions_per_zone_per_sec: a.eviction_nodes_per_second,
                unhealthy_zone_per_sec: a.unhealthy_zone_nodes_per_second,
                ..Default::default()
            },
            failed_pod_ttl: Duration::from_secs_f64(a.failed_pod_ttl_seconds.max(0.0)),
            job_backoff_base: Duration::from_millis(a.job_backoff_base_ms),
            ..Default::default()
        };
        let (k, s) = (kafka.clone(), shutdown.clone());
        tasks.push(supervise("reconcilers", shutdown.clone(), move || {
            reconcilers::run(k.clone(), cfg.clone(), s.clone())
        }));
    }
    let mut api_addr = None;
    if has("api") {
        let file = a.data_dir.join("admin-token");
        let api = command_api::build(
            &kafka,
            pool.clone(),
            command_api::ApiConfig {
                command_timeout: Duration::from_millis(a.command_timeout_ms),
                database_url: a.conn.database_url.clone(),
                read_wait: Duration::from_millis(a.read_wait_ms),
                rate_limit: (a.api_rate_limit > 0).then_some(command_api::RateLimit {
                    per_second: a.api_rate_limit,
                    burst: a.api_burst,
                }),
                authorize: !a.no_authorization,
                secret_keys: infra::keyring::KeySource::from_env_or(
                    a.process.secret_key_file.clone(),
                ),
            },
            shutdown.clone(),
        )
        .await?;
        let (token, how, revoked) = api
            .bootstrap_admin(&file, a.admin_token.clone(), a.rotate_admin_token)
            .await
            .context("the bootstrap admin token")?;
        let kept = match how {
            command_api::Bootstrap::Kept => format!("kept from {}", file.display()),
            command_api::Bootstrap::Minted => format!("new, kept in {}", file.display()),
            command_api::Bootstrap::Given => "as given".into(),
        };
        tracing::info!(revoked, "bootstrap admin token: {kept}");
        let note = format!(
            "(admin token {kept}{}; `orch token revoke` revokes it, and the next start mints a new one;\n mint tokens for others with POST /api/v1/users and POST /api/v1/tokens)",
            if revoked > 0 {
                format!("; {revoked} earlier bootstrap token(s) revoked")
            } else {
                String::new()
            }
        );
        let router = api.router;
        let listener = tokio::net::TcpListener::bind(a.listen)
            .await
            .with_context(|| format!("binding {}", a.listen))?;
        let addr = listener.local_addr()?;
        api_addr = Some((addr, token, note));
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await
            {
                tracing::error!(error = %e, "API server failed");
            }
        }));
    }
    let mut gateway_addr = None;
    if has("gateway") {
        let listener = tokio::net::TcpListener::bind(a.gateway_listen)
            .await
            .with_context(|| format!("binding the gateway to {}", a.gateway_listen))?;
        gateway_addr = Some(listener.local_addr()?);
        let (k, s) = (kafka.clone(), shutdown.clone());
        let keys = infra::keyring::KeySource::from_env_or(a.process.secret_key_file.clone());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = crate::gateway::run(k, listener, keys, s).await {
                tracing::error!(error = %e, "gateway failed");
            }
        }));
    }
    let mut metrics_addr = None;
    if !has("api") {
        // Every service exposes /metrics; without the API it gets a port of its own.
        let listener = tokio::net::TcpListener::bind(a.metrics_listen).await?;
        metrics_addr = Some(listener.local_addr()?);
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(|| async { infra::metrics::render() }),
        );
        let s = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async move { s.cancelled().await })
                .await;
        }));
    }
    let mut agent_addr = None;
    if !a.no_agent && a.runtime == "hollow" {
        let (k, s, hollow) = (kafka.clone(), shutdown.clone(), a.demo.hollow());
        tasks.push(supervise("demo-agent", shutdown.clone(), move || {
            node_agent::run_hollow(k.clone(), hollow.clone(), None, s.clone())
        }));
    }
    if !a.no_agent && a.runtime == "process" {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        agent_addr = Some(listener.local_addr()?);
        let (k, s, cfg) = (kafka.clone(), shutdown.clone(), a.process.config());
        tasks.push(tokio::spawn(async move {
            if let Err(e) = node_agent::process::run_process(k, cfg, Some(listener), s).await {
                tracing::error!(error = %e, "process agent failed");
            }
        }));
    }
    println!("orch is up: components {}", a.components.join(","));
    println!("KAFKA {}", kafka.brokers);
    if let Some((addr, token, note)) = &api_addr {
        println!("API http://{addr}");
        println!("TOKEN {token}");
        println!("{note}");
        println!("try: curl -H 'Authorization: Bearer {token}' http://{addr}/api/v1/nodes/health");
    }
    if let Some(addr) = metrics_addr {
        println!("METRICS http://{addr}/metrics");
    }
    if let Some(addr) = gateway_addr {
        println!("GATEWAY http://{addr}");
    }
    if let Some(addr) = agent_addr {
        println!("AGENT http://{addr}");
    }
    println!("READY");
    if a.demo_deployment {
        match &api_addr {
            Some((addr, token, _)) => {
                tokio::spawn(create_demo_deployment(
                    format!("http://{addr}"),
                    token.clone(),
                    a.runtime == "process",
                    gateway_addr,
                ));
            }
            None => tracing::warn!("--demo-deployment needs the api component in this process"),
        }
    }
    shutdown.cancelled().await;
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(10), t).await;
    }
    Ok(())
}

pub async fn agent(a: AgentArgs) -> anyhow::Result<()> {
    let shutdown = shutdown_on_signal();
    let brokers = a
        .conn
        .kafka_brokers
        .clone()
        .context("KAFKA_BROKERS (or --kafka-brokers) is required for an agent")?;
    let kafka = KafkaConfig {
        brokers,
        prefix: a.conn.topic_prefix.clone(),
    };
    kafka.ensure_topics().await?;
    let listener = std::net::TcpListener::bind(a.control)?;
    println!("AGENT http://{}", listener.local_addr()?);
    println!("READY");
    if a.runtime == "process" {
        node_agent::process::run_process(kafka, a.process.config(), Some(listener), shutdown)
            .await?;
    } else {
        node_agent::run_hollow(kafka, a.nodes.hollow(), Some(listener), shutdown).await?;
    }
    Ok(())
}

/// The demo's deployment and service, created through the REST API like any
/// client's (as the admin, with a reason), once a node is Ready.
async fn create_demo_deployment(
    api: String,
    token: String,
    real: bool,
    gateway: Option<SocketAddr>,
) {
    let http = reqwest::Client::new();
    let call = |req: reqwest::RequestBuilder| async {
        let r = req
            .bearer_auth(&token)
            .header("x-change-reason", "orch up --demo-deployment")
            .send()
            .await?;
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        Ok::<_, anyhow::Error>((status.as_u16(), body))
    };
    let run = async {
        for _ in 0..600 {
            let (_, nodes) = call(http.get(format!("{api}/api/v1/nodes/health"))).await?;
            let ready = nodes["items"]
                .as_array()
                .is_some_and(|n| n.iter().any(|n| n["ready"] == true));
            if ready {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut deployment = serde_json::json!({
            "namespace": "default", "name": "hello",
            "image": if real { "demo-app:v1" } else { "demo:v1" },
            "replicas": if real { 3 } else { 6 },
            "resources": {"cpuRequestMilli": 250, "cpuLimitMilli": 500, "memRequestMb": 256, "memLimitMb": 512},
            "disruptionBudget": {"maxUnavailable": 1},
        });
        if real {
            deployment["readinessProbe"] = serde_json::json!({
                "httpGet": {"path": "/ready"}, "periodMs": 500, "timeoutMs": 1000,
                "failureThreshold": 3, "successThreshold": 1});
        } else {
            deployment["topologySpreadConstraints"] = serde_json::json!([
                {"maxSkew": 1, "topologyKey": domain::model::ZONE_LABEL, "whenUnsatisfiable": "DoNotSchedule"}]);
        }
        let (status, body) = call(
            http.post(format!("{api}/api/v1/workloads/deployments"))
                .json(&deployment),
        )
        .await?;
        match (status, body["error"]["code"].as_str()) {
            (201, _) => println!(
                "demo: created deployment default/hello; see GET /api/v1/workloads/deployments"
            ),
            (409, Some("ALREADY_EXISTS")) => return Ok(()),
            _ => anyhow::bail!("creating the demo deployment: {status} {body}"),
        }
        if real {
            let service = serde_json::json!({"namespace": "default", "name": "hello",
                                             "selector": {"app": "hello"}, "pathPrefix": "/"});
            let (status, body) =
                call(http.post(format!("{api}/api/v1/services")).json(&service)).await?;
            anyhow::ensure!(
                status == 201 || body["error"]["code"] == "ALREADY_EXISTS",
                "creating the demo service: {status} {body}"
            );
            if let Some(g) = gateway {
                println!("demo: service default/hello behind the gateway: curl http://{g}/");
            }
            // A StatefulSet: db-0 and db-1, each with its volume, each by name.
            let service = serde_json::json!({"namespace": "default", "name": "db",
                                             "selector": {"app": "db"}, "host": "db.demo"});
            let (status, body) =
                call(http.post(format!("{api}/api/v1/services")).json(&service)).await?;
            anyhow::ensure!(
                status == 201 || body["error"]["code"] == "ALREADY_EXISTS",
                "creating the demo service db: {status} {body}"
            );
            let set = serde_json::json!({
                "namespace": "default", "name": "db", "replicas": 2,
                "volumeClaimTemplate": {"name": "data"},
                "template": {"image": "demo-app:v1",
                    "resources": {"cpuRequestMilli": 100, "memRequestMb": 64},
                    "readinessProbe": {"httpGet": {"path": "/ready"}, "periodMs": 500}}});
            let (status, body) = call(
                http.post(format!("{api}/api/v1/workloads/statefulsets"))
                    .json(&set),
            )
            .await?;
            anyhow::ensure!(
                status == 201 || body["error"]["code"] == "ALREADY_EXISTS",
                "creating the demo statefulset: {status} {body}"
            );
            if let Some(g) = gateway {
                println!(
                    "demo: statefulset default/db (db-0, db-1, a volume each): curl -H 'Host: db-0.db' http://{g}/volume"
                );
            }
        }
        Ok(())
    };
    if let Err(e) = run.await {
        tracing::warn!(error = %e, "demo deployment not created");
    }
}

/// The database must describe this log: state recorded past the log's end
/// means the broker's data was replaced (say, a new `.orch/`).
async fn preflight(kafka: &KafkaConfig, pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let topic = kafka.events_topic();
    let (_, high) = kafka.watermarks(&topic).await?;
    let projected: Option<i64> =
        sqlx::query_scalar("SELECT max(next_offset) FROM projection_offsets WHERE topic = $1")
            .bind(&topic)
            .fetch_one(pool)
            .await?;
    let snapshot: Option<i64> =
        sqlx::query_scalar("SELECT max(events_next_offset) FROM decider_snapshots")
            .fetch_one(pool)
            .await?;
    let ahead = projected.unwrap_or(0).max(snapshot.unwrap_or(0));
    if ahead > high {
        anyhow::bail!(
            "the database holds state up to offset {ahead} of {topic}, but the log ends at {high}: \
             it belongs to another log (was the broker's data replaced?). \
             Point DATABASE_URL at another database, or start once with --reset-state to forget that state."
        );
    }
    Ok(())
}

async fn reset_state(pool: &sqlx::PgPool) -> anyhow::Result<()> {
    let tables: Vec<&str> = projectors::tables::tables().map(|t| t.name).collect();
    sqlx::query(&format!(
        "TRUNCATE {}, projection_offsets, decider_snapshots, decider_epochs",
        tables.join(", ")
    ))
    .execute(pool)
    .await?;
    // Projection snapshots and time-travel schemas describe the old log too.
    let schemas: Vec<(String,)> = sqlx::query_as(
        "SELECT schema_name FROM projection_snapshots
         UNION SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'asof\\_%'",
    )
    .fetch_all(pool)
    .await?;
    for (s,) in schemas {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))
            .execute(pool)
            .await?;
    }
    sqlx::query("TRUNCATE projection_snapshots")
        .execute(pool)
        .await?;
    eprintln!("--reset-state: projections, snapshots and epochs forgotten");
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}
