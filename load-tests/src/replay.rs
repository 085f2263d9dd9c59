//! Replay speed: rebuild every projection of an existing log from offset 0
//! into fresh schemas (the code `orch replay` runs), several times, and
//! compare with what reading and decoding the log alone costs on this
//! machine in the same run. The log comes from a kept scale run:
//!
//! `target/release/scale --preset small --keep` (prints the database and the topic prefix), then
//! `KAFKA_BROKERS=… target/release/replay --database-url postgres://…/<db> --prefix <prefix>`

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use infra::kafka::{EventFollower, KafkaConfig};
use projectors::Progress;
use projectors::timetravel::{self, Materialize};

#[derive(Parser)]
struct Args {
    #[arg(long, env = "KAFKA_BROKERS")]
    kafka_brokers: String,
    /// The database holding the live projection of the log.
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The log's topic prefix (`sc<run>.` for a scale run).
    #[arg(long, env = "ORCH_TOPIC_PREFIX")]
    prefix: String,
    /// Full replays to time.
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Log records per transaction.
    #[arg(long, default_value_t = 20_000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter("warn")
        .with_writer(std::io::stderr)
        .init();
    let a = Args::parse();
    let kafka = KafkaConfig {
        brokers: a.kafka_brokers.clone(),
        prefix: a.prefix.clone(),
    };
    let live = infra::db::connect(&a.database_url, None, 4).await?;
    let topic = kafka.events_topic();
    let end = timetravel::offset_of(&live, &topic).await?;
    anyhow::ensure!(end > 0, "no projection of {topic} in this database");
    let (events_live,): (i64,) = sqlx::query_as("SELECT count(*) FROM event_log")
        .fetch_one(&live)
        .await?;
    println!("== replay of {topic}: {end} log records, {events_live} events");

    // The floor: read and decode every record, write nothing.
    let t = Instant::now();
    let mut follower = EventFollower::new(&kafka, 0, 0)?;
    let mut read = 0u64;
    while follower.next_offset < end {
        for (_, b) in follower.next(20_000, Duration::from_millis(500)).await? {
            read += b.events.len() as u64;
        }
    }
    let read_rate = read as f64 / t.elapsed().as_secs_f64();
    println!(
        "read + decode only: {read} events in {:.2} s = {read_rate:.0} events/s",
        t.elapsed().as_secs_f64()
    );

    let mut rates = Vec::new();
    for run in 1..=a.runs {
        let progress = Arc::new(Progress::default());
        let m = Materialize {
            kafka: kafka.clone(),
            database_url: a.database_url.clone(),
            schema: format!("bench_replay_{run}"),
            replace: true,
            stop_offset: end,
            stop_after: None,
            use_snapshots: false,
            batch: a.batch,
            progress: progress.clone(),
        };
        let ticker = {
            let p = progress.clone();
            tokio::spawn(async move {
                let t = Instant::now();
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let e = p.events.load(Ordering::Relaxed);
                    println!(
                        "  run {run}: offset {}/{end}, {e} events, {:.0} events/s",
                        p.next_offset.load(Ordering::Relaxed),
                        e as f64 / t.elapsed().as_secs_f64()
                    );
                }
            })
        };
        let built = timetravel::materialize(&m, &live).await;
        ticker.abort();
        let built = built?;
        let rate = built.events as f64 / built.projecting.as_secs_f64();
        let total = built.events as f64 / (built.projecting + built.other).as_secs_f64();
        println!(
            "run {run}: {} events in {:.2} s = {rate:.0} events/s projecting; {:.0} events/s including schema and index builds ({:.2} s)",
            built.events,
            built.projecting.as_secs_f64(),
            total,
            built.other.as_secs_f64()
        );
        rates.push(rate);
        if run == a.runs {
            let replayed = infra::db::connect(&a.database_url, Some(&m.schema), 1).await?;
            let (_, l) = timetravel::live_checksums(&live, &topic).await?;
            let (_, r) = timetravel::live_checksums(&replayed, &topic).await?;
            let equal = l == r;
            println!(
                "checksums equal to the live tables: {}",
                if equal { "yes" } else { "NO" }
            );
            anyhow::ensure!(equal, "the replay differs from the live tables");
        }
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", m.schema))
            .execute(&live)
            .await?;
    }
    rates.sort_by(|a, b| a.total_cmp(b));
    let median = rates[rates.len() / 2];
    println!(
        "median replay: {median:.0} events/s ({:.0}% of read + decode alone)",
        median * 100.0 / read_rate
    );
    Ok(())
}
