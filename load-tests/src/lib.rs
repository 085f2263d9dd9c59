//! What the load-test programs share: the raw limits of the machine, and
//! polling PostgreSQL with a deadline.

use std::time::{Duration, Instant};

use anyhow::Context;
use infra::kafka::KafkaConfig;
use rdkafka::producer::FutureRecord;

/// Where the broker and PostgreSQL are, for every benchmark program.
#[derive(clap::Args, Debug, Clone)]
pub struct Conn {
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: String,
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
}

impl Conn {
    /// Logging to stderr, a topic prefix of this run's own, and the raw
    /// produce rate (printed): how every end-to-end benchmark starts.
    /// Returns the log's config, the run id and the rate.
    pub async fn begin(&self, raw_records: u32) -> anyhow::Result<(KafkaConfig, String, f64)> {
        tracing_subscriber::fmt()
            .with_env_filter("warn")
            .with_writer(std::io::stderr)
            .init();
        let run = uuid::Uuid::new_v4().simple().to_string()[..10].to_string();
        let kafka = KafkaConfig {
            brokers: self.kafka_brokers.clone(),
            prefix: format!("lt{run}."),
        };
        println!("== raw limits");
        let raw = raw_produce_rate(&kafka, raw_records).await?;
        println!("broker produce (idempotent, acks=all, 250 B records): {raw:.0} records/s");
        Ok((kafka, run, raw))
    }
}

