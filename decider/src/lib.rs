//! The decider: the single writer of events for its cell.
//!
//! Exactly-once without Kafka transactions: the idempotent producer
//! (acks=all, gapless) never duplicates or reorders; event ids derive from
//! the command id; every event batch records the command offset it answers,
//! so the output is the checkpoint. A restarted decider loads its snapshot,
//! folds its own events after it, and resumes after the last command it
//! answered. A PostgreSQL advisory lock hands out fencing epochs; batches
//! from a lower epoch than one already seen are ignored by every reader.

mod model;
mod run;

pub use model::WriteModel;
pub use run::{DeciderConfig, run};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Infra(#[from] infra::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("fencing lost: {0}")]
    Fenced(String),
    #[error("event delivery failed: {0}")]
    Delivery(String),
    #[error("snapshot: {0}")]
    Snapshot(#[from] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
