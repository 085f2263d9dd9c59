//! The node slice: a machine that runs pods, its liveness and scheduling state.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
