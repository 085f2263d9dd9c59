//! Deciding a deployment's commands: create, scale, delete, undelete, update.

use crate::command as cmd;
use crate::decision::{Decision, MAX_REPLICAS, UsageTracker, deployment, reject, validation};
use crate::event as ev;
use crate::event::{Event, RolloutTrigger};
use crate::model::{
    DeploymentSpec, LabelRequirement, PodAffinityTerm, SelectorOperator, TaintEffect,
    priority_of_class,
};

use crate::names::{FieldError, check_labels};
use crate::rejection::{Rejection, RejectionCode};
use crate::scheduler::{Topology, statically_feasible};
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
    validate_spec(spec)?;
    check_capacity(state, spec, spec.replicas)?;
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
        check_capacity(state, &d.spec, *replicas)?;
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
    check_capacity(state, &d.spec, d.spec.replicas)?;
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
        spec.image = v.clone();
    }
    if let Some(v) = &patch.command {
        spec.command = v.clone();
    }
    if let Some(v) = &patch.args {
        spec.args = v.clone();
    }
    if let Some(v) = &patch.env {
        spec.env = v.clone();
    }
    if let Some(v) = patch.resources {
        spec.resources = v;
    }
    if let Some(v) = &patch.labels {
        spec.labels = v.clone();
    }
    if let Some(v) = &patch.readiness_probe {
        spec.readiness_probe = v.clone();
    }
    if let Some(v) = &patch.liveness_probe {
        spec.liveness_probe = v.clone();
    }
    if let Some(v) = &patch.startup_probe {
        spec.startup_probe = v.clone();
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
    if patch.resources.is_some() {
        check_capacity(state, &spec, spec.replicas)?;
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

pub(crate) fn probe_errors(spec: &DeploymentSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (field, probe) in [
        ("readinessProbe", &spec.readiness_probe),
        ("livenessProbe", &spec.liveness_probe),
        ("startupProbe", &spec.startup_probe),
    ] {
        let Some(p) = probe else { continue };
        let actions =
            p.http_get.is_some() as u8 + p.tcp_socket.is_some() as u8 + p.exec.is_some() as u8;
        if actions != 1 {
            errors.push(FieldError::new(
                field,
                "give exactly one of httpGet, tcpSocket and exec",
            ));
        }
        if let Some(h) = &p.http_get
            && !h.path.starts_with('/')
        {
            errors.push(FieldError::new(
                format!("{field}.httpGet.path"),
                "must start with '/'",
            ));
        }
        if let Some(e) = &p.exec
            && e.command.is_empty()
        {
            errors.push(FieldError::new(
                format!("{field}.exec.command"),
                "must not be empty",
            ));
        }
        if p.period_ms < 100
            || p.timeout_ms == 0
            || p.failure_threshold == 0
            || p.success_threshold == 0
        {
            errors.push(FieldError::new(
                field,
                "periodMs must be at least 100; timeoutMs, failureThreshold and successThreshold at least 1",
            ));
        }
    }
    errors
}

impl DeploymentSpec {
    /// Every check of the spec alone, with field paths: the API's (so bad
    /// input is refused at the edge, field by field) and the decider's.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = scheduling_errors(self);
        errors.extend(probe_errors(self));
        errors.extend(self.strategy.validate());
        let r = &self.resources;
        if self.replicas > MAX_REPLICAS {
            errors.push(FieldError::new(
                "replicas",
                format!("must be at most {MAX_REPLICAS}"),
            ));
        }
        if r.cpu_request_milli == 0 || r.mem_request_mb == 0 {
            errors.push(FieldError::new(
                "resources",
                "cpuRequestMilli and memRequestMb must be greater than 0",
            ));
        }
        if r.cpu_limit_milli < r.cpu_request_milli {
            errors.push(FieldError::new(
                "resources.cpuLimitMilli",
                "must be at least cpuRequestMilli",
            ));
        }
        if r.mem_limit_mb < r.mem_request_mb {
            errors.push(FieldError::new(
                "resources.memLimitMb",
                "must be at least memRequestMb",
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

/// 422 when the replicas could not fit even on an empty cluster: no node
/// where the pod may run is large enough, or all of them together hold fewer.
pub(crate) fn check_capacity(
    state: &State,
    spec: &DeploymentSpec,
    replicas: u32,
) -> Result<(), Rejection> {
    if replicas == 0 {
        return Ok(());
    }
    let (cpu, mem) = (
        spec.resources.cpu_request_milli as u64,
        spec.resources.mem_request_mb as u64,
    );
    let mut slots: u64 = 0;
    let mut candidates = 0;
    for node in state
        .nodes
        .values()
        .filter(|n| statically_feasible(n, spec))
    {
        candidates += 1;
        let by_cpu = node.spec.cpu_allocatable_milli / cpu;
        let by_mem = node.spec.mem_allocatable_mb / mem;
        slots += by_cpu.min(by_mem);
    }
    if slots >= replicas as u64 {
        return Ok(());
    }
    let message = if candidates == 0 {
        "no node in the cluster can run this pod (taints, node selector, or no nodes registered)"
            .to_string()
    } else if slots == 0 {
        format!("no node is large enough for one pod requesting {cpu}m CPU and {mem} MB memory")
    } else {
        format!(
            "{replicas} replicas requesting {cpu}m CPU and {mem} MB each can never fit: the cluster holds at most {slots}"
        )
    };
    Err(Rejection::new(
        RejectionCode::InsufficientClusterCapacity,
        message,
    ))
}

/// Field-by-field problems with the scheduling parts of a template (labels,
/// affinity, spread, priority, disruption budget); the API reports them as 422.
pub fn scheduling_errors(spec: &DeploymentSpec) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_labels("labels", &spec.labels, &mut errors);
    if let Some(c) = &spec.priority_class_name {
        match priority_of_class(c) {
            None => errors.push(FieldError::new(
                "priorityClassName",
                format!(
                    "'{c}' is not a priority class; use one of {}",
                    crate::model::PRIORITY_CLASSES
                        .iter()
                        .map(|p| p.0)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )),
            Some(p) if spec.priority != 0 && spec.priority != p => errors.push(FieldError::new(
                "priority",
                format!("conflicts with priorityClassName '{c}' ({p})"),
            )),
            Some(_) => {}
        }
    }
    for (i, t) in spec.tolerations.iter().enumerate() {
        if t.toleration_seconds.is_some() && t.effect != Some(TaintEffect::NoExecute) {
            errors.push(FieldError::new(
                format!("tolerations[{i}].tolerationSeconds"),
                "only applies to effect NoExecute",
            ));
        }
    }
    if let Some(na) = spec.node_affinity() {
        for (i, t) in na.required.iter().enumerate() {
            check_selector_terms(
                &format!("affinity.nodeAffinity.required[{i}]"),
                &t.match_expressions,
                &mut errors,
            );
        }
        for (i, p) in na.preferred.iter().enumerate() {
            let f = format!("affinity.nodeAffinity.preferred[{i}]");
            check_weight(format!("{f}.weight"), p.weight, &mut errors);
            check_selector_terms(
                &format!("{f}.preference"),
                &p.preference.match_expressions,
                &mut errors,
            );
        }
    }
    for (name, a) in [
        ("podAffinity", spec.pod_affinity()),
        ("podAntiAffinity", spec.pod_anti_affinity()),
    ] {
        let Some(a) = a else { continue };
        for (i, t) in a.required.iter().enumerate() {
            check_pod_term(&format!("affinity.{name}.required[{i}]"), t, &mut errors);
        }
        for (i, w) in a.preferred.iter().enumerate() {
            let f = format!("affinity.{name}.preferred[{i}]");
            check_weight(format!("{f}.weight"), w.weight, &mut errors);
            check_pod_term(
                &format!("{f}.podAffinityTerm"),
                &w.pod_affinity_term,
                &mut errors,
            );
        }
    }
    for (i, c) in spec.topology_spread_constraints.iter().enumerate() {
        let f = format!("topologySpreadConstraints[{i}]");
        if c.max_skew == 0 {
            errors.push(FieldError::new(
                format!("{f}.maxSkew"),
                "must be at least 1",
            ));
        }
        check_topology_key(&format!("{f}.topologyKey"), &c.topology_key, &mut errors);
        check_labels(
            &format!("{f}.labelSelector"),
            &c.label_selector,
            &mut errors,
        );
    }
    if let Some(b) = spec.disruption_budget
        && b.min_available.is_some() == b.max_unavailable.is_some()
    {
        errors.push(FieldError::new(
            "disruptionBudget",
            "give exactly one of minAvailable and maxUnavailable",
        ));
    }
    errors
}

pub(crate) fn check_selector_terms(
    prefix: &str,
    exprs: &[LabelRequirement],
    errors: &mut Vec<FieldError>,
) {
    for (i, r) in exprs.iter().enumerate() {
        let f = format!("{prefix}.matchExpressions[{i}]");
        let ok = match r.operator {
            SelectorOperator::In | SelectorOperator::NotIn => !r.values.is_empty(),
            SelectorOperator::Exists | SelectorOperator::DoesNotExist => r.values.is_empty(),
            SelectorOperator::Gt | SelectorOperator::Lt => {
                r.values.len() == 1 && r.values[0].parse::<i64>().is_ok()
            }
        };
        if r.key.is_empty() {
            errors.push(FieldError::new(format!("{f}.key"), "must not be empty"));
        }
        if !ok {
            errors.push(FieldError::new(
                format!("{f}.values"),
                "In/NotIn need values, Exists/DoesNotExist none, Gt/Lt one integer",
            ));
        }
    }
}

pub(crate) fn check_topology_key(field: &str, key: &str, errors: &mut Vec<FieldError>) {
    if Topology::parse(key).is_none() {
        errors.push(FieldError::new(
            field,
            format!(
                "'{key}' is not supported; use {} or {}",
                crate::model::HOSTNAME_LABEL,
                crate::model::ZONE_LABEL
            ),
        ));
    }
}

pub(crate) fn check_pod_term(field: &str, t: &PodAffinityTerm, errors: &mut Vec<FieldError>) {
    check_topology_key(&format!("{field}.topologyKey"), &t.topology_key, errors);
    if t.label_selector.is_empty() {
        errors.push(FieldError::new(
            format!("{field}.labelSelector"),
            "must select at least one label",
        ));
    }
    check_labels(&format!("{field}.labelSelector"), &t.label_selector, errors);
}

pub(crate) fn check_weight(field: String, w: u32, errors: &mut Vec<FieldError>) {
    if !(1..=100).contains(&w) {
        errors.push(FieldError::new(field, "must be between 1 and 100"));
    }
}
