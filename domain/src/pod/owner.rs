//! Who a pod belongs to: the workload that created it and keeps it.

use serde::{Deserialize, Serialize};

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{DeploymentId, JobId, PodId, StatefulSetId, derive_id};
use crate::names::Name;
use crate::pod::template::PodTemplate;

/// The owner reference every pod carries (kind and id). In events it is
/// flattened into the pod's fields as `<kind>Id` (`"deploymentId": …`), the
/// shape pods had before they could have other owners.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
pub enum Owner {
    #[serde(rename = "deploymentId")]
    #[strum(serialize = "deployment")]
    Deployment(DeploymentId),
    #[serde(rename = "jobId")]
    #[strum(serialize = "job")]
    Job(JobId),
    #[serde(rename = "statefulSetId")]
    #[strum(serialize = "statefulset")]
    StatefulSet(StatefulSetId),
}

impl Owner {
    /// The owner's kind, as `AggregateKind` spells it (`deployment`).
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    pub fn id(&self) -> uuid::Uuid {
        match self {
            Owner::Deployment(id) => id.0,
            Owner::Job(id) => id.0,
            Owner::StatefulSet(id) => id.0,
        }
    }

    /// The owner's n-th pod. Stable, so a controller that acts on a stale
    /// view asks for the same pod twice, never two pods (a deployment's is
    /// `PodId::for_ordinal`'s, as it always was).
    pub fn pod_id(&self, ordinal: u64) -> PodId {
        PodId(derive_id(&[
            b"pod",
            self.id().as_bytes(),
            &ordinal.to_be_bytes(),
        ]))
    }

    pub fn deployment(&self) -> Option<DeploymentId> {
        match self {
            Owner::Deployment(id) => Some(*id),
            _ => None,
        }
    }

    pub fn stateful_set(&self) -> Option<StatefulSetId> {
        match self {
            Owner::StatefulSet(id) => Some(*id),
            _ => None,
        }
    }

    pub fn job(&self) -> Option<JobId> {
        match self {
            Owner::Job(id) => Some(*id),
            _ => None,
        }
    }
}

impl From<StatefulSetId> for Owner {
    fn from(id: StatefulSetId) -> Self {
        Owner::StatefulSet(id)
    }
}

impl From<JobId> for Owner {
    fn from(id: JobId) -> Self {
        Owner::Job(id)
    }
}

impl From<DeploymentId> for Owner {
    fn from(id: DeploymentId) -> Self {
        Owner::Deployment(id)
    }
}

/// What every workload kind is to its pods: the pod slice's folds tell it of
/// its pods' lives, and the pod machinery reads it through `workload`.
/// `State::owner` finds it by `Owner`: a new kind is one arm there.
pub(crate) trait PodOwner {
    /// The owner as the pod machinery sees it.
    fn workload(&self) -> Workload<'_>;
    /// The template of `revision` (the current one if it is not recorded).
    fn template_of(&self, revision: u64) -> Option<&PodTemplate>;
    /// One of its pods was created (an Indexed job's with its index).
    fn pod_created(&mut self, pod: &crate::pod::Pod, completion_index: Option<u32>);
    /// One of its live pods failed, was evicted or is deleted.
    fn pod_ended(&mut self, pod: &crate::pod::Pod);
    /// One of its pods left the state.
    fn pod_removed(&mut self, pod: &crate::pod::Pod);
}

/// What the pod machinery (scheduler, preemption, node agent, endpoints)
/// reads of a pod's owner, whatever its kind.
#[derive(Debug, Clone, Copy)]
pub struct Workload<'a> {
    pub owner: Owner,
    pub namespace: &'a Name,
    pub name: &'a Name,
    /// The current template (a pod of an older revision: `State::template_of`).
    pub template: &'a PodTemplate,
    /// Every pod of the owner still in the state (live or failed).
    pub pods: &'a BTreeSet<PodId>,
    /// How many of `pods` are live.
    pub live: u32,
}

impl Workload<'_> {
    /// Whether the pods' labels (with the implied `app=<name>`) contain every pair of `selector`.
    pub fn labels_match(&self, selector: &BTreeMap<String, String>) -> bool {
        self.template.labels_match(self.name.as_str(), selector)
    }

    pub fn labels_match_pairs<'b>(
        &self,
        selector: impl IntoIterator<Item = (&'b String, &'b String)>,
    ) -> bool {
        self.template
            .labels_match_pairs(self.name.as_str(), selector)
    }
}
