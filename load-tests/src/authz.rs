//! What authorization costs: two APIs in one process over the same control
//! plane, one checking RBAC and one not (`authorize: false`; the decider
//! authorizes every command in both), driven in alternating rounds by the
//! same client with the same requests, as a namespace editor whose grant is
//! found among `--bindings` other bindings: a read of its deployment, a
//! list of its namespace, and a scale (through the decider). Prints p50/p99
//! of each API, the ratio, and the pure `authorize::command` cost per
//! command, with this run's raw broker rate.
//!
//! `KAFKA_BROKERS=127.0.0.1:9092 cargo run --release -p load-tests --bin authz -- --requests 3000`

use std::time::{Duration, Instant};

use clap::Parser;
use domain::command as cmd;
use load_tests::Plane;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    conn: load_tests::Conn,
    /// Requests per API (a third each: read, list, scale).
    #[arg(long, default_value_t = 3000)]
    requests: u32,
    /// Bindings of other users in the namespace, searched on every check.
    #[arg(long, default_value_t = 200)]
    bindings: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long, default_value_t = 6)]
    nodes: u32,
    #[arg(long, default_value_t = 50_000)]
    raw_records: u32,
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    v.sort_unstable();
    if v.is_empty() {
        return 0.0;
    }
    v[((v.len() as f64 - 1.0) * p).round() as usize] as f64 / 1000.0
}

