//! Bearer tokens. A token is known by its SHA-256 digest, recorded by a
//! `TokenIssued` event; revocations are `TokenRevoked` events. Every API
//! instance folds the log into its own view (the decider's `State`), so a
//! token revoked anywhere is refused here as soon as this instance has read
//! the event: within the follower's poll interval (200 ms), not a cache TTL.

use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use chrono::Utc;
use domain::command as cmd;
use domain::identity::{BOOTSTRAP, TokenRefusal};
use domain::{Command, CommandEnvelope};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

pub fn hash_token(token: &str) -> String {
    let d = Sha256::digest(token.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn new_token() -> String {
    format!(
        "orch_{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// Who a request's token says it is.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub actor: String,
    pub token_id: Uuid,
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

/// The subject of the request's bearer token, from this instance's view.
pub async fn authenticate(s: &AppState, headers: &HeaderMap) -> Result<Authenticated, ApiError> {
    let Some(token) = bearer(headers)? else {
        return Err(unauthorized(
            "missing bearer token: send 'Authorization: Bearer <token>'",
        ));
    };
    let digest = hash_token(token);
    let ours = s.bootstrap.read().unwrap().clone();
    let state = s.view.state.read().await;
    let known = state.identities.authenticate(&digest, Utc::now());
    // The bootstrap token this instance started with is valid before the
    // decider has recorded it (a control plane starting without one); any
    // other bootstrap token was replaced by it.
    if let Some((d, token_id)) = &ours {
        if *d == digest {
            return match known {
                Err(TokenRefusal::Revoked) => Err(unauthorized("this token was revoked")),
                _ => Ok(Authenticated {
                    actor: domain::identity::ADMIN.to_string(),
                    token_id: *token_id,
                }),
            };
        }
        if known.as_ref().is_ok_and(|t| t.bootstrap) {
            return Err(unauthorized(
                "this bootstrap token was replaced by a newer one",
            ));
        }
    }
    match known {
        Ok(t) if !state.identities.exists(&t.subject) => Err(unauthorized(&format!(
            "this token's subject {} no longer exists",
            t.subject
        ))),
        Ok(t) => Ok(Authenticated {
            actor: t.subject.clone(),
            token_id: t.token_id,
        }),
        Err(r) => Err(unauthorized(&domain::rbac::authorize::refusal_message(&r))),
    }
}

/// Submit `body` as `orch up` itself (`system:bootstrap`) and wait for it.
pub(crate) async fn as_bootstrap(s: &AppState, body: Command) -> Result<(), ApiError> {
    let env = CommandEnvelope::new(Uuid::now_v7(), BOOTSTRAP, None, body).with_reply();
    let outcome = s
        .outcomes
        .submit(&s.bus, &s.pool, env, s.command_timeout)
        .await?;
    if let Some(domain::Event::CommandRejected(r)) = outcome.events.first().map(|e| &e.body) {
        return Err(ApiError::rejected(r.code, r.message.clone()));
    }
    s.wait_for_view(outcome.offset + 1).await;
    Ok(())
}

/// A new token for `subject` (which must exist), minted by `orch up`
/// itself; `ttl: None` never expires.
pub async fn mint_token(
    s: &AppState,
    subject: &str,
    ttl: Option<Duration>,
    bootstrap: bool,
) -> Result<String, ApiError> {
    let token = new_token();
    as_bootstrap(
        s,
        Command::IssueToken(cmd::IssueToken {
            token_id: Uuid::new_v4(),
            subject: subject.to_string(),
            digest: hash_token(&token),
            expires_at: ttl.map(|t| Utc::now() + chrono::Duration::from_std(t).unwrap_or_default()),
            bootstrap,
            description: bootstrap.then(|| "the bootstrap admin token".to_string()),
        }),
    )
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
    #[error("the control plane did not record the bootstrap token: {0}")]
    Log(String),
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
/// `file` unless it was revoked or a `rotate` is asked for, else a new one
/// written to `file` (mode 0600). This instance accepts it at once; its
/// `TokenIssued` and the revocation of every other bootstrap token are sent
/// to the log without waiting for the decider (which may start later), with
/// command ids derived from the tokens, so restarts send duplicates the
/// decider drops. Returns the token, where it came from and how many earlier
/// ones are revoked.
pub async fn bootstrap_admin(
    s: &AppState,
    file: &Path,
    given: Option<String>,
    rotate: bool,
) -> Result<(String, Bootstrap, u64), BootstrapError> {
    // Two processes starting at once must agree on one token.
    let mut lock = s.pool.acquire().await?;
    sqlx::query("SELECT pg_advisory_lock(hashtext('orch-bootstrap-token'))")
        .execute(&mut *lock)
        .await?;
    let result = choose_bootstrap(s, file, given, rotate).await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(hashtext('orch-bootstrap-token'))")
        .execute(&mut *lock)
        .await;
    result
}

async fn choose_bootstrap(
    s: &AppState,
    file: &Path,
    given: Option<String>,
    rotate: bool,
) -> Result<(String, Bootstrap, u64), BootstrapError> {
    let revoked = |token: &str| {
        let digest = hash_token(token);
        async move {
            let st = s.view.state.read().await;
            st.identities.tokens.get(&digest).is_some_and(|t| t.revoked)
        }
    };
    let (token, how) = if let Some(t) = given {
        if revoked(&t).await {
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
        match kept {
            Some(t) if !revoked(&t).await => (t, Bootstrap::Kept),
            _ => {
                let t = new_token();
                write_private(file, &t)
                    .map_err(|e| BootstrapError::File(file.display().to_string(), e))?;
                (t, Bootstrap::Minted)
            }
        }
    };
    let digest = hash_token(&token);
    let token_id = domain::ids::derive_id(&[b"bootstrap-token", digest.as_bytes()]);
    *s.bootstrap.write().unwrap() = Some((digest.clone(), token_id));
    let (known, others): (bool, Vec<Uuid>) = {
        let st = s.view.state.read().await;
        let known = st.identities.tokens.contains_key(&digest);
        let others = st
            .identities
            .tokens
            .iter()
            .filter(|(d, t)| t.bootstrap && !t.revoked && **d != digest)
            .map(|(_, t)| t.token_id)
            .collect();
        (known, others)
    };
    let send = |key: &[u8], body: Command| {
        let id = domain::ids::derive_id(&[b"bootstrap", key]);
        let env = CommandEnvelope::new(
            id,
            BOOTSTRAP,
            Some("orch up: the bootstrap token".into()),
            body,
        );
        async move {
            s.bus
                .send(&env)
                .await
                .map(|_| ())
                .map_err(|e| BootstrapError::Log(e.to_string()))
        }
    };
    if !known {
        send(
            digest.as_bytes(),
            Command::IssueToken(cmd::IssueToken {
                token_id,
                subject: domain::identity::ADMIN.to_string(),
                digest: digest.clone(),
                expires_at: None,
                bootstrap: true,
                description: Some("the bootstrap admin token".into()),
            }),
        )
        .await?;
    }
    for id in &others {
        send(
            id.as_bytes(),
            Command::RevokeToken(cmd::RevokeToken { token_id: *id }),
        )
        .await?;
    }
    Ok((token, how, others.len() as u64))
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
