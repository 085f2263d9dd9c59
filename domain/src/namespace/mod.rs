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
pub mod security;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::Name;
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

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

impl State {
    /// The namespace as recorded (`None` for a built-in never changed, or
    /// a name never created).
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name)
    }

    /// Whether objects may be created in `name`: a built-in, or a live namespace.
    pub fn namespace_is_open(&self, name: &str) -> bool {
        match self.namespaces.get(name) {
            Some(ns) => !ns.deleted,
            None => BUILT_IN.contains(&name),
        }
    }

    /// Every live object in the namespace, in a stable order.
    pub fn objects_in(&self, namespace: &str) -> Vec<ObjectRef> {
        let mut out = Vec::new();
        let mut add = |kind, id: Uuid, ns: &Name, name: &Name| {
            if ns.as_str() == namespace {
                out.push(ObjectRef {
                    kind,
                    id,
                    name: name.clone(),
                });
            }
        };
        for d in self.deployments.values() {
            add(
                ObjectKind::Deployment,
                d.id.0,
                &d.spec.namespace,
                &d.spec.name,
            );
        }
        for s in self.stateful_sets.values() {
            add(
                ObjectKind::StatefulSet,
                s.id.0,
                &s.spec.namespace,
                &s.spec.name,
            );
        }
        for c in self.cron_jobs.values() {
            add(ObjectKind::CronJob, c.id.0, &c.spec.namespace, &c.spec.name);
        }
        for j in self.jobs.values() {
            add(ObjectKind::Job, j.id.0, &j.spec.namespace, &j.spec.name);
        }
        for s in self.services.values() {
            add(ObjectKind::Service, s.id.0, &s.spec.namespace, &s.spec.name);
        }
        out.sort();
        out
    }
}

/// `404 NAMESPACE_NOT_FOUND` or `409 NAMESPACE_TERMINATING` unless objects
/// may be created in `namespace`.
pub(crate) fn check_open(state: &State, namespace: &Name) -> Result<(), Rejection> {
    match state.namespaces.get(namespace.as_str()) {
        Some(ns) if ns.deleted => Err(Rejection::new(
            RejectionCode::NamespaceTerminating,
            format!(
                "namespace '{namespace}' is deleted: nothing new may be created in it (undelete it, or create it again once it is empty)"
            ),
        )),
        Some(_) => Ok(()),
        None if BUILT_IN.contains(&namespace.as_str()) => Ok(()),
        None => Err(Rejection::new(
            RejectionCode::NamespaceNotFound,
            format!(
                "namespace '{namespace}' does not exist: create it first (POST /api/v1/namespaces)"
            ),
        )),
    }
}
