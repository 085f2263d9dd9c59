//! The write model and the in-memory read model are the same fold:
//! `State::evolve` applied to every event in log order.

use crate::command as cmd;
use crate::event as ev;
use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::cronjob::CronJob;
use crate::event::{AggregateKind, AggregateRef, Event, RolloutTrigger};
use crate::ids::{
    CronJobId, DeploymentId, IdMap, IdSet, JobId, NodeId, PodId, ServiceId, StatefulSetId,
};
use crate::job::Job;
use crate::model::{
    DeploymentSpec, NodeCondition, NodeSpec, NodeUsage, PodPhase, PodTemplate, ServiceSpec,
};
pub use crate::pod::Pod;
use crate::pod::owner::PodOwner;
pub use crate::pod::owner::{Owner, Workload};
use crate::statefulset::StatefulSet;
use crate::store::{Named, Store};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: NodeId,
    pub spec: NodeSpec,
    pub condition: NodeCondition,
    pub cpu_requested_milli: u64,
    pub mem_requested_mb: u64,
    /// Pods bound here and not yet failed or deleted.
    pub pods: BTreeSet<PodId>,
    pub version: u64,
    /// Cordoned: the scheduler places nothing new here.
    #[serde(default)]
    pub unschedulable: bool,
    /// Being drained: its pods are evicted within their disruption budgets.
    #[serde(default)]
    pub draining: bool,
}

