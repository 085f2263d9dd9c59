//! Secrets: given / when / then for writes (versions, conflicts, key
//! changes), delete and undelete, references from pod templates, the
//! `read-secrets` a template that takes secrets needs, KEK rotations and a
//! namespace's purge; and, as properties, that versions only go up and that
//! a rotation completes only once every data key is wrapped under its key.
//! The envelopes here are opaque strings: sealing is the API's
//! (`infra::keyring`), the decider never opens one.

use std::collections::BTreeMap;

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event::Event;
use domain::identity::UserName;
use domain::model::{SecretEnv, SecretFiles};
use domain::names::Name;
use domain::rbac::{RoleRef, Rule, Subject};
use domain::reconcile;
use domain::secret::{Sealed, SecretData};
use domain::testing::*;
use proptest::prelude::*;
use uuid::Uuid;

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn sealed(tag: &str) -> Sealed {
    Sealed {
        nonce: format!("nonce-{tag}"),
        ciphertext: format!("ct-{tag}"),
    }
}

fn data(key_id: &str, keys: &[&str]) -> SecretData {
    SecretData {
        key_id: key_id.into(),
        wrapped_key: sealed("dek"),
        values: keys.iter().map(|k| (k.to_string(), sealed(k))).collect(),
    }
}

fn set(ns: &str, n: &str, version: u64, keys: &[&str], changed: &[&str]) -> Command {
    Command::SetSecret(cmd::SetSecret {
        namespace: name(ns),
        name: name(n),
        version,
        data: data("k1", keys),
        create_only: false,
        changed: changed.iter().map(|s| s.to_string()).collect(),
    })
}

fn shop() -> Given {
    let mut g = given(&[node_registered("n-a", "az-a", 8000, 16384)]);
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("shop"),
        labels: Default::default(),
    }))
    .unwrap();
    g
}

fn secret_set(events: &[Event]) -> &domain::event::SecretSet {
    match events {
        [Event::SecretSet(e)] => e,
        other => panic!("expected one SecretSet, got {other:?}"),
    }
}

#[test]
fn a_write_is_a_new_version_that_names_its_keys_never_a_value() {
    let mut g = shop();
    let e = g
        .apply(set("shop", "db", 1, &["password", "user"], &[]))
        .unwrap();
    let e = secret_set(&e);
    assert!(e.created);
    assert_eq!(
        (e.version, e.added.clone()),
        (1, vec!["password".into(), "user".into()])
    );

    // Replace: a kept key with a new value, one gone, one new.
    let e = g
        .apply(set(
            "shop",
            "db",
            2,
            &["password", "token"],
            &["password", "nonsense"],
        ))
        .unwrap();
    let e = secret_set(&e);
    assert!(!e.created);
    assert_eq!(e.added, vec!["token".to_string()]);
    assert_eq!(e.changed, vec!["password".to_string()]);
    assert_eq!(e.removed, vec!["user".to_string()]);
    assert_eq!(g.state.secrets.get("shop", "db").unwrap().version, 2);

    // The same keys, nothing changed: no new version.
    assert_eq!(
        g.when(set("shop", "db", 3, &["password", "token"], &[]))
            .unwrap(),
        vec![]
    );
}

#[test]
fn a_write_sealed_for_a_stale_version_or_a_create_of_an_existing_name_is_refused() {
    let mut g = shop();
    g.apply(set("shop", "db", 1, &["password"], &[])).unwrap();
    let r = g
        .when(set("shop", "db", 1, &["password"], &["password"]))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::Conflict);
    assert!(r.message.contains("next is 2"), "{}", r.message);

    let Command::SetSecret(mut create) = set("shop", "db", 2, &["password"], &[]) else {
        unreachable!()
    };
    create.create_only = true;
    let r = g.when(Command::SetSecret(create)).unwrap_err();
    assert_eq!(r.code, RejectionCode::AlreadyExists);

    let r = g.when(set("nowhere", "db", 1, &["a"], &[])).unwrap_err();
    assert_eq!(r.code, RejectionCode::NamespaceNotFound);

    let Command::SetSecret(mut bad) = set("shop", "x", 1, &["ok"], &[]) else {
        unreachable!()
    };
    bad.data.values.insert("no/slash".into(), sealed("x"));
    let r = g.when(Command::SetSecret(bad)).unwrap_err();
    assert_eq!(r.code, RejectionCode::ValidationFailed);
    assert_eq!(r.fields[0].field, "data.no/slash");
}

