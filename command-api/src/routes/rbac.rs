//! RBAC: cluster roles and a namespace's roles (`rules: [{verbs,
//! resources}]`), cluster bindings and a namespace's bindings (`role`,
//! `subjects`), `can-i` and `who-can`. A set is `PUT` (create or replace);
//! nobody grants what they do not hold. Reads come from this instance's
//! view of the log, the built-ins included.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use domain::command as cmd;
use domain::command::Command;
use domain::names::Name;
use domain::rbac::authorize::{self, Grant};
use domain::rbac::needs::Need;
use domain::rbac::{Role, RoleBinding, RoleRef, Rule, Subject, Verb, builtin, key};
use serde::Deserialize;
use serde_json::{Value, json};

use super::openapi::{
    BadBody, BadRead, BadWrite, Degraded, Invalid, NotFound, NotJson, Rejected, TooLarge,
    Unauthenticated, WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, parse_name as name};
use crate::json::ApiQuery;
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(list_cluster_roles))
        .routes(routes!(
            put_cluster_role,
            read_cluster_role,
            delete_cluster_role
        ))
        .routes(routes!(list_roles))
        .routes(routes!(put_role, read_role, delete_role))
        .routes(routes!(list_cluster_bindings))
        .routes(routes!(
            put_cluster_binding,
            read_cluster_binding,
            delete_cluster_binding
        ))
        .routes(routes!(list_bindings))
        .routes(routes!(put_binding, read_binding, delete_binding))
        .routes(routes!(can_i))
        .routes(routes!(who_can))
}

fn role_json(r: &Role, built_in: bool) -> Value {
    json!({"namespace": r.namespace, "name": r.name, "rules": r.rules, "builtIn": built_in})
}

fn binding_json(b: &RoleBinding, built_in: bool) -> Value {
    json!({"namespace": b.namespace, "name": b.name, "role": b.role, "subjects": b.subjects, "builtIn": built_in})
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = RoleSpec)]
struct RoleDto {
    rules: Vec<Rule>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = RoleBindingSpec)]
struct BindingDto {
    role: RoleRef,
    subjects: Vec<Subject>,
}

async fn put_role_in(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    namespace: Option<Name>,
    name: Name,
    dto: RoleDto,
) -> Result<Json<Value>, ApiError> {
    let events = execute(
        s,
        headers,
        actor,
        None,
        Command::PutRole(cmd::PutRole {
            namespace: namespace.clone(),
            name: name.clone(),
            rules: dto.rules,
        }),
    )
    .await?;
    let created = events
        .iter()
        .any(|e| matches!(&e.body, domain::Event::RoleSet(r) if r.created));
    Ok(Json(
        json!({"namespace": namespace, "name": name, "status": if events.is_empty() { "UNCHANGED" } else if created { "CREATED" } else { "UPDATED" }}),
    ))
}

