//! The quota slice's commands.

use serde::{Deserialize, Serialize};

use super::QuotaSpec;
use crate::names::Name;

/// Set (or replace) the namespace's quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetResourceQuota {
    pub namespace: Name,
    pub hard: QuotaSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveResourceQuota {
    pub namespace: Name,
}

/// The namespace controller's: record the namespace's usage if it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordQuotaUsage {
    pub namespace: Name,
}
