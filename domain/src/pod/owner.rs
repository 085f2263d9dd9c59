//! Who a pod belongs to: the workload that created it and keeps it.

use serde::{Deserialize, Serialize};

use crate::ids::{DeploymentId, JobId};

/// The owner reference every pod carries (kind and id). In events it is
/// flattened into the pod's fields as `<kind>Id` (`"deploymentId": …`), the
/// shape pods had before they could have other owners.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
)]
pub enum Owner {
    #[serde(rename = "deploymentId")]
    #[strum(serialize = "deployment")]
    Deployment(DeploymentId),
    #[serde(rename = "jobId")]
    #[strum(serialize = "job")]
    Job(JobId),
}

impl Owner {
    /// The owner's kind, as `AggregateKind` spells it (`deployment`).
    pub fn kind(&self) -> &'static str {
        self.into()
    }

    pub fn id(&self) -> uuid::Uuid {
        match self {
            Owner::Deployment(id) => id.0,
            Owner::Job(id) => id.0,
        }
    }

    pub fn deployment(&self) -> Option<DeploymentId> {
        match self {
            Owner::Deployment(id) => Some(*id),
            _ => None,
        }
    }

    pub fn job(&self) -> Option<JobId> {
        match self {
            Owner::Job(id) => Some(*id),
            _ => None,
        }
    }
}

impl From<JobId> for Owner {
    fn from(id: JobId) -> Self {
        Owner::Job(id)
    }
}

impl From<DeploymentId> for Owner {
    fn from(id: DeploymentId) -> Self {
        Owner::Deployment(id)
    }
}
