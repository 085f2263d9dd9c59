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

    // Floors measured in this run: reading and decoding the log (and folding
    // it into the decider's in-memory state, what a decider restart does),
    // and PostgreSQL writing the event_log rows alone.
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
    let t = Instant::now();
    let mut follower = EventFollower::new(&kafka, 0, 0)?;
    let mut state = domain::state::State::default();
    while follower.next_offset < end {
        for (_, b) in follower.next(20_000, Duration::from_millis(500)).await? {
            for e in &b.events {
                state.evolve(&e.body);
            }
        }
    }
    println!(
        "read + decode + fold into the decider's state (a decider rebuild): {:.0} events/s ({} pods in the state)",
        read as f64 / t.elapsed().as_secs_f64(),
        state.pods.len()
    );
    let copy_rate = event_log_copy_rate(&live).await?;
    println!(
        "PostgreSQL COPY of these event_log rows alone (one backend, unlogged, primary key only): {copy_rate:.0} rows/s"
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
        let ms = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) / 1000;
        println!(
            "  where the time went (ms): read+decode {}, fold {}, write {}",
            ms(&progress.read_us),
            ms(&progress.fold_us),
            ms(&progress.write_us)
        );
        if run == a.runs {
            let replayed = infra::db::connect(&a.database_url, Some(&m.schema), 1).await?;
            let (_, l) = timetravel::checksums(&live, &topic).await?;
            let (_, r) = timetravel::checksums(&replayed, &topic).await?;
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
        "median replay: {median:.0} events/s ({:.0}% of read + decode alone, {:.0}% of PostgreSQL's COPY of the event_log rows alone)",
        median * 100.0 / read_rate,
        median * 100.0 / copy_rate
    );
    Ok(())
}

/// Rows/s of `COPY … FROM STDIN` of the live `event_log`'s own rows into an
/// unlogged copy of the table with only its primary key (what a replay's
/// `event_log` writes cost PostgreSQL, without any client work).
async fn event_log_copy_rate(live: &sqlx::PgPool) -> anyhow::Result<f64> {
    use futures::TryStreamExt;
    let mut conn = live.acquire().await?;
    let chunks: Vec<_> = conn
        .copy_out_raw("COPY event_log TO STDOUT (FORMAT csv)")
        .await?
        .try_collect()
        .await?;
    let (rows,): (i64,) = sqlx::query_as("SELECT count(*) FROM event_log")
        .fetch_one(&mut *conn)
        .await?;
    sqlx::query("DROP TABLE IF EXISTS copy_probe_replay")
        .execute(&mut *conn)
        .await?;
    sqlx::query("CREATE UNLOGGED TABLE copy_probe_replay (LIKE event_log)")
        .execute(&mut *conn)
        .await?;
    sqlx::query("ALTER TABLE copy_probe_replay ADD PRIMARY KEY (event_id)")
        .execute(&mut *conn)
        .await?;
    let t = Instant::now();
    let mut copy = conn
        .copy_in_raw("COPY copy_probe_replay FROM STDIN (FORMAT csv)")
        .await?;
    for c in chunks {
        copy.send(c).await?;
    }
    copy.finish().await?;
    let rate = rows as f64 / t.elapsed().as_secs_f64();
    sqlx::query("DROP TABLE copy_probe_replay")
        .execute(&mut *conn)
        .await?;
    Ok(rate)
}
