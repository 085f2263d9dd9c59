//! The OpenAPI 3.1 document, generated from the code: each handler's
//! `#[utoipa::path]` (method, path, parameters, statuses), the request DTOs'
//! `ToSchema` (their serde names and `deny_unknown_fields`) and the error
//! body's. The router is built from the same `OpenApiRouter` (`super::api`),
//! so a route cannot be served without being documented. What the middleware
//! adds to every route (read-your-writes, 500) is added here afterwards.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::Json;
use serde_json::Value;
use utoipa::openapi::content::Content;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Components, Info, OpenApi, OpenApiBuilder, Ref, RefOr};
use utoipa::{IntoParams, PartialSchema, ToSchema};

use crate::error::ErrorBody;

/// The paths the middleware leaves alone as far as the document goes, and
/// that need no bearer token.
const PUBLIC: [&str; 3] = ["/metrics", "/healthz", "/api/v1/openapi.json"];

/// What the generated paths are merged into: the info, the bearer scheme
/// required everywhere (but on `PUBLIC`), and the error schema.
pub fn base() -> OpenApi {
    let mut components = Components::new();
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    components
        .schemas
        .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
    let mut schemas = Vec::new();
    ErrorBody::schemas(&mut schemas);
    components.schemas.extend(schemas);
    OpenApiBuilder::new()
        .info(Info::new("orch command API", "1"))
        .security(Some([SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .components(Some(components))
        .build()
}

/// The whole document: the routes' own, then what every route shares.
pub fn build() -> OpenApi {
    let mut doc = super::api().into_openapi();
    consistency(&mut doc);
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    summary = "This document (OpenAPI 3.1)",
    responses((status = 200, description = "The OpenAPI document", body = Value)))]
pub async fn document() -> Json<Value> {
    static DOC: OnceLock<Value> = OnceLock::new();
    Json(
        DOC.get_or_init(|| serde_json::to_value(build()).expect("the document serialises"))
            .clone(),
    )
}

/// An error answer with the shared body.
fn error(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(ErrorBody::name()))),
        )
        .build()
}

/// Error answers a handler lists in its `responses(...)` beside its own
/// tuples: one status each, with the codes the shared extractors and the
/// write path produce. A handler with something more specific to say about a
/// status writes its own tuple instead.
macro_rules! error_responses {
    ($($(#[$doc:meta])* $name:ident => $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        pub struct $name;

        impl utoipa::IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                BTreeMap::from([($status.to_string(), RefOr::T(error($description)))])
            }
        }
    )*};
}

error_responses! {
    /// A write with a JSON body.
    BadBody => "400", "MALFORMED_JSON (no body, or not JSON), BODY_UNREADABLE (cut off), INVALID_ID (an id in the path or body is not a UUID), INVALID_HEADER (Idempotency-Key not 1 to 200 characters)";
    /// A write without a body.
    BadWrite => "400", "INVALID_ID (the id in the path is not a UUID), INVALID_HEADER (Idempotency-Key not 1 to 200 characters)";
    /// A read.
    BadRead => "400", "INVALID_ID (the id in the path is not a UUID), INVALID_QUERY (an unknown or malformed query parameter, or an asOf that is neither an instant nor an offset)";
    NotFound => "404", "NOT_FOUND: no such object";
    /// What any command can be refused with besides its own codes.
    Rejected => "409", "REJECTED: refused with a rejection code this release does not know";
    TooLarge => "413", "BODY_UNREADABLE: the body is over the 2 MB limit";
    NotJson => "415", "UNSUPPORTED_MEDIA_TYPE: a Content-Type other than application/json";
    Invalid => "422", "VALIDATION_FAILED (with the fields and why) or UNKNOWN_FIELD";
    /// The write path: the log or the decider.
    Degraded => "503", "CONTROL_PLANE_DEGRADED: the command log or the decider did not answer in time (a command sent is still applied), or the database does not answer";
    /// A read: the database, or building the state as of `asOf`.
    ReadDegraded => "503", "CONTROL_PLANE_DEGRADED: the projection database does not answer, or the state as of asOf could not be built";
}

/// The headers every write reads (`crate::write::execute`).
pub struct WriteHeaders;

