//! The pod template: what every workload kind (deployment, and the kinds
//! after it) declares about the pods it runs. The scheduler, the node agent
//! and the projections read a pod's template, never the workload around it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{
    Affinity, LabelRequirement, NodeAffinity, PodAffinity, PodAffinityTerm, Probe, Resources,
    SelectorOperator, TaintEffect, Toleration, Topology, TopologySpreadConstraint,
    priority_of_class,
};
use crate::names::{FieldError, Image, check_labels};

/// Containers, probes, resources and scheduling constraints of a pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    pub image: Image,
    pub resources: Resources,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    /// The pods' labels (selected by services, pod affinity and topology
    /// spread). `app=<workload name>` is implied unless `app` is given.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// One of `PRIORITY_CLASSES`; sets `priority`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    /// The program to run instead of the image's default (process runtime).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Ready when it passes (no probe: Ready once started).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Restarted (with back-off) when it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// A warm-up for slow starters: until it passes, neither readiness nor
    /// liveness is probed (no traffic, no restart); failing it
    /// `failureThreshold` times restarts the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    /// `Always` (a deployment's: an exited container is restarted) or
    /// `Never` (a job's: the pod succeeds or fails with its exit code).
    #[serde(default, skip_serializing_if = "RestartPolicy::is_always")]
    pub restart_policy: RestartPolicy,
    /// Who the container runs as, and whether it asks for the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// Host directories the container is given (`HOST_PATH_<NAME>` in its
    /// environment on the process runtime); only where the namespace's pod
    /// security level is `privileged`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_paths: Vec<HostPath>,
    /// Secret values as environment variables, opened by the node agent
    /// when it starts the container (they win over `env`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<SecretEnv>,
    /// Secrets as files: per entry a directory (mode 0500, the container's
    /// user's) holding one file per key (mode 0400), named by
    /// `SECRET_DIR_<NAME>` in the environment; removed when the pod stops.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_files: Vec<SecretFiles>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEnv {
    /// The variable: `[A-Za-z_][A-Za-z0-9_]*`.
    pub name: String,
    /// A secret of the pod's namespace.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub secret: crate::names::Name,
    pub key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretFiles {
    /// `[A-Z0-9_]+`: the variable is `SECRET_DIR_<NAME>`.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub secret: crate::names::Name,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityContext {
    /// Run as this uid (default: root where allowed, 65534 elsewhere).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_user: Option<u32>,
    /// Refuse root: without a `runAsUser`, run as 65534.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_as_non_root: Option<bool>,
    /// Full access to the host (privileged namespaces only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub privileged: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostPath {
    /// `[A-Z0-9_]+`: the variable is `HOST_PATH_<NAME>`.
    pub name: String,
    /// An absolute path on the node.
    pub path: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum RestartPolicy {
    #[default]
    Always,
    Never,
}

impl RestartPolicy {
    pub fn is_always(&self) -> bool {
        *self == RestartPolicy::Always
    }
}

fn is_zero(v: &i32) -> bool {
    *v == 0
}

impl PodTemplate {
    /// A template of `image` with `resources` and nothing else.
    pub fn new(image: Image, resources: Resources) -> Self {
        PodTemplate {
            image,
            resources,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            labels: BTreeMap::new(),
            affinity: None,
            topology_spread_constraints: Vec::new(),
            priority_class_name: None,
            priority: 0,
            command: Vec::new(),
            args: Vec::new(),
            env: BTreeMap::new(),
            readiness_probe: None,
            liveness_probe: None,
            startup_probe: None,
            restart_policy: RestartPolicy::Always,
            security_context: None,
            host_paths: Vec::new(),
            secret_env: Vec::new(),
            secret_files: Vec::new(),
        }
    }

    /// Whether its pods are given secrets.
    pub fn uses_secrets(&self) -> bool {
        !self.secret_env.is_empty() || !self.secret_files.is_empty()
    }

    /// The pods' priority: the class's value when a class is named.
    pub fn effective_priority(&self) -> i32 {
        self.priority_class_name
            .as_deref()
            .and_then(priority_of_class)
            .unwrap_or(self.priority)
    }

    /// Whether the pods' labels (with the implied `app=<app>`) contain every pair of `selector`.
    pub fn labels_match(&self, app: &str, selector: &BTreeMap<String, String>) -> bool {
        self.labels_match_pairs(app, selector)
    }

    /// `labels_match` for any sequence of (key, value) pairs.
    pub fn labels_match_pairs<'a>(
        &self,
        app: &str,
        selector: impl IntoIterator<Item = (&'a String, &'a String)>,
    ) -> bool {
        selector.into_iter().all(|(k, v)| match self.labels.get(k) {
            Some(actual) => actual == v,
            None => k == "app" && v == app,
        })
    }

    pub fn node_affinity(&self) -> Option<&NodeAffinity> {
        self.affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
    }

    pub fn pod_affinity(&self) -> Option<&PodAffinity> {
        self.affinity.as_ref().and_then(|a| a.pod_affinity.as_ref())
    }

    pub fn pod_anti_affinity(&self) -> Option<&PodAffinity> {
        self.affinity
            .as_ref()
            .and_then(|a| a.pod_anti_affinity.as_ref())
    }

    pub fn has_required_anti_affinity(&self) -> bool {
        self.pod_anti_affinity()
            .is_some_and(|a| !a.required.is_empty())
    }

    /// Every check of the template alone, with field paths relative to the
    /// template (a workload whose template is nested prefixes them).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = scheduling_errors(self);
        errors.extend(probe_errors(self));
        for (i, h) in self.host_paths.iter().enumerate() {
            if h.name.is_empty()
                || !h
                    .name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                errors.push(FieldError::new(
                    format!("hostPaths[{i}].name"),
                    "must be 1 or more of A-Z, 0-9 and _",
                ));
            }
            if !h.path.starts_with('/') {
                errors.push(FieldError::new(
                    format!("hostPaths[{i}].path"),
                    "must be an absolute path",
                ));
            }
        }
        let mut vars = std::collections::BTreeSet::new();
        for (i, e) in self.secret_env.iter().enumerate() {
            let mut chars = e.name.chars();
            let ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !ok {
                errors.push(FieldError::new(
                    format!("secretEnv[{i}].name"),
                    "a variable name: a letter or _, then letters, digits and _",
                ));
            } else if !vars.insert(e.name.as_str()) {
                errors.push(FieldError::new(
                    format!("secretEnv[{i}].name"),
                    format!("'{}' is set twice", e.name),
                ));
            }
            if let Err(err) = crate::names::check_secret_key(&format!("secretEnv[{i}].key"), &e.key)
            {
                errors.push(err);
            }
        }
        let mut dirs = std::collections::BTreeSet::new();
        for (i, f) in self.secret_files.iter().enumerate() {
            if f.name.is_empty()
                || !f
                    .name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                errors.push(FieldError::new(
                    format!("secretFiles[{i}].name"),
                    "must be 1 or more of A-Z, 0-9 and _",
                ));
            } else if !dirs.insert(f.name.as_str()) {
                errors.push(FieldError::new(
                    format!("secretFiles[{i}].name"),
                    format!("'{}' is given twice", f.name),
                ));
            }
        }
        // 0 is a figure left out: the decider resolves it with the
        // namespace's limit range before it validates (`limitrange::resolve`).
        let r = &self.resources;
        if r.cpu_limit_milli > 0 && r.cpu_limit_milli < r.cpu_request_milli {
            errors.push(FieldError::new(
                "resources.cpuLimitMilli",
                "must be at least cpuRequestMilli",
            ));
        }
        if r.mem_limit_mb > 0 && r.mem_limit_mb < r.mem_request_mb {
            errors.push(FieldError::new(
                "resources.memLimitMb",
                "must be at least memRequestMb",
            ));
        }
        errors
    }
}

