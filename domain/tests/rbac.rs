//! Identities and RBAC: the built-in roles as golden files, given / when /
//! then for grants, refusals and escalation, tokens' life, and the
//! no-escalation invariant as a property: no sequence of role, binding and
//! group commands gives any subject a permission its granter did not hold.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Duration, Utc};
use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::identity::{Principal, TokenRefusal, UserName};
use domain::names::Name;
use domain::rbac::authorize::{self, grant};
use domain::rbac::needs::Need;
use domain::rbac::{RESOURCES, RoleRef, Rule, Subject, Verb, builtin};
use domain::testing::*;
use proptest::prelude::*;
use uuid::Uuid;

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn user(g: &mut Given, n: &str, groups: &[&str]) {
    g.apply_as(
        "admin",
        Command::CreateUser(cmd::CreateUser {
            name: UserName::parse("name", n).unwrap(),
            groups: groups.iter().map(|s| s.to_string()).collect(),
        }),
    )
    .unwrap();
}

fn ns(g: &mut Given, n: &str) {
    g.apply_as(
        "admin",
        Command::CreateNamespace(cmd::CreateNamespace {
            name: name(n),
            labels: Default::default(),
        }),
    )
    .unwrap();
}

fn bind(ns: Option<&str>, binding: &str, role: RoleRef, subjects: Vec<Subject>) -> Command {
    Command::PutRoleBinding(cmd::PutRoleBinding {
        namespace: ns.map(name),
        name: name(binding),
        role,
        subjects,
    })
}

fn cluster_role(n: &str) -> RoleRef {
    RoleRef::ClusterRole { name: n.into() }
}

fn u(n: &str) -> Subject {
    Subject::User { name: n.into() }
}

fn need(verb: Verb, resource: &'static str, ns: Option<&str>) -> Need {
    Need::new(verb, resource, ns)
}

/// A cluster with namespaces shop and lab; bob is shop's admin, vera views shop.
fn teams() -> Given {
    let mut g = given(&[node_registered("n-a", "az-a", 8000, 16384)]);
    ns(&mut g, "shop");
    ns(&mut g, "lab");
    user(&mut g, "bob", &[]);
    user(&mut g, "vera", &[]);
    g.apply_as(
        "admin",
        bind(
            Some("shop"),
            "bob-admin",
            cluster_role("admin"),
            vec![u("bob")],
        ),
    )
    .unwrap();
    g.apply_as(
        "admin",
        bind(
            Some("shop"),
            "vera-view",
            cluster_role("viewer"),
            vec![u("vera")],
        ),
    )
    .unwrap();
    g
}

#[test]
fn the_built_in_roles_are_what_their_golden_files_say() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rbac-golden");
    let write = std::env::var_os("RBAC_GOLDEN_WRITE").is_some();
    for role in builtin::roles() {
        let file = dir.join(format!("{}.json", role.name.replace(':', "_")));
        let now = serde_json::to_string_pretty(role).unwrap() + "\n";
        if write {
            std::fs::write(&file, &now).unwrap();
        }
        let kept = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (a new built-in role needs its golden file)",
                file.display()
            )
        });
        assert_eq!(
            now, kept,
            "{} changed: review what it grants, then update its golden file",
            role.name
        );
    }
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        files,
        builtin::roles().len(),
        "a golden file without its built-in role"
    );
}

#[test]
fn a_viewer_reads_but_may_not_scale_and_the_refusal_names_the_permission() {
    let g = teams();
    assert!(
        grant(
            &g.state,
            "vera",
            &need(Verb::List, "deployments", Some("shop"))
        )
        .is_some()
    );
    assert!(
        grant(
            &g.state,
            "vera",
            &need(Verb::List, "deployments", Some("lab"))
        )
        .is_none()
    );
    assert!(
        grant(
            &g.state,
            "vera",
            &need(Verb::ReadSecrets, "secrets", Some("shop"))
        )
        .is_none()
    );
    let r = authorize::check(
        &g.state,
        "vera",
        &need(Verb::Scale, "deployments", Some("shop")),
    )
    .unwrap_err();
    assert_eq!(r.code, RejectionCode::Forbidden);
    assert!(
        r.message
            .contains("vera may not scale deployments in namespace shop"),
        "{}",
        r.message
    );
}

