//! The pod slice: one instance of a template, from creation to deletion.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod owner;
pub mod template;
