//! Deciding the identity slice's commands. Whether the actor may ask for
//! them at all (and may give what a token or a group carries) is the RBAC
//! slice's check, made before these run.

use crate::command as cmd;
use crate::decision::{Decision, reject};
use crate::event as ev;
use crate::event::Event;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::{ADMIN, Identities, Principal, service_account_id, service_account_key, user_id};

/// Revoke every live token of `subject`.
fn revoke_all(ids: &Identities, subject: &str) -> Vec<Event> {
    ids.tokens
        .iter()
        .filter(|(_, t)| t.subject == subject && !t.revoked)
        .map(|(digest, t)| {
            Event::TokenRevoked(ev::TokenRevoked {
                token_id: t.token_id,
                subject: t.subject.clone(),
                digest: digest.clone(),
            })
        })
        .collect()
}

pub(crate) fn create_user(state: &State, c: &cmd::CreateUser) -> Decision {
    let name = c.name.as_str();
    if name == ADMIN || state.identities.users.contains_key(name) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("user '{name}' already exists"),
        );
    }
    Ok(vec![Event::UserCreated(ev::UserCreated {
        user_id: user_id(name),
        name: c.name.clone(),
        groups: c.groups.clone(),
    })])
}

pub(crate) fn update_user(state: &State, c: &cmd::UpdateUser) -> Decision {
    let Some(user) = state.identities.users.get(c.name.as_str()) else {
        return reject(
            RejectionCode::NotFound,
            format!("user '{}' not found", c.name),
        );
    };
    if user.groups == c.groups {
        return Ok(vec![]);
    }
    Ok(vec![Event::UserGroupsChanged(ev::UserGroupsChanged {
        user_id: user_id(c.name.as_str()),
        name: c.name.clone(),
        groups: c.groups.clone(),
        added: c.groups.difference(&user.groups).cloned().collect(),
        removed: user.groups.difference(&c.groups).cloned().collect(),
    })])
}

pub(crate) fn delete_user(state: &State, c: &cmd::DeleteUser) -> Decision {
    let name = c.name.as_str();
    if name == ADMIN {
        return reject(
            RejectionCode::BuiltIn,
            "user 'admin' is built in (the bootstrap token's): it cannot be deleted",
        );
    }
    if !state.identities.users.contains_key(name) {
        return reject(RejectionCode::NotFound, format!("user '{name}' not found"));
    }
    let mut out = revoke_all(&state.identities, name);
    out.push(Event::UserDeleted(ev::UserDeleted {
        user_id: user_id(name),
        name: c.name.clone(),
    }));
    Ok(out)
}

pub(crate) fn create_service_account(state: &State, c: &cmd::CreateServiceAccount) -> Decision {
    crate::namespace::lookup::check_open(state, &c.namespace)?;
    let key = service_account_key(&c.namespace, &c.name);
    if state.identities.service_accounts.contains(&key) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("service account '{key}' already exists"),
        );
    }
    Ok(vec![Event::ServiceAccountCreated(
        ev::ServiceAccountCreated {
            service_account_id: service_account_id(c.namespace.as_str(), c.name.as_str()),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
        },
    )])
}

pub(crate) fn delete_service_account(state: &State, c: &cmd::DeleteServiceAccount) -> Decision {
    let key = service_account_key(&c.namespace, &c.name);
    if !state.identities.service_accounts.contains(&key) {
        return reject(
            RejectionCode::NotFound,
            format!("service account '{key}' not found"),
        );
    }
    let actor = Principal::service_account_actor(c.namespace.as_str(), c.name.as_str());
    let mut out = revoke_all(&state.identities, &actor);
    out.push(Event::ServiceAccountDeleted(ev::ServiceAccountDeleted {
        service_account_id: service_account_id(c.namespace.as_str(), c.name.as_str()),
        namespace: c.namespace.clone(),
        name: c.name.clone(),
    }));
    Ok(out)
}

pub(crate) fn issue_token(state: &State, c: &cmd::IssueToken) -> Decision {
    let ids = &state.identities;
    if let Some(t) = ids.tokens.get(&c.digest) {
        if t.token_id == c.token_id {
            return Ok(vec![]);
        }
        return reject(
            RejectionCode::AlreadyExists,
            "a token with this digest exists",
        );
    }
    if !ids.exists(&c.subject) {
        return reject(
            RejectionCode::NotFound,
            format!(
                "no subject '{}' to issue a token for: create the user or service account first",
                c.subject
            ),
        );
    }
    Ok(vec![Event::TokenIssued(ev::TokenIssued {
        token_id: c.token_id,
        subject: c.subject.clone(),
        digest: c.digest.clone(),
        expires_at: c.expires_at,
        bootstrap: c.bootstrap,
        description: c.description.clone(),
    })])
}

pub(crate) fn revoke_token(state: &State, c: &cmd::RevokeToken) -> Decision {
    let Some((digest, t)) = state.identities.token_by_id(c.token_id) else {
        return reject(
            RejectionCode::NotFound,
            format!("token {} not found", c.token_id),
        );
    };
    if t.revoked {
        return Ok(vec![]);
    }
    Ok(vec![Event::TokenRevoked(ev::TokenRevoked {
        token_id: t.token_id,
        subject: t.subject.clone(),
        digest: digest.clone(),
    })])
}
