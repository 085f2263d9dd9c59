//! Bearer tokens. Only SHA-256 digests are stored; the actor a token maps
//! to is recorded on every event its requests cause.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ApiError;

pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Store `token` (or a new random one) for `actor`; returns the token.
pub async fn bootstrap_token(
    pool: &PgPool,
    actor: &str,
    token: Option<String>,
) -> Result<String, sqlx::Error> {
    let token = token.unwrap_or_else(|| {
        format!(
            "orch_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        )
    });
    sqlx::query("INSERT INTO api_tokens (token_sha256, actor) VALUES ($1, $2) ON CONFLICT (token_sha256) DO UPDATE SET actor = EXCLUDED.actor")
        .bind(hash_token(&token))
        .bind(actor)
        .execute(pool)
        .await?;
    Ok(token)
}

#[derive(Clone, Default)]
pub struct TokenCache {
    known: Arc<Mutex<HashMap<String, String>>>,
}

impl TokenCache {
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        pool: &PgPool,
    ) -> Result<String, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", m);
        let Some(value) = headers.get(header::AUTHORIZATION) else {
            return Err(unauthorized(
                "missing bearer token: send 'Authorization: Bearer <token>'",
            ));
        };
        let value = value
            .to_str()
            .map_err(|_| unauthorized("the Authorization header is not text"))?;
        let Some(token) = value.strip_prefix("Bearer ").map(str::trim) else {
            return Err(unauthorized(
                "the Authorization header must be 'Bearer <token>'",
            ));
        };
        let digest = hash_token(token);
        if let Some(actor) = self.known.lock().unwrap().get(&digest) {
            return Ok(actor.clone());
        }
        let row: Option<(String,)> =
            sqlx::query_as("SELECT actor FROM api_tokens WHERE token_sha256 = $1")
                .bind(&digest)
                .fetch_optional(pool)
                .await?;
        match row {
            Some((actor,)) => {
                self.known.lock().unwrap().insert(digest, actor.clone());
                Ok(actor)
            }
            None => Err(unauthorized("unknown token")),
        }
    }
}
