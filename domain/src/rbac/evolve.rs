//! Folding roles and bindings into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::{Role, RoleBinding, key};

impl State {
    pub(crate) fn on_role_set(&mut self, e: &ev::RoleSet) {
        self.bump_policy_version(e.role_id);
        self.rbac.roles.insert(
            key(e.namespace.as_deref(), &e.name),
            Role {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                rules: e.rules.clone(),
            },
        );
    }

    pub(crate) fn on_role_deleted(&mut self, e: &ev::RoleDeleted) {
        self.bump_policy_version(e.role_id);
        self.rbac
            .roles
            .remove(&key(e.namespace.as_deref(), &e.name));
    }

    pub(crate) fn on_role_binding_set(&mut self, e: &ev::RoleBindingSet) {
        self.bump_policy_version(e.binding_id);
        self.rbac.bindings.insert(
            key(e.namespace.as_deref(), &e.name),
            RoleBinding {
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                role: e.role.clone(),
                subjects: e.subjects.clone(),
            },
        );
    }

    pub(crate) fn on_role_binding_deleted(&mut self, e: &ev::RoleBindingDeleted) {
        self.bump_policy_version(e.binding_id);
        self.rbac
            .bindings
            .remove(&key(e.namespace.as_deref(), &e.name));
    }
}
