//! `?asOf=` on read endpoints: the same queries against the projection
//! tables as they were at a point of the log, built once into a schema of
//! their own (`asof_<offset>`, from the latest projection snapshot before it)
//! and kept for the next request.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use infra::kafka::KafkaConfig;
use projectors::timetravel::{self, AsOf, Materialize};
use sqlx::PgPool;

use crate::error::ApiError;

#[derive(Clone)]
pub struct AsOfReads {
    kafka: KafkaConfig,
    database_url: String,
    /// Built schemas' pools; the lock also serialises builds.
    pools: Arc<tokio::sync::Mutex<HashMap<i64, PgPool>>>,
}

fn invalid(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", message)
}

impl AsOfReads {
    pub fn new(kafka: KafkaConfig, database_url: String) -> Self {
        AsOfReads {
            kafka,
            database_url,
            pools: Default::default(),
        }
    }

    /// The pool to read with: the live one without `asOf`, else the tables as of then.
    pub async fn pool(&self, live: &PgPool, as_of: Option<&str>) -> Result<PgPool, ApiError> {
        let Some(raw) = as_of else {
            return Ok(live.clone());
        };
        let point: AsOf = raw.parse().map_err(invalid)?;
        let topic = self.kafka.events_topic();
        let end = timetravel::offset_of(live, &topic)
            .await
            .map_err(internal)?;
        let (stop, _) = timetravel::resolve(Some(point), end, live)
            .await
            .map_err(internal)?;
        if stop >= end {
            // Now or later: the live tables are that state.
            return Ok(live.clone());
        }
        let mut pools = self.pools.lock().await;
        if let Some(p) = pools.get(&stop) {
            return Ok(p.clone());
        }
        let schema = format!("asof_{stop}");
        let pool = infra::db::connect(&self.database_url, Some(&schema), 2)
            .await
            .map_err(|e| internal(e.into()))?;
        let built = timetravel::offset_of(&pool, &topic).await.unwrap_or(-1);
        if built != stop {
            let started = std::time::Instant::now();
            let m = Materialize {
                kafka: self.kafka.clone(),
                database_url: self.database_url.clone(),
                schema: schema.clone(),
                replace: true,
                stop_offset: stop,
                stop_after: None,
                use_snapshots: true,
                batch: 20_000,
                progress: Default::default(),
            };
            let b = timetravel::materialize(&m, live).await.map_err(internal)?;
            tracing::info!(schema, stop, events = b.events, snapshot = ?b.snapshot,
                ms = started.elapsed().as_millis() as u64, "built the projection tables as of a past offset");
        }
        pools.insert(stop, pool.clone());
        Ok(pool)
    }
}

fn internal(e: projectors::Error) -> ApiError {
    tracing::error!(error = %e, "time travel failed");
    ApiError::degraded(format!("could not build the state as of then: {e}"))
}
