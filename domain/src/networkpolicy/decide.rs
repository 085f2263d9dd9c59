//! Deciding a network policy's commands: put, delete.

use crate::command as cmd;
use crate::decision::{Decision, reject, validation};
use crate::event as ev;
use crate::event::Event;
use crate::rejection::RejectionCode;
use crate::state::State;

use super::network_policy_id;

pub(crate) fn put_network_policy(state: &State, c: &cmd::PutNetworkPolicy) -> Decision {
    crate::namespace::lookup::check_open(state, &c.namespace)?;
    let errors = c.spec.validate();
    if !errors.is_empty() {
        return Err(validation(&errors));
    }
    let current = state
        .network_policies
        .get(&format!("{}/{}", c.namespace, c.name));
    if current.is_some_and(|p| p.spec == c.spec) {
        return Ok(vec![]);
    }
    Ok(vec![Event::NetworkPolicySet(ev::NetworkPolicySet {
        policy_id: network_policy_id(c.namespace.as_str(), c.name.as_str()),
        namespace: c.namespace.clone(),
        name: c.name.clone(),
        created: current.is_none(),
        spec: c.spec.clone(),
    })])
}

pub(crate) fn delete_network_policy(state: &State, c: &cmd::DeleteNetworkPolicy) -> Decision {
    if !state
        .network_policies
        .contains_key(&format!("{}/{}", c.namespace, c.name))
    {
        return reject(
            RejectionCode::NotFound,
            format!(
                "no network policy '{}' in namespace '{}'",
                c.name, c.namespace
            ),
        );
    }
    Ok(vec![Event::NetworkPolicyDeleted(
        ev::NetworkPolicyDeleted {
            policy_id: network_policy_id(c.namespace.as_str(), c.name.as_str()),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
        },
    )])
}
