//! Typed identifiers. Ids that a retry must reproduce are UUID v5 derived
//! from stable inputs, so a repeated command names the same object.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for every v5 id this system derives.
pub const ID_NAMESPACE: Uuid = Uuid::from_u128(0x6f72_6368_2d69_6473_8000_0000_0000_0001);

macro_rules! id_type {
    ($name:ident) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(NodeId);
id_type!(PodId);
id_type!(DeploymentId);

/// A v5 id derived from parts joined by `/`.
pub fn derive_id(parts: &[&[u8]]) -> Uuid {
    let mut buf = Vec::with_capacity(64);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            buf.push(b'/');
        }
        buf.extend_from_slice(p);
    }
    Uuid::new_v5(&ID_NAMESPACE, &buf)
}

impl NodeId {
    /// Nodes are identified by name, so an agent that restarts re-registers
    /// the same node instead of creating a twin.
    pub fn from_name(name: &str) -> Self {
        NodeId(derive_id(&[b"node", name.as_bytes()]))
    }
}

impl PodId {
    /// The n-th pod a deployment ever created. Stable, so a controller that
    /// acts on a stale view asks for the same pod twice, never two pods.
    pub fn for_ordinal(deployment: DeploymentId, ordinal: u64) -> Self {
        PodId(derive_id(&[
            b"pod",
            deployment.0.as_bytes(),
            &ordinal.to_be_bytes(),
        ]))
    }
}
