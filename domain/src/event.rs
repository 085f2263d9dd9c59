//! Events: immutable facts in past tense, each carrying the values it
//! produced so no reader has to re-derive a rule. Old events must always
//! deserialize: fields are only ever added, as optional. When a change
//! cannot be made that way, `SCHEMA_VERSION` goes up and an upcaster rewrites
//! the old JSON (see `UPCASTERS`); read the log through `EventBatch::decode`
//! or `EventEnvelope::from_json_value`, never plain serde, so the upcasters run.

use crate::event as ev;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::ids::derive_id;

pub use crate::cronjob::events::*;
pub use crate::deployment::events::*;
pub use crate::identity::events::*;
pub use crate::job::events::*;
pub use crate::limitrange::events::*;
pub use crate::namespace::events::*;
pub use crate::networkpolicy::events::*;
pub use crate::node::events::*;
pub use crate::pod::events::*;
pub use crate::quota::events::*;
pub use crate::rbac::events::*;
pub use crate::rollout::events::*;
pub use crate::secret::events::*;
pub use crate::service::events::*;
pub use crate::statefulset::events::*;

/// The version this release writes in every envelope's `schemaVersion`.
/// Bump it only together with a new step in `UPCASTERS`.
pub const SCHEMA_VERSION: u16 = 2;

/// Every `Event` variant's `type` tag, as `Event::type_name` returns it.
/// A unit test compares it with the variants serde knows, and the golden
/// tests require a sample of each under `tests/golden/v<SCHEMA_VERSION>/`.
pub const EVENT_TYPES: &[&str] = <Event as strum::VariantNames>::VARIANTS;

/// `as_str` / `FromStr` / `VARIANTS` give the lowercase names `event_log`
/// and the events API use; serde writes the variant names.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum AggregateKind {
    Node,
    Pod,
    Deployment,
    Service,
    Job,
    #[strum(serialize = "cronjob")]
    CronJob,
    #[strum(serialize = "statefulset")]
    StatefulSet,
    Namespace,
    #[strum(serialize = "resourcequota")]
    ResourceQuota,
    #[strum(serialize = "limitrange")]
    LimitRange,
    User,
    #[strum(serialize = "serviceaccount")]
    ServiceAccount,
    Token,
    Role,
    #[strum(serialize = "rolebinding")]
    RoleBinding,
    Secret,
    #[strum(serialize = "keyrotation")]
    KeyRotation,
    #[strum(serialize = "networkpolicy")]
    NetworkPolicy,
    Command,
}

