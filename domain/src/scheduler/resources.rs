//! Filter: the pod's requests fit what is left of the node's allocatable.
//! `extra` is what this scheduling pass has reserved (binds sent, not yet in
//! the state) minus what it has freed (preemption victims).

use super::reason;
use crate::state::Node;

pub fn filter(node: &Node, cpu: u64, mem: u64, extra: (i64, i64)) -> Result<(), &'static str> {
    let used_cpu = node.cpu_requested_milli as i64 + extra.0 + cpu as i64;
    let used_mem = node.mem_requested_mb as i64 + extra.1 + mem as i64;
    if used_cpu > node.spec.cpu_allocatable_milli as i64 {
        return Err(reason::INSUFFICIENT_CPU);
    }
    if used_mem > node.spec.mem_allocatable_mb as i64 {
        return Err(reason::INSUFFICIENT_MEMORY);
    }
    Ok(())
}

/// Used after placing: (cpu, mem), never negative.
pub fn used_after(node: &Node, cpu: u64, mem: u64, extra: (i64, i64)) -> (u64, u64) {
    (
        (node.cpu_requested_milli as i64 + extra.0 + cpu as i64).max(0) as u64,
        (node.mem_requested_mb as i64 + extra.1 + mem as i64).max(0) as u64,
    )
}
