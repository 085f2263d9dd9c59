//! The service slice: a label selector whose Ready pods receive traffic.

pub(crate) mod decide;
mod evolve;
