//! The node agent. The hollow runtime (like Kubemark/KWOK) simulates many
//! nodes in one process: it registers them, heartbeats each to the
//! compacted heartbeat topic, and reports the pods bound to them started
//! and ready after configurable delays. A small control API stops and
//! starts nodes or whole zones, to rehearse outages.

pub mod process;
pub mod secrets;

use domain::command as cmd;
use domain::event as ev;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State as AxState};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::Utc;
use domain::CommandEnvelope;
use domain::command::Command;
use domain::ids::{NodeId, PodId, derive_id};
use domain::model::{NodeSpec, PodPhase, Taint, TaintEffect};
use domain::names::Name;
use infra::kafka::{CommandBus, Heartbeat, HeartbeatSender, KafkaConfig};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct HollowConfig {
    pub name_prefix: String,
    pub zones: Vec<String>,
    pub nodes_per_zone: u32,
    pub cpu_milli: u64,
    pub mem_mb: u64,
    /// This many nodes per zone carry the `gpu=true:NoSchedule` taint.
    pub gpu_nodes_per_zone: u32,
    pub heartbeat_interval: Duration,
    pub start_delay: Duration,
    pub ready_delay: Duration,
    /// A pod whose restart policy is `Never` (a job's) exits this long after it started …
    pub job_run: Duration,
    /// … with code 1 for this share of pods (picked by pod id, so a replay
    /// of the same pods fails the same ones), 0 for the others.
    pub job_failure_rate: f64,
}

impl Default for HollowConfig {
    fn default() -> Self {
        HollowConfig {
            name_prefix: "node".into(),
            zones: vec!["az-a".into(), "az-b".into(), "az-c".into()],
            nodes_per_zone: 4,
            cpu_milli: 4000,
            mem_mb: 8192,
            gpu_nodes_per_zone: 0,
            heartbeat_interval: Duration::from_secs(10),
            start_delay: Duration::from_millis(200),
            ready_delay: Duration::from_millis(300),
            job_run: Duration::from_secs(1),
            job_failure_rate: 0.0,
        }
    }
}

impl HollowConfig {
    pub fn node_specs(&self) -> Vec<NodeSpec> {
        let mut out = Vec::new();
        for zone in &self.zones {
            for i in 0..self.nodes_per_zone {
                let gpu = i < self.gpu_nodes_per_zone;
                let name = format!(
                    "{}-{}-{}{}",
                    self.name_prefix,
                    zone,
                    if gpu { "gpu-" } else { "" },
                    i
                );
                let mut labels = BTreeMap::new();
                labels.insert("topology.kubernetes.io/zone".to_string(), zone.clone());
                let mut taints = vec![];
                if gpu {
                    labels.insert("accelerator".into(), "gpu".into());
                    taints.push(Taint {
                        key: "gpu".into(),
                        value: "true".into(),
                        effect: TaintEffect::NoSchedule,
                        time_added_ms: None,
                    });
                }
                out.push(NodeSpec {
                    name: Name::parse("name", &name).expect("generated node names are DNS-1123"),
                    zone: zone.clone(),
                    cpu_capacity_milli: self.cpu_milli,
                    mem_capacity_mb: self.mem_mb,
                    cpu_allocatable_milli: self.cpu_milli,
                    mem_allocatable_mb: self.mem_mb,
                    labels,
                    taints,
                });
            }
        }
        out
    }
}

struct Shared {
    nodes: Vec<(NodeId, NodeSpec)>,
    stopped: Mutex<HashSet<NodeId>>,
}

