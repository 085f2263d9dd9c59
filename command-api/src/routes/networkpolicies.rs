//! Network policies (`/api/v1/namespaces/{name}/networkpolicies`): which
//! callers may reach a namespace's pods through the gateway. Reads come
//! from this instance's view of the log.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use domain::command as cmd;
use domain::command::Command;
use domain::networkpolicy::{NetworkPolicy, NetworkPolicySpec};
use serde_json::{Value, json};

use super::openapi::{
    BadBody, BadWrite, Degraded, Invalid, NotFound, NotJson, Rejected, TooLarge, Unauthenticated,
    WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, parse_name as name};
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(list_policies))
        .routes(routes!(read_policy, put_policy, delete_policy))
}

fn policy_json(p: &NetworkPolicy) -> Value {
    json!({
        "namespace": p.namespace.as_str(),
        "name": p.name.as_str(),
        "podSelector": p.spec.pod_selector,
        "ingress": p.spec.ingress,
    })
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/networkpolicies", tag = "networkpolicies",
    summary = "The namespace's network policies",
    params(("name" = String, Path, description = "The namespace")),
    responses((status = 200, description = "`{items: [{namespace, name, podSelector, ingress}]}`", body = Value), Unauthenticated))]
async fn list_policies(State(s): State<S>, _: Actor, Path(ns): Path<String>) -> Json<Value> {
    let st = s.view.state.read().await;
    let items: Vec<Value> = st
        .network_policies
        .values()
        .filter(|p| p.namespace.as_str() == ns)
        .map(policy_json)
        .collect();
    Json(json!({"items": items}))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/networkpolicies/{policy}", tag = "networkpolicies",
    summary = "A network policy",
    params(("name" = String, Path, description = "The namespace"), ("policy" = String, Path, description = "The policy's name")),
    responses((status = 200, description = "`{namespace, name, podSelector, ingress}`", body = Value), Unauthenticated, NotFound))]
async fn read_policy(
    State(s): State<S>,
    _: Actor,
    Path((ns, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let st = s.view.state.read().await;
    st.network_policies
        .get(&format!("{ns}/{raw}"))
        .map(|p| Json(policy_json(p)))
        .ok_or_else(|| {
            ApiError::not_found(format!("no network policy '{raw}' in namespace '{ns}'"))
        })
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/networkpolicies/{policy}", tag = "networkpolicies",
    summary = "Create or replace a network policy: the pods it selects take only what its rules (and other policies selecting them) allow",
    params(("name" = String, Path, description = "The namespace"), ("policy" = String, Path, description = "The policy's name"), WriteHeaders),
    request_body = NetworkPolicySpec,
    responses(
        (status = 200, description = "`{namespace, name, status: CREATED|UPDATED|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN: `update networkpolicies` in the namespace", body = ErrorBody),
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn put_policy(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
    Body(spec): Body<NetworkPolicySpec>,
) -> Result<Json<Value>, ApiError> {
    let namespace = name("namespace", &ns)?;
    let policy = name("name", &raw)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::PutNetworkPolicy(cmd::PutNetworkPolicy {
            namespace,
            name: policy,
            spec,
        }),
    )
    .await?;
    let status = match events.first().map(|e| &e.body) {
        None => "UNCHANGED",
        Some(domain::Event::NetworkPolicySet(e)) if e.created => "CREATED",
        Some(_) => "UPDATED",
    };
    Ok(Json(
        json!({"namespace": ns, "name": raw, "status": status}),
    ))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/networkpolicies/{policy}", tag = "networkpolicies",
    summary = "Delete a network policy",
    params(("name" = String, Path, description = "The namespace"), ("policy" = String, Path, description = "The policy's name"), WriteHeaders),
    responses((status = 200, description = "`{namespace, name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_policy(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::write::on_named(&s, &headers, &actor, path, "DELETED", |namespace, name| {
        Command::DeleteNetworkPolicy(cmd::DeleteNetworkPolicy { namespace, name })
    })
    .await
}
