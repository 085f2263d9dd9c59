//! The pod slice: one instance of a template, from creation to deletion.

pub(crate) mod decide;
mod evolve;
