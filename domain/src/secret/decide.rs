//! Deciding the secret slice's commands.

use std::collections::BTreeSet;

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::{secret_id, validate_data};
use crate::names::{FieldError, Name};
use crate::pod::template::PodTemplate;
use crate::rejection::Rejection;

pub(crate) fn set_secret(state: &State, c: &cmd::SetSecret) -> Decision {
    crate::namespace::lookup::check_open(state, &c.namespace)?;
    let errors = validate_data(&c.data);
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let (ns, name) = (c.namespace.as_str(), c.name.as_str());
    let current = state.secrets.get(ns, name);
    if c.create_only && current.is_some() {
        return reject(
            RejectionCode::AlreadyExists,
            format!("secret '{name}' exists in namespace '{ns}': replace it with PUT"),
        );
    }
    let expected = state.secrets.next_version(ns, name);
    if c.version != expected {
        return reject(
            RejectionCode::Conflict,
            format!(
                "secret '{ns}/{name}' was sealed as version {} but the next is {expected}: it changed meanwhile; send it again",
                c.version
            ),
        );
    }
    let new: BTreeSet<&String> = c.data.values.keys().collect();
    let old: BTreeSet<&String> = current
        .map(|s| s.data.values.keys().collect())
        .unwrap_or_default();
    let added: Vec<String> = new.difference(&old).map(|k| k.to_string()).collect();
    let removed: Vec<String> = old.difference(&new).map(|k| k.to_string()).collect();
    let changed: Vec<String> = c
        .changed
        .iter()
        .filter(|k| old.contains(k) && new.contains(k))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if current.is_some() && added.is_empty() && removed.is_empty() && changed.is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![Event::SecretSet(ev::SecretSet {
        secret_id: secret_id(ns, name),
        namespace: c.namespace.clone(),
        name: c.name.clone(),
        version: c.version,
        created: current.is_none(),
        data: c.data.clone(),
        added,
        changed,
        removed,
    })])
}

pub(crate) fn delete_secret(state: &State, c: &cmd::DeleteSecret) -> Decision {
    let (ns, name) = (c.namespace.as_str(), c.name.as_str());
    let Some(s) = state.secrets.get(ns, name) else {
        return reject(
            RejectionCode::NotFound,
            format!("no secret '{name}' in namespace '{ns}'"),
        );
    };
    Ok(vec![Event::SecretDeleted(ev::SecretDeleted {
        secret_id: s.id,
        namespace: c.namespace.clone(),
        name: c.name.clone(),
        version: s.version,
    })])
}

pub(crate) fn undelete_secret(state: &State, c: &cmd::UndeleteSecret) -> Decision {
    let (ns, name) = (c.namespace.as_str(), c.name.as_str());
    // The namespace is open (checked by `decide`; a namespace's undelete
    // restores its secrets in the same batch).
    if state.secrets.get(ns, name).is_some() {
        return reject(
            RejectionCode::AlreadyExists,
            format!("secret '{name}' exists in namespace '{ns}': delete it first"),
        );
    }
    let Some(s) = state.secrets.deleted.get(&format!("{ns}/{name}")) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted secret '{name}' in namespace '{ns}'"),
        );
    };
    Ok(vec![Event::SecretUndeleted(ev::SecretUndeleted {
        secret_id: s.id,
        namespace: c.namespace.clone(),
        name: c.name.clone(),
        version: s.version,
    })])
}

fn check_key_id(key: &str) -> Result<(), crate::rejection::Rejection> {
    if key.is_empty() || key.len() > 64 {
        return Err(validation(&[crate::names::FieldError::new(
            "toKey",
            "1 to 64 characters",
        )]));
    }
    Ok(())
}