pub(crate) fn probe_errors(spec: &PodTemplate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, probe) in [
        ("readinessProbe", &spec.readiness_probe),
        ("livenessProbe", &spec.liveness_probe),
        ("startupProbe", &spec.startup_probe),
    ] {
        let Some(p) = probe else { continue };
        let actions =
            p.http_get.is_some() as u8 + p.tcp_socket.is_some() as u8 + p.exec.is_some() as u8;
        if actions != 1 {
            errors.push(FieldError::new(
                field,
                "give exactly one of httpGet, tcpSocket and exec",
            ));
        }
        if let Some(h) = &p.http_get
            && !h.path.starts_with('/')
        {
            errors.push(FieldError::new(
                format!("{field}.httpGet.path"),
                "must start with '/'",
            ));
        }
        if let Some(e) = &p.exec
            && e.command.is_empty()
        {
            errors.push(FieldError::new(
                format!("{field}.exec.command"),
                "must not be empty",
            ));
        }
        if p.period_ms < 100
            || p.timeout_ms == 0
            || p.failure_threshold == 0
            || p.success_threshold == 0
        {
            errors.push(FieldError::new(
                field,
                "periodMs must be at least 100; timeoutMs, failureThreshold and successThreshold at least 1",
            ));
        }
    }
    errors
}

