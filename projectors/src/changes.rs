//! One batch of events folded into row changes per table: full rows for
//! objects created in the batch, column patches for rows that already
//! exist, deletions. Later events in the batch overwrite earlier ones, so
//! each row is written once per batch.

use domain::event as ev;
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::event::{Event, EventBatch, EventEnvelope};
use domain::model::{NodeCondition, NodeUsage, PodPhase};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

#[derive(Default, Clone)]
struct PodRow {
    workload_id: Uuid,
    workload_kind: &'static str,
    completion_index: Option<i32>,
    volume_claim: Option<String>,
    namespace: String,
    name: String,
    ordinal: i64,
    image: String,
    cpu: i32,
    mem: i32,
    revision: i64,
    created_at: DateTime<Utc>,
    p: PodPatch,
}

#[derive(Default, Clone)]
struct PodPatch {
    node_id: Option<Uuid>,
    phase: Option<&'static str>,
    ready: Option<bool>,
    placement: Option<Value>,
    failure_reason: Option<String>,
    bound_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    ready_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    unschedulable: Option<Value>,
    address: Option<String>,
    restarts: Option<i32>,
    status_reason: Option<String>,
    exit_code: Option<i32>,
    updated_at: DateTime<Utc>,
}

#[derive(Clone)]
struct NodeRow {
    name: String,
    zone: String,
    cpu_total: i64,
    mem_total: i64,
    cpu_alloc: i64,
    mem_alloc: i64,
    labels: Value,
    taints: Value,
    registered_at: DateTime<Utc>,
    p: NodePatch,
}

#[derive(Default, Clone)]
struct NodePatch {
    condition: Option<&'static str>,
    cpu_requested: Option<i64>,
    mem_requested: Option<i64>,
    pods: Option<i32>,
    unschedulable: Option<bool>,
    draining: Option<bool>,
    taints: Option<Value>,
    updated_at: DateTime<Utc>,
}

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

#[derive(Default)]
pub struct Changes {
    pods_new: HashMap<Uuid, PodRow>,
    pods_patch: HashMap<Uuid, PodPatch>,
    pods_deleted: Vec<Uuid>,
    nodes_upsert: HashMap<Uuid, NodeRow>,
    nodes_patch: HashMap<Uuid, NodePatch>,
    deps_new: HashMap<Uuid, DeploymentRow>,
    deps_patch: HashMap<Uuid, (i32, DateTime<Utc>)>,
    deps_deleted: Vec<Uuid>,
    rollouts: Vec<(Uuid, Uuid, i64, DateTime<Utc>, String)>,
    jobs: crate::jobs::JobChanges,
    sets: crate::statefulsets::SetChanges,
    /// Rare changes (rollouts, revisions, services), applied in log order.
    statements: Vec<Stmt>,
    log: Vec<(i64, i32, u64, EventEnvelope)>,
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
    Service {
        id: Uuid,
        spec: domain::model::ServiceSpec,
        at: DateTime<Utc>,
    },
    ServiceDeleted {
        id: Uuid,
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

fn merge_pod(into: &mut PodPatch, p: PodPatch) {
    macro_rules! take {
        ($($f:ident),*) => { $( if p.$f.is_some() { into.$f = p.$f; } )* };
    }
    take!(
        node_id,
        phase,
        ready,
        placement,
        failure_reason,
        bound_at,
        started_at,
        ready_at,
        finished_at,
        unschedulable,
        address,
        restarts,
        status_reason,
        exit_code
    );
    into.updated_at = p.updated_at;
}

fn merge_node(into: &mut NodePatch, p: NodePatch) {
    if p.condition.is_some() {
        into.condition = p.condition;
    }
    if p.cpu_requested.is_some() {
        into.cpu_requested = p.cpu_requested;
        into.mem_requested = p.mem_requested;
        into.pods = p.pods;
    }
    if p.unschedulable.is_some() {
        into.unschedulable = p.unschedulable;
        into.draining = p.draining;
    }
    if p.taints.is_some() {
        into.taints = p.taints;
    }
    into.updated_at = p.updated_at;
}

fn condition(c: NodeCondition) -> &'static str {
    c.as_str()
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.log.is_empty()
    }

