//! Identities: users (`/api/v1/users`), a namespace's service accounts
//! (`/api/v1/namespaces/{name}/serviceaccounts`), API tokens
//! (`/api/v1/tokens`: for oneself, or for another subject by whoever may),
//! and `whoami`. Reads come from this instance's view of the log.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use domain::command as cmd;
use domain::command::Command;
use domain::identity::{
    ADMIN, MAX_TOKEN_TTL_SECS, Principal, SERVICE_ACCOUNT_TOKEN_TTL_SECS, USER_TOKEN_TTL_SECS,
    UserName, parse_group,
};
use domain::names::{FieldError, Name};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{
    BadBody, BadWrite, Degraded, Invalid, NotFound, NotJson, Rejected, TooLarge, Unauthenticated,
    WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body};
use crate::state::S;
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(read_user, update_user, delete_user))
        .routes(routes!(create_service_account, list_service_accounts))
        .routes(routes!(delete_service_account))
        .routes(routes!(issue_token, list_tokens))
        .routes(routes!(revoke_token))
        .routes(routes!(whoami))
}

fn user_name(raw: &str) -> Result<UserName, ApiError> {
    UserName::parse("name", raw).map_err(|e| ApiError::validation(vec![e]))
}

fn groups(raw: &[String]) -> Result<BTreeSet<String>, ApiError> {
    let mut errors = Vec::new();
    let mut out = BTreeSet::new();
    for (i, g) in raw.iter().enumerate() {
        match parse_group(&format!("groups[{i}]"), g) {
            Ok(g) => {
                out.insert(g);
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(errors))
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = UserCreate)]
struct UserDto {
    name: String,
    #[serde(default)]
    groups: Vec<String>,
}

#[utoipa::path(post, path = "/api/v1/users", tag = "identities",
    summary = "Create a user (then give it roles with bindings, and a token with POST /api/v1/tokens)",
    params(WriteHeaders), request_body = UserDto,
    responses(
        (status = 201, description = "`{name, groups, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 409, description = "ALREADY_EXISTS", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn create_user(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<UserDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = user_name(&dto.name)?;
    let groups = groups(&dto.groups)?;
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::CreateUser(cmd::CreateUser {
            name: name.clone(),
            groups: groups.clone(),
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"name": name.as_str(), "groups": groups, "status": "CREATED"})),
    ))
}

fn user_json(name: &str, groups: &BTreeSet<String>) -> Value {
    json!({"name": name, "groups": groups, "builtIn": name == ADMIN})
}

#[utoipa::path(get, path = "/api/v1/users", tag = "identities", summary = "List users (`admin`, the bootstrap token's, first)",
    responses(
        (status = 200, description = "`{items: [{name, groups, builtIn}]}`", body = Value),
        Unauthenticated,
    ))]
async fn list_users(State(s): State<S>, _: Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let mut items = vec![user_json(ADMIN, &BTreeSet::new())];
    items.extend(
        st.identities
            .users
            .values()
            .map(|u| user_json(u.name.as_str(), &u.groups)),
    );
    Json(json!({"items": items}))
}

#[utoipa::path(get, path = "/api/v1/users/{user}", tag = "identities", summary = "A user",
    params(("user" = String, Path, description = "The user's name")),
    responses(
        (status = 200, description = "`{name, groups, builtIn}`", body = Value),
        Unauthenticated, NotFound, Invalid,
    ))]
async fn read_user(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let name = user_name(&raw)?;
    if name.as_str() == ADMIN {
        return Ok(Json(user_json(ADMIN, &BTreeSet::new())));
    }
    let st = s.view.state.read().await;
    st.identities
        .users
        .get(name.as_str())
        .map(|u| Json(user_json(u.name.as_str(), &u.groups)))
        .ok_or_else(|| ApiError::not_found(format!("user '{name}' not found")))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = UserUpdate)]
struct UserUpdateDto {
    groups: Vec<String>,
}

#[utoipa::path(patch, path = "/api/v1/users/{user}", tag = "identities",
    summary = "Replace a user's groups (joining a group gives its bindings: only for what the caller holds itself)",
    params(("user" = String, Path, description = "The user's name"), WriteHeaders),
    request_body = UserUpdateDto,
    responses(
        (status = 200, description = "`{name, groups}`", body = Value),
        BadBody, Unauthenticated, NotFound, TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn update_user(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<UserUpdateDto>,
) -> Result<Json<Value>, ApiError> {
    let name = user_name(&raw)?;
    let groups = groups(&dto.groups)?;
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::UpdateUser(cmd::UpdateUser {
            name: name.clone(),
            groups: groups.clone(),
        }),
    )
    .await?;
    Ok(Json(json!({"name": name.as_str(), "groups": groups})))
}

