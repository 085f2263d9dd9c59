//! Deciding a limit range's commands: set, remove.

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::limit_range_id;

pub(crate) fn set_limit_range(state: &State, c: &cmd::SetLimitRange) -> Decision {
    crate::namespace::lookup::check_open(state, &c.namespace)?;
    let errors = c.spec.validate();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    if state
        .limit_ranges
        .get(c.namespace.as_str())
        .is_some_and(|l| l.spec == c.spec)
    {
        return Ok(vec![]);
    }
    Ok(vec![Event::LimitRangeSet(ev::LimitRangeSet {
        limit_range_id: limit_range_id(c.namespace.as_str()),
        namespace: c.namespace.clone(),
        spec: c.spec,
    })])
}

pub(crate) fn remove_limit_range(state: &State, c: &cmd::RemoveLimitRange) -> Decision {
    if !state.limit_ranges.contains_key(c.namespace.as_str()) {
        return reject(
            RejectionCode::NotFound,
            format!("namespace '{}' has no limit range", c.namespace),
        );
    }
    Ok(vec![Event::LimitRangeRemoved(ev::LimitRangeRemoved {
        limit_range_id: limit_range_id(c.namespace.as_str()),
        namespace: c.namespace.clone(),
    })])
}
