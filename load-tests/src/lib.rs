//! What the load-test programs share: the raw limits of the machine, and
//! polling PostgreSQL with a deadline.

use std::time::{Duration, Instant};

use anyhow::Context;
use infra::kafka::KafkaConfig;
use rdkafka::producer::FutureRecord;

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
pub async fn serve_api(
    kafka: &KafkaConfig,
    pool: &sqlx::PgPool,
    who: &str,
    command_timeout: Duration,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<(String, String)> {
    let token = command_api::bootstrap_token(pool, who, None).await?;
    let router = command_api::build(
        kafka,
        pool.clone(),
        command_api::ApiConfig {
            command_timeout,
            database_url: std::env::var("DATABASE_URL")
                .unwrap_or_else(|_| infra::db::DEFAULT_DATABASE_URL.into()),
        },
        stop,
    )
    .await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((api, token))
}
