//! The deployments' projection: their rows of `workload_def`, every
//! template in `deployment_revision`, and `rollout_history`. One
//! projection, not one per table: a rollout's start writes its history row
//! and the deployment's row from the revision's, in log order.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

#[derive(Clone)]
struct DeploymentRow {
    namespace: String,
    name: String,
    spec: Value,
    strategy: Value,
    image: String,
    cpu_req: i32,
    cpu_lim: i32,
    mem_req: i32,
    mem_lim: i32,
    revision: i64,
    created_at: DateTime<Utc>,
    replicas: i32,
    updated_at: DateTime<Utc>,
}

/// A rare change written with its own statement, in log order.
enum Stmt {
    Revision {
        deployment: Uuid,
        revision: i64,
        image: String,
        spec: Value,
        at: DateTime<Utc>,
        actor: String,
    },
    Strategy {
        deployment: Uuid,
        strategy: Value,
        at: DateTime<Utc>,
    },
    Budget {
        deployment: Uuid,
        budget: Option<Value>,
        at: DateTime<Utc>,
    },
    RolloutStarted {
        id: Uuid,
        deployment: Uuid,
        rollout: i64,
        from: i64,
        to: i64,
        trigger: &'static str,
        canary: Option<i32>,
        reason: Option<String>,
        actor: String,
        at: DateTime<Utc>,
    },
    RolloutEnded {
        deployment: Uuid,
        rollout: i64,
        status: &'static str,
        reason: Option<String>,
        at: DateTime<Utc>,
    },
    RolloutFlags {
        deployment: Uuid,
        rollout: i64,
        paused: Option<bool>,
        promoted: bool,
    },
}

fn deployment_row(
    spec: &domain::model::DeploymentSpec,
    revision: u64,
    at: DateTime<Utc>,
) -> DeploymentRow {
    let r = &spec.template.resources;
    DeploymentRow {
        namespace: spec.namespace.to_string(),
        name: spec.name.to_string(),
        spec: serde_json::to_value(spec).unwrap_or(Value::Null),
        strategy: {
            let mut v = serde_json::to_value(spec.strategy).unwrap_or(Value::Null);
            v["type"] = "RollingUpdate".into();
            v
        },
        image: spec.template.image.as_str().to_string(),
        cpu_req: r.cpu_request_milli as i32,
        cpu_lim: r.cpu_limit_milli as i32,
        mem_req: r.mem_request_mb as i32,
        mem_lim: r.mem_limit_mb as i32,
        revision: revision as i64,
        created_at: at,
        replicas: spec.replicas as i32,
        updated_at: at,
    }
}

#[derive(Default)]
pub(crate) struct Deployments {
    new: HashMap<Uuid, DeploymentRow>,
    patch: HashMap<Uuid, (i32, DateTime<Utc>)>,
    deleted: Vec<Uuid>,
    rollouts: Vec<(Uuid, Uuid, i64, DateTime<Utc>, String)>,
    /// Rare changes (rollouts, revisions, strategy, budget), applied in log order.
    statements: Vec<Stmt>,
}

impl Deployments {
    fn revision(
        &mut self,
        env: &EventEnvelope,
        deployment: Uuid,
        revision: u64,
        spec: &domain::model::DeploymentSpec,
    ) {
        self.statements.push(Stmt::Revision {
            deployment,
            revision: revision as i64,
            image: spec.template.image.as_str().to_string(),
            spec: serde_json::to_value(spec).unwrap_or(Value::Null),
            at: env.occurred_at,
            actor: env.actor.clone(),
        });
    }
}

