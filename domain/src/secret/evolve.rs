//! Folding the secret slice's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::{KeyRotation, Secret};

impl State {
    pub(crate) fn on_secret_set(&mut self, e: &ev::SecretSet) {
        self.bump_policy_version(e.secret_id);
        self.secrets.live.insert(
            format!("{}/{}", e.namespace, e.name),
            Secret {
                id: e.secret_id,
                namespace: e.namespace.clone(),
                name: e.name.clone(),
                version: e.version,
                data: e.data.clone(),
            },
        );
    }

    pub(crate) fn on_secret_deleted(&mut self, e: &ev::SecretDeleted) {
        self.bump_policy_version(e.secret_id);
        let key = format!("{}/{}", e.namespace, e.name);
        if let Some(s) = self.secrets.live.remove(&key) {
            self.secrets.deleted.insert(key, s);
        }
    }

    pub(crate) fn on_secret_undeleted(&mut self, e: &ev::SecretUndeleted) {
        self.bump_policy_version(e.secret_id);
        let key = format!("{}/{}", e.namespace, e.name);
        if let Some(s) = self.secrets.deleted.remove(&key) {
            self.secrets.live.insert(key, s);
        }
    }

    pub(crate) fn on_key_rotation_started(&mut self, e: &ev::KeyRotationStarted) {
        self.bump_policy_version(e.rotation_id);
        self.secrets.rotations.insert(
            e.rotation_id,
            KeyRotation {
                rotation_id: e.rotation_id,
                to_key: e.to_key.clone(),
                total: e.total,
                completed: false,
            },
        );
    }

    pub(crate) fn on_secret_rewrapped(&mut self, e: &ev::SecretRewrapped) {
        self.bump_policy_version(e.secret_id);
        let key = format!("{}/{}", e.namespace, e.name);
        let secrets = &mut self.secrets;
        let target = match secrets.live.get_mut(&key) {
            Some(s) if s.version == e.version => Some(s),
            _ => secrets
                .deleted
                .get_mut(&key)
                .filter(|s| s.version == e.version),
        };
        if let Some(s) = target {
            s.data.key_id = e.to_key.clone();
            s.data.wrapped_key = e.wrapped_key.clone();
        }
    }

    pub(crate) fn on_key_rotation_completed(&mut self, e: &ev::KeyRotationCompleted) {
        self.bump_policy_version(e.rotation_id);
        if let Some(r) = self.secrets.rotations.get_mut(&e.rotation_id) {
            r.completed = true;
        }
    }
}
