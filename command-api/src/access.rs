//! What each route needs before its handler runs. Writes need what their
//! command needs (`authorize::command`, checked in `write::execute` and
//! again by the decider); every other route is listed here, and a route
//! that is not is refused (a test requires every documented route to be
//! listed). The namespace comes from the path, the query, or the object the
//! path names.

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use domain::rbac::Verb::{self, *};
use domain::rbac::authorize;
use domain::rbac::needs::Need;
use serde_json::json;

use crate::error::ApiError;
use crate::state::AppState;

/// Where a route's namespace comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// A cluster-scoped resource, or every namespace.
    Cluster,
    /// `?namespace=` (every namespace without it).
    Query,
    /// The `{name}` (or `{ns}`) path segment is the namespace.
    Path,
    /// The namespace of the object `{id}` names.
    Object,
    /// `?namespace=`, else the namespace of the object `?aggregate=` names.
    Events,
}

/// What a route asks of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any authenticated subject (its own things: whoami, its own token).
    Own,
    /// Decided with the command the handler builds.
    Command,
    Needs(Verb, &'static str, Scope),
}

/// The access rule of a route, by method and path template.
pub fn of(method: &Method, path: &str) -> Option<Access> {
    use Access::*;
    use Scope::*;
    let p = path.strip_prefix("/api/v1").unwrap_or(path);
    if *method != Method::GET {
        return Some(match (method.as_str(), p) {
            ("DELETE", "/auth/token") => Own,
            ("POST", "/nodes/{id}/heartbeat") => Needs(Update, "nodes/status", Cluster),
            _ => Command,
        });
    }
    Some(match p {
        "/auth/whoami" | "/auth/can-i" | "/tokens" => Own,
        "/auth/who-can" => Needs(List, "rolebindings", Query),
        "/events" => Needs(List, "events", Events),
        "/workloads/deployments" => Needs(List, "deployments", Query),
        "/workloads/deployments/{id}"
        | "/workloads/deployments/{id}/revisions"
        | "/workloads/deployments/{id}/rollouts" => Needs(Get, "deployments", Object),
        "/workloads/deployments/{id}/pods" => Needs(List, "pods", Object),
        "/workloads/statefulsets" => Needs(List, "statefulsets", Query),
        "/workloads/statefulsets/{id}" | "/workloads/statefulsets/{id}/revisions" => {
            Needs(Get, "statefulsets", Object)
        }
        "/workloads/statefulsets/{id}/pods" => Needs(List, "pods", Object),
        "/workloads/jobs" => Needs(List, "jobs", Query),
        "/workloads/jobs/{id}" => Needs(Get, "jobs", Object),
        "/workloads/jobs/{id}/pods" => Needs(List, "pods", Object),
        "/workloads/cronjobs" => Needs(List, "cronjobs", Query),
        "/workloads/cronjobs/{id}" => Needs(Get, "cronjobs", Object),
        "/workloads/cronjobs/{id}/jobs" => Needs(List, "jobs", Object),
        "/services" => Needs(List, "services", Query),
        "/services/{id}" | "/services/{id}/endpoints" => Needs(Get, "services", Object),
        "/pods/{id}" | "/pods/{id}/placement" => Needs(Get, "pods", Object),
        "/pods/{id}/logs" => Needs(Logs, "pods", Object),
        "/nodes" | "/nodes/{id}/pods" => Needs(List, "nodes", Cluster),
        "/nodes/health" | "/nodes/{id}" => Needs(Get, "nodes", Cluster),
        "/namespaces" => Needs(List, "namespaces", Cluster),
        "/namespaces/{name}" => Needs(Get, "namespaces", Path),
        "/namespaces/{name}/quota" => Needs(Get, "resourcequotas", Path),
        "/namespaces/{name}/limitrange" => Needs(Get, "limitranges", Path),
        "/namespaces/{name}/serviceaccounts" => Needs(List, "serviceaccounts", Path),
        "/namespaces/{name}/roles" => Needs(List, "roles", Path),
        "/namespaces/{name}/roles/{role}" => Needs(Get, "roles", Path),
        "/namespaces/{name}/rolebindings" => Needs(List, "rolebindings", Path),
        "/namespaces/{name}/rolebindings/{binding}" => Needs(Get, "rolebindings", Path),
        "/clusterroles" => Needs(List, "roles", Cluster),
        "/clusterroles/{role}" => Needs(Get, "roles", Cluster),
        "/clusterrolebindings" => Needs(List, "rolebindings", Cluster),
        "/clusterrolebindings/{binding}" => Needs(Get, "rolebindings", Cluster),
        "/namespaces/{name}/networkpolicies" => Needs(List, "networkpolicies", Path),
        "/namespaces/{name}/networkpolicies/{policy}" => Needs(Get, "networkpolicies", Path),
        "/namespaces/{name}/secrets" => Needs(List, "secrets", Path),
        "/namespaces/{name}/secrets/{secret}" => Needs(Get, "secrets", Path),
        "/namespaces/{name}/secrets/{secret}/data" => Needs(ReadSecrets, "secrets", Path),
        "/secrets/key-rotations" | "/secrets/key-rotations/{rotation}" => {
            Needs(Get, "secrets", Cluster)
        }
        "/users" => Needs(List, "users", Cluster),
        "/users/{user}" => Needs(Get, "users", Cluster),
        _ => return None,
    })
}

