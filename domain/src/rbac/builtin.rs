//! The built-in roles and bindings: code, the same on every cluster, and
//! kept as golden files by the tests (`domain/tests/golden/rbac/`), so a
//! change to what a built-in grants is a reviewed change.
//!
//! - `viewer`: read everything in its scope except secrets' values, roles,
//!   bindings, users and tokens; read logs.
//! - `editor`: a viewer that also changes workloads, services, pods,
//!   secrets and network policies (and reads secrets' values).
//! - `admin`: an editor that also manages roles, bindings, service accounts
//!   and their tokens; it cannot change its namespace's quota or limit
//!   range, nor grant beyond what it holds (no `bind`, no `escalate`).
//! - `cluster-admin`: everything, everywhere.
//! - `system:scheduler`, `system:controller`, `system:node-agent`: what the
//!   components need, and no more: only node agents report a pod's status
//!   (`pods/status`), each for its own node's pods only; the scheduler binds
//!   (`pods/binding`) and evicts to preempt.

use std::sync::OnceLock;

use super::{Role, RoleBinding, RoleRef, Rule, Subject};

const WORKLOADS: &[&str] = &[
    "deployments",
    "statefulsets",
    "jobs",
    "cronjobs",
    "services",
    "pods",
];
const READ: &[&str] = &["get", "list", "watch"];

fn rule(verbs: &[&str], resources: &[&str]) -> Rule {
    Rule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        resources: resources.iter().map(|s| s.to_string()).collect(),
    }
}

fn cluster_role(name: &str, rules: Vec<Rule>) -> Role {
    Role {
        namespace: None,
        name: name.to_string(),
        rules,
    }
}

fn viewer_rules() -> Vec<Rule> {
    let mut read: Vec<&str> = WORKLOADS.to_vec();
    read.extend([
        "deployments/status",
        "statefulsets/status",
        "jobs/status",
        "cronjobs/status",
        "pods/status",
        "nodes",
        "nodes/status",
        "namespaces",
        "resourcequotas",
        "limitranges",
        "events",
        "serviceaccounts",
        "secrets",
        "networkpolicies",
    ]);
    vec![rule(READ, &read), rule(&["logs"], &["pods"])]
}

fn editor_rules() -> Vec<Rule> {
    let mut r = viewer_rules();
    let mut write: Vec<&str> = WORKLOADS.to_vec();
    write.extend(["pods/eviction", "secrets", "networkpolicies"]);
    r.push(rule(
        &["create", "update", "delete", "scale", "rollout", "rollback"],
        &write,
    ));
    r.push(rule(&["read-secrets"], &["secrets"]));
    r
}

fn admin_rules() -> Vec<Rule> {
    let mut r = editor_rules();
    r.push(rule(
        &["get", "list", "watch", "create", "update", "delete"],
        &["roles", "rolebindings", "serviceaccounts", "tokens"],
    ));
    r
}

/// Every built-in role (all are cluster roles, bindable in a namespace).
pub fn roles() -> &'static [Role] {
    static ROLES: OnceLock<Vec<Role>> = OnceLock::new();
    ROLES.get_or_init(|| {
        vec![
            cluster_role("viewer", viewer_rules()),
            cluster_role("editor", editor_rules()),
            cluster_role("admin", admin_rules()),
            cluster_role("cluster-admin", vec![rule(&["*"], &["*"])]),
            cluster_role(
                "system:scheduler",
                vec![
                    rule(
                        READ,
                        &["pods", "nodes", "deployments", "statefulsets", "jobs"],
                    ),
                    rule(&["create"], &["pods/binding", "pods/eviction"]),
                    rule(&["update"], &["pods/binding"]),
                ],
            ),
            cluster_role(
                "system:controller",
                vec![
                    rule(
                        &["*"],
                        &[
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
                            "pods/eviction",
                            "nodes/status",
                            "resourcequotas/status",
                        ],
                    ),
                    rule(&["get", "list", "watch", "delete"], &["namespaces"]),
                    rule(READ, &["nodes", "resourcequotas", "limitranges", "events"]),
                ],
            ),
            cluster_role(
                "system:node-agent",
                vec![
                    rule(&["create", "get", "list", "watch"], &["nodes"]),
                    rule(&["update"], &["nodes/status", "pods/status"]),
                    rule(READ, &["pods"]),
                ],
            ),
        ]
    })
}

/// Every built-in binding (all cluster bindings).
pub fn bindings() -> &'static [RoleBinding] {
    static BINDINGS: OnceLock<Vec<RoleBinding>> = OnceLock::new();
    BINDINGS.get_or_init(|| {
        let user = |n: &str| Subject::User {
            name: n.to_string(),
        };
        let bind = |name: &str, role: &str, subjects| RoleBinding {
            namespace: None,
            name: name.to_string(),
            role: RoleRef::ClusterRole {
                name: role.to_string(),
            },
            subjects,
        };
        vec![
            bind(
                "cluster-admin",
                "cluster-admin",
                vec![
                    user(crate::identity::ADMIN),
                    user(crate::identity::BOOTSTRAP),
                ],
            ),
            bind(
                "system:scheduler",
                "system:scheduler",
                vec![user("system:scheduler")],
            ),
            bind(
                "system:controller",
                "system:controller",
                vec![user("system:controller")],
            ),
            bind(
                "system:node-agents",
                "system:node-agent",
                vec![Subject::Group {
                    name: crate::identity::NODE_AGENTS.to_string(),
                }],
            ),
        ]
    })
}

/// The built-in cluster role named `name`.
pub fn role(name: &str) -> Option<&'static Role> {
    roles().iter().find(|r| r.name == name)
}
