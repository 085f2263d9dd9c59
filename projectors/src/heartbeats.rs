//! `node_status.last_heartbeat` comes from the compacted heartbeat topic,
//! not the event log: heartbeats are too frequent to be events. Written in
//! one UPDATE per second at most.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use infra::kafka::{HeartbeatFollower, KafkaConfig};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::Result;

pub async fn run_heartbeats(
    kafka: KafkaConfig,
    pool: PgPool,
    shutdown: CancellationToken,
) -> Result<()> {
    let mut follower = HeartbeatFollower::new(&kafka)?;
    let mut latest: HashMap<Uuid, DateTime<Utc>> = HashMap::new();
    let mut flush = tokio::time::interval(Duration::from_secs(1));
    let m_batch = infra::metrics::histogram(
        "heartbeat_projector_batch_seconds",
        "Time to write one second's heartbeats to node_status",
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = flush.tick() => {
                if latest.is_empty() { continue; }
                let t = std::time::Instant::now();
                let (ids, ats): (Vec<Uuid>, Vec<DateTime<Utc>>) = latest.drain().unzip();
                // Rows are locked in id order first, as the event projector
                // does: the two writers of node_status never deadlock.
                let mut tx = pool.begin().await?;
                sqlx::query("SELECT n.id FROM node_status n JOIN UNNEST($1::uuid[]) AS u(id) ON n.id = u.id ORDER BY n.id FOR NO KEY UPDATE OF n")
                    .bind(&ids).execute(&mut *tx).await?;
                sqlx::query(
                    "UPDATE node_status n SET last_heartbeat = u.at FROM UNNEST($1::uuid[], $2::timestamptz[]) AS u(id, at)
                     WHERE n.id = u.id AND (n.last_heartbeat IS NULL OR n.last_heartbeat < u.at)",
                )
                .bind(ids).bind(ats).execute(&mut *tx).await?;
                tx.commit().await?;
                m_batch.observe(t.elapsed().as_secs_f64());
            }
            hbs = follower.next(10_000, Duration::from_millis(500)) => {
                for hb in hbs? {
                    latest.insert(hb.node_id, hb.sent_at);
                }
            }
        }
    }
}
