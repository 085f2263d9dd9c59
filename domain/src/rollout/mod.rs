//! The rollout slice: moving a deployment from one revision to another.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
