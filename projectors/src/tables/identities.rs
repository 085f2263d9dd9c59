//! `users`, `service_accounts`, `api_tokens`, `rbac_roles` and
//! `rbac_bindings`: who exists, which tokens are live (digests only), and
//! every role and binding with who last set it.

use chrono::{DateTime, Utc};
use domain::event::{Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

enum Stmt {
    User {
        name: String,
        groups: Value,
        at: DateTime<Utc>,
        by: String,
    },
    Groups {
        name: String,
        groups: Value,
    },
    UserGone {
        name: String,
    },
    Account {
        ns: String,
        name: String,
        at: DateTime<Utc>,
        by: String,
    },
    AccountGone {
        ns: String,
        name: String,
    },
    Token {
        id: Uuid,
        subject: String,
        digest: String,
        expires: Option<DateTime<Utc>>,
        bootstrap: bool,
        description: Option<String>,
        at: DateTime<Utc>,
        by: String,
    },
    Revoked {
        digest: String,
        at: DateTime<Utc>,
    },
    Role {
        ns: String,
        name: String,
        rules: Value,
        at: DateTime<Utc>,
        by: String,
    },
    RoleGone {
        ns: String,
        name: String,
    },
    Binding {
        ns: String,
        name: String,
        role_kind: String,
        role_name: String,
        subjects: Value,
        at: DateTime<Utc>,
        by: String,
    },
    BindingGone {
        ns: String,
        name: String,
    },
    /// A namespace created (again): it starts without the roles, bindings
    /// and service accounts of the one deleted before it.
    Fresh {
        ns: String,
    },
}

#[derive(Default)]
pub(crate) struct Identities {
    statements: Vec<Stmt>,
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Projection for Identities {
    const TABLES: &'static [Table] = &[
        Table {
            name: "users",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY name), '')) FROM users t",
            snapshot: true,
        },
        Table {
            name: "service_accounts",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace, name), '')) FROM service_accounts t",
            snapshot: true,
        },
        Table {
            name: "api_tokens",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY token_sha256), '')) FROM api_tokens t",
            snapshot: true,
        },
        Table {
            name: "rbac_roles",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace, name), '')) FROM rbac_roles t",
            snapshot: true,
        },
        Table {
            name: "rbac_bindings",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace, name), '')) FROM rbac_bindings t",
            snapshot: true,
        },
    ];

    fn add(&mut self, env: &EventEnvelope) {
        let (at, by) = (env.occurred_at, env.actor.clone());
        let st = match &env.body {
            Event::UserCreated(e) => Stmt::User {
                name: e.name.to_string(),
                groups: json(&e.groups),
                at,
                by,
            },
            Event::UserGroupsChanged(e) => Stmt::Groups {
                name: e.name.to_string(),
                groups: json(&e.groups),
            },
            Event::UserDeleted(e) => Stmt::UserGone {
                name: e.name.to_string(),
            },
            Event::ServiceAccountCreated(e) => Stmt::Account {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                at,
                by,
            },
            Event::ServiceAccountDeleted(e) => Stmt::AccountGone {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
            },
            Event::TokenIssued(e) => Stmt::Token {
                id: e.token_id,
                subject: e.subject.clone(),
                digest: e.digest.clone(),
                expires: e.expires_at,
                bootstrap: e.bootstrap,
                description: e.description.clone(),
                at,
                by,
            },
            Event::TokenRevoked(e) => Stmt::Revoked {
                digest: e.digest.clone(),
                at,
            },
            Event::RoleSet(e) => Stmt::Role {
                ns: e.namespace.clone().unwrap_or_default(),
                name: e.name.clone(),
                rules: json(&e.rules),
                at,
                by,
            },
            Event::RoleDeleted(e) => Stmt::RoleGone {
                ns: e.namespace.clone().unwrap_or_default(),
                name: e.name.clone(),
            },
            Event::RoleBindingSet(e) => {
                let (kind, role) = match &e.role {
                    domain::rbac::RoleRef::Role { name } => ("Role", name.clone()),
                    domain::rbac::RoleRef::ClusterRole { name } => ("ClusterRole", name.clone()),
                };
                Stmt::Binding {
                    ns: e.namespace.clone().unwrap_or_default(),
                    name: e.name.clone(),
                    role_kind: kind.into(),
                    role_name: role,
                    subjects: json(&e.subjects),
                    at,
                    by,
                }
            }
            Event::RoleBindingDeleted(e) => Stmt::BindingGone {
                ns: e.namespace.clone().unwrap_or_default(),
                name: e.name.clone(),
            },
            Event::NamespaceCreated(e) => Stmt::Fresh {
                ns: e.name.to_string(),
            },
            _ => return,
        };
        self.statements.push(st);
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for st in &self.statements {
            let q = match st {
                Stmt::User { name, groups, at, by } => sqlx::query(
                    "INSERT INTO users (name, groups, created_at, created_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name) DO UPDATE SET groups = $2, created_at = $3, created_by = $4",
                )
                .bind(name)
                .bind(groups)
                .bind(at)
                .bind(by),
                Stmt::Groups { name, groups } => {
                    sqlx::query("UPDATE users SET groups = $2 WHERE name = $1").bind(name).bind(groups)
                }
                Stmt::UserGone { name } => sqlx::query("DELETE FROM users WHERE name = $1").bind(name),
                Stmt::Account { ns, name, at, by } => sqlx::query(
                    "INSERT INTO service_accounts (namespace, name, created_at, created_by) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (namespace, name) DO UPDATE SET created_at = $3, created_by = $4",
                )
                .bind(ns)
                .bind(name)
                .bind(at)
                .bind(by),
                Stmt::AccountGone { ns, name } => {
                    sqlx::query("DELETE FROM service_accounts WHERE namespace = $1 AND name = $2").bind(ns).bind(name)
                }
                Stmt::Token { id, subject, digest, expires, bootstrap, description, at, by } => sqlx::query(
                    "INSERT INTO api_tokens (token_sha256, actor, created_at, bootstrap, token_id, expires_at, issued_by, description)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                     ON CONFLICT (token_sha256) DO NOTHING",
                )
                .bind(digest)
                .bind(subject)
                .bind(at)
                .bind(bootstrap)
                .bind(id)
                .bind(expires)
                .bind(by)
                .bind(description),
                Stmt::Revoked { digest, at } => sqlx::query(
                    "UPDATE api_tokens SET revoked_at = $2 WHERE token_sha256 = $1 AND revoked_at IS NULL",
                )
                .bind(digest)
                .bind(at),
                Stmt::Role { ns, name, rules, at, by } => sqlx::query(
                    "INSERT INTO rbac_roles (namespace, name, rules, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (namespace, name) DO UPDATE SET rules = $3, updated_at = $4, updated_by = $5",
                )
                .bind(ns)
                .bind(name)
                .bind(rules)
                .bind(at)
                .bind(by),
                Stmt::RoleGone { ns, name } => {
                    sqlx::query("DELETE FROM rbac_roles WHERE namespace = $1 AND name = $2").bind(ns).bind(name)
                }
                Stmt::Binding { ns, name, role_kind, role_name, subjects, at, by } => sqlx::query(
                    "INSERT INTO rbac_bindings (namespace, name, role_kind, role_name, subjects, updated_at, updated_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (namespace, name) DO UPDATE SET role_kind = $3, role_name = $4, subjects = $5,
                       updated_at = $6, updated_by = $7",
                )
                .bind(ns)
                .bind(name)
                .bind(role_kind)
                .bind(role_name)
                .bind(subjects)
                .bind(at)
                .bind(by),
                Stmt::BindingGone { ns, name } => {
                    sqlx::query("DELETE FROM rbac_bindings WHERE namespace = $1 AND name = $2").bind(ns).bind(name)
                }
                Stmt::Fresh { ns } => {
                    for table in ["rbac_roles", "rbac_bindings", "service_accounts"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE namespace = $1"))
                            .bind(ns)
                            .execute(&mut **tx)
                            .await?;
                    }
                    continue;
                }
            };
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}
