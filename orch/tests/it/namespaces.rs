//! Namespaces and quotas end to end: the design document's story (a test
//! team fills its quota, its next deployment is refused, prod still
//! deploys), a race of concurrent creates that cannot overshoot the quota
//! because the decider is the single writer, and a namespace deleted with
//! everything in it and brought back in one step.

use serde_json::{Value, json};

use crate::support::*;

fn deployment_in(ns: &str, name: &str, replicas: i64) -> Value {
    let mut d = deployment(name, replicas, 100);
    d["namespace"] = json!(ns);
    d
}

/// `n` concurrent POSTs of `bodies` to `path`: each answer's status and body.
async fn concurrently(c: &Cluster, path: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let mut set = tokio::task::JoinSet::new();
    for body in bodies {
        let (http, url, token) = (c.http.clone(), format!("{}{path}", c.api), c.token.clone());
        set.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let s = r.status().as_u16();
            (s, r.json::<Value>().await.unwrap_or(Value::Null))
        });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_quota_refuses_the_test_team_exactly_at_its_limit_while_prod_deploys() {
    let c = Cluster::start("quota", Options::default()).await;
    // Namespaces are objects: created, listed, refused when missing or taken.
    for ns in ["prod", "test"] {
        let (s, v) = c
            .post(
                "/api/v1/namespaces",
                json!({"name": ns, "labels": {"team": ns}}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, v) = c.post("/api/v1/namespaces", json!({"name": "test"})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("ALREADY_EXISTS")),
        "{v}"
    );
    let (s, v) = c
        .post("/api/v1/namespaces", json!({"name": "Not_A_Name"}))
        .await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("name")),
        "{v}"
    );
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment_in("tset", "web", 1),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NAMESPACE_NOT_FOUND")),
        "{v}"
    );
    let (_, list) = c.get("/api/v1/namespaces").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "orch-system", "prod", "test"], "{list}");

    // Bad quotas are refused field by field.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/test/quota",
            json!({"hard": {"pods": -1}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("hard.pods")),
        "{v}"
    );
    let (s, v) = c
        .put(
            "/api/v1/namespaces/test/quota",
            json!({"hard": {"gpus": 1}}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let (s, v) = c
        .put(
            "/api/v1/namespaces/test/quota",
            json!({"hard": {"pods": 10, "requestsCpuMilli": 5000}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["used"]["pods"], 0, "{v}");

    // The race: 50 creates at once against room for 10 pods.
    let bodies = (0..50)
        .map(|i| deployment_in("test", &format!("w{i}"), 1))
        .collect();
    let answers = concurrently(&c, "/api/v1/workloads/deployments", bodies).await;
    let accepted = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 403)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(accepted, 10, "{answers:?}");
    assert_eq!(refused.len(), 40, "{answers:?}");
    for v in &refused {
        let e = &v["error"];
        assert_eq!(e["code"], "QUOTA_EXCEEDED", "{v}");
        assert_eq!(
            (
                &e["details"]["resource"],
                &e["details"]["used"],
                &e["details"]["requested"],
                &e["details"]["hard"]
            ),
            (&json!("pods"), &json!(10), &json!(1), &json!(10)),
            "{v}"
        );
        assert!(
            e["message"].as_str().unwrap().contains("namespace 'test'"),
            "{v}"
        );
    }
    // Scale-ups race too: none of them may take the namespace past 10.
    // (The ten created were answered by the decider; the list is a projection.)
    let ids: Vec<String> = eventually("the ten are listed", DEADLINE, || async {
        let (_, list) = c.get("/api/v1/workloads/deployments").await;
        let ids: Vec<String> = list["items"]
            .as_array()?
            .iter()
            .filter(|d| d["namespace"] == "test")
            .map(|d| d["deploymentId"].as_str().unwrap().to_string())
            .collect();
        (ids.len() == 10).then_some(ids)
    })
    .await;
    for id in &ids[..3] {
        assert_eq!(
            c.delete(&format!("/api/v1/workloads/deployments/{id}"))
                .await,
            200
        );
    }
    let mut set = tokio::task::JoinSet::new();
    for (i, id) in ids[3..].iter().enumerate() {
        let (http, url, token) = (
            c.http.clone(),
            format!("{}/api/v1/workloads/deployments/{id}/scale", c.api),
            c.token.clone(),
        );
        set.spawn(async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&json!({"replicas": 2 + (i % 3)}))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), 2 + (i % 3) as i64)
        });
    }
    let mut scaled = Vec::new();
    while let Some(s) = set.join_next().await {
        scaled.push(s.unwrap());
    }
    assert!(
        scaled.iter().all(|(s, _)| *s == 200 || *s == 403),
        "{scaled:?}"
    );
    assert!(
        scaled.iter().any(|(s, _)| *s == 200) && scaled.iter().any(|(s, _)| *s == 403),
        "{scaled:?}"
    );
    // What the answers say the namespace commits: each accepted scale's
    // replicas, 1 for each refused one.
    let expected: i64 = scaled
        .iter()
        .map(|(s, r)| if *s == 200 { *r } else { 1 })
        .sum();
    assert!(
        expected <= 10,
        "{expected} replicas accepted under a 10-pod quota: {scaled:?}"
    );
    // The quota's read: used vs hard, as the namespace controller recorded
    // it, equal to the replicas the projection shows (both settle).
    let (quota, committed) = eventually("the usage is recorded", DEADLINE, || async {
        let committed: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(desired_replicas), 0)::int8 FROM workload_def WHERE namespace = 'test'",
        )
        .fetch_one(&c.pool)
        .await
        .ok()?;
        let (s, v) = c.get("/api/v1/namespaces/test/quota").await;
        (s == 200 && committed == expected && v["used"]["pods"] == json!(committed))
            .then_some((v, committed))
    })
    .await;
    assert_eq!(quota["hard"]["pods"], 10, "{quota}");
    assert_eq!(quota["remaining"]["pods"], json!(10 - committed), "{quota}");
    // Never above hard, at any recorded moment (the BI view).
    let max_used: i64 = sqlx::query_scalar(
        "SELECT max(pods_used) FROM quota_usage_history WHERE namespace = 'test'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert!(max_used <= 10, "{max_used}");

    // The story: test is full, so its next deployment is refused; prod deploys.
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment_in("test", "more", 10),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("QUOTA_EXCEEDED")),
        "{v}"
    );
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment_in("prod", "checkout", 10),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    // prod's limit range: a pod that leaves its resources out gets the
    // defaults (in the event and the projection), one beyond max is refused.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/prod/limitrange",
            json!({"defaultRequest": {"cpuMilli": 150, "memoryMb": 96}, "defaultLimit": {"cpuMilli": 300},
                   "max": {"cpuMilli": 1000}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut bare = deployment_in("prod", "bare", 1);
    bare.as_object_mut().unwrap().remove("resources");
    let (s, v) = c.post("/api/v1/workloads/deployments", bare).await;
    assert_eq!(s, 201, "{v}");
    c.wait_count(
        "bare's resources are the defaults",
        "SELECT count(*) FROM workload_def WHERE name = 'bare' AND cpu_request_milli = 150 AND cpu_limit_milli = 300 AND mem_request_mb = 96 AND mem_limit_mb = 96",
        1,
    )
    .await;
    let mut big = deployment_in("prod", "big", 1);
    big["resources"] = json!({"cpuRequestMilli": 2000, "memRequestMb": 64});
    let (s, v) = c.post("/api/v1/workloads/deployments", big).await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("resources.cpuRequestMilli")),
        "{v}"
    );
    let (s, v) = c.get("/api/v1/namespaces/prod/limitrange").await;
    assert_eq!(
        (s, &v["spec"]["defaultRequest"]["cpuMilli"]),
        (200, &json!(150)),
        "{v}"
    );
    // Refusals are facts: who was refused, for which resource.
    let refusals: i64 = sqlx::query_scalar(
        "SELECT COALESCE(sum(refusals), 0)::int8 FROM quota_refusals_hourly WHERE namespace = 'test' AND resource = 'pods'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert!(refusals >= 41, "{refusals}");
    // `orch explain namespace` says what is used, what is left and who was refused.
    let (ok, out, err) = c.orch(&["explain", "namespace", "test"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("QUOTA (usage as recorded"), "{out}");
    assert!(
        out.lines().any(|l| l.split_whitespace().collect::<Vec<_>>()
            == [
                "pods",
                &committed.to_string(),
                "10",
                &(10 - committed).to_string()
            ]),
        "{out}"
    );
    assert!(
        out.contains(
            "CreateDeployment by admin: QUOTA_EXCEEDED exceeded quota in namespace 'test'"
        ),
        "{out}"
    );
    // And who set the quota, in the quota's history.
    let (_, h) = c
        .get("/api/v1/events?kind=resourcequota&namespace=test")
        .await;
    let set_by = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "ResourceQuotaSet")
        .map(|e| e["actor"].clone());
    assert_eq!(set_by, Some(json!("admin")), "{h}");
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_namespace_takes_its_objects_with_it_and_comes_back_with_them() {
    let c = Cluster::start("nsdel", Options::default()).await;
    let (s, v) = c.post("/api/v1/namespaces", json!({"name": "shop"})).await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment_in("shop", "web", 2),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let web = v["deploymentId"].as_str().unwrap().to_string();
    let (s, v) = c
        .post(
            "/api/v1/services",
            json!({"namespace": "shop", "name": "web", "selector": {"app": "web"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let live = "SELECT count(*) FROM pod_instance WHERE namespace = 'shop' AND phase = 'RUNNING'";
    c.wait_count("2 pods run in shop", live, 2).await;
    let (s, v) = c.get("/api/v1/namespaces/shop").await;
    assert_eq!((s, v["objects"].as_i64()), (200, Some(2)), "{v}");

    // Built-ins stay.
    let r = c
        .http
        .delete(format!("{}/api/v1/namespaces/default", c.api))
        .bearer_auth(&c.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "NAMESPACE_PROTECTED", "{v}");

    let r = c
        .http
        .delete(format!("{}/api/v1/namespaces/shop", c.api))
        .bearer_auth(&c.token)
        .header("x-change-reason", "team disbanded")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["objects"].as_array().map(Vec::len), Some(2), "{v}");
    // Nothing new goes in while it is deleted.
    let (s, v) = c
        .post(
            "/api/v1/workloads/deployments",
            deployment_in("shop", "api", 1),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("NAMESPACE_TERMINATING")),
        "{v}"
    );
    c.wait_count(
        "shop's pods are gone",
        "SELECT count(*) FROM pod_instance WHERE namespace = 'shop'",
        0,
    )
    .await;
    c.wait_count(
        "shop's objects are gone",
        "SELECT (SELECT count(*) FROM workload_def WHERE namespace = 'shop') + (SELECT count(*) FROM service WHERE namespace = 'shop')",
        0,
    )
    .await;
    let (_, v) = c.get("/api/v1/namespaces/shop").await;
    assert_eq!(v["status"], "Deleted", "{v}");
    // Each object went by its own delete, by the namespace controller, for
    // the request that deleted the namespace.
    let (actor, reason, correlated): (String, Option<String>, bool) = sqlx::query_as(
        "SELECT d.actor, d.reason, d.correlation_id = n.correlation_id
           FROM event_log d, event_log n
          WHERE d.event_type = 'DeploymentDeleted' AND n.event_type = 'NamespaceDeleted'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_eq!(actor, "system:controller");
    assert!(
        reason
            .as_deref()
            .unwrap_or("")
            .contains("namespace shop was deleted"),
        "{reason:?}"
    );
    assert!(correlated, "the deletion links back to the namespace's");
    let (who, why): (String, Option<String>) =
        sqlx::query_as("SELECT actor, reason FROM event_log WHERE event_type = 'NamespaceDeleted'")
            .fetch_one(&c.pool)
            .await
            .unwrap();
    assert_eq!(
        (who.as_str(), why.as_deref()),
        ("admin", Some("team disbanded"))
    );

    // Undelete: the namespace and everything it held, in one step.
    // (Through the CLI, which asks POST /api/v1/namespaces/shop/undelete.)
    let (ok, out, err) = c.orch(&["undelete", "namespace/shop"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("restored namespace shop with deployment web, service web"),
        "{out}"
    );
    let (s, v) = c
        .post("/api/v1/namespaces/shop/undelete", json!(null))
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "not deleted any more: {v}"
    );
    c.wait_count("2 pods run in shop again", live, 2).await;
    let (s, v) = c.get(&format!("/api/v1/workloads/deployments/{web}")).await;
    assert_eq!(s, 200, "the same deployment, by its id: {v}");
    let (_, v) = c.get("/api/v1/namespaces/shop").await;
    assert_eq!(
        (v["status"].as_str(), v["objects"].as_i64()),
        (Some("Active"), Some(2)),
        "{v}"
    );
    // Its history tells the whole story.
    let (ok, out, err) = c.orch(&["history", "namespace/shop"]).await;
    assert!(ok, "{err}");
    for line in [
        "namespace shop created",
        "deleted with 2 object(s)",
        "restored with deployment web, service web",
    ] {
        assert!(out.contains(line), "{line:?} not in:\n{out}");
    }
    c.finish().await;
}

/// Whether this test process (and so the agent it starts) is root: only
/// root can start a container as another user.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_namespace_runs_its_pods_as_a_non_root_user_and_refuses_privileged_ones() {
    if !running_as_root() {
        eprintln!(
            "SKIP: the agent must run as root to start containers as another user; this test does not"
        );
        return;
    }
    let c = Cluster::start(
        "podsec",
        Options {
            runtime: "process",
            ..Default::default()
        },
    )
    .await;
    let (s, v) = c
        .post(
            "/api/v1/namespaces",
            json!({"name": "secure", "labels": {"pod-security.orch/enforce": "restricted"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = c
        .post(
            "/api/v1/namespaces",
            json!({"name": "lax", "labels": {"pod-security.orch/enforce": "sloppy"}}),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let shell = |ns: &str, name: &str| {
        json!({"namespace": ns, "name": name, "image": "busybox:1.36", "replicas": 1,
               "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
               "command": ["/bin/sh", "-c", "grep '^Uid:' /proc/self/status; exec sleep 600"]})
    };
    // Asking for more than restricted allows is refused, with the rule.
    let mut privileged = shell("secure", "root");
    privileged["securityContext"] = json!({"privileged": true, "runAsUser": 0});
    let (s, v) = c.post("/api/v1/workloads/deployments", privileged).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("POD_SECURITY_VIOLATION")),
        "{v}"
    );
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["securityContext.privileged", "securityContext.runAsUser"],
        "{v}"
    );
    let mut host = shell("secure", "host");
    host["hostPaths"] = json!([{"name": "ETC", "path": "/etc"}]);
    let (s, v) = c.post("/api/v1/workloads/deployments", host).await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("hostPaths")),
        "{v}"
    );

    // What it allows runs, as uid 65534 (read by the container from /proc);
    // the same pod in `default` (privileged) runs as root.
    let mut uids = Vec::new();
    for ns in ["secure", "default"] {
        let (s, v) = c
            .post("/api/v1/workloads/deployments", shell(ns, "whoami"))
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["deploymentId"].as_str().unwrap().to_string();
        let line = eventually("the pod prints its uid", DEADLINE, || async {
            let (_, text) = c.pod_logs(&id, "").await.into_iter().next()?;
            text.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(str::to_string)
        })
        .await;
        uids.push(line.split_whitespace().nth(1).unwrap().to_string());
    }
    assert_eq!(uids, ["65534", "0"]);
    // Labelling a built-in changes what it admits from then on.
    let (s, v) = c
        .patch(
            "/api/v1/namespaces/default",
            json!({"labels": {"pod-security.orch/enforce": "baseline"}}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let mut p = shell("default", "priv");
    p["securityContext"] = json!({"privileged": true});
    let (s, v) = c.post("/api/v1/workloads/deployments", p).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("POD_SECURITY_VIOLATION")),
        "{v}"
    );
    let (_, v) = c.get("/api/v1/namespaces/default").await;
    assert_eq!(
        (
            v["builtIn"].as_bool(),
            &v["labels"]["pod-security.orch/enforce"]
        ),
        (Some(true), &json!("baseline")),
        "{v}"
    );
    c.finish().await;
}
