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

type Waiters = Arc<Mutex<HashMap<Uuid, oneshot::Sender<Vec<EventEnvelope>>>>>;

#[derive(Clone)]
pub struct Outcomes {
    waiters: Waiters,
}

impl Outcomes {
    /// Follow the event log from its current end.
    pub async fn start(kafka: &KafkaConfig, shutdown: CancellationToken) -> infra::Result<Self> {
        let (_, high) = kafka.watermarks(&kafka.events_topic()).await?;
        let mut follower = EventFollower::new(kafka, high, 0)?;
        let waiters: Waiters = Default::default();
        let w = waiters.clone();
        tokio::spawn(async move {
            while let Some(batches) = follower
                .next_until(&shutdown, 5000, Duration::from_millis(500))
                .await
            {
                let mut w = w.lock().unwrap();
                for (_, b) in batches {
                    if let Some(tx) = w.remove(&b.command_id) {
                        let _ = tx.send(b.events);
                    }
                }
            }
        });
        Ok(Outcomes { waiters })
    }

    /// Send a command and wait for its events (or rejection).
    pub async fn submit(
        &self,
        bus: &CommandBus,
        pool: &PgPool,
        env: CommandEnvelope,
        timeout: Duration,
    ) -> Result<Vec<EventEnvelope>, ApiError> {
        // A retried request (same Idempotency-Key) gets the first answer.
        if let Some(events) = recorded(pool, env.command_id).await? {
            return Ok(events);
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
                Ok(Ok(events)) => Ok(events),
                // A duplicate (a retry racing the first request) produces no new
                // batch: its answer is the first one's, once projected.
                _ if let Some(events) = recorded(pool, id).await? => Ok(events),
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

async fn recorded(pool: &PgPool, command_id: Uuid) -> Result<Option<Vec<EventEnvelope>>, ApiError> {
    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT event_id, causation_id, correlation_id, aggregate_kind, aggregate_id, sequence, occurred_at, actor,
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
    for r in rows {
        let kind = match r.aggregate_kind.as_str() {
            "node" => domain::AggregateKind::Node,
            "pod" => domain::AggregateKind::Pod,
            "deployment" => domain::AggregateKind::Deployment,
            "service" => domain::AggregateKind::Service,
            _ => domain::AggregateKind::Command,
        };
        out.push(EventEnvelope {
            event_id: r.event_id,
            causation_id: r.causation_id,
            correlation_id: r.correlation_id,
            aggregate: domain::AggregateRef {
                kind,
                id: r.aggregate_id,
            },
            sequence: r.sequence as u64,
            occurred_at: r.occurred_at,
            actor: r.actor,
            reason: r.reason,
            command: r.command,
            schema_version: r.schema_version as u16,
            body: serde_json::from_value(r.body).map_err(ApiError::internal)?,
        });
    }
    Ok(Some(out))
}
