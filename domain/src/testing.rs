//! Given / when / then for aggregates: given these events, when this
//! command, then these events (or this rejection).

use crate::command::Command;
use crate::decide::{Rejection, decide};
use crate::event as ev;
use crate::event::Event;
use crate::ids::{CronJobId, DeploymentId, JobId, NodeId};
use crate::model::{DeploymentSpec, NodeSpec, PodTemplate, Resources, RollingUpdate, Taint};
use crate::names::{Image, Name};
use crate::state::State;

pub struct Given {
    pub state: State,
}

pub fn given(events: &[Event]) -> Given {
    let mut state = State::default();
    for e in events {
        state.evolve(e);
    }
    Given { state }
}

impl Given {
    pub fn when(&self, command: Command) -> Result<Vec<Event>, Rejection> {
        decide(&self.state, &command)
    }

    /// Authorize for `actor`, decide and fold, like the decider does.
    pub fn apply_as(&mut self, actor: &str, command: Command) -> Result<Vec<Event>, Rejection> {
        crate::rbac::authorize::command(&self.state, actor, &command)?;
        self.apply(command)
    }

    /// Decide and fold, like the decider does.
    pub fn apply(&mut self, command: Command) -> Result<Vec<Event>, Rejection> {
        let events = decide(&self.state, &command)?;
        for e in &events {
            self.state.evolve(e);
        }
        Ok(events)
    }
}

pub fn node_spec(name: &str, zone: &str, cpu: u64, mem: u64) -> NodeSpec {
    NodeSpec {
        name: Name::parse("name", name).unwrap(),
        zone: zone.into(),
        cpu_capacity_milli: cpu,
        mem_capacity_mb: mem,
        cpu_allocatable_milli: cpu,
        mem_allocatable_mb: mem,
        labels: Default::default(),
        taints: Vec::<Taint>::new(),
    }
}

pub fn node_registered(name: &str, zone: &str, cpu: u64, mem: u64) -> Event {
    Event::NodeRegistered(ev::NodeRegistered {
        node_id: NodeId::from_name(name),
        spec: node_spec(name, zone, cpu, mem),
    })
}

pub fn deployment_spec(name: &str, replicas: u32, cpu: u32, mem: u32) -> DeploymentSpec {
    DeploymentSpec {
        namespace: Name::parse("namespace", "default").unwrap(),
        name: Name::parse("name", name).unwrap(),
        replicas,
        strategy: RollingUpdate::default(),
        disruption_budget: None,
        template: PodTemplate::new(
            Image::parse("image", "demo:v1").unwrap(),
            Resources {
                cpu_request_milli: cpu,
                cpu_limit_milli: cpu,
                mem_request_mb: mem,
                mem_limit_mb: mem,
            },
        ),
    }
}

pub fn deployment_id(n: u128) -> DeploymentId {
    DeploymentId(uuid::Uuid::from_u128(n))
}

/// A job of `completions` pods, `parallelism` at a time, each asking for `cpu` and `mem`.
pub fn job_spec(
    name: &str,
    completions: u32,
    parallelism: u32,
    cpu: u32,
    mem: u32,
) -> crate::job::JobSpec {
    let mut template = deployment_spec(name, 1, cpu, mem).template;
    template.restart_policy = crate::model::RestartPolicy::Never;
    crate::job::JobSpec {
        namespace: Name::parse("namespace", "default").unwrap(),
        name: Name::parse("name", name).unwrap(),
        completions,
        parallelism,
        backoff_limit: 6,
        completion_mode: crate::job::CompletionMode::NonIndexed,
        active_deadline_seconds: None,
        pod_failure_policy: vec![],
        ttl_seconds_after_finished: None,
        template,
    }
}

pub fn job_id(n: u128) -> JobId {
    JobId(uuid::Uuid::from_u128(n))
}

/// A cron job running a one-pod job on `schedule` (UTC).
pub fn cron_job_spec(
    name: &str,
    schedule: &str,
    policy: crate::cronjob::ConcurrencyPolicy,
) -> crate::cronjob::CronJobSpec {
    let j = job_spec(name, 1, 1, 100, 64);
    crate::cronjob::CronJobSpec {
        namespace: j.namespace.clone(),
        name: j.name.clone(),
        schedule: schedule.into(),
        time_zone: "UTC".into(),
        concurrency_policy: policy,
        starting_deadline_seconds: None,
        suspend: false,
        successful_jobs_history_limit: 3,
        failed_jobs_history_limit: 1,
        job_template: crate::cronjob::JobTemplate {
            completions: 1,
            parallelism: 1,
            backoff_limit: j.backoff_limit,
            completion_mode: j.completion_mode,
            active_deadline_seconds: None,
            pod_failure_policy: vec![],
            ttl_seconds_after_finished: None,
            template: j.template,
        },
    }
}

pub fn cron_job_id(n: u128) -> CronJobId {
    CronJobId(uuid::Uuid::from_u128(n))
}

/// A StatefulSet of `replicas` pods (OrderedReady, a `data` volume claim).
pub fn stateful_set_spec(
    name: &str,
    replicas: u32,
    cpu: u32,
    mem: u32,
) -> crate::statefulset::StatefulSetSpec {
    crate::statefulset::StatefulSetSpec {
        namespace: Name::parse("namespace", "default").unwrap(),
        name: Name::parse("name", name).unwrap(),
        replicas,
        service_name: None,
        pod_management_policy: Default::default(),
        update_strategy: Default::default(),
        volume_claim_template: Some(crate::statefulset::VolumeClaimTemplate {
            name: Name::parse("name", "data").unwrap(),
            mount_path: "/data".into(),
        }),
        template: deployment_spec(name, 1, cpu, mem).template,
    }
}

pub fn stateful_set_id(n: u128) -> crate::ids::StatefulSetId {
    crate::ids::StatefulSetId(uuid::Uuid::from_u128(n))
}
