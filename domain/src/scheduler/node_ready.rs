//! Filter: the node is Ready and not cordoned.

use super::reason;
use crate::model::NodeCondition;
use crate::state::Node;

pub fn filter(node: &Node) -> Result<(), &'static str> {
    if node.condition != NodeCondition::Ready {
        return Err(reason::NODE_NOT_READY);
    }
    if node.unschedulable {
        return Err(reason::NODE_UNSCHEDULABLE);
    }
    Ok(())
}
