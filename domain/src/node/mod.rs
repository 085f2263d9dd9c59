//! The node slice: a machine that runs pods, its liveness and scheduling state.

pub(crate) mod decide;
mod evolve;