/// Records/s an idempotent producer (acks=all) gets into the broker: 250-byte records.
pub async fn raw_produce_rate(kafka: &KafkaConfig, n: u32) -> anyhow::Result<f64> {
    let producer = kafka.producer(5).context("producer")?;
    let topic = format!("{}raw-produce", kafka.prefix);
    let payload = vec![b'x'; 250];
    let t = Instant::now();
    let mut futs = Vec::with_capacity(n as usize);
    for i in 0..n {
        let key = i.to_string();
        loop {
            match producer.send_result(FutureRecord::to(&topic).key(&key).payload(&payload)) {
                Ok(f) => {
                    futs.push(f);
                    break;
                }
                Err((_, _)) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    }
    for f in futs {
        infra::kafka::wait_delivery(f).await?;
    }
    Ok(n as f64 / t.elapsed().as_secs_f64())
}

/// Poll `sql` (a count) until it reaches `n`, printing progress every 5 s; fail after `limit`.
pub async fn wait_for(
    pool: &sqlx::PgPool,
    sql: &str,
    n: i64,
    what: &str,
    limit: Duration,
) -> anyhow::Result<()> {
    let t = Instant::now();
    let mut last = Instant::now();
    loop {
        let c: i64 = sqlx::query_scalar(sql).fetch_one(pool).await?;
        if c >= n {
            return Ok(());
        }
        if last.elapsed() > Duration::from_secs(5) {
            println!("  {what}: {c}/{n} after {:.0} s", t.elapsed().as_secs_f64());
            last = Instant::now();
        }
        anyhow::ensure!(t.elapsed() < limit, "{what}: {c}/{n} after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A new database `name` beside the one `database_url` names: (admin pool, its URL, a pool on it).
pub async fn fresh_database(
    database_url: &str,
    name: &str,
) -> anyhow::Result<(sqlx::PgPool, String, sqlx::PgPool)> {
    let admin = sqlx::PgPool::connect(database_url).await?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await?;
    let url = format!(
        "{}/{name}",
        database_url
            .rsplit_once('/')
            .map(|x| x.0)
            .unwrap_or(database_url)
    );
    let pool = infra::db::connect(&url, None, 10).await?;
    Ok((admin, url, pool))
}

/// Serve the REST API on a free local port: (base URL, a bootstrap token).
/// `POST /api/v1/namespaces`; one that exists already is fine.
pub async fn create_namespace(api: &str, token: &str, name: &str) -> anyhow::Result<()> {
    let r = reqwest::Client::new()
        .post(format!("{api}/api/v1/namespaces"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": name}))
        .send()
        .await?;
    let status = r.status();
    if !status.is_success() && status != reqwest::StatusCode::CONFLICT {
        anyhow::bail!("creating namespace {name}: {status} {}", r.text().await?);
    }
    Ok(())
}

/// A token for `who`: the built-in `admin`, or a user created now with
/// `roles` (cluster roles) bound to it cluster-wide.
pub async fn mint(api: &command_api::Api, who: &str, roles: &[&str]) -> anyhow::Result<String> {
    use domain::command as cmd;
    if who != domain::identity::ADMIN {
        let name =
            domain::identity::UserName::parse("user", who).map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = api
            .submit_as_bootstrap(domain::Command::CreateUser(cmd::CreateUser {
                name,
                groups: Default::default(),
            }))
            .await;
        for role in roles {
            api.submit_as_bootstrap(domain::Command::PutRoleBinding(cmd::PutRoleBinding {
                namespace: None,
                name: domain::names::Name::parse("name", &format!("{who}-{role}"))
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
                role: domain::rbac::RoleRef::ClusterRole {
                    name: role.to_string(),
                },
                subjects: vec![domain::rbac::Subject::User {
                    name: who.to_string(),
                }],
            }))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
    }
    api.mint_token(who)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn serve_api(
    kafka: &KafkaConfig,
    pool: &sqlx::PgPool,
    who: &str,
    command_timeout: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<(String, String)> {
    serve_api_limited(kafka, pool, who, command_timeout, stop, None).await
}

/// `serve_api` with a per-subject rate limit.
pub async fn serve_api_limited(
    kafka: &KafkaConfig,
    pool: &sqlx::PgPool,
    who: &str,
    command_timeout: Duration,
    stop: tokio_util::sync::CancellationToken,
    rate_limit: Option<command_api::RateLimit>,
) -> anyhow::Result<(String, String)> {
    let (url, token, _) =
        serve_api_with(kafka, pool, who, command_timeout, stop, rate_limit, true).await?;
    Ok((url, token))
}

/// An API in this process, its URL, a cluster-admin token for `who`, and
/// the API itself (to mint more tokens); `authorize: false` turns RBAC off.
pub async fn serve_api_with(
    kafka: &KafkaConfig,
    pool: &sqlx::PgPool,
    who: &str,
    command_timeout: Duration,
    stop: tokio_util::sync::CancellationToken,
    rate_limit: Option<command_api::RateLimit>,
    authorize: bool,
) -> anyhow::Result<(String, String, command_api::Api)> {
    let api = command_api::build(
        kafka,
        pool.clone(),
        command_api::ApiConfig {
            command_timeout,
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| infra::db::DEFAULT_DATABASE_URL.into()),
            read_wait: Duration::from_secs(10),
            // The load tests drive everything as one subject, as fast as it
            // goes, unless they measure the limit.
            rate_limit,
            authorize,
            secret_keys: infra::keyring::KeySource::None,
        },
        stop,
    )
    .await?;
    let token = mint(&api, who, &["cluster-admin"]).await?;
    let router = api.router.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((url, token, api))
}

/// The control plane in this process (decider, projector, reconcilers, API)
/// and `nodes` hollow nodes in 3 zones, on a fresh database: what the
/// end-to-end benchmarks share.
pub struct Plane {
    pub kafka: KafkaConfig,
    pub admin: sqlx::PgPool,
    pub db: String,
    pub pool: sqlx::PgPool,
    pub api: String,
    pub token: String,
    pub stop: tokio_util::sync::CancellationToken,
}

impl Plane {
    pub async fn start(
        kafka: KafkaConfig,
        database_url: &str,
        db: &str,
        nodes: u32,
    ) -> anyhow::Result<Plane> {
        Self::start_with(kafka, database_url, db, nodes, |_, _| {}).await
    }

    /// `start`, with the reconcilers' and the hollow nodes' settings changed by `tune`.
    pub async fn start_with(
        kafka: KafkaConfig,
        database_url: &str,
        db: &str,
        nodes: u32,
        tune: impl FnOnce(&mut reconcilers::ReconcilerConfig, &mut node_agent::HollowConfig),
    ) -> anyhow::Result<Plane> {
        let (admin, url, pool) = fresh_database(database_url, db).await?;
        infra::db::migrate(&pool).await?;
        kafka.ensure_topics().await?;
        let stop = tokio_util::sync::CancellationToken::new();
        let dcfg = decider::DeciderConfig {
            cell: 0,
            snapshot_every: 1_000_000,
            holder: "load-test".into(),
            database_url: url.clone(),
        };
        tokio::spawn(decider::run(
            kafka.clone(),
            pool.clone(),
            dcfg,
            stop.clone(),
        ));
        tokio::spawn(projectors::run(
            kafka.clone(),
            pool.clone(),
            projectors::ProjectorConfig::default(),
            stop.clone(),
        ));
        let mut rcfg = reconcilers::ReconcilerConfig::default();
        let mut hollow = node_agent::HollowConfig {
            nodes_per_zone: nodes.div_ceil(3),
            zones: vec!["az-a".to_string(), "az-b".into(), "az-c".into()],
            start_delay: Duration::ZERO,
            ready_delay: Duration::ZERO,
            ..Default::default()
        };
        tune(&mut rcfg, &mut hollow);
        tokio::spawn(reconcilers::run(kafka.clone(), rcfg, stop.clone()));
        let nodes_total = hollow.nodes_per_zone as i64 * 3;
        tokio::spawn(node_agent::run_hollow(
            kafka.clone(),
            hollow,
            None,
            stop.clone(),
        ));
        let (api, token) = serve_api(
            &kafka,
            &pool,
            "load-test",
            Duration::from_secs(30),
            stop.clone(),
        )
        .await?;
        wait_for(
            &pool,
            "SELECT count(*) FROM node_status WHERE ready",
            nodes_total,
            "nodes ready",
            Duration::from_secs(120),
        )
        .await?;
        Ok(Plane {
            kafka,
            admin,
            db: db.to_string(),
            pool,
            api,
            token,
            stop,
        })
    }

    /// Create namespace `name` (objects go only into namespaces that exist).
    pub async fn namespace(&self, name: &str) -> anyhow::Result<()> {
        create_namespace(&self.api, &self.token, name).await
    }

    /// Stop everything and drop the database.
    pub async fn finish(self) {
        self.stop.cancel();
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.pool.close().await;
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db))
            .execute(&self.admin)
            .await;
    }
}