impl IntoParams for WriteHeaders {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let header = |name: &str, description: &str| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Header)
                .description(Some(description))
                .schema(Some(String::schema()))
                .build()
        };
        vec![
            header(
                "Idempotency-Key",
                "1 to 200 characters: a retried request with the same key (and actor) gets the first one's answer",
            ),
            header(
                "X-Change-Reason",
                "why: recorded on the events (a body's `reason` takes precedence)",
            ),
        ]
    }
}

fn integer_min_0() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
}

/// Read-your-writes on every route: `minOffset` (and its header) in, the
/// offsets out, the statuses the middleware answers with; and the 500 any
/// handler may give.
fn consistency(doc: &mut OpenApi) {
    let param = |name: &str, at: ParameterIn, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(at)
            .description(Some(description))
            .schema(Some(integer_min_0()))
            .build()
    };
    let min_offset = param(
        "minOffset",
        ParameterIn::Query,
        "answer only once the projections include this log offset (a write's X-Orch-Offset): read-your-writes",
    );
    let min_header = param(
        "X-Orch-Min-Offset",
        ParameterIn::Header,
        "the same as minOffset",
    );
    let header = |description: &str| {
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::Integer))
            .description(Some(description))
            .build()
    };
    let offset = header("the log offset of the record holding this command's outcome");
    let projected = header("the last log offset the projections included when the read began");
    for (path, item) in doc.paths.paths.iter_mut() {
        let public = PUBLIC.contains(&path.as_str());
        let ops: [(&str, &mut Option<Operation>); 5] = [
            ("get", &mut item.get),
            ("put", &mut item.put),
            ("post", &mut item.post),
            ("delete", &mut item.delete),
            ("patch", &mut item.patch),
        ];
        for (method, op) in ops {
            let Some(op) = op.as_mut() else {
                continue;
            };
            // A handler's name alone (`create`) repeats across groups.
            if let (Some(tag), Some(id)) =
                (op.tags.as_ref().and_then(|t| t.first()), &op.operation_id)
            {
                op.operation_id = Some(format!("{tag}.{id}"));
            }
            if public {
                op.security = Some(vec![]);
                continue;
            }
            op.parameters
                .get_or_insert_with(Vec::new)
                .extend([min_offset.clone(), min_header.clone()]);
            let responses = &mut op.responses.responses;
            let mut extend = |code: &str, fallback: &str, more: &str| {
                let r = responses
                    .entry(code.to_string())
                    .or_insert_with(|| RefOr::T(error(fallback)));
                if let RefOr::T(r) = r {
                    r.description = format!("{}; {more}", r.description);
                }
            };
            extend(
                "400",
                "Bad request",
                "INVALID_QUERY (minOffset), OFFSET_NOT_IN_LOG",
            );
            extend(
                "403",
                "Forbidden",
                "FORBIDDEN: the token's subject lacks the permission the route or its command needs (details: verb, resource, namespace)",
            );
            extend(
                "503",
                "Unavailable",
                "PROJECTION_BEHIND (minOffset not reached in time)",
            );
            responses.entry("500".into()).or_insert_with(|| {
                RefOr::T(error(
                    "INTERNAL: a bug or an unexpected failure; the body gives only an error id, the server log everything",
                ))
            });
            for (code, r) in responses.iter_mut() {
                let RefOr::T(r) = r else { continue };
                if !code.starts_with('2') {
                    continue;
                }
                r.headers
                    .insert("X-Orch-Projected-Offset".into(), projected.clone());
                if method != "get" {
                    r.headers.insert("X-Orch-Offset".into(), offset.clone());
                }
            }
        }
    }
}

/// Every authenticated route: 401 without a valid token, 429 once its
/// subject is over its rate limit.
pub struct Unauthenticated;

