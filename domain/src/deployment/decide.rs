//! Deciding a deployment's commands: create, scale, delete, undelete, update.

use crate::command as cmd;
use crate::decision::{
    Decision, MAX_REPLICAS, UsageTracker, check_capacity, deployment, reject, validation,
};
use crate::event as ev;
use crate::event::{Event, RolloutTrigger};
use crate::ids::DeploymentId;
use crate::model::DeploymentSpec;

use crate::names::FieldError;
use crate::quota::{self, Usage};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

pub(crate) fn create_deployment(state: &State, c: &cmd::CreateDeployment) -> Decision {
    let cmd::CreateDeployment {
        deployment_id,
        spec,
        ..
    } = c;
    if state.deployments.contains_key(deployment_id) {
        return reject(
            RejectionCode::AlreadyExists,
            format!("deployment {deployment_id} already exists"),
        );
    }
    if state
        .deployment_by_name(spec.namespace.as_str(), spec.name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!(
                "deployment '{}' already exists in namespace '{}'",
                spec.name, spec.namespace
            ),
        );
    }
    crate::namespace::lookup::check_open(state, &spec.namespace)?;
    let spec = &DeploymentSpec {
        template: crate::limitrange::apply::resolve(state, &spec.namespace, &spec.template, "")?,
        ..spec.clone()
    };
    validate_spec(spec)?;
    crate::namespace::security::check(state, &spec.namespace, &spec.template, "")?;
    crate::secret::decide::check_refs(state, &spec.namespace, &spec.template, "")?;
    check_capacity(state, &spec.template, spec.replicas)?;
    quota::commitment::admit(
        state,
        &spec.namespace,
        Usage::default(),
        quota::commitment::deployment_spec_usage(spec, false, None),
    )?;
    Ok(vec![Event::DeploymentCreated(ev::DeploymentCreated {
        deployment_id: *deployment_id,
        spec: spec.clone(),
        revision: 1,
    })])
}

pub(crate) fn scale_deployment(state: &State, c: &cmd::ScaleDeployment) -> Decision {
    let cmd::ScaleDeployment {
        deployment_id,
        replicas,
        ..
    } = c;
    let d = deployment(state, deployment_id)?;
    if *replicas > MAX_REPLICAS {
        return reject(
            RejectionCode::ValidationFailed,
            format!("replicas must be at most {MAX_REPLICAS}"),
        );
    }
    if *replicas > d.spec.replicas {
        check_capacity(state, &d.spec.template, *replicas)?;
        if quota::commitment::applies(state, &d.spec.namespace) {
            let mut after = d.spec.clone();
            after.replicas = *replicas;
            quota::commitment::admit(
                state,
                &d.spec.namespace,
                quota::commitment::deployment_usage(d),
                quota::commitment::deployment_usage_with(d, &after),
            )?;
        }
    }
    Ok(vec![Event::DeploymentScaled(ev::DeploymentScaled {
        deployment_id: *deployment_id,
        from: d.spec.replicas,
        to: *replicas,
    })])
}

pub(crate) fn delete_deployment(state: &State, c: &cmd::DeleteDeployment) -> Decision {
    let cmd::DeleteDeployment { deployment_id, .. } = c;
    let d = deployment(state, deployment_id)?;
    let mut events = Vec::with_capacity(d.pods.len() + 2);
    // A rollout in progress ends with the deployment, not silently.
    if let Some(r) = &d.rollout {
        events.push(Event::RolloutFailed(ev::RolloutFailed {
            deployment_id: *deployment_id,
            rollout: r.number,
            reason: "deployment deleted".into(),
        }));
    }
    let mut usage = UsageTracker::default();
    for pod_id in &d.pods {
        let pod = &state.pods[pod_id];
        let u = usage.release(state, pod_id, pod.node);
        events.push(Event::PodDeleted(ev::PodDeleted {
            pod_id: *pod_id,
            reason: "deployment deleted".into(),
            usage: u,
        }));
    }
    events.push(Event::DeploymentDeleted(ev::DeploymentDeleted {
        deployment_id: *deployment_id,
        namespace: d.spec.namespace.clone(),
        name: d.spec.name.clone(),
    }));
    Ok(events)
}

