//! The rollout slice: moving a deployment from one revision to another.

pub(crate) mod decide;
mod evolve;
