//! What each command needs: a verb on a resource, in the namespace of the
//! object it names. One line per command, grouped by slice.

use crate::command::Command;
use crate::ids::{CronJobId, ServiceId};
use crate::pod::owner::Owner;
use crate::state::State;

use super::Verb::{self, *};

/// A permission asked for: `verb` on `resource` in `namespace` (`None`: the
/// cluster's, or every namespace's).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Need {
    pub verb: Verb,
    pub resource: &'static str,
    pub namespace: Option<String>,
}

impl Need {
    pub fn new(verb: Verb, resource: &'static str, namespace: Option<&str>) -> Need {
        Need {
            verb,
            resource,
            namespace: namespace.map(str::to_string),
        }
    }
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.verb, self.resource)?;
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}"),
            None if super::CLUSTER_RESOURCES.contains(&self.resource) => Ok(()),
            None => write!(f, " cluster-wide"),
        }
    }
}

fn workload_ns(state: &State, owner: Owner) -> Option<String> {
    state.workload(owner).map(|w| w.namespace.to_string())
}

fn pod_ns(state: &State, pod: &crate::ids::PodId) -> Option<String> {
    workload_ns(state, state.pods.get(pod)?.owner)
}

fn service_ns(state: &State, id: &ServiceId) -> Option<String> {
    Some(state.services.get(id)?.spec.namespace.to_string())
}

fn cron_job_ns(state: &State, id: &CronJobId) -> Option<String> {
    Some(state.cron_jobs.get(id)?.spec.namespace.to_string())
}

