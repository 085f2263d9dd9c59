//! The identity slice: who may call the API. Users (with the groups they
//! belong to) and service accounts (a namespace's own identities) are
//! objects with a history; each holds API tokens that expire and can be
//! revoked. Only a token's SHA-256 digest is ever recorded: the token
//! itself is shown once, to whoever asked for it. Because issuing and
//! revoking are events, every API instance that follows the log knows of a
//! revocation as soon as it has read it.
//!
//! The actor recorded on an event is the subject's name: a user's own
//! (`bob`), `system:serviceaccount:<namespace>:<name>` for a service
//! account, and the components' built-in ones (`system:scheduler`,
//! `system:controller`, `system:node-agent/<node>`, `system:bootstrap`).

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::{FieldError, Name};

/// The user the bootstrap token belongs to: bound to `cluster-admin`.
pub const ADMIN: &str = "admin";
/// `orch up`'s own subject, which mints the bootstrap token.
pub const BOOTSTRAP: &str = "system:bootstrap";
/// Every authenticated subject is in this group.
pub const AUTHENTICATED: &str = "system:authenticated";
/// Every node agent is in this group.
pub const NODE_AGENTS: &str = "system:node-agents";
/// Every service account is in this group (and in `…:<namespace>`).
pub const SERVICE_ACCOUNTS: &str = "system:serviceaccounts";

/// How long a user's token lives unless asked otherwise.
pub const USER_TOKEN_TTL_SECS: i64 = 24 * 3600;
/// How long a service account's token lives unless asked otherwise.
pub const SERVICE_ACCOUNT_TOKEN_TTL_SECS: i64 = 90 * 24 * 3600;
/// The longest life a token may be given.
pub const MAX_TOKEN_TTL_SECS: i64 = 366 * 24 * 3600;

pub fn user_id(name: &str) -> Uuid {
    derive_id(&[b"user", name.as_bytes()])
}

pub fn service_account_id(namespace: &str, name: &str) -> Uuid {
    derive_id(&[b"serviceaccount", namespace.as_bytes(), name.as_bytes()])
}

/// A user's name: 1–128 lowercase letters, digits and `-._@`, starting with
/// a letter or digit (an e-mail address fits; a `system:` name cannot, so
/// no user can pose as a component).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserName(String);

impl UserName {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        if s.is_empty() || s.len() > 128 {
            return Err(FieldError::new(field, "must be 1 to 128 characters"));
        }
        let ok = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-._@".contains(c);
        if let Some(bad) = s.chars().find(|c| !ok(*c)) {
            return Err(FieldError::new(
                field,
                format!(
                    "character '{bad}' is not allowed in a user name (use a-z, 0-9, '-', '.', '_', '@')"
                ),
            ));
        }
        if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(FieldError::new(field, "must start with a letter or digit"));
        }
        Ok(UserName(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for UserName {
    type Error = FieldError;
    fn try_from(s: String) -> Result<Self, FieldError> {
        UserName::parse("name", &s)
    }
}

impl From<UserName> for String {
    fn from(n: UserName) -> String {
        n.0
    }
}

impl std::fmt::Display for UserName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A group's name: what a user name may be, or a `system:` group.
pub fn parse_group(field: &str, s: &str) -> Result<String, FieldError> {
    if s.starts_with("system:") {
        return Err(FieldError::new(
            field,
            format!("'{s}': the system: groups are given by the system, not by hand"),
        ));
    }
    UserName::parse(field, s).map(String::from)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub name: UserName,
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

/// An API token, known by its digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token_id: Uuid,
    /// The actor its requests are recorded as.
    pub subject: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub bootstrap: bool,
    #[serde(default)]
    pub revoked: bool,
}

/// Who exists and which tokens are live.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Identities {
    pub users: BTreeMap<String, User>,
    /// `namespace/name` of every service account.
    pub service_accounts: BTreeSet<String>,
    /// Every token issued, by SHA-256 digest (revoked and expired ones are
    /// kept, so a refusal can say why).
    pub tokens: BTreeMap<String, Token>,
}

/// What a subject is, read off its actor name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    ServiceAccount {
        namespace: String,
        name: String,
    },
    NodeAgent(String),
    /// A built-in component (`system:scheduler`, `system:controller`, …).
    System(String),
}

impl Principal {
    pub fn of(actor: &str) -> Principal {
        if let Some(rest) = actor.strip_prefix("system:serviceaccount:")
            && let Some((ns, name)) = rest.split_once(':')
        {
            return Principal::ServiceAccount {
                namespace: ns.to_string(),
                name: name.to_string(),
            };
        }
        if let Some(node) = actor.strip_prefix("system:node-agent/") {
            return Principal::NodeAgent(node.to_string());
        }
        if actor.starts_with("system:") {
            return Principal::System(actor.to_string());
        }
        Principal::User(actor.to_string())
    }

    /// The actor name of a service account.
    pub fn service_account_actor(namespace: &str, name: &str) -> String {
        format!("system:serviceaccount:{namespace}:{name}")
    }

    /// The groups the subject is in.
    pub fn groups(&self, ids: &Identities) -> Vec<String> {
        let mut g = vec![AUTHENTICATED.to_string()];
        match self {
            Principal::User(u) => {
                if let Some(user) = ids.users.get(u) {
                    g.extend(user.groups.iter().cloned());
                }
            }
            Principal::ServiceAccount { namespace, .. } => {
                g.push(SERVICE_ACCOUNTS.to_string());
                g.push(format!("{SERVICE_ACCOUNTS}:{namespace}"));
            }
            Principal::NodeAgent(_) => g.push(NODE_AGENTS.to_string()),
            Principal::System(_) => {}
        }
        g
    }
}

impl Identities {
    /// Whether `actor` names a subject that exists (components always do).
    pub fn exists(&self, actor: &str) -> bool {
        match Principal::of(actor) {
            Principal::User(u) => u == ADMIN || self.users.contains_key(&u),
            Principal::ServiceAccount { namespace, name } => self
                .service_accounts
                .contains(&format!("{namespace}/{name}")),
            Principal::NodeAgent(_) | Principal::System(_) => true,
        }
    }

    /// The live token with this digest, unless it has expired by `now`.
    pub fn authenticate(&self, digest: &str, now: DateTime<Utc>) -> Result<&Token, TokenRefusal> {
        let t = self.tokens.get(digest).ok_or(TokenRefusal::Unknown)?;
        if t.revoked {
            return Err(TokenRefusal::Revoked);
        }
        match t.expires_at {
            Some(at) if at <= now => Err(TokenRefusal::Expired(at)),
            _ => Ok(t),
        }
    }

    pub fn token_by_id(&self, id: Uuid) -> Option<(&String, &Token)> {
        self.tokens.iter().find(|(_, t)| t.token_id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    Unknown,
    Revoked,
    Expired(DateTime<Utc>),
}

/// A service account's `namespace/name` key.
pub fn service_account_key(namespace: &Name, name: &Name) -> String {
    format!("{namespace}/{name}")
}
