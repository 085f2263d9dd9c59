//! Request bodies: parsed by hand so every failure becomes a clear 4xx with
//! the offending field path (axum's default rejections are plain text).

use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

pub fn parse<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.starts_with("application/json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                format!("expected Content-Type application/json, got '{ct}'"),
            ));
        }
    }
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MALFORMED_JSON",
            "the request body is empty; a JSON object is required",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        use serde_json::error::Category;
        match inner.classify() {
            Category::Syntax | Category::Eof | Category::Io => ApiError::new(
                StatusCode::BAD_REQUEST,
                "MALFORMED_JSON",
                format!("the body is not valid JSON: {inner}"),
            ),
            Category::Data => {
                let msg = inner.to_string();
                let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
                let code = if msg.starts_with("unknown field") {
                    "UNKNOWN_FIELD"
                } else {
                    "VALIDATION_FAILED"
                };
                let field = if path == "." {
                    "body".to_string()
                } else {
                    path
                };
                let mut err = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    code,
                    format!("{field}: {msg}"),
                );
                err.fields = vec![(field, msg)];
                err
            }
        }
    })
}

/// `Query<T>` whose rejection is a JSON 400 with a code, like every other error.
pub struct ApiQuery<T>(pub T);

impl<T, S> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_QUERY", e.body_text()))
    }
}
