//! What a StatefulSet declares, and its checks.

use serde::{Deserialize, Serialize};

use crate::decision::MAX_REPLICAS;
use crate::names::{FieldError, Name};
use crate::pod::template::{PodTemplate, RestartPolicy};

/// `OrderedReady`: ordinal n is created only once 0…n−1 are Ready, and
/// removed (scale-down) only highest first, one at a time. `Parallel`: all
/// at once.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PodManagementPolicy {
    #[default]
    OrderedReady,
    Parallel,
}

/// A rolling update replaces pods from the highest ordinal down to
/// `partition` (ordinals below it keep the current revision). A revision
/// whose pods fail (crash, restart, lose readiness) `rollbackAfterFailures`
/// times during the update is rolled back by itself (unless `autoRollback`
/// is false: then it stays, as Kubernetes' does). One pod at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetUpdateStrategy {
    #[serde(default)]
    pub partition: u32,
    #[serde(default = "default_rollback_after")]
    pub rollback_after_failures: u32,
    #[serde(default = "default_true")]
    pub auto_rollback: bool,
    /// An update completes only once its pods have stayed Ready this long
    /// (their failures until then count towards the rollback).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_ready_seconds: u32,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

fn default_rollback_after() -> u32 {
    3
}

fn default_true() -> bool {
    true
}

impl Default for SetUpdateStrategy {
    fn default() -> Self {
        SetUpdateStrategy {
            partition: 0,
            rollback_after_failures: default_rollback_after(),
            auto_rollback: true,
            min_ready_seconds: 0,
        }
    }
}

/// Each ordinal's own volume: claim `<name>-<set>-<ordinal>`, kept when the
/// pod is replaced or the set scaled down (as Kubernetes keeps PVCs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeClaimTemplate {
    pub name: Name,
    /// Where the container sees it (the process runtime has no mounts: it
    /// passes the directory as `VOLUME_DIR`).
    #[serde(default = "default_mount_path")]
    pub mount_path: String,
}

fn default_mount_path() -> String {
    "/data".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetSpec {
    pub namespace: Name,
    pub name: Name,
    pub replicas: u32,
    /// The (headless) service that gives each ordinal its name: the gateway
    /// routes host `<name>-<n>.<serviceName>` to pod n. Default: the set's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<Name>,
    #[serde(default)]
    pub pod_management_policy: PodManagementPolicy,
    #[serde(default)]
    pub update_strategy: SetUpdateStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_claim_template: Option<VolumeClaimTemplate>,
    pub template: PodTemplate,
}

impl StatefulSetSpec {
    /// The governing service's name.
    pub fn service(&self) -> &str {
        self.service_name.as_ref().unwrap_or(&self.name).as_str()
    }

    /// The name of pod `ordinal`: `<name>-<ordinal>`.
    pub fn pod_name(&self, ordinal: u64) -> String {
        format!("{}-{ordinal}", self.name)
    }

    /// The volume claim of pod `ordinal`.
    pub fn claim_name(&self, ordinal: u64) -> Option<String> {
        self.volume_claim_template
            .as_ref()
            .map(|v| format!("{}-{}-{ordinal}", v.name, self.name))
    }

    /// Every check of the spec alone, with field paths.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors: Vec<FieldError> = self
            .template
            .validate()
            .into_iter()
            .map(|mut e| {
                e.field = format!("template.{}", e.field);
                e
            })
            .collect();
        if self.replicas > MAX_REPLICAS {
            errors.push(FieldError::new(
                "replicas",
                format!("must be at most {MAX_REPLICAS}"),
            ));
        }
        errors.extend(self.partition_errors(self.update_strategy.partition));
        if self.update_strategy.rollback_after_failures == 0 {
            errors.push(FieldError::new(
                "updateStrategy.rollbackAfterFailures",
                "must be at least 1",
            ));
        }
        if self.template.restart_policy != RestartPolicy::Always {
            errors.push(FieldError::new(
                "template.restartPolicy",
                "a StatefulSet's pods must have restartPolicy Always (each ordinal runs for ever)",
            ));
        }
        // Every ordinal's name (and claim) must still be a DNS-1123 label.
        let last = self.replicas.saturating_sub(1) as u64;
        let pod = self.pod_name(last);
        if pod.len() > 63 {
            errors.push(FieldError::new(
                "name",
                format!(
                    "pod name '{pod}' of the last ordinal would be {} characters, more than 63 (a DNS-1123 label): shorten the name",
                    pod.len()
                ),
            ));
        }
        if let Some(claim) = self.claim_name(last).filter(|c| c.len() > 63) {
            errors.push(FieldError::new(
                "volumeClaimTemplate.name",
                format!(
                    "claim name '{claim}' of the last ordinal would be {} characters, more than 63",
                    claim.len()
                ),
            ));
        }
        if let Some(v) = &self.volume_claim_template
            && !v.mount_path.starts_with('/')
        {
            errors.push(FieldError::new(
                "volumeClaimTemplate.mountPath",
                "must be an absolute path",
            ));
        }
        errors
    }

    /// `partition` may be at most `replicas`.
    pub fn partition_errors(&self, partition: u32) -> Vec<FieldError> {
        if partition > self.replicas {
            vec![FieldError::new(
                "updateStrategy.partition",
                format!(
                    "must be at most replicas ({}), got {partition}",
                    self.replicas
                ),
            )]
        } else {
            vec![]
        }
    }
}
