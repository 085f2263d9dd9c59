//! Secrets end to end: a secret with a random canary value is created,
//! given to a real pod (as a variable and as a file; the pod prints only
//! hashes), read back by whoever may (`read-secrets`) and refused to a
//! viewer, changed, its key-encryption key rotated (the CLI, with
//! progress) and a new pod opened with the new key, then deleted. Then
//! both canaries are searched for in every record of every topic of the
//! cluster, in a `pg_dump` of its database and in every log file: 0 hits.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sha2::Digest;

use crate::support::*;

fn sha256(s: &str) -> String {
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Every key and value of every record of every topic of the cluster.
fn everything_in_the_log(brokers: &str, prefix: &str) -> (usize, Vec<u8>) {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{ClientConfig, Message, Offset, TopicPartitionList};
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", format!("canary-{}", uuid::Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .create()
        .expect("a consumer");
    let t = Duration::from_secs(10);
    let md = c.fetch_metadata(None, t).expect("the broker's topics");
    let (mut records, mut all) = (0, Vec::new());
    let topics: Vec<_> = md
        .topics()
        .iter()
        .filter(|x| x.name().starts_with(prefix))
        .collect();
    assert!(topics.len() >= 2, "the cluster's topics: {}", topics.len());
    for topic in topics {
        for p in topic.partitions() {
            let (low, high) = c.fetch_watermarks(topic.name(), p.id(), t).unwrap();
            if high <= low {
                continue;
            }
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset(topic.name(), p.id(), Offset::Offset(low))
                .unwrap();
            c.assign(&tpl).unwrap();
            let (mut next, end) = (low, std::time::Instant::now() + Duration::from_secs(60));
            while next < high && std::time::Instant::now() < end {
                if let Some(Ok(m)) = c.poll(Duration::from_millis(500)) {
                    all.extend_from_slice(m.key().unwrap_or_default());
                    all.extend_from_slice(m.payload().unwrap_or_default());
                    next = m.offset() + 1;
                    records += 1;
                }
            }
            assert!(
                next >= high,
                "read {} [{}] to {next} of {high}",
                topic.name(),
                p.id()
            );
        }
    }
    (records, all)
}

fn hits(haystack: &[u8], needle: &str) -> usize {
    let n = needle.as_bytes();
    haystack.windows(n.len()).filter(|w| *w == n).count()
}

/// A pod of `deployment` not in `not` whose log holds `want`, and that log.
async fn pod_log_with(
    c: &Cluster,
    deployment: &str,
    not: &[String],
    want: &str,
) -> (String, String) {
    eventually(
        &format!("a pod of {deployment} prints {want}"),
        DEADLINE,
        || async {
            c.pod_logs(deployment, "")
                .await
                .into_iter()
                .find(|(id, text)| !not.contains(id) && text.contains(want))
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_reaches_its_pod_and_nowhere_else() {
    let c = Cluster::start(
        "secrets",
        Options {
            runtime: "process",
            ..Default::default()
        },
    )
    .await;
    let canary = format!("canary-{}", uuid::Uuid::new_v4().simple());
    let canary2 = format!("canary-{}", uuid::Uuid::new_v4().simple());

    // Bad input: clear errors that never quote a value.
    for (body, field) in [
        (
            json!({"name": "db", "stringData": {"password": 918273645}}),
            "stringData.password",
        ),
        (
            json!({"name": "db", "data": {"password": "not base64!"}}),
            "data.password",
        ),
        (
            json!({"name": "db", "stringData": {"bad/key": "x918273645"}}),
            "stringData.bad/key",
        ),
        (json!({"stringData": {"k": "x918273645"}}), "name"),
        (
            json!({"name": "db", "stringData": {"k": "x918273645"}, "data": {"k": "eDkxODI3MzY0NQ=="}}),
            "data.k",
        ),
        (json!({"name": "db"}), "stringData"),
    ] {
        let (s, v) = c
            .post("/api/v1/namespaces/default/secrets", body.clone())
            .await;
        assert_eq!(s, 422, "{body}: {v}");
        assert_eq!(v["error"]["fields"][0]["field"], field, "{body}: {v}");
        assert!(
            !v.to_string().contains("918273645"),
            "a value in an error: {v}"
        );
    }
    let (s, v) = c
        .post(
            "/api/v1/namespaces/nowhere/secrets",
            json!({"name": "db", "stringData": {"k": "v"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NAMESPACE_NOT_FOUND")),
        "{v}"
    );

    // Created: the answer and the metadata name keys, never values.
    let (s, v) = c
        .post(
            "/api/v1/namespaces/default/secrets",
            json!({"name": "db", "stringData": {"password": canary, "user": "app"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(
        (v["version"].as_u64(), v["keyId"].as_str()),
        (Some(1), Some("k1")),
        "{v}"
    );
    assert!(!v.to_string().contains(&canary));
    let (s, v) = c
        .post(
            "/api/v1/namespaces/default/secrets",
            json!({"name": "db", "stringData": {"k": "v"}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("ALREADY_EXISTS")),
        "{v}"
    );
    let (s, v) = c.get("/api/v1/namespaces/default/secrets/db/data").await;
    assert_eq!(
        (s, v["stringData"]["password"].as_str()),
        (200, Some(canary.as_str())),
        "{v}"
    );

    // A viewer sees that it exists, not what it holds.
    let vic = c.user_token("vic", &[("viewer", Some("default"))]).await;
    let (s, v) = c
        .send_as(
            Some(&vic),
            Method::GET,
            "/api/v1/namespaces/default/secrets/db",
            None,
        )
        .await;
    assert_eq!(
        (s, v["keys"].clone()),
        (200, json!(["password", "user"])),
        "{v}"
    );
    let (s, v) = c
        .send_as(
            Some(&vic),
            Method::GET,
            "/api/v1/namespaces/default/secrets/db/data",
            None,
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{v}"
    );
    assert_eq!(v["error"]["details"]["verb"], "read-secrets", "{v}");

    // A pod given it as a variable and as files prints hashes and the mode.
    let script = r#"printf %s "$DB_PASSWORD" | sha256sum; sha256sum "$SECRET_DIR_DB/password"; stat -c 'mode=%a' "$SECRET_DIR_DB/password"; echo "dir=$SECRET_DIR_DB"; exec sleep 600"#;
    let dep = json!({"namespace": "default", "name": "app", "image": "busybox:1.36", "replicas": 1,
        "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
        "command": ["/bin/sh", "-c", script],
        "secretEnv": [{"name": "DB_PASSWORD", "secret": "db", "key": "password"}],
        "secretFiles": [{"name": "DB", "secret": "db"}]});
    let mut typo = dep.clone();
    typo["secretEnv"][0]["key"] = json!("pasword");
    let (s, v) = c.post("/api/v1/workloads/deployments", typo).await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("secretEnv[0].key")),
        "{v}"
    );
    let (s, v) = c.post("/api/v1/workloads/deployments", dep).await;
    assert_eq!(s, 201, "{v}");
    let id = v["deploymentId"].as_str().unwrap().to_string();
    let hash = sha256(&canary);
    let (pod1, log) = pod_log_with(&c, &id, &[], "mode=").await;
    assert_eq!(hits(log.as_bytes(), &hash), 2, "the pod's log:\n{log}");
    assert!(log.contains("mode=400"), "{log}");
    let dir = log
        .lines()
        .find_map(|l| l.strip_prefix("dir="))
        .expect("the pod names its secret directory")
        .to_string();
    assert!(
        dir.starts_with(&c.secret_dir().display().to_string()),
        "{dir}"
    );

    // A new value: history says which key changed, never what to.
    let (s, v) = c
        .put(
            "/api/v1/namespaces/default/secrets/db",
            json!({"stringData": {"password": canary2, "user": "app"}}),
        )
        .await;
    assert_eq!(
        (s, v["status"].as_str(), v["version"].as_u64()),
        (200, Some("UPDATED"), Some(2)),
        "{v}"
    );
    let (ok, out, err) = c.orch(&["history", "secret/default/db"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("created, version 1: added password, user"),
        "{out}"
    );
    assert!(
        out.contains("set, version 2: value changed: password"),
        "{out}"
    );

    // Rotation: a new key appended to the ring; the CLI shows progress.
    let ring = c.data_dir().join("secret-keys");
    let mut text = std::fs::read_to_string(&ring).unwrap();
    text.push_str(&format!("{}\n", infra::keyring::generate_line("k2")));
    std::fs::write(&ring, text).unwrap();
    let (ok, out, err) = c.orch(&["secrets", "rotate-key"]).await;
    assert!(ok, "rotate-key: {out}\n{err}");
    assert!(
        out.contains("completed: 1 data key(s) now wrapped under 'k2'"),
        "{out}"
    );
    c.wait_count(
        "the projection shows the secret under k2",
        "SELECT count(*) FROM secrets WHERE name = 'db' AND key_id = 'k2'",
        1,
    )
    .await;
    c.wait_count(
        "the rotation recorded complete",
        "SELECT count(*) FROM secret_key_rotations WHERE to_key = 'k2' AND completed_at IS NOT NULL AND rewrapped = 1",
        1,
    )
    .await;
    let (s, v) = c.get("/api/v1/namespaces/default/secrets/db/data").await;
    assert_eq!(
        (s, v["stringData"]["password"].as_str()),
        (200, Some(canary2.as_str())),
        "{v}"
    );
    // A new pod is opened with k2 (the agent re-reads its ring).
    let (s, v) = c
        .post(
            &format!("/api/v1/workloads/deployments/{id}/scale"),
            json!({"replicas": 2}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let (_, log) = pod_log_with(&c, &id, std::slice::from_ref(&pod1), "mode=").await;
    assert_eq!(hits(log.as_bytes(), &sha256(&canary2)), 2, "{log}");

    // Gone: the pods stop and their secret files go with them.
    assert_eq!(
        c.delete(&format!("/api/v1/workloads/deployments/{id}"))
            .await,
        200
    );
    assert_eq!(c.delete("/api/v1/namespaces/default/secrets/db").await, 200);
    let pods_dir = std::path::PathBuf::from(&dir)
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    eventually("every pod's secret files are removed", DEADLINE, || async {
        let left = std::fs::read_dir(&pods_dir).map(|d| d.count()).unwrap_or(0);
        (left == 0).then_some(())
    })
    .await;
    let (s, _) = c.get("/api/v1/namespaces/default/secrets/db").await;
    assert_eq!(s, 404);

    // Nowhere else: the log, the database, the logs.
    let (brokers, prefix) = (c.brokers.clone(), c.prefix.clone());
    let (records, log_bytes) =
        tokio::task::spawn_blocking(move || everything_in_the_log(&brokers, &prefix))
            .await
            .unwrap();
    assert!(records > 20, "read {records} records");
    assert!(
        hits(&log_bytes, "SecretSet") >= 2,
        "the secret's own events are in what was read"
    );
    let dump = match tokio::process::Command::new("pg_dump")
        .arg(&c.database_url)
        .output()
        .await
    {
        Ok(o) if o.status.success() => Some(o.stdout),
        Ok(o) => panic!("pg_dump failed: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => {
            eprintln!("SKIP (database part): pg_dump cannot run here: {e}");
            None
        }
    };
    if let Some(d) = &dump {
        assert!(hits(d, "key_rotations") > 0, "the dump holds the tables");
    }
    let files = c.log_files();
    assert!(files.len() >= 3, "log files: {files:?}");
    let logs: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap_or_default())
        .collect();
    for secret in [&canary, &canary2] {
        assert_eq!(hits(&log_bytes, secret), 0, "in the log");
        if let Some(d) = &dump {
            assert_eq!(hits(d, secret), 0, "in the database");
        }
        assert_eq!(hits(&logs, secret), 0, "in a log file");
    }
    eprintln!(
        "canary search: {records} records, {} bytes of dump, {} log files ({} bytes): 0 hits",
        dump.as_ref().map_or(0, Vec::len),
        files.len(),
        logs.len()
    );
    c.finish().await;
}
