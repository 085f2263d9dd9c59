//! The projector loop: poll a batch of event records, write it and the
//! next offset in one transaction, repeat.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use infra::kafka::{EventFollower, KafkaConfig};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::Result;
use crate::changes::Changes;

#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    /// Names the offsets row: two projectors with different names replay independently.
    pub name: String,
    pub max_batch: usize,
    /// Stop once this offset is reached (replays); `None` follows forever.
    pub stop_at: Option<i64>,
    /// Where a replay is, for its progress bar.
    pub progress: Option<Arc<Progress>>,
}

/// Shared counters of a running projector (read by a progress display).
#[derive(Debug, Default)]
pub struct Progress {
    pub next_offset: AtomicI64,
    pub events: AtomicU64,
    /// Microseconds a build spent reading and decoding, folding, writing.
    pub read_us: AtomicU64,
    pub fold_us: AtomicU64,
    pub write_us: AtomicU64,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            name: "main".into(),
            max_batch: 5000,
            stop_at: None,
            progress: None,
        }
    }
}

pub async fn run(
    kafka: KafkaConfig,
    pool: PgPool,
    cfg: ProjectorConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    let topic = kafka.events_topic();
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT next_offset, max_epoch FROM projection_offsets WHERE projector = $1 AND topic = $2 AND partition = 0",
    )
    .bind(&cfg.name)
    .bind(&topic)
    .fetch_optional(&pool)
    .await?;
    let (from, max_epoch) = row.unwrap_or((0, 0));
    tracing::info!(projector = %cfg.name, from, "projector starting");
    let mut follower = EventFollower::new(&kafka, from, max_epoch as u64)?;
    let m_events =
        infra::metrics::counter("projector_events_total", "Events written to PostgreSQL");
    let m_lag = infra::metrics::histogram("projector_batch_seconds", "Time to write one batch");
    let m_offset = infra::metrics::gauge(
        "projector_next_offset",
        "Next event offset the projector reads",
    );
    let mut last_progress = Instant::now();
    loop {
        if cfg.stop_at.is_some_and(|s| follower.next_offset >= s) {
            return Ok(());
        }
        let before = follower.next_offset;
        let batches = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            b = follower.next(cfg.max_batch, Duration::from_millis(200)) => b?,
        };
        if follower.next_offset == before {
            continue;
        }
        let started = Instant::now();
        let mut changes = Changes::default();
        // The offset this transaction records: the follower's, or the first batch not applied.
        let mut next = follower.next_offset;
        let mut done = false;
        for (offset, batch) in &batches {
            if cfg.stop_at.is_some_and(|s| *offset >= s) {
                next = *offset;
                done = true;
                break;
            }
            changes.add(*offset, batch);
        }
        if let Some(s) = cfg.stop_at {
            next = next.min(s);
            done |= next >= s;
        }
        let mut tx = pool.begin().await?;
        // Rows and offset commit together, so a commit lost in a database crash
        // is simply replayed: no need to wait for the WAL flush.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await?;
        // The offsets row is the guard: a batch already applied (by a previous
        // incarnation that died after commit) is skipped, never applied twice.
        let stored: Option<(i64,)> = sqlx::query_as(
            "SELECT next_offset FROM projection_offsets WHERE projector = $1 AND topic = $2 AND partition = 0 FOR UPDATE",
        )
        .bind(&cfg.name)
        .bind(&topic)
        .fetch_optional(&mut *tx)
        .await?;
        if stored.is_some_and(|(s,)| s > before) {
            tracing::warn!(projector = %cfg.name, stored = stored.map(|s| s.0), before, "offsets moved under us; re-reading");
            tx.rollback().await?;
            let (s,) = stored.unwrap_or((0,));
            follower = EventFollower::new(&kafka, s, follower.max_epoch)?;
            continue;
        }
        changes.write(&mut tx).await?;
        store_offset(&mut tx, &cfg.name, &topic, next, follower.max_epoch).await?;
        // Delivered at commit, so a read woken by it sees the rows (read-your-writes).
        sqlx::query("SELECT pg_notify($1, current_schema() || ' ' || $2 || ' ' || $3::text)")
            .bind(NOTIFY_CHANNEL)
            .bind(&topic)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        m_events.fetch_add(changes.len() as u64, Ordering::Relaxed);
        m_offset.store(next, Ordering::Relaxed);
        m_lag.observe(started.elapsed().as_secs_f64());
        if let Some(p) = &cfg.progress {
            p.next_offset.store(next, Ordering::Relaxed);
            p.events.fetch_add(changes.len() as u64, Ordering::Relaxed);
        }
        if done {
            return Ok(());
        }
        if last_progress.elapsed() > Duration::from_secs(5) {
            last_progress = Instant::now();
            tracing::info!(projector = %cfg.name, next_offset = next, "projector progress");
        }
    }
}

/// The channel on which the live projector announces each committed batch:
/// `<schema> <topic> <next offset>`.
pub const NOTIFY_CHANNEL: &str = "orch_projected";

/// The next offset a notification announces, if it is for `schema` and `topic`.
pub fn parse_notification(payload: &str, schema: &str, topic: &str) -> Option<i64> {
    let mut it = payload.splitn(3, ' ');
    let (s, t, n) = (it.next()?, it.next()?, it.next()?);
    (s == schema && t == topic)
        .then(|| n.parse().ok())
        .flatten()
}

/// Records where projector `name` is, in the caller's transaction.
pub(crate) async fn store_offset(
    tx: &mut sqlx::PgConnection,
    name: &str,
    topic: &str,
    next: i64,
    max_epoch: u64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO projection_offsets (projector, topic, partition, next_offset, max_epoch, updated_at)
         VALUES ($1, $2, 0, $3, $4, now())
         ON CONFLICT (projector, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset,
           max_epoch = EXCLUDED.max_epoch, updated_at = now()",
    )
    .bind(name)
    .bind(topic)
    .bind(next)
    .bind(max_epoch as i64)
    .execute(tx)
    .await?;
    Ok(())
}

/// One md5 per projection table (the registry in `tables`): equal checksums
/// mean equal tables.
pub async fn table_checksums(conn: &mut sqlx::PgConnection) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for t in crate::tables::tables() {
        let (sum,): (String,) = sqlx::query_as(t.checksum_sql).fetch_one(&mut *conn).await?;
        out.push((t.name.to_string(), sum));
    }
    Ok(out)
}
