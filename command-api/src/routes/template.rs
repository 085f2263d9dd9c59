//! The pod template in request bodies: every workload kind's create
//! accepts it (a deployment's fields flat beside its own, the later kinds'
//! under `template`), parsed and checked here once.

use std::collections::BTreeMap;

use domain::model::{
    Affinity, HostPath, PodTemplate, Probe, Resources, RestartPolicy, SecretEnv, SecretFiles,
    SecurityContext, Toleration, TopologySpreadConstraint,
};
use domain::names::{FieldError, Image, check_labels};
use serde::Deserialize;

/// A pod's resources. A request left out comes from the namespace's limit
/// range (its default request, else the limit given, else its default
/// limit); a limit left out from its default limit, else the request.
#[derive(Deserialize, Clone, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = Resources)]
pub struct ResourcesDto {
    pub cpu_request_milli: Option<i64>,
    pub cpu_limit_milli: Option<i64>,
    pub mem_request_mb: Option<i64>,
    pub mem_limit_mb: Option<i64>,
}

impl ResourcesDto {
    /// The figures given, 0 for each left out (the decider resolves those
    /// with the namespace's limit range), errors under `resources.`.
    pub fn parse(&self, errors: &mut Vec<FieldError>) -> Resources {
        let mut q = |field: &str, v: Option<i64>, max: i64| {
            v.map_or(0, |v| {
                quantity(errors, &format!("resources.{field}"), v, 1, max)
            })
        };
        let r = Resources {
            cpu_request_milli: q("cpuRequestMilli", self.cpu_request_milli, 1_000_000),
            cpu_limit_milli: q("cpuLimitMilli", self.cpu_limit_milli, 1_000_000),
            mem_request_mb: q("memRequestMb", self.mem_request_mb, 10_000_000),
            mem_limit_mb: q("memLimitMb", self.mem_limit_mb, 10_000_000),
        };
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
        r
    }
}

/// A pod template: the image, its resources, command, environment, probes
/// and scheduling constraints.
#[derive(Deserialize, Clone, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = PodTemplate)]
pub struct TemplateDto {
    pub image: String,
    #[serde(default)]
    pub resources: ResourcesDto,
    #[serde(default)]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default)]
    pub tolerations: Vec<Toleration>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    pub affinity: Option<Affinity>,
    #[serde(default)]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    pub priority_class_name: Option<String>,
    #[serde(default)]
    pub priority: i32,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub args: Vec<String>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub readiness_probe: Option<Probe>,
    pub liveness_probe: Option<Probe>,
    pub startup_probe: Option<Probe>,
    /// `Always` (deployments) or `Never` (jobs); each kind defaults to its own.
    pub restart_policy: Option<RestartPolicy>,
    /// Who the container runs as (the namespace's pod security level bounds it).
    pub security_context: Option<SecurityContext>,
    /// Host directories for the container (privileged namespaces only).
    #[serde(default)]
    pub host_paths: Vec<HostPath>,
    /// Secret values as environment variables: `[{name, secret, key}]`
    /// (creating the workload needs `read-secrets` in its namespace).
    #[serde(default)]
    pub secret_env: Vec<SecretEnv>,
    /// Secrets as files: `[{name, secret}]`, a directory of one file per
    /// key (mode 0400) named by `SECRET_DIR_<NAME>`.
    #[serde(default)]
    pub secret_files: Vec<SecretFiles>,
}

