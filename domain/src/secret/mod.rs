//! The secret slice: a namespace's named secrets, stored as envelopes that
//! only a key-encryption key (KEK) outside the log can open.
//!
//! Each version of a secret has its own fresh 256-bit data key; every value
//! is sealed with it (AES-256-GCM), and the data key itself is sealed
//! ("wrapped") with a KEK named by `keyId`. The API seals a write before it
//! becomes a command and the node agent opens a pod's secrets when it
//! starts the pod, so the log, the projections and this state only ever
//! hold ciphertext. The decider checks shapes, versions and names; it never
//! sees a key or a value.
//!
//! Rotating the KEK re-wraps each data key (`RewrapSecret`, one per secret,
//! between `KeyRotationStarted` and `KeyRotationCompleted`); the values'
//! ciphertexts stay as they are. Earlier versions live on only in the log,
//! wrapped under the KEK of their day: once that KEK is retired they are
//! unreadable, which is what retiring a key is for.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::{FieldError, Name};

pub fn secret_id(namespace: &str, name: &str) -> Uuid {
    derive_id(&[b"secret", namespace.as_bytes(), name.as_bytes()])
}

/// Most keys one secret may hold.
pub const MAX_KEYS: usize = 256;
/// Most bytes of one value (and of all a secret's values together).
pub const MAX_VALUE_BYTES: usize = 256 * 1024;
/// Most ciphertext a secret may carry (its values plus their tags).
pub const MAX_SEALED_BYTES: usize = 1024 * 1024;

/// Bytes sealed with AES-256-GCM: a 96-bit nonce and the ciphertext with its
/// 128-bit tag, both base64 (standard, padded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sealed {
    pub nonce: String,
    pub ciphertext: String,
}

/// One version's envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretData {
    /// The KEK that wraps the data key.
    pub key_id: String,
    /// The version's data key, sealed with the KEK; its associated data is
    /// [`key_aad`].
    pub wrapped_key: Sealed,
    /// Each value, sealed with the data key; associated data [`value_aad`].
    pub values: BTreeMap<String, Sealed>,
}

impl SecretData {
    pub fn keys(&self) -> Vec<String> {
        self.values.keys().cloned().collect()
    }

    fn sealed_bytes(&self) -> usize {
        self.values
            .values()
            .map(|s| s.ciphertext.len() + s.nonce.len())
            .sum()
    }
}

/// What binds a wrapped data key to its secret and version (a key moved to
/// another secret or version does not open).
pub fn key_aad(namespace: &str, name: &str, version: u64) -> String {
    format!("orch/secret/{namespace}/{name}/{version}")
}

/// What binds a sealed value to its secret, version and key.
pub fn value_aad(namespace: &str, name: &str, version: u64, key: &str) -> String {
    format!("orch/secret/{namespace}/{name}/{version}/{key}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    pub id: Uuid,
    pub namespace: Name,
    pub name: Name,
    /// 1 for the first write of the name, then one more per write (a
    /// re-created secret goes on from the deleted one's).
    pub version: u64,
    pub data: SecretData,
}

/// A KEK rotation: every secret's data key re-wrapped under `to_key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRotation {
    pub rotation_id: Uuid,
    pub to_key: String,
    /// Secrets (live and deleted) under another key when it started.
    pub total: u32,
    pub completed: bool,
}

/// Every secret, live and deleted, by `namespace/name`; and the rotations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Secrets {
    pub live: BTreeMap<String, Secret>,
    /// The last deleted secret of each name (undelete brings it back).
    pub deleted: BTreeMap<String, Secret>,
    pub rotations: BTreeMap<Uuid, KeyRotation>,
}

impl Secrets {
    pub fn get(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.live.get(&format!("{namespace}/{name}"))
    }

    /// The version the next write of `namespace/name` gets.
    pub fn next_version(&self, namespace: &str, name: &str) -> u64 {
        let key = format!("{namespace}/{name}");
        self.live
            .get(&key)
            .or_else(|| self.deleted.get(&key))
            .map_or(1, |s| s.version + 1)
    }

    /// Live and deleted secrets whose data key is not wrapped with `key_id`.
    pub fn wrapped_elsewhere<'a>(&'a self, key_id: &'a str) -> impl Iterator<Item = &'a Secret> {
        self.live
            .values()
            .chain(self.deleted.values())
            .filter(move |s| s.data.key_id != key_id)
    }

    /// The secret (live, else last deleted) with this id.
    pub fn by_id(&self, id: Uuid) -> Option<&Secret> {
        self.live
            .values()
            .chain(self.deleted.values())
            .find(|s| s.id == id)
    }

    pub fn in_namespace<'a>(&'a self, namespace: &'a str) -> impl Iterator<Item = &'a Secret> {
        self.live
            .values()
            .filter(move |s| s.namespace.as_str() == namespace)
    }
}

/// The envelope's own shape: keys, sizes, a key id.
pub fn validate_data(data: &SecretData) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if data.key_id.is_empty() || data.key_id.len() > 64 {
        errors.push(FieldError::new("keyId", "1 to 64 characters"));
    }
    if data.values.len() > MAX_KEYS {
        errors.push(FieldError::new(
            "data",
            format!("at most {MAX_KEYS} keys, not {}", data.values.len()),
        ));
    }
    for k in data.values.keys() {
        if let Err(e) = crate::names::check_secret_key(&format!("data.{k}"), k) {
            errors.push(e);
        }
    }
    if data.sealed_bytes() > MAX_SEALED_BYTES {
        errors.push(FieldError::new(
            "data",
            format!("at most {MAX_SEALED_BYTES} bytes sealed"),
        ));
    }
    errors
}
