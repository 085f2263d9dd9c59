//! The namespace's limit range applied to a template the decider admits.

use crate::decision::validation;
use crate::model::{PodTemplate, Resources};
use crate::names::{FieldError, Name};
use crate::rejection::Rejection;
use crate::state::State;

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
