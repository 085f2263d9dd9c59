//! Extractors for what every handler needs before it starts: who is asking
//! (`Actor`), a typed id from the path, and a JSON body parsed into its DTO
//! with field-level errors (`Body`). Each failure is the API's own 4xx.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::S;

/// The authenticated actor (from the bearer token), recorded on every
/// event its request causes. Extracting it also checks the route's access
/// rule (`access::of`): a handler that takes an `Actor` runs only for a
/// caller that may call it.
pub struct Actor(pub String);

impl FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
        let actor = crate::auth::authenticate(s, &parts.headers).await?.actor;
        // Fairness: each subject has its own bucket, so one tenant flooding
        // the API is answered 429 while the others go on.
        if let Some(limiter) = &s.limiter
            && let Err(not_until) = limiter.check_key(&actor)
        {
            use governor::clock::Clock;
            let wait = not_until.wait_time_from(limiter.clock().now());
            infra::metrics::counter(
                "apiserver_rate_limited_total",
                "API requests refused with 429: their subject was over its rate limit",
            )
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                format!(
                    "{actor} is over its rate limit: retry in {} ms",
                    wait.as_millis().max(1)
                ),
            );
            e.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
            return Err(e);
        }
        let path = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let params = match axum::extract::RawPathParams::from_request_parts(parts, s).await {
            Ok(p) => p
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            Err(_) => HashMap::new(),
        };
        let query: HashMap<String, String> = parts
            .uri
            .query()
            .and_then(|q| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        if let Err(e) = crate::access::check(s, &actor, &parts.method, &path, &params, &query).await
        {
            infra::metrics::counter(
                "apiserver_forbidden_total",
                "API requests refused with 403 FORBIDDEN: their subject lacked a permission",
            )
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(e);
        }
        Ok(Actor(actor))
    }
}

/// The `{id}` segment of the path.
async fn path_id(parts: &mut Parts, s: &S, what: &str) -> Result<Uuid, ApiError> {
    let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, s)
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PATH", e.body_text()))?;
    let raw = params.get("id").ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PATH",
            "no {id} in the path",
        )
    })?;
    parse_id(what, raw)
}

macro_rules! id_path {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        pub struct $name(pub Uuid);

        impl FromRequestParts<S> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, s: &S) -> Result<Self, ApiError> {
                path_id(parts, s, $what).await.map($name)
            }
        }

        impl utoipa::IntoParams for $name {
            fn into_params(
                _: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
            ) -> Vec<utoipa::openapi::path::Parameter> {
                vec![uuid_path_param(concat!("The ", $what, " (a UUID)"))]
            }
        }
    };
}

/// The `{id}` path parameter as the OpenAPI document describes it.
fn uuid_path_param(description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(utoipa::openapi::Required::True)
        .description(Some(description))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        ))
        .build()
}

id_path!(
    /// A deployment's id in the path (400 `INVALID_ID` otherwise).
    DeploymentPath,
    "deployment id"
);
id_path!(
    /// A pod's id in the path.
    PodPath,
    "pod id"
);
id_path!(
    /// A node's id in the path (routes that also take a node's name parse it themselves).
    NodePath,
    "node id"
);
id_path!(
    /// A service's id in the path.
    ServicePath,
    "service id"
);
id_path!(
    /// A job's id in the path.
    JobPath,
    "job id"
);
id_path!(
    /// A cron job's id in the path.
    CronJobPath,
    "cron job id"
);
id_path!(
    /// A StatefulSet's id in the path.
    StatefulSetPath,
    "statefulset id"
);

/// A JSON body parsed into `T`: 415 for another content type, 400 for
/// malformed JSON, 422 with the field path for a field that does not fit.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, s: &S) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        // Too large (413) or cut off (400): axum's status, our shape.
        let bytes = Bytes::from_request(req, s)
            .await
            .map_err(|e| ApiError::new(e.status(), "BODY_UNREADABLE", e.body_text()))?;
        crate::json::parse(&headers, &bytes).map(Body)
    }
}

/// A name from the path or body, or `422` for its field.
pub fn parse_name(field: &str, raw: &str) -> Result<domain::names::Name, ApiError> {
    domain::names::Name::parse(field, raw).map_err(|e| ApiError::validation(vec![e]))
}

pub fn parse_id(field: &str, s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_ID",
            format!("{field} '{s}' is not a UUID"),
        )
    })
}
