//! The RBAC slice's commands: set (create or replace) and delete a role or
//! a binding, in a namespace or (`namespace: None`) across the cluster.

use serde::{Deserialize, Serialize};

use super::{RoleRef, Rule, Subject};
use crate::names::Name;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRole {
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRole {
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutRoleBinding {
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
    pub role: RoleRef,
    pub subjects: Vec<Subject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteRoleBinding {
    #[serde(default)]
    pub namespace: Option<Name>,
    pub name: Name,
}
