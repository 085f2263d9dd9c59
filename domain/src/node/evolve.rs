//! Folding the node's events into the cell's state.

use crate::event as ev;
use std::collections::BTreeSet;

use crate::model::NodeCondition;
use crate::state::{Node, State};

impl State {
    pub(crate) fn on_node_registered(&mut self, e: &ev::NodeRegistered) {
        let ev::NodeRegistered { node_id, spec, .. } = e;
        let node = self.nodes.entry(*node_id).or_insert_with(|| Node {
            id: *node_id,
            spec: spec.clone(),
            condition: NodeCondition::Ready,
            cpu_requested_milli: 0,
            mem_requested_mb: 0,
            pods: BTreeSet::new(),
            version: 0,
            unschedulable: false,
            draining: false,
        });
        node.spec = spec.clone();
        node.condition = NodeCondition::Ready;
        node.version += 1;
        self.node_names.insert(spec.name.to_string(), *node_id);
    }

    pub(crate) fn on_node_ready(&mut self, e: &ev::NodeReady) {
        let ev::NodeReady { node_id, .. } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.condition = NodeCondition::Ready;
            n.version += 1;
        }
    }

    pub(crate) fn on_node_not_ready(&mut self, e: &ev::NodeNotReady) {
        let ev::NodeNotReady { node_id, .. } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.condition = NodeCondition::NotReady;
            n.version += 1;
        }
    }

    pub(crate) fn on_node_lost(&mut self, e: &ev::NodeLost) {
        let ev::NodeLost { node_id, .. } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.condition = NodeCondition::Lost;
            n.version += 1;
        }
    }

    pub(crate) fn on_node_cordoned(&mut self, e: &ev::NodeCordoned) {
        let ev::NodeCordoned { node_id, drain, .. } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.unschedulable = true;
            n.draining |= *drain;
            n.version += 1;
        }
    }

    pub(crate) fn on_node_uncordoned(&mut self, e: &ev::NodeUncordoned) {
        let ev::NodeUncordoned { node_id, .. } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.unschedulable = false;
            n.draining = false;
            n.version += 1;
        }
    }

    pub(crate) fn on_node_taints_changed(&mut self, e: &ev::NodeTaintsChanged) {
        let ev::NodeTaintsChanged {
            node_id, taints, ..
        } = e;
        if let Some(n) = self.nodes.get_mut(node_id) {
            n.spec.taints = taints.to_vec();
            n.version += 1;
        }
    }
}
