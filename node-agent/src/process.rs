//! The process runtime: one agent is one real node (this machine), and the
//! pods bound to it run as real OS processes.
//!
//! The agent registers its node, heartbeats, follows the event log with
//! [`infra::view::spawn_view`] and every 100 ms reconciles: each live pod
//! bound here gets a [`Supervisor`]; a supervisor whose pod is no longer
//! live here (deleted, evicted, failed, gone) is stopped (wait
//! `drain_delay` so gateways drop the endpoint first, `kill -TERM` the
//! process group, `SIGKILL` after `termination_grace`).
//!
//! # Image mapping
//!
//! | image                        | program                              | extra env             |
//! |------------------------------|--------------------------------------|-----------------------|
//! | `demo-app[:tag]`             | `<demo_app_bin> demo-app`            | `APP_VERSION=<tag>` (`latest` when absent) |
//! | `/abs/path[:tag]`            | `/abs/path`                          | `IMAGE_TAG=<tag>` if a tag is given |
//! | `[registry/repo/]name[:tag]` | `name`, looked up on `PATH`          | `IMAGE_TAG=<tag>` if a tag is given |
//!
//! A digest (`@sha256:…`) is ignored. A non-empty `spec.command` replaces
//! the program and its default arguments; `spec.args` are appended.
//!
//! The environment is *not* inherited wholesale: only `PATH`, `HOME`, `USER`,
//! `LANG`, `LC_ALL`, `TZ`, `TMPDIR`, `RUST_LOG` and `RUST_BACKTRACE` pass
//! through; then the image's variables, then `spec.env`, then (always
//! winning) `PORT` (a free port assigned to the pod and kept across its
//! restarts, and across agent restarts when the pod's reported address
//! is still free), `POD_ID`,
//! `POD_NAME` (`<deployment>-<ordinal>`) and `POD_REVISION`; with a key
//! ring, `ORCH_POD_TOKEN` (the pod's identity for the gateway's network
//! policies) and its secrets (`crate::secrets`). Exec probes run with the
//! same environment.
//!
//! stdout and stderr of every run go to `<log_dir>/<pod_id>.log` (appended),
//! served by the control API at `GET /pods/{pod_id}/logs`.
//!
//! # Status reports
//!
//! A supervisor emits [`PodReport`]s on a channel (so it runs and is tested
//! without Kafka); [`run_process`] turns them into commands whose ids are
//! derived from (kind, pod, agent boot, per-pod report counter), so a
//! resend after an error is a duplicate the decider drops.

use domain::command as cmd;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as AxPath, Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use domain::CommandEnvelope;
use domain::command::Command;
use domain::ids::{NodeId, PodId, derive_id};
use domain::model::{NodeSpec, PodTemplate, Probe};
use domain::names::Name;
use domain::state::Pod;
use infra::kafka::{CommandBus, HeartbeatSender, KafkaConfig};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Label carrying the agent's control API base URL (the API server proxies pod logs through it).
pub const AGENT_URL_LABEL: &str = "orch.dev/agent-url";

/// Variables of the agent's own environment a container inherits.
const PASSTHROUGH_ENV: [&str; 9] = [
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "RUST_LOG",
    "RUST_BACKTRACE",
];

#[derive(Debug, Clone)]
pub struct ProcessConfig {
    pub node_name: String,
    pub zone: String,
    pub cpu_milli: u64,
    pub mem_mb: u64,
    pub heartbeat_interval: Duration,
    /// `<log_dir>/<pod_id>.log` holds stdout+stderr of every run of the pod's container.
    pub log_dir: PathBuf,
    /// A StatefulSet pod's volume claim is the directory
    /// `<volume_dir>/<namespace>/<claim>`, passed as `VOLUME_DIR`: it outlives
    /// the pod, so the ordinal's next pod finds its data (every agent of the
    /// host shares the root, like a network volume).
    pub volume_dir: PathBuf,
    /// The `orch` executable: image `demo-app:<tag>` runs `<demo_app_bin> demo-app`.
    pub demo_app_bin: PathBuf,
    /// Restart back-off: base, doubled per restart, capped at `backoff_max`.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// After a pod stops being live, wait this long before SIGTERM.
    pub drain_delay: Duration,
    /// SIGKILL this long after SIGTERM.
    pub termination_grace: Duration,
    /// The key ring pods' secrets are opened with (re-read when a secret
    /// names a key it does not hold).
    pub secret_keys: infra::keyring::KeySource,
    /// Pods' secret files: `<secret_dir>/<node>/<pod id>/<NAME>/<key>`.
    pub secret_dir: PathBuf,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        ProcessConfig {
            node_name: "local".into(),
            zone: "local".into(),
            cpu_milli: std::thread::available_parallelism().map_or(1, |n| n.get()) as u64 * 1000,
            mem_mb: 8192,
            heartbeat_interval: Duration::from_secs(10),
            log_dir: std::env::temp_dir().join("orch-pod-logs"),
            volume_dir: std::env::temp_dir().join("orch-volumes"),
            demo_app_bin: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("orch")),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            drain_delay: Duration::from_secs(1),
            secret_keys: infra::keyring::KeySource::None,
            secret_dir: std::env::temp_dir().join("orch-secrets"),
            termination_grace: Duration::from_secs(10),
        }
    }
}

impl ProcessConfig {
    pub fn timings(&self) -> Timings {
        Timings {
            backoff_base: self.backoff_base,
            backoff_max: self.backoff_max,
            backoff_reset_after: self.backoff_base.saturating_mul(10),
            drain_delay: self.drain_delay,
            termination_grace: self.termination_grace,
        }
    }
}

// ---------------------------------------------------------------------------
// Image mapping

/// What to execute for a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Variables the image implies (`APP_VERSION`, `IMAGE_TAG`).
    pub env: BTreeMap<String, String>,
}

/// Split `name[:tag][@digest]` into (name, tag); a `:` before the last `/` is a registry port.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    let image = image.split_once('@').map_or(image, |(n, _)| n);
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            let tag = &image[at + 1..];
            (&image[..at], (!tag.is_empty()).then_some(tag))
        }
        None => (image, None),
    }
}

/// The program, default arguments and image variables for `image` (see the module doc).
pub fn image_exec(image: &str, demo_app_bin: &Path) -> Exec {
    let (name, tag) = split_tag(image);
    let mut env = BTreeMap::new();
    if name == "demo-app" {
        env.insert("APP_VERSION".into(), tag.unwrap_or("latest").to_string());
        return Exec {
            program: demo_app_bin.to_path_buf(),
            args: vec!["demo-app".into()],
            env,
        };
    }
    if let Some(tag) = tag {
        env.insert("IMAGE_TAG".into(), tag.to_string());
    }
    let program = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        // `registry/repo/name` runs `name` from PATH.
        PathBuf::from(name.rsplit('/').next().unwrap_or(name))
    };
    Exec {
        program,
        args: vec![],
        env,
    }
}

/// The image mapping with the template's `command` (replaces program and
/// default args) and `args` (appended) applied.
pub fn container_exec(
    image: &str,
    command: &[String],
    args: &[String],
    demo_app_bin: &Path,
) -> Exec {
    let mut exec = image_exec(image, demo_app_bin);
    if let Some((program, rest)) = command.split_first() {
        exec.program = PathBuf::from(program);
        exec.args = rest.to_vec();
    }
    exec.args.extend(args.iter().cloned());
    exec
}

