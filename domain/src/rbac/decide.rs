//! Deciding roles and bindings. Who may set them, and that nobody grants
//! beyond what they hold, is `authorize::command`'s, checked before.

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::names::FieldError;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::{RoleRef, Subject, binding_id, builtin, key, role_id};

fn ns_of(n: &Option<crate::names::Name>) -> Option<&str> {
    n.as_ref().map(|n| n.as_str())
}

fn open(state: &State, n: &Option<crate::names::Name>) -> Result<(), crate::rejection::Rejection> {
    match n {
        Some(ns) => crate::namespace::lookup::check_open(state, ns),
        None => Ok(()),
    }
}

fn built_in(kind: &str, name: &str) -> Decision {
    reject(
        RejectionCode::BuiltIn,
        format!(
            "{kind} '{name}' is built in: it cannot be changed or deleted (make one of your own)"
        ),
    )
}

pub(crate) fn put_role(state: &State, c: &cmd::PutRole) -> Decision {
    open(state, &c.namespace)?;
    let ns = ns_of(&c.namespace);
    if ns.is_none() && builtin::role(c.name.as_str()).is_some() {
        return built_in("cluster role", c.name.as_str());
    }
    let mut errors: Vec<FieldError> = Vec::new();
    if c.rules.is_empty() {
        errors.push(FieldError::new("rules", "must have at least one rule"));
    }
    for (i, r) in c.rules.iter().enumerate() {
        errors.extend(r.errors(&format!("rules[{i}]")));
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let old = state.rbac.roles.get(&key(ns, c.name.as_str()));
    if old.is_some_and(|r| r.rules == c.rules) {
        return Ok(vec![]);
    }
    Ok(vec![Event::RoleSet(ev::RoleSet {
        role_id: role_id(ns, c.name.as_str()),
        namespace: ns.map(str::to_string),
        name: c.name.to_string(),
        rules: c.rules.clone(),
        created: old.is_none(),
    })])
}

pub(crate) fn delete_role(state: &State, c: &cmd::DeleteRole) -> Decision {
    let ns = ns_of(&c.namespace);
    if ns.is_none() && builtin::role(c.name.as_str()).is_some() {
        return built_in("cluster role", c.name.as_str());
    }
    if !state.rbac.roles.contains_key(&key(ns, c.name.as_str())) {
        return reject(
            RejectionCode::NotFound,
            format!("role '{}' not found", c.name),
        );
    }
    Ok(vec![Event::RoleDeleted(ev::RoleDeleted {
        role_id: role_id(ns, c.name.as_str()),
        namespace: ns.map(str::to_string),
        name: c.name.to_string(),
    })])
}

fn subject_errors(subjects: &[Subject]) -> Vec<FieldError> {
    let mut e = Vec::new();
    if subjects.is_empty() {
        e.push(FieldError::new(
            "subjects",
            "must name at least one subject",
        ));
    }
    for (i, s) in subjects.iter().enumerate() {
        let f = format!("subjects[{i}]");
        match s {
            Subject::User { name } => {
                if let Err(err) = crate::identity::UserName::parse(&format!("{f}.name"), name) {
                    e.push(err);
                }
            }
            Subject::Group { name } => {
                let system = [
                    crate::identity::AUTHENTICATED,
                    crate::identity::NODE_AGENTS,
                    crate::identity::SERVICE_ACCOUNTS,
                ];
                if !system.contains(&name.as_str())
                    && !name.starts_with("system:serviceaccounts:")
                    && let Err(err) = crate::identity::UserName::parse(&format!("{f}.name"), name)
                {
                    e.push(err);
                }
            }
            Subject::ServiceAccount { namespace, name } => {
                for (field, v) in [("namespace", namespace), ("name", name)] {
                    if let Err(err) = crate::names::Name::parse(&format!("{f}.{field}"), v) {
                        e.push(err);
                    }
                }
            }
        }
    }
    e
}

pub(crate) fn put_role_binding(state: &State, c: &cmd::PutRoleBinding) -> Decision {
    open(state, &c.namespace)?;
    let ns = ns_of(&c.namespace);
    if ns.is_none()
        && builtin::bindings()
            .iter()
            .any(|b| b.name == c.name.as_str())
    {
        return built_in("cluster binding", c.name.as_str());
    }
    let errors = subject_errors(&c.subjects);
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let exists = match &c.role {
        RoleRef::ClusterRole { name } => {
            builtin::role(name).is_some() || state.rbac.roles.contains_key(&key(None, name))
        }
        RoleRef::Role { name } => match ns {
            None => {
                return Err(validation(&[FieldError::new(
                    "role.kind",
                    "a cluster binding gives a ClusterRole",
                )]));
            }
            Some(ns) => state.rbac.roles.contains_key(&key(Some(ns), name)),
        },
    };
    if !exists {
        return reject(RejectionCode::NotFound, format!("{} not found", c.role));
    }
    let old = state.rbac.bindings.get(&key(ns, c.name.as_str()));
    let mut subjects = c.subjects.clone();
    subjects.sort();
    subjects.dedup();
    if old.is_some_and(|b| b.role == c.role && b.subjects == subjects) {
        return Ok(vec![]);
    }
    let before: Vec<Subject> = old.map(|b| b.subjects.clone()).unwrap_or_default();
    Ok(vec![Event::RoleBindingSet(ev::RoleBindingSet {
        binding_id: binding_id(ns, c.name.as_str()),
        namespace: ns.map(str::to_string),
        name: c.name.to_string(),
        role: c.role.clone(),
        added: subjects
            .iter()
            .filter(|s| !before.contains(s))
            .cloned()
            .collect(),
        removed: before
            .iter()
            .filter(|s| !subjects.contains(s))
            .cloned()
            .collect(),
        subjects,
    })])
}

pub(crate) fn delete_role_binding(state: &State, c: &cmd::DeleteRoleBinding) -> Decision {
    let ns = ns_of(&c.namespace);
    if ns.is_none()
        && builtin::bindings()
            .iter()
            .any(|b| b.name == c.name.as_str())
    {
        return built_in("cluster binding", c.name.as_str());
    }
    let Some(b) = state.rbac.bindings.get(&key(ns, c.name.as_str())) else {
        return reject(
            RejectionCode::NotFound,
            format!("binding '{}' not found", c.name),
        );
    };
    Ok(vec![Event::RoleBindingDeleted(ev::RoleBindingDeleted {
        binding_id: binding_id(ns, c.name.as_str()),
        namespace: ns.map(str::to_string),
        name: c.name.to_string(),
        role: b.role.clone(),
        subjects: b.subjects.clone(),
    })])
}