/// Run the hollow agent until shutdown. With `control`, serve the control API there.
pub async fn run_hollow(
    kafka: KafkaConfig,
    cfg: HollowConfig,
    control: Option<std::net::TcpListener>,
    shutdown: CancellationToken,
) -> infra::Result<()> {
    let bus = CommandBus::new(&kafka)?;
    let hb = HeartbeatSender::new(&kafka)?;
    let nodes: Vec<(NodeId, NodeSpec)> = cfg
        .node_specs()
        .into_iter()
        .map(|s| (NodeId::from_name(s.name.as_str()), s))
        .collect();
    let shared = Arc::new(Shared {
        nodes,
        stopped: Mutex::new(HashSet::new()),
    });
    let mine: HashSet<NodeId> = shared.nodes.iter().map(|n| n.0).collect();

    // Register every node (idempotent: the decider answers a known node with nothing).
    let boot = Uuid::now_v7();
    let envs: Vec<CommandEnvelope> = shared
        .nodes
        .iter()
        .map(|(id, spec)| {
            CommandEnvelope::new(
                derive_id(&[b"register", id.0.as_bytes(), boot.as_bytes()]),
                format!("system:node-agent/{}", spec.name),
                Some("agent started".into()),
                Command::RegisterNode(cmd::RegisterNode {
                    node_id: *id,
                    spec: spec.clone(),
                }),
            )
        })
        .collect();
    send_heartbeats(&hb, &shared).await;
    bus.send_all(&envs).await?;
    tracing::info!(nodes = shared.nodes.len(), "hollow nodes registered");

    if let Some(listener) = control {
        listener
            .set_nonblocking(true)
            .map_err(|e| infra::Error::Other(e.to_string()))?;
        let listener = tokio::net::TcpListener::from_std(listener)
            .map_err(|e| infra::Error::Other(e.to_string()))?;
        let app = control_api(shared.clone());
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
    }

    {
        let (hb, shared, stop) = (hb.clone(), shared.clone(), shutdown.clone());
        let every = cfg.heartbeat_interval;
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                tokio::select! { _ = stop.cancelled() => return, _ = t.tick() => {} }
                send_heartbeats(&hb, &shared).await;
            }
        });
    }

    // Pods bound to this agent's nodes arrive as events; only those are
    // tracked until Ready, so a tick costs O(pods starting), not O(pods).
    let bound: Arc<Mutex<Vec<(PodId, NodeId)>>> = Default::default();
    let view = {
        let (bound, mine) = (bound.clone(), mine.clone());
        infra::view::spawn_view(&kafka, 0, shutdown.clone(), move |_, batch| {
            let mut b = bound.lock().unwrap();
            for env in &batch.events {
                if let domain::Event::PodBound(ev::PodBound {
                    pod_id, node_id, ..
                }) = &env.body
                    && mine.contains(node_id)
                {
                    b.push((*pod_id, *node_id));
                }
            }
        })
        .await?
    };
    let m_reports = infra::metrics::counter(
        "agent_pod_status_reports_total",
        "Pod status reports (started, ready) this agent sent",
    );
    let mut tracking: domain::ids::IdMap<PodId, (NodeId, Instant)> = Default::default();
    let mut sent: HashMap<Uuid, Instant> = HashMap::new();
    let mut t = tokio::time::interval(Duration::from_millis(50));
    loop {
        tokio::select! { _ = shutdown.cancelled() => return Ok(()), _ = t.tick() => {} }
        let now = Instant::now();
        let stopped = shared.stopped.lock().unwrap().clone();
        for (pod, node) in bound.lock().unwrap().drain(..) {
            tracking.entry(pod).or_insert((node, now));
        }
        let mut envs = Vec::new();
        {
            let state = view.state.read().await;
            sent.retain(|_, at| now.duration_since(*at) < Duration::from_secs(3));
            tracking.retain(|pod_id, (node_id, seen)| {
                let Some(pod) = state.pods.get(pod_id) else {
                    return false;
                };
                if !pod.is_live() || pod.node != Some(*node_id) {
                    return false;
                }
                // A job's pod runs to completion; any other is done with once Ready.
                let runs_to_completion = state
                    .template_of(pod)
                    .is_some_and(|t| !t.restart_policy.is_always());
                if pod.ready && !runs_to_completion {
                    return false;
                }
                if stopped.contains(node_id) {
                    return true;
                }
                let (what, cmd) = match pod.phase {
                    PodPhase::Pending if now.duration_since(*seen) >= cfg.start_delay => (
                        b"started".as_slice(),
                        Command::ReportPodStarted(cmd::ReportPodStarted {
                            pod_id: *pod_id,
                            node_id: *node_id,
                            address: None,
                        }),
                    ),
                    PodPhase::Running
                        if pod.ready
                            && now.duration_since(*seen)
                                >= cfg.start_delay + cfg.ready_delay + cfg.job_run =>
                    {
                        let draw = u64::from_le_bytes(pod_id.0.as_bytes()[..8].try_into().unwrap());
                        if (draw as f64) < cfg.job_failure_rate * u64::MAX as f64 {
                            (
                                b"exited".as_slice(),
                                Command::ReportPodFailed(cmd::ReportPodFailed {
                                    pod_id: *pod_id,
                                    node_id: *node_id,
                                    reason: "container exited with code 1".into(),
                                    exit_code: Some(1),
                                }),
                            )
                        } else {
                            (
                                b"exited".as_slice(),
                                Command::ReportPodSucceeded(cmd::ReportPodSucceeded {
                                    pod_id: *pod_id,
                                    node_id: *node_id,
                                }),
                            )
                        }
                    }
                    PodPhase::Running
                        if !pod.ready
                            && now.duration_since(*seen) >= cfg.start_delay + cfg.ready_delay =>
                    {
                        (
                            b"ready".as_slice(),
                            Command::ReportPodReady(cmd::ReportPodReady {
                                pod_id: *pod_id,
                                node_id: *node_id,
                            }),
                        )
                    }
                    _ => return true,
                };
                let id = derive_id(&[what, pod_id.0.as_bytes()]);
                if sent.contains_key(&id) {
                    return true;
                }
                sent.insert(id, now);
                let name = state
                    .nodes
                    .get(node_id)
                    .map(|n| n.spec.name.to_string())
                    .unwrap_or_default();
                envs.push(CommandEnvelope::new(
                    id,
                    format!("system:node-agent/{name}"),
                    None,
                    cmd,
                ));
                true
            });
        }
        if envs.is_empty() {
            continue;
        }
        m_reports.fetch_add(envs.len() as u64, std::sync::atomic::Ordering::Relaxed);
        if let Err(e) = bus.send_all(&envs).await {
            tracing::warn!(error = %e, "reporting pod status failed; retrying");
            for env in envs {
                sent.remove(&env.command_id);
            }
        }
    }
}