#[test]
fn a_namespace_binding_never_reaches_another_namespace_or_the_cluster() {
    let g = teams();
    assert!(
        grant(
            &g.state,
            "bob",
            &need(Verb::Delete, "deployments", Some("shop"))
        )
        .is_some()
    );
    assert!(
        grant(
            &g.state,
            "bob",
            &need(Verb::Delete, "deployments", Some("lab"))
        )
        .is_none()
    );
    assert!(grant(&g.state, "bob", &need(Verb::List, "deployments", None)).is_none());
    assert!(grant(&g.state, "bob", &need(Verb::Create, "nodes", None)).is_none());
    // admin of shop may not change shop's own quota.
    assert!(
        grant(
            &g.state,
            "bob",
            &need(Verb::Update, "resourcequotas", Some("shop"))
        )
        .is_none()
    );
}

#[test]
fn a_namespace_admin_grants_what_it_holds_and_nothing_more() {
    let mut g = teams();
    user(&mut g, "eve", &[]);
    // editor within shop: bob holds all of it there.
    g.apply_as(
        "bob",
        bind(
            Some("shop"),
            "eve-edit",
            cluster_role("editor"),
            vec![u("eve")],
        ),
    )
    .unwrap();
    assert!(
        grant(
            &g.state,
            "eve",
            &need(Verb::Scale, "deployments", Some("shop"))
        )
        .is_some()
    );
    // cluster-admin within shop would give quotas and role escalation: refused.
    let r = g
        .apply_as(
            "bob",
            bind(
                Some("shop"),
                "eve-root",
                cluster_role("cluster-admin"),
                vec![u("eve")],
            ),
        )
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::Forbidden);
    assert!(
        r.message.contains("does not hold") && r.message.contains("'bind'"),
        "{}",
        r.message
    );
    // A role with a verb bob lacks.
    let r = g
        .apply_as(
            "bob",
            Command::PutRole(cmd::PutRole {
                namespace: Some(name("shop")),
                name: name("quota-setter"),
                rules: vec![Rule {
                    verbs: vec!["update".into()],
                    resources: vec!["resourcequotas".into()],
                }],
            }),
        )
        .unwrap_err();
    assert!(
        r.message
            .contains("update resourcequotas in namespace shop"),
        "{}",
        r.message
    );
    // Anything in lab: bob may not even write bindings there.
    let r = g
        .apply_as(
            "bob",
            bind(
                Some("lab"),
                "eve-view",
                cluster_role("viewer"),
                vec![u("eve")],
            ),
        )
        .unwrap_err();
    assert!(
        r.message.contains("update rolebindings in namespace lab"),
        "{}",
        r.message
    );
}

#[test]
fn joining_a_group_is_a_grant_too() {
    let mut g = teams();
    g.apply_as(
        "admin",
        bind(
            None,
            "sre-root",
            cluster_role("cluster-admin"),
            vec![Subject::Group { name: "sre".into() }],
        ),
    )
    .unwrap();
    assert!(
        authorize::command(
            &g.state,
            "admin",
            &Command::UpdateUser(cmd::UpdateUser {
                name: UserName::parse("n", "vera").unwrap(),
                groups: BTreeSet::from(["sre".to_string()]),
            })
        )
        .is_ok()
    );
    // A cluster role able to edit users, but short of cluster-admin.
    g.apply_as(
        "admin",
        Command::PutRole(cmd::PutRole {
            namespace: None,
            name: name("user-manager"),
            rules: vec![Rule {
                verbs: vec!["create".into(), "update".into()],
                resources: vec!["users".into()],
            }],
        }),
    )
    .unwrap();
    g.apply_as(
        "admin",
        bind(
            None,
            "bob-users",
            cluster_role("user-manager"),
            vec![u("bob")],
        ),
    )
    .unwrap();
    let r = g
        .apply_as(
            "bob",
            Command::UpdateUser(cmd::UpdateUser {
                name: UserName::parse("n", "bob").unwrap(),
                groups: BTreeSet::from(["sre".to_string()]),
            }),
        )
        .unwrap_err();
    assert!(
        r.message.contains("clusterrolebinding/sre-root"),
        "{}",
        r.message
    );
    let who = authorize::who_can(&g.state, &need(Verb::Delete, "nodes", None));
    assert!(
        who.iter()
            .any(|(s, g)| *s == u("admin") && g.binding == "clusterrolebinding/cluster-admin")
    );
    assert!(
        who.iter()
            .any(|(s, _)| *s == Subject::Group { name: "sre".into() })
    );
    assert!(!who.iter().any(|(s, _)| *s == u("bob")));
}

