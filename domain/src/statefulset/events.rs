//! The StatefulSet slice's events.

use serde::{Deserialize, Serialize};

use crate::ids::StatefulSetId;
use crate::names::Name;
use crate::pod::template::PodTemplate;
use crate::statefulset::StatefulSetSpec;

/// Created at revision 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetCreated {
    pub stateful_set_id: StatefulSetId,
    pub spec: StatefulSetSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetScaled {
    pub stateful_set_id: StatefulSetId,
    pub from: u32,
    pub to: u32,
}

/// A new template: revision `revision`, rolled out by update `update` from
/// revision `from` (the current one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetRevisionCreated {
    pub stateful_set_id: StatefulSetId,
    pub revision: u64,
    pub from: u64,
    pub update: u64,
    pub template: PodTemplate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetPartitionChanged {
    pub stateful_set_id: StatefulSetId,
    pub from: u32,
    pub to: u32,
}

/// Every ordinal from the partition up runs `revision` and is Ready; with
/// partition 0 it becomes the current revision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetUpdateCompleted {
    pub stateful_set_id: StatefulSetId,
    pub update: u64,
    pub revision: u64,
    pub partition: u32,
}

/// Back from revision `from` to `to`; its pods are replaced highest ordinal first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetRolledBack {
    pub stateful_set_id: StatefulSetId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<u64>,
    pub from: u64,
    pub to: u64,
    pub automatic: bool,
    pub reason: String,
}

/// Restored as it was deleted (its spec and revisions); the controller
/// creates its pods again, under their names and with their claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetUndeleted {
    pub stateful_set_id: StatefulSetId,
    pub spec: StatefulSetSpec,
    pub revision: u64,
    pub current_revision: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetDeleted {
    pub stateful_set_id: StatefulSetId,
    pub namespace: Name,
    pub name: Name,
}