/// The 403 for a missing permission, with what was missing as details.
pub fn forbidden(message: String, need: Option<&Need>) -> ApiError {
    let mut e = ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message);
    e.details =
        need.map(|n| json!({"verb": n.verb, "resource": n.resource, "namespace": n.namespace}));
    e
}

/// Check the route's rule for `actor`. `params` are the path's, `query` the query string's.
pub async fn check(
    s: &AppState,
    actor: &str,
    method: &Method,
    path: &str,
    params: &HashMap<String, String>,
    query: &HashMap<String, String>,
) -> Result<(), ApiError> {
    if !s.authorize {
        return Ok(());
    }
    let (verb, resource, scope) = match of(method, path) {
        Some(Access::Own | Access::Command) => return Ok(()),
        Some(Access::Needs(v, r, scope)) => (v, r, scope),
        None => {
            return Err(forbidden(
                format!("{method} {path} is not open to {actor}: no access rule covers it"),
                None,
            ));
        }
    };
    let object = |key: &str| {
        params
            .get(key)
            .or_else(|| query.get(key))
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
    };
    let namespace = match scope {
        Scope::Cluster => None,
        Scope::Query => query.get("namespace").cloned(),
        Scope::Path => params.get("name").cloned(),
        Scope::Object => match object("id") {
            Some(id) => object_namespace(s, id).await,
            None => None,
        },
        Scope::Events => match query.get("namespace") {
            Some(ns) => Some(ns.clone()),
            None => match object("aggregate").or_else(|| object("owner")) {
                Some(id) => object_namespace(s, id).await,
                None => None,
            },
        },
    };
    let need = Need {
        verb,
        resource,
        namespace,
    };
    let state = s.view.state.read().await;
    match authorize::grant(&state, actor, &need) {
        Some(_) => Ok(()),
        None => Err(forbidden(
            authorize::forbidden(actor, &need).message,
            Some(&need),
        )),
    }
}

/// The namespace of the object `id`, waiting briefly for this instance's
/// view when it has not seen the object yet (it was just created).
async fn object_namespace(s: &AppState, id: uuid::Uuid) -> Option<String> {
    if let Some(ns) = s.view.state.read().await.namespace_of(id) {
        return Some(ns.to_string());
    }
    let end = s.outcomes.log_end();
    let mut rx = s.view.offset.clone();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        rx.wait_for(|o| *o >= end),
    )
    .await;
    s.view
        .state
        .read()
        .await
        .namespace_of(id)
        .map(|n| n.to_string())
}