pub(crate) fn undelete_deployment(state: &State, c: &cmd::UndeleteDeployment) -> Decision {
    let cmd::UndeleteDeployment {
        namespace, name, ..
    } = c;
    if state
        .deployment_by_name(namespace.as_str(), name.as_str())
        .is_some()
    {
        return reject(
            RejectionCode::AlreadyExists,
            format!("deployment '{name}' exists in namespace '{namespace}': delete it first"),
        );
    }
    let Some(d) = state.deleted.get(&format!("{namespace}/{name}")) else {
        return reject(
            RejectionCode::NotFound,
            format!("no deleted deployment '{name}' in namespace '{namespace}'"),
        );
    };
    // The namespace's pod security level may have been raised since.
    crate::namespace::security::check(state, namespace, &d.spec.template, "")?;
    check_capacity(state, &d.spec.template, d.spec.replicas)?;
    quota::commitment::admit(
        state,
        namespace,
        Usage::default(),
        quota::commitment::deployment_usage(d),
    )?;
    Ok(vec![Event::DeploymentUndeleted(ev::DeploymentUndeleted {
        deployment_id: d.id,
        spec: d.spec.clone(),
        revision: d.revision,
    })])
}

/// A `PATCH`: strategy changes apply at once; template changes record a
/// new revision and start a rollout (refused while one runs).
pub(crate) fn update_deployment(state: &State, c: &cmd::UpdateDeployment) -> Decision {
    let cmd::UpdateDeployment {
        deployment_id,
        patch,
        ..
    } = c;
    let d = deployment(state, deployment_id)?;
    let mut spec = d.spec.clone();
    if let Some(v) = &patch.image {
        spec.template.image = v.clone();
    }
    if let Some(v) = &patch.command {
        spec.template.command = v.clone();
    }
    if let Some(v) = &patch.args {
        spec.template.args = v.clone();
    }
    if let Some(v) = &patch.env {
        spec.template.env = v.clone();
    }
    if let Some(v) = patch.resources {
        spec.template.resources = v;
        spec.template =
            crate::limitrange::apply::resolve(state, &spec.namespace, &spec.template, "")?;
    }
    if let Some(v) = &patch.labels {
        spec.template.labels = v.clone();
    }
    if let Some(v) = &patch.readiness_probe {
        spec.template.readiness_probe = v.clone();
    }
    if let Some(v) = &patch.liveness_probe {
        spec.template.liveness_probe = v.clone();
    }
    if let Some(v) = &patch.startup_probe {
        spec.template.startup_probe = v.clone();
    }
    // Merged with the strategy the deployment has now, not one a client read.
    let strategy = patch
        .strategy
        .map_or(spec.strategy, |p| p.apply(spec.strategy));
    spec.strategy = d.spec.strategy;
    let budget = patch.disruption_budget.unwrap_or(d.spec.disruption_budget);
    let template_changed = spec != d.spec;
    if patch.canary.is_some() && !template_changed {
        return reject(
            RejectionCode::ValidationFailed,
            "canary: only a template change (image, command, args, env, resources, labels, probes) starts a canary",
        );
    }
    if template_changed && let Some(r) = &d.rollout {
        return reject(
            RejectionCode::RolloutInProgress,
            format!(
                "deployment {} is rolling out revision {} (rollout {}); wait for it, pause it, or roll back",
                d.spec.name, r.to, r.number
            ),
        );
    }
    // The probes and the strategy are checked with the rest of the spec below.
    let mut errors = Vec::new();
    if let Some(c) = patch.canary
        && (c.replicas.is_some() == c.percent.is_some()
            || c.replicas == Some(0)
            || c.percent.is_some_and(|p| p == 0 || p > 100))
    {
        errors.push(FieldError::new(
            "canary",
            "give exactly one of replicas (≥ 1) and percent (1–100)",
        ));
    }
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let mut probe = spec.clone();
    probe.strategy = strategy;
    probe.disruption_budget = budget;
    validate_spec(&probe)?;
    if template_changed {
        crate::namespace::security::check(state, &spec.namespace, &spec.template, "")?;
        crate::secret::decide::check_refs(state, &spec.namespace, &spec.template, "")?;
    }
    if patch.resources.is_some() {
        check_capacity(state, &spec.template, spec.replicas)?;
    }
    // A template change rolls out: the surge's pods, each as large as the
    // larger revision, must fit in the quota too.
    if (template_changed || strategy != d.spec.strategy)
        && quota::commitment::applies(state, &d.spec.namespace)
    {
        let mut after = probe.clone();
        after.replicas = d.spec.replicas;
        let mixed = template_changed || d.rollout.is_some() || d.live_other_revision > 0;
        quota::commitment::admit(
            state,
            &d.spec.namespace,
            quota::commitment::deployment_usage(d),
            quota::commitment::deployment_spec_usage(
                &after,
                mixed,
                Some(&d.spec.template.resources),
            ),
        )?;
    }
    let mut events = Vec::new();
    if strategy != d.spec.strategy {
        events.push(Event::DeploymentStrategyChanged(
            ev::DeploymentStrategyChanged {
                deployment_id: *deployment_id,
                strategy,
            },
        ));
    }
    if budget != d.spec.disruption_budget {
        events.push(Event::DeploymentBudgetChanged(
            ev::DeploymentBudgetChanged {
                deployment_id: *deployment_id,
                budget,
            },
        ));
    }
    if template_changed {
        let revision = d.latest_revision() + 1;
        events.push(Event::DeploymentRevisionCreated(
            ev::DeploymentRevisionCreated {
                deployment_id: *deployment_id,
                revision,
                spec,
            },
        ));
        events.push(Event::RolloutStarted(ev::RolloutStarted {
            deployment_id: *deployment_id,
            rollout: d.rollouts + 1,
            from: d.revision,
            to: revision,
            trigger: RolloutTrigger::Update,
            canary: patch.canary.map(|c| c.pods(d.spec.replicas)),
        }));
    }
    Ok(events)
}

