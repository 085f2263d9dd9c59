//! Namespaces and quotas: given / when / then for each command, the
//! namespace controller's purge and usage records, and the quota invariant
//! as a property (no sequence of creates, scales and template changes
//! commits more than a hard limit).

use domain::RejectionCode;
use domain::command as cmd;
use domain::command::Command;
use domain::event::Event;
use domain::ids::ServiceId;
use domain::model::ServiceSpec;
use domain::names::{Image, Name};
use domain::namespace::ObjectKind;
use domain::quota::QuotaSpec;
use domain::quota::commitment::usage;
use domain::reconcile;
use domain::testing::*;
use proptest::prelude::*;

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn cluster() -> Vec<Event> {
    vec![
        node_registered("n-a", "az-a", 64_000, 262_144),
        node_registered("n-b", "az-b", 64_000, 262_144),
    ]
}

fn create_ns(g: &mut Given, ns: &str) {
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: name(ns),
        labels: Default::default(),
    }))
    .unwrap();
}

fn deployment_in(ns: &str, n: &str, replicas: u32, cpu: u32) -> cmd::CreateDeployment {
    let mut spec = deployment_spec(n, replicas, cpu, 128);
    spec.namespace = name(ns);
    cmd::CreateDeployment {
        deployment_id: deployment_id(n.bytes().fold(ns.len() as u128, |a, b| a * 131 + b as u128)),
        spec,
    }
}

fn quota(g: &mut Given, ns: &str, hard: QuotaSpec) {
    g.apply(Command::SetResourceQuota(cmd::SetResourceQuota {
        namespace: name(ns),
        hard,
    }))
    .unwrap();
}

fn rejection(r: Result<Vec<Event>, domain::Rejection>) -> domain::Rejection {
    r.expect_err("refused")
}

/// One namespace-controller pass, every command applied.
fn controller(g: &mut Given) -> Vec<Event> {
    let mut out = Vec::new();
    for p in reconcile::namespaces(&g.state) {
        out.extend(g.apply(p.command).unwrap());
    }
    out
}

#[test]
fn objects_go_only_into_namespaces_that_exist() {
    let mut g = given(&cluster());
    let r = rejection(g.when(Command::CreateDeployment(deployment_in(
        "shop", "web", 1, 100,
    ))));
    assert_eq!(r.code, RejectionCode::NamespaceNotFound);
    assert!(r.message.contains("'shop' does not exist"), "{}", r.message);
    // The built-ins exist without being created.
    g.apply(Command::CreateDeployment(deployment_in(
        "default", "web", 1, 100,
    )))
    .unwrap();
    create_ns(&mut g, "shop");
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "web", 1, 100,
    )))
    .unwrap();
    let again = rejection(g.when(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("shop"),
        labels: Default::default(),
    })));
    assert_eq!(again.code, RejectionCode::AlreadyExists);
    for b in ["default", "orch-system"] {
        let r = rejection(g.when(Command::DeleteNamespace(cmd::DeleteNamespace {
            name: name(b),
        })));
        assert_eq!(r.code, RejectionCode::NamespaceProtected);
    }
}

#[test]
fn deleting_a_namespace_deletes_what_it_held_through_their_own_deletes() {
    let mut g = given(&cluster());
    create_ns(&mut g, "shop");
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "web", 2, 100,
    )))
    .unwrap();
    g.apply(Command::CreateService(cmd::CreateService {
        service_id: ServiceId(uuid::Uuid::from_u128(77)),
        spec: ServiceSpec {
            namespace: name("shop"),
            name: name("web"),
            selector: [("app".to_string(), "web".to_string())].into(),
            host: None,
            path_prefix: "/".into(),
        },
    }))
    .unwrap();
    g.apply(Command::CreateDeployment(deployment_in(
        "default", "other", 1, 100,
    )))
    .unwrap();
    let events = g
        .apply(Command::DeleteNamespace(cmd::DeleteNamespace {
            name: name("shop"),
        }))
        .unwrap();
    let [Event::NamespaceDeleted(d)] = events.as_slice() else {
        panic!("{events:?}")
    };
    let kinds: Vec<ObjectKind> = d.objects.iter().map(|o| o.kind).collect();
    assert_eq!(kinds, vec![ObjectKind::Deployment, ObjectKind::Service]);
    // Nothing new goes in; the objects are still there until the controller runs.
    let r = rejection(g.when(Command::CreateDeployment(deployment_in(
        "shop", "api", 1, 100,
    ))));
    assert_eq!(r.code, RejectionCode::NamespaceTerminating);
    assert_eq!(g.state.objects_in("shop").len(), 2);
    let purged = controller(&mut g);
    assert!(
        purged
            .iter()
            .any(|e| matches!(e, Event::DeploymentDeleted(_)))
    );
    assert!(purged.iter().any(|e| matches!(e, Event::ServiceDeleted(_))));
    assert!(g.state.objects_in("shop").is_empty());
    assert_eq!(
        g.state.objects_in("default").len(),
        1,
        "other namespaces untouched"
    );
    assert!(controller(&mut g).is_empty(), "nothing left to do");
    // Once empty it can be created afresh.
    create_ns(&mut g, "shop");
    assert!(g.state.namespace_is_open("shop"));
}

