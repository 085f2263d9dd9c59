//! Deciding a namespace's commands: create, delete, undelete, and the
//! controller's purge of what a deleted namespace held.

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::names::{FieldError, check_labels};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

use super::{BUILT_IN, ObjectKind, ObjectRef, namespace_id};

pub(crate) fn create_namespace(state: &State, c: &cmd::CreateNamespace) -> Decision {
    let cmd::CreateNamespace { name, labels } = c;
    let exists = match state.namespaces.get(name.as_str()) {
        Some(ns) => !ns.deleted,
        None => BUILT_IN.contains(&name.as_str()),
    };
    if exists {
        return reject(
            RejectionCode::AlreadyExists,
            format!("namespace '{name}' already exists"),
        );
    }
    if !state.objects_in(name.as_str()).is_empty() {
        return reject(
            RejectionCode::NamespaceTerminating,
            format!(
                "namespace '{name}' was deleted and still holds objects being removed: wait for them, or undelete it"
            ),
        );
    }
    let mut errors: Vec<FieldError> = super::security::label_errors(labels);
    check_labels("labels", labels, &mut errors);
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    Ok(vec![Event::NamespaceCreated(ev::NamespaceCreated {
        namespace_id: namespace_id(name.as_str()),
        name: name.clone(),
        labels: labels.clone(),
    })])
}

pub(crate) fn update_namespace(state: &State, c: &cmd::UpdateNamespace) -> Decision {
    let cmd::UpdateNamespace { name, labels } = c;
    if !state.namespace_is_open(name.as_str()) {
        return reject(
            RejectionCode::NamespaceNotFound,
            format!("namespace '{name}' does not exist"),
        );
    }
    let mut errors: Vec<FieldError> = super::security::label_errors(labels);
    check_labels("labels", labels, &mut errors);
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let now = state.namespaces.get(name.as_str()).map(|n| &n.labels);
    if now.map_or(labels.is_empty(), |l| l == labels) {
        return Ok(vec![]);
    }
    Ok(vec![Event::NamespaceLabelsChanged(
        ev::NamespaceLabelsChanged {
            namespace_id: namespace_id(name.as_str()),
            name: name.clone(),
            labels: labels.clone(),
        },
    )])
}

pub(crate) fn delete_namespace(state: &State, c: &cmd::DeleteNamespace) -> Decision {
    let name = &c.name;
    if BUILT_IN.contains(&name.as_str()) {
        return reject(
            RejectionCode::NamespaceProtected,
            format!("namespace '{name}' is built in and cannot be deleted"),
        );
    }
    match state.namespaces.get(name.as_str()) {
        Some(ns) if !ns.deleted => {}
        _ => {
            return reject(
                RejectionCode::NamespaceNotFound,
                format!("namespace '{name}' does not exist"),
            );
        }
    }
    Ok(vec![Event::NamespaceDeleted(ev::NamespaceDeleted {
        namespace_id: namespace_id(name.as_str()),
        name: name.clone(),
        objects: state.objects_in(name.as_str()),
    })])
}

/// The namespace lives again, and with it every object it held that is
/// still deleted (its own undelete event, in the same batch); one that
/// cannot come back (its name taken, the cluster or the quota too small)
/// is named in `skipped` with the reason.
pub(crate) fn undelete_namespace(state: &State, c: &cmd::UndeleteNamespace) -> Decision {
    let name = &c.name;
    let Some(ns) = state.namespaces.get(name.as_str()).filter(|n| n.deleted) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted namespace '{name}'"),
        );
    };
    let mut restored = Vec::new();
    let mut skipped = Vec::new();
    let mut events = Vec::new();
    let mut admitted = crate::quota::Usage::default();
    for object in &ns.objects {
        match restore(state, name, object) {
            Ok(None) => {}
            Ok(Some((e, usage))) => {
                if let Err(r) = crate::quota::commitment::admit(
                    state,
                    name,
                    crate::quota::Usage::default(),
                    admitted.plus(usage),
                ) {
                    skipped.push(ev::SkippedObject {
                        object: object.clone(),
                        reason: r.message,
                    });
                    continue;
                }
                admitted = admitted.plus(usage);
                restored.push(object.clone());
                events.extend(e);
            }
            Err(r) => skipped.push(ev::SkippedObject {
                object: object.clone(),
                reason: r.message,
            }),
        }
    }
    let mut out = vec![Event::NamespaceUndeleted(ev::NamespaceUndeleted {
        namespace_id: namespace_id(name.as_str()),
        name: name.clone(),
        restored,
        skipped,
    })];
    out.extend(events);
    Ok(out)
}

