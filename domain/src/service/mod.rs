//! The service slice: a label selector whose Ready pods receive traffic.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
