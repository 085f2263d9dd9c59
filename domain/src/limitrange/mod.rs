//! The limit-range slice: a namespace's defaults and bounds for each pod's
//! CPU and memory requests and limits (one per namespace). The decider
//! applies it to every template it admits, before any other check, so the
//! event records the resolved resources and a replay resolves nothing:
//!
//! - a request left out (0) is the default request, else the limit given,
//!   else the default limit;
//! - a limit left out (0) is the default limit, else the request;
//! - then every figure must lie within `min` and `max` (422, per field).

pub mod apply;
pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::{FieldError, Name};

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
