//! Why the decider refused a command: a closed set of codes, so the API maps
//! every one to an HTTP status (exhaustively: a new code does not compile
//! until it has one) and a client can branch on them. The wire form is the
//! SCREAMING_SNAKE name, as `CommandRejected.code` always carried it.

use serde::{Deserialize, Serialize};

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
    strum::Display,
    strum::EnumString,
    strum::EnumIter,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectionCode {
    AlreadyExists,
    NotFound,
    InsufficientClusterCapacity,
    ValidationFailed,
    PodAlreadyBound,
    PodNotPending,
    PodNotOnNode,
    NodeNotReady,
    BindInfeasible,
    DisruptionBudgetExceeded,
    PreemptionInvalid,
    RolloutInProgress,
    NoRolloutInProgress,
    RevisionNotFound,
    NotACanary,
    NamespaceNotFound,
    NamespaceTerminating,
    NamespaceProtected,
    QuotaExceeded,
    PodSecurityViolation,
    /// The actor lacks a permission (or would grant one it lacks).
    Forbidden,
    /// A built-in (role, binding, user) cannot be changed or deleted.
    BuiltIn,
    /// The object changed between the request's read and its write (send it again).
    Conflict,
    /// A code this release does not know (a record from a newer one).
    #[serde(other)]
    Other,
}

impl RejectionCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Rejection {
    pub code: RejectionCode,
    pub message: String,
    /// For `ValidationFailed`: which fields, and why (the API returns them).
    pub fields: Vec<crate::names::FieldError>,
    /// For `QuotaExceeded`: which resource, and its figures.
    pub quota: Option<Box<QuotaExceeded>>,
}

/// Which quota a request would have overshot, and by how much.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaExceeded {
    pub namespace: String,
    pub resource: String,
    /// What the namespace committed before the request.
    pub used: u64,
    /// What the request would have added.
    pub requested: u64,
    pub hard: u64,
}

impl Rejection {
    pub fn new(code: RejectionCode, message: impl Into<String>) -> Self {
        Rejection {
            code,
            message: message.into(),
            fields: Vec::new(),
            quota: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_code_is_written_as_it_always_was_and_reads_back() {
        for c in RejectionCode::iter().filter(|c| *c != RejectionCode::Other) {
            let json = serde_json::to_value(c).unwrap();
            assert_eq!(json, c.as_str());
            assert_eq!(serde_json::from_value::<RejectionCode>(json).unwrap(), c);
            assert_eq!(c.as_str().parse::<RejectionCode>().unwrap(), c);
        }
        assert_eq!(RejectionCode::NotACanary.as_str(), "NOT_A_CANARY");
        assert_eq!(
            serde_json::from_str::<RejectionCode>("\"SOMETHING_NEW\"").unwrap(),
            RejectionCode::Other
        );
    }
}
