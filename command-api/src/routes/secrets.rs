//! Secrets (`/api/v1/namespaces/{name}/secrets`): written as values, kept as
//! envelopes. This instance seals every write with its key ring before the
//! command exists (the log, the projections and the decider hold ciphertext
//! only) and opens a value only for `GET …/data`, which needs
//! `read-secrets`. Metadata (keys, version, key id) needs `get`/`list`.
//! KEK rotation (`/api/v1/secrets/key-rotations`) re-wraps every data key
//! under the ring's active key, one command per secret, with progress.
//!
//! No value reaches a log line, a metric, an error body or an event: bodies
//! are read as plain JSON and checked by hand (a typed parse would quote a
//! value it cannot take), and every error names keys, never values.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use domain::command as cmd;
use domain::command::Command;
use domain::names::{FieldError, Name, check_secret_key};
use domain::secret::{MAX_KEYS, MAX_VALUE_BYTES, Secret};
use infra::keyring::Plain;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::openapi::{
    BadBody, BadWrite, Degraded, Invalid, NotFound, NotJson, Rejected, TooLarge, Unauthenticated,
    WriteHeaders,
};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Actor, Body, parse_name as name};
use crate::state::{AppState, S};
use crate::write::execute;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(create_secret, list_secrets))
        .routes(routes!(read_secret, put_secret, delete_secret))
        .routes(routes!(read_secret_data))
        .routes(routes!(undelete_secret))
        .routes(routes!(start_rotation, list_rotations))
        .routes(routes!(read_rotation))
}

/// The body of a secret write (documented; read by hand, see the module).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SecretDto {
    /// The secret's name (`POST` only; `PUT` takes it from the path).
    name: Option<String>,
    /// Values as text.
    string_data: Option<BTreeMap<String, String>>,
    /// Values as base64 (binary allowed).
    data: Option<BTreeMap<String, String>>,
}

fn no_key_ring(e: infra::keyring::KeyError) -> ApiError {
    tracing::warn!(error = %e, "secrets: the key ring is unusable");
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "NO_KEY_RING",
        format!("this API instance cannot seal or open secrets: {e}"),
    )
}

/// The values of a body: `stringData` (text) and `data` (base64), each key
/// in one of them only.
fn values(body: &Value, with_name: bool) -> Result<BTreeMap<String, Plain>, ApiError> {
    let Some(obj) = body.as_object() else {
        return Err(ApiError::validation(vec![FieldError::new(
            "body",
            "a JSON object with stringData and/or data",
        )]));
    };
    let mut errors = Vec::new();
    for k in obj.keys() {
        let known = k == "stringData" || k == "data" || (with_name && k == "name");
        if !known {
            let mut e = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "UNKNOWN_FIELD",
                format!(
                    "{k}: unknown field (expected stringData or data{})",
                    if with_name { ", name" } else { "" }
                ),
            );
            e.fields = vec![(k.clone(), "unknown field".into())];
            return Err(e);
        }
    }
    let mut out: BTreeMap<String, Plain> = BTreeMap::new();
    let mut total = 0usize;
    for (field, base64) in [("stringData", false), ("data", true)] {
        let Some(v) = obj.get(field) else { continue };
        let Some(map) = v.as_object() else {
            errors.push(FieldError::new(field, "an object of key → value"));
            continue;
        };
        for (k, v) in map {
            let path = format!("{field}.{k}");
            if let Err(e) = check_secret_key(&path, k) {
                errors.push(e);
                continue;
            }
            let Some(text) = v.as_str() else {
                errors.push(FieldError::new(&path, "must be a string"));
                continue;
            };
            let bytes = if base64 {
                match B64.decode(text) {
                    Ok(b) => Zeroizing::new(b),
                    Err(_) => {
                        errors.push(FieldError::new(&path, "must be base64 (standard, padded)"));
                        continue;
                    }
                }
            } else {
                Zeroizing::new(text.as_bytes().to_vec())
            };
            total += bytes.len();
            if out.insert(k.clone(), bytes).is_some() {
                errors.push(FieldError::new(&path, "given in both stringData and data"));
            }
        }
    }
    if out.is_empty() && errors.is_empty() {
        errors.push(FieldError::new(
            "stringData",
            "a secret holds at least one key",
        ));
    }
    if out.len() > MAX_KEYS {
        errors.push(FieldError::new("data", format!("at most {MAX_KEYS} keys")));
    }
    if total > MAX_VALUE_BYTES {
        errors.push(FieldError::new(
            "data",
            format!("at most {MAX_VALUE_BYTES} bytes of values in all, not {total}"),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ApiError::validation(errors))
    }
}