#[test]
fn who_can_lists_every_subject_and_its_binding() {
    let g = teams();
    let who = authorize::who_can(&g.state, &need(Verb::Scale, "deployments", Some("shop")));
    let names: Vec<String> = who
        .iter()
        .map(|(s, g)| format!("{s} via {}", g.binding))
        .collect();
    assert!(
        names.contains(&"user bob via rolebinding/shop/bob-admin".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"user admin via clusterrolebinding/cluster-admin".to_string()),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| n.contains("vera")), "{names:?}");
}

#[test]
fn a_node_agent_reports_only_for_its_own_node() {
    let mut g = given(&[
        node_registered("n-a", "az-a", 8000, 16384),
        node_registered("n-b", "az-b", 8000, 16384),
    ]);
    let own = Command::RegisterNode(cmd::RegisterNode {
        node_id: domain::NodeId::from_name("n-a"),
        spec: node_spec("n-a", "az-a", 8000, 16384),
    });
    assert!(authorize::command(&g.state, "system:node-agent/n-a", &own).is_ok());
    let r = authorize::command(&g.state, "system:node-agent/n-b", &own).unwrap_err();
    assert!(
        r.message.contains("speaks for node n-b only"),
        "{}",
        r.message
    );
    // Nor may it do what is not a node agent's at all.
    let del = Command::CreateNamespace(cmd::CreateNamespace {
        name: name("x"),
        labels: Default::default(),
    });
    assert_eq!(
        g.apply_as("system:node-agent/n-a", del).unwrap_err().code,
        RejectionCode::Forbidden
    );
    // The scheduler binds; it does not create deployments.
    let mut spec = deployment_spec("web", 1, 100, 64);
    spec.namespace = name("default");
    let create = Command::CreateDeployment(cmd::CreateDeployment {
        deployment_id: deployment_id(1),
        spec,
    });
    assert!(authorize::command(&g.state, "system:scheduler", &create).is_err());
    assert!(authorize::command(&g.state, "system:controller", &create).is_ok());
}

#[test]
fn a_token_lives_until_it_expires_or_is_revoked_and_its_user_takes_it_along() {
    let mut g = teams();
    let issue = |subject: &str, digest: &str, expires: Option<chrono::DateTime<Utc>>| {
        Command::IssueToken(cmd::IssueToken {
            token_id: Uuid::new_v4(),
            subject: subject.into(),
            digest: digest.into(),
            expires_at: expires,
            bootstrap: false,
            description: None,
        })
    };
    let later = Utc::now() + Duration::hours(1);
    // For oneself: always; for another: only with create on tokens.
    g.apply_as("bob", issue("bob", "d1", Some(later))).unwrap();
    assert_eq!(
        g.apply_as("bob", issue("vera", "d2", Some(later)))
            .unwrap_err()
            .code,
        RejectionCode::Forbidden
    );
    g.apply_as(
        "admin",
        issue("vera", "d3", Some(Utc::now() - Duration::seconds(1))),
    )
    .unwrap();
    assert_eq!(
        g.state
            .identities
            .authenticate("d1", Utc::now())
            .unwrap()
            .subject,
        "bob"
    );
    assert!(matches!(
        g.state.identities.authenticate("d3", Utc::now()),
        Err(TokenRefusal::Expired(_))
    ));
    assert_eq!(
        g.state
            .identities
            .authenticate("nope", Utc::now())
            .unwrap_err(),
        TokenRefusal::Unknown
    );
    // Nobody but orch up mints a bootstrap token.
    let mut boot = issue("admin", "d4", None);
    if let Command::IssueToken(c) = &mut boot {
        c.bootstrap = true;
    }
    assert!(g.apply_as("admin", boot).is_err());
    // Deleting bob revokes his tokens in the same decision.
    let events = g
        .apply_as(
            "admin",
            Command::DeleteUser(cmd::DeleteUser {
                name: UserName::parse("n", "bob").unwrap(),
            }),
        )
        .unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(
        g.state
            .identities
            .authenticate("d1", Utc::now())
            .unwrap_err(),
        TokenRefusal::Revoked
    );
    // admin is built in.
    let r = g
        .apply_as(
            "admin",
            Command::DeleteUser(cmd::DeleteUser {
                name: UserName::parse("n", "admin").unwrap(),
            }),
        )
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::BuiltIn);
}

