//! Who may do what: a permission is granted by a binding whose subjects
//! include the actor (by name, group or service account), whose scope
//! covers the namespace asked about, and whose role has a rule allowing the
//! verb on the resource. The same functions answer the API's checks, the
//! decider's, `can-i` and `who-can`.

use crate::command::Command;
use crate::identity::{Principal, TokenRefusal};
use crate::rejection::{Rejection, RejectionCode};
use crate::state::State;

use super::needs::{self, Need};
use super::{CLUSTER_RESOURCES, RoleBinding, RoleRef, Rule, Subject, Verb, builtin, key};

/// Which binding and role granted a permission.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// `clusterrolebinding/<name>` or `rolebinding/<ns>/<name>`.
    pub binding: String,
    /// `clusterrole/<name>` or `role/<ns>/<name>`.
    pub role: String,
}

/// Every binding: the built-ins, then the cluster's own.
pub fn bindings(state: &State) -> impl Iterator<Item = &RoleBinding> {
    builtin::bindings()
        .iter()
        .chain(state.rbac.bindings.values())
}

/// The rules a binding's role has (none when its role does not exist).
pub fn rules_of<'s>(state: &'s State, b: &RoleBinding) -> &'s [Rule] {
    match &b.role {
        RoleRef::ClusterRole { name } => builtin::role(name)
            .or_else(|| state.rbac.roles.get(&key(None, name)))
            .map_or(&[], |r| r.rules.as_slice()),
        RoleRef::Role { name } => state
            .rbac
            .roles
            .get(&key(b.namespace.as_deref(), name))
            .map_or(&[], |r| r.rules.as_slice()),
    }
}

fn role_display(b: &RoleBinding) -> String {
    match (&b.role, &b.namespace) {
        (RoleRef::ClusterRole { name }, _) => format!("clusterrole/{name}"),
        (RoleRef::Role { name }, Some(ns)) => format!("role/{ns}/{name}"),
        (RoleRef::Role { name }, None) => format!("role/{name}"),
    }
}

/// Whether the binding names the subject `actor` (in `groups`).
fn names(b: &RoleBinding, principal: &Principal, actor: &str, groups: &[String]) -> bool {
    b.subjects.iter().any(|s| match s {
        Subject::User { name } => {
            name == actor && matches!(principal, Principal::User(_) | Principal::System(_))
        }
        Subject::Group { name } => groups.iter().any(|g| g == name),
        Subject::ServiceAccount { namespace, name } => matches!(principal,
            Principal::ServiceAccount { namespace: n, name: m } if n == namespace && m == name),
    })
}

/// Whether the binding's scope reaches `need`: a cluster binding reaches
/// everything; a namespace's reaches its own namespace's resources only.
fn reaches(b: &RoleBinding, need: &Need) -> bool {
    match &b.namespace {
        None => true,
        Some(ns) => {
            !CLUSTER_RESOURCES.contains(&need.resource) && need.namespace.as_deref() == Some(ns)
        }
    }
}

/// The grant that lets `actor` do `need`, if any.
pub fn grant(state: &State, actor: &str, need: &Need) -> Option<Grant> {
    if !state.identities.exists(actor) {
        return None;
    }
    let principal = Principal::of(actor);
    let groups = principal.groups(&state.identities);
    // A deleted namespace's bindings grant nothing (an undelete brings them
    // back; a re-created namespace starts without them).
    let open = need
        .namespace
        .as_deref()
        .is_none_or(|n| state.namespace_is_open(n));
    bindings(state)
        .filter(|b| {
            (open || b.namespace.is_none())
                && reaches(b, need)
                && names(b, &principal, actor, &groups)
        })
        .find(|b| {
            rules_of(state, b)
                .iter()
                .any(|r| r.allows(need.verb, need.resource))
        })
        .map(|b| Grant {
            binding: b.display_name(),
            role: role_display(b),
        })
}

pub fn forbidden(actor: &str, need: &Need) -> Rejection {
    Rejection::new(
        RejectionCode::Forbidden,
        format!("{actor} may not {need}: no role bound to {actor} allows it"),
    )
}