impl TemplateDto {
    /// The template, or `None` with the problems pushed on `errors`, field
    /// paths under `prefix` (`""` or `"template."`).
    pub fn parse(self, prefix: &str, errors: &mut Vec<FieldError>) -> Option<PodTemplate> {
        let before = errors.len();
        let mut local = Vec::new();
        let image = Image::parse("image", &self.image)
            .map_err(|e| local.push(e))
            .ok();
        let resources = self.resources.parse(&mut local);
        check_env(&self.env, &mut local);
        check_labels("nodeSelector", &self.node_selector, &mut local);
        let template = image.map(|image| PodTemplate {
            image,
            resources,
            node_selector: self.node_selector,
            tolerations: self.tolerations,
            labels: self.labels,
            affinity: self.affinity,
            topology_spread_constraints: self.topology_spread_constraints,
            priority_class_name: self.priority_class_name,
            priority: self.priority,
            command: self.command,
            args: self.args,
            env: self.env,
            readiness_probe: self.readiness_probe,
            liveness_probe: self.liveness_probe,
            startup_probe: self.startup_probe,
            restart_policy: self.restart_policy.unwrap_or_default(),
            security_context: self.security_context,
            host_paths: self.host_paths,
            secret_env: self.secret_env,
            secret_files: self.secret_files,
        });
        errors.extend(local.into_iter().map(|mut e| {
            e.field = format!("{prefix}{}", e.field);
            e
        }));
        if errors.len() > before {
            None
        } else {
            template
        }
    }
}

pub fn quantity(errors: &mut Vec<FieldError>, field: &str, v: i64, min: i64, max: i64) -> u32 {
    if v < min || v > max {
        errors.push(FieldError::new(
            field,
            format!("must be between {min} and {max}, got {v}"),
        ));
        return 0;
    }
    v as u32
}

pub fn check_env(env: &BTreeMap<String, String>, errors: &mut Vec<FieldError>) {
    for k in env.keys() {
        let ok = !k.is_empty()
            && !k.starts_with(|c: char| c.is_ascii_digit())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            errors.push(FieldError::new(
                format!("env.{k}"),
                "names are letters, digits and '_', not starting with a digit",
            ));
        }
    }
}

/// A change's `reason`: at most 1000 characters.
pub(super) fn check_reason(reason: &Option<String>, errors: &mut Vec<FieldError>) {
    if reason.as_ref().is_some_and(|r| r.len() > 1000) {
        errors.push(FieldError::new("reason", "must be at most 1000 characters"));
    }
}

/// An undelete's `{namespace, name, reason}`: both names parsed, the reason checked.
pub(super) fn undelete_target(
    namespace: &str,
    name: &str,
    reason: &Option<String>,
) -> Result<(domain::names::Name, domain::names::Name), crate::error::ApiError> {
    let mut errors = Vec::new();
    let namespace = domain::names::Name::parse("namespace", namespace)
        .map_err(|e| errors.push(e))
        .ok();
    let name = domain::names::Name::parse("name", name)
        .map_err(|e| errors.push(e))
        .ok();
    check_reason(reason, &mut errors);
    match (namespace, name, errors.is_empty()) {
        (Some(namespace), Some(name), true) => Ok((namespace, name)),
        _ => Err(crate::error::ApiError::validation(errors)),
    }
}

/// An undelete's body, every kind's.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = Undelete)]
pub(super) struct UndeleteDto {
    pub namespace: String,
    pub name: String,
    pub reason: Option<String>,
}

/// An undelete route's work: the command `make` builds for the names, and
/// `201` with what `restored` reads of the event it caused (`409
/// NOT_RESTORED` if none).
pub(super) async fn undelete(
    s: &crate::state::S,
    headers: &axum::http::HeaderMap,
    actor: &str,
    dto: UndeleteDto,
    make: impl FnOnce(domain::names::Name, domain::names::Name) -> domain::command::Command,
    restored: impl Fn(&domain::Event) -> Option<serde_json::Value>,
    what: &str,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), crate::error::ApiError> {
    let (namespace, name) = undelete_target(&dto.namespace, &dto.name, &dto.reason)?;
    let events =
        crate::write::execute(s, headers, actor, dto.reason, make(namespace, name)).await?;
    events
        .iter()
        .find_map(|e| restored(&e.body))
        .map(|v| (axum::http::StatusCode::CREATED, axum::Json(v)))
        .ok_or_else(|| {
            crate::error::ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "NOT_RESTORED",
                format!("the {what} was not restored"),
            )
        })
}