/// Restart back-off: `base · 2^exponent`, capped at `max`.
pub fn backoff(base: Duration, max: Duration, exponent: u32) -> Duration {
    let factor = 1u32.checked_shl(exponent.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// A free port on 127.0.0.1 (bind port 0, read it back, release it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

// ---------------------------------------------------------------------------
// Supervisor

/// Everything a supervisor needs to run one pod's container.
#[derive(Clone)]
pub struct PodLaunch {
    pub pod_id: PodId,
    /// `<deployment>-<ordinal>`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The full container environment (passthrough variables excluded).
    pub env: BTreeMap<String, String>,
    pub port: u16,
    pub log_path: PathBuf,
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    /// Until it passes, readiness and liveness are not probed.
    pub startup: Option<Probe>,
    /// `restartPolicy: Never` (a job's pod): an exit is reported with its
    /// code (`Exited`) and the container is not restarted.
    pub restart_never: bool,
    /// Run the container as this uid (and gid); `None`: as the agent. Set
    /// from the template and the namespace's pod security level.
    pub uid: Option<u32>,
}

/// Without the environment's values (they may be secrets).
impl std::fmt::Debug for PodLaunch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodLaunch")
            .field("pod_id", &self.pod_id)
            .field("name", &self.name)
            .field("program", &self.program)
            .field("args", &self.args)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("port", &self.port)
            .field("uid", &self.uid)
            .finish_non_exhaustive()
    }
}