/// `actor` may do `need`, or `403 FORBIDDEN` naming it.
pub fn check(state: &State, actor: &str, need: &Need) -> Result<Grant, Rejection> {
    grant(state, actor, need).ok_or_else(|| forbidden(actor, need))
}

/// The first permission among `rules` (in `namespace`, or cluster-wide)
/// that `actor` does not hold itself.
pub fn uncovered(
    state: &State,
    actor: &str,
    namespace: Option<&str>,
    rules: &[Rule],
) -> Option<Need> {
    rules
        .iter()
        .flat_map(Rule::pairs)
        // A namespace's binding never reaches the cluster's resources.
        .filter(|(_, r)| namespace.is_none() || !CLUSTER_RESOURCES.contains(r))
        .map(|(verb, resource)| Need::new(verb, resource, namespace))
        .find(|need| grant(state, actor, need).is_none())
}

fn escalation(actor: &str, what: &str, missing: &Need, bypass: Verb) -> Rejection {
    Rejection::new(
        RejectionCode::Forbidden,
        format!(
            "{actor} may not {what}: it would grant '{missing}', which {actor} does not hold (granting beyond one's own permissions needs '{bypass}' on roles)"
        ),
    )
}

/// Whether `actor` holds the bypass verb on roles in `namespace`.
fn may(state: &State, actor: &str, verb: Verb, namespace: Option<&str>) -> bool {
    grant(state, actor, &Need::new(verb, "roles", namespace)).is_some()
}

/// The bindings that name `subject` (through its groups too).
pub fn bindings_naming<'s>(
    state: &'s State,
    subject: &'s str,
) -> impl Iterator<Item = &'s RoleBinding> + 's {
    let principal = Principal::of(subject);
    let groups = principal.groups(&state.identities);
    bindings(state).filter(move |b| names(b, &principal, subject, &groups))
}

/// `actor` may send `command`: it holds what the command needs, a node
/// agent speaks only for its own node, and nobody grants (through a role, a
/// binding, a group or a token) what they do not hold.
pub fn command(state: &State, actor: &str, command: &Command) -> Result<(), Rejection> {
    use Command as C;
    match command {
        // One's own token: issue (not a bootstrap one) and revoke freely.
        C::IssueToken(c) if c.subject == actor && !c.bootstrap => return Ok(()),
        C::RevokeToken(c)
            if state
                .identities
                .token_by_id(c.token_id)
                .is_some_and(|(_, t)| t.subject == actor) =>
        {
            return Ok(());
        }
        C::IssueToken(c) if c.bootstrap && actor != crate::identity::BOOTSTRAP => {
            return Err(Rejection::new(
                RejectionCode::Forbidden,
                "only `orch up` (system:bootstrap) issues bootstrap tokens",
            ));
        }
        _ => {}
    }
    if let Some(need) = needs::of(state, command) {
        check(state, actor, &need)?;
    }
    if let Some(need) = needs::template_secrets(state, command) {
        check(state, actor, &need)?;
    }
    node_restriction(state, actor, command)?;
    no_escalation(state, actor, command)
}

/// A node agent registers and reports for its own node only.
fn node_restriction(state: &State, actor: &str, command: &Command) -> Result<(), Rejection> {
    let Principal::NodeAgent(node) = Principal::of(actor) else {
        return Ok(());
    };
    use Command as C;
    let target = match command {
        C::RegisterNode(c) => {
            if c.spec.name.as_str() == node {
                return Ok(());
            }
            None
        }
        C::ReportPodStarted(c) => Some(c.node_id),
        C::ReportPodReady(c) => Some(c.node_id),
        C::ReportPodFailed(c) => Some(c.node_id),
        C::ReportPodNotReady(c) => Some(c.node_id),
        C::ReportPodRestarted(c) => Some(c.node_id),
        C::ReportPodSucceeded(c) => Some(c.node_id),
        _ => return Ok(()),
    };
    if target.is_some() && state.node_names.get(&node) == target.as_ref() {
        return Ok(());
    }
    Err(Rejection::new(
        RejectionCode::Forbidden,
        format!(
            "{actor} speaks for node {node} only: it may not register or report for another node"
        ),
    ))
}

