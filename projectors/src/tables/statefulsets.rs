//! The StatefulSet projection: the sets' rows of `workload_def` (kind
//! `StatefulSet`, its spec, replicas, update and current revision) and of
//! `deployment_revision` (every template, so `service_endpoints` reads a
//! set pod's labels as it reads a deployment pod's), in log order.

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::deployments::insert_revision;
use super::{Projection, Table};

enum SetStmt {
    Created {
        id: Uuid,
        spec: Value,
        template: Value,
        namespace: String,
        name: String,
        replicas: i32,
        image: String,
        resources: domain::model::Resources,
        revision: i64,
        current: i64,
    },
    Scaled {
        id: Uuid,
        replicas: i32,
    },
    Revision {
        id: Uuid,
        revision: i64,
        from: i64,
        template: Value,
        image: String,
    },
    Partition {
        id: Uuid,
        partition: i32,
    },
    Completed {
        id: Uuid,
        revision: i64,
        partition: i32,
    },
    RolledBack {
        id: Uuid,
        to: i64,
    },
    Deleted {
        id: Uuid,
    },
}

/// The `Created` statement of a set's spec, at `revision` (`current` below the partition).
fn created(
    id: Uuid,
    spec: &domain::statefulset::StatefulSetSpec,
    revision: i64,
    current: i64,
) -> SetStmt {
    SetStmt::Created {
        id,
        spec: serde_json::to_value(spec).unwrap_or(Value::Null),
        template: serde_json::to_value(&spec.template).unwrap_or(Value::Null),
        namespace: spec.namespace.to_string(),
        name: spec.name.to_string(),
        replicas: spec.replicas as i32,
        image: spec.template.image.as_str().to_string(),
        resources: spec.template.resources,
        revision,
        current,
    }
}

#[derive(Default)]
pub(crate) struct StatefulSets {
    stmts: Vec<(SetStmt, DateTime<Utc>, String)>,
}

impl Projection for StatefulSets {
    /// Its rows are in tables the deployments' projection owns.
    const TABLES: &'static [Table] = &[];

    fn add(&mut self, env: &EventEnvelope) {
        let st = match &env.body {
            Event::StatefulSetCreated(ev::StatefulSetCreated {
                stateful_set_id,
                spec,
            }) => created(stateful_set_id.0, spec, 1, 1),
            Event::StatefulSetUndeleted(e) => created(
                e.stateful_set_id.0,
                &e.spec,
                e.revision as i64,
                e.current_revision as i64,
            ),
            Event::StatefulSetScaled(e) => SetStmt::Scaled {
                id: e.stateful_set_id.0,
                replicas: e.to as i32,
            },
            Event::StatefulSetRevisionCreated(e) => SetStmt::Revision {
                id: e.stateful_set_id.0,
                revision: e.revision as i64,
                from: e.from as i64,
                template: serde_json::to_value(&e.template).unwrap_or(Value::Null),
                image: e.template.image.as_str().to_string(),
            },
            Event::StatefulSetPartitionChanged(e) => SetStmt::Partition {
                id: e.stateful_set_id.0,
                partition: e.to as i32,
            },
            Event::StatefulSetUpdateCompleted(e) => SetStmt::Completed {
                id: e.stateful_set_id.0,
                revision: e.revision as i64,
                partition: e.partition as i32,
            },
            Event::StatefulSetRolledBack(e) => SetStmt::RolledBack {
                id: e.stateful_set_id.0,
                to: e.to as i64,
            },
            Event::StatefulSetDeleted(e) => SetStmt::Deleted {
                id: e.stateful_set_id.0,
            },
            _ => return,
        };
        self.stmts.push((st, env.occurred_at, env.actor.clone()));
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        for (st, at, actor) in &self.stmts {
            match st {
                SetStmt::Created {
                    id,
                    spec,
                    template,
                    namespace,
                    name,
                    replicas,
                    image,
                    resources,
                    revision,
                    current,
                } => {
                    sqlx::query(
                        "INSERT INTO workload_def (id, namespace, name, kind, desired_replicas, image, cpu_request_milli,
                           cpu_limit_milli, mem_request_mb, mem_limit_mb, strategy, spec, revision, current_revision,
                           created_at, updated_at)
                         VALUES ($1, $2, $3, 'StatefulSet', $4, $5, $6, $7, $8, $9, $10->'updateStrategy', $10, $12, $13, $11, $11)
                         ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(id)
                    .bind(namespace)
                    .bind(name)
                    .bind(replicas)
                    .bind(image)
                    .bind(resources.cpu_request_milli as i32)
                    .bind(resources.cpu_limit_milli as i32)
                    .bind(resources.mem_request_mb as i32)
                    .bind(resources.mem_limit_mb as i32)
                    .bind(spec)
                    .bind(at)
                    .bind(revision)
                    .bind(current)
                    .execute(&mut **tx)
                    .await?;
                    // (An undeleted set's revisions are still there: no conflict.)
                    insert_revision(tx, *id, *revision, template, image, *at, actor).await?;
                }
                SetStmt::Scaled { id, replicas } => {
                    sqlx::query(
                        "UPDATE workload_def SET desired_replicas = $2,
                           spec = jsonb_set(spec, '{replicas}', to_jsonb($2::int4)), updated_at = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(replicas)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                SetStmt::Revision {
                    id,
                    revision,
                    from,
                    template,
                    image,
                } => {
                    insert_revision(tx, *id, *revision, template, image, *at, actor).await?;
                    sqlx::query(
                        "UPDATE workload_def SET revision = $2, current_revision = $3, image = $4,
                           spec = jsonb_set(spec, '{template}', $5), updated_at = $6 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(revision)
                    .bind(from)
                    .bind(image)
                    .bind(template)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                SetStmt::Partition { id, partition } => {
                    sqlx::query(
                        "UPDATE workload_def SET
                           spec = jsonb_set(spec, '{updateStrategy,partition}', to_jsonb($2::int4)),
                           strategy = jsonb_set(strategy, '{partition}', to_jsonb($2::int4)), updated_at = $3
                         WHERE id = $1",
                    )
                    .bind(id)
                    .bind(partition)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                SetStmt::Completed {
                    id,
                    revision,
                    partition,
                } => {
                    sqlx::query(
                        "UPDATE workload_def SET current_revision = CASE WHEN $3 = 0 THEN $2 ELSE current_revision END,
                           updated_at = $4 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(revision)
                    .bind(partition)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                SetStmt::RolledBack { id, to } => {
                    sqlx::query(
                        "UPDATE workload_def w SET revision = $2, current_revision = $2, image = r.image,
                           spec = jsonb_set(w.spec, '{template}', r.spec), updated_at = $3
                          FROM deployment_revision r
                         WHERE w.id = $1 AND r.workload_id = $1 AND r.revision = $2",
                    )
                    .bind(id)
                    .bind(to)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                SetStmt::Deleted { id } => {
                    sqlx::query("DELETE FROM workload_def WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }
}