impl AggregateKind {
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AggregateRef {
    pub kind: AggregateKind,
    pub id: Uuid,
}

// The big variants (a node's or a deployment's spec) are rare next to pod
// events; an event is folded and dropped, never stored in bulk as a value.
#[allow(clippy::large_enum_variant)]
#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(tag = "type")]
pub enum Event {
    NodeRegistered(NodeRegistered),
    NodeReady(NodeReady),
    NodeNotReady(NodeNotReady),
    NodeLost(NodeLost),
    DeploymentCreated(DeploymentCreated),
    DeploymentScaled(DeploymentScaled),
    DeploymentDeleted(DeploymentDeleted),
    DeploymentUndeleted(DeploymentUndeleted),
    PodCreated(PodCreated),
    PodBound(PodBound),
    PodStarted(PodStarted),
    PodReady(PodReady),
    PodFailed(PodFailed),
    PodDeleted(PodDeleted),
    NodeCordoned(NodeCordoned),
    NodeUncordoned(NodeUncordoned),
    NodeTaintsChanged(NodeTaintsChanged),
    PodEvicted(PodEvicted),
    PodUnschedulable(PodUnschedulable),
    DeploymentRevisionCreated(DeploymentRevisionCreated),
    DeploymentStrategyChanged(DeploymentStrategyChanged),
    DeploymentBudgetChanged(DeploymentBudgetChanged),
    RolloutStarted(RolloutStarted),
    RolloutPaused(RolloutPaused),
    RolloutResumed(RolloutResumed),
    RolloutPromoted(RolloutPromoted),
    RolloutSucceeded(RolloutSucceeded),
    RolloutFailed(RolloutFailed),
    RolloutRolledBack(RolloutRolledBack),
    PodNotReady(PodNotReady),
    PodRestarted(PodRestarted),
    ServiceCreated(ServiceCreated),
    ServiceDeleted(ServiceDeleted),
    PodSucceeded(PodSucceeded),
    JobCreated(JobCreated),
    JobCompleted(JobCompleted),
    JobFailed(JobFailed),
    JobDeleted(JobDeleted),
    JobUndeleted(JobUndeleted),
    CronJobCreated(CronJobCreated),
    CronJobSuspended(CronJobSuspended),
    CronJobDeleted(CronJobDeleted),
    CronJobUndeleted(CronJobUndeleted),
    CronJobRunStarted(CronJobRunStarted),
    CronJobRunSkipped(CronJobRunSkipped),
    StatefulSetCreated(StatefulSetCreated),
    StatefulSetScaled(StatefulSetScaled),
    StatefulSetRevisionCreated(StatefulSetRevisionCreated),
    StatefulSetPartitionChanged(StatefulSetPartitionChanged),
    StatefulSetUpdateCompleted(StatefulSetUpdateCompleted),
    StatefulSetRolledBack(StatefulSetRolledBack),
    StatefulSetDeleted(StatefulSetDeleted),
    StatefulSetUndeleted(StatefulSetUndeleted),
    ServiceUndeleted(ServiceUndeleted),
    NamespaceCreated(NamespaceCreated),
    NamespaceLabelsChanged(NamespaceLabelsChanged),
    NamespaceDeleted(NamespaceDeleted),
    NamespaceUndeleted(NamespaceUndeleted),
    ResourceQuotaSet(ResourceQuotaSet),
    ResourceQuotaRemoved(ResourceQuotaRemoved),
    ResourceQuotaUsageRecorded(ResourceQuotaUsageRecorded),
    LimitRangeSet(LimitRangeSet),
    LimitRangeRemoved(LimitRangeRemoved),
    UserCreated(UserCreated),
    UserGroupsChanged(UserGroupsChanged),
    UserDeleted(UserDeleted),
    ServiceAccountCreated(ServiceAccountCreated),
    ServiceAccountDeleted(ServiceAccountDeleted),
    TokenIssued(TokenIssued),
    TokenRevoked(TokenRevoked),
    RoleSet(RoleSet),
    RoleDeleted(RoleDeleted),
    RoleBindingSet(RoleBindingSet),
    RoleBindingDeleted(RoleBindingDeleted),
    SecretSet(SecretSet),
    SecretDeleted(SecretDeleted),
    SecretUndeleted(SecretUndeleted),
    KeyRotationStarted(KeyRotationStarted),
    SecretRewrapped(SecretRewrapped),
    KeyRotationCompleted(KeyRotationCompleted),
    NetworkPolicySet(NetworkPolicySet),
    NetworkPolicyDeleted(NetworkPolicyDeleted),
    CommandRejected(CommandRejected),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandRejected {
    pub command_type: String,
    pub code: crate::rejection::RejectionCode,
    pub message: String,
    /// The fields a `VALIDATION_FAILED` refers to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<crate::names::FieldError>,
    /// For `QUOTA_EXCEEDED`: the resource, and its used, requested and hard figures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<crate::rejection::QuotaExceeded>,
}

impl Event {
    /// The variant's name, as the `type` tag writes it.
    pub fn type_name(&self) -> &'static str {
        self.into()
    }

