//! `orch replay` (rebuild every projection from the log into a schema of its
//! own, with a progress bar, an events/s figure and a checksum comparison
//! with the live tables; `--as-of` for time travel) and `orch snapshot`.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use infra::kafka::KafkaConfig;
use projectors::Progress;
use projectors::timetravel::{self, AsOf, Materialize};

use crate::Conn;

type Utc = chrono::DateTime<chrono::Utc>;

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// The schema to build into (default `replay_<utc time>`, or `asof_<offset>` with --as-of).
    #[arg(long)]
    pub into: Option<String>,
    /// Build the cluster as it was: a log offset (the state right after that batch) or an
    /// RFC 3339 instant (after every event that occurred at or before it).
    #[arg(long)]
    pub as_of: Option<AsOf>,
    /// Drop and rebuild the target schema if it exists.
    #[arg(long)]
    pub replace: bool,
    /// Skip the checksum comparison with the live tables (done by default without --as-of).
    #[arg(long)]
    pub no_verify: bool,
    /// Start from offset 0 even if a projection snapshot could be used.
    #[arg(long)]
    pub no_snapshot: bool,
    /// Most log records per transaction.
    #[arg(long, default_value_t = 20_000)]
    pub batch: usize,
}

#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub conn: Conn,
    /// List the snapshots instead of taking one.
    #[arg(long)]
    pub list: bool,
}

fn kafka(conn: &Conn) -> anyhow::Result<KafkaConfig> {
    let Some(brokers) = conn.kafka_brokers.clone() else {
        bail!("set KAFKA_BROKERS (or --kafka-brokers): the log to replay");
    };
    Ok(KafkaConfig {
        brokers,
        prefix: conn.topic_prefix.clone(),
    })
}

/// The live tables' pool, migrated.
async fn connect(conn: &Conn, max: u32) -> anyhow::Result<sqlx::PgPool> {
    let live = infra::db::connect(&conn.database_url, None, max)
        .await
        .with_context(|| format!("connecting to PostgreSQL at {}", conn.database_url))?;
    infra::db::migrate(&live)
        .await
        .context("running migrations")?;
    Ok(live)
}

/// Prints where a replay is until `stop` fires: a bar on a terminal, a line every 2 s otherwise.
fn show_progress(
    progress: Arc<Progress>,
    from: i64,
    to: i64,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let tty = std::io::stderr().is_terminal();
        let started = Instant::now();
        let tick = if tty { 200 } else { 2000 };
        let line = || {
            let at = progress.next_offset.load(Ordering::Relaxed);
            let events = progress.events.load(Ordering::Relaxed);
            let frac = if to > from {
                ((at - from) as f64 / (to - from) as f64).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let rate = events as f64 / secs;
            let eta = if frac > 0.0 { secs / frac - secs } else { 0.0 };
            let filled = (frac * 30.0) as usize;
            format!(
                "replay [{}{}] {:5.1}%  offset {at}/{to}  {events} events  {rate:.0} events/s  eta {eta:.0}s",
                "#".repeat(filled),
                ".".repeat(30 - filled),
                frac * 100.0
            )
        };
        loop {
            let stopped = tokio::select! {
                _ = stop.cancelled() => true,
                _ = tokio::time::sleep(Duration::from_millis(tick)) => false,
            };
            let mut err = std::io::stderr();
            // The last line stays: where the replay ended.
            if tty && !stopped {
                let _ = write!(err, "\r{}", line());
            } else if tty {
                let _ = writeln!(err, "\r{}", line());
            } else {
                let _ = writeln!(err, "{}", line());
            }
            let _ = err.flush();
            if stopped {
                break;
            }
        }
    })
}