#[test]
fn an_unknown_subject_holds_nothing_and_a_user_cannot_pose_as_a_component() {
    let g = teams();
    assert!(grant(&g.state, "mallory", &need(Verb::Get, "pods", Some("shop"))).is_none());
    assert!(UserName::parse("name", "system:scheduler").is_err());
    assert_eq!(
        Principal::of("system:serviceaccount:shop:ci"),
        Principal::ServiceAccount {
            namespace: "shop".into(),
            name: "ci".into()
        }
    );
}

#[test]
fn a_binding_names_its_added_and_removed_subjects_and_refuses_a_missing_role() {
    let mut g = teams();
    let e = g
        .apply_as(
            "admin",
            bind(
                Some("shop"),
                "vera-view",
                cluster_role("viewer"),
                vec![u("bob"), u("vera")],
            ),
        )
        .unwrap();
    match &e[0] {
        domain::Event::RoleBindingSet(b) => {
            assert_eq!(b.added, vec![u("bob")]);
            assert!(b.removed.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let r = g
        .apply_as(
            "admin",
            bind(
                Some("shop"),
                "x",
                RoleRef::Role {
                    name: "nope".into(),
                },
                vec![u("bob")],
            ),
        )
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::NotFound);
    let r = g
        .apply_as(
            "admin",
            bind(
                None,
                "cluster-admin",
                cluster_role("viewer"),
                vec![u("bob")],
            ),
        )
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::BuiltIn);
}

// ---- the no-escalation property

const USERS: [&str; 4] = ["u0", "u1", "u2", "u3"];
const NAMESPACES: [Option<&str>; 3] = [None, Some("n0"), Some("n1")];
const VERBS: [Verb; 5] = [
    Verb::Get,
    Verb::Create,
    Verb::Update,
    Verb::Delete,
    Verb::Scale,
];
const RES: [&str; 4] = ["deployments", "pods", "roles", "rolebindings"];

/// Every (verb, resource, namespace) the subject holds, over the universe.
fn perms(g: &Given, actor: &str) -> BTreeSet<(Verb, &'static str, Option<&'static str>)> {
    let mut out = BTreeSet::new();
    for v in Verb::all() {
        for r in RESOURCES {
            for ns in NAMESPACES {
                if grant(&g.state, actor, &need(v, r, ns)).is_some() {
                    out.insert((v, *r, ns));
                }
            }
        }
    }
    out
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        prop::sample::subsequence(VERBS.to_vec(), 1..3),
        prop::sample::subsequence(RES.to_vec(), 1..3),
    )
        .prop_map(|(v, r)| Rule {
            verbs: v.iter().map(|v| v.as_str().to_string()).collect(),
            resources: r.iter().map(|r| r.to_string()).collect(),
        })
}

#[derive(Debug, Clone)]
enum Op {
    Role {
        by: usize,
        ns: usize,
        name: usize,
        rules: Vec<Rule>,
    },
    Bind {
        by: usize,
        ns: usize,
        name: usize,
        role: usize,
        cluster: bool,
        to: Vec<usize>,
    },
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0..4usize,
            0..3usize,
            0..2usize,
            prop::collection::vec(arb_rule(), 1..3)
        )
            .prop_map(|(by, ns, name, rules)| Op::Role {
                by,
                ns,
                name,
                rules
            }),
        (
            0..4usize,
            0..3usize,
            0..3usize,
            0..2usize,
            any::<bool>(),
            prop::collection::vec(0..4usize, 1..3)
        )
            .prop_map(|(by, ns, name, role, cluster, to)| Op::Bind {
                by,
                ns,
                name,
                role,
                cluster,
                to
            }),
    ]
}

