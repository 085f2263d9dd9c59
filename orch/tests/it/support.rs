//! A real cluster per test: a fresh PostgreSQL database, topics with a
//! unique prefix on a real Kafka-protocol broker, and `orch` processes that
//! a test can kill with SIGKILL.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const DEADLINE: Duration = Duration::from_secs(60);

/// Poll `check` until it returns `Some`, or panic with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() > until {
            panic!("timed out after {deadline:?} waiting for: {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn with_db(url: &str, db: &str) -> String {
    let scheme_end = url.find("://").map(|i| i + 3).unwrap_or(0);
    match url[scheme_end..].find('/') {
        Some(i) => format!("{}/{db}", &url[..scheme_end + i]),
        None => format!("{url}/{db}"),
    }
}

/// The broker for this test process: KAFKA_BROKERS, or a memory-backed nisshi started here.
async fn brokers() -> String {
    if let Ok(b) = std::env::var("KAFKA_BROKERS") {
        return b;
    }
    static BROKER: tokio::sync::OnceCell<(String, u32)> = tokio::sync::OnceCell::const_new();
    BROKER
        .get_or_init(|| async {
            let port = free_port();
            let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
            let bin =
                std::env::var("NISSHI_BIN").unwrap_or_else(|_| format!("{home}/.cargo/bin/nisshi"));
            let url = format!("tcp://127.0.0.1:{port}");
            let child = std::process::Command::new(&bin)
                .args([
                    "broker",
                    "--listener-url",
                    &url,
                    "--advertised-listener-url",
                    &url,
                    "--storage-engine",
                    "memory://nisshi/",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "KAFKA_BROKERS is unset and {bin} could not start ({e}); run scripts/test"
                    )
                });
            let pid = child.id();
            std::mem::forget(child);
            eventually(
                "the test broker to listen",
                Duration::from_secs(20),
                || async {
                    tokio::net::TcpStream::connect(("127.0.0.1", port))
                        .await
                        .ok()
                        .map(|_| ())
                },
            )
            .await;
            (format!("127.0.0.1:{port}"), pid)
        })
        .await
        .0
        .clone()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct Proc {
    pub child: Child,
    pub lines: Vec<String>,
}

impl Proc {
    pub fn value(&self, key: &str) -> String {
        self.lines
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{key} ")))
            .unwrap_or_else(|| panic!("no '{key}' line in {:?}", self.lines))
            .to_string()
    }

    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

pub struct Cluster {
    pub db_name: String,
    pub database_url: String,
    pub brokers: String,
    pub prefix: String,
    pub pool: PgPool,
    pub api: String,
    pub token: String,
    pub agent: String,
    /// The gateway's URL when a process runs the `gateway` component.
    pub gateway: String,
    pub http: reqwest::Client,
    pub procs: Vec<Proc>,
}

#[derive(Clone)]
pub struct Options {
    pub nodes_per_zone: u32,
    pub node_cpu_milli: u64,
    pub grace_seconds: f64,
    pub lost_seconds: f64,
    /// Separate `orch up` processes, each with these components.
    pub processes: Vec<&'static str>,
    /// More arguments for every `orch up`.
    pub up_args: Vec<String>,
    /// `hollow` (3 zones of simulated nodes) or `process` (one node running real processes).
    pub runtime: &'static str,
    /// More arguments for the agent.
    pub agent_args: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nodes_per_zone: 4,
            node_cpu_milli: 4000,
            grace_seconds: 30.0,
            lost_seconds: 40.0,
            processes: vec!["decider,projector,reconcilers,api"],
            up_args: vec![],
            runtime: "hollow",
            agent_args: vec![],
        }
    }
}

pub async fn create_database(name: &str) -> (String, PgPool) {
    let admin = PgPool::connect(&admin_url())
        .await
        .expect("PostgreSQL must run on DATABASE_URL or 127.0.0.1:5432");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let url = with_db(&admin_url(), name);
    let pool = PgPool::connect(&url).await.unwrap();
    (url, pool)
}

