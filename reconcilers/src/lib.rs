//! Reconcilers: level-triggered loops over the in-memory view of the log.
//! Each pass computes commands with pure functions (`domain::reconcile`,
//! `scheduler::plan`) and sends them to the command topic; the decider
//! validates everything, so a pass on a stale view is harmless.

mod run;
pub mod scheduler;

pub use run::{ReconcilerConfig, run};