pub(crate) fn start_key_rotation(state: &State, c: &cmd::StartKeyRotation) -> Decision {
    check_key_id(&c.to_key)?;
    if state.secrets.rotations.contains_key(&c.rotation_id) {
        return Ok(vec![]);
    }
    let elsewhere: Vec<_> = state.secrets.wrapped_elsewhere(&c.to_key).collect();
    let from_keys: BTreeSet<String> = elsewhere.iter().map(|s| s.data.key_id.clone()).collect();
    Ok(vec![Event::KeyRotationStarted(ev::KeyRotationStarted {
        rotation_id: c.rotation_id,
        to_key: c.to_key.clone(),
        total: elsewhere.len() as u32,
        from_keys: from_keys.into_iter().collect(),
    })])
}

pub(crate) fn rewrap_secret(state: &State, c: &cmd::RewrapSecret) -> Decision {
    let Some(rotation) = state.secrets.rotations.get(&c.rotation_id) else {
        return reject(
            RejectionCode::NotFound,
            format!("no key rotation {}", c.rotation_id),
        );
    };
    let key = format!("{}/{}", c.namespace, c.name);
    let Some(s) = state
        .secrets
        .live
        .get(&key)
        .filter(|s| s.version == c.version)
        .or_else(|| {
            state
                .secrets
                .deleted
                .get(&key)
                .filter(|s| s.version == c.version)
        })
    else {
        // Moved on (a new version is sealed under the active key already), or gone.
        return Ok(vec![]);
    };
    if s.data.key_id == rotation.to_key {
        return Ok(vec![]);
    }
    Ok(vec![Event::SecretRewrapped(ev::SecretRewrapped {
        secret_id: s.id,
        rotation_id: c.rotation_id,
        namespace: c.namespace.clone(),
        name: c.name.clone(),
        version: c.version,
        from_key: s.data.key_id.clone(),
        to_key: rotation.to_key.clone(),
        wrapped_key: c.wrapped_key.clone(),
    })])
}

pub(crate) fn complete_key_rotation(state: &State, c: &cmd::CompleteKeyRotation) -> Decision {
    let Some(rotation) = state.secrets.rotations.get(&c.rotation_id) else {
        return reject(
            RejectionCode::NotFound,
            format!("no key rotation {}", c.rotation_id),
        );
    };
    if rotation.completed {
        return Ok(vec![]);
    }
    let left = state.secrets.wrapped_elsewhere(&rotation.to_key).count();
    if left > 0 {
        return reject(
            RejectionCode::Conflict,
            format!(
                "{left} secret(s) are still wrapped under another key than '{}'",
                rotation.to_key
            ),
        );
    }
    Ok(vec![Event::KeyRotationCompleted(
        ev::KeyRotationCompleted {
            rotation_id: c.rotation_id,
            to_key: rotation.to_key.clone(),
            total: rotation.total,
        },
    )])
}

/// A pod's secret references must name secrets (and keys) of its namespace
/// that exist when the template is admitted (`422`, per field): a typo is
/// caught at the request, not at the pod's start.
pub(crate) fn check_refs(
    state: &State,
    namespace: &Name,
    template: &PodTemplate,
    prefix: &str,
) -> Result<(), Rejection> {
    let mut errors = Vec::new();
    let missing =
        |secret: &Name| format!("no secret '{secret}' in namespace '{namespace}': create it first");
    for (i, e) in template.secret_env.iter().enumerate() {
        match state.secrets.get(namespace.as_str(), e.secret.as_str()) {
            None => errors.push(FieldError::new(
                format!("{prefix}secretEnv[{i}].secret"),
                missing(&e.secret),
            )),
            Some(s) if !s.data.values.contains_key(&e.key) => errors.push(FieldError::new(
                format!("{prefix}secretEnv[{i}].key"),
                format!(
                    "secret '{}' has no key '{}' (it has: {})",
                    e.secret,
                    e.key,
                    s.data.keys().join(", ")
                ),
            )),
            Some(_) => {}
        }
    }
    for (i, f) in template.secret_files.iter().enumerate() {
        if state
            .secrets
            .get(namespace.as_str(), f.secret.as_str())
            .is_none()
        {
            errors.push(FieldError::new(
                format!("{prefix}secretFiles[{i}].secret"),
                missing(&f.secret),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(crate::decision::validation(&errors))
    }
}
