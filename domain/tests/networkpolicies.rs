//! Network policies: given / when / then for put and delete, and the
//! verdict (`networkpolicy::admits`) as Kubernetes defines it: a selected
//! pod is default-deny, rules allow peers on ports, policies add up; and,
//! as a property, that a pod no policy selects takes everything and that a
//! policy added to an isolated pod's only ever allows more.

use std::collections::BTreeMap;

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event::Event;
use domain::names::Name;
use domain::networkpolicy::{
    IngressRule, NAMESPACE_NAME_LABEL, NetworkPolicy, NetworkPolicySpec, Peer, Source, admits,
};
use domain::testing::*;
use proptest::prelude::*;

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn policy(
    ns: &str,
    n: &str,
    selector: &[(&str, &str)],
    ingress: Vec<IngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        namespace: name(ns),
        name: name(n),
        spec: NetworkPolicySpec {
            pod_selector: labels(selector),
            ingress,
        },
    }
}

fn pods(sel: &[(&str, &str)]) -> Peer {
    Peer {
        pod_selector: Some(labels(sel)),
        ..Default::default()
    }
}

#[test]
fn a_selected_pod_takes_only_what_a_rule_allows_and_others_take_everything() {
    let web = labels(&[("app", "web")]);
    let db = labels(&[("app", "db")]);
    let front = labels(&[("app", "front")]);
    let shop = labels(&[(NAMESPACE_NAME_LABEL, "shop")]);
    let ops = labels(&[(NAMESPACE_NAME_LABEL, "ops"), ("team", "ops")]);
    let from_front = Source::Pod {
        namespace: "shop",
        labels: &front,
        namespace_labels: &shop,
    };
    let from_ops = Source::Pod {
        namespace: "ops",
        labels: &front,
        namespace_labels: &ops,
    };
    let ps = [policy(
        "shop",
        "web-in",
        &[("app", "web")],
        vec![IngressRule {
            from: vec![
                pods(&[("app", "front")]),
                Peer {
                    namespace_selector: Some(labels(&[("team", "ops")])),
                    ..Default::default()
                },
            ],
            ports: vec![8080],
        }],
    )];
    let v = |l: &BTreeMap<String, String>, port, s: &Source| admits(&ps, "shop", l, port, s);
    // Selected: front of shop and anything of ops on 8080, nothing else.
    assert!(v(&web, 8080, &from_front).allowed);
    assert_eq!(
        v(&web, 8080, &from_front).allowed_by.as_deref(),
        Some("web-in")
    );
    assert!(v(&web, 8080, &from_ops).allowed);
    assert!(!v(&web, 9090, &from_front).allowed);
    let verdict = v(&web, 8080, &Source::External);
    assert!(!verdict.allowed);
    assert_eq!(verdict.isolated_by, vec!["web-in".to_string()]);
    // A podSelector alone means the policy's namespace: front of ops is not "front of shop".
    let only_pods = [policy(
        "shop",
        "p",
        &[("app", "web")],
        vec![IngressRule {
            from: vec![pods(&[("app", "front")])],
            ports: vec![],
        }],
    )];
    assert!(!admits(&only_pods, "shop", &web, 80, &from_ops).allowed);
    // Not selected (db), or another namespace's pod: everything.
    assert!(v(&db, 1, &Source::External).allowed);
    assert!(admits(&ps, "ops", &web, 1, &Source::External).allowed);
    // No rules: default deny; a rule with no peers: every source.
    let deny = [policy("shop", "deny", &[], vec![])];
    assert!(!admits(&deny, "shop", &db, 80, &from_front).allowed);
    let open = [
        policy("shop", "deny", &[], vec![]),
        policy("shop", "all", &[], vec![IngressRule::default()]),
    ];
    assert!(admits(&open, "shop", &db, 80, &Source::External).allowed);
    // external: true lets in requests from outside, not pods.
    let ext = [policy(
        "shop",
        "ext",
        &[],
        vec![IngressRule {
            from: vec![Peer {
                external: true,
                ..Default::default()
            }],
            ports: vec![],
        }],
    )];
    assert!(admits(&ext, "shop", &db, 80, &Source::External).allowed);
    assert!(!admits(&ext, "shop", &db, 80, &from_front).allowed);
}

