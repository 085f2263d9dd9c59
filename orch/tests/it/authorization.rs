//! Authorization end to end: an authorization matrix of subjects (the
//! built-in roles bound in a namespace and cluster-wide, a custom cluster
//! role, a service account with a custom role, a subject with no binding)
//! × actions × namespaces against the real API, plus no, expired, revoked
//! and forged tokens; the expected status of every row comes from the
//! table below, not from the code under test. Then: a revocation on one API
//! instance refused by another within a second; the real actor on every
//! event; the history of a grant.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

/// What each subject may do, by action and namespace (`*`: any namespace).
/// Independent of the code under test: written from the roles' documentation.
const ALLOWED: &[(&str, &[&str])] = &[
    ("admin", &["*"]),
    (
        "vera",
        &["list@shop", "get@shop", "quota@shop", "events@shop"],
    ),
    (
        "ed",
        &[
            "list@shop",
            "get@shop",
            "quota@shop",
            "events@shop",
            "scale@shop",
            "create@shop",
        ],
    ),
    (
        "ada",
        &[
            "list@shop",
            "get@shop",
            "quota@shop",
            "events@shop",
            "scale@shop",
            "create@shop",
            "bind@shop",
        ],
    ),
    (
        "ops",
        &[
            "list@*", "get@*", "quota@*", "events@*", "scale@*", "nodes@*",
        ],
    ),
    (
        "system:serviceaccount:shop:ci",
        &["list@shop", "get@shop", "create@shop"],
    ),
    ("nobody", &[]),
];

const ACTIONS: &[&str] = &[
    "list", "get", "scale", "create", "quota", "setquota", "bind", "nodes", "mkns", "events",
];

