//! Score: prefer nodes with more room left after placing (spreads load).

use super::resources::used_after;
use crate::state::Node;

pub fn score(node: &Node, cpu: u64, mem: u64, extra: (i64, i64)) -> u32 {
    let (c_used, m_used) = used_after(node, cpu, mem, extra);
    let free = |alloc: u64, used: u64| {
        (alloc.saturating_sub(used) * 100)
            .checked_div(alloc)
            .unwrap_or(0) as u32
    };
    (free(node.spec.cpu_allocatable_milli, c_used) + free(node.spec.mem_allocatable_mb, m_used)) / 2
}