    /// The aggregate the event belongs to; `command_id` names a rejection's.
    pub fn aggregate(&self, command_id: Uuid) -> AggregateRef {
        use AggregateKind::*;
        let (kind, id) = match self {
            Event::NodeRegistered(ev::NodeRegistered { node_id, .. })
            | Event::NodeReady(ev::NodeReady { node_id })
            | Event::NodeNotReady(ev::NodeNotReady { node_id, .. })
            | Event::NodeLost(ev::NodeLost { node_id, .. })
            | Event::NodeCordoned(ev::NodeCordoned { node_id, .. })
            | Event::NodeUncordoned(ev::NodeUncordoned { node_id })
            | Event::NodeTaintsChanged(ev::NodeTaintsChanged { node_id, .. }) => (Node, node_id.0),
            Event::DeploymentCreated(ev::DeploymentCreated { deployment_id, .. })
            | Event::DeploymentScaled(ev::DeploymentScaled { deployment_id, .. })
            | Event::DeploymentDeleted(ev::DeploymentDeleted { deployment_id, .. })
            | Event::DeploymentUndeleted(ev::DeploymentUndeleted { deployment_id, .. })
            | Event::DeploymentRevisionCreated(ev::DeploymentRevisionCreated {
                deployment_id,
                ..
            })
            | Event::DeploymentStrategyChanged(ev::DeploymentStrategyChanged {
                deployment_id,
                ..
            })
            | Event::DeploymentBudgetChanged(ev::DeploymentBudgetChanged {
                deployment_id, ..
            })
            | Event::RolloutStarted(ev::RolloutStarted { deployment_id, .. })
            | Event::RolloutPaused(ev::RolloutPaused { deployment_id, .. })
            | Event::RolloutResumed(ev::RolloutResumed { deployment_id, .. })
            | Event::RolloutPromoted(ev::RolloutPromoted { deployment_id, .. })
            | Event::RolloutSucceeded(ev::RolloutSucceeded { deployment_id, .. })
            | Event::RolloutFailed(ev::RolloutFailed { deployment_id, .. })
            | Event::RolloutRolledBack(ev::RolloutRolledBack { deployment_id, .. }) => {
                (Deployment, deployment_id.0)
            }
            Event::ServiceCreated(ev::ServiceCreated { service_id, .. })
            | Event::ServiceDeleted(ev::ServiceDeleted { service_id, .. })
            | Event::ServiceUndeleted(ev::ServiceUndeleted { service_id, .. }) => {
                (Service, service_id.0)
            }
            Event::PodCreated(ev::PodCreated { pod_id, .. })
            | Event::PodBound(ev::PodBound { pod_id, .. })
            | Event::PodStarted(ev::PodStarted { pod_id, .. })
            | Event::PodReady(ev::PodReady { pod_id, .. })
            | Event::PodFailed(ev::PodFailed { pod_id, .. })
            | Event::PodDeleted(ev::PodDeleted { pod_id, .. })
            | Event::PodEvicted(ev::PodEvicted { pod_id, .. })
            | Event::PodUnschedulable(ev::PodUnschedulable { pod_id, .. })
            | Event::PodNotReady(ev::PodNotReady { pod_id, .. })
            | Event::PodRestarted(ev::PodRestarted { pod_id, .. })
            | Event::PodSucceeded(ev::PodSucceeded { pod_id, .. }) => (Pod, pod_id.0),
            Event::JobCreated(ev::JobCreated { job_id, .. })
            | Event::JobCompleted(ev::JobCompleted { job_id, .. })
            | Event::JobFailed(ev::JobFailed { job_id, .. })
            | Event::JobDeleted(ev::JobDeleted { job_id, .. })
            | Event::JobUndeleted(ev::JobUndeleted { job_id, .. }) => (Job, job_id.0),
            Event::CronJobCreated(ev::CronJobCreated { cron_job_id, .. })
            | Event::CronJobSuspended(ev::CronJobSuspended { cron_job_id, .. })
            | Event::CronJobDeleted(ev::CronJobDeleted { cron_job_id, .. })
            | Event::CronJobUndeleted(ev::CronJobUndeleted { cron_job_id, .. })
            | Event::CronJobRunStarted(ev::CronJobRunStarted { cron_job_id, .. })
            | Event::CronJobRunSkipped(ev::CronJobRunSkipped { cron_job_id, .. }) => {
                (CronJob, cron_job_id.0)
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
            | Event::StatefulSetPartitionChanged(ev::StatefulSetPartitionChanged {
                stateful_set_id,
                ..
            })
            | Event::StatefulSetUpdateCompleted(ev::StatefulSetUpdateCompleted {
                stateful_set_id,
                ..
            })
            | Event::StatefulSetRolledBack(ev::StatefulSetRolledBack {
                stateful_set_id, ..
            })
            | Event::StatefulSetDeleted(ev::StatefulSetDeleted {
                stateful_set_id, ..
            })
            | Event::StatefulSetUndeleted(ev::StatefulSetUndeleted {
                stateful_set_id, ..
            }) => (StatefulSet, stateful_set_id.0),
            Event::NamespaceCreated(ev::NamespaceCreated { namespace_id, .. })
            | Event::NamespaceLabelsChanged(ev::NamespaceLabelsChanged { namespace_id, .. })
            | Event::NamespaceDeleted(ev::NamespaceDeleted { namespace_id, .. })
            | Event::NamespaceUndeleted(ev::NamespaceUndeleted { namespace_id, .. }) => {
                (Namespace, *namespace_id)
            }
            Event::ResourceQuotaSet(ev::ResourceQuotaSet { quota_id, .. })
            | Event::ResourceQuotaRemoved(ev::ResourceQuotaRemoved { quota_id, .. })
            | Event::ResourceQuotaUsageRecorded(ev::ResourceQuotaUsageRecorded {
                quota_id, ..
            }) => (ResourceQuota, *quota_id),
            Event::LimitRangeSet(ev::LimitRangeSet { limit_range_id, .. })
            | Event::LimitRangeRemoved(ev::LimitRangeRemoved { limit_range_id, .. }) => {
                (LimitRange, *limit_range_id)
            }
            Event::UserCreated(ev::UserCreated { user_id, .. })
            | Event::UserGroupsChanged(ev::UserGroupsChanged { user_id, .. })
            | Event::UserDeleted(ev::UserDeleted { user_id, .. }) => (User, *user_id),
            Event::ServiceAccountCreated(ev::ServiceAccountCreated {
                service_account_id, ..
            })
            | Event::ServiceAccountDeleted(ev::ServiceAccountDeleted {
                service_account_id, ..
            }) => (ServiceAccount, *service_account_id),
            Event::TokenIssued(ev::TokenIssued { token_id, .. })
            | Event::TokenRevoked(ev::TokenRevoked { token_id, .. }) => (Token, *token_id),
            Event::RoleSet(ev::RoleSet { role_id, .. })
            | Event::RoleDeleted(ev::RoleDeleted { role_id, .. }) => (Role, *role_id),
            Event::RoleBindingSet(ev::RoleBindingSet { binding_id, .. })
            | Event::RoleBindingDeleted(ev::RoleBindingDeleted { binding_id, .. }) => {
                (RoleBinding, *binding_id)
            }
            Event::SecretSet(ev::SecretSet { secret_id, .. })
            | Event::SecretDeleted(ev::SecretDeleted { secret_id, .. })
            | Event::SecretUndeleted(ev::SecretUndeleted { secret_id, .. })
            | Event::SecretRewrapped(ev::SecretRewrapped { secret_id, .. }) => (Secret, *secret_id),
            Event::KeyRotationStarted(ev::KeyRotationStarted { rotation_id, .. })
            | Event::KeyRotationCompleted(ev::KeyRotationCompleted { rotation_id, .. }) => {
                (KeyRotation, *rotation_id)
            }
            Event::NetworkPolicySet(ev::NetworkPolicySet { policy_id, .. })
            | Event::NetworkPolicyDeleted(ev::NetworkPolicyDeleted { policy_id, .. }) => {
                (NetworkPolicy, *policy_id)
            }
            Event::CommandRejected(_) => (Command, command_id),
        };
        AggregateRef { kind, id }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventEnvelope {
    pub event_id: Uuid,
    pub causation_id: Uuid,
    pub correlation_id: Uuid,
    pub aggregate: AggregateRef,
    pub sequence: u64,
    pub occurred_at: DateTime<Utc>,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// The type of the command that produced the event (`CreatePod`, `ScaleDeployment`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    pub schema_version: u16,
    pub body: Event,
}

impl EventEnvelope {
    /// Event ids are derived from the command and the event's index, so a
    /// re-decided command yields the same ids and duplicates are detectable.
    pub fn event_id_for(command_id: Uuid, index: usize) -> Uuid {
        derive_id(&[
            b"event",
            command_id.as_bytes(),
            &(index as u64).to_be_bytes(),
        ])
    }

    /// Decodes one envelope of any version this release knows, upcasting
    /// it to `SCHEMA_VERSION` first (a no-op for current envelopes).
    pub fn from_json_value(mut envelope: Value) -> Result<EventEnvelope, DecodeError> {
        upcast_with(&UPCASTERS, &mut envelope)?;
        Ok(serde_json::from_value(envelope)?)
    }
}

/// One Kafka record on the event topic: everything one command produced.
/// It is also the decider's checkpoint: `command_offset` says which command
/// record it answers, `epoch` which decider incarnation wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBatch {
    pub command_id: Uuid,
    pub command_offset: i64,
    pub epoch: u64,
    pub events: Vec<EventEnvelope>,
}

impl EventBatch {
    /// Decodes a record of the event topic, upcasting older envelopes and
    /// refusing newer ones.
    ///
    /// Nearly every record is current, and the projectors read 100k+ events
    /// a second, so the batch is first decoded straight into the structs, as
    /// before versions were checked; only if that fails, or some envelope is
    /// not at `SCHEMA_VERSION` (an old one may parse into today's shape with
    /// yesterday's meaning, a newer one must be refused), is the record
    /// decoded again with each envelope as a `Value` to run the upcasters.
    pub fn decode(bytes: &[u8]) -> Result<EventBatch, DecodeError> {
        if let Ok(batch) = serde_json::from_slice::<EventBatch>(bytes)
            && batch
                .events
                .iter()
                .all(|e| e.schema_version == SCHEMA_VERSION)
        {
            return Ok(batch);
        }
        let raw: RawBatch = serde_json::from_slice(bytes)?;
        Ok(EventBatch {
            command_id: raw.command_id,
            command_offset: raw.command_offset,
            epoch: raw.epoch,
            events: raw
                .events
                .into_iter()
                .map(EventEnvelope::from_json_value)
                .collect::<Result<_, _>>()?,
        })
    }
}

/// An `EventBatch` whose envelopes are still JSON: the batch frame has no
/// version of its own, its fields are only ever added.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBatch {
    command_id: Uuid,
    command_offset: i64,
    epoch: u64,
    events: Vec<Value>,
}

/// Why a record of the event log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error(
        "event {event_id} has schema version {found}: it was written by a newer release \
         (this one reads versions 1 to {supported}); upgrade the readers before the writers"
    )]
    WrittenByNewerRelease {
        /// The envelope's `eventId` as written, or `?`.
        event_id: String,
        found: u64,
        supported: u16,
    },
    #[error("event {event_id} has schema version {found}, which no release writes")]
    UnknownVersion { event_id: String, found: u64 },
    #[error("an event envelope has no numeric `schemaVersion`")]
    NoVersion,
    #[error(
        "upcasting event {event_id} from schema version {from_version} to {}: {message}",
        .from_version + 1
    )]
    Upcast {
        event_id: String,
        from_version: u16,
        message: String,
    },
    #[error("malformed event JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// One step of the upcaster chain: rewrites, in place, the JSON of an
