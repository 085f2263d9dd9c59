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
        self.services.remove(service_id);
    }
}
