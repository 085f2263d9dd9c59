//! One batch of events folded into row changes by every projection
//! (`tables`), plus the batch's `event_log` rows: full rows for objects
//! created in the batch, column patches for rows that already exist,
//! deletions. Later events in the batch overwrite earlier ones, so each row
//! is written once per batch.

use domain::event::{EventBatch, EventEnvelope};
use sqlx::{Postgres, Transaction};

use crate::tables::{Projections, event_log};

#[derive(Default)]
pub struct Changes {
    projections: Projections,
    log: Vec<(i64, i32, u64, EventEnvelope)>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    pub fn len(&self) -> usize {
        self.log.len()
    }

    pub fn add(&mut self, offset: i64, batch: &EventBatch) {
        for (i, env) in batch.events.iter().enumerate() {
            self.projections.add(env);
            self.log.push((offset, i as i32, batch.epoch, env.clone()));
        }
    }

    /// Write everything in the caller's transaction.
    pub async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.write_log(tx).await?;
        self.write_state(tx).await
    }

    /// Only the `event_log` rows (a replay writes them on a connection of their own).
    pub async fn write_log(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        event_log::write(&self.log, tx).await
    }

    /// Every table but `event_log`.
    pub async fn write_state(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.projections.write(tx).await
    }
}
