//! The thin I/O layer the services share: Kafka topics, producers and log
//! followers (`kafka`), PostgreSQL pools and migrations (`db`), Prometheus
//! metrics (`metrics`). Broker-specific settings live here and nowhere else.

pub mod db;
pub mod kafka;
pub mod keyring;
pub mod metrics;
pub mod view;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("decoding a record at offset {offset}: {source}")]
    Decode {
        offset: i64,
        source: serde_json::Error,
    },
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
