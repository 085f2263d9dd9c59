//! The RBAC slice's events. A binding's events say whom it added and
//! removed, so the history of a grant reads without a diff.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RoleRef, Rule, Subject};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleSet {
    pub role_id: Uuid,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    pub rules: Vec<Rule>,
    /// It did not exist before.
    #[serde(default)]
    pub created: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleDeleted {
    pub role_id: Uuid,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBindingSet {
    pub binding_id: Uuid,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    pub role: RoleRef,
    pub subjects: Vec<Subject>,
    /// Subjects it names now and did not before (all of them for a new one).
    #[serde(default)]
    pub added: Vec<Subject>,
    #[serde(default)]
    pub removed: Vec<Subject>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBindingDeleted {
    pub binding_id: Uuid,
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    pub role: RoleRef,
    /// Who lost the role.
    pub subjects: Vec<Subject>,
}
