//! The network-policy slice's events.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::NetworkPolicySpec;
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicySet {
    pub policy_id: Uuid,
    pub namespace: Name,
    pub name: Name,
    pub created: bool,
    pub spec: NetworkPolicySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicyDeleted {
    pub policy_id: Uuid,
    pub namespace: Name,
    pub name: Name,
}