impl Projection for Deployments {
    /// `workload_def` holds every kind; the jobs' and sets' projections write their own rows.
    const TABLES: &'static [Table] = &[
        Table {
            name: "workload_def",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM workload_def t",
            snapshot: true,
        },
        Table {
            name: "rollout_history",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM rollout_history t",
            snapshot: true,
        },
        Table {
            name: "deployment_revision",
            checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY workload_id, revision), '')) FROM deployment_revision t",
            snapshot: true,
        },
    ];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        match &env.body {
            Event::DeploymentCreated(ev::DeploymentCreated {
                deployment_id,
                spec,
                revision,
            }) => {
                self.new
                    .insert(deployment_id.0, deployment_row(spec, *revision, at));
                self.rollouts.push((
                    env.event_id,
                    deployment_id.0,
                    *revision as i64,
                    at,
                    env.actor.clone(),
                ));
                self.revision(env, deployment_id.0, *revision, spec);
            }
            Event::DeploymentRevisionCreated(ev::DeploymentRevisionCreated {
                deployment_id,
                revision,
                spec,
            }) => self.revision(env, deployment_id.0, *revision, spec),
            Event::DeploymentStrategyChanged(ev::DeploymentStrategyChanged {
                deployment_id,
                strategy,
            }) => self.statements.push(Stmt::Strategy {
                deployment: deployment_id.0,
                strategy: serde_json::to_value(strategy).unwrap_or(Value::Null),
                at,
            }),
            Event::DeploymentBudgetChanged(ev::DeploymentBudgetChanged {
                deployment_id,
                budget,
            }) => self.statements.push(Stmt::Budget {
                deployment: deployment_id.0,
                budget: budget.and_then(|b| serde_json::to_value(b).ok()),
                at,
            }),
            Event::RolloutStarted(ev::RolloutStarted {
                deployment_id,
                rollout,
                from,
                to,
                trigger,
                canary,
            }) => self.statements.push(Stmt::RolloutStarted {
                id: env.event_id,
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                from: *from as i64,
                to: *to as i64,
                trigger: trigger.as_str(),
                canary: canary.map(|c| c as i32),
                reason: env.reason.clone(),
                actor: env.actor.clone(),
                at,
            }),
            Event::RolloutSucceeded(ev::RolloutSucceeded {
                deployment_id,
                rollout,
                ..
            }) => self.statements.push(Stmt::RolloutEnded {
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                status: "SUCCEEDED",
                reason: None,
                at,
            }),
            Event::RolloutFailed(ev::RolloutFailed {
                deployment_id,
                rollout,
                reason,
            }) => self.statements.push(Stmt::RolloutEnded {
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                status: "FAILED",
                reason: Some(reason.clone()),
                at,
            }),
            Event::RolloutRolledBack(ev::RolloutRolledBack {
                deployment_id,
                rollout,
                reason,
                ..
            }) => self.statements.push(Stmt::RolloutEnded {
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                status: "ROLLED_BACK",
                reason: Some(reason.clone()),
                at,
            }),
            Event::RolloutPaused(ev::RolloutPaused {
                deployment_id,
                rollout,
            })
            | Event::RolloutResumed(ev::RolloutResumed {
                deployment_id,
                rollout,
            }) => self.statements.push(Stmt::RolloutFlags {
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                paused: Some(matches!(env.body, Event::RolloutPaused(_))),
                promoted: false,
            }),
            Event::RolloutPromoted(ev::RolloutPromoted {
                deployment_id,
                rollout,
            }) => self.statements.push(Stmt::RolloutFlags {
                deployment: deployment_id.0,
                rollout: *rollout as i64,
                paused: None,
                promoted: true,
            }),
            Event::DeploymentScaled(ev::DeploymentScaled {
                deployment_id, to, ..
            }) => {
                if let Some(row) = self.new.get_mut(&deployment_id.0) {
                    // Same result as the UPDATE below, whether or not both events share a batch.
                    row.replicas = *to as i32;
                    row.spec["replicas"] = serde_json::json!(*to);
                    row.updated_at = at;
                } else {
                    self.patch.insert(deployment_id.0, (*to as i32, at));
                }
            }
            Event::DeploymentUndeleted(ev::DeploymentUndeleted {
                deployment_id,
                spec,
                revision,
            }) => {
                // Back as it was deleted; if its deletion is in this batch
                // too, the row is still there and is replaced.
                self.deleted.retain(|d| *d != deployment_id.0);
                self.patch.remove(&deployment_id.0);
                self.new
                    .insert(deployment_id.0, deployment_row(spec, *revision, at));
            }
            Event::DeploymentDeleted(ev::DeploymentDeleted { deployment_id, .. }) => {
                self.new.remove(&deployment_id.0);
                self.patch.remove(&deployment_id.0);
                self.deleted.push(deployment_id.0);
            }
            _ => {}
        }
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.write_rows(tx).await?;
        self.write_statements(tx).await
    }
}

