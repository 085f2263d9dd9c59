//! Deciding a StatefulSet's commands.

use crate::command as cmd;
use crate::decision::{Decision, UsageTracker, check_capacity, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::ids::StatefulSetId;
use crate::names::FieldError;
use crate::quota::{self, Usage};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::{Pod, State};
use crate::statefulset::{PodManagementPolicy, StatefulSet};

fn set<'s>(state: &'s State, id: &StatefulSetId) -> Result<&'s StatefulSet, Rejection> {
    state.stateful_sets.get(id).ok_or_else(|| {
        Rejection::new(
            RejectionCode::NotFound,
            format!("statefulset {id} not found"),
        )
    })
}

pub(crate) fn create_stateful_set(state: &State, c: &cmd::CreateStatefulSet) -> Decision {
    let cmd::CreateStatefulSet {
        stateful_set_id,
        spec,
    } = c;
    if state.stateful_sets.contains_key(stateful_set_id) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("statefulset {stateful_set_id} already exists"),
        );
    }
    if state
        .stateful_set_by_name(spec.namespace.as_str(), spec.name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!(
                "statefulset '{}' already exists in namespace '{}'",
                spec.name, spec.namespace
            ),
        );
    }
    crate::namespace::lookup::check_open(state, &spec.namespace)?;
    let spec = &crate::statefulset::StatefulSetSpec {
        template: crate::limitrange::apply::resolve(
            state,
            &spec.namespace,
            &spec.template,
            "template.",
        )?,
        ..spec.clone()
    };
    let errors = spec.validate();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    crate::namespace::security::check(state, &spec.namespace, &spec.template, "template.")?;
    crate::secret::decide::check_refs(state, &spec.namespace, &spec.template, "template.")?;
    check_capacity(state, &spec.template, spec.replicas)?;
    quota::commitment::admit(
        state,
        &spec.namespace,
        Usage::default(),
        Usage::pods(spec.replicas as u64, &spec.template.resources)
            .plus(Usage::count(crate::namespace::ObjectKind::StatefulSet)),
    )?;
    Ok(vec![Event::StatefulSetCreated(ev::StatefulSetCreated {
        stateful_set_id: *stateful_set_id,
        spec: spec.clone(),
    })])
}

pub(crate) fn scale_stateful_set(state: &State, c: &cmd::ScaleStatefulSet) -> Decision {
    let s = set(state, &c.stateful_set_id)?;
    if c.replicas == s.spec.replicas {
        return Ok(vec![]);
    }
    let mut spec = s.spec.clone();
    spec.replicas = c.replicas;
    // Only what the count changes: the last ordinal's name, the maximum.
    let errors: Vec<FieldError> = spec
        .validate()
        .into_iter()
        .filter(|e| {
            matches!(
                e.field.as_str(),
                "replicas" | "name" | "volumeClaimTemplate.name"
            )
        })
        .collect();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    check_capacity(state, &s.spec.template, c.replicas)?;
    quota::commitment::admit(
        state,
        &s.spec.namespace,
        quota::commitment::stateful_set_usage(s),
        quota::commitment::stateful_set_usage_with(s, c.replicas, &s.spec.template.resources),
    )?;
    Ok(vec![Event::StatefulSetScaled(ev::StatefulSetScaled {
        stateful_set_id: s.id,
        from: s.spec.replicas,
        to: c.replicas,
    })])
}

