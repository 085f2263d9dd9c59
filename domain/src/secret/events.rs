//! The secret slice's events: names of keys, versions and ciphertext, never
//! a value.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Sealed, SecretData};
use crate::names::Name;

/// A new version: `added`, `changed` and `removed` name the keys whose
/// value is new, different or gone (a created secret adds all its keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSet {
    pub secret_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
    pub created: bool,
    pub data: SecretData,
    #[serde(default)]
    pub added: Vec<String>,
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretDeleted {
    pub secret_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
}

/// The last deleted version of the name is live again, as it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretUndeleted {
    pub secret_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotationStarted {
    pub rotation_id: Uuid,
    pub to_key: String,
    /// Secrets (live and deleted) wrapped under another key, and those keys.
    pub total: u32,
    pub from_keys: Vec<String>,
}

/// A secret's data key now wrapped under `to_key` (was `from_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretRewrapped {
    pub secret_id: Uuid,
    pub rotation_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
    pub from_key: String,
    pub to_key: String,
    pub wrapped_key: Sealed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotationCompleted {
    pub rotation_id: Uuid,
    pub to_key: String,
    pub total: u32,
}
