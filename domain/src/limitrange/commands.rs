//! The limit-range slice's commands.

use serde::{Deserialize, Serialize};

use super::LimitRangeSpec;
use crate::names::Name;

/// Set (or replace) the namespace's limit range; it applies to what is
/// admitted from now on (running pods keep their resources).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetLimitRange {
    pub namespace: Name,
    pub spec: LimitRangeSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemoveLimitRange {
    pub namespace: Name,
}
