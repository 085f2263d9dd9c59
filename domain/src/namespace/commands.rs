//! The namespace slice's commands.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ObjectRef;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateNamespace {
    pub name: Name,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

/// Replace the namespace's labels (a built-in's too): how its pod security
/// level is set. Pods already admitted keep running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateNamespace {
    pub name: Name,
    pub labels: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteNamespace {
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteNamespace {
    pub name: Name,
}

/// The namespace controller's: delete `object`, which the deleted
/// namespace held, as its kind's delete would. Dropped once the namespace
/// lives again (undeleted while the command was on its way) or the object
/// is gone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PurgeNamespaceObject {
    pub namespace: Name,
    pub object: ObjectRef,
}