/// The object's undelete events and what it counts against a quota, if it
/// is still the deleted one of its name (`None`: live again, or replaced).
fn restore(
    state: &State,
    namespace: &crate::names::Name,
    o: &ObjectRef,
) -> Result<Option<(Vec<Event>, crate::quota::Usage)>, Rejection> {
    use crate::{cronjob, deployment, job, service, statefulset};
    let key = format!("{namespace}/{}", o.name);
    let (namespace, name) = (namespace.clone(), o.name.clone());
    let (events, usage) = match o.kind {
        ObjectKind::Deployment => {
            let Some(d) = state.deleted.get(&key).filter(|d| d.id.0 == o.id) else {
                return Ok(None);
            };
            let e = deployment::decide::undelete_deployment(
                state,
                &cmd::UndeleteDeployment { namespace, name },
            )?;
            (e, crate::quota::commitment::deployment_usage(d))
        }
        ObjectKind::StatefulSet => {
            let Some(s) = state
                .deleted_stateful_sets
                .get(&key)
                .filter(|s| s.id.0 == o.id)
            else {
                return Ok(None);
            };
            let e = statefulset::decide::undelete_stateful_set(
                state,
                &cmd::UndeleteStatefulSet { namespace, name },
            )?;
            (e, crate::quota::commitment::stateful_set_usage(s))
        }
        ObjectKind::Job => {
            let Some(j) = state.deleted_jobs.get(&key).filter(|j| j.id.0 == o.id) else {
                return Ok(None);
            };
            let e = job::decide::undelete_job(state, &cmd::UndeleteJob { namespace, name })?;
            (e, crate::quota::commitment::job_usage(j))
        }
        ObjectKind::CronJob => {
            if state
                .deleted_cron_jobs
                .get(&key)
                .is_none_or(|c| c.id.0 != o.id)
            {
                return Ok(None);
            }
            let e = cronjob::decide::undelete_cron_job(
                state,
                &cmd::UndeleteCronJob { namespace, name },
            )?;
            (e, crate::quota::Usage::count(ObjectKind::CronJob))
        }
        ObjectKind::Service => {
            if state
                .deleted_services
                .get(&key)
                .is_none_or(|s| s.id.0 != o.id)
            {
                return Ok(None);
            }
            let e = service::decide::undelete_service(
                state,
                &cmd::UndeleteService { namespace, name },
            )?;
            (e, crate::quota::Usage::count(ObjectKind::Service))
        }
        ObjectKind::Secret => {
            if state.secrets.deleted.get(&key).is_none_or(|s| s.id != o.id) {
                return Ok(None);
            }
            let e = crate::secret::decide::undelete_secret(
                state,
                &cmd::UndeleteSecret { namespace, name },
            )?;
            (e, crate::quota::Usage::default())
        }
    };
    Ok(Some((events, usage)))
}

pub(crate) fn purge_namespace_object(state: &State, c: &cmd::PurgeNamespaceObject) -> Decision {
    use crate::ids::{CronJobId, DeploymentId, JobId, ServiceId, StatefulSetId};
    use crate::{cronjob, deployment, job, service, statefulset};
    if state.namespace_is_open(c.namespace.as_str()) || !state.holds(&c.object) {
        return Ok(vec![]);
    }
    let id = c.object.id;
    match c.object.kind {
        ObjectKind::Deployment => deployment::decide::delete_deployment(
            state,
            &cmd::DeleteDeployment {
                deployment_id: DeploymentId(id),
            },
        ),
        ObjectKind::StatefulSet => statefulset::decide::delete_stateful_set(
            state,
            &cmd::DeleteStatefulSet {
                stateful_set_id: StatefulSetId(id),
            },
        ),
        ObjectKind::Job => job::decide::delete_job(state, &cmd::DeleteJob { job_id: JobId(id) }),
        ObjectKind::CronJob => cronjob::decide::delete_cron_job(
            state,
            &cmd::DeleteCronJob {
                cron_job_id: CronJobId(id),
            },
        ),
        ObjectKind::Service => service::decide::delete_service(
            state,
            &cmd::DeleteService {
                service_id: ServiceId(id),
            },
        ),
        ObjectKind::Secret => match state.secrets.live.values().find(|s| s.id == id) {
            Some(s) => crate::secret::decide::delete_secret(
                state,
                &cmd::DeleteSecret {
                    namespace: s.namespace.clone(),
                    name: s.name.clone(),
                },
            ),
            None => Ok(vec![]),
        },
    }
}
