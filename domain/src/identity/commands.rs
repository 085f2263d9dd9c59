//! The identity slice's commands.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::UserName;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateUser {
    pub name: UserName,
    #[serde(default)]
    pub groups: BTreeSet<String>,
}

/// Replace a user's groups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateUser {
    pub name: UserName,
    pub groups: BTreeSet<String>,
}

/// Delete a user; every token it holds is revoked with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteUser {
    pub name: UserName,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateServiceAccount {
    pub namespace: Name,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteServiceAccount {
    pub namespace: Name,
    pub name: Name,
}

/// Record a token for `subject`; the API made it and returns it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssueToken {
    pub token_id: Uuid,
    /// The actor name its requests are recorded as.
    pub subject: String,
    /// SHA-256 of the token, hex.
    pub digest: String,
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// `orch up`'s admin token.
    #[serde(default)]
    pub bootstrap: bool,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeToken {
    pub token_id: Uuid,
}
