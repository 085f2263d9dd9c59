//! The RBAC slice: roles (rules: resources × verbs) and the bindings that
//! give them to users, groups and service accounts, within a namespace or
//! across the cluster. Grants are events, so the log answers "who made Bob
//! an admin, and when".
//!
//! A `Role` with a namespace grants there only; without one it is a
//! cluster role. A binding with a namespace grants its role's rules in that
//! namespace (a cluster role's too); a cluster binding grants them
//! everywhere, cluster-scoped resources included. The built-in roles and
//! bindings (`builtin`) are code, the same on every cluster.
//!
//! Every command is authorized (`authorize::command`) by the API before it
//! is produced and again by the decider, the single writer, so a grant
//! revoked while a request is in flight cannot slip through, and a
//! component writing to the log directly is held to its own role (an agent
//! reports only for its own node's pods). Nobody grants what they do not
//! hold: a role's rules, a binding's role and a group's bindings must be
//! covered by the granter's own permissions, unless the granter holds
//! `escalate` (roles) or `bind` (bindings).

pub mod authorize;
pub mod builtin;
pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod needs;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::{FieldError, Name};

/// What may be done to a resource.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
    strum::Display,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Verb {
    Get,
    List,
    Watch,
    Create,
    Update,
    Delete,
    Scale,
    Rollout,
    Rollback,
    Logs,
    ReadSecrets,
    Bind,
    Escalate,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    pub fn all() -> impl Iterator<Item = Verb> {
        <Verb as strum::IntoEnumIterator>::iter()
    }
}

/// Every resource a rule may name. `…/status`, `…/binding` and
/// `…/eviction` are the parts the components write: a pod's status is
/// the node agent's report, its binding the scheduler's decision.
pub const RESOURCES: &[&str] = &[
    "deployments",
    "deployments/status",
    "statefulsets",
    "statefulsets/status",
    "jobs",
    "jobs/status",
    "cronjobs",
    "cronjobs/status",
    "services",
    "pods",
    "pods/status",
    "pods/binding",
    "pods/eviction",
    "nodes",
    "nodes/status",
    "namespaces",
    "resourcequotas",
    "resourcequotas/status",
    "limitranges",
    "events",
    "users",
    "serviceaccounts",
    "tokens",
    "roles",
    "rolebindings",
    "secrets",
    "networkpolicies",
];

/// The resources that live outside namespaces: only a cluster binding grants them.
pub const CLUSTER_RESOURCES: &[&str] = &["nodes", "nodes/status", "namespaces", "users"];

/// The resource named `s`, as the static string of `RESOURCES`.
pub fn resource(s: &str) -> Option<&'static str> {
    RESOURCES.iter().copied().find(|r| *r == s)
}

/// One rule: these verbs on these resources (`*`: all of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rule {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
}

impl Rule {
    pub fn allows(&self, verb: Verb, resource: &str) -> bool {
        let v = self.verbs.iter().any(|v| v == "*" || v == verb.as_str());
        v && self.resources.iter().any(|r| r == "*" || r == resource)
    }

    /// Every (verb, resource) pair the rule names, wildcards spelled out.
    pub fn pairs(&self) -> Vec<(Verb, &'static str)> {
        let mut out = Vec::new();
        for v in Verb::all() {
            for r in RESOURCES {
                if self.allows(v, r) {
                    out.push((v, *r));
                }
            }
        }
        out
    }

    /// Field errors for unknown verbs or resources, or an empty rule.
    pub fn errors(&self, field: &str) -> Vec<FieldError> {
        let mut e = Vec::new();
        if self.verbs.is_empty() {
            e.push(FieldError::new(
                format!("{field}.verbs"),
                "must name at least one verb",
            ));
        }
        if self.resources.is_empty() {
            e.push(FieldError::new(
                format!("{field}.resources"),
                "must name at least one resource",
            ));
        }
        for (i, v) in self.verbs.iter().enumerate() {
            if v != "*" && v.parse::<Verb>().is_err() {
                let known: Vec<&str> = Verb::all().map(Verb::as_str).collect();
                e.push(FieldError::new(
                    format!("{field}.verbs[{i}]"),
                    format!(
                        "'{v}' is not a verb: use one of {} or '*'",
                        known.join(", ")
                    ),
                ));
            }
        }
        for (i, r) in self.resources.iter().enumerate() {
            if r != "*" && resource(r).is_none() {
                e.push(FieldError::new(
                    format!("{field}.resources[{i}]"),
                    format!(
                        "'{r}' is not a resource: use one of {} or '*'",
                        RESOURCES.join(", ")
                    ),
                ));
            }
        }
        e
    }
}

/// Who a binding gives its role to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum Subject {
    User { name: String },
    Group { name: String },
    ServiceAccount { namespace: String, name: String },
}

impl Subject {
    /// The actor name (a group's name for a group).
    pub fn actor(&self) -> String {
        match self {
            Subject::User { name } | Subject::Group { name } => name.clone(),
            Subject::ServiceAccount { namespace, name } => {
                crate::identity::Principal::service_account_actor(namespace, name)
            }
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Subject::User { name } => write!(f, "user {name}"),
            Subject::Group { name } => write!(f, "group {name}"),
            Subject::ServiceAccount { namespace, name } => {
                write!(f, "service account {namespace}/{name}")
            }
        }
    }
}

/// The role a binding gives: a role of the binding's namespace, or a cluster role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all_fields = "camelCase")]
pub enum RoleRef {
    Role { name: String },
    ClusterRole { name: String },
}

impl RoleRef {
    pub fn name(&self) -> &str {
        match self {
            RoleRef::Role { name } | RoleRef::ClusterRole { name } => name,
        }
    }
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoleRef::Role { name } => write!(f, "role {name}"),
            RoleRef::ClusterRole { name } => write!(f, "clusterrole {name}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Role {
    /// `None`: a cluster role.
    pub namespace: Option<String>,
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBinding {
    /// `None`: a cluster binding.
    pub namespace: Option<String>,
    pub name: String,
    pub role: RoleRef,
    pub subjects: Vec<Subject>,
}

impl RoleBinding {
    /// `rolebinding/<ns>/<name>` or `clusterrolebinding/<name>`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("rolebinding/{ns}/{}", self.name),
            None => format!("clusterrolebinding/{}", self.name),
        }
    }
}

/// The key of a role or binding in its store: `<namespace>/<name>`, or
/// `/<name>` for the cluster's.
pub fn key(namespace: Option<&str>, name: &str) -> String {
    format!("{}/{name}", namespace.unwrap_or(""))
}

pub fn role_id(namespace: Option<&str>, name: &str) -> Uuid {
    derive_id(&[b"role", namespace.unwrap_or("").as_bytes(), name.as_bytes()])
}

pub fn binding_id(namespace: Option<&str>, name: &str) -> Uuid {
    derive_id(&[
        b"rolebinding",
        namespace.unwrap_or("").as_bytes(),
        name.as_bytes(),
    ])
}

/// The roles and bindings made on this cluster (the built-ins are not here).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rbac {
    pub roles: BTreeMap<String, Role>,
    pub bindings: BTreeMap<String, RoleBinding>,
}

/// A role or binding name a user may give: a DNS-1123 label (so never a
/// built-in's `system:` name).
pub fn parse_name(field: &str, s: &str) -> Result<Name, FieldError> {
    Name::parse(field, s)
}
