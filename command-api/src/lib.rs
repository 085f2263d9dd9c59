//! The command REST API. Writes become commands on the command topic; the
//! handler waits for the decider's events (matched by causation id) and
//! answers 201/200, 4xx with a machine-readable code, or 503 when the log
//! or the decider does not answer in time. Reads come from the PostgreSQL
//! projections.

mod access;
mod asof;
mod auth;
pub mod consistency;
mod error;
mod extract;
mod json;
mod outcome;
mod read;
mod routes;
mod state;
mod write;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use infra::kafka::{CommandBus, KafkaConfig};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

pub use auth::{Bootstrap, BootstrapError, hash_token};
pub use error::ApiError;
pub use outcome::Outcomes;
pub use state::AppState;

pub struct ApiConfig {
    pub command_timeout: Duration,
    /// Where `?asOf=` reads build their schemas (the same database as `pool`).
    pub database_url: String,
    /// How long a `?minOffset=` read waits for the projections before `503 PROJECTION_BEHIND`.
    pub read_wait: Duration,
    /// Requests per second each subject (token actor) may make, with this
    /// burst; `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Check every request against RBAC (`false` only to measure its cost:
    /// the decider still authorizes every command).
    pub authorize: bool,
    /// The key ring secrets are sealed and opened with.
    pub secret_keys: infra::keyring::KeySource,
}

#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
}

/// Build the router and start following the event log for outcomes.
pub async fn build(
    kafka: &KafkaConfig,
    pool: PgPool,
    cfg: ApiConfig,
    shutdown: CancellationToken,
) -> infra::Result<Api> {
    let outcomes = Outcomes::start(kafka, shutdown.clone()).await?;
    // Tokens, roles and bindings come from the log: serve once this
    // instance has read all of it that was there when it started.
    let (_, end) = kafka.watermarks(&kafka.events_topic()).await?;
    let view = infra::view::spawn_view(kafka, 0, shutdown.clone(), |_, _| {}).await?;
    {
        let mut rx = view.offset.clone();
        let _ = rx.wait_for(|o| *o >= end).await;
    }
    let projected =
        consistency::Projected::start(kafka, pool.clone(), cfg.read_wait, shutdown.clone()).await?;
    let limiter = cfg.rate_limit.and_then(|r| {
        let quota = governor::Quota::per_second(std::num::NonZeroU32::new(r.per_second)?)
            .allow_burst(std::num::NonZeroU32::new(r.burst.max(1))?);
        Some(Arc::new(governor::RateLimiter::keyed(quota)))
    });
    if let Some(l) = limiter.clone() {
        // Forget subjects whose bucket is full again, so the map stays small.
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(30));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => l.retain_recent(),
                }
            }
        });
    }
    let state = AppState {
        limiter,
        bus: CommandBus::new(kafka)?,
        heartbeats: infra::kafka::HeartbeatSender::new(kafka)?,
        pool,
        outcomes,
        view,
        authorize: cfg.authorize,
        keys: Arc::new(infra::keyring::Keys::new(cfg.secret_keys)),
        rotation_errors: Default::default(),
        bootstrap: Default::default(),
        command_timeout: cfg.command_timeout,
        as_of: asof::AsOfReads::new(kafka.clone(), cfg.database_url),
        projected,
        http: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| infra::Error::Other(e.to_string()))?,
    };
    let state = Arc::new(state);
    Ok(Api {
        router: routes::router(state.clone()),
        state,
    })
}

/// A built API: its router, and what `orch up` and the load tests do in
/// the same process (the bootstrap token, tokens minted for tests).
#[derive(Clone)]
pub struct Api {
    pub router: Router,
    state: state::S,
}

impl Api {
    /// See `auth::bootstrap_admin`.
    pub async fn bootstrap_admin(
        &self,
        file: &std::path::Path,
        given: Option<String>,
        rotate: bool,
    ) -> Result<(String, Bootstrap, u64), BootstrapError> {
        auth::bootstrap_admin(&self.state, file, given, rotate).await
    }

    /// A token for `subject` (which must exist), never expiring: for
    /// in-process tools and load tests.
    pub async fn mint_token(&self, subject: &str) -> Result<String, ApiError> {
        auth::mint_token(&self.state, subject, None, false).await
    }

    /// Submit `command` as `system:bootstrap` (cluster-admin) and wait until
    /// this API has folded its outcome: seeding users and bindings.
    pub async fn submit_as_bootstrap(&self, command: domain::Command) -> Result<(), ApiError> {
        auth::as_bootstrap(&self.state, command).await
    }
}