fn meta(s: &Secret) -> Value {
    json!({
        "secretId": s.id,
        "namespace": s.namespace.as_str(),
        "name": s.name.as_str(),
        "version": s.version,
        "keys": s.data.keys(),
        "keyId": s.data.key_id,
    })
}

/// Seal and send version `next` of `ns/name` (again on a `CONFLICT`: a
/// write of another instance came first).
async fn write(
    s: &S,
    headers: &HeaderMap,
    actor: &str,
    ns: &Name,
    secret: &Name,
    values: BTreeMap<String, Plain>,
    create_only: bool,
) -> Result<Json<Value>, ApiError> {
    let ring = s.keys.ring().map_err(no_key_ring)?;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (version, existed, changed) = {
            let st = s.view.state.read().await;
            let current = st.secrets.get(ns.as_str(), secret.as_str()).cloned();
            let version = st.secrets.next_version(ns.as_str(), secret.as_str());
            drop(st);
            let changed = match &current {
                None => vec![],
                Some(cur) => changed_keys(s, cur, &values),
            };
            (version, current.is_some(), changed)
        };
        let data = ring
            .seal(ns.as_str(), secret.as_str(), version, &values)
            .map_err(no_key_ring)?;
        let result = execute(
            s,
            headers,
            actor,
            None,
            Command::SetSecret(cmd::SetSecret {
                namespace: ns.clone(),
                name: secret.clone(),
                version,
                data,
                create_only,
                changed,
            }),
        )
        .await;
        match result {
            Ok(events) => {
                let st = s.view.state.read().await;
                let status = match events.first().map(|e| &e.body) {
                    None => "UNCHANGED",
                    Some(domain::Event::SecretSet(e)) if e.created => "CREATED",
                    Some(_) if existed => "UPDATED",
                    Some(_) => "CREATED",
                };
                let mut out = st
                    .secrets
                    .get(ns.as_str(), secret.as_str())
                    .map(meta)
                    .unwrap_or_else(|| json!({"namespace": ns.as_str(), "name": secret.as_str()}));
                out["status"] = json!(status);
                return Ok(Json(out));
            }
            Err(e) if e.code == "CONFLICT" && attempt < 5 => {
                let end = s.outcomes.log_end();
                s.wait_for_view(end).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// The kept keys whose value differs from the current version's (all of
/// them when the current one cannot be opened here).
fn changed_keys(s: &AppState, cur: &Secret, values: &BTreeMap<String, Plain>) -> Vec<String> {
    let kept = values
        .keys()
        .filter(|k| cur.data.values.contains_key(*k))
        .cloned();
    let opened = s.keys.ring_with(&cur.data.key_id).and_then(|r| {
        r.open(
            cur.namespace.as_str(),
            cur.name.as_str(),
            cur.version,
            &cur.data,
        )
    });
    match opened {
        Ok(old) => kept
            .filter(|k| old.get(k).map(|v| v.as_slice()) != values.get(k).map(|v| v.as_slice()))
            .collect(),
        Err(e) => {
            tracing::warn!(secret = %format!("{}/{}", cur.namespace, cur.name), error = %e,
                "the current version does not open here: every kept key counts as changed");
            kept.collect()
        }
    }
}

#[utoipa::path(post, path = "/api/v1/namespaces/{name}/secrets", tag = "secrets",
    summary = "Create a secret (values sealed by this instance before they are recorded)",
    params(("name" = String, Path, description = "The namespace"), WriteHeaders),
    request_body = SecretDto,
    responses(
        (status = 201, description = "`{secretId, namespace, name, version, keys, keyId, status: CREATED}` (never a value)", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN: `create secrets` in the namespace", body = ErrorBody),
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "ALREADY_EXISTS, NAMESPACE_TERMINATING", body = ErrorBody),
        TooLarge, NotJson, Invalid,
        (status = 503, description = "NO_KEY_RING (this instance has no usable key ring) or CONTROL_PLANE_DEGRADED", body = ErrorBody),
    ))]
async fn create_secret(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(ns): Path<String>,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ns = name("namespace", &ns)?;
    let raw = body.get("name").and_then(Value::as_str).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "name",
            "the secret's name is required",
        )])
    })?;
    let secret = name("name", raw)?;
    let values = values(&body, true)?;
    let out = write(&s, &headers, &actor, &ns, &secret, values, true).await?;
    Ok((StatusCode::CREATED, out))
}

