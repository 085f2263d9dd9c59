//! The write path every mutating route takes: a command from the request,
//! sent to the log, answered with the decider's events (or its rejection).

use axum::http::{HeaderMap, StatusCode};
use domain::event as ev;
use domain::{CommandEnvelope, EventEnvelope, command::Command, event::Event};
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::S;

/// Authenticate, derive the command id (the Idempotency-Key when given), send, wait.
pub async fn execute(
    state: &S,
    headers: &HeaderMap,
    actor: &str,
    reason: Option<String>,
    body: Command,
) -> Result<Vec<EventEnvelope>, ApiError> {
    let command_id = match headers.get("idempotency-key").map(|v| v.to_str()) {
        Some(Ok(k)) if !k.is_empty() && k.len() <= 200 => {
            domain::ids::derive_id(&[b"idempotency", actor.as_bytes(), k.as_bytes()])
        }
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_HEADER",
                "Idempotency-Key must be 1 to 200 characters of text",
            ));
        }
        None => Uuid::now_v7(),
    };
    let reason = reason.or_else(|| {
        headers
            .get("x-change-reason")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    if state.authorize {
        let st = state.view.state.read().await;
        if let Err(r) = domain::rbac::authorize::command(&st, actor, &body) {
            infra::metrics::counter(
                "apiserver_forbidden_total",
                "API requests refused with 403 FORBIDDEN: their subject lacked a permission",
            )
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let need = domain::rbac::needs::of(&st, &body);
            return Err(crate::access::forbidden(r.message, need.as_ref()));
        }
    }
    // A token, role, binding or secret applies to the caller's next request here.
    let grants = matches!(
        body,
        Command::CreateUser(_)
            | Command::UpdateUser(_)
            | Command::DeleteUser(_)
            | Command::CreateServiceAccount(_)
            | Command::DeleteServiceAccount(_)
            | Command::IssueToken(_)
            | Command::RevokeToken(_)
            | Command::PutRole(_)
            | Command::DeleteRole(_)
            | Command::PutRoleBinding(_)
            | Command::DeleteRoleBinding(_)
            // Secrets are read from the view (and sealed for its next version).
            | Command::SetSecret(_)
            | Command::DeleteSecret(_)
            | Command::UndeleteSecret(_)
            | Command::StartKeyRotation(_)
            | Command::RewrapSecret(_)
            | Command::CompleteKeyRotation(_)
            | Command::PutNetworkPolicy(_)
            | Command::DeleteNetworkPolicy(_)
    );
    let env = CommandEnvelope::new(command_id, actor, reason, body).with_reply();
    let outcome = state
        .outcomes
        .submit(&state.bus, &state.pool, env, state.command_timeout)
        .await?;
    crate::consistency::record_written(outcome.offset);
    if grants {
        state.wait_for_view(outcome.offset + 1).await;
    }
    let events = outcome.events;
    if let Some(Event::CommandRejected(ev::CommandRejected {
        code,
        message,
        fields,
        quota,
        ..
    })) = events.first().map(|e| &e.body)
    {
        let mut e = ApiError::rejected(*code, message.clone());
        e.details = quota.as_ref().and_then(|q| serde_json::to_value(q).ok());
        e.fields = fields
            .iter()
            .map(|f| (f.field.clone(), f.message.clone()))
            .collect();
        return Err(e);
    }
    Ok(events)
}

/// A create: `execute`, then `201 {<key>: id, status: CREATED}` with the id
/// of the object created (with an Idempotency-Key, the one first created,
/// not `id`).
pub async fn create(
    state: &S,
    headers: &HeaderMap,
    actor: &str,
    key: &str,
    id: uuid::Uuid,
    body: Command,
) -> Result<(axum::http::StatusCode, axum::Json<serde_json::Value>), ApiError> {
    let events = execute(state, headers, actor, None, body).await?;
    let id = events.first().map(|e| e.aggregate.id).unwrap_or(id);
    Ok((
        axum::http::StatusCode::CREATED,
        axum::Json(serde_json::json!({key: id, "status": "CREATED"})),
    ))
}

/// A command on a namespaced object named in the path (`{name}` the
/// namespace, then the object's name): both names checked, the command
/// made and executed, `{namespace, name, status}` answered.
pub async fn on_named(
    state: &S,
    headers: &HeaderMap,
    actor: &str,
    (namespace, name): (String, String),
    status: &str,
    command: impl FnOnce(domain::names::Name, domain::names::Name) -> Command,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    use crate::extract::parse_name;
    let body = command(
        parse_name("namespace", &namespace)?,
        parse_name("name", &name)?,
    );
    execute(state, headers, actor, None, body).await?;
    Ok(axum::Json(
        serde_json::json!({"namespace": namespace, "name": name, "status": status}),
    ))
}