impl Cluster {
    pub async fn start(name: &str, opts: Options) -> Cluster {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let db_name = format!("orch_it_{}_{}", name, &id[..8]);
        let (database_url, pool) = create_database(&db_name).await;
        let mut c = Cluster {
            db_name,
            database_url,
            brokers: brokers().await,
            prefix: format!("it{}.", &id[..12]),
            pool,
            api: String::new(),
            token: String::new(),
            agent: String::new(),
            gateway: String::new(),
            http: reqwest::Client::new(),
            procs: vec![],
        };
        for components in opts.processes.clone() {
            let p = c.spawn_up(components, &opts, &c.database_url.clone()).await;
            if components.contains("api") {
                c.api = p.value("API");
                c.token = p.value("TOKEN");
            }
            if components.contains("gateway") {
                c.gateway = p.value("GATEWAY");
            }
            c.procs.push(p);
        }
        let args: Vec<String> = if opts.runtime == "process" {
            c.process_agent_args(&format!("local-{}", &id[..8]))
        } else {
            vec![
                "agent".into(),
                "--nodes-per-zone".into(),
                opts.nodes_per_zone.to_string(),
                "--node-cpu-milli".into(),
                opts.node_cpu_milli.to_string(),
                "--heartbeat-ms".into(),
                "500".into(),
                "--start-delay-ms".into(),
                "50".into(),
                "--ready-delay-ms".into(),
                "50".into(),
            ]
        };
        let mut args = args;
        args.extend(opts.agent_args.iter().cloned());
        let agent = c.spawn("agent", &args, &c.database_url.clone()).await;
        c.agent = agent.value("AGENT");
        c.procs.push(agent);
        let expect = if opts.runtime == "process" {
            1
        } else {
            opts.nodes_per_zone as i64 * 3
        };
        let pool = c.pool.clone();
        eventually("every node registered and Ready", DEADLINE, || async {
            let n: i64 = sqlx::query_scalar("SELECT count(*) FROM node_status WHERE ready")
                .fetch_one(&pool)
                .await
                .ok()?;
            (n == expect).then_some(())
        })
        .await;
        c
    }