#[utoipa::path(put, path = "/api/v1/namespaces/{name}/secrets/{secret}", tag = "secrets",
    summary = "Create or replace a secret (every key: the body is the new version's whole data)",
    params(("name" = String, Path, description = "The namespace"), ("secret" = String, Path, description = "The secret's name"), WriteHeaders),
    request_body = SecretDto,
    responses(
        (status = 200, description = "`{secretId, namespace, name, version, keys, keyId, status: CREATED|UPDATED|UNCHANGED}`", body = Value),
        BadBody, Unauthenticated,
        (status = 403, description = "FORBIDDEN: `update` (or `create`) secrets in the namespace", body = ErrorBody),
        (status = 404, description = "NAMESPACE_NOT_FOUND", body = ErrorBody),
        TooLarge, NotJson, Invalid, Rejected,
        (status = 503, description = "NO_KEY_RING or CONTROL_PLANE_DEGRADED", body = ErrorBody),
    ))]
async fn put_secret(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    let ns = name("namespace", &ns)?;
    let secret = name("name", &raw)?;
    let values = values(&body, false)?;
    write(&s, &headers, &actor, &ns, &secret, values, false).await
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/secrets", tag = "secrets",
    summary = "The namespace's secrets: names, keys, versions (never a value)",
    params(("name" = String, Path, description = "The namespace")),
    responses((status = 200, description = "`{items: [{secretId, namespace, name, version, keys, keyId}]}`", body = Value), Unauthenticated))]
async fn list_secrets(State(s): State<S>, _: Actor, Path(ns): Path<String>) -> Json<Value> {
    let st = s.view.state.read().await;
    let items: Vec<Value> = st.secrets.in_namespace(&ns).map(meta).collect();
    Json(json!({"items": items}))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/secrets/{secret}", tag = "secrets",
    summary = "A secret's metadata (its values: GET …/data)",
    params(("name" = String, Path, description = "The namespace"), ("secret" = String, Path, description = "The secret's name")),
    responses((status = 200, description = "`{secretId, namespace, name, version, keys, keyId}`", body = Value), Unauthenticated, NotFound))]
async fn read_secret(
    State(s): State<S>,
    _: Actor,
    Path((ns, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let st = s.view.state.read().await;
    st.secrets
        .get(&ns, &raw)
        .map(|x| Json(meta(x)))
        .ok_or_else(|| ApiError::not_found(format!("no secret '{raw}' in namespace '{ns}'")))
}

#[utoipa::path(get, path = "/api/v1/namespaces/{name}/secrets/{secret}/data", tag = "secrets",
    summary = "A secret's values (needs `read-secrets`): text as stringData, anything else as base64 data",
    params(("name" = String, Path, description = "The namespace"), ("secret" = String, Path, description = "The secret's name")),
    responses(
        (status = 200, description = "`{namespace, name, version, stringData: {key: text}, data: {key: base64}}`", body = Value),
        Unauthenticated,
        (status = 403, description = "FORBIDDEN: `read-secrets` on secrets in the namespace", body = ErrorBody),
        NotFound,
        (status = 503, description = "NO_KEY_RING: this instance's ring does not hold the secret's key", body = ErrorBody),
    ))]
async fn read_secret_data(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let secret = {
        let st = s.view.state.read().await;
        st.secrets.get(&ns, &raw).cloned()
    }
    .ok_or_else(|| ApiError::not_found(format!("no secret '{raw}' in namespace '{ns}'")))?;
    let opened = s
        .keys
        .ring_with(&secret.data.key_id)
        .and_then(|r| r.open(&ns, &raw, secret.version, &secret.data))
        .map_err(no_key_ring)?;
    let mut text = serde_json::Map::new();
    let mut binary = serde_json::Map::new();
    for (k, v) in opened.iter() {
        match std::str::from_utf8(v) {
            Ok(t) => text.insert(k.clone(), json!(t)),
            Err(_) => binary.insert(k.clone(), json!(B64.encode(v.as_slice()))),
        };
    }
    infra::metrics::counter(
        "apiserver_secret_reads_total",
        "Secret values opened for a caller (GET …/secrets/{secret}/data)",
    )
    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::info!(%actor, secret = %format!("{ns}/{raw}"), version = secret.version, "secret values read");
    Ok(Json(json!({
        "namespace": ns,
        "name": raw,
        "version": secret.version,
        "stringData": text,
        "data": binary,
    })))
}

#[utoipa::path(delete, path = "/api/v1/namespaces/{name}/secrets/{secret}", tag = "secrets", summary = "Delete a secret (undelete brings the last version back)",
    params(("name" = String, Path, description = "The namespace"), ("secret" = String, Path, description = "The secret's name"), WriteHeaders),
    responses((status = 200, description = "`{namespace, name, status: DELETED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN", body = ErrorBody), NotFound, Invalid, Rejected, Degraded))]