    pub fn len(&self) -> usize {
        self.log.len()
    }

    fn pod(&mut self, id: Uuid, p: PodPatch) {
        if let Some(row) = self.pods_new.get_mut(&id) {
            merge_pod(&mut row.p, p);
        } else {
            merge_pod(self.pods_patch.entry(id).or_default(), p);
        }
    }

    fn node(&mut self, id: Uuid, p: NodePatch) {
        if let Some(row) = self.nodes_upsert.get_mut(&id) {
            merge_node(&mut row.p, p);
        } else {
            merge_node(self.nodes_patch.entry(id).or_default(), p);
        }
    }

    fn usage(&mut self, u: &NodeUsage, at: DateTime<Utc>) {
        self.node(
            u.node_id.0,
            NodePatch {
                cpu_requested: Some(u.cpu_requested_milli as i64),
                mem_requested: Some(u.mem_requested_mb as i64),
                pods: Some(u.pods as i32),
                updated_at: at,
                ..Default::default()
            },
        );
    }

    /// A pod failed or was evicted: FAILED with the reason, its node's usage lowered.
    fn pod_ended(
        &mut self,
        id: Uuid,
        reason: String,
        usage: Option<&NodeUsage>,
        at: DateTime<Utc>,
    ) {
        self.pod(
            id,
            PodPatch {
                phase: Some(PodPhase::Failed.as_str()),
                ready: Some(false),
                failure_reason: Some(reason),
                finished_at: Some(at),
                updated_at: at,
                ..Default::default()
            },
        );
        if let Some(u) = usage {
            self.usage(u, at);
        }
    }

    /// A pod template recorded as `revision`.
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

    pub fn add(&mut self, offset: i64, batch: &EventBatch) {
        for (i, env) in batch.events.iter().enumerate() {
            self.add_event(env);
            self.log.push((offset, i as i32, batch.epoch, env.clone()));
        }
    }