#[test]
fn delete_and_undelete_keep_the_version_and_a_new_write_goes_on_from_it() {
    let mut g = shop();
    g.apply(set("shop", "db", 1, &["a"], &[])).unwrap();
    g.apply(set("shop", "db", 2, &["a"], &["a"])).unwrap();
    let del = Command::DeleteSecret(cmd::DeleteSecret {
        namespace: name("shop"),
        name: name("db"),
    });
    assert!(
        matches!(g.apply(del.clone()).unwrap()[..], [Event::SecretDeleted(ref e)] if e.version == 2)
    );
    assert!(g.state.secrets.get("shop", "db").is_none());
    assert_eq!(g.when(del).unwrap_err().code, RejectionCode::NotFound);
    let undel = Command::UndeleteSecret(cmd::UndeleteSecret {
        namespace: name("shop"),
        name: name("db"),
    });
    g.apply(undel.clone()).unwrap();
    assert_eq!(g.state.secrets.get("shop", "db").unwrap().version, 2);
    assert_eq!(
        g.when(undel).unwrap_err().code,
        RejectionCode::AlreadyExists
    );
    // Deleted again, then written anew: version 3, not 1.
    g.apply(Command::DeleteSecret(cmd::DeleteSecret {
        namespace: name("shop"),
        name: name("db"),
    }))
    .unwrap();
    assert_eq!(g.state.secrets.next_version("shop", "db"), 3);
    assert_eq!(
        g.when(set("shop", "db", 1, &["a"], &[])).unwrap_err().code,
        RejectionCode::Conflict
    );
    g.apply(set("shop", "db", 3, &["a"], &[])).unwrap();
}

fn with_secrets(env: &[(&str, &str, &str)], files: &[(&str, &str)]) -> cmd::CreateDeployment {
    let mut spec = deployment_spec("web", 1, 100, 64);
    spec.namespace = name("shop");
    spec.template.secret_env = env
        .iter()
        .map(|(var, s, k)| SecretEnv {
            name: var.to_string(),
            secret: name(s),
            key: k.to_string(),
        })
        .collect();
    spec.template.secret_files = files
        .iter()
        .map(|(dir, s)| SecretFiles {
            name: dir.to_string(),
            secret: name(s),
        })
        .collect();
    cmd::CreateDeployment {
        deployment_id: deployment_id(7),
        spec,
    }
}

#[test]
fn a_template_may_name_only_secrets_and_keys_that_exist_in_its_namespace() {
    let mut g = shop();
    g.apply(set("shop", "db", 1, &["password"], &[])).unwrap();
    let r = g
        .when(Command::CreateDeployment(with_secrets(
            &[("DB_PASSWORD", "db", "pasword"), ("API", "api", "key")],
            &[("CERTS", "tls")],
        )))
        .unwrap_err();
    assert_eq!(r.code, RejectionCode::ValidationFailed);
    let fields: Vec<_> = r.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "secretEnv[0].key",
            "secretEnv[1].secret",
            "secretFiles[0].secret"
        ]
    );
    assert!(
        r.fields[0].message.contains("it has: password"),
        "{}",
        r.fields[0].message
    );
    // Bad names are caught before the lookup.
    let r = g
        .when(Command::CreateDeployment(with_secrets(
            &[("1BAD", "db", "password")],
            &[("lower", "db")],
        )))
        .unwrap_err();
    let fields: Vec<_> = r.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["secretEnv[0].name", "secretFiles[0].name"]);

    g.apply(Command::CreateDeployment(with_secrets(
        &[("DB_PASSWORD", "db", "password")],
        &[("DB", "db")],
    )))
    .unwrap();
}