#[test]
fn undelete_brings_the_namespace_back_with_everything_it_held_in_one_batch() {
    let mut g = given(&cluster());
    create_ns(&mut g, "shop");
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "web", 2, 100,
    )))
    .unwrap();
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "api", 1, 100,
    )))
    .unwrap();
    g.apply(Command::DeleteNamespace(cmd::DeleteNamespace {
        name: name("shop"),
    }))
    .unwrap();
    // A purge planned before the undelete and decided after it does nothing.
    let stale = reconcile::namespaces(&g.state);
    assert_eq!(stale.len(), 2);
    g.apply(stale[0].command.clone()).unwrap();
    let events = g
        .apply(Command::UndeleteNamespace(cmd::UndeleteNamespace {
            name: name("shop"),
        }))
        .unwrap();
    let Event::NamespaceUndeleted(u) = &events[0] else {
        panic!("{events:?}")
    };
    // The one already purged is restored; the other was never deleted.
    assert_eq!(u.restored.len(), 1);
    assert!(u.skipped.is_empty());
    assert!(matches!(events[1], Event::DeploymentUndeleted(_)));
    assert_eq!(g.when(stale[1].command.clone()).unwrap(), vec![]);
    assert_eq!(g.state.objects_in("shop").len(), 2);
    assert!(g.state.namespace_is_open("shop"));
}

#[test]
fn undelete_skips_what_no_longer_fits_the_quota_and_says_why() {
    let mut g = given(&cluster());
    create_ns(&mut g, "shop");
    quota(
        &mut g,
        "shop",
        QuotaSpec {
            pods: Some(4),
            ..Default::default()
        },
    );
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "a", 2, 100,
    )))
    .unwrap();
    g.apply(Command::CreateDeployment(deployment_in(
        "shop", "b", 2, 100,
    )))
    .unwrap();
    // Lowered under what it commits (allowed: nothing is taken away) ...
    quota(
        &mut g,
        "shop",
        QuotaSpec {
            pods: Some(3),
            ..Default::default()
        },
    );
    g.apply(Command::DeleteNamespace(cmd::DeleteNamespace {
        name: name("shop"),
    }))
    .unwrap();
    controller(&mut g);
    // ... so only what fits comes back.
    let events = g
        .apply(Command::UndeleteNamespace(cmd::UndeleteNamespace {
            name: name("shop"),
        }))
        .unwrap();
    let Event::NamespaceUndeleted(u) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(u.restored.len(), 1);
    assert_eq!(u.skipped.len(), 1);
    assert!(
        u.skipped[0].reason.contains("exceeded quota"),
        "{}",
        u.skipped[0].reason
    );
    assert!(usage(&g.state, "shop").pods <= 3);
}

#[test]
fn a_quota_refuses_what_would_commit_more_than_its_limit() {
    let mut g = given(&cluster());
    create_ns(&mut g, "test");
    quota(
        &mut g,
        "test",
        QuotaSpec {
            pods: Some(5),
            requests_cpu_milli: Some(2000),
            deployments: Some(3),
            ..Default::default()
        },
    );
    g.apply(Command::CreateDeployment(deployment_in(
        "test", "a", 3, 100,
    )))
    .unwrap();
    let r = rejection(g.when(Command::CreateDeployment(deployment_in(
        "test", "b", 3, 100,
    ))));
    assert_eq!(r.code, RejectionCode::QuotaExceeded);
    let q = r.quota.expect("figures");
    assert_eq!(
        (q.resource.as_str(), q.used, q.requested, q.hard),
        ("pods", 3, 3, 5)
    );
    assert_eq!(q.namespace, "test");
    // CPU: 2 pods of 1000m would make 2300m.
    let r = rejection(g.when(Command::CreateDeployment(deployment_in(
        "test", "c", 2, 1000,
    ))));
    assert!(r.message.contains("requests.cpu"), "{}", r.message);
    // A scale-up over the limit is refused, a scale within it is not.
    let a = deployment_in("test", "a", 3, 100).deployment_id;
    let scale = |replicas| {
        Command::ScaleDeployment(cmd::ScaleDeployment {
            deployment_id: a,
            replicas,
        })
    };
    assert_eq!(
        rejection(g.when(scale(6))).code,
        RejectionCode::QuotaExceeded
    );
    g.apply(scale(5)).unwrap();
    // Lowered below what it commits: scaling down still works, up does not.
    quota(
        &mut g,
        "test",
        QuotaSpec {
            pods: Some(2),
            ..Default::default()
        },
    );
    g.apply(scale(4)).unwrap();
    assert_eq!(
        rejection(g.when(scale(5))).code,
        RejectionCode::QuotaExceeded
    );
    // Other namespaces are not counted.
    g.apply(Command::CreateDeployment(deployment_in(
        "default", "big", 50, 100,
    )))
    .unwrap();
}