/// Field-by-field problems with the scheduling parts of a template (labels,
/// affinity, spread, priority); the API reports them as 422.
pub fn scheduling_errors(spec: &PodTemplate) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_labels("labels", &spec.labels, &mut errors);
    if let Some(c) = &spec.priority_class_name {
        match priority_of_class(c) {
            None => errors.push(FieldError::new(
                "priorityClassName",
                format!(
                    "'{c}' is not a priority class; use one of {}",
                    crate::model::PRIORITY_CLASSES
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(p) if spec.priority != 0 && spec.priority != p => errors.push(FieldError::new(
                "priority",
                format!("conflicts with priorityClassName '{c}' ({p})"),
            )),
            Some(_) => {}
        }
    }
    for (i, t) in spec.tolerations.iter().enumerate() {
        if t.toleration_seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
            errors.push(FieldError::new(
                format!("tolerations[{i}].tolerationSeconds"),
                "only applies to effect NoExecute",
            ));
        }
    }
    if let Some(na) = spec.node_affinity() {
        for (i, t) in na.required.iter().enumerate() {
            check_selector_terms(
                &format!("affinity.nodeAffinity.required[{i}]"),
                &t.match_expressions,
                &mut errors,
            );
        }
        for (i, p) in na.preferred.iter().enumerate() {
            let f = format!("affinity.nodeAffinity.preferred[{i}]");
            check_weight(format!("{f}.weight"), p.weight, &mut errors);
            check_selector_terms(
                &format!("{f}.preference"),
                &p.preference.match_expressions,
                &mut errors,
            );
        }
    }
    for (name, a) in [
        ("podAffinity", spec.pod_affinity()),
        ("podAntiAffinity", spec.pod_anti_affinity()),
    ] {
        let Some(a) = a else { continue };
        for (i, t) in a.required.iter().enumerate() {
            check_pod_term(&format!("affinity.{name}.required[{i}]"), t, &mut errors);
        }
        for (i, w) in a.preferred.iter().enumerate() {
            let f = format!("affinity.{name}.preferred[{i}]");
            check_weight(format!("{f}.weight"), w.weight, &mut errors);
            check_pod_term(
                &format!("{f}.podAffinityTerm"),
                &w.pod_affinity_term,
                &mut errors,
            );
        }
    }
    for (i, c) in spec.topology_spread_constraints.iter().enumerate() {
        let f = format!("topologySpreadConstraints[{i}]");
        if c.max_skew == 0 {
            errors.push(FieldError::new(
                format!("{f}.maxSkew"),
                "must be at least 1",
            ));
        }
        check_topology_key(&format!("{f}.topologyKey"), &c.topology_key, &mut errors);
        check_labels(
            &format!("{f}.labelSelector"),
            &c.label_selector,
            &mut errors,
        );
    }
    errors
}

pub(crate) fn check_selector_terms(
    prefix: &str,
    exprs: &[LabelRequirement],
    errors: &mut Vec<FieldError>,
) {
    for (i, r) in exprs.iter().enumerate() {
        let f = format!("{prefix}.matchExpressions[{i}]");
        let ok = match r.operator {
            SelectorOperator::In | SelectorOperator::NotIn => !r.values.is_empty(),
            SelectorOperator::Exists | SelectorOperator::DoesNotExist => r.values.is_empty(),
            SelectorOperator::Gt | SelectorOperator::Lt => {
                r.values.len() == 1 && r.values[0].parse::<i64>().is_ok()
            }
        };
        if r.key.is_empty() {
            errors.push(FieldError::new(format!("{f}.key"), "must not be empty"));
        }
        if !ok {
            errors.push(FieldError::new(
                format!("{f}.values"),
                "In/NotIn need values, Exists/DoesNotExist none, Gt/Lt one integer",
            ));
        }
    }
}

pub(crate) fn check_topology_key(field: &str, key: &str, errors: &mut Vec<FieldError>) {
    if Topology::parse(key).is_none() {
        errors.push(FieldError::new(
            field,
            format!(
                "'{key}' is not supported; use {} or {}",
                crate::model::HOSTNAME_LABEL,
                crate::model::ZONE_LABEL
            ),
        ));
    }
}

pub(crate) fn check_pod_term(field: &str, t: &PodAffinityTerm, errors: &mut Vec<FieldError>) {
    check_topology_key(&format!("{field}.topologyKey"), &t.topology_key, errors);
    if t.label_selector.is_empty() {
        errors.push(FieldError::new(
            format!("{field}.labelSelector"),
            "must select at least one label",
        ));
    }
    check_labels(&format!("{field}.labelSelector"), &t.label_selector, errors);
}

pub(crate) fn check_weight(field: String, w: u32, errors: &mut Vec<FieldError>) {
    if !(1..=100).contains(&w) {
        errors.push(FieldError::new(field, "must be between 1 and 100"));
    }
}