/// envelope written at version `n` into the shape version `n + 1` reads.
/// It gets the whole envelope (the event is under `body`, its tag at
/// `body.type`), so it may move values between envelope and body; it need
/// not touch `schemaVersion`, the chain does. An `Err` is a record that the
/// step cannot make sense of.
pub type Upcaster = fn(&mut Map<String, Value>) -> Result<(), String>;

/// The upcaster chain: `UPCASTERS[i]` takes version `i + 1` to `i + 2`.
/// Version 1 is the first, so today the chain is empty and decoding is plain
/// serde.
///
/// To make a change that old readers or old records cannot absorb (a field
/// renamed, retyped or made required, a variant split):
/// 1. bump `SCHEMA_VERSION` to 2; this array then fails to compile until it
///    holds a step;
/// 2. add `fn v1_to_v2(envelope: &mut Map<String, Value>) -> Result<(), String>`
///    that rewrites a v1 envelope's JSON into v2's shape (e.g. rename
///    `body.silentForMs` to `body.silentFor` for `"type": "NodeNotReady"`,
///    or fill a new required field with the value the old records imply),
///    and list it here;
/// 3. keep `tests/golden/v1/` as it is (those records are still in the log,
///    and must now decode through the step) and add `tests/golden/v2/` with
///    a sample of every type as the new release writes it.
///
/// Readers must be deployed before writers: a reader refuses envelopes newer
/// than its `SCHEMA_VERSION` (`DecodeError::WrittenByNewerRelease`) rather
/// than misreading them. Every version keeps `schemaVersion` at the top of
/// the envelope, which is how the chain finds where to start.
const UPCASTERS: [Upcaster; SCHEMA_VERSION as usize - 1] = [v1_to_v2];

