//! The namespace slice: a namespace is an object with a life of its own.
//! `default` and `orch-system` exist from the start and cannot be deleted;
//! any other is created before anything is put in it. Deleting one records
//! what it held (`NamespaceDeleted.objects`); the namespace controller then
//! deletes each of those objects through an ordinary command, and
//! `UndeleteNamespace` brings back every one it can, atomically.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod lookup;
pub mod security;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::Name;

/// The namespaces every cluster has; they cannot be deleted.
pub const BUILT_IN: [&str; 2] = ["default", "orch-system"];

/// A namespace's aggregate id: derived from its name, so its history runs
/// on across a delete and a re-create.
pub fn namespace_id(name: &str) -> Uuid {
    derive_id(&[b"namespace", name.as_bytes()])
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Namespace {
    pub name: Name,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Deleted: nothing new may be put in it; what it held is being removed.
    pub deleted: bool,
    /// What the namespace held when it was deleted (empty while it lives).
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    pub version: u64,
    /// The correlation id of its deletion: the controller's deletions of
    /// what it held link back to that request.
    #[serde(default)]
    pub cause: Option<Uuid>,
}

impl Namespace {
    /// A live namespace, before its first event is counted.
    pub(crate) fn new(name: Name, labels: BTreeMap<String, String>, version: u64) -> Self {
        Namespace {
            name,
            labels,
            deleted: false,
            objects: Vec::new(),
            version,
            cause: None,
        }
    }
}

/// The kinds a namespace holds.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ObjectKind {
    Deployment,
    StatefulSet,
    Job,
    CronJob,
    Service,
    Secret,
}

/// One object of a namespace: its kind, id and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    pub kind: ObjectKind,
    pub id: Uuid,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub name: Name,
}