/// What `command` needs. `None`: the object it names does not exist (the
/// decision then refuses it with 404, or drops it as already done), or it
/// is the caller's own token (`authorize` decides those).
pub fn of(state: &State, command: &Command) -> Option<Need> {
    use Command as C;
    let at = |verb, resource, ns: Option<String>| {
        ns.map(|ns| Need {
            verb,
            resource,
            namespace: Some(ns),
        })
    };
    let cluster = |verb, resource| Some(Need::new(verb, resource, None));
    let ns = |verb, resource, ns: &crate::names::Name| {
        Some(Need::new(verb, resource, Some(ns.as_str())))
    };
    match command {
        // nodes
        C::RegisterNode(_) => cluster(Create, "nodes"),
        C::MarkNodeReady(_) | C::MarkNodeNotReady(_) | C::MarkNodeLost(_) => {
            cluster(Update, "nodes/status")
        }
        C::CordonNode(_) | C::UncordonNode(_) | C::DrainNode(_) | C::SetNodeTaints(_) => {
            cluster(Update, "nodes")
        }
        // deployments and their rollouts
        C::CreateDeployment(c) => ns(Create, "deployments", &c.spec.namespace),
        C::ScaleDeployment(c) => at(
            Scale,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::DeleteDeployment(c) => at(
            Delete,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::UndeleteDeployment(c) => ns(Create, "deployments", &c.namespace),
        C::UpdateDeployment(c) => at(
            Update,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::RollbackDeployment(c) => at(
            Rollback,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::AbortRollout(c) => at(
            Rollout,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::PauseRollout(c) => at(
            Rollout,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::ResumeRollout(c) => at(
            Rollout,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::PromoteRollout(c) => at(
            Rollout,
            "deployments",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::CompleteRollout(c) => at(
            Update,
            "deployments/status",
            workload_ns(state, c.deployment_id.into()),
        ),
        C::FailRollout(c) => at(
            Update,
            "deployments/status",
            workload_ns(state, c.deployment_id.into()),
        ),
        // pods
        C::CreatePod(c) => at(Create, "pods", workload_ns(state, c.owner)),
        C::BindPod(c) => at(Create, "pods/binding", pod_ns(state, &c.pod_id)),
        // The scheduler's verdict on a pod's binding, not a report of its status.
        C::MarkPodUnschedulable(c) => at(Update, "pods/binding", pod_ns(state, &c.pod_id)),
        C::EvictPod(c) => at(Create, "pods/eviction", pod_ns(state, &c.pod_id)),
        C::DeletePod(c) => at(Delete, "pods", pod_ns(state, &c.pod_id)),
        C::ReportPodStarted(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        C::ReportPodReady(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        C::ReportPodFailed(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        C::ReportPodNotReady(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        C::ReportPodRestarted(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        C::ReportPodSucceeded(c) => at(Update, "pods/status", pod_ns(state, &c.pod_id)),
        // services
        C::CreateService(c) => ns(Create, "services", &c.spec.namespace),
        C::DeleteService(c) => at(Delete, "services", service_ns(state, &c.service_id)),
        C::UndeleteService(c) => ns(Create, "services", &c.namespace),
        // jobs and cron jobs
        C::CreateJob(c) => ns(Create, "jobs", &c.spec.namespace),
        C::DeleteJob(c) => at(Delete, "jobs", workload_ns(state, c.job_id.into())),
        C::UndeleteJob(c) => ns(Create, "jobs", &c.namespace),
        C::FailJob(c) => at(Update, "jobs/status", workload_ns(state, c.job_id.into())),
        C::CreateCronJob(c) => ns(Create, "cronjobs", &c.spec.namespace),
        C::DeleteCronJob(c) => at(Delete, "cronjobs", cron_job_ns(state, &c.cron_job_id)),
        C::UndeleteCronJob(c) => ns(Create, "cronjobs", &c.namespace),
        C::SuspendCronJob(c) => at(Update, "cronjobs", cron_job_ns(state, &c.cron_job_id)),
        C::RunCronJob(c) => at(
            Update,
            "cronjobs/status",
            cron_job_ns(state, &c.cron_job_id),
        ),
        // stateful sets
        C::CreateStatefulSet(c) => ns(Create, "statefulsets", &c.spec.namespace),
        C::ScaleStatefulSet(c) => at(
            Scale,
            "statefulsets",
            workload_ns(state, c.stateful_set_id.into()),
        ),
        C::UpdateStatefulSet(c) => at(
            Update,
            "statefulsets",
            workload_ns(state, c.stateful_set_id.into()),
        ),
        C::RollbackStatefulSet(c) => at(
            Rollback,
            "statefulsets",
            workload_ns(state, c.stateful_set_id.into()),
        ),
        C::CompleteStatefulSetUpdate(c) => at(
            Update,
            "statefulsets/status",
            workload_ns(state, c.stateful_set_id.into()),
        ),
        C::DeleteStatefulSet(c) => at(
            Delete,
            "statefulsets",
            workload_ns(state, c.stateful_set_id.into()),
        ),
        C::UndeleteStatefulSet(c) => ns(Create, "statefulsets", &c.namespace),
        // namespaces and their policies
        C::CreateNamespace(_) => cluster(Create, "namespaces"),
        C::UpdateNamespace(_) => cluster(Update, "namespaces"),
        C::DeleteNamespace(_) | C::PurgeNamespaceObject(_) => cluster(Delete, "namespaces"),
        C::UndeleteNamespace(_) => cluster(Create, "namespaces"),
        C::SetResourceQuota(c) => ns(Update, "resourcequotas", &c.namespace),
        C::RemoveResourceQuota(c) => ns(Delete, "resourcequotas", &c.namespace),
        C::RecordQuotaUsage(c) => ns(Update, "resourcequotas/status", &c.namespace),
        C::SetLimitRange(c) => ns(Update, "limitranges", &c.namespace),
        C::RemoveLimitRange(c) => ns(Delete, "limitranges", &c.namespace),
        // identities
        C::CreateUser(_) => cluster(Create, "users"),
        C::UpdateUser(_) => cluster(Update, "users"),
        C::DeleteUser(_) => cluster(Delete, "users"),
        C::CreateServiceAccount(c) => ns(Create, "serviceaccounts", &c.namespace),
        C::DeleteServiceAccount(c) => ns(Delete, "serviceaccounts", &c.namespace),
        C::IssueToken(c) => token_need(Create, &c.subject),
        C::RevokeToken(c) => {
            let (_, t) = state.identities.token_by_id(c.token_id)?;
            token_need(Delete, &t.subject)
        }
        // roles and bindings
        C::PutRole(c) => Some(Need::new(
            Update,
            "roles",
            c.namespace.as_ref().map(|n| n.as_str()),
        )),
        C::DeleteRole(c) => Some(Need::new(
            Delete,
            "roles",
            c.namespace.as_ref().map(|n| n.as_str()),
        )),
        C::PutRoleBinding(c) => Some(Need::new(
            Update,
            "rolebindings",
            c.namespace.as_ref().map(|n| n.as_str()),
        )),
        C::DeleteRoleBinding(c) => Some(Need::new(
            Delete,
            "rolebindings",
            c.namespace.as_ref().map(|n| n.as_str()),
        )),
        // secrets (a rotation is the cluster's: it touches every namespace)
        C::SetSecret(c)
            if c.create_only
                || state
                    .secrets
                    .get(c.namespace.as_str(), c.name.as_str())
                    .is_none() =>
        {
            ns(Create, "secrets", &c.namespace)
        }
        C::SetSecret(c) => ns(Update, "secrets", &c.namespace),
        C::DeleteSecret(c) => ns(Delete, "secrets", &c.namespace),
        C::UndeleteSecret(c) => ns(Create, "secrets", &c.namespace),
        C::StartKeyRotation(_) | C::RewrapSecret(_) | C::CompleteKeyRotation(_) => {
            cluster(Update, "secrets")
        }
        C::PutNetworkPolicy(c) => ns(Update, "networkpolicies", &c.namespace),
        C::DeleteNetworkPolicy(c) => ns(Delete, "networkpolicies", &c.namespace),
    }
}

/// A template that takes secrets into its pods reads their values: the
/// command also needs `read-secrets` on secrets in its namespace (else
/// `create deployments` would be a way round `read-secrets`).
pub fn template_secrets(state: &State, command: &Command) -> Option<Need> {
    use Command as C;
    let (namespace, template) = match command {
        C::UpdateStatefulSet(c) => (
            &state.stateful_sets.get(&c.stateful_set_id)?.spec.namespace,
            c.template.as_ref()?,
        ),
        C::CreateDeployment(c) => (&c.spec.namespace, &c.spec.template),
        C::CreateStatefulSet(c) => (&c.spec.namespace, &c.spec.template),
        C::CreateJob(c) => (&c.spec.namespace, &c.spec.template),
        C::CreateCronJob(c) => (&c.spec.namespace, &c.spec.job_template.template),
        _ => return None,
    };
    template
        .uses_secrets()
        .then(|| Need::new(ReadSecrets, "secrets", Some(namespace.as_str())))
}

/// Tokens of a service account are its namespace's; a user's are the cluster's.
fn token_need(verb: Verb, subject: &str) -> Option<Need> {
    match crate::identity::Principal::of(subject) {
        crate::identity::Principal::ServiceAccount { namespace, .. } => Some(Need {
            verb,
            resource: "tokens",
            namespace: Some(namespace),
        }),
        _ => Some(Need::new(verb, "tokens", None)),
    }
}
