//! Deciding a quota's commands: set, remove, record usage.

use crate::command as cmd;
use crate::decision::{Decision, reject};
use crate::event as ev;
use crate::event::Event;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::commitment::usage;
use super::quota_id;

pub(crate) fn set_resource_quota(state: &State, c: &cmd::SetResourceQuota) -> Decision {
    crate::namespace::lookup::check_open(state, &c.namespace)?;
    if state
        .quotas
        .get(c.namespace.as_str())
        .is_some_and(|q| q.hard == c.hard)
    {
        return Ok(vec![]);
    }
    Ok(vec![Event::ResourceQuotaSet(ev::ResourceQuotaSet {
        quota_id: quota_id(c.namespace.as_str()),
        namespace: c.namespace.clone(),
        hard: c.hard,
        used: usage(state, c.namespace.as_str()),
    })])
}

pub(crate) fn remove_resource_quota(state: &State, c: &cmd::RemoveResourceQuota) -> Decision {
    if !state.quotas.contains_key(c.namespace.as_str()) {
        return reject(
            RejectionCode::NotFound,
            format!("namespace '{}' has no quota", c.namespace),
        );
    }
    Ok(vec![Event::ResourceQuotaRemoved(
        ev::ResourceQuotaRemoved {
            quota_id: quota_id(c.namespace.as_str()),
            namespace: c.namespace.clone(),
        },
    )])
}

pub(crate) fn record_quota_usage(state: &State, c: &cmd::RecordQuotaUsage) -> Decision {
    let Some(q) = state.quotas.get(c.namespace.as_str()) else {
        return Ok(vec![]);
    };
    let used = usage(state, c.namespace.as_str());
    if used == q.used {
        return Ok(vec![]);
    }
    Ok(vec![Event::ResourceQuotaUsageRecorded(
        ev::ResourceQuotaUsageRecorded {
            quota_id: quota_id(c.namespace.as_str()),
            namespace: c.namespace.clone(),
            used,
            hard: q.hard,
        },
    )])
}
