//! `service`: the services (their endpoints are the `service_endpoints` view).

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

enum Stmt {
    Created {
        id: Uuid,
        spec: domain::model::ServiceSpec,
        at: DateTime<Utc>,
    },
    Deleted {
        id: Uuid,
    },
}

#[derive(Default)]
pub(crate) struct Services {
    statements: Vec<Stmt>,
}

impl Projection for Services {
    const TABLES: &'static [Table] = &[Table {
        name: "service",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM service t",
        snapshot: true,
    }];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        match &env.body {
            Event::ServiceCreated(ev::ServiceCreated { service_id, spec }) => {
                self.statements.push(Stmt::Created {
                    id: service_id.0,
                    spec: spec.clone(),
                    at,
                })
            }
            Event::ServiceUndeleted(ev::ServiceUndeleted { service_id, spec }) => {
                self.statements.push(Stmt::Created {
                    id: service_id.0,
                    spec: spec.clone(),
                    at,
                })
            }
            Event::ServiceDeleted(ev::ServiceDeleted { service_id, .. }) => {
                self.statements.push(Stmt::Deleted { id: service_id.0 })
            }
            _ => {}
        }
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for st in &self.statements {
            match st {
                Stmt::Created { id, spec, at } => {
                    sqlx::query(
                        "INSERT INTO service (id, namespace, name, selector, host, path_prefix, created_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(spec.namespace.as_str())
                    .bind(spec.name.as_str())
                    .bind(serde_json::to_value(&spec.selector).unwrap_or(Value::Null))
                    .bind(&spec.host)
                    .bind(&spec.path_prefix)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Deleted { id } => {
                    sqlx::query("DELETE FROM service WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
