//! What read routes share: `?asOf=` time travel.

use crate::error::ApiError;
use crate::state::S;

/// `?asOf=<offset|RFC 3339 instant>`: read the projections as they were then.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// Read the state as it was: an RFC 3339 instant or a log offset.
    #[serde(rename = "asOf")]
    pub as_of: Option<String>,
}

/// The pool a read uses: live, or the tables as of `as_of`.
pub async fn read_pool(s: &S, as_of: Option<&str>) -> Result<sqlx::PgPool, ApiError> {
    s.as_of.pool(&s.pool, as_of).await
}
