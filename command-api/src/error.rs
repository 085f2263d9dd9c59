//! Every failure the API reports: a status, a machine-readable code, a
//! human message and, for validation, the field path. A 500 says nothing
//! internal; the log says everything.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub fields: Vec<(String, String)>,
    /// Machine-readable figures of the refusal (`QUOTA_EXCEEDED`'s quota).
    pub details: Option<serde_json::Value>,
    /// Seconds, for the `Retry-After` header of a 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: vec![],
            details: None,
            retry_after: None,
        }
    }

    pub fn validation(fields: Vec<domain::names::FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "VALIDATION_FAILED",
            message,
            fields: fields.into_iter().map(|f| (f.field, f.message)).collect(),
            details: None,
            retry_after: None,
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", what)
    }

    pub fn degraded(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "CONTROL_PLANE_DEGRADED",
            message,
        )
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        let id = uuid::Uuid::now_v7();
        tracing::error!(error_id = %id, error = %err, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("internal error {id}; see the server log"),
        )
    }

    /// A decider rejection: every code has its status (a new code does not
    /// compile until it is given one here).
    pub fn rejected(code: domain::RejectionCode, message: String) -> Self {
        use domain::RejectionCode as C;
        let status = match code {
            C::AlreadyExists
            | C::RolloutInProgress
            | C::NoRolloutInProgress
            | C::NotACanary
            // The object is not in the state the command expects (a stale view).
            | C::PodAlreadyBound
            | C::PodNotPending
            | C::PodNotOnNode
            | C::NodeNotReady
            | C::BindInfeasible
            | C::PreemptionInvalid
            | C::Conflict => StatusCode::CONFLICT,
            C::NotFound | C::RevisionNotFound | C::NamespaceNotFound => StatusCode::NOT_FOUND,
            C::NamespaceTerminating => StatusCode::CONFLICT,
            // Like Kubernetes: a quota, or a namespace that may not be deleted, forbids the request.
            C::QuotaExceeded | C::NamespaceProtected | C::Forbidden | C::BuiltIn => {
                StatusCode::FORBIDDEN
            }
            C::InsufficientClusterCapacity | C::ValidationFailed | C::PodSecurityViolation => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            // Like Kubernetes' eviction API: try again once a replacement is Ready.
            C::DisruptionBudgetExceeded => StatusCode::TOO_MANY_REQUESTS,
            C::Other => return ApiError::new(StatusCode::CONFLICT, "REJECTED", message),
        };
        ApiError::new(status, code.as_str(), message)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => {
                ApiError::degraded("the projection database does not answer")
            }
            e => ApiError::internal(e),
        }
    }
}

// Serialised by `into_response` and described in the OpenAPI document from
// the same type, so the two cannot drift apart.
/// The body of every error answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable: `VALIDATION_FAILED`, `NOT_FOUND`, `ALREADY_EXISTS`, …
    #[schema(value_type = String)]
    code: &'static str,
    message: String,
    /// For `VALIDATION_FAILED` and `UNKNOWN_FIELD`: each field (a path such as
    /// `template.resources.cpuRequestMilli`) and what is wrong with it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    fields: Vec<FieldProblem>,
    /// For `QUOTA_EXCEEDED`: `{namespace, resource, used, requested, hard}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    details: Option<serde_json::Value>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    field: String,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message,
                fields: self
                    .fields
                    .into_iter()
                    .map(|(field, message)| FieldProblem { field, message })
                    .collect(),
                details: self.details,
            },
        };
        let mut resp = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}