/// v2 gave `PodFailed` a typed `cause`; v1 said it only in the reason's
/// words, and only a lost node's failures started with "NodeLost".
fn v1_to_v2(envelope: &mut Map<String, Value>) -> Result<(), String> {
    let Some(body) = envelope.get_mut("body").and_then(Value::as_object_mut) else {
        return Err("no body".into());
    };
    if body.get("type").and_then(Value::as_str) != Some("PodFailed") || body.contains_key("cause") {
        return Ok(());
    }
    let reason = body.get("reason").and_then(Value::as_str).unwrap_or("");
    let cause = if reason.starts_with("NodeLost") {
        "NodeLost"
    } else {
        "Container"
    };
    body.insert("cause".into(), Value::from(cause));
    Ok(())
}

/// Brings `envelope` from its `schemaVersion` to the version `steps` lead to
/// (`steps.len() + 1`), one step at a time, stamping each step's version.
fn upcast_with(steps: &[Upcaster], envelope: &mut Value) -> Result<(), DecodeError> {
    let current = steps.len() + 1;
    let Some(object) = envelope.as_object_mut() else {
        return Err(DecodeError::NoVersion);
    };
    let found = object
        .get("schemaVersion")
        .and_then(Value::as_u64)
        .ok_or(DecodeError::NoVersion)?;
    if found > current as u64 {
        return Err(DecodeError::WrittenByNewerRelease {
            event_id: event_id_of(object),
            found,
            supported: current as u16,
        });
    }
    if found == 0 {
        return Err(DecodeError::UnknownVersion {
            event_id: event_id_of(object),
            found,
        });
    }
    for from in found as usize..current {
        steps[from - 1](object).map_err(|message| DecodeError::Upcast {
            event_id: event_id_of(object),
            from_version: from as u16,
            message,
        })?;
        object.insert("schemaVersion".into(), Value::from(from + 1));
    }
    Ok(())
}

