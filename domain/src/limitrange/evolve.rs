//! Folding a limit range's events into the cell's state.

use crate::event as ev;
use crate::state::State;

use super::LimitRange;

impl State {
    pub(crate) fn on_limit_range_set(&mut self, e: &ev::LimitRangeSet) {
        self.bump_policy_version(e.limit_range_id);
        self.limit_ranges.insert(
            e.namespace.to_string(),
            LimitRange {
                namespace: e.namespace.clone(),
                spec: e.spec,
            },
        );
    }

    pub(crate) fn on_limit_range_removed(&mut self, e: &ev::LimitRangeRemoved) {
        self.bump_policy_version(e.limit_range_id);
        self.limit_ranges.remove(e.namespace.as_str());
    }
}
