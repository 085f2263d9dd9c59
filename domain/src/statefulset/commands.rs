//! The StatefulSet slice's commands.

use serde::{Deserialize, Serialize};

use crate::ids::StatefulSetId;
use crate::pod::template::PodTemplate;
use crate::statefulset::StatefulSetSpec;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateStatefulSet {
    pub stateful_set_id: StatefulSetId,
    pub spec: StatefulSetSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStatefulSet {
    pub stateful_set_id: StatefulSetId,
    pub replicas: u32,
}

/// A new pod template (a new revision, rolled out from the highest ordinal
/// down) and/or a new partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateStatefulSet {
    pub stateful_set_id: StatefulSetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<PodTemplate>,
    /// Only the image of the current template (without `template`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<crate::names::Image>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

/// Back to `revision` (the controller's, when an update's pods keep failing; or a user's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RollbackStatefulSet {
    pub stateful_set_id: StatefulSetId,
    pub revision: u64,
    #[serde(default)]
    pub automatic: bool,
    /// The update it stops (the controller's; stale when another is running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    pub reason: String,
}

/// The controller's: every ordinal from `partition` up runs the update revision, Ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteStatefulSetUpdate {
    pub stateful_set_id: StatefulSetId,
    pub update: u64,
}

/// Restore the last deleted set of this name: the same id, spec, revisions
/// and volume claims (its pods come back, and find their data).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UndeleteStatefulSet {
    pub namespace: crate::names::Name,
    pub name: crate::names::Name,
}

/// Delete the set and its pods, highest ordinal first (their volumes stay).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteStatefulSet {
    pub stateful_set_id: StatefulSetId,
}
