//! The service slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::ServiceId;
use crate::model::ServiceSpec;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceCreated {
    pub service_id: ServiceId,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDeleted {
    pub service_id: ServiceId,
    pub namespace: Name,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceUndeleted {
    pub service_id: ServiceId,
    pub spec: ServiceSpec,
}
