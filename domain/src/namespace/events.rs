//! The namespace slice's events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ObjectRef;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceCreated {
    pub namespace_id: Uuid,
    pub name: Name,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceLabelsChanged {
    pub namespace_id: Uuid,
    pub name: Name,
    pub labels: BTreeMap<String, String>,
}

/// The namespace is deleted; `objects` is everything it held, which the
/// namespace controller now deletes one by one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceDeleted {
    pub namespace_id: Uuid,
    pub name: Name,
    pub objects: Vec<ObjectRef>,
}

/// The namespace lives again; `restored` came back with it (their own
/// `…Undeleted` events follow in the same batch), `skipped` could not.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceUndeleted {
    pub namespace_id: Uuid,
    pub name: Name,
    pub restored: Vec<ObjectRef>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<SkippedObject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedObject {
    pub object: ObjectRef,
    pub reason: String,
}
