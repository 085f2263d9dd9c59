//! Folding a service's events into the cell's state.

use crate::ids::ServiceId;
use crate::model::ServiceSpec;
use crate::state::{Service, State};

impl State {
    pub(crate) fn on_service_created(&mut self, service_id: &ServiceId, spec: &ServiceSpec) {
        self.services.insert(
            *service_id,
            Service {
                id: *service_id,
                spec: spec.clone(),
                version: 1,
            },
        );
    }

    pub(crate) fn on_service_deleted(&mut self, service_id: &ServiceId) {
        self.services.remove(service_id);
    }
}
