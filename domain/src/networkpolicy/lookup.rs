//! What a verdict needs from the state: a pod's namespace and labels, a
//! namespace's labels.

use std::collections::BTreeMap;

use crate::ids::PodId;
use crate::state::State;

use super::NAMESPACE_NAME_LABEL;

impl State {
    /// The pod's namespace and labels (its template's, with the implied
    /// `app=<workload name>`), if it is live.
    pub fn pod_labels(&self, pod: PodId) -> Option<(String, BTreeMap<String, String>)> {
        let p = self.pods.get(&pod).filter(|p| p.is_live())?;
        let w = self.workload(p.owner)?;
        let mut labels = self.template_of(p)?.labels.clone();
        labels
            .entry("app".into())
            .or_insert_with(|| w.name.to_string());
        Some((w.namespace.to_string(), labels))
    }

    /// The namespace's labels, with [`NAMESPACE_NAME_LABEL`].
    pub fn namespace_labels(&self, namespace: &str) -> BTreeMap<String, String> {
        let mut labels = self
            .namespaces
            .get(namespace)
            .map(|n| n.labels.clone())
            .unwrap_or_default();
        labels.insert(NAMESPACE_NAME_LABEL.into(), namespace.into());
        labels
    }
}