impl utoipa::IntoResponses for Unauthenticated {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        BTreeMap::from([
            (
                "401".to_string(),
                RefOr::T(error(
                    "UNAUTHENTICATED: a missing, unknown, expired or revoked bearer token, or one whose subject was deleted",
                )),
            ),
            (
                "429".to_string(),
                RefOr::T(error(
                    "RATE_LIMITED: the token's subject is over its rate limit (`orch up --api-rate-limit`); the Retry-After header says when to try again",
                )),
            ),
        ])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    /// Every path and method the hand-written document had (before it was generated).
    const DOCUMENTED_BEFORE: &[(&str, &[&str])] = &[
        ("/api/v1/workloads/deployments", &["post", "get"]),
        ("/api/v1/workloads/deployments/undelete", &["post"]),
        (
            "/api/v1/workloads/deployments/{id}",
            &["get", "delete", "patch"],
        ),
        ("/api/v1/workloads/deployments/{id}/scale", &["post"]),
        ("/api/v1/workloads/deployments/{id}/rollback", &["post"]),
        (
            "/api/v1/workloads/deployments/{id}/rollout/{action}",
            &["post"],
        ),
        ("/api/v1/workloads/deployments/{id}/revisions", &["get"]),
        ("/api/v1/workloads/deployments/{id}/rollouts", &["get"]),
        ("/api/v1/workloads/deployments/{id}/pods", &["get"]),
        ("/api/v1/workloads/jobs", &["post", "get"]),
        ("/api/v1/workloads/jobs/{id}", &["get", "delete"]),
        ("/api/v1/workloads/jobs/{id}/pods", &["get"]),
        ("/api/v1/workloads/cronjobs", &["post", "get"]),
        (
            "/api/v1/workloads/cronjobs/{id}",
            &["get", "patch", "delete"],
        ),
        ("/api/v1/workloads/cronjobs/{id}/jobs", &["get"]),
        ("/api/v1/workloads/statefulsets", &["post", "get"]),
        (
            "/api/v1/workloads/statefulsets/{id}",
            &["get", "patch", "delete"],
        ),
        ("/api/v1/workloads/statefulsets/{id}/scale", &["post"]),
        ("/api/v1/workloads/statefulsets/{id}/rollback", &["post"]),
        ("/api/v1/workloads/statefulsets/{id}/revisions", &["get"]),
        ("/api/v1/workloads/statefulsets/{id}/pods", &["get"]),
        ("/api/v1/events", &["get"]),
        ("/api/v1/services", &["post", "get"]),
        ("/api/v1/services/{id}", &["get", "delete"]),
        ("/api/v1/services/{id}/endpoints", &["get"]),
        ("/api/v1/pods/{id}", &["get"]),
        ("/api/v1/pods/{id}/logs", &["get"]),
        ("/api/v1/pods/{id}/status", &["post"]),
        ("/api/v1/pods/{id}/placement", &["get"]),
        ("/api/v1/pods/{id}/eviction", &["post"]),
        ("/api/v1/nodes/health", &["get"]),
        ("/api/v1/nodes", &["post"]),
        ("/api/v1/nodes/{id}", &["get"]),
        ("/api/v1/nodes/{id}/heartbeat", &["post"]),
        ("/api/v1/nodes/{id}/pods", &["get"]),
        ("/api/v1/nodes/{id}/cordon", &["post"]),
        ("/api/v1/nodes/{id}/uncordon", &["post"]),
        ("/api/v1/nodes/{id}/drain", &["post"]),
        ("/api/v1/nodes/{id}/taints", &["put"]),
        ("/api/v1/auth/token", &["delete"]),
        ("/metrics", &["get"]),
    ];

    #[test]
    #[ignore = "prints the document"]
    fn print() {
        println!("{}", serde_json::to_string_pretty(&doc()).unwrap());
    }

    fn doc() -> Value {
        serde_json::to_value(super::build()).unwrap()
    }

