//! `namespace` and `resource_quota`: namespaces as objects, and the hard
//! limits and last recorded usage of each one's quota.

use chrono::{DateTime, Utc};
use domain::event::{Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};

use super::{Projection, Table};

enum Stmt {
    Created {
        name: String,
        labels: Value,
        at: DateTime<Utc>,
    },
    Deleted {
        name: String,
        objects: Value,
        at: DateTime<Utc>,
    },
    Undeleted {
        name: String,
    },
    Labels {
        name: String,
        labels: Value,
    },
    QuotaSet {
        namespace: String,
        hard: Value,
        used: Value,
        at: DateTime<Utc>,
    },
    QuotaUsed {
        namespace: String,
        used: Value,
        at: DateTime<Utc>,
    },
    QuotaRemoved {
        namespace: String,
    },
    LimitsSet {
        namespace: String,
        spec: Value,
        at: DateTime<Utc>,
    },
    LimitsRemoved {
        namespace: String,
    },
}

#[derive(Default)]
pub(crate) struct Namespaces {
    statements: Vec<Stmt>,
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

impl Projection for Namespaces {
    const TABLES: &'static [Table] = &[
        Table {
            name: "namespace",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY name), '')) FROM namespace t",
            snapshot: true,
        },
        Table {
            name: "resource_quota",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace), '')) FROM resource_quota t",
            snapshot: true,
        },
        Table {
            name: "limit_range",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace), '')) FROM limit_range t",
            snapshot: true,
        },
    ];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        let st = match &env.body {
            Event::NamespaceCreated(e) => Stmt::Created {
                name: e.name.to_string(),
                labels: json(&e.labels),
                at,
            },
            Event::NamespaceDeleted(e) => Stmt::Deleted {
                name: e.name.to_string(),
                objects: json(&e.objects),
                at,
            },
            Event::NamespaceLabelsChanged(e) => Stmt::Labels {
                name: e.name.to_string(),
                labels: json(&e.labels),
            },
            Event::NamespaceUndeleted(e) => Stmt::Undeleted {
                name: e.name.to_string(),
            },
            Event::ResourceQuotaSet(e) => Stmt::QuotaSet {
                namespace: e.namespace.to_string(),
                hard: json(&e.hard),
                used: json(&e.used),
                at,
            },
            Event::ResourceQuotaUsageRecorded(e) => Stmt::QuotaUsed {
                namespace: e.namespace.to_string(),
                used: json(&e.used),
                at,
            },
            Event::ResourceQuotaRemoved(e) => Stmt::QuotaRemoved {
                namespace: e.namespace.to_string(),
            },
            Event::LimitRangeSet(e) => Stmt::LimitsSet {
                namespace: e.namespace.to_string(),
                spec: json(&e.spec),
                at,
            },
            Event::LimitRangeRemoved(e) => Stmt::LimitsRemoved {
                namespace: e.namespace.to_string(),
            },
            _ => return,
        };
        self.statements.push(st);
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for st in &self.statements {
            match st {
                Stmt::Created { name, labels, at } => {
                    // Created again after a delete: a fresh namespace, without the old quota.
                    sqlx::query(
                        "INSERT INTO namespace (name, labels, status, created_at)
                         VALUES ($1, $2, 'Active', $3)
                         ON CONFLICT (name) DO UPDATE SET labels = $2, status = 'Active',
                           created_at = $3, deleted_at = NULL, deleted_objects = '[]'",
                    )
                    .bind(name)
                    .bind(labels)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                    for table in ["resource_quota", "limit_range"] {
                        sqlx::query(&format!("DELETE FROM {table} WHERE namespace = $1"))
                            .bind(name)
                            .execute(&mut **tx)
                            .await?;
                    }
                }
                Stmt::Deleted { name, objects, at } => {
                    sqlx::query(
                        "UPDATE namespace SET status = 'Deleted', deleted_at = $2, deleted_objects = $3
                         WHERE name = $1",
                    )
                    .bind(name)
                    .bind(at)
                    .bind(objects)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Labels { name, labels } => {
                    // A built-in gets its row with its first change.
                    sqlx::query(
                        "INSERT INTO namespace (name, labels, status) VALUES ($1, $2, 'Active')
                         ON CONFLICT (name) DO UPDATE SET labels = $2",
                    )
                    .bind(name)
                    .bind(labels)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Undeleted { name } => {
                    sqlx::query(
                        "UPDATE namespace SET status = 'Active', deleted_at = NULL, deleted_objects = '[]'
                         WHERE name = $1",
                    )
                    .bind(name)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::QuotaSet {
                    namespace,
                    hard,
                    used,
                    at,
                } => {
                    sqlx::query(
                        "INSERT INTO resource_quota (namespace, hard, used, updated_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (namespace) DO UPDATE SET hard = $2, used = $3, updated_at = $4",
                    )
                    .bind(namespace)
                    .bind(hard)
                    .bind(used)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::QuotaUsed {
                    namespace,
                    used,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE resource_quota SET used = $2, updated_at = $3 WHERE namespace = $1",
                    )
                    .bind(namespace)
                    .bind(used)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::LimitsSet {
                    namespace,
                    spec,
                    at,
                } => {
                    sqlx::query(
                        "INSERT INTO limit_range (namespace, spec, updated_at) VALUES ($1, $2, $3)
                         ON CONFLICT (namespace) DO UPDATE SET spec = $2, updated_at = $3",
                    )
                    .bind(namespace)
                    .bind(spec)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::LimitsRemoved { namespace } => {
                    sqlx::query("DELETE FROM limit_range WHERE namespace = $1")
                        .bind(namespace)
                        .execute(&mut **tx)
                        .await?;
                }
                Stmt::QuotaRemoved { namespace } => {
                    sqlx::query("DELETE FROM resource_quota WHERE namespace = $1")
                        .bind(namespace)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
