//! The secret slice's commands. A write carries the sealed envelope the API
//! made, never a value.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Sealed, SecretData};
use crate::names::Name;

/// Write version `version` of a secret (create it, or replace every key).
/// `version` must be the one `Secrets::next_version` gives when decided (the
/// values are sealed for it): a write that raced another gets `409
/// CONFLICT` and is sealed again. The decider sees which keys come and go;
/// which kept keys have a new value only the API can tell (it opens the
/// current version), so it says so in `changed` (history shows key names,
/// never a value).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetSecret {
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
    pub data: SecretData,
    /// `POST` (create only: `409 ALREADY_EXISTS` if it exists) or `PUT`.
    #[serde(default)]
    pub create_only: bool,
    #[serde(default)]
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteSecret {
    pub namespace: Name,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteSecret {
    pub namespace: Name,
    pub name: Name,
}

/// Begin a KEK rotation: from now on every secret's data key is re-wrapped
/// under `to_key` (`total`: how many are wrapped under another key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartKeyRotation {
    pub rotation_id: Uuid,
    pub to_key: String,
}

/// One secret's data key, re-wrapped under the rotation's key (the values
/// are untouched). Dropped if the secret has moved on to another version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RewrapSecret {
    pub rotation_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub version: u64,
    pub wrapped_key: Sealed,
}

/// End a rotation: refused (`409 CONFLICT`) while a secret is still wrapped
/// under another key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteKeyRotation {
    pub rotation_id: Uuid,
}