#[utoipa::path(delete, path = "/api/v1/users/{user}", tag = "identities",
    summary = "Delete a user: every token it holds is revoked with it",
    params(("user" = String, Path, description = "The user's name"), WriteHeaders),
    responses(
        (status = 200, description = "`{name, status: DELETED, tokensRevoked}`", body = Value),
        BadWrite, Unauthenticated,
        (status = 403, description = "BUILT_IN: `admin`", body = ErrorBody),
        NotFound, Invalid, Rejected, Degraded,
    ))]
async fn delete_user(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let name = user_name(&raw)?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteUser(cmd::DeleteUser { name: name.clone() }),
    )
    .await?;
    let revoked = events
        .iter()
        .filter(|e| matches!(e.body, domain::Event::TokenRevoked(_)))
        .count();
    Ok(Json(
        json!({"name": name.as_str(), "status": "DELETED", "tokensRevoked": revoked}),
    ))
}

fn ns_name(raw: &str) -> Result<Name, ApiError> {
    Name::parse("namespace", raw).map_err(|e| ApiError::validation(vec![e]))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = ServiceAccountCreate)]
struct ServiceAccountDto {
    name: String,
}

#[utoipa::path(post, path = "/api/v1/namespaces/{name}/serviceaccounts", tag = "identities",
    summary = "Create a service account: an identity of the namespace, acting as `system:serviceaccount:<namespace>:<name>`",
    params(("name" = String, Path, description = "The namespace"), WriteHeaders),
    request_body = ServiceAccountDto,
    responses(
        (status = 201, description = "`{namespace, name, actor, status: CREATED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS, NAMESPACE_TERMINATING", body = ErrorBody),
        TooLarge, NotJson, Invalid, Degraded,
    ))]
async fn create_service_account(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
    Body(dto): Body<ServiceAccountDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let namespace = ns_name(&raw)?;
    let name = Name::parse("name", &dto.name).map_err(|e| ApiError::validation(vec![e]))?;
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::CreateServiceAccount(cmd::CreateServiceAccount {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"namespace": namespace.as_str(), "name": name.as_str(),
            "actor": Principal::service_account_actor(namespace.as_str(), name.as_str()), "status": "CREATED"}),
        ),
    ))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/serviceaccounts", tag = "identities",
    summary = "A namespace's service accounts",
    params(("name" = String, Path, description = "The namespace")),
    responses(
        (status = 200, description = "`{items: [{namespace, name, actor}]}`", body = Value),
        Unauthenticated, Invalid,
    ))]
async fn list_service_accounts(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let namespace = ns_name(&raw)?;
    let prefix = format!("{namespace}/");
    let st = s.view.state.read().await;
    let items: Vec<Value> = st
        .identities
        .service_accounts
        .iter()
        .filter_map(|k| k.strip_prefix(&prefix))
        .map(|name| {
            json!({"namespace": namespace.as_str(), "name": name,
                "actor": Principal::service_account_actor(namespace.as_str(), name)})
        })
        .collect();
    Ok(Json(json!({"items": items})))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/serviceaccounts/{account}", tag = "identities",
    summary = "Delete a service account: every token it holds is revoked with it",
    params(("name" = String, Path, description = "The namespace"),
        ("account" = String, Path, description = "The service account's name"), WriteHeaders),
    responses(
        (status = 200, description = "`{namespace, name, status: DELETED, tokensRevoked}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Invalid, Rejected, Degraded,
    ))]