#[test]
fn a_rollout_must_fit_its_surge_in_the_quota() {
    let mut g = given(&cluster());
    create_ns(&mut g, "test");
    // 4 replicas with maxSurge 1 (the default) commit 5 pods while rolling.
    quota(
        &mut g,
        "test",
        QuotaSpec {
            pods: Some(4),
            ..Default::default()
        },
    );
    let c = deployment_in("test", "web", 4, 100);
    let id = c.deployment_id;
    g.apply(Command::CreateDeployment(c)).unwrap();
    let patch = |image: &str| {
        Command::UpdateDeployment(cmd::UpdateDeployment {
            deployment_id: id,
            patch: domain::command::TemplatePatch {
                image: Some(Image::parse("image", image).unwrap()),
                ..Default::default()
            },
        })
    };
    let r = rejection(g.when(patch("demo:v2")));
    assert_eq!(r.code, RejectionCode::QuotaExceeded);
    assert_eq!(r.quota.unwrap().requested, 1);
    quota(
        &mut g,
        "test",
        QuotaSpec {
            pods: Some(5),
            ..Default::default()
        },
    );
    g.apply(patch("demo:v2")).unwrap();
    assert_eq!(usage(&g.state, "test").pods, 5);
}

#[test]
fn the_controller_records_usage_when_it_changes() {
    let mut g = given(&cluster());
    create_ns(&mut g, "test");
    quota(
        &mut g,
        "test",
        QuotaSpec {
            pods: Some(10),
            ..Default::default()
        },
    );
    assert!(controller(&mut g).is_empty(), "recorded when set");
    g.apply(Command::CreateDeployment(deployment_in(
        "test", "a", 3, 250,
    )))
    .unwrap();
    let events = controller(&mut g);
    let [Event::ResourceQuotaUsageRecorded(r)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(
        (r.used.pods, r.used.requests_cpu_milli, r.used.deployments),
        (3, 750, 1)
    );
    assert_eq!(r.hard.pods, Some(10));
    assert!(controller(&mut g).is_empty());
}

#[test]
fn a_deleted_service_can_be_undeleted() {
    let mut g = given(&cluster());
    let id = ServiceId(uuid::Uuid::from_u128(5));
    let spec = ServiceSpec {
        namespace: name("default"),
        name: name("web"),
        selector: [("app".to_string(), "web".to_string())].into(),
        host: None,
        path_prefix: "/".into(),
    };
    g.apply(Command::CreateService(cmd::CreateService {
        service_id: id,
        spec: spec.clone(),
    }))
    .unwrap();
    g.apply(Command::DeleteService(cmd::DeleteService {
        service_id: id,
    }))
    .unwrap();
    let undelete = || {
        Command::UndeleteService(cmd::UndeleteService {
            namespace: name("default"),
            name: name("web"),
        })
    };
    let events = g.apply(undelete()).unwrap();
    assert!(
        matches!(&events[..], [Event::ServiceUndeleted(u)] if u.service_id == id && u.spec == spec)
    );
    assert_eq!(
        rejection(g.when(undelete())).code,
        RejectionCode::AlreadyExists
    );
}

#[derive(Debug, Clone)]
enum Op {
    Create(u8, u32, u32),
    Scale(u8, u32),
    Image(u8),
    Delete(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u32..6, 1u32..4).prop_map(|(d, r, c)| Op::Create(d, r, c * 100)),
        (0u8..6, 0u32..8).prop_map(|(d, r)| Op::Scale(d, r)),
        (0u8..6).prop_map(Op::Image),
        (0u8..6).prop_map(Op::Delete),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn no_sequence_of_commands_commits_more_than_the_quota(ops in proptest::collection::vec(op(), 1..40)) {
        let mut g = given(&cluster());
        create_ns(&mut g, "q");
        let hard = QuotaSpec {
            pods: Some(10),
            requests_cpu_milli: Some(1500),
            deployments: Some(4),
            ..Default::default()
        };
        quota(&mut g, "q", hard);
        let id = |d: u8| deployment_in("q", &format!("d{d}"), 1, 100).deployment_id;
        let mut v = 0;
        for op in ops {
            let command = match op {
                Op::Create(d, r, cpu) => Command::CreateDeployment(deployment_in("q", &format!("d{d}"), r, cpu)),
                Op::Scale(d, r) => Command::ScaleDeployment(cmd::ScaleDeployment { deployment_id: id(d), replicas: r }),
                Op::Image(d) => {
                    v += 1;
                    Command::UpdateDeployment(cmd::UpdateDeployment {
                        deployment_id: id(d),
                        patch: domain::command::TemplatePatch {
                            image: Some(Image::parse("image", &format!("demo:v{v}")).unwrap()),
                            ..Default::default()
                        },
                    })
                }
                Op::Delete(d) => Command::DeleteDeployment(cmd::DeleteDeployment { deployment_id: id(d) }),
            };
            let _ = g.apply(command);
            let u = usage(&g.state, "q");
            prop_assert!(u.pods <= 10, "{u:?}");
            prop_assert!(u.requests_cpu_milli <= 1500, "{u:?}");
            prop_assert!(u.deployments <= 4, "{u:?}");
        }
    }
}

fn limit_range(g: &mut Given, ns: &str, spec: domain::limitrange::LimitRangeSpec) {
    g.apply(Command::SetLimitRange(cmd::SetLimitRange {
        namespace: name(ns),
        spec,
    }))
    .unwrap();
}

fn amounts(cpu: Option<u32>, mem: Option<u32>) -> domain::limitrange::Amounts {
    domain::limitrange::Amounts {
        cpu_milli: cpu,
        memory_mb: mem,
    }
}

#[test]
fn a_limit_range_fills_in_what_a_pod_leaves_out_and_bounds_the_rest() {
    use domain::model::Resources;
    let mut g = given(&cluster());
    create_ns(&mut g, "test");
    limit_range(
        &mut g,
        "test",
        domain::limitrange::LimitRangeSpec {
            default_request: amounts(Some(100), Some(64)),
            default_limit: amounts(Some(500), Some(256)),
            min: amounts(Some(50), None),
            max: amounts(Some(1000), Some(1024)),
        },
    );
    let with = |n: &str, r: Resources| {
        let mut c = deployment_in("test", n, 1, 100);
        c.spec.template.resources = r;
        Command::CreateDeployment(c)
    };
    // Nothing given: the defaults, recorded in the event.
    let events = g
        .apply(with(
            "a",
            Resources {
                cpu_request_milli: 0,
                cpu_limit_milli: 0,
                mem_request_mb: 0,
                mem_limit_mb: 0,
            },
        ))
        .unwrap();
    let Event::DeploymentCreated(d) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        d.spec.template.resources,
        Resources {
            cpu_request_milli: 100,
            cpu_limit_milli: 500,
            mem_request_mb: 64,
            mem_limit_mb: 256
        }
    );
    // Only a limit: the request is the limit.
    let events = g
        .apply(with(
            "b",
            Resources {
                cpu_request_milli: 0,
                cpu_limit_milli: 800,
                mem_request_mb: 32,
                mem_limit_mb: 0,
            },
        ))
        .unwrap();
    let Event::DeploymentCreated(d) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        d.spec.template.resources,
        Resources {
            cpu_request_milli: 100,
            cpu_limit_milli: 800,
            mem_request_mb: 32,
            mem_limit_mb: 256
        }
    );
    // Out of bounds: refused per field.
    let r = rejection(g.when(with(
        "c",
        Resources {
            cpu_request_milli: 20,
            cpu_limit_milli: 2000,
            mem_request_mb: 64,
            mem_limit_mb: 64,
        },
    )));
    assert_eq!(r.code, RejectionCode::ValidationFailed);
    let fields: Vec<&str> = r.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(
        fields,
        ["resources.cpuRequestMilli", "resources.cpuLimitMilli"],
        "{r:?}"
    );
    assert!(
        r.fields[0].message.contains("below the minimum 50"),
        "{r:?}"
    );
    // Without a limit range, a pod must say what it requests; the limit defaults to it.
    let r = rejection(g.when(Command::CreateDeployment({
        let mut c = deployment_in("default", "d", 1, 100);
        c.spec.template.resources = Resources {
            cpu_request_milli: 0,
            cpu_limit_milli: 0,
            mem_request_mb: 0,
            mem_limit_mb: 0,
        };
        c
    })));
    assert_eq!(r.fields[0].field, "resources");
    let events = g
        .apply(Command::CreateDeployment({
            let mut c = deployment_in("default", "e", 1, 100);
            c.spec.template.resources = Resources {
                cpu_request_milli: 200,
                cpu_limit_milli: 0,
                mem_request_mb: 64,
                mem_limit_mb: 0,
            };
            c
        }))
        .unwrap();
    let Event::DeploymentCreated(d) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(
        (
            d.spec.template.resources.cpu_limit_milli,
            d.spec.template.resources.mem_limit_mb
        ),
        (200, 64)
    );
    // A limit range that contradicts itself is refused.
    let r = rejection(g.when(Command::SetLimitRange(cmd::SetLimitRange {
        namespace: name("test"),
        spec: domain::limitrange::LimitRangeSpec {
            min: amounts(Some(500), None),
            max: amounts(Some(100), None),
            ..Default::default()
        },
    })));
    assert_eq!(r.fields[0].field, "min.cpuMilli");
}

