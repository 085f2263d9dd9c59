//! Replays and time travel: build the projection tables of any point of the
//! log into a schema of its own, from offset 0 or from the latest projection
//! snapshot before that point, with the same projector code as the live
//! tables (so a replay to the end equals the live tables, checksum for
//! checksum).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use infra::kafka::KafkaConfig;
use sqlx::{Connection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::run::{Progress, ProjectorConfig};
use crate::{Error, Result};

/// A point of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AsOf {
    /// The state right after the batch at this offset was applied.
    Offset(i64),
    /// The state after every event that occurred at or before this instant.
    Time(DateTime<Utc>),
}

impl std::str::FromStr for AsOf {
    type Err = String;
    /// A log offset (`1234`) or an RFC 3339 instant (`2026-11-29T10:00:00Z`).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let s = s.trim();
        if let Ok(o) = s.parse::<i64>() {
            return if o >= 0 {
                Ok(AsOf::Offset(o))
            } else {
                Err(format!("asOf offset must be ≥ 0, got {o}"))
            };
        }
        DateTime::parse_from_rfc3339(s)
            .map(|t| AsOf::Time(t.with_timezone(&Utc)))
            .map_err(|e| {
                format!("asOf must be a log offset or an RFC 3339 timestamp such as 2026-11-29T10:00:00Z ({e}): {s:?}")
            })
    }
}

/// What to build and where.
#[derive(Debug, Clone)]
pub struct Materialize {
    pub kafka: KafkaConfig,
    pub database_url: String,
    /// The target schema; refused if it exists and `replace` is false.
    pub schema: String,
    pub replace: bool,
    /// Stop before this offset (exclusive): see `resolve`.
    pub stop_offset: i64,
    /// The instant asked for, if any: only snapshots not newer than it are used.
    pub stop_after: Option<DateTime<Utc>>,
    /// Start from the latest usable snapshot (listed in the live schema's `projection_snapshots`).
    pub use_snapshots: bool,
    /// Most log records per transaction.
    pub batch: usize,
    pub progress: Arc<Progress>,
}

/// What a build did.
#[derive(Debug, Clone)]
pub struct Built {
    pub schema: String,
    /// The next offset the built tables would read.
    pub next_offset: i64,
    /// Where it started (0, or a snapshot's offset).
    pub from_offset: i64,
    pub snapshot: Option<String>,
    /// Events applied by the projector (not counting a snapshot's).
    pub events: u64,
    /// Time spent projecting events.
    pub projecting: Duration,
    /// Time spent on everything else (schema, snapshot copy, index builds).
    pub other: Duration,
}

/// A schema name we create or drop: letters, digits and `_` only.
pub fn check_schema_name(s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.len() <= 63
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && !s.starts_with("pg_")
        && s != "public";
    if ok {
        Ok(())
    } else {
        Err(Error::Other(format!(
            "schema name {s:?}: use 1–63 letters, digits and _, not starting with a digit, not public or pg_*"
        )))
    }
}

