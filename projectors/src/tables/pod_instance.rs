//! `pod_instance`: the live pods (a deleted pod's row goes; its events
//! stay in `event_log`). Folded as full rows for pods created in the batch
//! and column patches for the others, so each row is written once per batch.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use domain::model::PodPhase;
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

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

#[derive(Default)]
pub(crate) struct Pods {
    new: HashMap<Uuid, PodRow>,
    patch: HashMap<Uuid, PodPatch>,
    deleted: Vec<Uuid>,
}

impl Pods {
    fn pod(&mut self, id: Uuid, p: PodPatch) {
        if let Some(row) = self.new.get_mut(&id) {
            merge_pod(&mut row.p, p);
        } else {
            merge_pod(self.patch.entry(id).or_default(), p);
        }
    }

    fn pod_ended(&mut self, id: Uuid, reason: String, at: DateTime<Utc>) {
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
    }
}

impl Projection for Pods {
    const TABLES: &'static [Table] = &[Table {
        name: "pod_instance",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM pod_instance t",
        snapshot: true,
    }];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
        match &env.body {
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
                self.new.insert(
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
                placement,
                ..
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
                exit_code,
                ..
            }) => {
                self.pod_ended(pod_id.0, reason.clone(), at);
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
            Event::PodSucceeded(ev::PodSucceeded { pod_id, .. }) => {
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
            }
            Event::PodEvicted(ev::PodEvicted {
                pod_id,
                cause,
                reason,
                ..
            }) => self.pod_ended(
                pod_id.0,
                format!("Evicted ({}): {reason}", cause.as_str()),
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
            Event::PodDeleted(ev::PodDeleted { pod_id, .. }) => {
                self.new.remove(&pod_id.0);
                self.patch.remove(&pod_id.0);
                self.deleted.push(pod_id.0);
            }
            _ => {}
        }
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if !self.new.is_empty() {
            let rows: Vec<(&Uuid, &PodRow)> = self.new.iter().collect();
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
        if !self.patch.is_empty() {
            let rows: Vec<(&Uuid, &PodPatch)> = self.patch.iter().collect();
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
        if !self.deleted.is_empty() {
            sqlx::query("DELETE FROM pod_instance WHERE id = ANY($1)")
                .bind(&self.deleted)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }
}