#[test]
fn a_namespace_pod_security_level_bounds_what_its_pods_may_ask_for() {
    use domain::model::{HostPath, SecurityContext};
    use domain::namespace::security::{PodSecurityLevel, UNPRIVILEGED_UID, effective_uid};
    let mut g = given(&cluster());
    let label = |level: &str| -> std::collections::BTreeMap<String, String> {
        [("pod-security.orch/enforce".to_string(), level.to_string())].into()
    };
    g.apply(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("secure"),
        labels: label("restricted"),
    }))
    .unwrap();
    let bad = rejection(g.when(Command::CreateNamespace(cmd::CreateNamespace {
        name: name("other"),
        labels: label("lax"),
    })));
    assert_eq!(bad.fields[0].field, "labels.pod-security.orch/enforce");
    assert_eq!(g.state.pod_security("secure"), PodSecurityLevel::Restricted);
    assert_eq!(
        g.state.pod_security("default"),
        PodSecurityLevel::Privileged
    );
    let with = |ns: &str, n: &str, sc: Option<SecurityContext>, host: bool| {
        let mut c = deployment_in(ns, n, 1, 100);
        c.spec.template.security_context = sc;
        if host {
            c.spec.template.host_paths = vec![HostPath {
                name: "LOGS".into(),
                path: "/var/log".into(),
            }];
        }
        Command::CreateDeployment(c)
    };
    let root = Some(SecurityContext {
        run_as_user: Some(0),
        ..Default::default()
    });
    let privileged = Some(SecurityContext {
        privileged: true,
        ..Default::default()
    });
    let r = rejection(g.when(with("secure", "a", root, false)));
    assert_eq!(r.code, RejectionCode::PodSecurityViolation);
    assert_eq!(r.fields[0].field, "securityContext.runAsUser");
    assert!(
        r.message.contains("enforces pod security level restricted"),
        "{}",
        r.message
    );
    let r = rejection(g.when(with("secure", "b", privileged, true)));
    let fields: Vec<&str> = r.fields.iter().map(|f| f.field.as_str()).collect();
    assert_eq!(fields, ["securityContext.privileged", "hostPaths"]);
    g.apply(with("secure", "c", None, false)).unwrap();
    // The built-in default is privileged until labelled otherwise.
    g.apply(with("default", "d", privileged, true)).unwrap();
    g.apply(Command::UpdateNamespace(cmd::UpdateNamespace {
        name: name("default"),
        labels: label("baseline"),
    }))
    .unwrap();
    assert_eq!(
        rejection(g.when(with("default", "e", privileged, false))).code,
        RejectionCode::PodSecurityViolation
    );
    g.apply(with("default", "f", root, false)).unwrap(); // root is baseline's
    // Who the runtime runs pods as.
    let t = |sc: Option<SecurityContext>| {
        let mut t = deployment_spec("x", 1, 100, 64).template;
        t.security_context = sc;
        t
    };
    assert_eq!(
        effective_uid(PodSecurityLevel::Restricted, &t(None)),
        Some(UNPRIVILEGED_UID)
    );
    assert_eq!(
        effective_uid(PodSecurityLevel::Baseline, &t(None)),
        Some(UNPRIVILEGED_UID)
    );
    assert_eq!(effective_uid(PodSecurityLevel::Privileged, &t(None)), None);
    assert_eq!(
        effective_uid(
            PodSecurityLevel::Restricted,
            &t(Some(SecurityContext {
                run_as_user: Some(1000),
                ..Default::default()
            }))
        ),
        Some(1000)
    );
}
