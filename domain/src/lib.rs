//! The orchestrator's domain: every decision is a pure function of state and
//! command (`decide`), every state change a pure fold of events (`evolve`).
//! The decider, the projectors, the reconcilers and the node agent all share
//! this crate so the rules exist once. Nothing here does I/O or is async.

pub mod command;
pub mod cronjob;
pub mod decide;
mod decision;
mod deployment;
pub mod event;
pub mod identity;
pub mod ids;
pub mod job;
pub mod limitrange;
pub mod model;
pub mod names;
pub mod namespace;
pub mod networkpolicy;
mod node;
mod owners;
mod pod;
pub mod quota;
pub mod rbac;
pub mod reconcile;
pub mod rejection;
mod rollout;
pub mod scheduler;
pub mod secret;
mod service;
pub mod state;
pub mod statefulset;
pub mod store;
pub mod testing;

pub use command::{Command, CommandEnvelope};
pub use decide::decide;
pub use event::{AggregateKind, AggregateRef, Event, EventBatch, EventEnvelope};
pub use ids::{DeploymentId, NodeId, PodId};
pub use rejection::{Rejection, RejectionCode};
pub use state::State;
