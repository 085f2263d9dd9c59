//! Commands: requests for change. Each enters the log in an envelope that
//! says who asked, why and when; the decider accepts or rejects it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::cronjob::commands::*;
pub use crate::deployment::commands::*;
pub use crate::identity::commands::*;
pub use crate::job::commands::*;
pub use crate::limitrange::commands::*;
pub use crate::namespace::commands::*;
pub use crate::networkpolicy::commands::*;
pub use crate::node::commands::*;
pub use crate::pod::commands::*;
pub use crate::quota::commands::*;
pub use crate::rbac::commands::*;
pub use crate::rollout::commands::*;
pub use crate::secret::commands::*;
pub use crate::service::commands::*;
pub use crate::statefulset::commands::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandEnvelope {
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub actor: String,
    #[serde(default)]
    pub reason: Option<String>,
    pub issued_at: DateTime<Utc>,
    /// Someone waits for the outcome: a command that changes nothing still
    /// gets an (empty) event batch, so the caller is answered, not timed out.
    #[serde(default)]
    pub reply: bool,
    pub body: Command,
}

impl CommandEnvelope {
    pub fn new(
        command_id: Uuid,
        actor: impl Into<String>,
        reason: Option<String>,
        body: Command,
    ) -> Self {
        CommandEnvelope {
            command_id,
            correlation_id: command_id,
            actor: actor.into(),
            reason,
            issued_at: Utc::now(),
            reply: false,
            body,
        }
    }

    /// The same command, correlated with the request that caused it (`None`: itself).
    pub fn caused_by(mut self, correlation: Option<Uuid>) -> Self {
        if let Some(c) = correlation {
            self.correlation_id = c;
        }
        self
    }

    /// The same command, answered even when it changes nothing.
    pub fn with_reply(mut self) -> Self {
        self.reply = true;
        self
    }
}

// A command lives briefly (decoded, decided, dropped): boxing the template
// would only add an allocation to every read.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(tag = "type")]
pub enum Command {
    RegisterNode(RegisterNode),
    MarkNodeReady(MarkNodeReady),
    MarkNodeNotReady(MarkNodeNotReady),
    MarkNodeLost(MarkNodeLost),
    CreateDeployment(CreateDeployment),
    ScaleDeployment(ScaleDeployment),
    DeleteDeployment(DeleteDeployment),
    UndeleteDeployment(UndeleteDeployment),
    UpdateDeployment(UpdateDeployment),
    RollbackDeployment(RollbackDeployment),
    AbortRollout(AbortRollout),
    PauseRollout(PauseRollout),
    ResumeRollout(ResumeRollout),
    PromoteRollout(PromoteRollout),
    CompleteRollout(CompleteRollout),
    FailRollout(FailRollout),
    CreatePod(CreatePod),
    CreateService(CreateService),
    DeleteService(DeleteService),
    BindPod(BindPod),
    MarkPodUnschedulable(MarkPodUnschedulable),
    EvictPod(EvictPod),
    CordonNode(CordonNode),
    UncordonNode(UncordonNode),
    DrainNode(DrainNode),
    SetNodeTaints(SetNodeTaints),
    ReportPodStarted(ReportPodStarted),
    ReportPodReady(ReportPodReady),
    ReportPodFailed(ReportPodFailed),
    DeletePod(DeletePod),
    ReportPodNotReady(ReportPodNotReady),
    ReportPodRestarted(ReportPodRestarted),
    ReportPodSucceeded(ReportPodSucceeded),
    CreateJob(CreateJob),
    DeleteJob(DeleteJob),
    UndeleteJob(UndeleteJob),
    FailJob(FailJob),
    CreateCronJob(CreateCronJob),
    DeleteCronJob(DeleteCronJob),
    UndeleteCronJob(UndeleteCronJob),
    SuspendCronJob(SuspendCronJob),
    RunCronJob(RunCronJob),
    CreateStatefulSet(CreateStatefulSet),
    ScaleStatefulSet(ScaleStatefulSet),
    UpdateStatefulSet(UpdateStatefulSet),
    RollbackStatefulSet(RollbackStatefulSet),
    CompleteStatefulSetUpdate(CompleteStatefulSetUpdate),
    DeleteStatefulSet(DeleteStatefulSet),
    UndeleteStatefulSet(UndeleteStatefulSet),
    UndeleteService(UndeleteService),
    CreateNamespace(CreateNamespace),
    UpdateNamespace(UpdateNamespace),
    DeleteNamespace(DeleteNamespace),
    UndeleteNamespace(UndeleteNamespace),
    PurgeNamespaceObject(PurgeNamespaceObject),
    SetResourceQuota(SetResourceQuota),
    RemoveResourceQuota(RemoveResourceQuota),
    RecordQuotaUsage(RecordQuotaUsage),
    SetLimitRange(SetLimitRange),
    RemoveLimitRange(RemoveLimitRange),
    SetSecret(SetSecret),
    DeleteSecret(DeleteSecret),
    UndeleteSecret(UndeleteSecret),
    StartKeyRotation(StartKeyRotation),
    RewrapSecret(RewrapSecret),
    CompleteKeyRotation(CompleteKeyRotation),
    PutNetworkPolicy(PutNetworkPolicy),
    DeleteNetworkPolicy(DeleteNetworkPolicy),
    CreateUser(CreateUser),
    UpdateUser(UpdateUser),
    DeleteUser(DeleteUser),
    CreateServiceAccount(CreateServiceAccount),
    DeleteServiceAccount(DeleteServiceAccount),
    IssueToken(IssueToken),
    RevokeToken(RevokeToken),
    PutRole(PutRole),
    DeleteRole(DeleteRole),
    PutRoleBinding(PutRoleBinding),
    DeleteRoleBinding(DeleteRoleBinding),
}

impl Command {
    /// The variant's name, as the `type` tag writes it.
    pub fn type_name(&self) -> &'static str {
        self.into()
    }
}
