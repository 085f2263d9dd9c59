//! Score: prefer nodes whose CPU and memory use stay in proportion.

use super::resources::used_after;
use crate::state::Node;

pub fn score(node: &Node, cpu: u64, mem: u64, extra: (i64, i64)) -> u32 {
    let (c_used, m_used) = used_after(node, cpu, mem, extra);
    let frac =
        |alloc: u64, used: u64| (used * 100).checked_div(alloc).unwrap_or(100).min(100) as i64;
    let c = frac(node.spec.cpu_allocatable_milli, c_used);
    let m = frac(node.spec.mem_allocatable_mb, m_used);
    (100 - (c - m).abs()) as u32
}