impl PodLaunch {
    /// The launch of `pod` from its template: image mapping, environment, port, log file.
    pub fn from_template(
        pod: &Pod,
        owner_name: &str,
        spec: &PodTemplate,
        port: u16,
        log_dir: &Path,
        demo_app_bin: &Path,
    ) -> PodLaunch {
        let exec = container_exec(spec.image.as_str(), &spec.command, &spec.args, demo_app_bin);
        let name = format!("{owner_name}-{}", pod.ordinal);
        let mut env = exec.env;
        env.extend(spec.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        env.insert("PORT".into(), port.to_string());
        env.insert("POD_ID".into(), pod.id.to_string());
        env.insert("POD_NAME".into(), name.clone());
        env.insert("POD_REVISION".into(), pod.revision.to_string());
        for h in &spec.host_paths {
            env.insert(format!("HOST_PATH_{}", h.name), h.path.clone());
        }
        PodLaunch {
            pod_id: pod.id,
            name,
            program: exec.program,
            args: exec.args,
            env,
            port,
            log_path: log_dir.join(format!("{}.log", pod.id)),
            readiness: spec.readiness_probe.clone(),
            liveness: spec.liveness_probe.clone(),
            startup: spec.startup_probe.clone(),
            restart_never: !spec.restart_policy.is_always(),
            uid: None,
        }
    }

    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Timings {
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A run that lasted this long starts the back-off again from its base.
    pub backoff_reset_after: Duration,
    pub drain_delay: Duration,
    pub termination_grace: Duration,
}

/// A status transition of a pod's container, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// First start of the container only.
    Started {
        address: String,
    },
    Ready,
    NotReady {
        reason: String,
    },
    Restarted {
        restarts: u32,
        backoff_ms: u64,
        reason: String,
    },
    /// A `restartPolicy: Never` container ended (code `Some(0)`: succeeded).
    Exited {
        code: Option<i32>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodReport {
    pub pod_id: PodId,
    /// 1, 2, … per pod and supervisor: with the agent's boot id, the command id.
    pub seq: u64,
    pub report: Report,
}

impl PodReport {
    /// The command for this report, with an id derived from (kind, pod, boot, seq).
    pub fn envelope(&self, node_id: NodeId, node_name: &str, boot: Uuid) -> CommandEnvelope {
        let (pod_id, node_id_) = (self.pod_id, node_id);
        let (kind, reason, cmd): (&[u8], String, Command) = match &self.report {
            Report::Started { address } => (
                b"started",
                format!("container started at {address}"),
                Command::ReportPodStarted(cmd::ReportPodStarted {
                    pod_id,
                    node_id: node_id_,
                    address: Some(address.clone()),
                }),
            ),
            Report::Ready => (
                b"ready",
                "container ready".into(),
                Command::ReportPodReady(cmd::ReportPodReady {
                    pod_id,
                    node_id: node_id_,
                }),
            ),
            Report::NotReady { reason } => (
                b"not-ready",
                reason.clone(),
                Command::ReportPodNotReady(cmd::ReportPodNotReady {
                    pod_id,
                    node_id: node_id_,
                    reason: reason.clone(),
                }),
            ),
            Report::Restarted {
                restarts,
                backoff_ms,
                reason,
            } => (
                b"restarted",
                reason.clone(),
                Command::ReportPodRestarted(cmd::ReportPodRestarted {
                    pod_id,
                    node_id: node_id_,
                    restarts: *restarts,
                    backoff_ms: *backoff_ms,
                    reason: reason.clone(),
                }),
            ),
            Report::Exited {
                code: Some(0),
                reason,
            } => (
                b"exited",
                reason.clone(),
                Command::ReportPodSucceeded(cmd::ReportPodSucceeded {
                    pod_id,
                    node_id: node_id_,
                }),
            ),
            Report::Exited { code, reason } => (
                b"exited",
                reason.clone(),
                Command::ReportPodFailed(cmd::ReportPodFailed {
                    pod_id,
                    node_id: node_id_,
                    reason: format!("container {reason}"),
                    exit_code: *code,
                }),
            ),
        };
        let id = derive_id(&[
            kind,
            pod_id.0.as_bytes(),
            boot.as_bytes(),
            &self.seq.to_be_bytes(),
        ]);
        CommandEnvelope::new(
            id,
            format!("system:node-agent/{node_name}"),
            Some(reason),
            cmd,
        )
    }
}

/// What `GET /pods` shows about a supervised pod.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub pod_id: String,
    pub name: String,
    pub pid: Option<u32>,
    pub port: u16,
    pub restarts: u32,
    pub ready: bool,
}

/// One pod's container, kept running by a task.
pub struct Supervisor {
    pub pod_id: PodId,
    stop: CancellationToken,
    drain: Arc<AtomicBool>,
    status: Arc<Mutex<PodStatus>>,
    task: tokio::task::JoinHandle<()>,
}

impl Supervisor {
    pub fn spawn(
        launch: PodLaunch,
        timings: Timings,
        reports: mpsc::UnboundedSender<PodReport>,
    ) -> Supervisor {
        let stop = CancellationToken::new();
        let drain = Arc::new(AtomicBool::new(true));
        let status = Arc::new(Mutex::new(PodStatus {
            pod_id: launch.pod_id.to_string(),
            name: launch.name.clone(),
            port: launch.port,
            ..Default::default()
        }));
        let pod_id = launch.pod_id;
        let task = tokio::spawn(supervise(
            launch,
            timings,
            reports,
            status.clone(),
            stop.clone(),
            drain.clone(),
        ));
        Supervisor {
            pod_id,
            stop,
            drain,
            status,
            task,
        }
    }

    /// Stop the container: with `drain`, wait `drain_delay` first; then
    /// SIGTERM, SIGKILL after `termination_grace`. No report follows.
    pub fn stop(&self, drain: bool) {
        if !self.stop.is_cancelled() {
            self.drain.store(drain, Ordering::Relaxed);
            self.stop.cancel();
        }
    }

    pub fn stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    pub fn status(&self) -> PodStatus {
        self.status.lock().unwrap().clone()
    }

    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    pub async fn join(self) {
        let _ = self.task.await;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProbeKind {
    Readiness,
    Liveness,
    Startup,
}

/// How a run of the container ended.
enum RunEnd {
    Stop,
    Exited(String),
}

fn metrics() -> (Arc<AtomicU64>, Arc<AtomicU64>, Arc<AtomicU64>) {
    (
        infra::metrics::counter(
            "agent_containers_started_total",
            "Container processes started (first starts and restarts)",
        ),
        infra::metrics::counter(
            "agent_container_restarts_total",
            "Container restarts after an exit or a failed liveness probe",
        ),
        infra::metrics::counter(
            "agent_probe_failures_total",
            "Readiness, liveness and startup probe failures",
        ),
    )
}

async fn supervise(
    l: PodLaunch,
    t: Timings,
    tx: mpsc::UnboundedSender<PodReport>,
    status: Arc<Mutex<PodStatus>>,
    stop: CancellationToken,
    drain: Arc<AtomicBool>,
) {
    let (m_started, m_restarts, m_probe_failures) = metrics();
    let mut seq = 0u64;
    let mut send = |report: Report| {
        seq += 1;
        let _ = tx.send(PodReport {
            pod_id: l.pod_id,
            seq,
            report,
        });
    };
    let set_status = |f: &dyn Fn(&mut PodStatus)| f(&mut status.lock().unwrap());
    let mut started_reported = false;
    // Readiness as last reported; whether any readiness was reported yet.
    let mut ready = false;
    let mut readiness_reported = false;
    let mut exponent = 0u32;
    let mut restarts = 0u32;
    loop {
        if stop.is_cancelled() {
            return;
        }
        let mut code: Option<i32> = None;
        let run_start = Instant::now();
        let reason = match spawn_container(&l) {
            Err(e) => {
                tracing::warn!(pod = %l.pod_id, program = %l.program.display(), error = %e, "container failed to start");
                append_log(
                    &l.log_path,
                    &format!("orch: failed to start {}: {e}\n", l.program.display()),
                );
                format!("failed to start: {e}")
            }
            Ok(mut child) => {
                m_started.fetch_add(1, Ordering::Relaxed);
                let pid = child.id();
                set_status(&|s| s.pid = pid);
                tracing::info!(pod = %l.pod_id, name = %l.name, pid, port = l.port, "container started");
                if !started_reported {
                    send(Report::Started {
                        address: l.address(),
                    });
                    started_reported = true;
                }
                let mut probes = JoinSet::new();
                let (ptx, mut prx) = mpsc::channel(16);
                // With a startup probe, the others start only once it has passed.
                let mut starting = l.startup.is_some();
                if starting {
                    spawn_probers(&mut probes, &l, &ptx, &[ProbeKind::Startup]);
                } else {
                    if l.readiness.is_none() {
                        send(Report::Ready);
                        ready = true;
                        readiness_reported = true;
                        set_status(&|s| s.ready = true);
                    }
                    spawn_probers(
                        &mut probes,
                        &l,
                        &ptx,
                        &[ProbeKind::Readiness, ProbeKind::Liveness],
                    );
                }
                let (mut r_ok, mut r_fail, mut l_fail, mut s_fail) = (0u32, 0u32, 0u32, 0u32);
                let end = loop {
                    tokio::select! {
                        _ = stop.cancelled() => break RunEnd::Stop,
                        st = child.wait() => break RunEnd::Exited(match st {
                            Ok(st) => {
                                code = st.code();
                                exit_reason(st)
                            }
                            Err(e) => format!("lost the process: {e}"),
                        }),
                        Some((kind, res)) = prx.recv() => {
                            let res: Result<(), String> = res;
                            if res.is_err() {
                                m_probe_failures.fetch_add(1, Ordering::Relaxed);
                            }
                            match (kind, res) {
                                (ProbeKind::Readiness, Ok(())) => {
                                    r_fail = 0;
                                    r_ok += 1;
                                    let need = l.readiness.as_ref().map_or(1, |p| p.success_threshold.max(1));
                                    if !ready && r_ok >= need {
                                        send(Report::Ready);
                                        ready = true;
                                        readiness_reported = true;
                                        set_status(&|s| s.ready = true);
                                    }
                                }
                                (ProbeKind::Readiness, Err(e)) => {
                                    r_ok = 0;
                                    r_fail += 1;
                                    let need = l.readiness.as_ref().map_or(1, |p| p.failure_threshold.max(1));
                                    if r_fail >= need && (ready || !readiness_reported) {
                                        send(Report::NotReady {
                                            reason: format!("readiness probe failed {r_fail} times: {e}"),
                                        });
                                        ready = false;
                                        readiness_reported = true;
                                        set_status(&|s| s.ready = false);
                                    }
                                }
                                // A result of the startup prober sent before it was stopped.
                                (ProbeKind::Startup, _) if !starting => {}
                                (ProbeKind::Startup, Ok(())) => {
                                    starting = false;
                                    probes.abort_all();
                                    tracing::info!(pod = %l.pod_id, name = %l.name, "startup probe passed");
                                    if l.readiness.is_none() {
                                        send(Report::Ready);
                                        ready = true;
                                        readiness_reported = true;
                                        set_status(&|s| s.ready = true);
                                    }
                                    spawn_probers(&mut probes, &l, &ptx, &[ProbeKind::Readiness, ProbeKind::Liveness]);
                                }
                                (ProbeKind::Startup, Err(e)) => {
                                    s_fail += 1;
                                    let need = l.startup.as_ref().map_or(1, |p| p.failure_threshold.max(1));
                                    if s_fail >= need {
                                        let reason = format!("startup probe failed {s_fail} times: {e}");
                                        tracing::info!(pod = %l.pod_id, %reason, "killing container");
                                        terminate(&mut child, Duration::ZERO, t.termination_grace).await;
                                        break RunEnd::Exited(reason);
                                    }
                                }
                                (ProbeKind::Liveness, Ok(())) => l_fail = 0,
                                (ProbeKind::Liveness, Err(e)) => {
                                    l_fail += 1;
                                    let need = l.liveness.as_ref().map_or(1, |p| p.failure_threshold.max(1));
                                    if l_fail >= need {
                                        let reason = format!("liveness probe failed {l_fail} times: {e}");
                                        tracing::info!(pod = %l.pod_id, %reason, "killing container");
                                        terminate(&mut child, Duration::ZERO, t.termination_grace).await;
                                        break RunEnd::Exited(reason);
                                    }
                                }
                            }
                        }
                    }
                };
                probes.abort_all();
                match end {
                    RunEnd::Stop => {
                        let d = if drain.load(Ordering::Relaxed) {
                            t.drain_delay
                        } else {
                            Duration::ZERO
                        };
                        terminate(&mut child, d, t.termination_grace).await;
                        set_status(&|s| {
                            s.pid = None;
                            s.ready = false;
                        });
                        tracing::info!(pod = %l.pod_id, name = %l.name, "container stopped");
                        return;
                    }
                    RunEnd::Exited(reason) => {
                        if let Some(pid) = pid {
                            kill_group(pid, "KILL").await;
                        }
                        reason
                    }
                }
            }
        };
        tracing::info!(pod = %l.pod_id, name = %l.name, %reason, "container ended");
        set_status(&|s| {
            s.pid = None;
            s.ready = false;
        });
        if l.restart_never {
            send(Report::Exited { code, reason });
            return;
        }
        if ready {
            send(Report::NotReady {
                reason: format!("container {reason}"),
            });
            ready = false;
        }
        if run_start.elapsed() >= t.backoff_reset_after {
            exponent = 0;
        }
        let wait = backoff(t.backoff_base, t.backoff_max, exponent);
        exponent = exponent.saturating_add(1);
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        restarts += 1;
        m_restarts.fetch_add(1, Ordering::Relaxed);
        set_status(&|s| s.restarts = restarts);
        send(Report::Restarted {
            restarts,
            backoff_ms: wait.as_millis() as u64,
            reason,
        });
    }
}

fn exit_reason(st: ExitStatus) -> String {
    match (st.code(), st.signal()) {
        (Some(c), _) => format!("exited with status {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("exited ({st})"),
    }
}

fn append_log(path: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(line.as_bytes());
    }
}

fn base_command(
    program: &Path,
    args: &[String],
    env: &BTreeMap<String, String>,
) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).env_clear();
    for k in PASSTHROUGH_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.envs(env).stdin(Stdio::null()).kill_on_drop(true);
    cmd
}

/// Start the container in its own process group, output appended to the log file.
fn spawn_container(l: &PodLaunch) -> std::io::Result<Child> {
    if let Some(dir) = l.log_path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&l.log_path)?;
    let mut cmd = base_command(&l.program, &l.args, &l.env);
    cmd.stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .process_group(0);
    if let Some(uid) = l.uid {
        cmd.uid(uid).gid(uid);
    }
    cmd.spawn()
}

/// `kill -<sig> -- -<pgid>`: the whole process group (unsafe is forbidden, so no libc::kill).
async fn kill_group(pgid: u32, sig: &str) {
    let _ = tokio::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg("--")
        .arg(format!("-{pgid}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
}

/// Wait `drain` (returning early if it exits), SIGTERM, wait `grace`, SIGKILL.
async fn terminate(child: &mut Child, drain: Duration, grace: Duration) {
    let Some(pid) = child.id() else {
        return; // already reaped
    };
    if !drain.is_zero() {
        tokio::select! {
            _ = child.wait() => { kill_group(pid, "KILL").await; return; }
            _ = tokio::time::sleep(drain) => {}
        }
    }
    kill_group(pid, "TERM").await;
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::info!(pid, "container ignored SIGTERM; killing it");
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
    kill_group(pid, "KILL").await;
}

/// Start probing `kinds` (those the pod has) for this run of the container.
fn spawn_probers(
    probes: &mut JoinSet<()>,
    l: &PodLaunch,
    tx: &mpsc::Sender<(ProbeKind, Result<(), String>)>,
    kinds: &[ProbeKind],
) {
    for kind in kinds {
        let probe = match kind {
            ProbeKind::Readiness => &l.readiness,
            ProbeKind::Liveness => &l.liveness,
            ProbeKind::Startup => &l.startup,
        };
        if let Some(p) = probe {
            probes.spawn(prober(
                *kind,
                p.clone(),
                l.port,
                l.env.clone(),
                l.uid,
                tx.clone(),
            ));
        }
    }
}

async fn prober(
    kind: ProbeKind,
    p: Probe,
    port: u16,
    env: BTreeMap<String, String>,
    uid: Option<u32>,
    tx: mpsc::Sender<(ProbeKind, Result<(), String>)>,
) {
    tokio::time::sleep(Duration::from_millis(p.initial_delay_ms)).await;
    let mut tick = tokio::time::interval(Duration::from_millis(p.period_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let res = run_probe(&p, port, &env, uid).await;
        if tx.send((kind, res)).await.is_err() {
            return;
        }
    }
}

/// One probe: `Err` says why it failed. An exec probe runs as the
/// container does (`uid`).
pub async fn run_probe(
    p: &Probe,
    port: u16,
    env: &BTreeMap<String, String>,
    uid: Option<u32>,
) -> Result<(), String> {
    let timeout = Duration::from_millis(p.timeout_ms.max(1));
    if let Some(h) = &p.http_get {
        let what = format!("GET {}", h.path);
        return match tokio::time::timeout(timeout, http_status(port, &h.path)).await {
            Err(_) => Err(format!(
                "{what}: timed out after {} ms",
                timeout.as_millis()
            )),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Ok(Ok(code)) if (200..400).contains(&code) => Ok(()),
            Ok(Ok(code)) => Err(format!("{what} → {code}")),
        };
    }
    if p.tcp_socket.is_some() {
        let what = format!("TCP 127.0.0.1:{port}");
        return match tokio::time::timeout(
            timeout,
            tokio::net::TcpStream::connect(("127.0.0.1", port)),
        )
        .await
        {
            Err(_) => Err(format!(
                "{what}: timed out after {} ms",
                timeout.as_millis()
            )),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Ok(Ok(_)) => Ok(()),
        };
    }
    if let Some(x) = &p.exec {
        let Some((prog, args)) = x.command.split_first() else {
            return Err("exec probe has no command".into());
        };
        let what = format!("exec {:?}", x.command);
        let mut cmd = base_command(Path::new(prog), args, env);
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        if let Some(uid) = uid {
            cmd.uid(uid).gid(uid);
        }
        let run = async {
            let mut child = cmd.spawn()?;
            child.wait().await
        };
        return match tokio::time::timeout(timeout, run).await {
            Err(_) => Err(format!(
                "{what}: timed out after {} ms",
                timeout.as_millis()
            )),
            Ok(Err(e)) => Err(format!("{what}: {e}")),
            Ok(Ok(st)) if st.success() => Ok(()),
            Ok(Ok(st)) => Err(format!("{what}: {}", exit_reason(st))),
        };
    }
    Err("probe has no action".into())
}

/// A minimal HTTP/1.1 GET: the status code of the response.
async fn http_status(port: u16, path: &str) -> std::io::Result<u16> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: orch-node-agent\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.contains(&b'\n') && buf.len() < 4096 {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .filter(|_| line.starts_with("HTTP/"))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response"))
}

// ---------------------------------------------------------------------------
// The agent

type Registry = Arc<Mutex<HashMap<PodId, Arc<Mutex<PodStatus>>>>>;

/// The port the pod served on in a previous agent run (its reported
/// address) if still free, else a new free one.
fn pod_port(previous: Option<&str>) -> std::io::Result<u16> {
    if let Some(p) = previous
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(_, p)| p.parse::<u16>().ok())
        && std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()
    {
        return Ok(p);
    }
    free_port()
}

/// Run the process agent until shutdown. With `control`, serve the control API there.
pub async fn run_process(
    kafka: KafkaConfig,
    cfg: ProcessConfig,
    control: Option<std::net::TcpListener>,
    shutdown: CancellationToken,
) -> infra::Result<()> {
    let other = |e: std::io::Error| infra::Error::Other(e.to_string());
    std::fs::create_dir_all(&cfg.log_dir).map_err(other)?;
    let bus = CommandBus::new(&kafka)?;
    let hb = HeartbeatSender::new(&kafka)?;
    let node_id = NodeId::from_name(&cfg.node_name);
    let name = Name::parse("name", &cfg.node_name)
        .map_err(|e| infra::Error::Other(format!("node name: {}", e.message)))?;
    let boot = Uuid::now_v7();

    let mut labels = BTreeMap::new();
    labels.insert(domain::model::ZONE_LABEL.to_string(), cfg.zone.clone());
    labels.insert(
        domain::model::HOSTNAME_LABEL.to_string(),
        cfg.node_name.clone(),
    );
    let registry: Registry = Default::default();
    if let Some(listener) = control {
        let addr = listener.local_addr().map_err(other)?;
        labels.insert(AGENT_URL_LABEL.to_string(), format!("http://{addr}"));
        listener.set_nonblocking(true).map_err(other)?;
        let listener = tokio::net::TcpListener::from_std(listener).map_err(other)?;
        let app = control_api(Arc::new(Control {
            log_dir: cfg.log_dir.clone(),
            pods: registry.clone(),
        }));
        let stop = shutdown.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.cancelled().await })
                .await;
        });
    }
    let spec = NodeSpec {
        name,
        zone: cfg.zone.clone(),
        cpu_capacity_milli: cfg.cpu_milli,
        mem_capacity_mb: cfg.mem_mb,
        cpu_allocatable_milli: cfg.cpu_milli,
        mem_allocatable_mb: cfg.mem_mb,
        labels,
        taints: vec![],
    };
    heartbeat(&hb, node_id).await;
    bus.send_all(&[CommandEnvelope::new(
        derive_id(&[b"register", node_id.0.as_bytes(), boot.as_bytes()]),
        format!("system:node-agent/{}", cfg.node_name),
        Some("agent started".into()),
        Command::RegisterNode(cmd::RegisterNode { node_id, spec }),
    )])
    .await?;
    tracing::info!(node = %cfg.node_name, %node_id, "process node registered");

    {
        let (hb, stop, every) = (hb.clone(), shutdown.clone(), cfg.heartbeat_interval);
        tokio::spawn(async move {
            let mut t = tokio::time::interval(every);
            loop {
                tokio::select! { _ = stop.cancelled() => return, _ = t.tick() => {} }
                heartbeat(&hb, node_id).await;
            }
        });
    }

    // Reports → commands, in order, retried until delivered.
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<PodReport>();
    {
        let (stop, node_name) = (shutdown.clone(), cfg.node_name.clone());
        tokio::spawn(async move {
            while let Some(first) = report_rx.recv().await {
                let mut batch = vec![first];
                while let Ok(r) = report_rx.try_recv() {
                    batch.push(r);
                }
                let envs: Vec<_> = batch
                    .iter()
                    .map(|r| r.envelope(node_id, &node_name, boot))
                    .collect();
                while let Err(e) = bus.send_all(&envs).await {
                    tracing::warn!(error = %e, "reporting pod status failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        });
    }

    let mut view = infra::view::spawn_view(&kafka, 0, shutdown.clone(), |_, _| {}).await?;
    // Catch up before the first reconcile, so a pod deleted later in the
    // log is not started and stopped again.
    if let Ok((_, high)) = kafka.watermarks(&kafka.events_topic()).await {
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = view.offset.wait_for(|o| *o >= high) => {}
        }
    }

    let timings = cfg.timings();
    let keys = infra::keyring::Keys::new(cfg.secret_keys.clone());
    // This node's pods' secret files; what a previous run left is stale.
    let secret_root = std::path::absolute(cfg.secret_dir.join(&cfg.node_name))
        .unwrap_or_else(|_| cfg.secret_dir.join(&cfg.node_name));
    let _ = std::fs::remove_dir_all(&secret_root);
    let mut secret_errors: HashMap<PodId, String> = HashMap::new();
    let mut sups: HashMap<PodId, Supervisor> = HashMap::new();
    let mut skipped: std::collections::HashSet<PodId> = Default::default();
    let mut exited: std::collections::HashSet<PodId> = Default::default();
    let mut t = tokio::time::interval(Duration::from_millis(100));
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! { _ = shutdown.cancelled() => break, _ = t.tick() => {} }
        let mut launches = Vec::new();
        {
            let state = view.state.read().await;
            exited.retain(|p| {
                state
                    .pods
                    .get(p)
                    .is_some_and(|p| p.is_live() && p.node == Some(node_id))
            });
            for s in sups.values() {
                let live_here = state
                    .pods
                    .get(&s.pod_id)
                    .is_some_and(|p| p.is_live() && p.node == Some(node_id));
                if !live_here && !s.stopping() {
                    tracing::info!(pod = %s.pod_id, "pod no longer live here; stopping");
                    s.stop(true);
                }
            }
            if let Some(node) = state.nodes.get(&node_id) {
                for pod_id in &node.pods {
                    if sups.contains_key(pod_id) || exited.contains(pod_id) {
                        continue;
                    }
                    let Some(pod) = state.pods.get(pod_id) else {
                        continue;
                    };
                    if !pod.is_live() || pod.node != Some(node_id) {
                        continue;
                    }
                    let workload = state.workload(pod.owner);
                    let dep_name = workload.as_ref().map(|w| w.name.to_string());
                    let namespace = workload
                        .as_ref()
                        .map(|w| w.namespace.to_string())
                        .unwrap_or_default();
                    let level = workload
                        .as_ref()
                        .map(|w| state.pod_security(w.namespace.as_str()))
                        .unwrap_or(domain::namespace::security::PodSecurityLevel::Privileged);
                    let index = pod
                        .owner
                        .job()
                        .and_then(|j| state.jobs.get(&j))
                        .and_then(|j| j.index_of.get(pod_id).copied());
                    let volume = state
                        .volume_claim_of(pod)
                        .map(|(ns, claim)| cfg.volume_dir.join(ns).join(claim));
                    match (state.template_of(pod), dep_name) {
                        (Some(spec), Some(dep_name)) => launches.push((
                            pod.clone(),
                            dep_name,
                            spec.clone(),
                            state.addresses.get(pod_id).cloned(),
                            index,
                            volume,
                            domain::namespace::security::effective_uid(level, spec),
                            crate::secrets::wanted(&state, &namespace, spec),
                            namespace,
                        )),
                        _ => {
                            if skipped.insert(*pod_id) {
                                tracing::warn!(pod = %pod_id, "no template for pod; not starting it");
                            }
                        }
                    }
                }
            }
        }
        for (pod, dep_name, spec, previous, index, volume, uid, secrets, namespace) in launches {
            let injected = if spec.uses_secrets() {
                let dir = secret_root.join(pod.id.to_string());
                match crate::secrets::inject(&keys, &namespace, &spec, &secrets, &dir, uid) {
                    Ok(i) => {
                        secret_errors.remove(&pod.id);
                        Some(i)
                    }
                    Err(e) => {
                        crate::secrets::remove(&dir);
                        // Tried again every reconcile; said once per cause.
                        if secret_errors.get(&pod.id) != Some(&e) {
                            tracing::warn!(pod = %pod.id, error = %e, "cannot give the pod its secrets; not starting it");
                            secret_errors.insert(pod.id, e);
                        }
                        continue;
                    }
                }
            } else {
                None
            };
            let port = match pod_port(previous.as_deref()) {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(pod = %pod.id, error = %e, "no free port");
                    continue;
                }
            };
            let mut launch = PodLaunch::from_template(
                &pod,
                &dep_name,
                &spec,
                port,
                &cfg.log_dir,
                &cfg.demo_app_bin,
            );
            if let Some(i) = index {
                launch
                    .env
                    .insert("JOB_COMPLETION_INDEX".into(), i.to_string());
            }
            launch.uid = uid;
            // Its identity for the gateway's network policies.
            if let Ok(ring) = keys.ring() {
                launch
                    .env
                    .insert("ORCH_POD_TOKEN".into(), ring.pod_token(&pod.id.to_string()));
            }
            if let Some(i) = injected {
                if let Some(dir) = &i.dir {
                    tracing::info!(pod = %pod.id, dir = %dir.display(), "secret files written");
                }
                launch.env.extend(i.env);
            }
            if let Some(dir) = volume {
                if let Err(e) = std::fs::create_dir_all(&dir) {
                    tracing::warn!(pod = %pod.id, dir = %dir.display(), error = %e, "cannot create the pod's volume; not starting it");
                    continue;
                }
                // An unprivileged pod owns its volume.
                if let Some(uid) = uid
                    && let Err(e) = std::os::unix::fs::chown(&dir, Some(uid), Some(uid))
                {
                    tracing::warn!(pod = %pod.id, dir = %dir.display(), error = %e, "cannot give the pod's volume to its user");
                }
                tracing::info!(pod = %pod.id, dir = %dir.display(), "volume claim attached");
                launch
                    .env
                    .insert("VOLUME_DIR".into(), dir.display().to_string());
            }
            let s = Supervisor::spawn(launch, timings, report_tx.clone());
            registry.lock().unwrap().insert(pod.id, s.status.clone());
            sups.insert(pod.id, s);
        }
        sups.retain(|id, s| {
            let keep = !s.is_finished();
            if !keep {
                registry.lock().unwrap().remove(id);
                crate::secrets::remove(&secret_root.join(id.to_string()));
                // Ended on its own (a job's pod that exited): not started
                // again while the decider has yet to mark it done.
                if !s.stopping() {
                    exited.insert(*id);
                }
            }
            keep
        });
    }

    tracing::info!(
        containers = sups.len(),
        "agent stopping; terminating containers"
    );
    for s in sups.values() {
        s.stop(false);
    }
    for (id, s) in sups.drain() {
        s.join().await;
        registry.lock().unwrap().remove(&id);
    }
    crate::secrets::remove(&secret_root);
    Ok(())
}

async fn heartbeat(hb: &HeartbeatSender, node_id: NodeId) {
    crate::heartbeat_all(hb, [node_id]).await;
}

// ---------------------------------------------------------------------------
// Control API

struct Control {
    log_dir: PathBuf,
    pods: Registry,
}

fn control_api(c: Arc<Control>) -> Router {
    Router::new()
        .route("/pods", get(list_pods))
        .route("/pods/{pod_id}/logs", get(pod_logs))
        .route("/metrics", get(|| async { infra::metrics::render() }))
        .with_state(c)
}

async fn list_pods(AxState(c): AxState<Arc<Control>>) -> axum::Json<serde_json::Value> {
    let mut items: Vec<PodStatus> = c
        .pods
        .lock()
        .unwrap()
        .values()
        .map(|s| s.lock().unwrap().clone())
        .collect();
    items.sort_by(|a, b| a.name.cmp(&b.name));
    axum::Json(serde_json::json!({ "items": items }))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    #[serde(default)]
    follow: bool,
    tail: Option<u64>,
}

fn not_found(message: String) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({ "code": "NOT_FOUND", "message": message })),
    )
        .into_response()
}

