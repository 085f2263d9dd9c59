//! The quota slice's events.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{QuotaSpec, Usage};
use crate::names::Name;

/// The namespace's quota is `hard` now; `used` is what it committed then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaSet {
    pub quota_id: Uuid,
    pub namespace: Name,
    pub hard: QuotaSpec,
    pub used: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaRemoved {
    pub quota_id: Uuid,
    pub namespace: Name,
}

/// What the namespace commits changed (a create, scale, rollout, delete or
/// finished job): the figures as of this event, against `hard`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceQuotaUsageRecorded {
    pub quota_id: Uuid,
    pub namespace: Name,
    pub used: Usage,
    pub hard: QuotaSpec,
}
