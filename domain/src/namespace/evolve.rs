//! Folding a namespace's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::Namespace;

impl State {
    pub(crate) fn on_namespace_created(&mut self, e: &ev::NamespaceCreated) {
        let version = self
            .namespaces
            .get(e.name.as_str())
            .map_or(0, |n| n.version);
        // A namespace created again starts without the old one's quota,
        // roles, bindings and service accounts.
        self.quotas.remove(e.name.as_str());
        self.limit_ranges.remove(e.name.as_str());
        self.network_policies
            .retain(|_, p| p.namespace.as_str() != e.name.as_str());
        let ns = Some(e.name.as_str());
        self.rbac.roles.retain(|_, r| r.namespace.as_deref() != ns);
        self.rbac
            .bindings
            .retain(|_, b| b.namespace.as_deref() != ns);
        let prefix = format!("{}/", e.name);
        self.identities
            .service_accounts
            .retain(|k| !k.starts_with(&prefix));
        self.namespaces.insert(
            e.name.to_string(),
            Namespace::new(e.name.clone(), e.labels.clone(), version + 1),
        );
    }

    pub(crate) fn on_namespace_labels_changed(&mut self, e: &ev::NamespaceLabelsChanged) {
        // A built-in is recorded from its first change on.
        let ns = self
            .namespaces
            .entry(e.name.to_string())
            .or_insert_with(|| Namespace::new(e.name.clone(), Default::default(), 0));
        ns.labels = e.labels.clone();
        ns.version += 1;
    }

    pub(crate) fn on_namespace_deleted(&mut self, e: &ev::NamespaceDeleted) {
        if let Some(ns) = self.namespaces.get_mut(e.name.as_str()) {
            ns.deleted = true;
            ns.objects = e.objects.clone();
            ns.version += 1;
        }
    }

    pub(crate) fn on_namespace_undeleted(&mut self, e: &ev::NamespaceUndeleted) {
        if let Some(ns) = self.namespaces.get_mut(e.name.as_str()) {
            ns.deleted = false;
            ns.objects.clear();
            ns.version += 1;
        }
    }
}