/// The offset where the last `n` lines of the file begin (a final newline ends the last line).
pub async fn tail_offset(file: &mut tokio::fs::File, n: u64) -> std::io::Result<u64> {
    let len = file.metadata().await?.len();
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut seen = 0u64;
    let mut first = true;
    let mut buf = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(std::io::SeekFrom::Start(start)).await?;
        file.read_exact(chunk).await?;
        for i in (0..chunk.len()).rev() {
            if chunk[i] != b'\n' {
                continue;
            }
            if first && start + i as u64 == len - 1 {
                continue; // the last line's own newline
            }
            seen += 1;
            if seen == n {
                return Ok(start + i as u64 + 1);
            }
        }
        first = false;
        end = start;
    }
    Ok(0)
}

async fn pod_logs(
    AxState(c): AxState<Arc<Control>>,
    AxPath(pod_id): AxPath<String>,
    Query(q): Query<LogQuery>,
) -> Response {
    let Ok(uuid) = Uuid::parse_str(&pod_id) else {
        return not_found(format!("no logs for pod {pod_id}"));
    };
    let pod_id = PodId(uuid);
    let path = c.log_dir.join(format!("{pod_id}.log"));
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        return not_found(format!("no logs for pod {pod_id}"));
    };
    let pos = match q.tail {
        Some(n) => match tail_offset(&mut file, n).await {
            Ok(p) => p,
            Err(e) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
            }
        },
        None => 0,
    };
    if let Err(e) = file.seek(std::io::SeekFrom::Start(pos)).await {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    struct St {
        file: tokio::fs::File,
        follow: bool,
        pod_id: PodId,
        pods: Registry,
        buf: Vec<u8>,
    }
    let st = St {
        file,
        follow: q.follow,
        pod_id,
        pods: c.pods.clone(),
        buf: vec![0u8; 64 * 1024],
    };
    let stream = futures::stream::unfold(Some(st), |st| async move {
        let mut st = st?;
        loop {
            // Whether the supervisor was gone *before* this read: then a
            // read of nothing means everything it wrote has been sent.
            let gone = !st.pods.lock().unwrap().contains_key(&st.pod_id);
            match st.file.read(&mut st.buf).await {
                Err(e) => return Some((Err(e), None)),
                Ok(n) if n > 0 => {
                    let chunk = st.buf[..n].to_vec();
                    return Some((Ok::<_, std::io::Error>(chunk), Some(st)));
                }
                Ok(_) if !st.follow || gone => return None,
                Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from_stream(stream),
    )
        .into_response()
}

// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use domain::model::ExecAction;

    #[test]
    fn image_mapping() {
        let bin = Path::new("/opt/orch/bin/orch");
        let e = image_exec("demo-app:v2", bin);
        assert_eq!(e.program, bin);
        assert_eq!(e.args, vec!["demo-app".to_string()]);
        assert_eq!(e.env.get("APP_VERSION").map(String::as_str), Some("v2"));
        assert_eq!(
            image_exec("demo-app", bin)
                .env
                .get("APP_VERSION")
                .map(String::as_str),
            Some("latest")
        );

        let e = image_exec("/usr/bin/python3", bin);
        assert_eq!(e.program, PathBuf::from("/usr/bin/python3"));
        assert!(e.args.is_empty() && e.env.is_empty());
        let e = image_exec("/usr/local/bin/server:1.4", bin);
        assert_eq!(e.program, PathBuf::from("/usr/local/bin/server"));
        assert_eq!(e.env.get("IMAGE_TAG").map(String::as_str), Some("1.4"));

        let e = image_exec("nginx:1.25", bin);
        assert_eq!(e.program, PathBuf::from("nginx"));
        assert_eq!(e.env.get("IMAGE_TAG").map(String::as_str), Some("1.25"));
        assert!(!e.env.contains_key("APP_VERSION"));
        let e = image_exec("registry.local:5000/team/redis:7@sha256:abc", bin);
        assert_eq!(e.program, PathBuf::from("redis"));
        assert_eq!(e.env.get("IMAGE_TAG").map(String::as_str), Some("7"));
        assert!(image_exec("busybox", bin).env.is_empty());

        // command replaces program and default args; args are appended.
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let e = container_exec("demo-app:v3", &s(&["/bin/sh", "-c"]), &s(&["echo hi"]), bin);
        assert_eq!(e.program, PathBuf::from("/bin/sh"));
        assert_eq!(e.args, s(&["-c", "echo hi"]));
        assert_eq!(e.env.get("APP_VERSION").map(String::as_str), Some("v3"));
        let e = container_exec("demo-app:v3", &[], &s(&["--fail"]), bin);
        assert_eq!(e.args, s(&["demo-app", "--fail"]));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let (b, m) = (Duration::from_secs(1), Duration::from_secs(60));
        let got: Vec<u64> = (0..9).map(|e| backoff(b, m, e).as_secs()).collect();
        assert_eq!(got, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(backoff(b, m, 40), m);
        assert_eq!(backoff(b, m, u32::MAX), m);
        assert_eq!(
            backoff(Duration::from_millis(50), m, 2),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn report_ids_are_deterministic() {
        let pod_id = PodId(Uuid::from_u128(7));
        let node = NodeId::from_name("n1");
        let boot = Uuid::from_u128(9);
        let r = |seq, report| PodReport {
            pod_id,
            seq,
            report,
        };
        let a = r(1, Report::Ready).envelope(node, "n1", boot);
        let b = r(1, Report::Ready).envelope(node, "n1", boot);
        assert_eq!(a.command_id, b.command_id);
        assert_eq!(a.actor, "system:node-agent/n1");
        assert_ne!(
            a.command_id,
            r(2, Report::Ready).envelope(node, "n1", boot).command_id
        );
        assert_ne!(
            a.command_id,
            r(1, Report::Ready)
                .envelope(node, "n1", Uuid::from_u128(10))
                .command_id
        );
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("orch-agent-test-{tag}-{}", Uuid::new_v4()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn launch(dir: &Path, program: &str, args: &[&str]) -> PodLaunch {
        let pod_id = PodId(Uuid::new_v4());
        let port = free_port().unwrap();
        let mut env = BTreeMap::new();
        env.insert("PORT".to_string(), port.to_string());
        env.insert("POD_NAME".to_string(), "test-0".to_string());
        PodLaunch {
            pod_id,
            name: "test-0".into(),
            program: program.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env,
            port,
            log_path: dir.join(format!("{pod_id}.log")),
            readiness: None,
            liveness: None,
            startup: None,
            restart_never: false,
            uid: None,
        }
    }

    fn timings(base_ms: u64) -> Timings {
        Timings {
            backoff_base: Duration::from_millis(base_ms),
            backoff_max: Duration::from_secs(60),
            // No run of a test container may reset the back-off by being slow
            // to start on a loaded machine; the test that wants a reset sets it.
            backoff_reset_after: Duration::from_secs(60),
            drain_delay: Duration::ZERO,
            termination_grace: Duration::from_secs(2),
        }
    }

    /// Collect reports until `pred` holds on them, or panic after `within`.
    async fn until(
        rx: &mut mpsc::UnboundedReceiver<PodReport>,
        got: &mut Vec<Report>,
        within: Duration,
        pred: impl Fn(&[Report]) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + within;
        while !pred(got) {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(r)) => got.push(r.report),
                Ok(None) => panic!("supervisor ended; reports so far: {got:?}"),
                Err(_) => panic!("deadline passed; reports so far: {got:?}"),
            }
        }
    }

    #[tokio::test]
    async fn crashing_container_restarts_with_growing_backoff() {
        let dir = tmpdir("crash");
        let l = launch(
            &dir,
            "/bin/sh",
            &["-c", "echo run $POD_NAME on $PORT; exit 1"],
        );
        let log_path = l.log_path.clone();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sup = Supervisor::spawn(l.clone(), timings(50), tx);
        let mut got = Vec::new();
        let restarts = |g: &[Report]| {
            g.iter()
                .filter(|r| matches!(r, Report::Restarted { .. }))
                .count()
        };
        until(&mut rx, &mut got, Duration::from_secs(10), |g| {
            restarts(g) >= 4
        })
        .await;
        assert_eq!(
            got[0],
            Report::Started {
                address: l.address()
            }
        );
        // Ready once started (no probe), then NotReady at each exit.
        assert_eq!(got[1], Report::Ready);
        assert!(
            matches!(&got[2], Report::NotReady { reason } if reason.contains("exited with status 1"))
        );
        let started = got
            .iter()
            .filter(|r| matches!(r, Report::Started { .. }))
            .count();
        assert_eq!(started, 1, "Started only once: {got:?}");
        let backoffs: Vec<(u32, u64)> = got
            .iter()
            .filter_map(|r| match r {
                Report::Restarted {
                    restarts,
                    backoff_ms,
                    reason,
                } => {
                    assert_eq!(reason, "exited with status 1");
                    Some((*restarts, *backoff_ms))
                }
                _ => None,
            })
            .collect();
        assert_eq!(&backoffs[..4], &[(1, 50), (2, 100), (3, 200), (4, 400)]);
        assert!(sup.status().restarts >= 4);
        sup.stop(false);
        tokio::time::timeout(Duration::from_secs(5), sup.join())
            .await
            .expect("supervisor stops");
        // Four runs had exited before the fourth restart was reported (the
        // fifth may have been stopped before its shell printed).
        let log = std::fs::read_to_string(&log_path).unwrap();
        assert!(
            log.matches(&format!("run test-0 on {}", l.port)).count() >= 4,
            "{log}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn readiness_exec_probe_follows_a_file() {
        let dir = tmpdir("ready");
        let flag = dir.join("ready-flag");
        let mut l = launch(&dir, "/bin/sh", &["-c", "exec sleep 60"]);
        l.readiness = Some(Probe {
            http_get: None,
            tcp_socket: None,
            exec: Some(ExecAction {
                command: vec![
                    "/bin/sh".into(),
                    "-c".into(),
                    format!("test -f {}", flag.display()),
                ],
            }),
            initial_delay_ms: 0,
            period_ms: 50,
            timeout_ms: 1000,
            failure_threshold: 2,
            success_threshold: 1,
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sup = Supervisor::spawn(l, timings(50), tx);
        let mut got = Vec::new();
        // Initial readiness failing is reported once.
        until(&mut rx, &mut got, Duration::from_secs(10), |g| g.len() >= 2).await;
        assert!(matches!(got[0], Report::Started { .. }));
        assert!(
            matches!(&got[1], Report::NotReady { reason } if reason.starts_with("readiness probe failed 2 times: exec")),
            "{got:?}"
        );
        assert!(!sup.status().ready);
        std::fs::write(&flag, b"").unwrap();
        until(&mut rx, &mut got, Duration::from_secs(10), |g| g.len() >= 3).await;
        assert_eq!(got[2], Report::Ready);
        assert!(sup.status().ready && sup.status().pid.is_some());
        std::fs::remove_file(&flag).unwrap();
        until(&mut rx, &mut got, Duration::from_secs(10), |g| g.len() >= 4).await;
        assert!(
            matches!(&got[3], Report::NotReady { reason } if reason.contains("failed 2 times"))
        );
        // Only transitions: nothing more while it stays failing.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(rx.try_recv().is_err(), "no report without a transition");
        assert_eq!(sup.status().restarts, 0);

        // Stopping terminates the process and reports nothing.
        let pid = sup.status().pid.expect("running");
        sup.stop(true);
        tokio::time::timeout(Duration::from_secs(5), sup.join())
            .await
            .expect("supervisor stops");
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} gone"
        );
        assert!(rx.recv().await.is_none());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn liveness_failure_restarts_the_container() {
        let dir = tmpdir("live");
        let mut l = launch(&dir, "/bin/sh", &["-c", "exec sleep 60"]);
        // Nothing listens on the port: the TCP liveness probe fails.
        l.liveness = Some(Probe {
            http_get: None,
            tcp_socket: Some(Default::default()),
            exec: None,
            initial_delay_ms: 0,
            period_ms: 30,
            timeout_ms: 500,
            failure_threshold: 2,
            success_threshold: 1,
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sup = Supervisor::spawn(l, timings(50), tx);
        let mut got = Vec::new();
        until(&mut rx, &mut got, Duration::from_secs(10), |g| {
            g.iter().any(|r| matches!(r, Report::Restarted { .. }))
        })
        .await;
        let reason = got
            .iter()
            .find_map(|r| match r {
                Report::Restarted { reason, .. } => Some(reason.clone()),
                _ => None,
            })
            .unwrap();
        assert!(
            reason.starts_with("liveness probe failed 2 times: TCP"),
            "{reason}"
        );
        sup.stop(false);
        tokio::time::timeout(Duration::from_secs(5), sup.join())
            .await
            .expect("supervisor stops");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn exec_probe(script: String, period_ms: u64, failure_threshold: u32) -> Probe {
        Probe {
            http_get: None,
            tcp_socket: None,
            exec: Some(ExecAction {
                command: vec!["/bin/sh".into(), "-c".into(), script],
            }),
            initial_delay_ms: 0,
            period_ms,
            timeout_ms: 1000,
            failure_threshold,
            success_threshold: 1,
        }
    }

    #[tokio::test]
    async fn an_exec_probe_runs_as_the_containers_user() {
        let root = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .map(|l| l.split_whitespace().nth(1) == Some("0"))
            })
            .unwrap_or(false);
        if !root {
            eprintln!(
                "SKIP: only root can run a probe as another user; this test does not run as root"
            );
            return;
        }
        let p = exec_probe("[ \"$(id -u)\" = 65534 ]".into(), 100, 1);
        assert_eq!(
            run_probe(&p, 1, &BTreeMap::new(), Some(65534)).await,
            Ok(())
        );
        assert!(
            run_probe(&p, 1, &BTreeMap::new(), None).await.is_err(),
            "as root it fails"
        );
    }

    #[tokio::test]
    async fn a_startup_probe_holds_back_readiness_and_liveness_until_it_passes() {
        let dir = tmpdir("startup");
        let flag = dir.join("started");
        let mut l = launch(&dir, "/bin/sh", &["-c", "exec sleep 60"]);
        l.startup = Some(exec_probe(format!("test -f {}", flag.display()), 30, 1000));
        // Nothing listens on the port: this liveness probe fails at once, when it runs.
        l.liveness = Some(Probe {
            tcp_socket: Some(Default::default()),
            exec: None,
            failure_threshold: 1,
            ..exec_probe(String::new(), 30, 1)
        });
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sup = Supervisor::spawn(l, timings(50), tx);
        let mut got = Vec::new();
        until(&mut rx, &mut got, Duration::from_secs(10), |g| {
            !g.is_empty()
        })
        .await;
        assert!(matches!(got[0], Report::Started { .. }));
        // Warming up: many liveness periods pass, and it is neither Ready nor restarted.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(rx.try_recv().is_err(), "nothing while it starts");
        assert!(!sup.status().ready);
        assert_eq!(sup.status().restarts, 0);
        std::fs::write(&flag, b"").unwrap();
        // Started: Ready (no readiness probe), then the liveness probe runs, and fails.
        until(&mut rx, &mut got, Duration::from_secs(10), |g| {
            g.iter().any(|r| matches!(r, Report::Restarted { .. }))
        })
        .await;
        assert_eq!(got[1], Report::Ready, "{got:?}");
        assert!(
            got.iter().any(|r| matches!(r, Report::Restarted { reason, .. } if reason.starts_with("liveness probe failed 1 times"))),
            "{got:?}"
        );
        sup.stop(false);
        tokio::time::timeout(Duration::from_secs(5), sup.join())
            .await
            .expect("supervisor stops");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_startup_probe_that_keeps_failing_restarts_the_container() {
        let dir = tmpdir("startup-fail");
        let mut l = launch(&dir, "/bin/sh", &["-c", "exec sleep 60"]);
        l.startup = Some(exec_probe("exit 1".into(), 30, 3));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let sup = Supervisor::spawn(l, timings(50), tx);
        let mut got = Vec::new();
        until(&mut rx, &mut got, Duration::from_secs(10), |g| {
            g.iter().any(|r| matches!(r, Report::Restarted { .. }))
        })
        .await;
        assert!(
            got.iter().any(|r| matches!(r, Report::Restarted { reason, .. } if reason.starts_with("startup probe failed 3 times: exec"))),
            "{got:?}"
        );
        assert!(!got.contains(&Report::Ready), "never Ready: {got:?}");
        sup.stop(false);
        tokio::time::timeout(Duration::from_secs(5), sup.join())
            .await
            .expect("supervisor stops");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn tail_offsets() {
        let dir = tmpdir("tail");
        let p = dir.join("f.log");
        std::fs::write(&p, "a\nbb\nccc\n").unwrap();
        let mut f = tokio::fs::File::open(&p).await.unwrap();
        assert_eq!(tail_offset(&mut f, 1).await.unwrap(), 5);
        assert_eq!(tail_offset(&mut f, 2).await.unwrap(), 2);
        assert_eq!(tail_offset(&mut f, 3).await.unwrap(), 0);
        assert_eq!(tail_offset(&mut f, 10).await.unwrap(), 0);
        assert_eq!(tail_offset(&mut f, 0).await.unwrap(), 9);
        std::fs::write(&p, "a\nbb").unwrap();
        let mut f = tokio::fs::File::open(&p).await.unwrap();
        assert_eq!(tail_offset(&mut f, 1).await.unwrap(), 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn logs_api_tails_and_follows_until_the_supervisor_is_gone() {
        let dir = tmpdir("logs");
        let pod_id = PodId(Uuid::new_v4());
        let log = dir.join(format!("{pod_id}.log"));
        std::fs::write(&log, "alpha\nbravo\n").unwrap();
        let pods: Registry = Default::default();
        pods.lock()
            .unwrap()
            .insert(pod_id, Arc::new(Mutex::new(PodStatus::default())));
        let app = control_api(Arc::new(Control {
            log_dir: dir.clone(),
            pods: pods.clone(),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });

        let now = http_get(addr, &format!("/pods/{pod_id}/logs")).await;
        assert!(now.starts_with("HTTP/1.1 200"), "{now}");
        assert!(
            now.contains("text/plain") && now.contains("alpha\nbravo\n"),
            "{now}"
        );
        let missing = http_get(addr, &format!("/pods/{}/logs", Uuid::new_v4())).await;
        assert!(
            missing.starts_with("HTTP/1.1 404") && missing.contains("NOT_FOUND"),
            "{missing}"
        );

        let follow = tokio::spawn(async move {
            http_get(addr, &format!("/pods/{pod_id}/logs?follow=true&tail=1")).await
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        append_log(&log, "charlie\n");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            !follow.is_finished(),
            "follow keeps streaming while supervised"
        );
        append_log(&log, "delta\n");
        pods.lock().unwrap().remove(&pod_id);
        let got = tokio::time::timeout(Duration::from_secs(5), follow)
            .await
            .expect("follow ends once the supervisor is gone")
            .unwrap();
        assert!(!got.contains("alpha"), "{got}");
        for w in ["bravo", "charlie", "delta"] {
            assert!(got.contains(w), "{w} in {got}");
        }
        let list = http_get(addr, "/pods").await;
        assert!(list.contains("\"items\":[]"), "{list}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