async fn delete_service_account(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((raw_ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let namespace = ns_name(&raw_ns)?;
    let name = Name::parse("name", &raw).map_err(|e| ApiError::validation(vec![e]))?;
    let events = execute(
        &s,
        &headers,
        &actor,
        None,
        Command::DeleteServiceAccount(cmd::DeleteServiceAccount {
            namespace: namespace.clone(),
            name: name.clone(),
        }),
    )
    .await?;
    let revoked = events
        .iter()
        .filter(|e| matches!(e.body, domain::Event::TokenRevoked(_)))
        .count();
    Ok(Json(
        json!({"namespace": namespace.as_str(), "name": name.as_str(), "status": "DELETED", "tokensRevoked": revoked}),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = TokenRequest)]
struct TokenDto {
    /// The subject: a user's name or `system:serviceaccount:<ns>:<name>`
    /// (default: the caller).
    subject: Option<String>,
    /// Lifetime in seconds: default 24 h for a user, 90 days for a service
    /// account; at most 366 days.
    ttl_seconds: Option<i64>,
    description: Option<String>,
}

#[utoipa::path(post, path = "/api/v1/tokens", tag = "identities",
    summary = "Issue an API token, for oneself or (with `create` on tokens, and only for what one holds) for another subject; the token is shown once",
    params(WriteHeaders), request_body = TokenDto,
    responses(
        (status = 201, description = "`{token, tokenId, subject, expiresAt}`", body = Value),
        BadBody, Unauthenticated,
        (status = 404, description = "NOT_FOUND: no such user or service account", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected, Degraded,
    ))]
async fn issue_token(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
    Body(dto): Body<TokenDto>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let subject = dto.subject.unwrap_or_else(|| actor.clone());
    let mut errors = Vec::new();
    match Principal::of(&subject) {
        Principal::User(u) => {
            if let Err(e) = UserName::parse("subject", &u) {
                errors.push(e);
            }
        }
        Principal::ServiceAccount { namespace, name } => {
            for v in [namespace, name] {
                if let Err(e) = Name::parse("subject", &v) {
                    errors.push(e);
                }
            }
        }
        _ if subject == actor => {}
        _ => errors.push(FieldError::new(
            "subject",
            "tokens are issued for users and service accounts; components have their own",
        )),
    }
    let default = match Principal::of(&subject) {
        Principal::ServiceAccount { .. } => SERVICE_ACCOUNT_TOKEN_TTL_SECS,
        _ => USER_TOKEN_TTL_SECS,
    };
    let ttl = dto.ttl_seconds.unwrap_or(default);
    if !(1..=MAX_TOKEN_TTL_SECS).contains(&ttl) {
        errors.push(FieldError::new(
            "ttlSeconds",
            format!("must be 1 to {MAX_TOKEN_TTL_SECS} seconds, got {ttl}"),
        ));
    }
    if dto.description.as_ref().is_some_and(|d| d.len() > 200) {
        errors.push(FieldError::new(
            "description",
            "must be at most 200 characters",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let token = crate::auth::new_token();
    let token_id = Uuid::new_v4();
    let expires_at = Utc::now() + chrono::Duration::seconds(ttl);
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::IssueToken(cmd::IssueToken {
            token_id,
            subject: subject.clone(),
            digest: crate::auth::hash_token(&token),
            expires_at: Some(expires_at),
            bootstrap: false,
            description: dto.description,
        }),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(
            json!({"token": token, "tokenId": token_id, "subject": subject, "expiresAt": expires_at}),
        ),
    ))
}

#[utoipa::path(get, path = "/api/v1/tokens", tag = "identities",
    summary = "The caller's tokens (every subject's for whoever may list tokens cluster-wide); never the tokens themselves",
    responses(
        (status = 200, description = "`{items: [{tokenId, subject, expiresAt, bootstrap, revoked, expired}]}`", body = Value),
        Unauthenticated,
    ))]
async fn list_tokens(State(s): State<S>, Actor(actor): Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let all = domain::rbac::authorize::grant(
        &st,
        &actor,
        &domain::rbac::needs::Need::new(domain::rbac::Verb::List, "tokens", None),
    )
    .is_some();
    let now = Utc::now();
    let items: Vec<Value> = st
        .identities
        .tokens
        .values()
        .filter(|t| all || t.subject == actor)
        .map(|t| {
            json!({"tokenId": t.token_id, "subject": t.subject, "expiresAt": t.expires_at,
                "bootstrap": t.bootstrap, "revoked": t.revoked,
                "expired": t.expires_at.is_some_and(|at| at <= now)})
        })
        .collect();
    Json(json!({"items": items}))
}

#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "identities",
    summary = "Revoke a token (one's own, or any with `delete` on tokens): refused by every API instance within a second",
    params(("id" = Uuid, Path, description = "The token's id"), WriteHeaders),
    responses(
        (status = 200, description = "`{tokenId, subject, status: REVOKED}`", body = Value),
        BadWrite, Unauthenticated, NotFound, Rejected, Degraded,
    ))]
async fn revoke_token(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let token_id = crate::extract::parse_id("token id", &raw)?;
    let subject = {
        let st = s.view.state.read().await;
        st.identities
            .token_by_id(token_id)
            .map(|(_, t)| t.subject.clone())
    };
    execute(
        &s,
        &headers,
        &actor,
        None,
        Command::RevokeToken(cmd::RevokeToken { token_id }),
    )
    .await?;
    Ok(Json(
        json!({"tokenId": token_id, "subject": subject, "status": "REVOKED"}),
    ))
}

#[utoipa::path(get, path = "/api/v1/auth/whoami", tag = "auth",
    summary = "Who the caller is: its subject, groups and the bindings that name it",
    responses(
        (status = 200, description = "`{actor, kind, groups, bindings: [{binding, role}]}`", body = Value),
        Unauthenticated,
    ))]
async fn whoami(State(s): State<S>, Actor(actor): Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let principal = Principal::of(&actor);
    let kind = match &principal {
        Principal::User(_) => "User",
        Principal::ServiceAccount { .. } => "ServiceAccount",
        Principal::NodeAgent(_) => "NodeAgent",
        Principal::System(_) => "System",
    };
    let groups = principal.groups(&st.identities);
    let bindings: Vec<Value> = domain::rbac::authorize::bindings_naming(&st, &actor)
        .map(|b| json!({"binding": b.display_name(), "role": b.role}))
        .collect();
    Json(json!({"actor": actor, "kind": kind, "groups": groups, "bindings": bindings}))
}
