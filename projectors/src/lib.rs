//! Projectors: `orch.events` → PostgreSQL. Each poll of the log becomes one
//! SQL transaction that writes the rows (multi-row `UNNEST` statements, never
//! a round trip per event) and the consumed offset together, so a projector
//! killed anywhere and restarted ends with exactly the tables a fresh replay
//! from offset 0 gives.

mod changes;
mod heartbeats;
mod run;
pub mod tables;
pub mod timetravel;

pub use changes::Changes;
pub use heartbeats::run_heartbeats;
pub use run::{
    NOTIFY_CHANNEL, Progress, ProjectorConfig, parse_notification, run, table_checksums,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Infra(#[from] infra::Error),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