impl Deployments {
    async fn write_rows(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if !self.new.is_empty() {
            let rows: Vec<(&Uuid, &DeploymentRow)> = self.new.iter().collect();
            sqlx::query(
                "INSERT INTO workload_def (id, namespace, name, kind, desired_replicas, image, cpu_request_milli, cpu_limit_milli,
                   mem_request_mb, mem_limit_mb, strategy, spec, revision, created_at, updated_at)
                 SELECT u.id, u.ns, u.name, 'Deployment', u.rep, u.img, u.cr, u.cl, u.mr, u.ml, u.strat, u.spec, u.rev, u.cat, u.uat
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::int4[], $7::int4[], $8::int4[],
                   $9::int4[], $10::jsonb[], $11::jsonb[], $12::int8[], $13::timestamptz[], $14::timestamptz[])
                   AS u(id, ns, name, rep, img, cr, cl, mr, ml, strat, spec, rev, cat, uat)
                 ON CONFLICT (id) DO UPDATE SET namespace = EXCLUDED.namespace, name = EXCLUDED.name,
                   desired_replicas = EXCLUDED.desired_replicas, image = EXCLUDED.image,
                   cpu_request_milli = EXCLUDED.cpu_request_milli, cpu_limit_milli = EXCLUDED.cpu_limit_milli,
                   mem_request_mb = EXCLUDED.mem_request_mb, mem_limit_mb = EXCLUDED.mem_limit_mb,
                   strategy = EXCLUDED.strategy, spec = EXCLUDED.spec, revision = EXCLUDED.revision,
                   created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.namespace.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.replicas).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.image.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.cpu_req).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.cpu_lim).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.mem_req).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.mem_lim).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.strategy.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.spec.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.revision).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.updated_at).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.patch.is_empty() {
            let rows: Vec<_> = self.patch.iter().collect();
            sqlx::query(
                "UPDATE workload_def w SET desired_replicas = u.rep, updated_at = u.upd,
                   spec = jsonb_set(w.spec, '{replicas}', to_jsonb(u.rep))
                 FROM UNNEST($1::uuid[], $2::int4[], $3::timestamptz[]) AS u(id, rep, upd) WHERE w.id = u.id",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.1).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.rollouts.is_empty() {
            sqlx::query(
                "INSERT INTO rollout_history (id, workload_id, from_revision, to_revision, status, reason, started_at, ended_at, actor)
                 SELECT u.id, u.wid, NULL, u.rev, 'SUCCEEDED', 'initial revision', u.at, u.at, u.actor
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::int8[], $4::timestamptz[], $5::text[]) AS u(id, wid, rev, at, actor)
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(self.rollouts.iter().map(|r| r.0).collect::<Vec<_>>())
            .bind(self.rollouts.iter().map(|r| r.1).collect::<Vec<_>>())
            .bind(self.rollouts.iter().map(|r| r.2).collect::<Vec<_>>())
            .bind(self.rollouts.iter().map(|r| r.3).collect::<Vec<_>>())
            .bind(self.rollouts.iter().map(|r| r.4.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.deleted.is_empty() {
            sqlx::query("DELETE FROM workload_def WHERE id = ANY($1)")
                .bind(&self.deleted)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn write_statements(
        &self,
        tx: &mut Transaction<'_, Postgres>,
    ) -> Result<(), sqlx::Error> {
        for st in &self.statements {
            match st {
                Stmt::Revision {
                    deployment,
                    revision,
                    image,
                    spec,
                    at,
                    actor,
                } => insert_revision(tx, *deployment, *revision, spec, image, *at, actor).await?,
                Stmt::Strategy {
                    deployment,
                    strategy,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE workload_def SET strategy = $2 || jsonb_build_object('type', 'RollingUpdate'),
                           spec = jsonb_set(spec, '{strategy}', $2), updated_at = $3 WHERE id = $1",
                    )
                    .bind(deployment)
                    .bind(strategy)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::Budget {
                    deployment,
                    budget,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE workload_def SET updated_at = $3, spec = CASE WHEN $2::jsonb IS NULL
                           THEN spec - 'disruptionBudget' ELSE jsonb_set(spec, '{disruptionBudget}', $2) END
                         WHERE id = $1",
                    )
                    .bind(deployment)
                    .bind(budget)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::RolloutStarted {
                    id,
                    deployment,
                    rollout,
                    from,
                    to,
                    trigger,
                    canary,
                    reason,
                    actor,
                    at,
                } => {
                    sqlx::query(
                        "INSERT INTO rollout_history (id, workload_id, rollout, from_revision, to_revision, trigger, status,
                           canary_pods, reason, actor, started_at)
                         VALUES ($1, $2, $3, $4, $5, $6, 'RUNNING', $7, $8, $9, $10) ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(deployment)
                    .bind(rollout)
                    .bind(from)
                    .bind(to)
                    .bind(trigger)
                    .bind(canary)
                    .bind(reason)
                    .bind(actor)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                    // The deployment now declares the target revision's template.
                    sqlx::query(
                        "UPDATE workload_def w SET revision = r.revision, image = r.image,
                           cpu_request_milli = (r.spec->'resources'->>'cpuRequestMilli')::int,
                           cpu_limit_milli = (r.spec->'resources'->>'cpuLimitMilli')::int,
                           mem_request_mb = (r.spec->'resources'->>'memRequestMb')::int,
                           mem_limit_mb = (r.spec->'resources'->>'memLimitMb')::int,
                           spec = (r.spec - 'disruptionBudget') || jsonb_build_object('replicas', w.desired_replicas, 'strategy', w.spec->'strategy')
                             || CASE WHEN w.spec ? 'disruptionBudget'
                                  THEN jsonb_build_object('disruptionBudget', w.spec->'disruptionBudget') ELSE '{}'::jsonb END,
                           updated_at = $3
                         FROM deployment_revision r WHERE w.id = $1 AND r.workload_id = $1 AND r.revision = $2",
                    )
                    .bind(deployment)
                    .bind(to)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::RolloutEnded {
                    deployment,
                    rollout,
                    status,
                    reason,
                    at,
                } => {
                    sqlx::query(
                        "UPDATE rollout_history SET status = $3, reason = COALESCE($4, reason), ended_at = $5, paused = false
                         WHERE workload_id = $1 AND rollout = $2",
                    )
                    .bind(deployment)
                    .bind(rollout)
                    .bind(status)
                    .bind(reason)
                    .bind(at)
                    .execute(&mut **tx)
                    .await?;
                }
                Stmt::RolloutFlags {
                    deployment,
                    rollout,
                    paused,
                    promoted,
                } => {
                    sqlx::query(
                        "UPDATE rollout_history SET paused = COALESCE($3, paused),
                           reason = CASE WHEN $4 THEN concat_ws('; ', reason, 'canary promoted') ELSE reason END
                         WHERE workload_id = $1 AND rollout = $2",
                    )
                    .bind(deployment)
                    .bind(rollout)
                    .bind(paused)
                    .bind(promoted)
                    .execute(&mut **tx)
                    .await?;
                }
            }
        }
        Ok(())
    }
}

/// A pod template recorded as `revision` of a workload (a deployment's whole
/// spec, a StatefulSet's template): kept for ever, so any can be rolled back to.
pub(super) async fn insert_revision(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    revision: i64,
    template: &Value,
    image: &str,
    at: DateTime<Utc>,
    actor: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO deployment_revision (workload_id, revision, image, spec, created_at, actor)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    )
    .bind(id)
    .bind(revision)
    .bind(image)
    .bind(template)
    .bind(at)
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
