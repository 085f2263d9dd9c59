//! The decider's I/O loop: fence, restore, then decide commands in order,
//! producing each command's events as one record, pipelined.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::Utc;
use domain::EventBatch;
use infra::kafka::{CELL_PARTITION, CommandFollower, EventFollower, KafkaConfig};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use sqlx::{Connection, PgConnection, PgPool};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::model::WriteModel;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct DeciderConfig {
    pub cell: i32,
    pub snapshot_every: u64,
    pub holder: String,
    pub database_url: String,
}

/// Run until `shutdown` or an error (the caller restarts it: a restart is a rebuild).
pub async fn run(
    kafka: KafkaConfig,
    pool: PgPool,
    cfg: DeciderConfig,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut fence = acquire_fence(&cfg, &shutdown).await?;
    let Some(epoch) = fence.epoch else {
        return Ok(());
    };
    tracing::info!(epoch, cell = cfg.cell, "decider holds the cell");

    let mut model = load_snapshot(&pool, cfg.cell).await?;
    let restored_from = model.events_next;
    let (_, high) = kafka.watermarks(&kafka.events_topic()).await?;
    let mut follower = EventFollower::new(&kafka, model.events_next, model.max_epoch)?;
    let started = std::time::Instant::now();
    let mut folded = 0u64;
    while follower.next_offset < high {
        for (offset, batch) in follower.next(5000, Duration::from_secs(5)).await? {
            model.fold(offset, &batch);
            folded += 1;
        }
        model.events_next = follower.next_offset;
        if shutdown.is_cancelled() {
            return Ok(());
        }
    }
    tracing::info!(
        from = restored_from,
        to = high,
        batches = folded,
        secs = started.elapsed().as_secs_f64(),
        commands_next = model.commands_next,
        "write model rebuilt from snapshot and tail"
    );
    if model.max_epoch > epoch {
        return Err(Error::Fenced(format!(
            "the log holds epoch {} above ours ({epoch})",
            model.max_epoch
        )));
    }

    let producer = kafka.event_producer()?;
    let topic = kafka.events_topic();
    let mut commands = CommandFollower::new(&kafka, model.commands_next)?;
    let (tx, rx) = mpsc::channel::<(DeliveryFuture, u64)>(200_000);
    let progress = Arc::new(Progress::default());
    progress
        .delivered
        .store(model.events_next - 1, Ordering::Release);
    let failed = CancellationToken::new();
    let confirm = tokio::spawn(confirm_in_order(rx, progress.clone(), failed.clone()));
    let m_commands = infra::metrics::counter("decider_commands_total", "Commands decided");
    let m_rejected = infra::metrics::counter("decider_rejections_total", "Commands rejected");
    let m_events = infra::metrics::counter("decider_events_total", "Events produced");
    let m_epoch = infra::metrics::gauge("decider_epoch", "Fencing epoch of this decider");
    let m_bytes = infra::metrics::gauge(
        "decider_write_model_bytes",
        "Estimated heap bytes of the write model (state + dedupe window)",
    );
    let m_pods = infra::metrics::gauge("decider_write_model_pods", "Pods in the write model");
    m_epoch.store(epoch as i64, Ordering::Relaxed);
    let mut sent: u64 = 0;
    let mut since_snapshot: u64 = 0;
    let mut fence_check = tokio::time::interval(Duration::from_secs(2));

    let result: Result<()> = 'main: loop {
        tokio::select! {
            _ = shutdown.cancelled() => break Ok(()),
            _ = failed.cancelled() => break Err(Error::Delivery("an event batch was not delivered".into())),
            _ = fence_check.tick() => {
                m_bytes.store(model.estimated_bytes() as i64, Ordering::Relaxed);
                m_pods.store(model.state.pods.len() as i64, Ordering::Relaxed);
                if let Err(e) = sqlx::query("SELECT 1").execute(&mut fence.conn).await {
                    break Err(Error::Fenced(format!("lock connection lost: {e}")));
                }
            }
            got = commands.next(2000, Duration::from_millis(200)) => {
                let got = match got { Ok(g) => g, Err(e) => break Err(e.into()) };
                for (offset, decoded) in got {
                    let cmd = match decoded {
                        Ok(c) => c,
                        Err(e) => {
                            tracing::warn!(offset, error = %e, "skipping a command record that does not decode");
                            model.commands_next = offset + 1;
                            continue;
                        }
                    };
                    m_commands.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = model.handle(offset, &cmd, epoch, Utc::now()) else { continue };
                    if batch.events.first().is_some_and(|e| matches!(e.body, domain::Event::CommandRejected(_))) {
                        m_rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(command = cmd.body.type_name(), id = %cmd.command_id, "rejected");
                    }
                    m_events.fetch_add(batch.events.len() as u64, Ordering::Relaxed);
                    since_snapshot += batch.events.len() as u64;
                    let f = match produce(&producer, &topic, &batch) { Ok(f) => f, Err(e) => break 'main Err(e) };
                    sent += 1;
                    if tx.send((f, sent)).await.is_err() {
                        break 'main Err(Error::Delivery("confirmation task ended".into()));
                    }
                }
                if since_snapshot >= cfg.snapshot_every {
                    since_snapshot = 0;
                    // The snapshot must not run ahead of what is in the log.
                    if let Err(e) = wait_delivered(&progress, &failed, sent).await {
                        break Err(e);
                    }
                    model.events_next = progress.delivered.load(Ordering::Acquire) + 1;
                    if let Err(e) = save_snapshot(&pool, cfg.cell, epoch, &model).await {
                        tracing::warn!(error = %e, "snapshot failed; the next restart replays a longer tail");
                    }
                }
            }
        }
    };
    drop(tx);
    let _ = tokio::time::timeout(Duration::from_secs(10), confirm).await;
    let _ = fence.conn.close().await;
    result
}

