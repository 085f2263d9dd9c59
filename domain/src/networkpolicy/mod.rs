//! The network-policy slice: which sources may reach a namespace's pods.
//!
//! As Kubernetes' ingress policies: a pod selected by any policy of its
//! namespace is isolated (default-deny), and then takes only what some rule
//! of some policy selecting it allows; a pod no policy selects takes
//! everything. A rule allows its `from` peers (none: every source) on its
//! `ports` (none: every port). A peer is a `podSelector` (pods of the
//! policy's namespace), a `namespaceSelector` (every pod of the namespaces
//! it selects), both (those pods of those namespaces), or `external: true`
//! (a request from outside the cluster, through the gateway). A
//! namespace's labels include `orch.dev/namespace: <name>`.
//!
//! Enforced by the gateway (see the README for where, and what it cannot
//! see); the verdict is [`admits`], a pure function.

pub mod commands;
pub(crate) mod decide;
pub mod events;
mod evolve;
mod lookup;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ids::derive_id;
use crate::names::{FieldError, Name, check_labels};

/// The label every namespace has, naming it (for `namespaceSelector`).
pub const NAMESPACE_NAME_LABEL: &str = "orch.dev/namespace";

pub fn network_policy_id(namespace: &str, name: &str) -> Uuid {
    derive_id(&[b"networkpolicy", namespace.as_bytes(), name.as_bytes()])
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicySpec {
    /// The pods it isolates (`{}`: every pod of the namespace).
    #[serde(default)]
    pub pod_selector: BTreeMap<String, String>,
    /// What they take (none: nothing, a default-deny policy).
    #[serde(default)]
    pub ingress: Vec<IngressRule>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IngressRule {
    /// Sources (none: every source).
    #[serde(default)]
    pub from: Vec<Peer>,
    /// Destination ports of the pod (none: every port).
    #[serde(default)]
    pub ports: Vec<u16>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Peer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<BTreeMap<String, String>>,
    /// Requests from outside the cluster (no pod identity).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub external: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkPolicy {
    pub namespace: Name,
    pub name: Name,
    pub spec: NetworkPolicySpec,
}

impl NetworkPolicySpec {
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_labels("podSelector", &self.pod_selector, &mut errors);
        for (i, r) in self.ingress.iter().enumerate() {
            for (j, p) in r.from.iter().enumerate() {
                let at = format!("ingress[{i}].from[{j}]");
                let selects = p.namespace_selector.is_some() || p.pod_selector.is_some();
                if p.external == selects {
                    errors.push(FieldError::new(
                        &at,
                        "a peer is external: true, or a podSelector and/or a namespaceSelector",
                    ));
                }
                if let Some(s) = &p.namespace_selector {
                    check_labels(&format!("{at}.namespaceSelector"), s, &mut errors);
                }
                if let Some(s) = &p.pod_selector {
                    check_labels(&format!("{at}.podSelector"), s, &mut errors);
                }
            }
            for (j, port) in r.ports.iter().enumerate() {
                if *port == 0 {
                    errors.push(FieldError::new(
                        format!("ingress[{i}].ports[{j}]"),
                        "a port is 1 to 65535",
                    ));
                }
            }
        }
        errors
    }
}

fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

/// Who sends a request.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// Outside the cluster (no pod identity).
    External,
    Pod {
        namespace: &'a str,
        labels: &'a BTreeMap<String, String>,
        /// The namespace's labels, with [`NAMESPACE_NAME_LABEL`].
        namespace_labels: &'a BTreeMap<String, String>,
    },
}

/// Whether a request may reach a pod, and which policy decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub allowed: bool,
    /// The policies isolating the pod (empty: it is not isolated).
    pub isolated_by: Vec<String>,
    /// The policy whose rule let it in.
    pub allowed_by: Option<String>,
}

impl Peer {
    fn admits(&self, policy_namespace: &str, source: &Source) -> bool {
        match source {
            Source::External => self.external,
            Source::Pod {
                namespace,
                labels,
                namespace_labels,
            } => {
                if self.external {
                    return false;
                }
                let ns_ok = match &self.namespace_selector {
                    Some(s) => selects(s, namespace_labels),
                    None => *namespace == policy_namespace,
                };
                ns_ok
                    && self
                        .pod_selector
                        .as_ref()
                        .is_none_or(|s| selects(s, labels))
            }
        }
    }
}

/// The verdict for `source` reaching, on `port`, a pod with `labels` in
/// `namespace`, under the policies `policies` (every policy of the
/// cluster; those of other namespaces are ignored).
pub fn admits<'p>(
    policies: impl IntoIterator<Item = &'p NetworkPolicy>,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    port: u16,
    source: &Source,
) -> Verdict {
    let mut isolated_by = Vec::new();
    let mut allowed_by = None;
    for p in policies {
        if p.namespace.as_str() != namespace || !selects(&p.spec.pod_selector, labels) {
            continue;
        }
        isolated_by.push(p.name.to_string());
        if allowed_by.is_some() {
            continue;
        }
        let ok = p.spec.ingress.iter().any(|r| {
            (r.ports.is_empty() || r.ports.contains(&port))
                && (r.from.is_empty() || r.from.iter().any(|peer| peer.admits(namespace, source)))
        });
        if ok {
            allowed_by = Some(p.name.to_string());
        }
    }
    Verdict {
        allowed: isolated_by.is_empty() || allowed_by.is_some(),
        isolated_by,
        allowed_by,
    }
}