fn seeded() -> Given {
    let mut g = given(&[]);
    ns(&mut g, "n0");
    ns(&mut g, "n1");
    for u0 in USERS {
        user(&mut g, u0, &[]);
    }
    // u0: admin of n0; u1: editor of n1; u2: a role to manage bindings
    // cluster-wide with pods rights; u3 nothing.
    g.apply_as(
        "admin",
        bind(Some("n0"), "seed0", cluster_role("admin"), vec![u("u0")]),
    )
    .unwrap();
    g.apply_as(
        "admin",
        bind(Some("n1"), "seed1", cluster_role("editor"), vec![u("u1")]),
    )
    .unwrap();
    g.apply_as(
        "admin",
        Command::PutRole(cmd::PutRole {
            namespace: None,
            name: name("granter"),
            rules: vec![Rule {
                verbs: vec!["get".into(), "create".into(), "update".into()],
                resources: vec!["pods".into(), "roles".into(), "rolebindings".into()],
            }],
        }),
    )
    .unwrap();
    g.apply_as(
        "admin",
        bind(None, "seed2", cluster_role("granter"), vec![u("u2")]),
    )
    .unwrap();
    g
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_sequence_of_role_and_binding_commands_gives_more_than_the_granter_held(
        ops in prop::collection::vec(arb_op(), 1..12)
    ) {
        let mut g = seeded();
        for op in ops {
            let (by, cmd) = match &op {
                Op::Role { by, ns, name: n, rules } => (*by, Command::PutRole(cmd::PutRole {
                    namespace: NAMESPACES[*ns].map(name),
                    name: name(&format!("r{n}")),
                    rules: rules.clone(),
                })),
                Op::Bind { by, ns, name: n, role, cluster, to } => {
                    let role = if *cluster {
                        cluster_role(["viewer", "editor", "admin", "cluster-admin", "granter"][*role % 5])
                    } else {
                        RoleRef::Role { name: format!("r{role}") }
                    };
                    (*by, bind(NAMESPACES[*ns], &format!("b{n}"), role, to.iter().map(|i| u(USERS[*i])).collect()))
                }
            };
            let granter = USERS[by];
            let before: Vec<_> = USERS.iter().map(|s| perms(&g, s)).collect();
            let held = before[by].clone();
            if g.apply_as(granter, cmd).is_ok() {
                for (i, s) in USERS.iter().enumerate() {
                    let after = perms(&g, s);
                    let gained: Vec<_> = after.difference(&before[i]).filter(|p| !held.contains(p)).collect();
                    prop_assert!(gained.is_empty(), "{granter} gave {s} {gained:?} it did not hold itself ({op:?})");
                }
            }
        }
    }
}

#[test]
fn a_deleted_namespace_grants_nothing_and_one_created_again_starts_without_its_grants() {
    let mut g = teams();
    assert!(grant(&g.state, "bob", &need(Verb::Get, "pods", Some("shop"))).is_some());
    g.apply_as(
        "admin",
        Command::DeleteNamespace(cmd::DeleteNamespace { name: name("shop") }),
    )
    .unwrap();
    assert!(grant(&g.state, "bob", &need(Verb::Get, "pods", Some("shop"))).is_none());
    // Undeleted: the grants come back with it.
    g.apply_as(
        "admin",
        Command::UndeleteNamespace(cmd::UndeleteNamespace { name: name("shop") }),
    )
    .unwrap();
    assert!(grant(&g.state, "bob", &need(Verb::Get, "pods", Some("shop"))).is_some());
    // Deleted and created again: a new namespace, without them.
    g.apply_as(
        "admin",
        Command::DeleteNamespace(cmd::DeleteNamespace { name: name("shop") }),
    )
    .unwrap();
    ns(&mut g, "shop");
    assert!(grant(&g.state, "bob", &need(Verb::Get, "pods", Some("shop"))).is_none());
    assert!(
        g.state
            .rbac
            .bindings
            .values()
            .all(|b| b.namespace.as_deref() != Some("shop"))
    );
}

#[test]
fn only_a_node_agent_reports_a_pods_status() {
    let mut g = given(&[node_registered("n-a", "az-a", 8000, 16384)]);
    let mut spec = deployment_spec("web", 1, 100, 64);
    spec.namespace = name("default");
    g.apply_as(
        "admin",
        Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id: deployment_id(7),
            spec,
        }),
    )
    .unwrap();
    let r = authorize::check(
        &g.state,
        "system:scheduler",
        &need(Verb::Update, "pods/status", Some("default")),
    );
    assert!(r.is_err());
    let r = authorize::check(
        &g.state,
        "system:controller",
        &need(Verb::Update, "pods/status", Some("default")),
    );
    assert!(r.is_err());
    assert!(
        authorize::check(
            &g.state,
            "system:node-agent/n-a",
            &need(Verb::Update, "pods/status", Some("default"))
        )
        .is_ok()
    );
    assert!(
        authorize::check(
            &g.state,
            "system:scheduler",
            &need(Verb::Update, "pods/binding", Some("default"))
        )
        .is_ok()
    );
}