/// For error messages: an unreadable record is found in the log by its id.
fn event_id_of(envelope: &Map<String, Value>) -> String {
    match envelope.get("eventId") {
        Some(Value::String(id)) => id.clone(),
        _ => "?".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::NodeId;

    /// serde's own list of the variants, from its unknown-variant error, so
    /// a variant added without a name in `EVENT_TYPES` fails here.
    #[test]
    fn event_types_lists_every_variant_in_declaration_order() {
        let err = serde_json::from_str::<Event>(r#"{"type": "NoSuchEvent"}"#)
            .unwrap_err()
            .to_string();
        let listed = err
            .split_once("expected one of ")
            .unwrap_or_else(|| panic!("serde's error changed shape: {err}"))
            .1;
        // "`A`, `B`, `C` at line 1 column 22": the names are between backticks.
        let variants: Vec<&str> = listed.split('`').skip(1).step_by(2).collect();
        assert_eq!(variants, EVENT_TYPES);
    }

    fn envelope(version: u64, body: Value) -> Value {
        serde_json::json!({
            "eventId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d01",
            "causationId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d02",
            "correlationId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d03",
            "aggregate": { "kind": "Node", "id": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d04" },
            "sequence": 7,
            "occurredAt": "2024-07-18T09:41:27.512Z",
            "actor": "system:node-agent/worker-a1",
            "reason": null,
            "schemaVersion": version,
            "body": body,
        })
    }

    /// A made-up history: v1 wrote `silentForSecs`, v2 renamed it to
    /// `silentForMs` (in seconds still), v3 made it milliseconds. The
    /// chain must run v1→v2→v3 in order on a v1 record, only v2→v3 on a v2
    /// one, and stamp each step's version.
    fn rename_silent_for(envelope: &mut Map<String, Value>) -> Result<(), String> {
        let body = envelope
            .get_mut("body")
            .and_then(Value::as_object_mut)
            .ok_or("no body")?;
        let secs = body.remove("silentForSecs").ok_or("no silentForSecs")?;
        body.insert("silentForMs".into(), secs);
        Ok(())
    }
    fn seconds_to_ms(envelope: &mut Map<String, Value>) -> Result<(), String> {
        let ms = &mut envelope["body"]["silentForMs"];
        *ms = Value::from(ms.as_u64().ok_or("silentForMs is not a number")? * 1000);
        Ok(())
    }
    const HISTORY: [Upcaster; 2] = [rename_silent_for, seconds_to_ms];

    fn node_not_ready(silent_for_ms: u64) -> Event {
        Event::NodeNotReady(ev::NodeNotReady {
            node_id: NodeId("0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d04".parse().unwrap()),
            silent_for_ms,
        })
    }

    #[test]
    fn an_old_envelope_is_upcast_step_by_step_to_the_current_shape() {
        let mut v1 = envelope(
            1,
            serde_json::json!({"type": "NodeNotReady", "nodeId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d04", "silentForSecs": 12}),
        );
        upcast_with(&HISTORY, &mut v1).unwrap();
        assert_eq!(v1["schemaVersion"], 3);
        let decoded: EventEnvelope = serde_json::from_value(v1).unwrap();
        assert_eq!(decoded.body, node_not_ready(12_000));

        let mut v2 = envelope(
            2,
            serde_json::json!({"type": "NodeNotReady", "nodeId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d04", "silentForMs": 12}),
        );
        upcast_with(&HISTORY, &mut v2).unwrap();
        let decoded: EventEnvelope = serde_json::from_value(v2).unwrap();
        assert_eq!(decoded.body, node_not_ready(12_000));
    }

    #[test]
    fn a_current_envelope_is_left_alone_by_the_chain() {
        let current = envelope(
            3,
            serde_json::json!({"type": "NodeNotReady", "nodeId": "0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d04", "silentForMs": 12}),
        );
        let mut upcast = current.clone();
        upcast_with(&HISTORY, &mut upcast).unwrap();
        assert_eq!(upcast, current);
    }

    #[test]
    fn a_step_that_cannot_read_the_record_names_the_event_and_the_step() {
        let mut v1 = envelope(1, serde_json::json!({"type": "NodeNotReady"}));
        let err = upcast_with(&HISTORY, &mut v1).unwrap_err();
        assert!(
            matches!(
                err,
                DecodeError::Upcast {
                    from_version: 1,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("0190f5c2-7d3e-7a41-9c55-3b1e2f6a8d01")
        );
    }

    #[test]
    fn versions_past_the_chain_and_version_zero_are_refused() {
        let mut v4 = envelope(4, serde_json::json!({"type": "NodeReady"}));
        assert!(matches!(
            upcast_with(&HISTORY, &mut v4),
            Err(DecodeError::WrittenByNewerRelease {
                found: 4,
                supported: 3,
                ..
            })
        ));
        let mut v0 = envelope(0, serde_json::json!({"type": "NodeReady"}));
        assert!(matches!(
            upcast_with(&HISTORY, &mut v0),
            Err(DecodeError::UnknownVersion { found: 0, .. })
        ));
        let mut none = serde_json::json!({"body": {"type": "NodeReady"}});
        assert!(matches!(
            upcast_with(&HISTORY, &mut none),
            Err(DecodeError::NoVersion)
        ));
    }
}
