//! The limit-range slice: a namespace's defaults and bounds for each pod's
//! CPU and memory requests and limits (one per namespace). The decider
//! applies it to every template it admits, before any other check, so the
//! event records the resolved resources and a replay resolves nothing:
//!
//! - a request left out (0) is the default request, else the limit given,
//!   else the default limit;
//! - a limit left out (0) is the default limit, else the request;
//! - then every figure must lie within `min` and `max` (422, per field).

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::decision::validation;
use crate::ids::derive_id;
use crate::model::{PodTemplate, Resources};
use crate::names::{FieldError, Name};
use crate::rejection::Rejection;
use crate::state::State;

pub fn limit_range_id(namespace: &str) -> Uuid {
    derive_id(&[b"limitrange", namespace.as_bytes()])
}

/// CPU (millicores) and memory (MB); either may be left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Amounts {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_milli: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u32>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LimitRangeSpec {
    /// A request left out.
    #[serde(default)]
    pub default_request: Amounts,
    /// A limit left out.
    #[serde(default)]
    pub default_limit: Amounts,
    /// The least request (and limit) a pod may have.
    #[serde(default)]
    pub min: Amounts,
    /// The most limit (and request) a pod may have.
    #[serde(default)]
    pub max: Amounts,
}

impl LimitRangeSpec {
    /// Its own consistency: min ≤ defaults ≤ max.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (what, get) in [
            (
                "cpuMilli",
                (|a: &Amounts| a.cpu_milli) as fn(&Amounts) -> Option<u32>,
            ),
            ("memoryMb", |a: &Amounts| a.memory_mb),
        ] {
            let (min, max) = (get(&self.min), get(&self.max));
            if let (Some(lo), Some(hi)) = (min, max)
                && lo > hi
            {
                errors.push(FieldError::new(
                    format!("min.{what}"),
                    format!("{lo} is above max {hi}"),
                ));
            }
            for (field, v) in [
                ("defaultRequest", get(&self.default_request)),
                ("defaultLimit", get(&self.default_limit)),
            ] {
                let Some(v) = v else { continue };
                if v == 0 {
                    errors.push(FieldError::new(
                        format!("{field}.{what}"),
                        "must be greater than 0",
                    ));
                }
                if min.is_some_and(|lo| v < lo) || max.is_some_and(|hi| v > hi) {
                    errors.push(FieldError::new(
                        format!("{field}.{what}"),
                        format!("{v} is outside min..max"),
                    ));
                }
            }
            if let (Some(r), Some(l)) = (get(&self.default_request), get(&self.default_limit))
                && r > l
            {
                errors.push(FieldError::new(
                    format!("defaultRequest.{what}"),
                    format!("{r} is above defaultLimit {l}"),
                ));
            }
        }
        errors
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitRange {
    pub namespace: Name,
    pub spec: LimitRangeSpec,
}

/// `template` with the namespace's limit range applied (field paths under
/// `prefix`): its resources resolved, then checked to be set and in bounds.
pub(crate) fn resolve(
    state: &State,
    namespace: &Name,
    template: &PodTemplate,
    prefix: &str,
) -> Result<PodTemplate, Rejection> {
    let lr = state
        .limit_ranges
        .get(namespace.as_str())
        .map(|l| l.spec)
        .unwrap_or_default();
    let r = template.resources;
    let pick = |given: u32, defaults: [Option<u32>; 3]| {
        if given > 0 {
            given
        } else {
            defaults.into_iter().flatten().find(|v| *v > 0).unwrap_or(0)
        }
    };
    let given_cpu_limit = (r.cpu_limit_milli > 0).then_some(r.cpu_limit_milli);
    let given_mem_limit = (r.mem_limit_mb > 0).then_some(r.mem_limit_mb);
    let cpu_request = pick(
        r.cpu_request_milli,
        [
            lr.default_request.cpu_milli,
            given_cpu_limit,
            lr.default_limit.cpu_milli,
        ],
    );
    let mem_request = pick(
        r.mem_request_mb,
        [
            lr.default_request.memory_mb,
            given_mem_limit,
            lr.default_limit.memory_mb,
        ],
    );
    let resources = Resources {
        cpu_request_milli: cpu_request,
        mem_request_mb: mem_request,
        cpu_limit_milli: pick(
            r.cpu_limit_milli,
            [lr.default_limit.cpu_milli, Some(cpu_request), None],
        ),
        mem_limit_mb: pick(
            r.mem_limit_mb,
            [lr.default_limit.memory_mb, Some(mem_request), None],
        ),
    };
    let mut errors = Vec::new();
    let field = |f: &str| format!("{prefix}resources.{f}");
    if resources.cpu_request_milli == 0 || resources.mem_request_mb == 0 {
        errors.push(FieldError::new(
            format!("{prefix}resources"),
            "cpuRequestMilli and memRequestMb must be greater than 0 (give them, or a default in the namespace's limit range)",
        ));
    }
    for (f, v, min, max) in [
        (
            "cpuRequestMilli",
            resources.cpu_request_milli,
            lr.min.cpu_milli,
            lr.max.cpu_milli,
        ),
        (
            "cpuLimitMilli",
            resources.cpu_limit_milli,
            lr.min.cpu_milli,
            lr.max.cpu_milli,
        ),
        (
            "memRequestMb",
            resources.mem_request_mb,
            lr.min.memory_mb,
            lr.max.memory_mb,
        ),
        (
            "memLimitMb",
            resources.mem_limit_mb,
            lr.min.memory_mb,
            lr.max.memory_mb,
        ),
    ] {
        if let Some(lo) = min.filter(|lo| v < *lo) {
            errors.push(FieldError::new(
                field(f),
                format!("{v} is below the minimum {lo} of namespace {namespace}'s limit range"),
            ));
        }
        if let Some(hi) = max.filter(|hi| v > *hi) {
            errors.push(FieldError::new(
                field(f),
                format!("{v} is above the maximum {hi} of namespace {namespace}'s limit range"),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let mut t = template.clone();
    t.resources = resources;
    Ok(t)
}
