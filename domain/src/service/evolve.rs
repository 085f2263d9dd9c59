//! Folding a service's events into the cell's state.

use crate::event as ev;
use crate::state::{Service, State};

impl State {
    pub(crate) fn on_service_created(&mut self, e: &ev::ServiceCreated) {
        let ev::ServiceCreated {
            service_id, spec, ..
        } = e;
        self.services.insert(
            *service_id,
            Service {
                id: *service_id,
                spec: spec.clone(),
                version: 1,
            },
        );
    }

    pub(crate) fn on_service_deleted(&mut self, e: &ev::ServiceDeleted) {
        let ev::ServiceDeleted { service_id, .. } = e;
        if let Some(mut s) = self.services.remove(service_id) {
            s.version += 1;
            let key = format!("{}/{}", s.spec.namespace, s.spec.name);
            self.deleted_services.insert(key, s);
        }
    }

    pub(crate) fn on_service_undeleted(&mut self, e: &ev::ServiceUndeleted) {
        let key = format!("{}/{}", e.spec.namespace, e.spec.name);
        let version = self
            .deleted_services
            .remove(&key)
            .filter(|s| s.id == e.service_id)
            .map_or(0, |s| s.version);
        self.services.insert(
            e.service_id,
            Service {
                id: e.service_id,
                spec: e.spec.clone(),
                version: version + 1,
            },
        );
    }
}