/// `n` requests against `api` as `token`, `concurrency` at a time; latencies in µs.
async fn drive(
    api: &str,
    token: &str,
    id: &str,
    ns: &str,
    n: u32,
    concurrency: usize,
) -> anyhow::Result<Vec<u64>> {
    let http = reqwest::Client::new();
    let mut lat = Vec::with_capacity(n as usize);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..n {
        if set.len() >= concurrency
            && let Some(r) = set.join_next().await
        {
            lat.push(r??);
        }
        let (http, api, token, id, ns) = (
            http.clone(),
            api.to_string(),
            token.to_string(),
            id.to_string(),
            ns.to_string(),
        );
        set.spawn(async move {
            let t = Instant::now();
            let req = match i % 3 {
                0 => http.get(format!("{api}/api/v1/workloads/deployments/{id}")),
                1 => http.get(format!("{api}/api/v1/workloads/deployments?namespace={ns}")),
                _ => http
                    .post(format!("{api}/api/v1/workloads/deployments/{id}/scale"))
                    .json(&json!({"replicas": i % 2})),
            };
            let r = req.bearer_auth(token).send().await?;
            anyhow::ensure!(
                r.status().is_success(),
                "{} {}",
                r.status(),
                r.text().await?
            );
            Ok::<u64, anyhow::Error>(t.elapsed().as_micros() as u64)
        });
    }
    while let Some(r) = set.join_next().await {
        lat.push(r??);
    }
    Ok(lat)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let (kafka, run, raw) = a.conn.begin(a.raw_records).await?;
    println!(
        "== setup: database, topics, control plane, {} hollow nodes",
        a.nodes
    );
    let plane = Plane::start(
        kafka.clone(),
        &a.conn.database_url,
        &format!("orch_lt_{run}"),
        a.nodes,
    )
    .await?;
    let (on, admin, api_on) = load_tests::serve_api_with(
        &kafka,
        &plane.pool,
        "bench-admin",
        Duration::from_secs(30),
        plane.stop.clone(),
        None,
        true,
    )
    .await?;
    let (off, _, _) = load_tests::serve_api_with(
        &kafka,
        &plane.pool,
        "bench-admin2",
        Duration::from_secs(30),
        plane.stop.clone(),
        None,
        false,
    )
    .await?;
    let ns = "authz";
    load_tests::create_namespace(&on, &admin, ns).await?;
    let progress = indicatif::ProgressBar::new(a.bindings as u64).with_message("bindings");
    for i in 0..a.bindings {
        api_on
            .submit_as_bootstrap(domain::Command::PutRoleBinding(cmd::PutRoleBinding {
                namespace: Some(domain::names::Name::parse("ns", ns)?),
                name: domain::names::Name::parse("name", &format!("other-{i}"))?,
                role: domain::rbac::RoleRef::ClusterRole {
                    name: "viewer".into(),
                },
                subjects: vec![domain::rbac::Subject::User {
                    name: format!("other-{i}"),
                }],
            }))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        progress.inc(1);
    }
    progress.finish();
    // The editor, bound in the namespace after the others.
    api_on
        .submit_as_bootstrap(domain::Command::CreateUser(cmd::CreateUser {
            name: domain::identity::UserName::parse("u", "ed")?,
            groups: Default::default(),
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    api_on
        .submit_as_bootstrap(domain::Command::PutRoleBinding(cmd::PutRoleBinding {
            namespace: Some(domain::names::Name::parse("ns", ns)?),
            name: domain::names::Name::parse("name", "ed-editor")?,
            role: domain::rbac::RoleRef::ClusterRole {
                name: "editor".into(),
            },
            subjects: vec![domain::rbac::Subject::User { name: "ed".into() }],
        }))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ed = api_on
        .mint_token("ed")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let r = reqwest::Client::new()
        .post(format!("{on}/api/v1/workloads/deployments"))
        .bearer_auth(&ed)
        .json(
            &json!({"namespace": ns, "name": "app", "image": "demo:v1", "replicas": 1,
                      "resources": {"cpuRequestMilli": 10, "memRequestMb": 8}}),
        )
        .send()
        .await?;
    anyhow::ensure!(r.status().as_u16() == 201, "create: {}", r.text().await?);
    let id = r.json::<Value>().await?["deploymentId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The API without checks knows ed's token from the log too.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let known = reqwest::Client::new()
            .get(format!("{off}/api/v1/auth/whoami"))
            .bearer_auth(&ed)
            .send()
            .await?;
        let projected = reqwest::Client::new()
            .get(format!("{on}/api/v1/workloads/deployments/{id}"))
            .bearer_auth(&ed)
            .send()
            .await?;
        if known.status().is_success() && projected.status().is_success() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the second API never learned the editor's token"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    println!(
        "== {} requests per API, {} in flight, alternating rounds of 300",
        a.requests, a.concurrency
    );
    let (mut lat_on, mut lat_off) = (Vec::new(), Vec::new());
    let rounds = a.requests.div_ceil(300);
    let bar = indicatif::ProgressBar::new(rounds as u64 * 2).with_message("rounds");
    for _ in 0..rounds {
        lat_on.extend(drive(&on, &ed, &id, ns, 300, a.concurrency).await?);
        bar.inc(1);
        lat_off.extend(drive(&off, &ed, &id, ns, 300, a.concurrency).await?);
        bar.inc(1);
    }
    bar.finish();
    let (p50_on, p99_on) = (pct(&mut lat_on, 0.5), pct(&mut lat_on, 0.99));
    let (p50_off, p99_off) = (pct(&mut lat_off, 0.5), pct(&mut lat_off, 0.99));
    println!(
        "RBAC on:  {} requests, p50 {p50_on:.2} ms, p99 {p99_on:.2} ms",
        lat_on.len()
    );
    println!(
        "RBAC off: {} requests, p50 {p50_off:.2} ms, p99 {p99_off:.2} ms",
        lat_off.len()
    );
    println!(
        "ratio on/off: p50 {:.2}, p99 {:.2}",
        p50_on / p50_off.max(1e-9),
        p99_on / p99_off.max(1e-9)
    );

    // The pure check, as the decider makes it for every command.
    let state = {
        let v = infra::view::spawn_view(&kafka, 0, plane.stop.clone(), |_, _| {}).await?;
        let (_, end) = kafka.watermarks(&kafka.events_topic()).await?;
        let mut rx = v.offset.clone();
        let _ = rx.wait_for(|o| *o >= end).await;
        v.state.read().await.clone()
    };
    let scale = domain::Command::ScaleDeployment(cmd::ScaleDeployment {
        deployment_id: domain::DeploymentId(uuid::Uuid::parse_str(&id)?),
        replicas: 1,
    });
    let n = 200_000;
    let t = Instant::now();
    for _ in 0..n {
        domain::rbac::authorize::command(&state, "ed", &scale)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let per = t.elapsed().as_secs_f64() / n as f64;
    println!(
        "authorize::command for a namespace editor among {} bindings: {:.2} µs per command ({:.0}/s on one core; raw broker produce {:.0} records/s)",
        a.bindings + 4,
        per * 1e6,
        1.0 / per,
        raw
    );
    plane.finish().await;
    Ok(())
}
