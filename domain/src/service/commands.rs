//! The service slice's commands.

use serde::{Deserialize, Serialize};

use crate::ids::ServiceId;
use crate::model::ServiceSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateService {
    pub service_id: ServiceId,
    pub spec: ServiceSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteService {
    pub service_id: ServiceId,
}

/// Restore the last deleted service of this name (same id and spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteService {
    pub namespace: crate::names::Name,
    pub name: crate::names::Name,
}