#[test]
fn taking_secrets_into_pods_needs_read_secrets_besides_create_deployments() {
    let mut g = shop();
    g.apply(set("shop", "db", 1, &["password"], &[])).unwrap();
    for u in ["dev", "ops"] {
        g.apply_as(
            "admin",
            Command::CreateUser(cmd::CreateUser {
                name: UserName::parse("name", u).unwrap(),
                groups: Default::default(),
            }),
        )
        .unwrap();
    }
    // dev may create deployments but not read secrets; ops is an editor (both).
    g.apply_as(
        "admin",
        Command::PutRole(cmd::PutRole {
            namespace: Some(name("shop")),
            name: name("deployer"),
            rules: vec![Rule {
                verbs: vec!["create".into(), "get".into()],
                resources: vec!["deployments".into()],
            }],
        }),
    )
    .unwrap();
    for (u, role) in [
        (
            "dev",
            RoleRef::Role {
                name: "deployer".into(),
            },
        ),
        (
            "ops",
            RoleRef::ClusterRole {
                name: "editor".into(),
            },
        ),
    ] {
        g.apply_as(
            "admin",
            Command::PutRoleBinding(cmd::PutRoleBinding {
                namespace: Some(name("shop")),
                name: name(&format!("{u}-binding")),
                role,
                subjects: vec![Subject::User { name: u.into() }],
            }),
        )
        .unwrap();
    }
    let create = Command::CreateDeployment(with_secrets(&[("PW", "db", "password")], &[]));
    let r = g.apply_as("dev", create.clone()).unwrap_err();
    assert_eq!(r.code, RejectionCode::Forbidden);
    assert!(
        r.message.contains("read-secrets secrets in namespace shop"),
        "{}",
        r.message
    );
    // Without secrets dev may create it.
    let mut plain = with_secrets(&[], &[]);
    plain.deployment_id = deployment_id(8);
    plain.spec.name = name("plain");
    g.apply_as("dev", Command::CreateDeployment(plain)).unwrap();
    g.apply_as("ops", create).unwrap();
}

fn rotate(g: &mut Given, to: &str) -> Uuid {
    let id = Uuid::now_v7();
    g.apply(Command::StartKeyRotation(cmd::StartKeyRotation {
        rotation_id: id,
        to_key: to.into(),
    }))
    .unwrap();
    id
}

fn rewrap(rotation_id: Uuid, n: &str, version: u64) -> Command {
    Command::RewrapSecret(cmd::RewrapSecret {
        rotation_id,
        namespace: name("shop"),
        name: name(n),
        version,
        wrapped_key: sealed("dek-k2"),
    })
}

#[test]
fn a_rotation_rewraps_every_data_key_live_and_deleted_then_completes() {
    let mut g = shop();
    g.apply(set("shop", "a", 1, &["x"], &[])).unwrap();
    g.apply(set("shop", "b", 1, &["x"], &[])).unwrap();
    g.apply(Command::DeleteSecret(cmd::DeleteSecret {
        namespace: name("shop"),
        name: name("b"),
    }))
    .unwrap();
    let id = rotate(&mut g, "k2");
    let r = &g.state.secrets.rotations[&id];
    assert_eq!(r.total, 2);
    let complete = Command::CompleteKeyRotation(cmd::CompleteKeyRotation { rotation_id: id });
    let refused = g.when(complete.clone()).unwrap_err();
    assert_eq!(refused.code, RejectionCode::Conflict);
    assert!(
        refused.message.starts_with("2 secret(s)"),
        "{}",
        refused.message
    );

    let e = g.apply(rewrap(id, "a", 1)).unwrap();
    assert!(
        matches!(&e[..], [Event::SecretRewrapped(r)] if r.from_key == "k1" && r.to_key == "k2")
    );
    assert_eq!(g.state.secrets.get("shop", "a").unwrap().data.key_id, "k2");
    // Again, or for a version that moved on: nothing.
    assert_eq!(g.apply(rewrap(id, "a", 1)).unwrap(), vec![]);
    assert_eq!(g.apply(rewrap(id, "b", 7)).unwrap(), vec![]);
    g.apply(rewrap(id, "b", 1)).unwrap();
    assert_eq!(g.state.secrets.deleted["shop/b"].data.key_id, "k2");

    assert!(
        matches!(&g.apply(complete.clone()).unwrap()[..], [Event::KeyRotationCompleted(c)] if c.total == 2)
    );
    assert!(g.state.secrets.rotations[&id].completed);
    assert_eq!(g.apply(complete).unwrap(), vec![]);
    let r = g.when(rewrap(Uuid::nil(), "a", 1)).unwrap_err();
    assert_eq!(r.code, RejectionCode::NotFound);
}