impl Node {
    pub fn cpu_free(&self) -> u64 {
        self.spec
            .cpu_allocatable_milli
            .saturating_sub(self.cpu_requested_milli)
    }
    pub fn mem_free(&self) -> u64 {
        self.spec
            .mem_allocatable_mb
            .saturating_sub(self.mem_requested_mb)
    }
    pub fn usage(&self) -> NodeUsage {
        NodeUsage {
            node_id: self.id,
            cpu_requested_milli: self.cpu_requested_milli,
            mem_requested_mb: self.mem_requested_mb,
            pods: self.pods.len() as u32,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deployment {
    pub id: DeploymentId,
    pub spec: DeploymentSpec,
    pub revision: u64,
    pub next_ordinal: u64,
    /// Every pod of this deployment still in the state (live or failed).
    pub pods: BTreeSet<PodId>,
    pub version: u64,
    /// How many of `pods` are live (kept by `evolve`, recomputed by `rebuild_indexes`).
    #[serde(skip)]
    pub live: u32,
    /// How many live pods are of another revision than `revision` (kept by
    /// `evolve`): 0 and no rollout means the controller need not look at pods.
    #[serde(skip)]
    pub live_other_revision: u32,
    /// Every pod template ever recorded, by revision (never truncated).
    #[serde(default)]
    pub revisions: BTreeMap<u64, DeploymentSpec>,
    /// The rollout in progress.
    #[serde(default)]
    pub rollout: Option<Rollout>,
    /// Rollouts ever started (the last one's number).
    #[serde(default)]
    pub rollouts: u64,
    /// The correlation id of the last change asked of the deployment (its
    /// creation, a scale, a template change, a rollout): the controllers'
    /// commands for it carry this id, so each pod and rollout step links back
    /// to the request that caused it.
    #[serde(default)]
    pub cause: Option<uuid::Uuid>,
}

impl Deployment {
    /// The highest revision recorded.
    pub fn latest_revision(&self) -> u64 {
        self.revisions
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.revision)
            .max(self.revision)
    }

    /// The template of `revision` (the current spec for the current revision).
    pub fn template(&self, revision: u64) -> Option<&DeploymentSpec> {
        if revision == self.revision {
            return Some(&self.spec);
        }
        self.revisions.get(&revision)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub number: u64,
    pub from: u64,
    pub to: u64,
    pub trigger: RolloutTrigger,
    /// Pods on `to` until promoted; `None` = all replicas.
    pub canary: Option<u32>,
    pub paused: bool,
    /// Pods of `to` that failed (readiness, restart, crash) during this rollout.
    pub failed_pods: BTreeSet<PodId>,
    pub last_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: ServiceId,
    pub spec: ServiceSpec,
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub nodes: IdMap<NodeId, Node>,
    pub deployments: Store<DeploymentId, Deployment>,
    pub pods: IdMap<PodId, Pod>,
    #[serde(default)]
    pub services: IdMap<ServiceId, Service>,
    #[serde(default)]
    pub jobs: Store<JobId, Job>,
    #[serde(default)]
    pub cron_jobs: Store<CronJobId, CronJob>,
    #[serde(default)]
    pub stateful_sets: Store<StatefulSetId, StatefulSet>,
    /// Where each pod that reported an address serves (process runtime).
    #[serde(default)]
    pub addresses: IdMap<PodId, String>,
    /// The last deleted deployment of each `namespace/name`, as it was (no
    /// pods): what `UndeleteDeployment` restores.
    #[serde(default)]
    pub deleted: BTreeMap<String, Deployment>,
    /// The last deleted StatefulSet of each `namespace/name`, without pods.
    #[serde(default)]
    pub deleted_stateful_sets: BTreeMap<String, StatefulSet>,
    /// The last deleted job of each `namespace/name`, without pods.
    #[serde(default)]
    pub deleted_jobs: BTreeMap<String, Job>,
    /// The last deleted cron job of each `namespace/name`, without jobs.
    #[serde(default)]
    pub deleted_cron_jobs: BTreeMap<String, CronJob>,
    /// The last deleted service of each `namespace/name`.
    #[serde(default)]
    pub deleted_services: BTreeMap<String, Service>,
    /// Namespaces by name, once created (the built-ins once changed).
    #[serde(default)]
    pub namespaces: BTreeMap<String, crate::namespace::Namespace>,
    /// Each namespace's quota, by namespace name.
    #[serde(default)]
    pub quotas: BTreeMap<String, crate::quota::ResourceQuota>,
    /// Each namespace's limit range, by namespace name.
    #[serde(default)]
    pub limit_ranges: BTreeMap<String, crate::limitrange::LimitRange>,
    /// The versions of the namespace policies' aggregates (quotas, limit
    /// ranges) by aggregate id, kept across their removal.
    #[serde(default)]
    pub policy_versions: BTreeMap<uuid::Uuid, u64>,
    /// Users, service accounts and tokens.
    #[serde(default)]
    pub identities: crate::identity::Identities,
    /// The cluster's own roles and bindings (the built-ins are code).
    #[serde(default)]
    pub rbac: crate::rbac::Rbac,
    /// Secrets (ciphertext only) and KEK rotations.
    #[serde(default)]
    pub secrets: crate::secret::Secrets,
    /// Network policies by `namespace/name`.
    #[serde(default)]
    pub network_policies: BTreeMap<String, crate::networkpolicy::NetworkPolicy>,
    #[serde(skip)]
    pub(crate) node_names: HashMap<String, NodeId>,
    /// Pending pods without a node: the scheduler's queue, without a scan of every pod.
    #[serde(skip)]
    pub(crate) unbound: IdSet<PodId>,
    /// Workloads (of every kind) with a required anti-affinity term: when 0, binds skip that check.
    #[serde(skip)]
    pub(crate) anti_affinity_workloads: u32,
}

pub(crate) fn count_other_revision(pods: &IdMap<PodId, Pod>, d: &Deployment) -> u32 {
    d.pods
        .iter()
        .filter_map(|p| pods.get(p))
        .filter(|p| p.is_live() && p.revision != d.revision)
        .count() as u32
}

pub(crate) fn has_required_anti_affinity(spec: &crate::model::DeploymentSpec) -> bool {
    spec.template.has_required_anti_affinity()
}

impl State {
    /// Fold an event with its envelope: `evolve`, and remember what caused
    /// the changes asked of a deployment (see `Deployment::cause`).
    pub fn apply(&mut self, env: &crate::event::EventEnvelope) {
        let counted_failure = self.job_failure_counts(&env.body);
        self.evolve(&env.body);
        self.note_cause(&env.body, env.correlation_id);
        self.note_time(
            &env.body,
            env.occurred_at.timestamp_millis(),
            counted_failure,
        );
    }

    /// Whether `event` is a job pod's failure that counts against its back-off.
    fn job_failure_counts(&self, event: &Event) -> Option<JobId> {
        let Event::PodFailed(e) = event else {
            return None;
        };
        let job = self
            .pods
            .get(&e.pod_id)
            .filter(|p| p.is_live())?
            .owner
            .job()?;
        let j = self.jobs.get(&job)?;
        (e.cause == crate::event::PodFailureCause::Container
            && j.spec.failure_action(e.exit_code) != crate::job::PodFailureAction::Ignore)
            .then_some(job)
    }

    /// Remember when a job started, last had a pod fail, and finished: the
    /// times its controller's back-off, deadline and TTL count from (the
    /// envelope's, so a replay finds the same).
    fn note_time(&mut self, event: &Event, at_ms: i64, counted_failure: Option<JobId>) {
        if let Some(j) = counted_failure.and_then(|id| self.jobs.get_mut(&id)) {
            j.last_failure_at_ms = Some(at_ms);
        }
        match event {
            Event::JobCreated(e) => {
                if let Some(j) = self.jobs.get_mut(&e.job_id) {
                    j.started_at_ms = at_ms;
                }
            }
            Event::CronJobCreated(e) => {
                if let Some(c) = self.cron_jobs.get_mut(&e.cron_job_id) {
                    c.created_at_ms = at_ms;
                }
            }
            Event::JobCompleted(ev::JobCompleted { job_id, .. })
            | Event::JobFailed(ev::JobFailed { job_id, .. }) => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.finished_at_ms = Some(at_ms);
                }
            }
            _ => {}
        }
    }

    /// Remember `correlation` as the cause of the deployment `event` changed, if it is a request.
    pub fn note_cause(&mut self, event: &Event, correlation: uuid::Uuid) {
        let id = match event {
            Event::DeploymentCreated(ev::DeploymentCreated { deployment_id, .. })
            | Event::DeploymentScaled(ev::DeploymentScaled { deployment_id, .. })
            | Event::DeploymentUndeleted(ev::DeploymentUndeleted { deployment_id, .. })
            | Event::DeploymentRevisionCreated(ev::DeploymentRevisionCreated {
                deployment_id,
                ..
            })
            | Event::RolloutStarted(ev::RolloutStarted { deployment_id, .. }) => deployment_id,
            Event::NamespaceDeleted(ev::NamespaceDeleted { name, .. }) => {
                if let Some(ns) = self.namespaces.get_mut(name.as_str()) {
                    ns.cause = Some(correlation);
                }
                return;
            }
            Event::JobCreated(ev::JobCreated { job_id, .. }) => {
                if let Some(j) = self.jobs.get_mut(job_id) {
                    j.cause = Some(correlation);
                }
                return;
            }
            Event::CronJobCreated(ev::CronJobCreated { cron_job_id, .. }) => {
                if let Some(c) = self.cron_jobs.get_mut(cron_job_id) {
                    c.cause = Some(correlation);
                }
                return;
            }
            Event::StatefulSetCreated(ev::StatefulSetCreated {
                stateful_set_id, ..
            })
            | Event::StatefulSetScaled(ev::StatefulSetScaled {
                stateful_set_id, ..
            })
            | Event::StatefulSetRevisionCreated(ev::StatefulSetRevisionCreated {
                stateful_set_id,
                ..
            })
            | Event::StatefulSetRolledBack(ev::StatefulSetRolledBack {
                stateful_set_id, ..
            })
            | Event::StatefulSetUndeleted(ev::StatefulSetUndeleted {
                stateful_set_id, ..
            }) => {
                if let Some(s) = self.stateful_sets.get_mut(stateful_set_id) {
                    s.cause = Some(correlation);
                }
                return;
            }
            _ => return,
        };
        if let Some(d) = self.deployments.get_mut(id) {
            d.cause = Some(correlation);
        }
    }

    /// The correlation a controller's command should carry: the cause of the
    /// deployment it acts for (directly, or through the pod it acts on).
    pub fn cause_of(&self, command: &crate::command::Command) -> Option<uuid::Uuid> {
        use crate::command::Command as C;
        let deployment = match command {
            C::CreatePod(cmd::CreatePod {
                owner: Owner::Job(job),
                ..
            })
            | C::FailJob(cmd::FailJob { job_id: job, .. }) => return self.jobs.get(job)?.cause,
            C::RunCronJob(cmd::RunCronJob { cron_job_id, .. }) => {
                return self.cron_jobs.get(cron_job_id)?.cause;
            }
            C::PurgeNamespaceObject(cmd::PurgeNamespaceObject { namespace, .. }) => {
                return self.namespaces.get(namespace.as_str())?.cause;
            }
            C::CreatePod(cmd::CreatePod {
                owner: Owner::StatefulSet(id),
                ..
            })
            | C::RollbackStatefulSet(cmd::RollbackStatefulSet {
                stateful_set_id: id,
                ..
            })
            | C::CompleteStatefulSetUpdate(cmd::CompleteStatefulSetUpdate {
                stateful_set_id: id,
                ..
            }) => return self.stateful_sets.get(id)?.cause,
            C::CreatePod(cmd::CreatePod {
                owner: Owner::Deployment(deployment_id),
                ..
            })
            | C::CompleteRollout(cmd::CompleteRollout { deployment_id, .. })
            | C::FailRollout(cmd::FailRollout { deployment_id, .. })
            | C::RollbackDeployment(cmd::RollbackDeployment { deployment_id, .. }) => {
                *deployment_id
            }
            C::BindPod(cmd::BindPod { pod_id, .. })
            | C::MarkPodUnschedulable(cmd::MarkPodUnschedulable { pod_id, .. })
            | C::DeletePod(cmd::DeletePod { pod_id, .. }) => match self.pods.get(pod_id)?.owner {
                Owner::Deployment(d) => d,
                Owner::Job(j) => return self.jobs.get(&j)?.cause,
                Owner::StatefulSet(s) => return self.stateful_sets.get(&s)?.cause,
            },
            _ => return None,
        };
        self.deployments.get(&deployment)?.cause
    }

    /// Call after deserializing a snapshot: the name indexes are not stored.
    pub fn rebuild_indexes(&mut self) {
        self.node_names = self
            .nodes
            .values()
            .map(|n| (n.spec.name.to_string(), n.id))
            .collect();
        self.deployments.rebuild_names();
        self.jobs.rebuild_names();
        self.cron_jobs.rebuild_names();
        self.stateful_sets.rebuild_names();
        self.unbound = self
            .pods
            .values()
            .filter(|p| p.node.is_none() && p.phase == PodPhase::Pending)
            .map(|p| p.id)
            .collect();
        self.anti_affinity_workloads = self
            .workloads()
            .filter(|w| w.template.has_required_anti_affinity())
            .count() as u32;
        let pods = &self.pods;
        for d in self.deployments.values_mut() {
            d.live = d
                .pods
                .iter()
                .filter(|p| pods.get(p).is_some_and(|p| p.is_live()))
                .count() as u32;
            d.live_other_revision = count_other_revision(pods, d);
        }
    }

    /// Heap bytes held, estimated from the collections' sizes (hash tables
    /// at their capacity plus a control byte per slot; B-tree sets at ~1.5×
    /// their elements for node overhead). Strings inside specs are not
    /// counted: they are per node and per deployment, not per pod.
    pub fn estimated_bytes(&self) -> usize {
        use std::mem::size_of;
        let table = |cap: usize, entry: usize| cap * (entry + 1);
        let btree = |len: usize| len * size_of::<PodId>() * 3 / 2;
        let mut total = table(self.pods.capacity(), size_of::<(PodId, Pod)>())
            + table(self.nodes.capacity(), size_of::<(NodeId, Node)>())
            + table(
                self.deployments.capacity(),
                size_of::<(DeploymentId, Deployment)>(),
            )
            + table(self.unbound.capacity(), size_of::<PodId>());
        total += self
            .nodes
            .values()
            .map(|n| btree(n.pods.len()))
            .sum::<usize>();
        total += self
            .deployments
            .values()
            .map(|d| btree(d.pods.len()))
            .sum::<usize>();
        total
    }

    /// The pod's owner, whatever its kind.
    pub(crate) fn owner(&self, owner: Owner) -> Option<&dyn PodOwner> {
        match owner {
            Owner::Deployment(id) => self.deployments.get(&id).map(|d| d as &dyn PodOwner),
            Owner::Job(id) => self.jobs.get(&id).map(|j| j as &dyn PodOwner),
            Owner::StatefulSet(id) => self.stateful_sets.get(&id).map(|s| s as &dyn PodOwner),
        }
    }

    fn owner_mut(&mut self, owner: Owner) -> Option<&mut dyn PodOwner> {
        match owner {
            Owner::Deployment(id) => self
                .deployments
                .get_mut(&id)
                .map(|d| d as &mut dyn PodOwner),
            Owner::Job(id) => self.jobs.get_mut(&id).map(|j| j as &mut dyn PodOwner),
            Owner::StatefulSet(id) => self
                .stateful_sets
                .get_mut(&id)
                .map(|s| s as &mut dyn PodOwner),
        }
    }

    /// The pod template of the pod's revision.
    pub fn template_of(&self, pod: &Pod) -> Option<&PodTemplate> {
        self.owner(pod.owner)?.template_of(pod.revision)
    }

    /// A StatefulSet pod's volume claim: (namespace, claim name).
    pub fn volume_claim_of(&self, pod: &Pod) -> Option<(&str, String)> {
        let s = self.stateful_sets.get(&pod.owner.stateful_set()?)?;
        Some((s.spec.namespace.as_str(), s.spec.claim_name(pod.ordinal)?))
    }

    /// The pod's owner as the pod machinery sees it.
    pub fn workload(&self, owner: Owner) -> Option<Workload<'_>> {
        self.owner(owner).map(PodOwner::workload)
    }

