//! Matching a command to the events the decider produced for it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use domain::{CommandEnvelope, EventEnvelope};
use infra::kafka::{CommandBus, EventFollower, KafkaConfig};
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::error::ApiError;

type Waiters = Arc<Mutex<HashMap<Uuid, oneshot::Sender<Outcome>>>>;

/// A command's events and the log offset of the record that holds them.
pub struct Outcome {
    pub events: Vec<EventEnvelope>,
    pub offset: i64,
}

#[derive(Clone)]
pub struct Outcomes {
    waiters: Waiters,
    /// The end of the event log as far as this follower has read.
    log_end: Arc<std::sync::atomic::AtomicI64>,
}

impl Outcomes {
    /// Follow the event log from its current end.
    pub async fn start(kafka: &KafkaConfig, shutdown: CancellationToken) -> infra::Result<Self> {
        let (_, high) = kafka.watermarks(&kafka.events_topic()).await?;
        let mut follower = EventFollower::new(kafka, high, 0)?;
        let waiters: Waiters = Default::default();
        let log_end = Arc::new(std::sync::atomic::AtomicI64::new(high));
        let (w, end) = (waiters.clone(), log_end.clone());
        tokio::spawn(async move {
            while let Some(batches) = follower
                .next_until(&shutdown, 5000, Duration::from_millis(500))
                .await
            {
                let mut w = w.lock().unwrap();
                for (offset, b) in batches {
                    if let Some(tx) = w.remove(&b.command_id) {
                        let _ = tx.send(Outcome {
                            events: b.events,
                            offset,
                        });
                    }
                }
                end.fetch_max(follower.next_offset, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(Outcomes { waiters, log_end })
    }

    /// The offset after the last event record this API has read.
    pub fn log_end(&self) -> i64 {
        self.log_end.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Send a command and wait for its events (or rejection).
    pub async fn submit(
        &self,
        bus: &CommandBus,
        pool: &PgPool,
        env: CommandEnvelope,
        timeout: Duration,
    ) -> Result<Outcome, ApiError> {
        // A retried request (same Idempotency-Key) gets the first answer.
        if let Some(outcome) = recorded(pool, env.command_id).await? {
            return Ok(outcome);
        }
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(env.command_id, tx);
        let id = env.command_id;
        let result = async {
            tokio::time::timeout(timeout, bus.send(&env))
                .await
                .map_err(|_| ApiError::degraded("the command log did not accept the command in time"))?
                .map_err(|e| ApiError::degraded(format!("the command log is unavailable: {e}")))?;
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(outcome)) => Ok(outcome),
                // A duplicate (a retry racing the first request) produces no new
                // batch: its answer is the first one's, once projected.
                _ if let Some(outcome) = recorded(pool, id).await? => Ok(outcome),
                _ => Err(ApiError::degraded(format!(
                    "the decider did not answer command {id} within {} ms; it is queued and will still be applied",
                    timeout.as_millis()
                ))),
            }
        }
        .await;
        self.waiters.lock().unwrap().remove(&id);
        result
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    log_offset: i64,
    event_id: Uuid,
    causation_id: Uuid,
    correlation_id: Uuid,
    aggregate_kind: String,
    aggregate_id: Uuid,
    sequence: i64,
    occurred_at: chrono::DateTime<chrono::Utc>,
    actor: String,
    reason: Option<String>,
    schema_version: i32,
    body: serde_json::Value,
    command: Option<String>,
}

async fn recorded(pool: &PgPool, command_id: Uuid) -> Result<Option<Outcome>, ApiError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT log_offset, event_id, causation_id, correlation_id, aggregate_kind, aggregate_id, sequence, occurred_at, actor,
                reason, schema_version, body, command
         FROM event_log WHERE causation_id = $1 ORDER BY batch_index",
    )
    .bind(command_id)
    .fetch_all(pool)
    .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(rows.len());
    let offset = rows[0].log_offset;
    for r in rows {
        let kind: domain::AggregateKind = r
            .aggregate_kind
            .parse()
            .unwrap_or(domain::AggregateKind::Command);
        // Through the upcasting decoder: the row may be from an older release.
        let envelope = serde_json::json!({
            "eventId": r.event_id, "causationId": r.causation_id, "correlationId": r.correlation_id,
            "aggregate": {"kind": kind, "id": r.aggregate_id}, "sequence": r.sequence,
            "occurredAt": r.occurred_at, "actor": r.actor, "reason": r.reason, "command": r.command,
            "schemaVersion": r.schema_version, "body": r.body,
        });
        out.push(EventEnvelope::from_json_value(envelope).map_err(ApiError::internal)?);
    }
    Ok(Some(Outcome {
        events: out,
        offset,
    }))
}
