//! Filter: every node-selector pair matches a node label (the zone and the
//! node's name are labels too).

use super::reason;
use crate::model::{HOSTNAME_LABEL, PodTemplate, ZONE_LABEL};
use crate::state::Node;

/// A node label, including the implied zone and hostname labels.
pub fn label<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    if key == ZONE_LABEL {
        Some(node.spec.zone.as_str())
    } else if key == HOSTNAME_LABEL {
        Some(node.spec.name.as_str())
    } else {
        node.spec.labels.get(key).map(String::as_str)
    }
}

pub fn filter(node: &Node, spec: &PodTemplate) -> Result<(), &'static str> {
    for (k, v) in &spec.node_selector {
        if label(node, k) != Some(v.as_str()) {
            return Err(reason::NODE_SELECTOR_MISMATCH);
        }
    }
    Ok(())
}