    fn add_event(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        self.jobs.add(env);
        self.sets.add(env);
        match &env.body {
            Event::NodeRegistered(ev::NodeRegistered { node_id, spec }) => {
                let row = NodeRow {
                    name: spec.name.to_string(),
                    zone: spec.zone.clone(),
                    cpu_total: spec.cpu_capacity_milli as i64,
                    mem_total: spec.mem_capacity_mb as i64,
                    cpu_alloc: spec.cpu_allocatable_milli as i64,
                    mem_alloc: spec.mem_allocatable_mb as i64,
                    labels: serde_json::to_value(&spec.labels).unwrap_or(Value::Null),
                    taints: serde_json::to_value(&spec.taints).unwrap_or(Value::Null),
                    registered_at: at,
                    p: NodePatch {
                        condition: Some(condition(NodeCondition::Ready)),
                        updated_at: at,
                        ..Default::default()
                    },
                };
                // Usage changed earlier in this batch survives a re-registration;
                // an earlier condition does not (registering makes the node Ready).
                let mut row = row;
                if let Some(old) = self.nodes_patch.remove(&node_id.0) {
                    row.p.cpu_requested = old.cpu_requested;
                    row.p.mem_requested = old.mem_requested;
                    row.p.pods = old.pods;
                }
                self.nodes_upsert.insert(node_id.0, row);
            }
            Event::NodeReady(ev::NodeReady { node_id }) => self.node(
                node_id.0,
                NodePatch {
                    condition: Some("Ready"),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::NodeNotReady(ev::NodeNotReady { node_id, .. }) => self.node(
                node_id.0,
                NodePatch {
                    condition: Some("NotReady"),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::NodeLost(ev::NodeLost { node_id, .. }) => self.node(
                node_id.0,
                NodePatch {
                    condition: Some("Lost"),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::DeploymentCreated(ev::DeploymentCreated {
                deployment_id,
                spec,
                revision,
            }) => {
                self.deps_new
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
            Event::ServiceCreated(ev::ServiceCreated { service_id, spec }) => {
                self.statements.push(Stmt::Service {
                    id: service_id.0,
                    spec: spec.clone(),
                    at,
                })
            }
            Event::ServiceDeleted(ev::ServiceDeleted { service_id, .. }) => self
                .statements
                .push(Stmt::ServiceDeleted { id: service_id.0 }),
            Event::PodNotReady(ev::PodNotReady { pod_id, reason, .. }) => self.pod(
                pod_id.0,
                PodPatch {
                    ready: Some(false),
                    status_reason: Some(reason.clone()),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::PodRestarted(ev::PodRestarted {
                pod_id,
                restarts,
                reason,
                ..
            }) => self.pod(
                pod_id.0,
                PodPatch {
                    ready: Some(false),
                    restarts: Some(*restarts as i32),
                    status_reason: Some(format!("restarted: {reason}")),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::DeploymentScaled(ev::DeploymentScaled {
                deployment_id, to, ..
            }) => {
                if let Some(row) = self.deps_new.get_mut(&deployment_id.0) {
                    // Same result as the UPDATE below, whether or not both events share a batch.
                    row.replicas = *to as i32;
                    row.spec["replicas"] = serde_json::json!(*to);
                    row.updated_at = at;
                } else {
                    self.deps_patch.insert(deployment_id.0, (*to as i32, at));
                }
            }
            Event::DeploymentUndeleted(ev::DeploymentUndeleted {
                deployment_id,
                spec,
                revision,
            }) => {
                // Back as it was deleted; if its deletion is in this batch
                // too, the row is still there and is replaced.
                self.deps_deleted.retain(|d| *d != deployment_id.0);
                self.deps_patch.remove(&deployment_id.0);
                self.deps_new
                    .insert(deployment_id.0, deployment_row(spec, *revision, at));
            }
            Event::DeploymentDeleted(ev::DeploymentDeleted { deployment_id, .. }) => {
                self.deps_new.remove(&deployment_id.0);
                self.deps_patch.remove(&deployment_id.0);
                self.deps_deleted.push(deployment_id.0);
            }
            Event::PodCreated(ev::PodCreated {
                pod_id,
                owner,
                namespace,
                name,
                ordinal,
                image,
                resources,
                revision,
                completion_index,
                volume_claim,
            }) => {
                self.pods_new.insert(
                    pod_id.0,
                    PodRow {
                        workload_id: owner.id(),
                        workload_kind: match owner {
                            domain::state::Owner::Deployment(_) => "Deployment",
                            domain::state::Owner::Job(_) => "Job",
                            domain::state::Owner::StatefulSet(_) => "StatefulSet",
                        },
                        completion_index: completion_index.map(|i| i as i32),
                        volume_claim: volume_claim.clone(),
                        namespace: namespace.to_string(),
                        name: name.clone(),
                        ordinal: *ordinal as i64,
                        image: image.as_str().to_string(),
                        cpu: resources.cpu_request_milli as i32,
                        mem: resources.mem_request_mb as i32,
                        revision: *revision as i64,
                        created_at: at,
                        p: PodPatch {
                            phase: Some(PodPhase::Pending.as_str()),
                            ready: Some(false),
                            updated_at: at,
                            ..Default::default()
                        },
                    },
                );
            }
            Event::PodBound(ev::PodBound {
                pod_id,
                node_id,
                usage,
                placement,
            }) => {
                self.pod(
                    pod_id.0,
                    PodPatch {
                        node_id: Some(node_id.0),
                        placement: serde_json::to_value(placement).ok(),
                        bound_at: Some(at),
                        updated_at: at,
                        ..Default::default()
                    },
                );
                self.usage(usage, at);
            }
            Event::PodStarted(ev::PodStarted {
                pod_id, address, ..
            }) => self.pod(
                pod_id.0,
                PodPatch {
                    phase: Some(PodPhase::Running.as_str()),
                    started_at: Some(at),
                    address: address.clone(),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::PodReady(ev::PodReady { pod_id, .. }) => self.pod(
                pod_id.0,
                PodPatch {
                    ready: Some(true),
                    ready_at: Some(at),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::PodFailed(ev::PodFailed {
                pod_id,
                reason,
                usage,
                exit_code,
                ..
            }) => {
                self.pod_ended(pod_id.0, reason.clone(), usage.as_ref(), at);
                if exit_code.is_some() {
                    self.pod(
                        pod_id.0,
                        PodPatch {
                            exit_code: *exit_code,
                            updated_at: at,
                            ..Default::default()
                        },
                    );
                }
            }
            Event::PodSucceeded(ev::PodSucceeded { pod_id, usage, .. }) => {
                self.pod(
                    pod_id.0,
                    PodPatch {
                        phase: Some(PodPhase::Succeeded.as_str()),
                        ready: Some(false),
                        exit_code: Some(0),
                        finished_at: Some(at),
                        updated_at: at,
                        ..Default::default()
                    },
                );
                if let Some(u) = usage {
                    self.usage(u, at);
                }
            }
            // The job projection's (`jobs.rs`).
            Event::JobCreated(_)
            | Event::JobCompleted(_)
            | Event::JobFailed(_)
            | Event::JobDeleted(_)
            | Event::CronJobCreated(_)
            | Event::CronJobSuspended(_)
            | Event::CronJobDeleted(_)
            | Event::CronJobRunStarted(_)
            | Event::CronJobRunSkipped(_) => {}
            // The StatefulSet projection's (`statefulsets.rs`).
            Event::StatefulSetCreated(_)
            | Event::StatefulSetScaled(_)
            | Event::StatefulSetRevisionCreated(_)
            | Event::StatefulSetPartitionChanged(_)
            | Event::StatefulSetUpdateCompleted(_)
            | Event::StatefulSetRolledBack(_)
            | Event::StatefulSetDeleted(_) => {}
            Event::PodEvicted(ev::PodEvicted {
                pod_id,
                cause,
                reason,
                usage,
                ..
            }) => self.pod_ended(
                pod_id.0,
                format!("Evicted ({}): {reason}", cause.as_str()),
                usage.as_ref(),
                at,
            ),
            Event::PodUnschedulable(ev::PodUnschedulable {
                pod_id,
                nodes_total,
                filtered,
            }) => self.pod(
                pod_id.0,
                PodPatch {
                    unschedulable: Some(serde_json::json!({
                        "nodesTotal": nodes_total, "filtered": filtered, "at": at,
                    })),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::NodeCordoned(ev::NodeCordoned { node_id, drain }) => self.node(
                node_id.0,
                NodePatch {
                    unschedulable: Some(true),
                    draining: Some(*drain),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::NodeUncordoned(ev::NodeUncordoned { node_id }) => self.node(
                node_id.0,
                NodePatch {
                    unschedulable: Some(false),
                    draining: Some(false),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::NodeTaintsChanged(ev::NodeTaintsChanged { node_id, taints }) => self.node(
                node_id.0,
                NodePatch {
                    taints: serde_json::to_value(taints).ok(),
                    updated_at: at,
                    ..Default::default()
                },
            ),
            Event::PodDeleted(ev::PodDeleted { pod_id, usage, .. }) => {
                self.pods_new.remove(&pod_id.0);
                self.pods_patch.remove(&pod_id.0);
                self.pods_deleted.push(pod_id.0);
                if let Some(u) = usage {
                    self.usage(u, at);
                }
            }
            Event::CommandRejected(_) => {}
        }
    }

    /// Write everything in the caller's transaction.
    pub async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.write_event_log(tx).await?;
        self.write_state(tx).await
    }

    /// Only the `event_log` rows (a replay writes them on a connection of their own).
    pub async fn write_log(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.write_event_log(tx).await
    }

    /// Every table but `event_log`.
    pub async fn write_state(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        self.write_nodes(tx).await?;
        self.write_deployments(tx).await?;
        self.jobs.write(tx).await?;
        self.sets.write(tx).await?;
        self.write_statements(tx).await?;
        self.write_pods(tx).await?;
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
                } => {
                    sqlx::query(
                        "INSERT INTO deployment_revision (workload_id, revision, image, spec, created_at, actor)
                         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                    )
                    .bind(deployment)
                    .bind(revision)
                    .bind(image)
                    .bind(spec)
                    .bind(at)
                    .bind(actor)
                    .execute(&mut **tx)
                    .await?;
                }
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
                Stmt::Service { id, spec, at } => {
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
                Stmt::ServiceDeleted { id } => {
                    sqlx::query("DELETE FROM service WHERE id = $1")
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// `COPY`, not INSERT: the log is the biggest table and the hottest write.
    /// No ON CONFLICT is needed: the offsets guard applies a batch once, and
    /// the decider never writes an event id twice.
    async fn write_event_log(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if self.log.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(self.log.len() * 700);
        for (off, i, epoch, e) in &self.log {
            use std::io::Write;
            let body = serde_json::to_string(&e.body).unwrap_or_else(|_| "null".into());
            let _ = write!(
                buf,
                "{},{},{},{},{},{},{},{},{},{},",
                e.event_id,
                off,
                i,
                e.causation_id,
                e.correlation_id,
                e.aggregate.kind.as_str(),
                e.aggregate.id,
                e.sequence,
                e.body.type_name(),
                e.occurred_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            );
            csv_field(&mut buf, Some(&e.actor));
            buf.push(b',');
            csv_field(&mut buf, e.reason.as_deref());
            let _ = write!(buf, ",{},{},", epoch, e.schema_version);
            csv_field(&mut buf, Some(&body));
            buf.push(b',');
            csv_field(&mut buf, e.command.as_deref());
            buf.push(b'\n');
        }
        let mut copy = (**tx)
            .copy_in_raw(
                "COPY event_log (event_id, log_offset, batch_index, causation_id, correlation_id, aggregate_kind,
                   aggregate_id, sequence, event_type, occurred_at, actor, reason, epoch, schema_version, body, command)
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
        copy.send(buf).await?;
        copy.finish().await?;
        Ok(())
    }

    async fn write_nodes(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if !self.nodes_upsert.is_empty() {
            let rows: Vec<(&Uuid, &NodeRow)> = self.nodes_upsert.iter().collect();
            let col =
                |f: &dyn Fn(&NodeRow) -> i64| rows.iter().map(|r| f(r.1)).collect::<Vec<i64>>();
            sqlx::query("SELECT n.id FROM node_status n JOIN UNNEST($1::uuid[]) AS u(id) ON n.id = u.id ORDER BY n.id FOR NO KEY UPDATE OF n")
                .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
                .execute(&mut **tx)
                .await?;
            sqlx::query(
                "INSERT INTO node_status (id, name, zone, cpu_total_milli, mem_total_mb, cpu_allocatable_milli, mem_allocatable_mb,
                   labels, taints, registered_at, updated_at, ready, condition, cpu_requested_milli, mem_requested_mb, pod_count)
                 SELECT u.id, u.name, u.zone, u.ct, u.mt, u.ca, u.ma, u.labels, u.taints, u.reg, u.upd, u.cond = 'Ready', u.cond,
                   COALESCE(u.cr, 0), COALESCE(u.mr, 0), COALESCE(u.pc, 0)
                 FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[], $7::int8[], $8::jsonb[],
                   $9::jsonb[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::int8[], $14::int8[], $15::int4[])
                   AS u(id, name, zone, ct, mt, ca, ma, labels, taints, reg, upd, cond, cr, mr, pc)
                 ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, zone = EXCLUDED.zone, cpu_total_milli = EXCLUDED.cpu_total_milli,
                   mem_total_mb = EXCLUDED.mem_total_mb, cpu_allocatable_milli = EXCLUDED.cpu_allocatable_milli,
                   mem_allocatable_mb = EXCLUDED.mem_allocatable_mb, labels = EXCLUDED.labels, taints = EXCLUDED.taints,
                   updated_at = EXCLUDED.updated_at, ready = EXCLUDED.ready, condition = EXCLUDED.condition
                   ",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.zone.clone()).collect::<Vec<_>>())
            .bind(col(&|r| r.cpu_total))
            .bind(col(&|r| r.mem_total))
            .bind(col(&|r| r.cpu_alloc))
            .bind(col(&|r| r.mem_alloc))
            .bind(rows.iter().map(|r| r.1.labels.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.taints.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.registered_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.updated_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.condition.unwrap_or("Ready")).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.cpu_requested).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.mem_requested).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.pods).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
            // Usage, cordon or taints changed in the same batch as a (re-)registration.
            let with_usage: Vec<_> = rows
                .iter()
                .filter(|r| {
                    r.1.p.cpu_requested.is_some()
                        || r.1.p.unschedulable.is_some()
                        || r.1.p.taints.is_some()
                })
                .collect();
            if !with_usage.is_empty() {
                self.patch_nodes(
                    tx,
                    with_usage.iter().map(|r| (*r.0, r.1.p.clone())).collect(),
                )
                .await?;
            }
        }
        if !self.nodes_patch.is_empty() {
            self.patch_nodes(
                tx,
                self.nodes_patch
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect(),
            )
            .await?;
        }
        Ok(())
    }

    async fn patch_nodes(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        rows: Vec<(Uuid, NodePatch)>,
    ) -> Result<(), sqlx::Error> {
        // Lock the rows in id order first (the heartbeat projector does the
        // same), so the two writers of node_status cannot deadlock.
        sqlx::query("SELECT n.id FROM node_status n JOIN UNNEST($1::uuid[]) AS u(id) ON n.id = u.id ORDER BY n.id FOR NO KEY UPDATE OF n")
            .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        sqlx::query(
            "UPDATE node_status n SET condition = COALESCE(u.cond, n.condition), ready = COALESCE(u.cond, n.condition) = 'Ready',
               cpu_requested_milli = COALESCE(u.cr, n.cpu_requested_milli), mem_requested_mb = COALESCE(u.mr, n.mem_requested_mb),
               pod_count = COALESCE(u.pc, n.pod_count), updated_at = u.upd,
               unschedulable = COALESCE(u.uns, n.unschedulable), draining = COALESCE(u.dr, n.draining),
               taints = COALESCE(u.taints, n.taints)
             FROM UNNEST($1::uuid[], $2::text[], $3::int8[], $4::int8[], $5::int4[], $6::timestamptz[], $7::bool[], $8::bool[],
               $9::jsonb[]) AS u(id, cond, cr, mr, pc, upd, uns, dr, taints)
             WHERE n.id = u.id",
        )
        .bind(rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.condition).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.cpu_requested).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.mem_requested).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.pods).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.updated_at).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.unschedulable).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.draining).collect::<Vec<_>>())
        .bind(rows.iter().map(|r| r.1.taints.clone()).collect::<Vec<_>>())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn write_deployments(
        &self,
        tx: &mut Transaction<'_, Postgres>,
    ) -> Result<(), sqlx::Error> {
        if !self.deps_new.is_empty() {
            let rows: Vec<(&Uuid, &DeploymentRow)> = self.deps_new.iter().collect();
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
        if !self.deps_patch.is_empty() {
            let rows: Vec<_> = self.deps_patch.iter().collect();
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
        if !self.deps_deleted.is_empty() {
            sqlx::query("DELETE FROM workload_def WHERE id = ANY($1)")
                .bind(&self.deps_deleted)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    async fn write_pods(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if !self.pods_new.is_empty() {
            let rows: Vec<(&Uuid, &PodRow)> = self.pods_new.iter().collect();
            sqlx::query(
                "INSERT INTO pod_instance (id, workload_id, namespace, name, ordinal, image, cpu_request_milli, mem_request_mb,
                   revision, created_at, node_id, phase, ready, placement, failure_reason, bound_at, started_at, ready_at,
                   finished_at, updated_at, unschedulable, address, restarts, status_reason, workload_kind,
                   completion_index, exit_code, volume_claim)
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int8[], $6::text[], $7::int4[],
                   $8::int4[], $9::int8[], $10::timestamptz[], $11::uuid[], $12::text[], $13::bool[], $14::jsonb[], $15::text[],
                   $16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::timestamptz[], $20::timestamptz[], $21::jsonb[],
                   $22::text[], $23::int4[], $24::text[], $25::text[], $26::int4[], $27::int4[], $28::text[])
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.workload_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.namespace.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.name.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.ordinal).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.image.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.cpu).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.mem).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.revision).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.created_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.node_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.phase.unwrap_or("PENDING")).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.ready.unwrap_or(false)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.placement.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.failure_reason.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.bound_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.started_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.ready_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.finished_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.updated_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.unschedulable.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.address.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.restarts.unwrap_or(0)).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.status_reason.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.workload_kind).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.completion_index).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.p.exit_code).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.volume_claim.clone()).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.pods_patch.is_empty() {
            let rows: Vec<(&Uuid, &PodPatch)> = self.pods_patch.iter().collect();
            sqlx::query(
                "UPDATE pod_instance p SET node_id = COALESCE(u.node_id, p.node_id), phase = COALESCE(u.phase, p.phase),
                   ready = COALESCE(u.ready, p.ready), placement = COALESCE(u.placement, p.placement),
                   failure_reason = COALESCE(u.failure_reason, p.failure_reason), bound_at = COALESCE(u.bound_at, p.bound_at),
                   started_at = COALESCE(u.started_at, p.started_at), ready_at = COALESCE(u.ready_at, p.ready_at),
                   finished_at = COALESCE(u.finished_at, p.finished_at), updated_at = u.updated_at,
                   unschedulable = COALESCE(u.uns, p.unschedulable), address = COALESCE(u.addr, p.address),
                   restarts = COALESCE(u.restarts, p.restarts), status_reason = COALESCE(u.sr, p.status_reason),
                   exit_code = COALESCE(u.exit_code, p.exit_code)
                 FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::bool[], $5::jsonb[], $6::text[], $7::timestamptz[],
                   $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::jsonb[], $13::text[],
                   $14::int4[], $15::text[], $16::int4[])
                   AS u(id, node_id, phase, ready, placement, failure_reason, bound_at, started_at, ready_at, finished_at, updated_at, uns,
                     addr, restarts, sr, exit_code)
                 WHERE p.id = u.id",
            )
            .bind(rows.iter().map(|r| *r.0).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.node_id).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.phase).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.ready).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.placement.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.failure_reason.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.bound_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.started_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.ready_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.finished_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.updated_at).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.unschedulable.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.address.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.restarts).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.status_reason.clone()).collect::<Vec<_>>())
            .bind(rows.iter().map(|r| r.1.exit_code).collect::<Vec<_>>())
            .execute(&mut **tx)
            .await?;
        }
        if !self.pods_deleted.is_empty() {
            sqlx::query("DELETE FROM pod_instance WHERE id = ANY($1)")
                .bind(&self.pods_deleted)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}

/// A CSV field for `COPY … (FORMAT csv)`: quoted with quotes doubled; `None` is NULL (unquoted empty).
fn csv_field(buf: &mut Vec<u8>, v: Option<&str>) {
    let Some(v) = v else { return };
    buf.push(b'"');
    for b in v.bytes() {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}
