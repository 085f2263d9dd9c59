//! The limit-range slice's events.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LimitRangeSpec;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRangeSet {
    pub limit_range_id: Uuid,
    pub namespace: Name,
    pub spec: LimitRangeSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRangeRemoved {
    pub limit_range_id: Uuid,
    pub namespace: Name,
}
