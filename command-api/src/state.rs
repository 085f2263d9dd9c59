//! What every handler shares: the command bus, the database, the outcome
//! follower, the token cache, the time-travel and read-your-writes helpers.

use std::sync::Arc;
use std::time::Duration;

use infra::kafka::CommandBus;
use sqlx::PgPool;

use crate::{asof, auth, consistency, outcome::Outcomes};

#[derive(Clone)]
pub struct AppState {
    pub bus: CommandBus,
    pub heartbeats: infra::kafka::HeartbeatSender,
    pub pool: PgPool,
    pub outcomes: Outcomes,
    pub auth: auth::TokenCache,
    pub command_timeout: Duration,
    /// For proxying to node agents (pod logs).
    pub http: reqwest::Client,
    /// `?asOf=` reads.
    pub as_of: asof::AsOfReads,
    /// How far the projections are, for `?minOffset=` reads.
    pub projected: consistency::Projected,
    /// Each subject's token bucket (`None`: requests are not limited).
    pub limiter: Option<Arc<governor::DefaultKeyedRateLimiter<String>>>,
}

pub type S = Arc<AppState>;
