//! What a job declares, and its checks.

use serde::{Deserialize, Serialize};

use crate::names::{FieldError, Name};
use crate::pod::template::{PodTemplate, RestartPolicy};

/// `NonIndexed`: any `completions` successes; `Indexed`: each index
/// `0..completions` succeeds once (its pods see `JOB_COMPLETION_INDEX`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CompletionMode {
    #[default]
    NonIndexed,
    Indexed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PodFailureAction {
    /// Fail the whole job now.
    FailJob,
    /// Replace the pod without counting the failure.
    Ignore,
    /// Count it against `backoffLimit` (what happens without a rule).
    Count,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ExitCodeOperator {
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExitCodeRequirement {
    pub operator: ExitCodeOperator,
    pub values: Vec<i32>,
}

/// The first rule whose exit codes match a failed pod's decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodFailurePolicyRule {
    pub action: PodFailureAction,
    pub on_exit_codes: ExitCodeRequirement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobSpec {
    pub namespace: Name,
    pub name: Name,
    pub completions: u32,
    pub parallelism: u32,
    pub backoff_limit: u32,
    #[serde(default)]
    pub completion_mode: CompletionMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_deadline_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_failure_policy: Vec<PodFailurePolicyRule>,
    /// The job's pods are deleted this long after it finished (`None`: kept
    /// until the job is deleted). Its events stay in the log for ever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_seconds_after_finished: Option<u64>,
    pub template: PodTemplate,
}

/// The most completions (and parallelism) one job may ask for.
pub const MAX_COMPLETIONS: u32 = 100_000;

impl JobSpec {
    /// What a failed pod's exit code means for the job.
    pub fn failure_action(&self, exit_code: Option<i32>) -> PodFailureAction {
        let Some(code) = exit_code else {
            return PodFailureAction::Count;
        };
        self.pod_failure_policy
            .iter()
            .find(|r| {
                let listed = r.on_exit_codes.values.contains(&code);
                match r.on_exit_codes.operator {
                    ExitCodeOperator::In => listed,
                    ExitCodeOperator::NotIn => !listed,
                }
            })
            .map_or(PodFailureAction::Count, |r| r.action)
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
        if self.completions == 0 || self.completions > MAX_COMPLETIONS {
            errors.push(FieldError::new(
                "completions",
                format!("must be between 1 and {MAX_COMPLETIONS}"),
            ));
        }
        if self.parallelism == 0 || self.parallelism > MAX_COMPLETIONS {
            errors.push(FieldError::new(
                "parallelism",
                format!("must be between 1 and {MAX_COMPLETIONS}"),
            ));
        }
        if self.active_deadline_seconds == Some(0) {
            errors.push(FieldError::new(
                "activeDeadlineSeconds",
                "must be greater than 0",
            ));
        }
        if self.template.restart_policy != RestartPolicy::Never {
            errors.push(FieldError::new(
                "template.restartPolicy",
                "a job's pods must have restartPolicy Never (a failed pod is replaced, not restarted)",
            ));
        }
        for (i, r) in self.pod_failure_policy.iter().enumerate() {
            let f = format!("podFailurePolicy[{i}].onExitCodes.values");
            if r.on_exit_codes.values.is_empty() {
                errors.push(FieldError::new(f, "must list at least one exit code"));
            } else if r.on_exit_codes.operator == ExitCodeOperator::In
                && r.on_exit_codes.values.contains(&0)
            {
                errors.push(FieldError::new(
                    f,
                    "0 is success, not a failure: it cannot be matched with In",
                ));
            }
        }
        errors
    }
}
