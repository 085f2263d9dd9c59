//! `node_status`: one row per node (capacity, condition, what its pods
//! request, cordon and taints). Its heartbeat column is the heartbeat
//! projector's (`heartbeats.rs`), not the log's.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::event::{self as ev, Event, EventEnvelope};
use domain::model::{NodeCondition, NodeUsage};
use serde_json::Value;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{Projection, Table};

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

#[derive(Default)]
pub(crate) struct Nodes {
    upsert: HashMap<Uuid, NodeRow>,
    patch: HashMap<Uuid, NodePatch>,
}

impl Nodes {
    fn node(&mut self, id: Uuid, p: NodePatch) {
        if let Some(row) = self.upsert.get_mut(&id) {
            merge_node(&mut row.p, p);
        } else {
            merge_node(self.patch.entry(id).or_default(), p);
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
}

impl Projection for Nodes {
    // Not `last_heartbeat`: it comes from the heartbeat topic, not the log.
    const TABLES: &'static [Table] = &[Table {
        name: "node_status",
        checksum_sql: "SELECT md5(COALESCE(string_agg((id, name, zone, cpu_total_milli, mem_total_mb, cpu_allocatable_milli,
               mem_allocatable_mb, cpu_requested_milli, mem_requested_mb, pod_count, ready, condition, labels, taints,
               registered_at, updated_at)::text, '|' ORDER BY id), '')) FROM node_status",
        snapshot: true,
    }];

    fn add(&mut self, env: &EventEnvelope) {
        let at = env.occurred_at;
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
                if let Some(old) = self.patch.remove(&node_id.0) {
                    row.p.cpu_requested = old.cpu_requested;
                    row.p.mem_requested = old.mem_requested;
                    row.p.pods = old.pods;
                }
                self.upsert.insert(node_id.0, row);
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
            // What the node's pods request, as each pod event left it.
            Event::PodBound(ev::PodBound { usage, .. }) => self.usage(usage, at),
            Event::PodFailed(ev::PodFailed { usage: Some(u), .. })
            | Event::PodSucceeded(ev::PodSucceeded { usage: Some(u), .. })
            | Event::PodEvicted(ev::PodEvicted { usage: Some(u), .. })
            | Event::PodDeleted(ev::PodDeleted { usage: Some(u), .. }) => self.usage(u, at),
            _ => {}
        }
    }

    async fn write(&self, tx: &mut Transaction<'_, Postgres>) -> Result<(), sqlx::Error> {
        if !self.upsert.is_empty() {
            let rows: Vec<(&Uuid, &NodeRow)> = self.upsert.iter().collect();
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
        if !self.patch.is_empty() {
            self.patch_nodes(
                tx,
                self.patch.iter().map(|(k, v)| (*k, v.clone())).collect(),
            )
            .await?;
        }
        Ok(())
    }
}

impl Nodes {
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
}
