//! PostgreSQL pools. A pool may be pinned to a schema (time travel and
//! replays write into their own schema), and migrations come from `schema/`.

use sqlx::Executor;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::Result;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Connect; with `schema`, every connection's search_path is that schema (created if missing).
pub async fn connect(url: &str, schema: Option<&str>, max_connections: u32) -> Result<PgPool> {
    let opts: PgConnectOptions = url.parse()?;
    if let Some(s) = schema {
        let bootstrap = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(opts.clone())
            .await?;
        bootstrap
            .execute(format!("CREATE SCHEMA IF NOT EXISTS \"{s}\"").as_str())
            .await?;
        bootstrap.close().await;
    }
    let schema = schema.map(|s| s.to_string());
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(std::time::Duration::from_secs(10))
        .after_connect(move |conn, _| {
            let schema = schema.clone();
            Box::pin(async move {
                if let Some(s) = schema {
                    conn.execute(format!("SET search_path TO \"{s}\"").as_str())
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(opts)
        .await?;
    Ok(pool)
}

pub async fn migrate(pool: &PgPool) -> Result<()> {
    schema::MIGRATOR.run(pool).await?;
    Ok(())
}
