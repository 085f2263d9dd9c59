//! What every handler shares: the command bus, the database, the outcome
//! follower, the token cache, the time-travel and read-your-writes helpers.

use std::sync::Arc;
use std::time::Duration;

use infra::kafka::CommandBus;
use sqlx::PgPool;

use crate::{asof, consistency, outcome::Outcomes};

#[derive(Clone)]
pub struct AppState {
    pub bus: CommandBus,
    pub heartbeats: infra::kafka::HeartbeatSender,
    pub pool: PgPool,
    pub outcomes: Outcomes,
    /// The decider's `State`, folded from the log by this instance: tokens,
    /// roles and bindings for authentication and authorization, and each
    /// object's namespace.
    pub view: infra::view::View,
    /// Check every request against RBAC (off only to measure its cost).
    pub authorize: bool,
    /// The bootstrap token this instance started with (digest, token id).
    pub bootstrap: Arc<std::sync::RwLock<Option<(String, uuid::Uuid)>>>,
    pub command_timeout: Duration,
    /// For proxying to node agents (pod logs).
    pub http: reqwest::Client,
    /// `?asOf=` reads.
    pub as_of: asof::AsOfReads,
    /// How far the projections are, for `?minOffset=` reads.
    pub projected: consistency::Projected,
    /// Each subject's token bucket (`None`: requests are not limited).
    pub limiter: Option<Arc<governor::DefaultKeyedRateLimiter<String>>>,
    /// The key ring secrets are sealed and opened with.
    pub keys: Arc<infra::keyring::Keys>,
    /// What went wrong in the key rotations this instance ran, by rotation.
    pub rotation_errors: Arc<std::sync::Mutex<std::collections::HashMap<uuid::Uuid, Vec<String>>>>,
}

pub type S = Arc<AppState>;

impl AppState {
    /// Wait (up to the command timeout) until this instance's view has
    /// folded the log up to `offset`, so a token, role or binding just
    /// recorded applies to the next request here.
    pub async fn wait_for_view(&self, offset: i64) {
        let mut rx = self.view.offset.clone();
        let _ = tokio::time::timeout(self.command_timeout, rx.wait_for(|o| *o >= offset)).await;
    }
}