    fn log_path(&self, what: &str) -> PathBuf {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("it-logs");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!(
            "{}-{}-{}.log",
            self.db_name,
            what,
            self.procs.len()
        ))
    }

    pub async fn spawn_up(&self, components: &str, opts: &Options, database_url: &str) -> Proc {
        let mut args = vec![
            "up".to_string(),
            "--no-agent".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            "--components".into(),
            components.into(),
            "--grace-seconds".into(),
            opts.grace_seconds.to_string(),
            "--lost-seconds".into(),
            opts.lost_seconds.to_string(),
            "--snapshot-every".into(),
            "500".into(),
            // This cluster's own: the bootstrap admin token is kept there across restarts.
            "--data-dir".into(),
            self.data_dir().display().to_string(),
        ];
        args.extend(opts.up_args.iter().cloned());
        self.spawn(&components.replace(',', "+"), &args, database_url)
            .await
    }

    /// The arguments of a process-runtime agent for node `node` (every
    /// agent of the cluster shares the log and volume directories).
    pub fn process_agent_args(&self, node: &str) -> Vec<String> {
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("it-pod-logs")
            .join(&self.db_name);
        [
            "agent",
            "--runtime",
            "process",
            "--node-name",
            node,
            "--log-dir",
            &logs.display().to_string(),
            "--volume-dir",
            &self.volume_dir().display().to_string(),
            "--process-heartbeat-ms",
            "500",
            "--backoff-base-ms",
            "300",
            "--drain-delay-ms",
            "500",
            "--termination-grace-ms",
            "3000",
            // The ring `orch up` made in the cluster's data directory.
            "--secret-key-file",
            &self.data_dir().join("secret-keys").display().to_string(),
            "--secret-dir",
            &self.secret_dir().display().to_string(),
        ]
        .map(String::from)
        .to_vec()
    }

    /// Where the process agents write pods' secret files.
    pub fn secret_dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("it-secrets")
            .join(&self.db_name)
    }

    /// Every log file of this cluster: its processes' and its pods'.
    pub fn log_files(&self) -> Vec<PathBuf> {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let mut out = Vec::new();
        if let Ok(dir) = std::fs::read_dir(base.join("it-logs")) {
            for e in dir.flatten() {
                if e.file_name().to_string_lossy().starts_with(&self.db_name) {
                    out.push(e.path());
                }
            }
        }
        if let Ok(dir) = std::fs::read_dir(base.join("it-pod-logs").join(&self.db_name)) {
            out.extend(dir.flatten().map(|e| e.path()));
        }
        out
    }

    /// Where the process agents keep StatefulSet volume claims.
    pub fn volume_dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("it-volumes")
            .join(&self.db_name)
    }

    /// Runs `orch <args>` against this cluster and returns (success, stdout, stderr).
    pub async fn orch(&self, args: &[&str]) -> (bool, String, String) {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(args)
            .env("KAFKA_BROKERS", &self.brokers)
            .env("DATABASE_URL", &self.database_url)
            .env("ORCH_TOPIC_PREFIX", &self.prefix)
            .env("ORCH_API", &self.api)
            .env("ORCH_TOKEN", &self.token)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .expect("orch runs");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        (out.status.success(), stdout, stderr)
    }

    /// The cluster's `--data-dir` (the bootstrap token file).
    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("it-data")
            .join(&self.db_name)
    }

    pub async fn spawn(&self, what: &str, args: &[String], database_url: &str) -> Proc {
        let log = std::fs::File::create(self.log_path(what)).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(args)
            .env("KAFKA_BROKERS", &self.brokers)
            .env("DATABASE_URL", database_url)
            .env("ORCH_TOPIC_PREFIX", &self.prefix)
            .env("ORCH_COMMAND_TIMEOUT_MS", "3000")
            .env("RUST_LOG", "info,rdkafka=warn,sqlx=warn,librdkafka=error")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("orch binary");
        let stdout = child.stdout.take().unwrap();
        let mut reader = BufReader::new(stdout).lines();
        let mut lines = Vec::new();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = reader.next_line().await {
                if line == "READY" {
                    return true;
                }
                lines.push(line);
            }
            false
        })
        .await;
        assert!(
            matches!(ready, Ok(true)),
            "orch {what} did not start; see {}",
            self.log_path(what).display()
        );
        tokio::spawn(async move { while let Ok(Some(_)) = reader.next_line().await {} });
        Proc { child, lines }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    /// A request with another token (`None`: no token at all).
    pub async fn send_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut r = self.http.request(method, format!("{}{path}", self.api));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A user created now (by the admin), bound to each cluster role in
    /// `roles` as `(role, namespace)` (`None`: cluster-wide), and a token for it.
    pub async fn user_token(&self, name: &str, roles: &[(&str, Option<&str>)]) -> String {
        let (s, v) = self
            .post("/api/v1/users", serde_json::json!({"name": name}))
            .await;
        assert!(s == 201 || s == 409, "creating user {name}: {s} {v}");
        for (role, ns) in roles {
            let body = serde_json::json!({"role": {"kind": "ClusterRole", "name": role},
                "subjects": [{"kind": "User", "name": name}]});
            let path = match ns {
                Some(ns) => format!("/api/v1/namespaces/{ns}/rolebindings/{name}-{role}"),
                None => format!("/api/v1/clusterrolebindings/{name}-{role}"),
            };
            let (s, v) = self.put(&path, body).await;
            assert_eq!(s, 200, "binding {role} to {name}: {v}");
        }
        let (s, v) = self
            .post("/api/v1/tokens", serde_json::json!({"subject": name}))
            .await;
        assert_eq!(s, 201, "a token for {name}: {v}");
        v["token"].as_str().unwrap().to_string()
    }

    async fn send_json(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .request(method, format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PUT, path, body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        self.send_json(reqwest::Method::PATCH, path, body).await
    }

    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.text().await.unwrap_or_default())
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// (pod id, log) of each pod of `deployment` whose log can be read now,
    /// in the API's order; `query` goes after `/logs` (e.g. `?tail=3`).
    pub async fn pod_logs(&self, deployment: &str, query: &str) -> Vec<(String, String)> {
        let (_, pods) = self
            .get(&format!("/api/v1/workloads/deployments/{deployment}/pods"))
            .await;
        let mut out = Vec::new();
        for p in pods["items"].as_array().into_iter().flatten() {
            let Some(id) = p["podId"].as_str() else {
                continue;
            };
            let (s, text) = self
                .get_text(&format!("/api/v1/pods/{id}/logs{query}"))
                .await;
            if s == 200 {
                out.push((id.to_string(), text));
            }
        }
        out
    }

    pub async fn delete(&self, path: &str) -> u16 {
        self.http
            .delete(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Stops zone az-a's hollow nodes, waits until all 4 are Lost and `ready`
    /// pods run Ready outside it.
    pub async fn lose_zone_a(&self, ready: i64) {
        let r = self
            .http
            .post(format!("{}/zones/az-a/stop", self.agent))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        self.wait_count(
            "az-a nodes lost",
            "SELECT count(*) FROM node_status WHERE zone = 'az-a' AND condition = 'Lost' AND NOT ready",
            4,
        )
        .await;
        self.wait_count(
            "running pods outside az-a",
            "SELECT count(*) FROM pod_instance p JOIN node_status n ON n.id = p.node_id
             WHERE p.phase = 'RUNNING' AND p.ready AND n.zone <> 'az-a'",
            ready,
        )
        .await;
    }

    /// Create `deployment(name, replicas, cpu)` (201), wait until every replica
    /// runs Ready, and return its id.
    pub async fn deploy_ready(&self, name: &str, replicas: i64, cpu: i64) -> String {
        let (status, body) = self
            .post(
                "/api/v1/workloads/deployments",
                deployment(name, replicas, cpu),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        self.wait_count(
            &format!("{replicas} running"),
            "SELECT count(*) FROM pod_instance WHERE phase = 'RUNNING' AND ready",
            replicas,
        )
        .await;
        body["deploymentId"].as_str().unwrap().to_string()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql).fetch_one(&self.pool).await.unwrap()
    }

    /// Wait until the query's count equals `n`.
    pub async fn wait_count(&self, what: &str, sql: &str, n: i64) {
        let pool = self.pool.clone();
        eventually(what, DEADLINE, || {
            let pool = pool.clone();
            async move {
                let c: i64 = sqlx::query_scalar(sql).fetch_one(&pool).await.ok()?;
                (c == n).then_some(())
            }
        })
        .await;
    }

    pub fn kafka(&self) -> infra::kafka::KafkaConfig {
        infra::kafka::KafkaConfig {
            brokers: self.brokers.clone(),
            prefix: self.prefix.clone(),
        }
    }

    pub async fn finish(mut self) {
        for p in &mut self.procs {
            p.kill().await;
        }
        self.pool.close().await;
        if let Ok(admin) = PgPool::connect(&admin_url()).await {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.db_name
            ))
            .execute(&admin)
            .await;
        }
    }
}

pub fn deployment(name: &str, replicas: i64, cpu: i64) -> Value {
    serde_json::json!({
        "namespace": "default", "name": name, "image": "demo:v1", "replicas": replicas,
        "resources": {"cpuRequestMilli": cpu, "cpuLimitMilli": cpu, "memRequestMb": 128, "memLimitMb": 128},
        "strategy": {"type": "RollingUpdate", "maxUnavailable": 1, "maxSurge": 1}
    })
}