async fn send_heartbeats(hb: &HeartbeatSender, shared: &Shared) {
    let stopped = shared.stopped.lock().unwrap().clone();
    heartbeat_all(
        hb,
        shared
            .nodes
            .iter()
            .map(|n| n.0)
            .filter(|id| !stopped.contains(id)),
    )
    .await;
}

/// One heartbeat per node, all sent before any delivery is awaited.
pub(crate) async fn heartbeat_all(hb: &HeartbeatSender, ids: impl IntoIterator<Item = NodeId>) {
    let now = Utc::now();
    let mut futs = Vec::new();
    for id in ids {
        match hb.send(&Heartbeat {
            node_id: id.0,
            sent_at: now,
        }) {
            Ok(f) => futs.push(f),
            Err(e) => tracing::warn!(error = %e, "heartbeat not sent"),
        }
    }
    for f in futs {
        if let Err(e) = infra::kafka::wait_delivery(f).await {
            tracing::warn!(error = %e, "heartbeat not delivered");
        }
    }
}

fn control_api(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/nodes", get(list_nodes))
        .route("/nodes/{name}/{action}", post(node_action))
        .route("/zones/{zone}/{action}", post(zone_action))
        .route("/metrics", get(|| async { infra::metrics::render() }))
        .with_state(shared)
}

async fn list_nodes(AxState(s): AxState<Arc<Shared>>) -> axum::Json<serde_json::Value> {
    let stopped = s.stopped.lock().unwrap();
    let items: Vec<_> = s
        .nodes
        .iter()
        .map(|(id, spec)| serde_json::json!({"nodeId": id, "name": spec.name, "zone": spec.zone, "running": !stopped.contains(id)}))
        .collect();
    axum::Json(serde_json::json!({ "items": items }))
}

fn apply(s: &Shared, pick: impl Fn(&NodeSpec) -> bool, action: &str) -> (StatusCode, String) {
    let ids: Vec<NodeId> = s
        .nodes
        .iter()
        .filter(|(_, spec)| pick(spec))
        .map(|n| n.0)
        .collect();
    if ids.is_empty() {
        return (StatusCode::NOT_FOUND, "no such node or zone".into());
    }
    let mut stopped = s.stopped.lock().unwrap();
    match action {
        "stop" => stopped.extend(ids.iter().copied()),
        "start" => ids.iter().for_each(|i| {
            stopped.remove(i);
        }),
        _ => {
            return (
                StatusCode::BAD_REQUEST,
                "action must be stop or start".into(),
            );
        }
    }
    tracing::info!(action, nodes = ids.len(), "control");
    (StatusCode::OK, format!("{action}: {} nodes", ids.len()))
}

async fn node_action(
    AxState(s): AxState<Arc<Shared>>,
    Path((name, action)): Path<(String, String)>,
) -> (StatusCode, String) {
    apply(&s, |spec| spec.name.as_str() == name, &action)
}

async fn zone_action(
    AxState(s): AxState<Arc<Shared>>,
    Path((zone, action)): Path<(String, String)>,
) -> (StatusCode, String) {
    apply(&s, |spec| spec.zone == zone, &action)
}
