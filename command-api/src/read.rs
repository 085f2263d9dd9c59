//! What read routes share: `?asOf=` time travel.

use crate::error::ApiError;
use crate::state::S;

/// `?asOf=<offset|RFC 3339 instant>`: read the projections as they were then.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    #[serde(rename = "asOf")]
    pub as_of: Option<String>,
}

/// The pool a read uses: live, or the tables as of `as_of`.
pub async fn read_pool(s: &S, as_of: Option<&str>) -> Result<sqlx::PgPool, ApiError> {
    s.as_of.pool(&s.pool, as_of).await
}