/// Build the projection tables as of `m.stop_offset` / `m.stop_after` into `m.schema`.
pub async fn materialize(m: &Materialize, live: &PgPool) -> Result<Built> {
    check_schema_name(&m.schema)?;
    let started = Instant::now();
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname = $1")
            .bind(&m.schema)
            .fetch_optional(live)
            .await?;
    if exists.is_some() {
        if !m.replace {
            return Err(Error::Other(format!(
                "schema {} already exists (pass --replace to rebuild it)",
                m.schema
            )));
        }
        sqlx::query(&format!("DROP SCHEMA \"{}\" CASCADE", m.schema))
            .execute(live)
            .await?;
    }
    let pool = infra::db::connect(&m.database_url, Some(&m.schema), 4).await?;
    infra::db::migrate(&pool).await?;
    let topic = m.kafka.events_topic();
    // A derived copy: no WAL (a PostgreSQL crash empties it, offsets
    // included, and the next build starts over).
    let tables: Vec<(String,)> =
        sqlx::query_as("SELECT tablename::text FROM pg_tables WHERE schemaname = $1")
            .bind(&m.schema)
            .fetch_all(&pool)
            .await?;
    for (t,) in &tables {
        sqlx::query(&format!(
            "ALTER TABLE \"{}\".\"{t}\" SET UNLOGGED",
            m.schema
        ))
        .execute(&pool)
        .await?;
    }
    // Secondary indexes are built once at the end, not row by row (the
    // projector's writes go by primary or unique keys).
    let deferred: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, pg_get_indexdef(ix.indexrelid)
           FROM pg_index ix
           JOIN pg_class i ON i.oid = ix.indexrelid
           JOIN pg_class t ON t.oid = ix.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = $1 AND NOT ix.indisunique",
    )
    .bind(&m.schema)
    .fetch_all(&pool)
    .await?;
    for (name, _) in &deferred {
        sqlx::query(&format!("DROP INDEX \"{}\".\"{name}\"", m.schema))
            .execute(&pool)
            .await?;
    }

    // Seed from the latest snapshot at or before the point asked for.
    let mut snapshot = None;
    let mut from_offset = 0;
    let mut from_epoch = 0u64;
    if m.use_snapshots {
        let snap: Option<(String, i64, i64)> = sqlx::query_as(
            "SELECT schema_name, next_offset, max_epoch FROM projection_snapshots
             WHERE topic = $1 AND next_offset <= $2 AND ($3::timestamptz IS NULL OR last_event_at IS NULL OR last_event_at <= $3)
             ORDER BY next_offset DESC LIMIT 1",
        )
        .bind(&topic)
        .bind(m.stop_offset)
        .bind(m.stop_after)
        .fetch_optional(live)
        .await?;
        if let Some((name, offset, epoch)) = snap {
            from_epoch = epoch as u64;
            let (live_schema,): (String,) = sqlx::query_as("SELECT current_schema()::text")
                .fetch_one(live)
                .await?;
            let mut tx = pool.begin().await?;
            for t in crate::tables::snapshot_tables() {
                sqlx::query(&format!(
                    "INSERT INTO \"{}\".{t} SELECT * FROM \"{name}\".{t}",
                    m.schema
                ))
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(&format!(
                "INSERT INTO \"{}\".event_log SELECT * FROM \"{live_schema}\".event_log WHERE log_offset < $1",
                m.schema
            ))
            .bind(offset)
            .execute(&mut *tx)
            .await?;
            crate::run::store_offset(&mut tx, "main", &topic, offset, epoch as u64).await?;
            tx.commit().await?;
            from_offset = offset;
            snapshot = Some(name);
        }
    }
    m.progress
        .next_offset
        .store(from_offset, std::sync::atomic::Ordering::Relaxed);
    let projecting_started = Instant::now();
    let before_events = m.progress.events.load(std::sync::atomic::Ordering::Relaxed);
    project_pipelined(m, &pool, from_offset, from_epoch).await?;
    let projecting = projecting_started.elapsed();
    let events = m.progress.events.load(std::sync::atomic::Ordering::Relaxed) - before_events;
    let mut conn = pool.acquire().await?;
    for (_, def) in &deferred {
        sqlx::query(def).execute(&mut *conn).await?;
    }
    let next_offset = offset_of(&mut *conn, &topic).await?;
    drop(conn);
    pool.close().await;
    Ok(Built {
        schema: m.schema.clone(),
        next_offset,
        from_offset,
        snapshot,
        events,
        projecting,
        other: started.elapsed().saturating_sub(projecting),
    })
}

/// The projector loop for a fresh schema, in two stages: one task reads,
/// decodes and folds the next records while the previous ones are written,
/// and the `event_log` rows go over a second connection at the same time as
/// the other tables (so two PostgreSQL backends work). The tables and the
/// offset are not one transaction as in the live projector: a build that
/// fails is dropped and started again, never resumed.
async fn project_pipelined(
    m: &Materialize,
    pool: &PgPool,
    from: i64,
    max_epoch: u64,
) -> Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    let stop = m.stop_offset;
    if from >= stop {
        return Ok(());
    }
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(crate::Changes, i64, u64)>(2);
    let (kafka, batch, progress) = (m.kafka.clone(), m.batch, m.progress.clone());
    let reader = tokio::spawn(async move {
        let mut follower = infra::kafka::EventFollower::new(&kafka, from, max_epoch)?;
        while follower.next_offset < stop {
            let started = Instant::now();
            let batches = follower.next(batch, Duration::from_millis(200)).await?;
            let read = started.elapsed();
            let mut changes = crate::Changes::default();
            let mut next = follower.next_offset;
            for (offset, b) in &batches {
                if *offset >= stop {
                    next = *offset;
                    break;
                }
                changes.add(*offset, b);
            }
            progress.read_us.fetch_add(read.as_micros() as u64, Relaxed);
            progress
                .fold_us
                .fetch_add((started.elapsed() - read).as_micros() as u64, Relaxed);
            let msg = (changes, next.min(stop), follower.max_epoch);
            if tx.send(msg).await.is_err() {
                break;
            }
        }
        Ok::<(), Error>(())
    });
    let topic = m.kafka.events_topic();
    while let Some((changes, next, epoch)) = rx.recv().await {
        let started = Instant::now();
        let log = async {
            let mut t = pool.begin().await?;
            changes.write_log(&mut t).await?;
            t.commit().await?;
            Ok::<(), Error>(())
        };
        let state = async {
            let mut t = pool.begin().await?;
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *t)
                .await?;
            changes.write_state(&mut t).await?;
            crate::run::store_offset(&mut t, "main", &topic, next, epoch).await?;
            t.commit().await?;
            Ok::<(), Error>(())
        };
        let (a, b) = tokio::join!(log, state);
        a?;
        b?;
        m.progress
            .write_us
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        m.progress.next_offset.store(next, Relaxed);
        m.progress.events.fetch_add(changes.len() as u64, Relaxed);
    }
    match reader.await {
        Ok(r) => r,
        Err(e) => Err(Error::Other(format!("the replay's reader stopped: {e}"))),
    }
}

