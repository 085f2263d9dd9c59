//! `network_policies`: every policy with its selector, rules and who last set it.

use chrono::{DateTime, Utc};
use domain::event::{Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};

use super::{Projection, Table};

enum Stmt {
    Set {
        ns: String,
        name: String,
        selector: Value,
        ingress: Value,
        at: DateTime<Utc>,
        by: String,
    },
    Gone {
        ns: String,
        name: String,
    },
    /// A namespace created (again) starts without the old one's policies.
    Fresh {
        ns: String,
    },
}

#[derive(Default)]
pub(crate) struct NetworkPolicies {
    statements: Vec<Stmt>,
}

impl Projection for NetworkPolicies {
    const TABLES: &'static [Table] = &[Table {
        name: "network_policies",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY namespace, name), '')) FROM network_policies t",
        snapshot: true,
    }];

    fn add(&mut self, env: &EventEnvelope) {
        let st = match &env.body {
            Event::NetworkPolicySet(e) => Stmt::Set {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
                selector: serde_json::to_value(&e.spec.pod_selector).unwrap_or(Value::Null),
                ingress: serde_json::to_value(&e.spec.ingress).unwrap_or(Value::Null),
                at: env.occurred_at,
                by: env.actor.clone(),
            },
            Event::NetworkPolicyDeleted(e) => Stmt::Gone {
                ns: e.namespace.to_string(),
                name: e.name.to_string(),
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
                Stmt::Set { ns, name, selector, ingress, at, by } => sqlx::query(
                    "INSERT INTO network_policies (namespace, name, pod_selector, ingress, updated_at, updated_by)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (namespace, name) DO UPDATE SET pod_selector = $3, ingress = $4, updated_at = $5, updated_by = $6",
                )
                .bind(ns)
                .bind(name)
                .bind(selector)
                .bind(ingress)
                .bind(at)
                .bind(by),
                Stmt::Gone { ns, name } => sqlx::query("DELETE FROM network_policies WHERE namespace = $1 AND name = $2")
                    .bind(ns)
                    .bind(name),
                Stmt::Fresh { ns } => sqlx::query("DELETE FROM network_policies WHERE namespace = $1").bind(ns),
            };
            q.execute(&mut **tx).await?;
        }
        Ok(())
    }
}
