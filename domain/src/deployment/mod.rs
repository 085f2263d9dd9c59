//! The deployment slice: stateless replicas of one pod template.

pub(crate) mod decide;
mod evolve;