pub(crate) fn update_stateful_set(state: &State, c: &cmd::UpdateStatefulSet) -> Decision {
    let s = set(state, &c.stateful_set_id)?;
    let mut errors = Vec::new();
    let mut events = Vec::new();
    let template = c.template.clone().or_else(|| {
        c.image.as_ref().map(|i| {
            let mut t = s.spec.template.clone();
            t.image = i.clone();
            t
        })
    });
    let template = match template {
        Some(t) => Some(crate::limitrange::apply::resolve(
            state,
            &s.spec.namespace,
            &t,
            "template.",
        )?),
        None => None,
    };
    if let Some(t) = template.as_ref().filter(|t| **t != s.spec.template) {
        let mut spec = s.spec.clone();
        spec.template = t.clone();
        errors.extend(
            spec.validate()
                .into_iter()
                .filter(|e| e.field.starts_with("template.")),
        );
        events.push(Event::StatefulSetRevisionCreated(
            ev::StatefulSetRevisionCreated {
                stateful_set_id: s.id,
                revision: s.latest_revision() + 1,
                from: s.current_revision,
                update: s.updates + 1,
                template: t.clone(),
            },
        ));
    }
    if let Some(p) = c
        .partition
        .filter(|p| *p != s.spec.update_strategy.partition)
    {
        errors.extend(s.spec.partition_errors(p));
        events.push(Event::StatefulSetPartitionChanged(
            ev::StatefulSetPartitionChanged {
                stateful_set_id: s.id,
                from: s.spec.update_strategy.partition,
                to: p,
            },
        ));
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    if let Some(t) = &template {
        crate::namespace::security::check(state, &s.spec.namespace, t, "template.")?;
        crate::secret::decide::check_refs(state, &s.spec.namespace, t, "template.")?;
        check_capacity(state, t, 1)?;
        quota::commitment::admit(
            state,
            &s.spec.namespace,
            quota::commitment::stateful_set_usage(s),
            quota::commitment::stateful_set_usage_with(s, s.spec.replicas, &t.resources),
        )?;
    }
    Ok(events)
}

pub(crate) fn rollback_stateful_set(state: &State, c: &cmd::RollbackStatefulSet) -> Decision {
    let s = set(state, &c.stateful_set_id)?;
    if c.update.is_some() && c.update != s.update.as_ref().map(|u| u.number) {
        return Ok(vec![]); // the update it would stop is over
    }
    if s.template(c.revision).is_none() {
        return Err(validation(&[FieldError::new(
            "revision",
            format!(
                "statefulset {} has no revision {} (latest: {})",
                s.spec.name,
                c.revision,
                s.latest_revision()
            ),
        )]));
    }
    if c.revision == s.revision && c.revision == s.current_revision {
        return Ok(vec![]);
    }
    Ok(vec![Event::StatefulSetRolledBack(
        ev::StatefulSetRolledBack {
            stateful_set_id: s.id,
            update: s.update.as_ref().map(|u| u.number),
            from: s.revision,
            to: c.revision,
            automatic: c.automatic,
            reason: c.reason.clone(),
        },
    )])
}

/// Whether every ordinal from the partition up runs the update revision and is Ready.
pub(crate) fn update_converged(state: &State, s: &StatefulSet) -> bool {
    let partition = s.spec.update_strategy.partition.min(s.spec.replicas) as u64;
    (partition..s.spec.replicas as u64).all(|o| {
        s.ordinals
            .get(&o)
            .and_then(|p| state.pods.get(p))
            .is_some_and(|p| p.is_live() && p.ready && p.revision == s.revision)
    })
}

pub(crate) fn complete_stateful_set_update(
    state: &State,
    c: &cmd::CompleteStatefulSetUpdate,
) -> Decision {
    let s = set(state, &c.stateful_set_id)?;
    let partition = s.spec.update_strategy.partition.min(s.spec.replicas);
    let pending = match &s.update {
        Some(u) => u.number == c.update,
        // An update that finished above a partition, the partition since lowered to 0.
        None => partition == 0 && s.current_revision != s.revision && c.update == s.updates,
    };
    if !pending || !update_converged(state, s) {
        return Ok(vec![]);
    }
    Ok(vec![Event::StatefulSetUpdateCompleted(
        ev::StatefulSetUpdateCompleted {
            stateful_set_id: s.id,
            update: c.update,
            revision: s.revision,
            partition,
        },
    )])
}

pub(crate) fn delete_stateful_set(state: &State, c: &cmd::DeleteStatefulSet) -> Decision {
    let s = set(state, &c.stateful_set_id)?;
    let mut usage = UsageTracker::default();
    // Highest ordinal first; a pod not holding an ordinal any more last.
    let mut pods: Vec<&Pod> = s.pods.iter().filter_map(|p| state.pods.get(p)).collect();
    pods.sort_by_key(|p| (std::cmp::Reverse(p.ordinal), p.id));
    let mut events: Vec<Event> = pods
        .into_iter()
        .map(|p| {
            Event::PodDeleted(ev::PodDeleted {
                pod_id: p.id,
                reason: format!("statefulset {} deleted", s.spec.name),
                usage: usage.release(state, &p.id, p.node),
            })
        })
        .collect();
    events.push(Event::StatefulSetDeleted(ev::StatefulSetDeleted {
        stateful_set_id: s.id,
        namespace: s.spec.namespace.clone(),
        name: s.spec.name.clone(),
    }));
    Ok(events)
}

pub(crate) fn undelete_stateful_set(state: &State, c: &cmd::UndeleteStatefulSet) -> Decision {
    let cmd::UndeleteStatefulSet { namespace, name } = c;
    if state
        .stateful_set_by_name(namespace.as_str(), name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("statefulset '{name}' exists in namespace '{namespace}': delete it first"),
        );
    }
    let Some(s) = state
        .deleted_stateful_sets
        .get(&format!("{namespace}/{name}"))
    else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted statefulset '{name}' in namespace '{namespace}'"),
        );
    };
    crate::namespace::security::check(state, namespace, &s.spec.template, "template.")?;
    check_capacity(state, &s.spec.template, s.spec.replicas)?;
    quota::commitment::admit(
        state,
        namespace,
        Usage::default(),
        quota::commitment::stateful_set_usage(s),
    )?;
    Ok(vec![Event::StatefulSetUndeleted(
        ev::StatefulSetUndeleted {
            stateful_set_id: s.id,
            spec: s.spec.clone(),
            revision: s.revision,
            current_revision: s.current_revision,
        },
    )])
}