    /// The schema a `$ref` points at, or the schema itself.
    fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
            None => schema,
        }
    }

    #[test]
    fn every_path_and_method_documented_before_is_still_documented() {
        let doc = doc();
        for (path, methods) in DOCUMENTED_BEFORE {
            for m in *methods {
                assert!(
                    doc["paths"][path][m].is_object(),
                    "{} {path} is not documented",
                    m.to_uppercase()
                );
            }
        }
    }

    #[test]
    fn no_route_is_registered_without_its_documentation() {
        // `OpenApiRouter::route` would serve a handler the document does not list.
        let sources = [
            ("mod.rs", include_str!("mod.rs")),
            ("deployments.rs", include_str!("deployments.rs")),
            ("jobs.rs", include_str!("jobs.rs")),
            ("cronjobs.rs", include_str!("cronjobs.rs")),
            ("statefulsets.rs", include_str!("statefulsets.rs")),
            ("nodes.rs", include_str!("nodes.rs")),
            ("pods.rs", include_str!("pods.rs")),
            ("services.rs", include_str!("services.rs")),
            ("events.rs", include_str!("events.rs")),
            ("namespaces.rs", include_str!("namespaces.rs")),
            ("identities.rs", include_str!("identities.rs")),
            ("rbac.rs", include_str!("rbac.rs")),
        ];
        for (file, source) in sources {
            for call in [".route(", ".route_service(", ".nest_service("] {
                assert!(
                    !source.contains(call),
                    "{file} registers a route with {call}…): give the handler a #[utoipa::path] and register it with .routes(routes!(…))"
                );
            }
        }
    }

    #[test]
    fn every_documented_route_has_an_access_rule() {
        // A route without one is refused to everyone (`access::check`).
        let doc = doc();
        let mut missing = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            if super::PUBLIC.contains(&path.as_str()) {
                continue;
            }
            for m in ["get", "put", "post", "delete", "patch"] {
                if item[m].is_object() {
                    let method =
                        axum::http::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
                    if crate::access::of(&method, path).is_none() {
                        missing.push(format!("{} {path}", m.to_uppercase()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "routes without an access rule: {missing:?}"
        );
    }

    #[test]
    fn every_route_of_the_router_is_documented() {
        // The router is the document's: `api()` registers both.
        let doc = doc();
        let paths = doc["paths"].as_object().unwrap();
        for extra in ["/healthz", "/api/v1/openapi.json"] {
            assert!(paths.contains_key(extra), "{extra} is not documented");
        }
        assert!(doc["paths"]["/api/v1/nodes"]["get"].is_object());
    }

    #[test]
    fn a_statefulset_create_documents_its_body_with_the_real_field_names() {
        let doc = doc();
        let op = &doc["paths"]["/api/v1/workloads/statefulsets"]["post"];
        let body = resolve(
            &doc,
            &op["requestBody"]["content"]["application/json"]["schema"],
        );
        for field in [
            "updateStrategy",
            "volumeClaimTemplate",
            "podManagementPolicy",
            "template",
        ] {
            assert!(
                body["properties"][field].is_object(),
                "no {field} in {body:#}"
            );
        }
        assert_eq!(body["additionalProperties"], json!(false));
        let required = body["required"].as_array().unwrap();
        assert!(required.contains(&json!("namespace")) && required.contains(&json!("template")));
        assert!(!required.contains(&json!("replicas")));
    }

    #[test]
    fn a_deployment_create_documents_its_body_and_its_errors() {
        let doc = doc();
        let op = &doc["paths"]["/api/v1/workloads/deployments"]["post"];
        let body = resolve(
            &doc,
            &op["requestBody"]["content"]["application/json"]["schema"],
        );
        for field in [
            "namespace",
            "replicas",
            "readinessProbe",
            "topologySpreadConstraints",
            "tolerations",
        ] {
            assert!(
                body["properties"][field].is_object(),
                "no {field} in {body:#}"
            );
        }
        assert_eq!(body["additionalProperties"], json!(false));
        let err = json!("#/components/schemas/Error");
        for status in ["400", "401", "409", "413", "415", "422", "500", "503"] {
            assert_eq!(
                op["responses"][status]["content"]["application/json"]["schema"]["$ref"], err,
                "{status} of POST /api/v1/workloads/deployments"
            );
        }
        let error = &doc["components"]["schemas"]["Error"];
        assert!(error["properties"]["error"].is_object(), "{error:#}");
        assert!(op["responses"]["201"]["headers"]["X-Orch-Offset"].is_object());
    }

    #[test]
    fn reads_take_min_offset_and_as_of() {
        let doc = doc();
        let params = doc["paths"]["/api/v1/workloads/deployments/{id}"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let names: Vec<_> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
        for n in ["id", "asOf", "minOffset", "X-Orch-Min-Offset"] {
            assert!(names.contains(&n), "{n} not in {names:?}");
        }
        let id = params.iter().find(|p| p["name"] == "id").unwrap();
        assert_eq!(id["in"], "path");
        assert_eq!(id["schema"]["format"], "uuid");
    }

    #[test]
    fn every_operation_has_a_unique_id_and_the_public_ones_need_no_token() {
        let doc = doc();
        let mut seen = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(
                    seen.insert(id.clone()),
                    "operationId {id} twice ({method} {path})"
                );
            }
        }
        assert_eq!(doc["paths"]["/metrics"]["get"]["security"], json!([]));
        assert_eq!(doc["security"], json!([{"bearer": []}]));
        assert_eq!(doc["info"]["title"], "orch command API");
    }
}