/// Deliveries are confirmed in send order: `delivered` is the last event
/// offset in the log, `confirmed` how many batches got there.
#[derive(Default)]
struct Progress {
    delivered: AtomicI64,
    confirmed: AtomicI64,
}

async fn wait_delivered(progress: &Progress, failed: &CancellationToken, sent: u64) -> Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while progress.confirmed.load(Ordering::Acquire) < sent as i64 {
        if failed.is_cancelled() {
            return Err(Error::Delivery("an event batch was not delivered".into()));
        }
        if tokio::time::Instant::now() > deadline {
            return Err(Error::Delivery(
                "deliveries did not complete in 30 s".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

async fn confirm_in_order(
    mut rx: mpsc::Receiver<(DeliveryFuture, u64)>,
    progress: Arc<Progress>,
    failed: CancellationToken,
) {
    while let Some((f, n)) = rx.recv().await {
        match infra::kafka::wait_delivery(f).await {
            Ok(offset) => {
                progress.delivered.store(offset, Ordering::Release);
                progress.confirmed.store(n as i64, Ordering::Release);
            }
            Err(e) => {
                tracing::error!(error = %e, "event batch delivery failed; the decider restarts from its output");
                failed.cancel();
                return;
            }
        }
    }
}

fn produce(producer: &FutureProducer, topic: &str, batch: &EventBatch) -> Result<DeliveryFuture> {
    let payload = serde_json::to_vec(batch)?;
    let key = batch.command_id.to_string();
    let record = FutureRecord::to(topic)
        .partition(CELL_PARTITION)
        .key(&key)
        .payload(&payload);
    producer
        .send_result(record)
        .map_err(|(e, _)| Error::Delivery(e.to_string()))
}

struct Fence {
    conn: PgConnection,
    epoch: Option<u64>,
}

/// Take the cell's advisory lock (waiting while another decider holds it), then the next epoch.
async fn acquire_fence(cfg: &DeciderConfig, shutdown: &CancellationToken) -> Result<Fence> {
    let mut conn = PgConnection::connect(&cfg.database_url).await?;
    let key = 0x6f72_6368_0000_0000i64 + cfg.cell as i64;
    let mut waited = false;
    loop {
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if got {
            break;
        }
        if !waited {
            tracing::info!(
                cell = cfg.cell,
                "another decider holds the cell; standing by"
            );
            waited = true;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(Fence { conn, epoch: None }),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
    let epoch: i64 = sqlx::query_scalar(
        "INSERT INTO decider_epochs (cell, epoch, holder, started_at) VALUES ($1, 1, $2, now())
         ON CONFLICT (cell) DO UPDATE SET epoch = decider_epochs.epoch + 1, holder = EXCLUDED.holder, started_at = now()
         RETURNING epoch",
    )
    .bind(cfg.cell)
    .bind(&cfg.holder)
    .fetch_one(&mut conn)
    .await?;
    Ok(Fence {
        conn,
        epoch: Some(epoch as u64),
    })
}

async fn load_snapshot(pool: &PgPool, cell: i32) -> Result<WriteModel> {
    let row: Option<(serde_json::Value,)> =
        sqlx::query_as("SELECT state FROM decider_snapshots WHERE cell = $1")
            .bind(cell)
            .fetch_optional(pool)
            .await?;
    match row {
        None => Ok(WriteModel::default()),
        Some((v,)) => match serde_json::from_value::<WriteModel>(v) {
            Ok(mut m) => {
                m.after_load();
                Ok(m)
            }
            // A snapshot is a cache of the fold: one an older release wrote
            // in a shape this one does not read is dropped, and the state is
            // folded again from the start of the log.
            Err(e) => {
                tracing::warn!(cell, error = %e, "snapshot unreadable; rebuilding the state from the log");
                Ok(WriteModel::default())
            }
        },
    }
}

async fn save_snapshot(pool: &PgPool, cell: i32, epoch: u64, model: &WriteModel) -> Result<()> {
    let state = serde_json::to_value(model)?;
    sqlx::query(
        "INSERT INTO decider_snapshots (cell, epoch, events_next_offset, commands_next_offset, state, taken_at)
         SELECT $1, $2, $3, $4, $5, now()
         WHERE (SELECT epoch FROM decider_epochs WHERE cell = $1) = $2
         ON CONFLICT (cell) DO UPDATE SET epoch = EXCLUDED.epoch, events_next_offset = EXCLUDED.events_next_offset,
           commands_next_offset = EXCLUDED.commands_next_offset, state = EXCLUDED.state, taken_at = EXCLUDED.taken_at",
    )
    .bind(cell)
    .bind(epoch as i64)
    .bind(model.events_next)
    .bind(model.commands_next)
    .bind(state)
    .execute(pool)
    .await?;
    tracing::info!(
        events_next = model.events_next,
        commands_next = model.commands_next,
        "snapshot saved"
    );
    Ok(())
}
