//! Deciding a service's commands: create, delete.

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;

use crate::names::{FieldError, check_labels};
use crate::rejection::RejectionCode;
use crate::state::State;

pub(crate) fn create_service(state: &State, c: &cmd::CreateService) -> Decision {
    let cmd::CreateService {
        service_id, spec, ..
    } = c;
    if state.services.contains_key(service_id)
        || state
            .service_by_name(spec.namespace.as_str(), spec.name.as_str())
            .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!(
                "service '{}' already exists in namespace '{}'",
                spec.name, spec.namespace
            ),
        );
    }
    let mut errors = Vec::new();
    if spec.selector.is_empty() {
        errors.push(FieldError::new(
            "selector",
            "must select at least one label",
        ));
    }
    check_labels("selector", &spec.selector, &mut errors);
    if let Some(h) = &spec.host
        && (h.is_empty()
            || h.len() > 253
            || !h
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
    {
        errors.push(FieldError::new("host", "must be a DNS name"));
    }
    if !spec.path_prefix.starts_with('/') {
        errors.push(FieldError::new("pathPrefix", "must start with '/'"));
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    crate::namespace::lookup::check_open(state, &spec.namespace)?;
    crate::quota::commitment::admit(
        state,
        &spec.namespace,
        Default::default(),
        crate::quota::Usage::count(crate::namespace::ObjectKind::Service),
    )?;
    Ok(vec![Event::ServiceCreated(ev::ServiceCreated {
        service_id: *service_id,
        spec: spec.clone(),
    })])
}

pub(crate) fn delete_service(state: &State, c: &cmd::DeleteService) -> Decision {
    let cmd::DeleteService { service_id, .. } = c;
    match state.services.get(service_id) {
        None => reject(
            RejectionCode::NotFound,
            format!("service {service_id} not found"),
        ),
        Some(s) => Ok(vec![Event::ServiceDeleted(ev::ServiceDeleted {
            service_id: *service_id,
            namespace: s.spec.namespace.clone(),
            name: s.spec.name.clone(),
        })]),
    }
}

pub(crate) fn undelete_service(state: &State, c: &cmd::UndeleteService) -> Decision {
    let cmd::UndeleteService { namespace, name } = c;
    if state
        .service_by_name(namespace.as_str(), name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("service '{name}' exists in namespace '{namespace}': delete it first"),
        );
    }
    let Some(s) = state.deleted_services.get(&format!("{namespace}/{name}")) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted service '{name}' in namespace '{namespace}'"),
        );
    };
    crate::quota::commitment::admit(
        state,
        namespace,
        Default::default(),
        crate::quota::Usage::count(crate::namespace::ObjectKind::Service),
    )?;
    Ok(vec![Event::ServiceUndeleted(ev::ServiceUndeleted {
        service_id: s.id,
        spec: s.spec.clone(),
    })])
}
