//! The deployment slice: stateless replicas of one pod template.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