fn no_escalation(state: &State, actor: &str, command: &Command) -> Result<(), Rejection> {
    use Command as C;
    match command {
        C::PutRole(c) => {
            let ns = c.namespace.as_ref().map(|n| n.as_str());
            if may(state, actor, Verb::Escalate, ns) {
                return Ok(());
            }
            if let Some(missing) = uncovered(state, actor, ns, &c.rules) {
                return Err(escalation(
                    actor,
                    &format!("set role {}", c.name),
                    &missing,
                    Verb::Escalate,
                ));
            }
        }
        C::PutRoleBinding(c) => {
            let ns = c.namespace.as_ref().map(|n| n.as_str());
            if may(state, actor, Verb::Bind, ns) {
                return Ok(());
            }
            let b = RoleBinding {
                namespace: ns.map(str::to_string),
                name: c.name.to_string(),
                role: c.role.clone(),
                subjects: c.subjects.clone(),
            };
            if let Some(missing) = uncovered(state, actor, ns, rules_of(state, &b)) {
                return Err(escalation(
                    actor,
                    &format!("bind {}", c.role),
                    &missing,
                    Verb::Bind,
                ));
            }
        }
        C::CreateUser(crate::identity::commands::CreateUser { name, groups })
        | C::UpdateUser(crate::identity::commands::UpdateUser { name, groups }) => {
            let had = state
                .identities
                .users
                .get(name.as_str())
                .map(|u| u.groups.clone())
                .unwrap_or_default();
            let added: Vec<String> = groups.difference(&had).cloned().collect();
            for b in bindings(state).filter(|b| {
                b.subjects
                    .iter()
                    .any(|s| matches!(s, Subject::Group { name } if added.contains(name)))
            }) {
                let ns = b.namespace.as_deref();
                if may(state, actor, Verb::Bind, ns) {
                    continue;
                }
                if let Some(missing) = uncovered(state, actor, ns, rules_of(state, b)) {
                    return Err(escalation(
                        actor,
                        &format!("put user {name} in its groups ({})", b.display_name()),
                        &missing,
                        Verb::Bind,
                    ));
                }
            }
        }
        // A token for someone else acts as them: only for what one holds.
        C::IssueToken(c) if c.subject != actor => {
            for b in bindings_naming(state, &c.subject) {
                let ns = b.namespace.as_deref();
                if let Some(missing) = uncovered(state, actor, ns, rules_of(state, b)) {
                    return Err(escalation(
                        actor,
                        &format!("issue a token for {}", c.subject),
                        &missing,
                        Verb::Bind,
                    ));
                }
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every subject that may do `need`, and through which binding: groups are
/// listed as groups, and the users known to be in them as users.
pub fn who_can(state: &State, need: &Need) -> Vec<(Subject, Grant)> {
    let mut out = Vec::new();
    let open = need
        .namespace
        .as_deref()
        .is_none_or(|n| state.namespace_is_open(n));
    for b in bindings(state).filter(|b| (open || b.namespace.is_none()) && reaches(b, need)) {
        if !rules_of(state, b)
            .iter()
            .any(|r| r.allows(need.verb, need.resource))
        {
            continue;
        }
        let grant = Grant {
            binding: b.display_name(),
            role: role_display(b),
        };
        for s in &b.subjects {
            out.push((s.clone(), grant.clone()));
            if let Subject::Group { name } = s {
                for u in state
                    .identities
                    .users
                    .values()
                    .filter(|u| u.groups.contains(name))
                {
                    out.push((
                        Subject::User {
                            name: u.name.to_string(),
                        },
                        grant.clone(),
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Why a token is refused, in words.
pub fn refusal_message(r: &TokenRefusal) -> String {
    match r {
        TokenRefusal::Unknown => "unknown token".into(),
        TokenRefusal::Revoked => "this token was revoked".into(),
        TokenRefusal::Expired(at) => format!("this token expired at {}", at.to_rfc3339()),
    }
}