#[test]
fn put_validates_and_is_idempotent_delete_needs_the_policy_and_a_new_namespace_starts_without() {
    let mut g = given(&[node_registered("n-a", "az-a", 8000, 16384)]);
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("shop"),
        labels: Default::default(),
    }))
    .unwrap();
    let put = |spec: NetworkPolicySpec| {
        Command::PutNetworkPolicy(cmd::PutNetworkPolicy {
            namespace: name("shop"),
            name: name("p"),
            spec,
        })
    };
    let bad = NetworkPolicySpec {
        pod_selector: labels(&[("app", "web")]),
        ingress: vec![IngressRule {
            from: vec![
                Peer::default(),
                Peer {
                    external: true,
                    pod_selector: Some(BTreeMap::new()),
                    ..Default::default()
                },
            ],
            ports: vec![0],
        }],
    };
    let r = g.when(put(bad)).unwrap_err();
    assert_eq!(r.code, RejectionCode::ValidationFailed);
    let fields: Vec<_> = r.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "ingress[0].from[0]",
            "ingress[0].from[1]",
            "ingress[0].ports[0]"
        ]
    );
    let spec = NetworkPolicySpec {
        pod_selector: labels(&[("app", "web")]),
        ingress: vec![],
    };
    assert!(
        matches!(&g.apply(put(spec.clone())).unwrap()[..], [Event::NetworkPolicySet(e)] if e.created)
    );
    assert_eq!(g.apply(put(spec)).unwrap(), vec![]);
    let r = g
        .when(Command::PutNetworkPolicy(cmd::PutNetworkPolicy {
            namespace: name("nowhere"),
            name: name("p"),
            spec: Default::default(),
        }))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::NamespaceNotFound);
    let del = Command::DeleteNetworkPolicy(cmd::DeleteNetworkPolicy {
        namespace: name("shop"),
        name: name("p"),
    });
    g.apply(del.clone()).unwrap();
    assert_eq!(g.when(del).unwrap_err().code, RejectionCode::NotFound);
    // Re-created namespace: without the old one's policies.
    g.apply(put(Default::default())).unwrap();
    g.apply(Command::DeleteNamespace(cmd::DeleteNamespace {
        name: name("shop"),
    }))
    .unwrap();
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("shop"),
        labels: Default::default(),
    }))
    .unwrap();
    assert!(g.state.network_policies.is_empty());
}

fn label_set() -> impl Strategy<Value = BTreeMap<String, String>> {
    proptest::collection::btree_map(
        prop_oneof![Just("app".to_string()), Just("tier".to_string())],
        prop_oneof![Just("a".to_string()), Just("b".to_string())],
        0..3,
    )
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        Just(Peer {
            external: true,
            ..Default::default()
        }),
        (proptest::option::of(label_set()), label_set()).prop_map(|(ns, p)| Peer {
            namespace_selector: ns,
            pod_selector: Some(p),
            external: false
        }),
    ]
}

fn a_policy() -> impl Strategy<Value = NetworkPolicy> {
    (
        label_set(),
        proptest::collection::vec(
            (
                proptest::collection::vec(peer(), 0..3),
                proptest::collection::vec(prop_oneof![Just(80u16), Just(443u16)], 0..2),
            ),
            0..3,
        ),
    )
        .prop_map(|(sel, rules)| NetworkPolicy {
            namespace: name("shop"),
            name: name("p"),
            spec: NetworkPolicySpec {
                pod_selector: sel,
                ingress: rules
                    .into_iter()
                    .map(|(from, ports)| IngressRule { from, ports })
                    .collect(),
            },
        })
}

proptest! {
    /// Policies add up: with one more policy a pod it does not select keeps
    /// its verdict, and a request allowed before is still allowed unless
    /// the new policy is the pod's first (which isolates it).
    #[test]
    fn policies_only_add_allowances_to_an_isolated_pod(
        ps in proptest::collection::vec(a_policy(), 0..4), extra in a_policy(),
        dest in label_set(), src in label_set(), port in prop_oneof![Just(80u16), Just(443u16)], external in any::<bool>()
    ) {
        let ns_labels: BTreeMap<String, String> = [(NAMESPACE_NAME_LABEL.to_string(), "shop".to_string())].into();
        let source = if external { Source::External } else { Source::Pod { namespace: "shop", labels: &src, namespace_labels: &ns_labels } };
        let before = admits(&ps, "shop", &dest, port, &source);
        let mut more = ps.clone();
        more.push(extra.clone());
        let after = admits(&more, "shop", &dest, port, &source);
        if before.isolated_by.is_empty() {
            prop_assert!(before.allowed);
        }
        let selects = extra.spec.pod_selector.iter().all(|(k, v)| dest.get(k) == Some(v));
        if !selects {
            prop_assert_eq!(after.allowed, before.allowed);
        } else if !before.isolated_by.is_empty() && before.allowed {
            prop_assert!(after.allowed);
        }
    }
}
