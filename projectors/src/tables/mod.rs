//! The projections: each folds a batch of events into the changes of the
//! tables it owns and writes them in the batch's transaction. One file per
//! projection; the registry below lists them in the order a batch is
//! written, and everything that must know every table (replay checksums,
//! projection snapshots, `reset_state`) reads `tables()`, never a list of
//! its own. A new table is a file here and one line in the registry.

mod deployments;
pub mod event_log;
mod identities;
mod jobs;
mod namespaces;
mod network_policies;
mod node_status;
mod pod_instance;
mod secrets;
mod services;
mod statefulsets;

use std::future::Future;

use domain::event::EventEnvelope;
use sqlx::{Postgres, Transaction};

/// One projection table.
pub struct Table {
    pub name: &'static str,
    /// The md5 of every log-derived column, in a stable row order.
    pub checksum_sql: &'static str,
    /// Copied by projection snapshots (`event_log` is append-only: a build
    /// takes its rows below the snapshot's offset instead of a copy).
    pub snapshot: bool,
}

/// A projection: which events it reads (`add` ignores the others), how it
/// folds them, how it writes a batch.
pub(crate) trait Projection: Default + Send + Sync {
    /// The tables it owns (some write rows of another's table too: every
    /// workload kind has its rows in `workload_def`).
    const TABLES: &'static [Table];

    /// Fold one event of the batch, in log order.
    fn add(&mut self, env: &EventEnvelope);

    /// Write the batch's changes in the caller's transaction.
    fn write(
        &self,
        tx: &mut Transaction<'_, Postgres>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

macro_rules! registry {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// Every projection but `event_log`'s, one batch's worth.
        #[derive(Default)]
        pub(crate) struct Projections {
            $($field: $ty,)*
        }

        impl Projections {
            pub(crate) fn add(&mut self, env: &EventEnvelope) {
                $(self.$field.add(env);)*
            }

            /// In registry order: rows others refer to first (nodes,
            /// workloads), pods last.
            pub(crate) async fn write(
                &self,
                tx: &mut Transaction<'_, Postgres>,
            ) -> Result<(), sqlx::Error> {
                $(self.$field.write(tx).await?;)*
                Ok(())
            }
        }

        /// Every projection table, `event_log` last.
        pub fn tables() -> impl Iterator<Item = &'static Table> {
            [$(<$ty as Projection>::TABLES,)* event_log::TABLES]
                .into_iter()
                .flatten()
        }
    };
}

registry!(
    identities: identities::Identities,
    namespaces: namespaces::Namespaces,
    secrets: secrets::Secrets,
    network_policies: network_policies::NetworkPolicies,
    nodes: node_status::Nodes,
    deployments: deployments::Deployments,
    jobs: jobs::Jobs,
    stateful_sets: statefulsets::StatefulSets,
    services: services::Services,
    pods: pod_instance::Pods,
);

/// The tables a projection snapshot copies.
pub fn snapshot_tables() -> impl Iterator<Item = &'static str> {
    tables().filter(|t| t.snapshot).map(|t| t.name)
}