/// Whether every ordinal below `ordinal` has a live, Ready pod.
pub(crate) fn predecessors_ready(state: &State, s: &StatefulSet, ordinal: u64) -> bool {
    (0..ordinal).all(|o| {
        s.ordinals
            .get(&o)
            .and_then(|p| state.pods.get(p))
            .is_some_and(|p| p.is_live() && p.ready)
    })
}

/// `CreatePod` for a set: ordinal `c.ordinal` (below `replicas`) when no
/// live pod holds it, under `OrderedReady` only once every lower ordinal is
/// Ready. A failed pod holding the ordinal is deleted first: the new one
/// takes its name, a new id, and the same volume claim.
pub(crate) fn create_pod(state: &State, id: StatefulSetId, c: &cmd::CreatePod) -> Decision {
    let Some(s) = state.stateful_sets.get(&id) else {
        return Ok(vec![]);
    };
    let ordinal = c.ordinal;
    if ordinal >= s.spec.replicas as u64 {
        return Ok(vec![]);
    }
    let holder = s.ordinals.get(&ordinal).and_then(|p| state.pods.get(p));
    if holder.is_some_and(Pod::is_live) {
        return Ok(vec![]);
    }
    if s.spec.pod_management_policy == PodManagementPolicy::OrderedReady
        && !predecessors_ready(state, s, ordinal)
    {
        return Ok(vec![]);
    }
    let revision = c.revision.unwrap_or_else(|| s.target_revision(ordinal));
    let Some(template) = s.template(revision) else {
        return Ok(vec![]);
    };
    let mut events = Vec::new();
    if let Some(old) = holder {
        events.push(Event::PodDeleted(ev::PodDeleted {
            pod_id: old.id,
            reason: format!(
                "replaced: {} comes back as a new pod",
                s.spec.pod_name(ordinal)
            ),
            usage: UsageTracker::default().release(state, &old.id, old.node),
        }));
    }
    let mut e = crate::decision::pod_created(
        id.into(),
        &s.spec.namespace,
        &s.spec.name,
        ordinal,
        template,
        revision,
    );
    if let Event::PodCreated(p) = &mut e {
        p.pod_id = s.pod_id(ordinal);
        p.volume_claim = s.spec.claim_name(ordinal);
    }
    events.push(e);
    Ok(events)
}
