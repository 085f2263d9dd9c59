//! Bearer tokens. Only SHA-256 digests are stored; the actor a token maps
//! to is recorded on every event its requests cause.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::error::ApiError;

pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_token() -> String {
    format!(
        "orch_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// A new token for `actor` (not a bootstrap token); returns it.
pub async fn issue_token(pool: &PgPool, actor: &str) -> Result<String, sqlx::Error> {
    let token = new_token();
    sqlx::query("INSERT INTO api_tokens (token_sha256, actor) VALUES ($1, $2)")
        .bind(hash_token(&token))
        .bind(actor)
        .execute(pool)
        .await?;
    Ok(token)
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("{0}: {1}")]
    File(String, std::io::Error),
    #[error("the admin token given was revoked; give another, or none to mint a new one")]
    Revoked,
}

/// Where the bootstrap token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// The one in the token file, still valid.
    Kept,
    /// Minted now (none was kept, it was revoked, or a rotation was asked for).
    Minted,
    /// Given by the operator.
    Given,
}

/// The bootstrap admin token: the operator's (`given`), else the one kept in
/// `file` while it is still valid and no `rotate` is asked for, else a new
/// one written to `file` (mode 0600). Every other bootstrap token is revoked,
/// so restarts leave exactly one. Returns the token, where it came from and
/// how many earlier ones were revoked.
pub async fn bootstrap_admin(
    pool: &PgPool,
    file: &Path,
    given: Option<String>,
    rotate: bool,
) -> Result<(String, Bootstrap, u64), BootstrapError> {
    let mut tx = pool.begin().await?;
    // Two processes starting at once must agree on one token.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('orch-bootstrap-token'))")
        .execute(&mut *tx)
        .await?;
    let valid = |digest: String| {
        sqlx::query_scalar::<_, Option<chrono::DateTime<chrono::Utc>>>(
            "SELECT revoked_at FROM api_tokens WHERE token_sha256 = $1 AND bootstrap",
        )
        .bind(digest)
    };
    let (token, how) = if let Some(t) = given {
        if let Some(Some(_)) = valid(hash_token(&t)).fetch_optional(&mut *tx).await? {
            return Err(BootstrapError::Revoked);
        }
        (t, Bootstrap::Given)
    } else {
        let kept = match std::fs::read_to_string(file) {
            Ok(t) if !rotate && !t.trim().is_empty() => Some(t.trim().to_string()),
            Ok(_) => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(BootstrapError::File(file.display().to_string(), e)),
        };
        let still = match &kept {
            Some(t) => matches!(
                valid(hash_token(t)).fetch_optional(&mut *tx).await?,
                Some(None)
            ),
            None => false,
        };
        match kept {
            Some(t) if still => (t, Bootstrap::Kept),
            _ => {
                let t = new_token();
                write_private(file, &t)
                    .map_err(|e| BootstrapError::File(file.display().to_string(), e))?;
                (t, Bootstrap::Minted)
            }
        }
    };
    let digest = hash_token(&token);
    sqlx::query(
        "INSERT INTO api_tokens (token_sha256, actor, bootstrap) VALUES ($1, 'admin', true)
         ON CONFLICT (token_sha256) DO UPDATE SET actor = 'admin', bootstrap = true",
    )
    .bind(&digest)
    .execute(&mut *tx)
    .await?;
    let revoked = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE bootstrap AND revoked_at IS NULL AND token_sha256 <> $1",
    )
    .bind(&digest)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok((token, how, revoked))
}

/// Write `text` to `path` readable by its owner only, replacing it whole.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    o.mode(0o600);
    let mut f = o.open(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Revoke the token of this request. Other API processes stop accepting it
/// within their cache's lifetime (`CACHE_TTL`).
pub async fn revoke(
    pool: &PgPool,
    cache: &TokenCache,
    headers: &HeaderMap,
) -> Result<bool, ApiError> {
    let Some(token) = bearer(headers)? else {
        return Ok(false);
    };
    let digest = hash_token(token);
    cache.known.lock().unwrap().remove(&digest);
    let n = sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE token_sha256 = $1 AND revoked_at IS NULL",
    )
    .bind(&digest)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n > 0)
}

fn unauthorized(m: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", m)
}

fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not text"))?;
    match value.strip_prefix("Bearer ").map(str::trim) {
        Some(t) => Ok(Some(t)),
        None => Err(unauthorized(
            "the Authorization header must be 'Bearer <token>'",
        )),
    }
}

/// How long an API process trusts a token it has checked: a revocation
/// elsewhere takes effect here within this time.
pub const CACHE_TTL: Duration = Duration::from_secs(5);

#[derive(Clone, Default)]
pub struct TokenCache {
    known: Arc<Mutex<HashMap<String, (String, Instant)>>>,
}

impl TokenCache {
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        pool: &PgPool,
    ) -> Result<String, ApiError> {
        let Some(token) = bearer(headers)? else {
            return Err(unauthorized(
                "missing bearer token: send 'Authorization: Bearer <token>'",
            ));
        };
        let digest = hash_token(token);
        if let Some((actor, at)) = self.known.lock().unwrap().get(&digest)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(actor.clone());
        }
        let row: Option<(String, bool)> = sqlx::query_as(
            "SELECT actor, revoked_at IS NOT NULL FROM api_tokens WHERE token_sha256 = $1",
        )
        .bind(&digest)
        .fetch_optional(pool)
        .await?;
        match row {
            Some((actor, false)) => {
                self.known
                    .lock()
                    .unwrap()
                    .insert(digest, (actor.clone(), Instant::now()));
                Ok(actor)
            }
            Some((_, true)) => {
                self.known.lock().unwrap().remove(&digest);
                Err(unauthorized("this token was revoked"))
            }
            None => Err(unauthorized("unknown token")),
        }
    }
}
