//! The network-policy slice's commands.

use serde::{Deserialize, Serialize};

use super::NetworkPolicySpec;
use crate::names::Name;

/// Create or replace a policy of the namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutNetworkPolicy {
    pub namespace: Name,
    pub name: Name,
    pub spec: NetworkPolicySpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteNetworkPolicy {
    pub namespace: Name,
    pub name: Name,
}
