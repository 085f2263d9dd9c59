//! Typed identifiers. Ids that a retry must reproduce are UUID v5 derived
//! from stable inputs, so a repeated command names the same object.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A fast hasher for maps keyed by ids (and other short keys). Ids are UUIDs
/// whose bits are already random (v5 from SHA-1, v7 with random low bits),
/// so SipHash's protection buys nothing and costs a fifth of the scheduler's
/// time at scale; this folds 8-byte words with a multiply (FxHash's scheme).
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl IdHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for IdHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b));
        }
    }
    #[inline]
    fn write_u8(&mut self, v: u8) {
        self.add(v as u64);
    }
    #[inline]
    fn write_u32(&mut self, v: u32) {
        self.add(v as u64);
    }
    #[inline]
    fn write_u64(&mut self, v: u64) {
        self.add(v);
    }
    #[inline]
    fn write_usize(&mut self, v: usize) {
        self.add(v as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

pub type IdBuildHasher = std::hash::BuildHasherDefault<IdHasher>;
pub type IdMap<K, V> = std::collections::HashMap<K, V, IdBuildHasher>;
pub type IdSet<K> = std::collections::HashSet<K, IdBuildHasher>;

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
id_type!(ServiceId);
id_type!(JobId);
id_type!(CronJobId);
id_type!(StatefulSetId);

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
