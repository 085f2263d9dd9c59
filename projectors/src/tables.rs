//! The registry of projection tables: what replays compare (a checksum over
//! every column that comes from the log) and what snapshots copy (the tables
//! a projector rewrites; `event_log` is append-only, so a build takes the live
//! rows below a snapshot's offset instead of a copy). A new table is one
//! entry here.

/// One projection table.
pub struct Table {
    pub name: &'static str,
    /// The md5 of every log-derived column, in a stable row order.
    pub checksum_sql: &'static str,
    /// Copied by projection snapshots.
    pub snapshot: bool,
}

pub const TABLES: &[Table] = &[
    Table {
        name: "workload_def",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM workload_def t",
        snapshot: true,
    },
    Table {
        name: "pod_instance",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM pod_instance t",
        snapshot: true,
    },
    // Not `last_heartbeat`: it comes from the heartbeat topic, not the log.
    Table {
        name: "node_status",
        checksum_sql: "SELECT md5(COALESCE(string_agg((id, name, zone, cpu_total_milli, mem_total_mb, cpu_allocatable_milli,
               mem_allocatable_mb, cpu_requested_milli, mem_requested_mb, pod_count, ready, condition, labels, taints,
               registered_at, updated_at)::text, '|' ORDER BY id), '')) FROM node_status",
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
    Table {
        name: "service",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY id), '')) FROM service t",
        snapshot: true,
    },
    Table {
        name: "job_run",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY job_id), '')) FROM job_run t",
        snapshot: true,
    },
    Table {
        name: "event_log",
        checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY log_offset, batch_index), '')) FROM event_log t",
        snapshot: false,
    },
];

/// The tables a projection snapshot copies.
pub fn snapshot_tables() -> impl Iterator<Item = &'static str> {
    TABLES.iter().filter(|t| t.snapshot).map(|t| t.name)
}
