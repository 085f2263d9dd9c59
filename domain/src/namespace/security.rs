//! Pod security levels, a namespace label (`pod-security.orch/enforce`:
//! `privileged`, `baseline` or `restricted`; absent = `privileged`, as in
//! Kubernetes). The decider refuses a template that asks for more than its
//! namespace allows (`422 POD_SECURITY_VIOLATION`, the rule broken per
//! field); the process runtime runs the pods of `baseline` and `restricted`
//! namespaces as an unprivileged user, never root.

use serde::{Deserialize, Serialize};

use crate::model::PodTemplate;
use crate::names::{FieldError, Name};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

/// The namespace label that sets the level.
pub const LEVEL_LABEL: &str = "pod-security.orch/enforce";

/// The uid a pod runs as when it does not say and its namespace forbids root.
pub const UNPRIVILEGED_UID: u32 = 65534;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "lowercase")]
#[serde(rename_all = "lowercase")]
pub enum PodSecurityLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl State {
    /// The level the namespace enforces.
    pub fn pod_security(&self, namespace: &str) -> PodSecurityLevel {
        self.namespaces
            .get(namespace)
            .and_then(|n| n.labels.get(LEVEL_LABEL))
            .and_then(|v| v.parse().ok())
            .unwrap_or(PodSecurityLevel::Privileged)
    }
}

/// A label set's problems with the level label.
pub(crate) fn label_errors(labels: &std::collections::BTreeMap<String, String>) -> Vec<FieldError> {
    match labels.get(LEVEL_LABEL) {
        Some(v) if v.parse::<PodSecurityLevel>().is_err() => vec![FieldError::new(
            format!("labels.{LEVEL_LABEL}"),
            format!("'{v}' is not privileged, baseline or restricted"),
        )],
        _ => vec![],
    }
}

/// Every rule of `level` the template breaks, with field paths under `prefix`.
pub fn violations(level: PodSecurityLevel, t: &PodTemplate, prefix: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    let sc = t.security_context.unwrap_or_default();
    if sc.run_as_non_root == Some(true) && sc.run_as_user == Some(0) {
        out.push(FieldError::new(
            format!("{prefix}securityContext.runAsUser"),
            "0 is root, and runAsNonRoot is true",
        ));
    }
    if level >= PodSecurityLevel::Baseline {
        if sc.privileged {
            out.push(FieldError::new(
                format!("{prefix}securityContext.privileged"),
                format!(
                    "a privileged container is not allowed at level {}",
                    level_name(level)
                ),
            ));
        }
        if !t.host_paths.is_empty() {
            out.push(FieldError::new(
                format!("{prefix}hostPaths"),
                format!("host paths are not allowed at level {}", level_name(level)),
            ));
        }
    }
    if level == PodSecurityLevel::Restricted {
        if sc.run_as_user == Some(0) {
            out.push(FieldError::new(
                format!("{prefix}securityContext.runAsUser"),
                "running as root (0) is not allowed at level restricted",
            ));
        }
        if sc.run_as_non_root == Some(false) {
            out.push(FieldError::new(
                format!("{prefix}securityContext.runAsNonRoot"),
                "must not be false at level restricted",
            ));
        }
    }
    out
}

fn level_name(l: PodSecurityLevel) -> &'static str {
    l.into()
}

/// `422 POD_SECURITY_VIOLATION` if the template asks for more than the namespace allows.
pub(crate) fn check(
    state: &State,
    namespace: &Name,
    t: &PodTemplate,
    prefix: &str,
) -> Result<(), Rejection> {
    let level = state.pod_security(namespace.as_str());
    let fields = violations(level, t, prefix);
    if fields.is_empty() {
        return Ok(());
    }
    let message = format!(
        "namespace {namespace} enforces pod security level {}: {}",
        level_name(level),
        fields
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    );
    Err(Rejection {
        fields,
        ..Rejection::new(RejectionCode::PodSecurityViolation, message)
    })
}

/// The uid the runtime runs the pod as (`None`: as the agent itself):
/// the one asked for, else an unprivileged one where root is not allowed
/// or not wanted.
pub fn effective_uid(level: PodSecurityLevel, t: &PodTemplate) -> Option<u32> {
    let sc = t.security_context.unwrap_or_default();
    sc.run_as_user.or(
        (level > PodSecurityLevel::Privileged || sc.run_as_non_root == Some(true))
            .then_some(UNPRIVILEGED_UID),
    )
}
