//! End-to-end tests: real broker, real PostgreSQL, real `orch` processes,
//! driven through the REST API and checked in the projections and the log.

mod agents;
mod authorization;
mod crashes;
mod deployments;
mod fairness;
mod healing;
mod history;
mod jobs;
mod namespaces;
mod networkpolicies;
mod restarts;
mod rollouts;
mod scheduling;
mod secrets;
mod statefulsets;
mod support;