pub async fn replay(a: ReplayArgs) -> anyhow::Result<()> {
    let kafka = kafka(&a.conn)?;
    let live = connect(&a.conn, 4).await?;
    let topic = kafka.events_topic();
    let (_, end) = kafka
        .watermarks(&topic)
        .await
        .with_context(|| format!("reading the end of {topic}"))?;
    let verify = !a.no_verify && a.as_of.is_none();
    let live_offset = timetravel::offset_of(&live, &topic).await?;
    // A verified replay stops where the live tables are, so both can be compared.
    let end = if verify { live_offset.min(end) } else { end };
    let (stop_offset, stop_after) = timetravel::resolve(a.as_of, end, &live).await?;
    let schema = match (&a.into, a.as_of) {
        (Some(s), _) => s.clone(),
        (None, Some(_)) => format!("asof_{stop_offset}"),
        (None, None) => format!("replay_{}", chrono::Utc::now().format("%Y%m%d_%H%M%S")),
    };
    timetravel::check_schema_name(&schema)?;
    eprintln!(
        "replaying {topic} up to offset {stop_offset}{} into schema {schema}",
        stop_after.map_or(String::new(), |t| format!(" (events at or before {t})"))
    );
    let progress = Arc::new(Progress::default());
    let m = Materialize {
        kafka: kafka.clone(),
        database_url: a.conn.database_url.clone(),
        schema: schema.clone(),
        replace: a.replace,
        stop_offset,
        stop_after,
        use_snapshots: !a.no_snapshot,
        batch: a.batch,
        progress: progress.clone(),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let bar = show_progress(progress.clone(), 0, stop_offset, stop.clone());
    let built = timetravel::materialize(&m, &live).await;
    stop.cancel();
    let _ = bar.await;
    let built = built?;
    let rate = built.events as f64 / built.projecting.as_secs_f64().max(1e-6);
    if let Some(s) = &built.snapshot {
        println!("started from snapshot {s} (offset {})", built.from_offset);
    }
    println!(
        "replayed {} events (offsets {}..{}) in {:.2} s: {:.0} events/s; schema, snapshot and indexes {:.2} s more",
        built.events,
        built.from_offset,
        built.next_offset,
        built.projecting.as_secs_f64(),
        rate,
        built.other.as_secs_f64()
    );
    println!(
        "schema {schema} holds the projection tables at offset {}",
        built.next_offset
    );
    if !verify {
        return Ok(());
    }
    // Compare with the live tables at the same offset, following them if they moved on.
    let replayed = infra::db::connect(&a.conn.database_url, Some(&schema), 1).await?;
    for round in 0..10 {
        let (live_at, live_sums) = timetravel::checksums(&live, &topic).await?;
        let (at, sums) = timetravel::checksums(&replayed, &topic).await?;
        if live_at > at {
            eprintln!("the live tables moved on to offset {live_at}; catching up (round {round})");
            timetravel::extend(&m, live_at).await?;
            continue;
        }
        if live_at < at {
            bail!(
                "the live tables are at offset {live_at}, behind the replay at {at}: is the projector running?"
            );
        }
        let mut equal = true;
        println!("{:<22} {:<34} {:<34}", "table", "live", "replay");
        for ((t, l), (_, r)) in live_sums.iter().zip(&sums) {
            let mark = if l == r { "" } else { "  DIFFERENT" };
            equal &= l == r;
            println!("{t:<22} {l:<34} {r:<34}{mark}");
        }
        if !equal {
            bail!("the replay differs from the live tables at offset {at}");
        }
        println!("verified: every table equals the live one at offset {at}");
        return Ok(());
    }
    bail!("the live tables kept moving; could not compare (stop the writers or use --no-verify)")
}

pub async fn snapshot(a: SnapshotArgs) -> anyhow::Result<()> {
    let kafka = kafka(&a.conn)?;
    let live = connect(&a.conn, 2).await?;
    if a.list {
        type Row = (String, i64, Option<Utc>, Utc);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT schema_name, next_offset, last_event_at, taken_at FROM projection_snapshots
                 WHERE topic = $1 ORDER BY next_offset",
        )
        .bind(kafka.events_topic())
        .fetch_all(&live)
        .await?;
        println!(
            "{:<24} {:>12} {:<32} taken",
            "schema", "offset", "last event"
        );
        for (s, o, l, t) in rows {
            println!(
                "{s:<24} {o:>12} {:<32} {t}",
                l.map_or("-".into(), |l| l.to_rfc3339())
            );
        }
        return Ok(());
    }
    let started = Instant::now();
    match timetravel::take_snapshot(&live, &kafka.events_topic()).await? {
        Some((name, offset)) => println!(
            "snapshot {name} of the projection tables at offset {offset} in {:.2} s",
            started.elapsed().as_secs_f64()
        ),
        None => println!("nothing to do: no projection yet, or a snapshot of this offset exists"),
    }
    Ok(())
}