/// Project further into an already built schema, up to `stop_offset`
/// (a replay catching up with live tables that moved on meanwhile).
pub async fn extend(m: &Materialize, stop_offset: i64) -> Result<()> {
    check_schema_name(&m.schema)?;
    let pool = infra::db::connect(&m.database_url, Some(&m.schema), 2).await?;
    crate::run(
        m.kafka.clone(),
        pool.clone(),
        ProjectorConfig {
            name: "main".into(),
            max_batch: m.batch,
            stop_at: Some(stop_offset),
            progress: Some(m.progress.clone()),
        },
        CancellationToken::new(),
    )
    .await?;
    pool.close().await;
    Ok(())
}

/// Resolve a point of the log to (stop offset, stop instant) with the live
/// event log: an offset `o` stops before `o + 1`, an instant before the
/// first batch with an event after it (compared at the table's microsecond
/// precision, so the instant of an event read from the table includes that
/// event). Both are capped at `end` (the log's end).
pub async fn resolve(
    as_of: Option<AsOf>,
    end: i64,
    live: &PgPool,
) -> Result<(i64, Option<DateTime<Utc>>)> {
    Ok(match as_of {
        None => (end, None),
        Some(AsOf::Offset(o)) => ((o + 1).min(end), None),
        Some(AsOf::Time(t)) => {
            let first_after: Option<(Option<i64>,)> =
                sqlx::query_as("SELECT min(log_offset) FROM event_log WHERE occurred_at > $1")
                    .bind(t)
                    .fetch_optional(live)
                    .await?;
            let stop = first_after.and_then(|r| r.0).unwrap_or(end).min(end);
            (stop, Some(t))
        }
    })
}

/// Copy the live projection tables, consistent with their offset, into a
/// new schema `snapshot_<offset>`, and record it in `projection_snapshots`.
/// Returns `None` if a snapshot of this offset already exists.
pub async fn take_snapshot(live: &PgPool, topic: &str) -> Result<Option<(String, i64)>> {
    let mut conn = live.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await?;
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT next_offset, max_epoch FROM projection_offsets WHERE projector = 'main' AND topic = $1 AND partition = 0",
    )
    .bind(topic)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((offset, epoch)) = row else {
        return Ok(None);
    };
    let name = format!("snapshot_{offset}");
    let exists: Option<(String,)> =
        sqlx::query_as("SELECT schema_name FROM projection_snapshots WHERE schema_name = $1")
            .bind(&name)
            .fetch_optional(&mut *tx)
            .await?;
    if exists.is_some() {
        return Ok(None);
    }
    sqlx::query(&format!("CREATE SCHEMA \"{name}\""))
        .execute(&mut *tx)
        .await?;
    for t in crate::tables::snapshot_tables() {
        sqlx::query(&format!("CREATE TABLE \"{name}\".{t} AS TABLE {t}"))
            .execute(&mut *tx)
            .await?;
    }
    let (last,): (Option<DateTime<Utc>>,) =
        sqlx::query_as("SELECT max(occurred_at) FROM event_log")
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "INSERT INTO projection_snapshots (schema_name, topic, next_offset, max_epoch, last_event_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&name)
    .bind(topic)
    .bind(offset)
    .bind(epoch)
    .bind(last)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some((name, offset)))
}

/// The next offset the projector of these tables reads (0: none yet).
pub async fn offset_of<'c>(db: impl sqlx::PgExecutor<'c>, topic: &str) -> Result<i64> {
    let row: Option<(i64,)> = sqlx::query_as(
        "SELECT next_offset FROM projection_offsets WHERE projector = 'main' AND topic = $1 AND partition = 0",
    )
    .bind(topic)
    .fetch_optional(db)
    .await?;
    Ok(row.map_or(0, |r| r.0))
}

/// Takes a snapshot whenever the live tables are `every` log records past the
/// last one (checked every `period`), until `shutdown`.
pub async fn snapshot_periodically(
    live: PgPool,
    topic: String,
    every: i64,
    period: Duration,
    shutdown: CancellationToken,
) -> Result<()> {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep(period) => {}
        }
        let at = offset_of(&live, &topic).await?;
        let (last,): (Option<i64>,) =
            sqlx::query_as("SELECT max(next_offset) FROM projection_snapshots WHERE topic = $1")
                .bind(&topic)
                .fetch_one(&live)
                .await?;
        if at - last.unwrap_or(0) < every {
            continue;
        }
        let started = Instant::now();
        if let Some((name, offset)) = take_snapshot(&live, &topic).await? {
            tracing::info!(
                schema = name,
                offset,
                ms = started.elapsed().as_millis() as u64,
                "projection snapshot taken"
            );
        }
    }
}

/// Per-table checksums of a pool's tables (live or built) and the offset
/// they are at, read in one snapshot.
pub async fn checksums(pool: &PgPool, topic: &str) -> Result<(i64, Vec<(String, String)>)> {
    let mut conn = pool.acquire().await?;
    let mut tx = conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .execute(&mut *tx)
        .await?;
    let at = offset_of(&mut *tx, topic).await?;
    let sums = crate::table_checksums(&mut tx).await?;
    tx.commit().await?;
    Ok((at, sums))
}
