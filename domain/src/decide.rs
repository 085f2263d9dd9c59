//! `decide(&State, &Command) -> Result<Vec<Event>, Rejection>`: the write
//! side's entry, one line per command, each decided by its resource's slice
//! (`node`, `deployment`, `rollout`, `pod`, `service`; the rules they share
//! are in `decision`). `Ok(vec![])` means "already done": a duplicate or a
//! request made on a stale view, dropped without a trace.

use crate::command::Command;
use crate::decision::Decision;
pub use crate::decision::MAX_REPLICAS;
/// The field checks of a deployment's scheduling constraints (the API's, too).
pub use crate::pod::template::scheduling_errors;
pub use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

/// Every command is decided by its resource's slice: one line each.
pub fn decide(state: &State, command: &Command) -> Decision {
    use crate::{
        cronjob, deployment, identity as id, job, namespace as ns, node, pod, quota, rbac, rollout,
        service, statefulset as sts,
    };
    // An undelete puts an object back in its namespace: it must be open
    // (creates check it with the rest of their spec).
    let open = |namespace| crate::namespace::lookup::check_open(state, namespace);
    match command {
        Command::RegisterNode(c) => node::decide::register_node(state, c),
        Command::MarkNodeReady(c) => node::decide::mark_node_ready(state, c),
        Command::MarkNodeNotReady(c) => node::decide::mark_node_not_ready(state, c),
        Command::MarkNodeLost(c) => node::decide::mark_node_lost(state, c),
        Command::CreateDeployment(c) => deployment::decide::create_deployment(state, c),
        Command::ScaleDeployment(c) => deployment::decide::scale_deployment(state, c),
        Command::DeleteDeployment(c) => deployment::decide::delete_deployment(state, c),
        Command::UndeleteDeployment(c) => {
            open(&c.namespace).and_then(|_| deployment::decide::undelete_deployment(state, c))
        }
        Command::UpdateDeployment(c) => deployment::decide::update_deployment(state, c),
        Command::RollbackDeployment(c) => rollout::decide::rollback_deployment(state, c),
        Command::AbortRollout(c) => rollout::decide::abort_rollout(state, c),
        Command::PauseRollout(c) => rollout::decide::pause_rollout(state, c),
        Command::ResumeRollout(c) => rollout::decide::resume_rollout(state, c),
        Command::PromoteRollout(c) => rollout::decide::promote_rollout(state, c),
        Command::CompleteRollout(c) => rollout::decide::complete_rollout(state, c),
        Command::FailRollout(c) => rollout::decide::fail_rollout(state, c),
        Command::CreatePod(c) => crate::owners::create_pod(state, c),
        Command::CreateService(c) => service::decide::create_service(state, c),
        Command::DeleteService(c) => service::decide::delete_service(state, c),
        Command::BindPod(c) => pod::decide::bind_pod(state, c),
        Command::MarkPodUnschedulable(c) => pod::decide::mark_pod_unschedulable(state, c),
        Command::EvictPod(c) => pod::decide::evict_pod(state, c),
        Command::CordonNode(c) => node::decide::cordon_node(state, c),
        Command::UncordonNode(c) => node::decide::uncordon_node(state, c),
        Command::DrainNode(c) => node::decide::drain_node(state, c),
        Command::SetNodeTaints(c) => node::decide::set_node_taints(state, c),
        Command::ReportPodStarted(c) => pod::decide::report_pod_started(state, c),
        Command::ReportPodReady(c) => pod::decide::report_pod_ready(state, c),
        Command::ReportPodFailed(c) => pod::decide::report_pod_failed(state, c),
        Command::DeletePod(c) => pod::decide::delete_pod(state, c),
        Command::ReportPodNotReady(c) => pod::decide::report_pod_not_ready(state, c),
        Command::ReportPodRestarted(c) => pod::decide::report_pod_restarted(state, c),
        Command::ReportPodSucceeded(c) => pod::decide::report_pod_succeeded(state, c),
        Command::CreateJob(c) => job::decide::create_job(state, c),
        Command::DeleteJob(c) => job::decide::delete_job(state, c),
        Command::UndeleteJob(c) => {
            open(&c.namespace).and_then(|_| job::decide::undelete_job(state, c))
        }
        Command::FailJob(c) => job::decide::fail_job(state, c),
        Command::CreateCronJob(c) => cronjob::decide::create_cron_job(state, c),
        Command::DeleteCronJob(c) => cronjob::decide::delete_cron_job(state, c),
        Command::UndeleteCronJob(c) => {
            open(&c.namespace).and_then(|_| cronjob::decide::undelete_cron_job(state, c))
        }
        Command::SuspendCronJob(c) => cronjob::decide::suspend_cron_job(state, c),
        Command::RunCronJob(c) => cronjob::decide::run_cron_job(state, c),
        Command::CreateStatefulSet(c) => sts::decide::create_stateful_set(state, c),
        Command::ScaleStatefulSet(c) => sts::decide::scale_stateful_set(state, c),
        Command::UpdateStatefulSet(c) => sts::decide::update_stateful_set(state, c),
        Command::RollbackStatefulSet(c) => sts::decide::rollback_stateful_set(state, c),
        Command::CompleteStatefulSetUpdate(c) => {
            sts::decide::complete_stateful_set_update(state, c)
        }
        Command::DeleteStatefulSet(c) => sts::decide::delete_stateful_set(state, c),
        Command::UndeleteService(c) => {
            open(&c.namespace).and_then(|_| service::decide::undelete_service(state, c))
        }
        Command::CreateNamespace(c) => ns::decide::create_namespace(state, c),
        Command::UpdateNamespace(c) => ns::decide::update_namespace(state, c),
        Command::DeleteNamespace(c) => ns::decide::delete_namespace(state, c),
        Command::UndeleteNamespace(c) => ns::decide::undelete_namespace(state, c),
        Command::PurgeNamespaceObject(c) => ns::decide::purge_namespace_object(state, c),
        Command::SetResourceQuota(c) => quota::decide::set_resource_quota(state, c),
        Command::RemoveResourceQuota(c) => quota::decide::remove_resource_quota(state, c),
        Command::RecordQuotaUsage(c) => quota::decide::record_quota_usage(state, c),
        Command::SetLimitRange(c) => crate::limitrange::decide::set_limit_range(state, c),
        Command::RemoveLimitRange(c) => crate::limitrange::decide::remove_limit_range(state, c),
        Command::SetSecret(c) => crate::secret::decide::set_secret(state, c),
        Command::DeleteSecret(c) => crate::secret::decide::delete_secret(state, c),
        Command::UndeleteSecret(c) => {
            open(&c.namespace).and_then(|_| crate::secret::decide::undelete_secret(state, c))
        }
        Command::StartKeyRotation(c) => crate::secret::decide::start_key_rotation(state, c),
        Command::RewrapSecret(c) => crate::secret::decide::rewrap_secret(state, c),
        Command::CompleteKeyRotation(c) => crate::secret::decide::complete_key_rotation(state, c),
        Command::PutNetworkPolicy(c) => crate::networkpolicy::decide::put_network_policy(state, c),
        Command::DeleteNetworkPolicy(c) => {
            crate::networkpolicy::decide::delete_network_policy(state, c)
        }
        Command::UndeleteStatefulSet(c) => {
            open(&c.namespace).and_then(|_| sts::decide::undelete_stateful_set(state, c))
        }
        Command::CreateUser(c) => id::decide::create_user(state, c),
        Command::UpdateUser(c) => id::decide::update_user(state, c),
        Command::DeleteUser(c) => id::decide::delete_user(state, c),
        Command::CreateServiceAccount(c) => id::decide::create_service_account(state, c),
        Command::DeleteServiceAccount(c) => id::decide::delete_service_account(state, c),
        Command::IssueToken(c) => id::decide::issue_token(state, c),
        Command::RevokeToken(c) => id::decide::revoke_token(state, c),
        Command::PutRole(c) => rbac::decide::put_role(state, c),
        Command::DeleteRole(c) => rbac::decide::delete_role(state, c),
        Command::PutRoleBinding(c) => rbac::decide::put_role_binding(state, c),
        Command::DeleteRoleBinding(c) => rbac::decide::delete_role_binding(state, c),
    }
}
