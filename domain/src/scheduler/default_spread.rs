//! Score: fewer replicas of the same deployment in this zone (or on this
//! node) is better, so replicas spread without being asked to.

/// 100 for the emptiest domain, 0 for the fullest.
pub fn score(count_here: u32, max_count: u32) -> u32 {
    (max_count.saturating_sub(count_here) * 100)
        .checked_div(max_count)
        .unwrap_or(100)
}
