//! A namespace as the other slices ask about it: whether it is open for
//! new objects, and what it holds.

use super::{BUILT_IN, Namespace, ObjectKind, ObjectRef};
use crate::names::Name;
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;
use uuid::Uuid;

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

    /// Whether the object is live (not deleted).
    pub fn holds(&self, o: &ObjectRef) -> bool {
        use crate::ids::{CronJobId, DeploymentId, JobId, ServiceId, StatefulSetId};
        match o.kind {
            ObjectKind::Deployment => self.deployments.contains_key(&DeploymentId(o.id)),
            ObjectKind::StatefulSet => self.stateful_sets.contains_key(&StatefulSetId(o.id)),
            ObjectKind::Job => self.jobs.contains_key(&JobId(o.id)),
            ObjectKind::CronJob => self.cron_jobs.contains_key(&CronJobId(o.id)),
            ObjectKind::Service => self.services.contains_key(&ServiceId(o.id)),
            ObjectKind::Secret => self.secrets.live.values().any(|s| s.id == o.id),
        }
    }

    /// The namespace of the object (workload, cron job, service or pod)
    /// with this id, live or last deleted; `None` if this state has never
    /// seen it.
    pub fn namespace_of(&self, id: Uuid) -> Option<&Name> {
        use crate::ids::{CronJobId, DeploymentId, JobId, PodId, ServiceId, StatefulSetId};
        if let Some(p) = self.pods.get(&PodId(id)) {
            return self.workload(p.owner).map(|w| w.namespace);
        }
        self.deployments
            .get(&DeploymentId(id))
            .map(|d| &d.spec.namespace)
            .or_else(|| {
                self.stateful_sets
                    .get(&StatefulSetId(id))
                    .map(|s| &s.spec.namespace)
            })
            .or_else(|| self.jobs.get(&JobId(id)).map(|j| &j.spec.namespace))
            .or_else(|| {
                self.cron_jobs
                    .get(&CronJobId(id))
                    .map(|c| &c.spec.namespace)
            })
            .or_else(|| self.services.get(&ServiceId(id)).map(|s| &s.spec.namespace))
            .or_else(|| self.secrets.by_id(id).map(|s| &s.namespace))
            .or_else(|| {
                let deleted = self
                    .deleted
                    .values()
                    .find(|d| d.id.0 == id)
                    .map(|d| &d.spec.namespace);
                deleted
                    .or_else(|| {
                        self.deleted_stateful_sets
                            .values()
                            .find(|s| s.id.0 == id)
                            .map(|s| &s.spec.namespace)
                    })
                    .or_else(|| {
                        self.deleted_jobs
                            .values()
                            .find(|j| j.id.0 == id)
                            .map(|j| &j.spec.namespace)
                    })
                    .or_else(|| {
                        self.deleted_cron_jobs
                            .values()
                            .find(|c| c.id.0 == id)
                            .map(|c| &c.spec.namespace)
                    })
                    .or_else(|| {
                        self.deleted_services
                            .values()
                            .find(|s| s.id.0 == id)
                            .map(|s| &s.spec.namespace)
                    })
            })
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
        for s in self.secrets.in_namespace(namespace) {
            add(ObjectKind::Secret, s.id, &s.namespace, &s.name);
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