impl DeploymentSpec {
    /// Every check of the spec alone, with field paths: the API's (so bad
    /// input is refused at the edge, field by field) and the decider's.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = self.template.validate();
        if !self.template.restart_policy.is_always() {
            errors.push(FieldError::new(
                "restartPolicy",
                "a deployment's pods must have restartPolicy Always (use a job for pods that run to completion)",
            ));
        }
        errors.extend(self.strategy.validate());
        if self.replicas > MAX_REPLICAS {
            errors.push(FieldError::new(
                "replicas",
                format!("must be at most {MAX_REPLICAS}"),
            ));
        }
        if let Some(b) = self.disruption_budget
            && b.min_available.is_some() == b.max_unavailable.is_some()
        {
            errors.push(FieldError::new(
                "disruptionBudget",
                "give exactly one of minAvailable and maxUnavailable",
            ));
        }
        errors
    }
}

pub(crate) fn validate_spec(spec: &DeploymentSpec) -> Result<(), Rejection> {
    let errors = spec.validate();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(validation(&errors))
    }
}

/// `CreatePod` for a deployment: its pod number `next_ordinal`, of the
/// revision asked (default: the current one), within the replicas (plus the
/// surge while revisions are mixed).
pub(crate) fn create_pod(state: &State, id: DeploymentId, c: &cmd::CreatePod) -> Decision {
    let Some(d) = state.deployments.get(&id) else {
        return Ok(vec![]);
    };
    let revision = c.revision.unwrap_or(d.revision);
    let Some(spec) = d.template(revision) else {
        return Ok(vec![]);
    };
    let mixed = d.rollout.is_some() || d.live_other_revision > 0;
    let cap = d.spec.replicas + if mixed { d.spec.strategy.max_surge } else { 0 };
    if c.ordinal != d.next_ordinal || state.live_pod_count(d) >= cap {
        return Ok(vec![]);
    }
    Ok(vec![crate::decision::pod_created(
        id.into(),
        &d.spec.namespace,
        &d.spec.name,
        c.ordinal,
        &spec.template,
        revision,
    )])
}