fn allowed(subject: &str, action: &str, ns: &str) -> bool {
    let (_, rules) = ALLOWED.iter().find(|(s, _)| *s == subject).unwrap();
    rules
        .iter()
        .any(|r| *r == "*" || *r == format!("{action}@{ns}") || *r == format!("{action}@*"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorization_matrix_has_no_unauthorized_success_and_no_wrong_denial() {
    let c = Cluster::start(
        "authz",
        Options {
            nodes_per_zone: 1,
            ..Default::default()
        },
    )
    .await;
    for ns in ["shop", "lab"] {
        let (s, v) = c.post("/api/v1/namespaces", json!({"name": ns})).await;
        assert_eq!(s, 201, "{v}");
        let (s, v) = c
            .put(
                &format!("/api/v1/namespaces/{ns}/quota"),
                json!({"hard": {"pods": 100}}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut ids = std::collections::HashMap::new();
    for ns in ["shop", "lab"] {
        let mut d = deployment(&format!("{ns}-web"), 0, 100);
        d["namespace"] = json!(ns);
        let (s, v) = c.post("/api/v1/workloads/deployments", d).await;
        assert_eq!(s, 201, "{v}");
        ids.insert(ns, v["deploymentId"].as_str().unwrap().to_string());
    }
    // The subjects.
    let mut tokens = vec![("admin".to_string(), c.token.clone())];
    tokens.push((
        "vera".into(),
        c.user_token("vera", &[("viewer", Some("shop"))]).await,
    ));
    tokens.push((
        "ed".into(),
        c.user_token("ed", &[("editor", Some("shop"))]).await,
    ));
    tokens.push((
        "ada".into(),
        c.user_token("ada", &[("admin", Some("shop"))]).await,
    ));
    let (s, v) = c
        .put(
            "/api/v1/clusterroles/deployer",
            json!({"rules": [{"verbs": ["scale"], "resources": ["deployments"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    tokens.push((
        "ops".into(),
        c.user_token("ops", &[("viewer", None), ("deployer", None)])
            .await,
    ));
    tokens.push(("nobody".into(), c.user_token("nobody", &[]).await));
    let (s, v) = c
        .post(
            "/api/v1/namespaces/shop/serviceaccounts",
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/roles/ci-deployer",
            json!({"rules": [{"verbs": ["get", "list", "create"], "resources": ["deployments"]}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/rolebindings/ci",
            json!({"role": {"kind": "Role", "name": "ci-deployer"},
                   "subjects": [{"kind": "ServiceAccount", "namespace": "shop", "name": "ci"}]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/tokens",
            json!({"subject": "system:serviceaccount:shop:ci", "ttlSeconds": 600}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    tokens.push((
        "system:serviceaccount:shop:ci".into(),
        v["token"].as_str().unwrap().to_string(),
    ));

    // The bad tokens: an expired one, a revoked one, a forged one, none.
    let (s, v) = c
        .post(
            "/api/v1/tokens",
            json!({"subject": "vera", "ttlSeconds": 1}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let expired = v["token"].as_str().unwrap().to_string();
    let (s, v) = c.post("/api/v1/tokens", json!({"subject": "ed"})).await;
    assert_eq!(s, 201, "{v}");
    let revoked = v["token"].as_str().unwrap().to_string();
    let (s, v) = c
        .send_as(Some(&revoked), Method::DELETE, "/api/v1/auth/token", None)
        .await;
    assert_eq!(s, 200, "{v}");
    let forged = format!("orch_{}", uuid::Uuid::new_v4().simple());
    tokio::time::sleep(Duration::from_millis(1100)).await; // the 1 s token's life

    let request = |action: &str, ns: &str, n: usize| -> (Method, String, Option<Value>) {
        let id = &ids[ns];
        match action {
            "list" => (
                Method::GET,
                format!("/api/v1/workloads/deployments?namespace={ns}"),
                None,
            ),
            "get" => (
                Method::GET,
                format!("/api/v1/workloads/deployments/{id}"),
                None,
            ),
            "scale" => (
                Method::POST,
                format!("/api/v1/workloads/deployments/{id}/scale"),
                Some(json!({"replicas": 0})),
            ),
            "create" => {
                let mut d = deployment(&format!("m{n}"), 0, 100);
                d["namespace"] = json!(ns);
                (
                    Method::POST,
                    "/api/v1/workloads/deployments".into(),
                    Some(d),
                )
            }
            "quota" => (Method::GET, format!("/api/v1/namespaces/{ns}/quota"), None),
            "setquota" => (
                Method::PUT,
                format!("/api/v1/namespaces/{ns}/quota"),
                Some(json!({"hard": {"pods": 100}})),
            ),
            "bind" => (
                Method::PUT,
                format!("/api/v1/namespaces/{ns}/rolebindings/b{n}"),
                Some(json!({"role": {"kind": "ClusterRole", "name": "viewer"},
                            "subjects": [{"kind": "User", "name": "ghost"}]})),
            ),
            "nodes" => (Method::GET, "/api/v1/nodes".into(), None),
            "mkns" => (
                Method::POST,
                "/api/v1/namespaces".into(),
                Some(json!({"name": format!("ns{n}")})),
            ),
            "events" => (
                Method::GET,
                format!("/api/v1/events?namespace={ns}&limit=5"),
                None,
            ),
            other => unreachable!("{other}"),
        }
    };

    let (mut rows, mut unauthorized_successes, mut wrong_denials) = (0, Vec::new(), Vec::new());
    let mut n = 0;
    for (subject, token) in &tokens {
        for action in ACTIONS {
            for ns in ["shop", "lab"] {
                n += 1;
                let (method, path, body) = request(action, ns, n);
                let (status, v) = c.send_as(Some(token), method.clone(), &path, body).await;
                rows += 1;
                let expect = allowed(subject, action, ns);
                let row = format!("{subject} {action}@{ns}: {method} {path} → {status} {v}");
                match (expect, status) {
                    (true, 200..=299) => {}
                    (false, 403) => {
                        assert_eq!(v["error"]["code"], "FORBIDDEN", "{row}");
                        assert!(
                            v["error"]["message"].as_str().unwrap().contains("may not"),
                            "{row}"
                        );
                    }
                    (true, _) => wrong_denials.push(row),
                    (false, _) => unauthorized_successes.push(row),
                }
            }
        }
    }
    for (what, token) in [
        ("no", None),
        ("expired", Some(&expired)),
        ("revoked", Some(&revoked)),
        ("forged", Some(&forged)),
    ] {
        for action in ACTIONS {
            n += 1;
            let (method, path, body) = request(action, "shop", n);
            let (status, v) = c
                .send_as(token.map(|t| t.as_str()), method.clone(), &path, body)
                .await;
            rows += 1;
            if status != 401 || v["error"]["code"] != "UNAUTHENTICATED" {
                unauthorized_successes.push(format!(
                    "{what} token {action}: {method} {path} → {status} {v}"
                ));
            }
        }
    }
    println!(
        "authorization matrix: {rows} rows tried, {} unauthorized successes, {} wrong denials",
        unauthorized_successes.len(),
        wrong_denials.len()
    );
    assert!(
        unauthorized_successes.is_empty(),
        "unauthorized successes: {unauthorized_successes:#?}"
    );
    assert!(
        wrong_denials.is_empty(),
        "wrong denials: {wrong_denials:#?}"
    );
    assert!(rows >= 150, "{rows}");

    // The messages say why: expired and revoked tokens are told apart.
    let (_, v) = c
        .send_as(Some(&expired), Method::GET, "/api/v1/nodes", None)
        .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("expired"),
        "{v}"
    );
    let (_, v) = c
        .send_as(Some(&revoked), Method::GET, "/api/v1/nodes", None)
        .await;
    assert!(
        v["error"]["message"].as_str().unwrap().contains("revoked"),
        "{v}"
    );

    // The actor on every event is the real subject.
    let actors: BTreeSet<String> = sqlx::query_scalar(
        "SELECT DISTINCT actor FROM event_log WHERE event_type = 'DeploymentCreated'",
    )
    .fetch_all(&c.pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    for who in ["admin", "ed", "ada", "system:serviceaccount:shop:ci"] {
        assert!(
            actors.contains(who),
            "no deployment created as {who}: {actors:?}"
        );
    }
    assert!(
        !actors.contains("vera") && !actors.contains("nobody"),
        "{actors:?}"
    );
    // Nothing forbidden reached the log as a command: the API refused it first.
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM event_log WHERE event_type = 'CommandRejected' AND body->>'code' = 'FORBIDDEN'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_eq!(refused, 0);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_is_history_can_i_and_who_can_answer_and_nobody_escalates() {
    let c = Cluster::start(
        "grants",
        Options {
            nodes_per_zone: 1,
            ..Default::default()
        },
    )
    .await;
    let (s, v) = c.post("/api/v1/namespaces", json!({"name": "shop"})).await;
    assert_eq!(s, 201, "{v}");
    let bob = c.user_token("bob", &[]).await;
    let can = |token: String, q: &'static str| {
        let c = &c;
        async move {
            let (s, v) = c
                .send_as(
                    Some(&token),
                    Method::GET,
                    &format!("/api/v1/auth/can-i?{q}"),
                    None,
                )
                .await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    assert_eq!(
        can(
            bob.clone(),
            "verb=scale&resource=deployments&namespace=shop"
        )
        .await["allowed"],
        false
    );
    // The admin makes bob shop's admin, with a reason.
    let r = c
        .http
        .put(format!("{}/api/v1/namespaces/shop/rolebindings/bob-admin", c.api))
        .bearer_auth(&c.token)
        .header("x-change-reason", "bob runs the shop team")
        .json(&json!({"role": {"kind": "ClusterRole", "name": "admin"}, "subjects": [{"kind": "User", "name": "bob"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v = can(
        bob.clone(),
        "verb=scale&resource=deployments&namespace=shop",
    )
    .await;
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["binding"], "rolebinding/shop/bob-admin");
    // who-can: bob through his binding, admin through cluster-admin.
    let (s, v) = c
        .get("/api/v1/auth/who-can?verb=scale&resource=deployments&namespace=shop")
        .await;
    assert_eq!(s, 200, "{v}");
    let subjects = v["subjects"].as_array().unwrap();
    assert!(
        subjects
            .iter()
            .any(|x| x["name"] == "bob" && x["binding"] == "rolebinding/shop/bob-admin"),
        "{v}"
    );
    assert!(
        subjects
            .iter()
            .any(|x| x["name"] == "admin" && x["binding"] == "clusterrolebinding/cluster-admin"),
        "{v}"
    );
    // Bob may not make himself cluster-admin, nor grant cluster-admin in his namespace.
    let (s, v) = c
        .send_as(
            Some(&bob),
            Method::PUT,
            "/api/v1/namespaces/shop/rolebindings/root",
            Some(json!({"role": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "User", "name": "bob"}]})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("does not hold"),
        "{v}"
    );
    let (s, v) = c
        .send_as(
            Some(&bob),
            Method::PUT,
            "/api/v1/clusterrolebindings/root",
            Some(json!({"role": {"kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "User", "name": "bob"}]})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["error"]["details"]["resource"], "rolebindings", "{v}");
    // "Who made Bob an admin, and when": the history of grants, from the log.
    let row: (String, String, String, Option<String>) = eventually("the grant is projected", DEADLINE, || async {
        sqlx::query_as(
            "SELECT changed_by, change, role_name, reason FROM rbac_grant_history WHERE subject_name = 'bob'",
        )
        .fetch_optional(&c.pool)
        .await
        .ok()
        .flatten()
    })
    .await;
    assert_eq!(
        row,
        (
            "admin".into(),
            "granted".into(),
            "admin".into(),
            Some("bob runs the shop team".into())
        )
    );
    let (ok, out, err) = c.orch(&["history", "user/bob"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("RoleBindingSet")
            && out.contains("admin")
            && out.contains("bob runs the shop team"),
        "{out}"
    );
    // Bad input: 4xx with the field, never a 500.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/roles/r",
            json!({"rules": [{"verbs": ["fly"], "resources": ["pods"]}]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "rules[0].verbs[0]", "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/roles/r",
            json!({"rules": [{"verbs": ["get"], "resources": ["pods"], "extra": 1}]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/rolebindings/b",
            json!({"role": {"kind": "Role", "name": "missing"}, "subjects": [{"kind": "User", "name": "bob"}]}),
        )
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/shop/rolebindings/b",
            json!({"role": {"kind": "ClusterRole", "name": "viewer"}, "subjects": []}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/clusterrolebindings/cluster-admin",
            json!({"role": {"kind": "ClusterRole", "name": "viewer"}, "subjects": [{"kind": "User", "name": "bob"}]}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("BUILT_IN")),
        "{v}"
    );
    assert_eq!(c.delete("/api/v1/clusterroles/viewer").await, 403);
    let (s, v) = c.get("/api/v1/auth/can-i?verb=fly&resource=pods").await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c.get("/api/v1/clusterroles").await;
    assert_eq!(s, 200);
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for b in ["viewer", "editor", "admin", "cluster-admin"] {
        assert!(names.contains(&b), "{names:?}");
    }
    // The binding's end: bob loses the role at once, and history says so.
    assert_eq!(
        c.delete("/api/v1/namespaces/shop/rolebindings/bob-admin")
            .await,
        200
    );
    assert_eq!(
        can(
            bob.clone(),
            "verb=scale&resource=deployments&namespace=shop"
        )
        .await["allowed"],
        false
    );
    c.wait_count(
        "the revocation in the grant history",
        "SELECT count(*) FROM rbac_grant_history WHERE subject_name = 'bob' AND change = 'revoked'",
        1,
    )
    .await;
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_on_one_api_instance_is_refused_by_another_within_a_second() {
    let c = Cluster::start(
        "revoke",
        Options {
            nodes_per_zone: 1,
            processes: vec!["decider,projector,reconcilers,api", "api"],
            ..Default::default()
        },
    )
    .await;
    let (first, second) = (c.procs[0].value("API"), c.procs[1].value("API"));
    assert_ne!(first, second);
    let token = c.user_token("ruth", &[("viewer", None)]).await;
    let get = |api: String, token: String| {
        let http = c.http.clone();
        async move {
            http.get(format!("{api}/api/v1/nodes"))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The second instance learns of the token from the log too.
    eventually("the second API knows the new token", DEADLINE, || async {
        (get(second.clone(), token.clone()).await == 200).then_some(())
    })
    .await;
    let r = c
        .http
        .delete(format!("{first}/api/v1/auth/token"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let revoked_at = Instant::now();
    let mut took = None;
    while revoked_at.elapsed() < Duration::from_secs(5) {
        if get(second.clone(), token.clone()).await == 401 {
            took = Some(revoked_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = took.expect("the second API still accepts the revoked token after 5 s");
    println!("revocation reached the second API instance in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decider_holds_a_component_writing_the_log_directly_to_its_own_role() {
    use domain::command as cmd;
    use domain::{Command, CommandEnvelope};
    let c = Cluster::start(
        "direct",
        Options {
            nodes_per_zone: 1,
            ..Default::default()
        },
    )
    .await;
    let id = c.deploy_ready("web", 2, 100).await;
    let pods: Vec<(uuid::Uuid, uuid::Uuid, String)> = sqlx::query_as(
        "SELECT p.id, p.node_id, n.name FROM pod_instance p JOIN node_status n ON n.id = p.node_id
          WHERE p.workload_id = $1::uuid",
    )
    .bind(&id)
    .fetch_all(&c.pool)
    .await
    .unwrap();
    let (pod, node, node_name) = pods[0].clone();
    let other: String = sqlx::query_scalar("SELECT name FROM node_status WHERE id <> $1 LIMIT 1")
        .bind(node)
        .fetch_one(&c.pool)
        .await
        .unwrap();
    let bus = infra::kafka::CommandBus::new(&c.kafka()).unwrap();
    let fail = |actor: &str| {
        CommandEnvelope::new(
            uuid::Uuid::now_v7(),
            actor,
            None,
            Command::ReportPodFailed(cmd::ReportPodFailed {
                pod_id: domain::PodId(pod),
                node_id: domain::NodeId(node),
                reason: "forged".into(),
                exit_code: Some(1),
            }),
        )
    };
    // Another node's agent, a made-up user, and the scheduler (which binds, never reports).
    let forged = [
        fail(&format!("system:node-agent/{other}")),
        fail("mallory"),
        fail("system:scheduler"),
        CommandEnvelope::new(
            uuid::Uuid::now_v7(),
            format!("system:node-agent/{node_name}"),
            None,
            Command::CreateNamespace(cmd::CreateNamespace {
                name: domain::names::Name::parse("n", "agents-may-not").unwrap(),
                labels: Default::default(),
            }),
        ),
    ];
    bus.send_all(&forged).await.unwrap();
    for env in &forged {
        eprintln!(
            "waiting for the refusal of {} by {}",
            env.body.type_name(),
            env.actor
        );
        let (code, message): (String, String) =
            eventually("the forged command refused", DEADLINE, || async {
                sqlx::query_as(
                    "SELECT COALESCE(body->>'code', 'accepted: ' || event_type), COALESCE(body->>'message', '')
                   FROM event_log WHERE causation_id = $1 ORDER BY batch_index LIMIT 1",
                )
                .bind(env.command_id)
                .fetch_optional(&c.pool)
                .await
                .ok()
                .flatten()
            })
            .await;
        assert_eq!(code, "FORBIDDEN", "{} {message}", env.actor);
    }
    let (phase,): (String,) = sqlx::query_as("SELECT phase FROM pod_instance WHERE id = $1")
        .bind(pod)
        .fetch_one(&c.pool)
        .await
        .unwrap();
    assert_eq!(phase, "RUNNING", "a forged report changed the pod");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_service_accounts_and_tokens_have_a_life_of_their_own_and_the_cli_asks_about_them() {
    let c = Cluster::start(
        "idents",
        Options {
            nodes_per_zone: 1,
            ..Default::default()
        },
    )
    .await;
    let (s, v) = c
        .post(
            "/api/v1/users",
            json!({"name": "sam@example.com", "groups": ["ops"]}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .post("/api/v1/users", json!({"name": "system:root"}))
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["error"]["fields"][0]["field"], "name", "{v}");
    let (s, v) = c
        .post(
            "/api/v1/users",
            json!({"name": "x", "groups": ["system:masters"]}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c
        .post("/api/v1/users", json!({"name": "sam@example.com"}))
        .await;
    assert_eq!(s, 409, "{v}");
    // A user's token lives 24 h unless asked otherwise; the token is never listed.
    let (s, v) = c
        .post("/api/v1/tokens", json!({"subject": "sam@example.com"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let sam = v["token"].as_str().unwrap().to_string();
    let expires: chrono::DateTime<chrono::Utc> = v["expiresAt"].as_str().unwrap().parse().unwrap();
    let left = expires - chrono::Utc::now();
    assert!(
        left > chrono::Duration::hours(23) && left <= chrono::Duration::hours(24),
        "{left}"
    );
    let (s, v) = c
        .post("/api/v1/tokens", json!({"subject": "nobody-here"}))
        .await;
    assert_eq!(s, 404, "{v}");
    let (s, v) = c.post("/api/v1/tokens", json!({"ttlSeconds": 0})).await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c
        .send_as(Some(&sam), Method::GET, "/api/v1/tokens", None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        1,
        "sam sees only its own: {v}"
    );
    assert!(
        !v.to_string().contains(&sam),
        "a listing shows a token: {v}"
    );
    // Sam mints one for himself, but not for anyone else.
    let (s, v) = c
        .send_as(
            Some(&sam),
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"ttlSeconds": 60})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .send_as(
            Some(&sam),
            Method::POST,
            "/api/v1/tokens",
            Some(json!({"subject": "admin"})),
        )
        .await;
    assert_eq!(s, 403, "{v}");
    // The CLI: whoami, can-i (exit 1 for no), who-can.
    let run = |token: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_orch"))
            .args(args)
            .env("ORCH_API", &c.api)
            .env("ORCH_TOKEN", token)
            .env("ORCH_CLI_STATE", c.data_dir().join("cli-state.json"))
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, out) = run(&sam, &["auth", "whoami"]);
    assert!(
        ok && out.contains("sam@example.com (User)") && out.contains("ops"),
        "{out}"
    );
    let (ok, out) = run(&sam, &["auth", "can-i", "delete", "pods", "-n", "default"]);
    assert!(!ok && out.trim() == "no", "{out}");
    let (ok, out) = run(
        &c.token,
        &["auth", "can-i", "delete", "pods", "-n", "default"],
    );
    assert!(
        ok && out.contains("clusterrolebinding/cluster-admin"),
        "{out}"
    );
    let (ok, out) = run(
        &c.token,
        &["auth", "who-can", "create", "pods/binding", "-n", "default"],
    );
    assert!(
        ok && out.contains("system:scheduler") && out.contains("admin"),
        "{out}"
    );
    // A service account: created, given a token, deleted with its tokens.
    let (s, v) = c
        .post(
            "/api/v1/namespaces/default/serviceaccounts",
            json!({"name": "ci"}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["actor"], "system:serviceaccount:default:ci");
    let (ok, token) = run(
        &c.token,
        &[
            "token",
            "create",
            "--subject",
            "system:serviceaccount:default:ci",
        ],
    );
    assert!(ok, "{token}");
    let ci = token.trim().to_string();
    let (s, v) = c
        .send_as(Some(&ci), Method::GET, "/api/v1/auth/whoami", None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(
        v["groups"]
            .as_array()
            .unwrap()
            .contains(&json!("system:serviceaccounts:default")),
        "{v}"
    );
    let status = c
        .delete("/api/v1/namespaces/default/serviceaccounts/ci")
        .await;
    assert_eq!(status, 200);
    let (s, v) = c
        .send_as(Some(&ci), Method::GET, "/api/v1/auth/whoami", None)
        .await;
    assert_eq!(s, 401, "{v}");
    // Deleting the user takes its tokens along; admin cannot be deleted.
    assert_eq!(c.delete("/api/v1/users/sam@example.com").await, 200);
    let (s, _) = c
        .send_as(Some(&sam), Method::GET, "/api/v1/auth/whoami", None)
        .await;
    assert_eq!(s, 401);
    assert_eq!(c.delete("/api/v1/users/admin").await, 403);
    let (s, v) = c.get("/api/v1/users").await;
    assert_eq!(s, 200);
    assert_eq!(v["items"][0]["name"], "admin", "{v}");
    c.finish().await;
}
