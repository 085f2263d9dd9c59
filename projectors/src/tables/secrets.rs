//! `secrets` and `secret_key_rotations`: each secret's keys, version and
//! wrapping key (never a value, not even its ciphertext), and every KEK
//! rotation with its progress.

use chrono::{DateTime, Utc};
use domain::event::{Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

enum Stmt {
    Set {
        ns: String,
        name: String,
        id: Uuid,
        version: i64,
        keys: Value,
        key_id: String,
        at: DateTime<Utc>,
        by: String,
    },
    Deleted {
        ns: String,
        name: String,
        deleted: bool,
        at: DateTime<Utc>,
        by: String,
    },
    Rewrapped {
        ns: String,
        name: String,
        version: i64,
        key_id: String,
        rotation: Uuid,
        at: DateTime<Utc>,
    },
    Started {
        id: Uuid,
        to_key: String,
        from_keys: Value,
        total: i32,
        at: DateTime<Utc>,
        by: String,
    },
    Completed {
        id: Uuid,
        at: DateTime<Utc>,
    },
}

#[derive(Default)]
pub(crate) struct Secrets {
    statements: Vec<Stmt>,
}

impl Projection for Secrets {
    const TABLES: &'static [Table] = &[
        Table {
            name: "secrets",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace, name), '')) FROM secrets t",
            snapshot: true,
        },
        Table {
            name: "secret_key_rotations",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY rotation_id), '')) FROM secret_key_rotations t",
            snapshot: true,
        },
    ];

    fn add(&mut self, env: &EventEnvelope) {
        let (at, by) = (env.occurred_at, env.actor.clone());
        let st = match &env.body {
            Event::SecretSet(e) => Stmt::Set {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                id: e.secret_id,
                version: e.version as i64,
                keys: serde_json::to_value(e.data.keys()).unwrap_or(Value::Null),
                key_id: e.data.key_id.clone(),
                at,
                by,
            },
            Event::SecretDeleted(e) => Stmt::Deleted {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                deleted: true,
                at,
                by,
            },
            Event::SecretUndeleted(e) => Stmt::Deleted {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                deleted: false,
                at,
                by,
            },
            Event::SecretRewrapped(e) => Stmt::Rewrapped {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                version: e.version as i64,
                key_id: e.to_key.clone(),
                rotation: e.rotation_id,
                at,
            },
            Event::KeyRotationStarted(e) => Stmt::Started {
                id: e.rotation_id,
                to_key: e.to_key.clone(),
                from_keys: serde_json::to_value(&e.from_keys).unwrap_or(Value::Null),
                total: e.total as i32,
                at,
                by,
            },
            Event::KeyRotationCompleted(e) => Stmt::Completed {
                id: e.rotation_id,
                at,
            },
            _ => return,
        };
        self.statements.push(st);
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for st in &self.statements {
            match st {
                Stmt::Set {
                    ns,
                    name,
                    id,
                    version,
                    keys,
                    key_id,
                    at,
                    by,
                } => {
                    sqlx::query(
                        "INSERT INTO secrets (namespace, name, secret_id, version, keys, key_id, deleted, created_at, updated_at, updated_by)
                         VALUES ($1, $2, $3, $4, $5, $6, false, $7, $7, $8)
                         ON CONFLICT (namespace, name) DO UPDATE SET version = $4, keys = $5, key_id = $6,
                           created_at = CASE WHEN secrets.deleted THEN $7 ELSE secrets.created_at END,
                           deleted = false, updated_at = $7, updated_by = $8",
                    )
                    .bind(ns)
                    .bind(name)
                    .bind(id)
                    .bind(version)
                    .bind(keys)
                    .bind(key_id)
                    .bind(at)
                    .bind(by)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Deleted {
                    ns,
                    name,
                    deleted,
                    at,
                    by,
                } => {
                    sqlx::query(
                        "UPDATE secrets SET deleted = $3, updated_at = $4, updated_by = $5 WHERE namespace = $1 AND name = $2",
                    )
                    .bind(ns)
                    .bind(name)
                    .bind(deleted)
                    .bind(at)
                    .bind(by)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Rewrapped {
                    ns,
                    name,
                    version,
                    key_id,
                    rotation,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE secrets SET key_id = $4, rewrapped_at = $5 WHERE namespace = $1 AND name = $2 AND version = $3",
                    )
                    .bind(ns)
                    .bind(name)
                    .bind(version)
                    .bind(key_id)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                    sqlx::query("UPDATE secret_key_rotations SET rewrapped = rewrapped + 1 WHERE rotation_id = $1")
                        .bind(rotation)
                        .execute(&mut **tx)
                        .await?;
                }
                Stmt::Started {
                    id,
                    to_key,
                    from_keys,
                    total,
                    at,
                    by,
                } => {
                    sqlx::query(
                        "INSERT INTO secret_key_rotations (rotation_id, to_key, from_keys, total, started_at, started_by)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (rotation_id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(to_key)
                    .bind(from_keys)
                    .bind(total)
                    .bind(at)
                    .bind(by)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Completed { id, at } => {
                    sqlx::query(
                        "UPDATE secret_key_rotations SET completed_at = $2 WHERE rotation_id = $1",
                    )
                    .bind(id)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }
}