async fn delete_secret(
    State(s): State<S>,
    Actor(actor): Actor,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    crate::write::on_named(&s, &headers, &actor, path, "DELETED", |namespace, name| {
        Command::DeleteSecret(cmd::DeleteSecret { namespace, name })
    })
    .await
}

#[utoipa::path(post, path = "/api/v1/namespaces/{name}/secrets/{secret}/undelete", tag = "secrets", summary = "Bring back the last deleted version of a secret",
    params(("name" = String, Path, description = "The namespace"), ("secret" = String, Path, description = "The secret's name"), WriteHeaders),
    responses((status = 200, description = "`{secretId, namespace, name, version, keys, keyId, status: RESTORED}`", body = Value), BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN", body = ErrorBody), NotFound,
        (status = 409, description = "ALREADY_EXISTS: a live secret has the name", body = ErrorBody), Invalid, Degraded))]
async fn undelete_secret(
    State(s): State<S>,
    Actor(actor): Actor,
    Path((ns, raw)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let path = (ns.clone(), raw.clone());
    let _restored =
        crate::write::on_named(&s, &headers, &actor, path, "RESTORED", |namespace, name| {
            Command::UndeleteSecret(cmd::UndeleteSecret { namespace, name })
        })
        .await?;
    let st = s.view.state.read().await;
    let mut out = st
        .secrets
        .get(&ns, &raw)
        .map(meta)
        .unwrap_or_else(|| json!({"namespace": ns, "name": raw}));
    out["status"] = json!("RESTORED");
    Ok(Json(out))
}

// ---- key rotation

fn rotation_json(s: &AppState, st: &domain::state::State, id: Uuid) -> Option<Value> {
    let r = st.secrets.rotations.get(&id)?;
    let remaining = st.secrets.wrapped_elsewhere(&r.to_key).count() as u32;
    let errors = s
        .rotation_errors
        .lock()
        .unwrap()
        .get(&id)
        .cloned()
        .unwrap_or_default();
    Some(json!({
        "rotationId": r.rotation_id,
        "toKey": r.to_key,
        "total": r.total,
        "done": if r.completed { r.total } else { r.total.saturating_sub(remaining) },
        "remaining": if r.completed { 0 } else { remaining },
        "completed": r.completed,
        "errors": errors,
    }))
}

#[utoipa::path(post, path = "/api/v1/secrets/key-rotations", tag = "secrets",
    summary = "Re-wrap every secret's data key under the key ring's active (last) key; follow it with GET …/key-rotations/{rotation}",
    params(WriteHeaders),
    responses(
        (status = 202, description = "`{rotationId, toKey, total, done, remaining, completed, errors}`: under way on this instance (an open rotation to the same key is resumed)", body = Value),
        BadWrite, Unauthenticated,
        (status = 403, description = "FORBIDDEN: `update secrets` cluster-wide", body = ErrorBody),
        (status = 503, description = "NO_KEY_RING or CONTROL_PLANE_DEGRADED", body = ErrorBody),
    ))]
