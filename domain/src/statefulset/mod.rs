//! The StatefulSet slice: pods with a stable identity. Pod n is always
//! `<name>-n` (a replacement after a node loss or a crash comes back under
//! the same name and ordinal), has its own volume claim, and is reachable by
//! name through the set's service. `OrderedReady` creates ordinals in order,
//! each after the one below is Ready, and removes them highest first; a
//! rolling update replaces pods from the highest ordinal down to
//! `partition`, and a revision whose pods keep failing is rolled back.

pub mod commands;
pub(crate) mod controller;
pub(crate) mod decide;
pub mod events;
mod evolve;
pub mod spec;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{PodId, StatefulSetId, derive_id};
use crate::pod::owner::Workload;
use crate::pod::template::PodTemplate;

pub use spec::{PodManagementPolicy, SetUpdateStrategy, StatefulSetSpec, VolumeClaimTemplate};

/// A rolling update in progress: from the current revision to the update revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetUpdate {
    pub number: u64,
    pub from: u64,
    pub to: u64,
    /// Pods of `to` that failed (crash, restart, readiness) during the update.
    pub failed_pods: BTreeSet<PodId>,
    /// How many times they failed.
    pub failures: u32,
    pub last_failure: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatefulSet {
    pub id: StatefulSetId,
    pub spec: StatefulSetSpec,
    /// The update revision: what ordinals at or above `partition` run.
    pub revision: u64,
    /// What ordinals below `partition` run (equal to `revision` once an
    /// update with partition 0 completed).
    pub current_revision: u64,
    /// Every template ever recorded, by revision.
    pub revisions: BTreeMap<u64, PodTemplate>,
    /// Every pod of the set still in the state (live or failed).
    pub pods: BTreeSet<PodId>,
    /// The pod that holds each ordinal now (live, or failed and not yet replaced).
    pub ordinals: BTreeMap<u64, PodId>,
    /// Pods ever created for each ordinal: a replacement's id is new, its name is not.
    pub incarnations: BTreeMap<u64, u32>,
    /// How many of `pods` are live.
    pub live: u32,
    pub update: Option<SetUpdate>,
    /// Updates ever started (the last one's number).
    pub updates: u64,
    pub version: u64,
    /// The correlation id of the last change asked of the set.
    #[serde(default)]
    pub cause: Option<uuid::Uuid>,
}

impl StatefulSet {
    /// The set as the pod machinery sees it.
    pub fn workload(&self) -> Workload<'_> {
        Workload {
            owner: self.id.into(),
            namespace: &self.spec.namespace,
            name: &self.spec.name,
            template: &self.spec.template,
            pods: &self.pods,
            live: self.live,
        }
    }

    /// The revision ordinal `ordinal` should run.
    pub fn target_revision(&self, ordinal: u64) -> u64 {
        if ordinal >= self.spec.update_strategy.partition as u64 {
            self.revision
        } else {
            self.current_revision
        }
    }

    /// The template of `revision`.
    pub fn template(&self, revision: u64) -> Option<&PodTemplate> {
        self.revisions.get(&revision)
    }

    /// The highest revision recorded.
    pub fn latest_revision(&self) -> u64 {
        self.revisions
            .keys()
            .next_back()
            .copied()
            .unwrap_or(self.revision)
    }

    /// The id of the next pod of `ordinal` (its `incarnation`-th).
    pub fn pod_id(&self, ordinal: u64) -> PodId {
        let incarnation = self.incarnations.get(&ordinal).copied().unwrap_or(0);
        PodId(derive_id(&[
            b"statefulset-pod",
            self.id.0.as_bytes(),
            &ordinal.to_be_bytes(),
            &incarnation.to_be_bytes(),
        ]))
    }
}