    /// Every workload of every kind.
    pub fn workloads(&self) -> impl Iterator<Item = Workload<'_>> {
        self.deployments
            .values()
            .map(Deployment::workload)
            .chain(self.jobs.values().map(Job::workload))
            .chain(self.stateful_sets.values().map(StatefulSet::workload))
    }

    /// A pod of `pod.owner` was created: the owner counts it.
    pub(crate) fn owner_pod_created(&mut self, pod: &Pod, completion_index: Option<u32>) {
        if let Some(o) = self.owner_mut(pod.owner) {
            o.pod_created(pod, completion_index);
        }
    }

    /// A live pod of `pod.owner` failed, was evicted or is deleted.
    pub(crate) fn owner_pod_ended(&mut self, pod: &Pod) {
        if let Some(o) = self.owner_mut(pod.owner) {
            o.pod_ended(pod);
        }
    }

    /// A pod of `pod.owner` left the state (deleted).
    pub(crate) fn owner_pod_removed(&mut self, pod: &Pod) {
        if let Some(o) = self.owner_mut(pod.owner) {
            o.pod_removed(pod);
        }
    }

    pub fn service_by_name(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .values()
            .find(|s| s.spec.namespace.as_str() == namespace && s.spec.name.as_str() == name)
    }

    /// The Ready endpoints of a service: live, Ready pods with an address
    /// whose labels (those of their revision) match the selector, in pod-id order.
    pub fn endpoints(&self, service: &Service) -> Vec<(PodId, &str)> {
        let mut out = Vec::new();
        for w in self.workloads() {
            if *w.namespace != service.spec.namespace {
                continue;
            }
            let owner = self.owner(w.owner);
            for pod in w.pods.iter().filter_map(|p| self.pods.get(p)) {
                if !pod.is_live() || !pod.ready {
                    continue;
                }
                let Some(addr) = self.addresses.get(&pod.id) else {
                    continue;
                };
                let t = owner
                    .and_then(|o| o.template_of(pod.revision))
                    .unwrap_or(w.template);
                if t.labels_match(w.name.as_str(), &service.spec.selector) {
                    out.push((pod.id, addr.as_str()));
                }
            }
        }
        out.sort();
        out
    }

    /// A workload's template gained (`after`) or lost (`before`) a required
    /// anti-affinity term, or the workload came (`false, has`) or went
    /// (`has, false`): the count binds consult.
    pub(crate) fn anti_affinity_changed(&mut self, before: bool, after: bool) {
        match (before, after) {
            (false, true) => self.anti_affinity_workloads += 1,
            (true, false) => {
                self.anti_affinity_workloads = self.anti_affinity_workloads.saturating_sub(1)
            }
            _ => {}
        }
    }

    /// Whether any workload has a required anti-affinity term.
    pub fn any_required_anti_affinity(&self) -> bool {
        self.anti_affinity_workloads > 0
    }

    /// Pending pods that have no node yet.
    pub fn unbound_pods(&self) -> impl Iterator<Item = &Pod> {
        self.unbound.iter().filter_map(|p| self.pods.get(p))
    }

    pub fn unbound_count(&self) -> usize {
        self.unbound.len()
    }

    /// A pod's priority (from its owner's template).
    pub fn priority_of(&self, pod: &Pod) -> i32 {
        self.workload(pod.owner)
            .map_or(0, |w| w.template.effective_priority())
    }

    /// How many more of the deployment's pods may be disrupted now without
    /// breaking its disruption budget (`u32::MAX` without a budget). Only
    /// Ready pods count as available, like a PodDisruptionBudget's `currentHealthy`.
    pub fn disruptions_allowed(&self, d: &Deployment) -> u32 {
        let Some(b) = d.spec.disruption_budget else {
            return u32::MAX;
        };
        let healthy = self.live_pods(d).filter(|p| p.ready).count() as u32;
        let min_available = match (b.min_available, b.max_unavailable) {
            (Some(min), _) => min,
            (None, Some(max)) => d.spec.replicas.saturating_sub(max),
            (None, None) => 0,
        };
        // Never more than the replicas asked for: a scale-down below
        // `minAvailable` is the owner's decision, not a disruption.
        healthy.saturating_sub(min_available.min(d.spec.replicas))
    }

    /// `disruptions_allowed` by owner; an unknown owner, or a kind without
    /// disruption budgets, has no budget.
    pub fn disruptions_allowed_for(&self, owner: &Owner) -> u32 {
        match owner {
            Owner::Deployment(id) => self
                .deployments
                .get(id)
                .map_or(u32::MAX, |d| self.disruptions_allowed(d)),
            Owner::Job(_) | Owner::StatefulSet(_) => u32::MAX,
        }
    }

    /// The pod stops being live (failed or evicted): release its node.
    pub(crate) fn end_pod(&mut self, pod_id: &PodId) {
        self.end_pod_as(pod_id, PodPhase::Failed);
    }

    /// The pod stops being live with `phase`: release its node.
    pub(crate) fn end_pod_as(&mut self, pod_id: &PodId, phase: PodPhase) {
        let node = self.pods.get(pod_id).and_then(|p| p.node);
        self.release(*pod_id, node);
        self.unbound.remove(pod_id);
        self.addresses.remove(pod_id);
        if let Some(pod) = self.pods.get(pod_id).filter(|p| p.is_live()).cloned() {
            self.owner_pod_ended(&pod);
        }
        if let Some(pod) = self.pods.get_mut(pod_id) {
            pod.phase = phase;
            pod.ready = false;
            pod.version += 1;
        }
    }

    pub fn node_by_name(&self, name: &str) -> Option<&Node> {
        self.node_names.get(name).and_then(|id| self.nodes.get(id))
    }

    pub fn cron_job_by_name(&self, namespace: &str, name: &str) -> Option<&CronJob> {
        self.cron_jobs.by_name(namespace, name)
    }

    pub fn stateful_set_by_name(&self, namespace: &str, name: &str) -> Option<&StatefulSet> {
        self.stateful_sets.by_name(namespace, name)
    }

    pub fn job_by_name(&self, namespace: &str, name: &str) -> Option<&Job> {
        self.jobs.by_name(namespace, name)
    }

    pub fn deployment_by_name(&self, namespace: &str, name: &str) -> Option<&Deployment> {
        self.deployments.by_name(namespace, name)
    }

    pub fn live_pods(&self, d: &Deployment) -> impl Iterator<Item = &Pod> {
        d.pods
            .iter()
            .filter_map(|p| self.pods.get(p))
            .filter(|p| p.is_live())
    }

    pub fn live_pod_count(&self, d: &Deployment) -> u32 {
        d.live
    }

    /// The version (last sequence number) of an aggregate; 0 if unknown.
    pub fn version_of(&self, agg: &AggregateRef) -> u64 {
        match agg.kind {
            AggregateKind::Node => self.nodes.get(&NodeId(agg.id)).map_or(0, |n| n.version),
            AggregateKind::Pod => self.pods.get(&PodId(agg.id)).map_or(0, |p| p.version),
            AggregateKind::Deployment => match self.deployments.get(&DeploymentId(agg.id)) {
                Some(d) => d.version,
                // A deleted deployment's history goes on if it is undeleted.
                None => self
                    .deleted
                    .values()
                    .find(|d| d.id.0 == agg.id)
                    .map_or(0, |d| d.version),
            },
            AggregateKind::Service => match self.services.get(&ServiceId(agg.id)) {
                Some(s) => s.version,
                None => self
                    .deleted_services
                    .values()
                    .find(|s| s.id.0 == agg.id)
                    .map_or(0, |s| s.version),
            },
            AggregateKind::Namespace => self
                .namespaces
                .values()
                .find(|n| crate::namespace::namespace_id(n.name.as_str()) == agg.id)
                .map_or(0, |n| n.version),
            AggregateKind::ResourceQuota
            | AggregateKind::LimitRange
            | AggregateKind::User
            | AggregateKind::ServiceAccount
            | AggregateKind::Token
            | AggregateKind::Role
            | AggregateKind::RoleBinding
            | AggregateKind::Secret
            | AggregateKind::KeyRotation
            | AggregateKind::NetworkPolicy => self.policy_version(agg.id),
            AggregateKind::Job => match self.jobs.get(&JobId(agg.id)) {
                Some(j) => j.version,
                None => self
                    .deleted_jobs
                    .values()
                    .find(|j| j.id.0 == agg.id)
                    .map_or(0, |j| j.version),
            },
            AggregateKind::CronJob => match self.cron_jobs.get(&CronJobId(agg.id)) {
                Some(c) => c.version,
                None => self
                    .deleted_cron_jobs
                    .values()
                    .find(|c| c.id.0 == agg.id)
                    .map_or(0, |c| c.version),
            },
            AggregateKind::StatefulSet => match self.stateful_sets.get(&StatefulSetId(agg.id)) {
                Some(s) => s.version,
                None => self
                    .deleted_stateful_sets
                    .values()
                    .find(|s| s.id.0 == agg.id)
                    .map_or(0, |s| s.version),
            },
            AggregateKind::Command => 0,
        }
    }

    pub(crate) fn anti_affinity_of(&self, id: &DeploymentId) -> u32 {
        self.deployments
            .get(id)
            .is_some_and(|d| has_required_anti_affinity(&d.spec)) as u32
    }

    /// A pod of the revision a rollout moves to failed: count it against the rollout.
    pub(crate) fn rollout_failure(
        &mut self,
        owner: Owner,
        revision: u64,
        pod: PodId,
        reason: &str,
    ) {
        if let Owner::StatefulSet(id) = owner {
            if let Some(s) = self.stateful_sets.get_mut(&id) {
                s.pod_failed_during_update(pod, revision, reason);
            }
            return;
        }
        let Some(d) = owner.deployment() else { return };
        if let Some(r) = self
            .deployments
            .get_mut(&d)
            .and_then(|d| d.rollout.as_mut())
            .filter(|r| r.to == revision)
        {
            r.failed_pods.insert(pod);
            r.last_failure = Some(reason.to_string());
        }
    }

    pub(crate) fn release(&mut self, pod_id: PodId, node_id: Option<NodeId>) {
        let Some(node_id) = node_id else { return };
        let Some(pod) = self.pods.get(&pod_id) else {
            return;
        };
        let (cpu, mem) = (pod.cpu_milli as u64, pod.mem_mb as u64);
        if let Some(node) = self.nodes.get_mut(&node_id)
            && node.pods.remove(&pod_id)
        {
            node.cpu_requested_milli = node.cpu_requested_milli.saturating_sub(cpu);
            node.mem_requested_mb = node.mem_requested_mb.saturating_sub(mem);
        }
    }

    /// Apply one event. Total: an event about an unknown object is ignored,
    /// so a reader that starts from a snapshot never panics.
    /// Every event is folded by its resource's slice (`<slice>/evolve.rs`): one line each.
    pub fn evolve(&mut self, event: &Event) {
        match event {
            Event::NodeRegistered(e) => self.on_node_registered(e),
            Event::NodeReady(e) => self.on_node_ready(e),
            Event::NodeNotReady(e) => self.on_node_not_ready(e),
            Event::NodeLost(e) => self.on_node_lost(e),
            Event::DeploymentCreated(e) => self.on_deployment_created(e),
            Event::DeploymentScaled(e) => self.on_deployment_scaled(e),
            Event::DeploymentDeleted(e) => self.on_deployment_deleted(e),
            Event::DeploymentUndeleted(e) => self.on_deployment_undeleted(e),
            Event::PodCreated(e) => self.on_pod_created(e),
            Event::PodBound(e) => self.on_pod_bound(e),
            Event::PodStarted(e) => self.on_pod_started(e),
            Event::PodReady(e) => self.on_pod_ready(e),
            Event::PodFailed(e) => self.on_pod_failed(e),
            Event::PodDeleted(e) => self.on_pod_deleted(e),
            Event::NodeCordoned(e) => self.on_node_cordoned(e),
            Event::NodeUncordoned(e) => self.on_node_uncordoned(e),
            Event::NodeTaintsChanged(e) => self.on_node_taints_changed(e),
            Event::PodEvicted(e) => self.on_pod_evicted(e),
            Event::PodUnschedulable(e) => self.on_pod_unschedulable(e),
            Event::DeploymentRevisionCreated(e) => self.on_deployment_revision_created(e),
            Event::DeploymentStrategyChanged(e) => self.on_deployment_strategy_changed(e),
            Event::DeploymentBudgetChanged(e) => self.on_deployment_budget_changed(e),
            Event::RolloutStarted(e) => self.on_rollout_started(e),
            Event::RolloutPaused(e) => self.on_rollout_paused(&e.deployment_id, true),
            Event::RolloutResumed(e) => self.on_rollout_paused(&e.deployment_id, false),
            Event::RolloutPromoted(e) => self.on_rollout_promoted(e),
            Event::RolloutSucceeded(e) => self.on_rollout_ended(&e.deployment_id),
            Event::RolloutFailed(e) => self.on_rollout_ended(&e.deployment_id),
            Event::RolloutRolledBack(e) => self.on_rollout_ended(&e.deployment_id),
            Event::PodNotReady(e) => self.on_pod_not_ready(e),
            Event::PodRestarted(e) => self.on_pod_restarted(e),
            Event::ServiceCreated(e) => self.on_service_created(e),
            Event::ServiceDeleted(e) => self.on_service_deleted(e),
            Event::PodSucceeded(e) => self.on_pod_succeeded(e),
            Event::JobCreated(e) => self.on_job_created(e),
            Event::JobCompleted(e) => self.on_job_completed(e),
            Event::JobFailed(e) => self.on_job_failed(e),
            Event::JobDeleted(e) => self.on_job_deleted(e),
            Event::JobUndeleted(e) => self.on_job_undeleted(e),
            Event::CronJobCreated(e) => self.on_cron_job_created(e),
            Event::CronJobSuspended(e) => self.on_cron_job_suspended(e),
            Event::CronJobDeleted(e) => self.on_cron_job_deleted(e),
            Event::CronJobUndeleted(e) => self.on_cron_job_undeleted(e),
            Event::CronJobRunStarted(e) => self.on_cron_job_run_started(e),
            Event::CronJobRunSkipped(e) => self.on_cron_job_run_skipped(e),
            Event::StatefulSetCreated(e) => self.on_stateful_set_created(e),
            Event::StatefulSetScaled(e) => self.on_stateful_set_scaled(e),
            Event::StatefulSetRevisionCreated(e) => self.on_stateful_set_revision_created(e),
            Event::StatefulSetPartitionChanged(e) => self.on_stateful_set_partition_changed(e),
            Event::StatefulSetUpdateCompleted(e) => self.on_stateful_set_update_completed(e),
            Event::StatefulSetRolledBack(e) => self.on_stateful_set_rolled_back(e),
            Event::StatefulSetDeleted(e) => self.on_stateful_set_deleted(e),
            Event::StatefulSetUndeleted(e) => self.on_stateful_set_undeleted(e),
            Event::ServiceUndeleted(e) => self.on_service_undeleted(e),
            Event::NamespaceCreated(e) => self.on_namespace_created(e),
            Event::NamespaceLabelsChanged(e) => self.on_namespace_labels_changed(e),
            Event::NamespaceDeleted(e) => self.on_namespace_deleted(e),
            Event::NamespaceUndeleted(e) => self.on_namespace_undeleted(e),
            Event::ResourceQuotaSet(e) => self.on_resource_quota_set(e),
            Event::ResourceQuotaRemoved(e) => self.on_resource_quota_removed(e),
            Event::ResourceQuotaUsageRecorded(e) => self.on_resource_quota_usage_recorded(e),
            Event::LimitRangeSet(e) => self.on_limit_range_set(e),
            Event::LimitRangeRemoved(e) => self.on_limit_range_removed(e),
            Event::UserCreated(e) => self.on_user_created(e),
            Event::UserGroupsChanged(e) => self.on_user_groups_changed(e),
            Event::UserDeleted(e) => self.on_user_deleted(e),
            Event::ServiceAccountCreated(e) => self.on_service_account_created(e),
            Event::ServiceAccountDeleted(e) => self.on_service_account_deleted(e),
            Event::TokenIssued(e) => self.on_token_issued(e),
            Event::TokenRevoked(e) => self.on_token_revoked(e),
            Event::RoleSet(e) => self.on_role_set(e),
            Event::RoleDeleted(e) => self.on_role_deleted(e),
            Event::RoleBindingSet(e) => self.on_role_binding_set(e),
            Event::RoleBindingDeleted(e) => self.on_role_binding_deleted(e),
            Event::SecretSet(e) => self.on_secret_set(e),
            Event::SecretDeleted(e) => self.on_secret_deleted(e),
            Event::SecretUndeleted(e) => self.on_secret_undeleted(e),
            Event::KeyRotationStarted(e) => self.on_key_rotation_started(e),
            Event::SecretRewrapped(e) => self.on_secret_rewrapped(e),
            Event::KeyRotationCompleted(e) => self.on_key_rotation_completed(e),
            Event::NetworkPolicySet(e) => self.on_network_policy_set(e),
            Event::NetworkPolicyDeleted(e) => self.on_network_policy_deleted(e),
            Event::CommandRejected(_) => {}
        }
    }
}

impl Named for Deployment {
    fn namespace(&self) -> &crate::names::Name {
        &self.spec.namespace
    }
    fn name(&self) -> &crate::names::Name {
        &self.spec.name
    }
}

impl Named for Job {
    fn namespace(&self) -> &crate::names::Name {
        &self.spec.namespace
    }
    fn name(&self) -> &crate::names::Name {
        &self.spec.name
    }
}

impl Named for CronJob {
    fn namespace(&self) -> &crate::names::Name {
        &self.spec.namespace
    }
    fn name(&self) -> &crate::names::Name {
        &self.spec.name
    }
}

impl Named for StatefulSet {
    fn namespace(&self) -> &crate::names::Name {
        &self.spec.namespace
    }
    fn name(&self) -> &crate::names::Name {
        &self.spec.name
    }
}