async fn start_rotation(
    State(s): State<S>,
    Actor(actor): Actor,
    headers: HeaderMap,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ring = s.keys.reload().map_err(no_key_ring)?;
    let to_key = ring.active_id().to_string();
    let open = {
        let st = s.view.state.read().await;
        st.secrets
            .rotations
            .values()
            .find(|r| !r.completed && r.to_key == to_key)
            .map(|r| r.rotation_id)
    };
    let rotation_id = match open {
        Some(id) => id,
        None => {
            let id = Uuid::now_v7();
            execute(
                &s,
                &headers,
                &actor,
                None,
                Command::StartKeyRotation(cmd::StartKeyRotation {
                    rotation_id: id,
                    to_key: to_key.clone(),
                }),
            )
            .await?;
            id
        }
    };
    tracing::info!(%actor, %rotation_id, to_key, "secret key rotation under way");
    tokio::spawn(rewrap_all(s.clone(), actor, rotation_id));
    let st = s.view.state.read().await;
    let out = rotation_json(&s, &st, rotation_id)
        .unwrap_or_else(|| json!({"rotationId": rotation_id, "toKey": to_key}));
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// Re-wrap, pass after pass, every secret still under another key; then
/// record the rotation complete. A secret whose data key this ring cannot
/// open is reported in the rotation's `errors` and the rotation stays open.
async fn rewrap_all(s: S, actor: String, rotation_id: Uuid) {
    let headers = HeaderMap::new();
    let mut failed: BTreeSet<(String, u64)> = BTreeSet::new();
    // Each pass re-wraps what the view still shows under another key; a
    // secret written meanwhile is sealed under the active key already.
    for _pass in 0..20 {
        let (to_key, todo): (String, Vec<Secret>) = {
            let st = s.view.state.read().await;
            let Some(r) = st.secrets.rotations.get(&rotation_id) else {
                return;
            };
            if r.completed {
                return;
            }
            let todo = st
                .secrets
                .wrapped_elsewhere(&r.to_key)
                .filter(|x| !failed.contains(&(format!("{}/{}", x.namespace, x.name), x.version)))
                .cloned()
                .collect();
            (r.to_key.clone(), todo)
        };
        if todo.is_empty() {
            if !failed.is_empty() {
                tracing::warn!(%rotation_id, failed = failed.len(), "key rotation stays open: some data keys do not open here");
                return;
            }
            let done = execute(
                &s,
                &headers,
                &actor,
                Some(format!("every data key is wrapped under '{to_key}'")),
                Command::CompleteKeyRotation(cmd::CompleteKeyRotation { rotation_id }),
            )
            .await;
            match done {
                Ok(_) => {
                    tracing::info!(%rotation_id, to_key, "secret key rotation completed");
                    return;
                }
                Err(e) if e.code == "CONFLICT" => {
                    let end = s.outcomes.log_end();
                    s.wait_for_view(end).await;
                    continue;
                }
                Err(e) => {
                    record_error(&s, rotation_id, format!("completing: {}", e.message));
                    return;
                }
            }
        }
        for x in todo {
            let wrapped = s.keys.ring_with(&x.data.key_id).and_then(|ring| {
                if ring.active_id() != to_key {
                    return Err(infra::keyring::KeyError(format!(
                        "the key ring's active key is '{}' now, not '{to_key}': start a new rotation",
                        ring.active_id()
                    )));
                }
                ring.rewrap(x.namespace.as_str(), x.name.as_str(), x.version, &x.data)
            });
            let wrapped = match wrapped {
                Ok(w) => w,
                Err(e) => {
                    failed.insert((format!("{}/{}", x.namespace, x.name), x.version));
                    record_error(&s, rotation_id, e.0);
                    continue;
                }
            };
            if let Err(e) = execute(
                &s,
                &headers,
                &actor,
                Some(format!("key rotation {rotation_id}")),
                Command::RewrapSecret(cmd::RewrapSecret {
                    rotation_id,
                    namespace: x.namespace.clone(),
                    name: x.name.clone(),
                    version: x.version,
                    wrapped_key: wrapped,
                }),
            )
            .await
            {
                record_error(
                    &s,
                    rotation_id,
                    format!("secret {}/{}: {}", x.namespace, x.name, e.message),
                );
                return;
            }
        }
    }
    record_error(
        &s,
        rotation_id,
        "secrets kept appearing under another key: run the rotation again".into(),
    );
}

fn record_error(s: &AppState, rotation_id: Uuid, message: String) {
    tracing::warn!(%rotation_id, error = %message, "secret key rotation");
    s.rotation_errors
        .lock()
        .unwrap()
        .entry(rotation_id)
        .or_default()
        .push(message);
}

#[utoipa::path(get, path = "/api/v1/secrets/key-rotations", tag = "secrets", summary = "Every key rotation, newest first",
    responses((status = 200, description = "`{items: [{rotationId, toKey, total, done, remaining, completed, errors}]}`", body = Value), Unauthenticated))]
async fn list_rotations(State(s): State<S>, _: Actor) -> Json<Value> {
    let st = s.view.state.read().await;
    let items: Vec<Value> = st
        .secrets
        .rotations
        .keys()
        .rev()
        .filter_map(|id| rotation_json(&s, &st, *id))
        .collect();
    Json(json!({"items": items}))
}

#[utoipa::path(get, path = "/api/v1/secrets/key-rotations/{rotation}", tag = "secrets", summary = "A key rotation's progress",
    params(("rotation" = String, Path, description = "The rotation's id")),
    responses((status = 200, description = "`{rotationId, toKey, total, done, remaining, completed, errors}`", body = Value), Unauthenticated, NotFound))]
async fn read_rotation(
    State(s): State<S>,
    _: Actor,
    Path(raw): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = crate::extract::parse_id("rotation", &raw)?;
    let st = s.view.state.read().await;
    rotation_json(&s, &st, id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no key rotation {id}")))
}