#[test]
fn a_deleted_namespace_takes_its_secrets_and_its_undelete_brings_them_back() {
    let mut g = shop();
    g.apply(set("shop", "db", 1, &["password"], &[])).unwrap();
    g.apply(Command::DeleteNamespace(cmd::DeleteNamespace {
        name: name("shop"),
    }))
    .unwrap();
    for p in reconcile::namespaces(&g.state) {
        g.apply(p.command).unwrap();
    }
    assert!(g.state.secrets.get("shop", "db").is_none());
    g.apply(Command::UndeleteNamespace(cmd::UndeleteNamespace {
        name: name("shop"),
    }))
    .unwrap();
    assert_eq!(g.state.secrets.get("shop", "db").unwrap().version, 1);
}

#[derive(Debug, Clone)]
enum Op {
    Set(u8, Vec<u8>),
    Delete(u8),
    Undelete(u8),
    Rotate,
    Rewrap(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, proptest::collection::vec(0u8..4, 1..4)).prop_map(|(n, k)| Op::Set(n, k)),
        (0u8..3).prop_map(Op::Delete),
        (0u8..3).prop_map(Op::Undelete),
        Just(Op::Rotate),
        (0u8..3).prop_map(Op::Rewrap),
    ]
}

proptest! {
    /// Whatever happens to a name, its versions only go up, a live secret's
    /// version is below the next one, and a rotation completes only when
    /// nothing is wrapped under another key.
    #[test]
    fn versions_only_go_up_and_a_rotation_completes_only_when_every_key_is_rewrapped(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let mut g = shop();
        let mut last: BTreeMap<String, u64> = BTreeMap::new();
        let mut rotation: Option<(Uuid, String)> = None;
        let mut keys_made = 1;
        for o in ops {
            let n = |i: u8| format!("s{i}");
            match o {
                Op::Set(i, keys) => {
                    let v = g.state.secrets.next_version("shop", &n(i));
                    let keys: Vec<String> = keys.iter().map(|k| format!("k{k}")).collect();
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    let Command::SetSecret(mut c) = set("shop", &n(i), v, &refs, &refs) else { unreachable!() };
                    c.data.key_id = rotation.as_ref().map_or("k1".into(), |r| r.1.clone());
                    let _ = g.apply(Command::SetSecret(c));
                }
                Op::Delete(i) => {
                    let _ = g.apply(Command::DeleteSecret(cmd::DeleteSecret { namespace: name("shop"), name: name(&n(i)) }));
                }
                Op::Undelete(i) => {
                    let _ = g.apply(Command::UndeleteSecret(cmd::UndeleteSecret { namespace: name("shop"), name: name(&n(i)) }));
                }
                Op::Rotate => {
                    keys_made += 1;
                    let to = format!("kek{keys_made}");
                    let id = rotate(&mut g, &to);
                    rotation = Some((id, to));
                }
                Op::Rewrap(i) => {
                    if let Some((id, _)) = &rotation {
                        let key = format!("shop/{}", n(i));
                        let s = g.state.secrets.live.get(&key).or_else(|| g.state.secrets.deleted.get(&key)).cloned();
                        if let Some(s) = s {
                            let _ = g.apply(rewrap(*id, &n(i), s.version));
                        }
                    }
                }
            }
            for i in 0..3u8 {
                let name = n(i);
                if let Some(s) = g.state.secrets.get("shop", &name) {
                    let before = last.get(&name).copied().unwrap_or(0);
                    prop_assert!(s.version >= before);
                    prop_assert!(g.state.secrets.next_version("shop", &name) > s.version);
                    last.insert(name, s.version);
                }
            }
            if let Some((id, to)) = &rotation {
                let left = g.state.secrets.wrapped_elsewhere(to).count();
                let done = g.apply(Command::CompleteKeyRotation(cmd::CompleteKeyRotation { rotation_id: *id }));
                prop_assert_eq!(done.is_ok(), left == 0);
            }
        }
    }
}