async fn delete_role_in(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    namespace: Option<Name>,
    name: Name,
) -> Result<Json<Value>, ApiError> {
    execute(
        s,
        headers,
        actor,
        None,
        Command::DeleteRole(cmd::DeleteRole {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
    )
    .await?;
    Ok(Json(
        json!({"namespace": namespace, "name": name, "status": "DELETED"}),
    ))
}

async fn put_binding_in(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    namespace: Option<Name>,
    name: Name,
    dto: BindingDto,
) -> Result<Json<Value>, ApiError> {
    let events = execute(
        s,
        headers,
        actor,
        None,
        Command::PutRoleBinding(cmd::PutRoleBinding {
            namespace: namespace.clone(),
            name: name.clone(),
            role: dto.role,
            subjects: dto.subjects,
        }),
    )
    .await?;
    let (added, removed) = events
        .iter()
        .find_map(|e| match &e.body {
            domain::Event::RoleBindingSet(b) => Some((json!(b.added), json!(b.removed))),
            _ => None,
        })
        .unwrap_or((json!([]), json!([])));
    Ok(Json(
        json!({"namespace": namespace, "name": name, "added": added, "removed": removed,
        "status": if events.is_empty() { "UNCHANGED" } else { "SET" }}),
    ))
}

async fn delete_binding_in(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    namespace: Option<Name>,
    name: Name,
) -> Result<Json<Value>, ApiError> {
    execute(
        s,
        headers,
        actor,
        None,
        Command::DeleteRoleBinding(cmd::DeleteRoleBinding {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
    )
    .await?;
    Ok(Json(
        json!({"namespace": namespace, "name": name, "status": "DELETED"}),
    ))
}

// ---- cluster roles

#[utoipa::path(get, path = "/api/v1/clusterroles", tag = "rbac", summary = "Cluster roles: the built-ins (viewer, editor, admin, cluster-admin, system:…) and the cluster's own",
    responses((status = 200, description = "`{items: [{name, rules, builtIn}]}`", body = Value), Unauthenticated))]
async fn list_cluster_roles(State(s): State<S>, _: Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let mut items: Vec<Value> = builtin::roles()
        .iter()
        .map(|r| role_json(r, true))
        .collect();
    items.extend(
        st.rbac
            .roles
            .values()
            .filter(|r| r.namespace.is_none())
            .map(|r| role_json(r, false)),
    );
    Json(json!({"items": items}))
}

#[utoipa::path(put, path = "/api/v1/clusterroles/{role}", tag = "rbac",
    summary = "Create or replace a cluster role (only with rules the caller holds cluster-wide, or with `escalate` on roles)",
    params(("role" = String, Path, description = "The role's name"), WriteHeaders), request_body = RoleDto,
    responses(
        (status = 200, description = "`{name, status: CREATED|UPDATED|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN (a permission the caller lacks, or would grant without holding it); BUILT_IN", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn put_cluster_role(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<RoleDto>,
) -> Result<Json<Value>, ApiError> {
    put_role_in(&s, &headers, &actor, None, name("name", &raw)?, dto).await
}

#[utoipa::path(get, path = "/api/v1/clusterroles/{role}", tag = "rbac", summary = "A cluster role",
    params(("role" = String, Path, description = "The role's name")),
    responses((status = 200, description = "`{name, rules, builtIn}`", body = Value), Unauthenticated, NotFound))]
async fn read_cluster_role(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if let Some(r) = builtin::role(&raw) {
        return Ok(Json(role_json(r, true)));
    }
    let st = s.view.state.read().await;
    st.rbac
        .roles
        .get(&key(None, &raw))
        .map(|r| Json(role_json(r, false)))
        .ok_or_else(|| ApiError::not_found(format!("cluster role '{raw}' not found")))
}

#[utoipa::path(delete, path = "/api/v1/clusterroles/{role}", tag = "rbac", summary = "Delete a cluster role (its bindings then grant nothing)",
    params(("role" = String, Path, description = "The role's name"), WriteHeaders),
    responses((status = 200, description = "`{name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN; BUILT_IN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_cluster_role(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    delete_role_in(&s, &headers, &actor, None, name("name", &raw)?).await
}

// ---- a namespace's roles

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/roles", tag = "rbac", summary = "A namespace's roles",
    params(("name" = String, Path, description = "The namespace")),
    responses((status = 200, description = "`{items: [{namespace, name, rules}]}`", body = Value), Unauthenticated))]
async fn list_roles(State(s): State<S>, _: Actor, Path(ns): Path<String>) -> Json<Value> {
    let st = s.view.state.read().await;
    let items: Vec<Value> = st
        .rbac
        .roles
        .values()
        .filter(|r| r.namespace.as_deref() == Some(ns.as_str()))
        .map(|r| role_json(r, false))
        .collect();
    Json(json!({"items": items}))
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/roles/{role}", tag = "rbac",
    summary = "Create or replace a role of the namespace (only with rules the caller holds there, or with `escalate` on roles)",
    params(("name" = String, Path, description = "The namespace"), ("role" = String, Path, description = "The role's name"), WriteHeaders),
    request_body = RoleDto,
    responses(
        (status = 200, description = "`{namespace, name, status: CREATED|UPDATED|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN (a permission the caller lacks, or would grant without holding it)", body = ErrorBody),
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn put_role(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
    Body(dto): Body<RoleDto>,
) -> Result<Json<Value>, ApiError> {
    put_role_in(
        &s,
        &headers,
        &actor,
        Some(name("namespace", &ns)?),
        name("name", &raw)?,
        dto,
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/roles/{role}", tag = "rbac", summary = "A role of the namespace",
    params(("name" = String, Path, description = "The namespace"), ("role" = String, Path, description = "The role's name")),
    responses((status = 200, description = "`{namespace, name, rules}`", body = Value), Unauthenticated, NotFound))]
async fn read_role(
    State(s): State<S>,
    _: Actor,
    Path((ns, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let st = s.view.state.read().await;
    st.rbac
        .roles
        .get(&key(Some(&ns), &raw))
        .map(|r| Json(role_json(r, false)))
        .ok_or_else(|| ApiError::not_found(format!("role '{raw}' not found in namespace '{ns}'")))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/roles/{role}", tag = "rbac", summary = "Delete a role of the namespace",
    params(("name" = String, Path, description = "The namespace"), ("role" = String, Path, description = "The role's name"), WriteHeaders),
    responses((status = 200, description = "`{namespace, name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_role(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    delete_role_in(
        &s,
        &headers,
        &actor,
        Some(name("namespace", &ns)?),
        name("name", &raw)?,
    )
    .await
}

// ---- cluster bindings

#[utoipa::path(get, path = "/api/v1/clusterrolebindings", tag = "rbac", summary = "Cluster bindings: the built-ins and the cluster's own",
    responses((status = 200, description = "`{items: [{name, role, subjects, builtIn}]}`", body = Value), Unauthenticated))]
async fn list_cluster_bindings(State(s): State<S>, _: Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let mut items: Vec<Value> = builtin::bindings()
        .iter()
        .map(|b| binding_json(b, true))
        .collect();
    items.extend(
        st.rbac
            .bindings
            .values()
            .filter(|b| b.namespace.is_none())
            .map(|b| binding_json(b, false)),
    );
    Json(json!({"items": items}))
}

#[utoipa::path(put, path = "/api/v1/clusterrolebindings/{binding}", tag = "rbac",
    summary = "Create or replace a cluster binding: gives a cluster role to users, groups or service accounts everywhere (only a role whose rules the caller holds cluster-wide, or with `bind` on roles)",
    params(("binding" = String, Path, description = "The binding's name"), WriteHeaders), request_body = BindingDto,
    responses(
        (status = 200, description = "`{name, added, removed, status: SET|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN (a permission the caller lacks, or would grant without holding it); BUILT_IN", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such role", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn put_cluster_binding(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<BindingDto>,
) -> Result<Json<Value>, ApiError> {
    put_binding_in(&s, &headers, &actor, None, name("name", &raw)?, dto).await
}

#[utoipa::path(get, path = "/api/v1/clusterrolebindings/{binding}", tag = "rbac", summary = "A cluster binding",
    params(("binding" = String, Path, description = "The binding's name")),
    responses((status = 200, description = "`{name, role, subjects, builtIn}`", body = Value), Unauthenticated, NotFound))]
async fn read_cluster_binding(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if let Some(b) = builtin::bindings().iter().find(|b| b.name == raw) {
        return Ok(Json(binding_json(b, true)));
    }
    let st = s.view.state.read().await;
    st.rbac
        .bindings
        .get(&key(None, &raw))
        .map(|b| Json(binding_json(b, false)))
        .ok_or_else(|| ApiError::not_found(format!("cluster binding '{raw}' not found")))
}

#[utoipa::path(delete, path = "/api/v1/clusterrolebindings/{binding}", tag = "rbac", summary = "Delete a cluster binding: its subjects lose its role at once",
    params(("binding" = String, Path, description = "The binding's name"), WriteHeaders),
    responses((status = 200, description = "`{name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN; BUILT_IN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_cluster_binding(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    delete_binding_in(&s, &headers, &actor, None, name("name", &raw)?).await
}

// ---- a namespace's bindings

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/rolebindings", tag = "rbac", summary = "A namespace's bindings",
    params(("name" = String, Path, description = "The namespace")),
    responses((status = 200, description = "`{items: [{namespace, name, role, subjects}]}`", body = Value), Unauthenticated))]
async fn list_bindings(State(s): State<S>, _: Actor, Path(ns): Path<String>) -> Json<Value> {
    let st = s.view.state.read().await;
    let items: Vec<Value> = st
        .rbac
        .bindings
        .values()
        .filter(|b| b.namespace.as_deref() == Some(ns.as_str()))
        .map(|b| binding_json(b, false))
        .collect();
    Json(json!({"items": items}))
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/rolebindings/{binding}", tag = "rbac",
    summary = "Create or replace a binding of the namespace: gives a role of the namespace, or a cluster role within it (only a role whose rules the caller holds there, or with `bind` on roles)",
    params(("name" = String, Path, description = "The namespace"), ("binding" = String, Path, description = "The binding's name"), WriteHeaders),
    request_body = BindingDto,
    responses(
        (status = 200, description = "`{namespace, name, added, removed, status: SET|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN (a permission the caller lacks, or would grant without holding it)", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: no such role; NAMESPACE_NOT_FOUND", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn put_binding(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
    Body(dto): Body<BindingDto>,
) -> Result<Json<Value>, ApiError> {
    put_binding_in(
        &s,
        &headers,
        &actor,
        Some(name("namespace", &ns)?),
        name("name", &raw)?,
        dto,
    )
    .await
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/rolebindings/{binding}", tag = "rbac", summary = "A binding of the namespace",
    params(("name" = String, Path, description = "The namespace"), ("binding" = String, Path, description = "The binding's name")),
    responses((status = 200, description = "`{namespace, name, role, subjects}`", body = Value), Unauthenticated, NotFound))]
async fn read_binding(
    State(s): State<S>,
    _: Actor,
    Path((ns, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let st = s.view.state.read().await;
    st.rbac
        .bindings
        .get(&key(Some(&ns), &raw))
        .map(|b| Json(binding_json(b, false)))
        .ok_or_else(|| {
            ApiError::not_found(format!("binding '{raw}' not found in namespace '{ns}'"))
        })
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/rolebindings/{binding}", tag = "rbac", summary = "Delete a binding of the namespace",
    params(("name" = String, Path, description = "The namespace"), ("binding" = String, Path, description = "The binding's name"), WriteHeaders),
    responses((status = 200, description = "`{namespace, name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_binding(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    delete_binding_in(
        &s,
        &headers,
        &actor,
        Some(name("namespace", &ns)?),
        name("name", &raw)?,
    )
    .await
}

// ---- questions

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct PermissionQuery {
    /// get, list, watch, create, update, delete, scale, rollout, rollback, logs, read-secrets, bind, escalate
    verb: String,
    /// e.g. deployments, pods, secrets, roles
    resource: String,
    /// Leave out for a cluster-scoped resource, or to ask about every namespace.
    namespace: Option<String>,
}

fn parse_need(q: &PermissionQuery) -> Result<Need, ApiError> {
    let mut errors = Vec::new();
    let verb = q.verb.parse::<Verb>().map_err(|_| {
        errors.push(domain::names::FieldError::new(
            "verb",
            format!("'{}' is not a verb", q.verb),
        ))
    });
    let resource = domain::rbac::resource(&q.resource).ok_or_else(|| {
        errors.push(domain::names::FieldError::new(
            "resource",
            format!(
                "'{}' is not a resource: use one of {}",
                q.resource,
                domain::rbac::RESOURCES.join(", ")
            ),
        ))
    });
    if let Some(ns) = &q.namespace
        && let Err(e) = Name::parse("namespace", ns)
    {
        errors.push(e);
    }
    match (verb, resource) {
        (Ok(verb), Ok(resource)) if errors.is_empty() => Ok(Need {
            verb,
            resource,
            namespace: q.namespace.clone(),
        }),
        _ => Err(ApiError::validation(errors)),
    }
}

fn grant_json(g: &Grant) -> Value {
    json!({"binding": g.binding, "role": g.role})
}

#[utoipa::path(get, path = "/api/v1/auth/can-i", tag = "auth",
    summary = "May the caller do this? And if so, through which binding",
    params(PermissionQuery),
    responses(
        (status = 200, description = "`{allowed, actor, verb, resource, namespace, binding?, role?}`", body = Value),
        BadRead, Unauthenticated, Invalid,
    ))]
async fn can_i(
    State(s): State<S>,
    Actor(actor): Actor,
    ApiQuery(q): ApiQuery<PermissionQuery>,
) -> Result<Json<Value>, ApiError> {
    let need = parse_need(&q)?;
    let st = s.view.state.read().await;
    let grant = authorize::grant(&st, &actor, &need);
    let mut v = json!({"allowed": grant.is_some(), "actor": actor, "verb": need.verb,
        "resource": need.resource, "namespace": need.namespace});
    if let Some(g) = grant {
        v["binding"] = json!(g.binding);
        v["role"] = json!(g.role);
    }
    Ok(Json(v))
}

#[utoipa::path(get, path = "/api/v1/auth/who-can", tag = "auth",
    summary = "Every subject that may do this, and through which binding (groups as groups, and the users known to be in them)",
    params(PermissionQuery),
    responses(
        (status = 200, description = "`{verb, resource, namespace, subjects: [{kind, name, namespace?, binding, role}]}`", body = Value),
        BadRead, Unauthenticated, Invalid,
    ))]
async fn who_can(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<PermissionQuery>,
) -> Result<Json<Value>, ApiError> {
    let need = parse_need(&q)?;
    let st = s.view.state.read().await;
    let subjects: Vec<Value> = authorize::who_can(&st, &need)
        .into_iter()
        .map(|(subject, g)| {
            let mut v = serde_json::to_value(&subject).unwrap_or(Value::Null);
            if let (Value::Object(m), Value::Object(g)) = (&mut v, grant_json(&g)) {
                m.extend(g);
            }
            v
        })
        .collect();
    Ok(Json(
        json!({"verb": need.verb, "resource": need.resource, "namespace": need.namespace, "subjects": subjects}),
    ))
}
