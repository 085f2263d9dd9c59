//! `orch demo-app`: the built-in demo HTTP workload. The process runtime runs
//! it for every image `demo-app:<tag>`, so it must stay light (own
//! current-thread runtime, no tracing) and shut down gracefully: on SIGTERM it
//! stops accepting connections, finishes in-flight requests and exits 0.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;

#[derive(clap::Args, Debug)]
pub struct DemoAppArgs {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "127.0.0.1")]
    pub host: String,
    /// Version reported by `GET /` and `GET /version`.
    #[arg(long = "app-version", env = "APP_VERSION", default_value = "v1")]
    pub app_version: String,
    /// Pod name reported by `GET /`.
    #[arg(long, env = "POD_NAME", default_value = "")]
    pub pod_name: String,
    /// Pod id reported by `GET /` (when set).
    #[arg(long, env = "POD_ID")]
    pub pod_id: Option<String>,
    /// `GET /ready` answers 503 (accepts 1/0/true/false).
    #[arg(long, env = "FAIL_READINESS", default_value = "false", num_args = 0..=1,
          default_missing_value = "true", value_parser = parse_bool)]
    pub fail_readiness: bool,
    /// `GET /healthz` answers 500 (accepts 1/0/true/false).
    #[arg(long, env = "FAIL_LIVENESS", default_value = "false", num_args = 0..=1,
          default_missing_value = "true", value_parser = parse_bool)]
    pub fail_liveness: bool,
    /// Exit with code 1 this many milliseconds after start.
    #[arg(long, env = "CRASH_AFTER_MS")]
    pub crash_after_ms: Option<u64>,
    /// Every `GET /` waits this many milliseconds before answering.
    #[arg(long, env = "SLOW_MS", default_value_t = 0)]
    pub slow_ms: u64,
    /// `GET /ready` answers 503 until this many milliseconds after start.
    #[arg(long, env = "READY_AFTER_MS", default_value_t = 0)]
    pub ready_after_ms: u64,
    /// A StatefulSet pod's volume: each start appends a line to
    /// `<dir>/journal`, and `GET /volume` answers the journal.
    #[arg(long, env = "VOLUME_DIR")]
    pub volume_dir: Option<std::path::PathBuf>,
}

/// Boolean flag/env value: 1/0, true/false, yes/no, on/off (case-insensitive);
/// an empty value counts as false.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "" | "0" | "false" | "no" | "off" => Ok(false),
        other => Err(format!("expected 1/0/true/false, got {other:?}")),
    }
}

struct AppState {
    version: String,
    pod_name: String,
    pod_id: Option<String>,
    fail_readiness: bool,
    fail_liveness: bool,
    slow: Duration,
    ready_at: Instant,
    requests: AtomicU64,
    journal: Option<std::path::PathBuf>,
}

pub fn run(args: DemoAppArgs) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(serve(args))
}

async fn serve(args: DemoAppArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let version = args.app_version.clone();
    let journal = args.volume_dir.as_ref().map(|d| d.join("journal"));
    if let Some(path) = &journal {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(
            f,
            "{} {} started {version}",
            args.pod_name,
            args.pod_id.as_deref().unwrap_or("-")
        )?;
    }
    let state = Arc::new(AppState {
        version: args.app_version,
        pod_name: args.pod_name,
        pod_id: args.pod_id,
        fail_readiness: args.fail_readiness,
        fail_liveness: args.fail_liveness,
        slow: Duration::from_millis(args.slow_ms),
        ready_at: started + Duration::from_millis(args.ready_after_ms),
        requests: AtomicU64::new(0),
        journal,
    });
    let router = Router::new()
        .route("/", get(root))
        .route("/ready", get(ready))
        .route("/healthz", get(healthz))
        .route("/version", get(version_text))
        .route("/volume", get(volume))
        .with_state(state);

    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port)).await?;
    println!("demo-app {version} listening on {}", listener.local_addr()?);

    if let Some(ms) = args.crash_after_ms {
        let version = version.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            println!("demo-app {version} crashing after {ms}ms (CRASH_AFTER_MS)");
            std::process::exit(1);
        });
    }

    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let shutdown_version = version.clone();
    let shutdown = async move {
        let which = tokio::select! {
            _ = sigterm.recv() => "SIGTERM",
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = orphaned() => "its parent, the node agent, is gone",
        };
        println!("demo-app {shutdown_version} stopping ({which})");
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await?;
    println!("demo-app {version} stopped");
    Ok(())
}

/// Resolves once the process that started us has exited (we were
/// re-parented): an agent killed with SIGKILL cannot stop its containers, and
/// the demo app should not outlive it.
async fn orphaned() {
    let parent = std::os::unix::process::parent_id();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if std::os::unix::process::parent_id() != parent {
            return;
        }
    }
}

async fn root(State(s): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let n = s.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if n % 100 == 0 {
        println!("demo-app {} served {n} requests", s.version);
    }
    if !s.slow.is_zero() {
        tokio::time::sleep(s.slow).await;
    }
    let mut body = serde_json::json!({
        "version": s.version,
        "pod": s.pod_name,
        "requests": n,
    });
    if let Some(id) = &s.pod_id {
        body["pod_id"] = serde_json::Value::String(id.clone());
    }
    Json(body)
}

async fn ready(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    if s.fail_readiness || Instant::now() < s.ready_at {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    } else {
        (StatusCode::OK, "ok")
    }
}

async fn healthz(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    if s.fail_liveness {
        (StatusCode::INTERNAL_SERVER_ERROR, "unhealthy")
    } else {
        (StatusCode::OK, "ok")
    }
}

/// The volume's journal: one line per start of a pod of this ordinal.
async fn volume(State(s): State<Arc<AppState>>) -> impl IntoResponse {
    match &s.journal {
        None => (StatusCode::NOT_FOUND, "no volume".to_string()),
        Some(p) => match std::fs::read_to_string(p) {
            Ok(text) => (StatusCode::OK, text),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        },
    }
}

async fn version_text(State(s): State<Arc<AppState>>) -> String {
    s.version.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(flatten)]
        a: DemoAppArgs,
    }

    #[test]
    fn parse_bool_accepts_env_style_values() {
        for v in ["1", "true", "TRUE", "yes", "on"] {
            assert_eq!(parse_bool(v), Ok(true), "{v}");
        }
        for v in ["0", "false", "False", "no", "off", ""] {
            assert_eq!(parse_bool(v), Ok(false), "{v}");
        }
        assert!(parse_bool("maybe").is_err());
    }

    #[test]
    fn bool_flags_parse_from_cli() {
        let t = T::try_parse_from(["t", "--fail-readiness", "1", "--fail-liveness"]).unwrap();
        assert!(t.a.fail_readiness);
        assert!(t.a.fail_liveness);
        let t = T::try_parse_from(["t", "--fail-readiness=0", "--port", "9000"]).unwrap();
        assert!(!t.a.fail_readiness);
        assert_eq!(t.a.port, 9000);
        assert!(T::try_parse_from(["t", "--fail-readiness=nope"]).is_err());
    }
}
