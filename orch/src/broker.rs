//! The embedded dev broker: nisshi, a Kafka-protocol broker from crates.io,
//! installed on first use and started as a child process. Production points
//! `KAFKA_BROKERS` at Apache Kafka instead; nothing else changes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

pub const NISSHI_VERSION: &str = "0.8.1";

#[derive(clap::Args, Debug)]
pub struct BrokerArgs {
    #[arg(long, default_value_t = 9092)]
    pub port: u16,
    /// `memory` (nothing survives a restart) or `sqlite` (a file in --data-dir).
    #[arg(long, default_value = "sqlite")]
    pub storage: String,
    #[arg(long, default_value = ".orch")]
    pub data_dir: PathBuf,
}

/// Path of the nisshi binary, installing it with cargo if it is missing.
pub async fn ensure_nisshi() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("NISSHI_BIN") {
        return Ok(PathBuf::from(p));
    }
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into())).join(".cargo")
        });
    let candidate = home.join("bin").join("nisshi");
    if candidate.exists() {
        return Ok(candidate);
    }
    if let Ok(out) = std::process::Command::new("which").arg("nisshi").output()
        && out.status.success()
    {
        return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    }
    eprintln!(
        "nisshi {NISSHI_VERSION} is not installed; installing it with cargo (15-30 minutes on 2 cores, once per machine)..."
    );
    let status = Command::new("cargo")
        .args([
            "install",
            &format!("nisshi@{NISSHI_VERSION}"),
            "--locked",
            "--ignore-rust-version",
        ])
        .status()
        .await
        .context("running cargo install nisshi")?;
    if !status.success() || !candidate.exists() {
        bail!("cargo install nisshi@{NISSHI_VERSION} failed");
    }
    Ok(candidate)
}

pub async fn start(port: u16, storage: &str, data_dir: &Path) -> anyhow::Result<Child> {
    let bin = ensure_nisshi().await?;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let engine = match storage {
        "memory" => "memory://nisshi/".to_string(),
        // A relative path: nisshi mangles absolute sqlite paths.
        "sqlite" => "sqlite://nisshi.db".to_string(),
        other => other.to_string(),
    };
    let url = format!("tcp://127.0.0.1:{port}");
    let log = std::fs::File::create(data_dir.join("nisshi.log"))?;
    let child = Command::new(bin)
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
            "--storage-engine",
            &engine,
        ])
        .current_dir(data_dir)
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("starting nisshi")?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(child);
        }
        if tokio::time::Instant::now() > deadline {
            bail!(
                "nisshi did not listen on port {port} within 30 s; see {}/nisshi.log",
                data_dir.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn run_foreground(a: BrokerArgs) -> anyhow::Result<()> {
    let mut child = start(a.port, &a.storage, &a.data_dir).await?;
    println!("BROKER 127.0.0.1:{}", a.port);
    tokio::select! {
        s = child.wait() => bail!("nisshi exited: {s:?}"),
        _ = tokio::signal::ctrl_c() => { let _ = child.kill().await; Ok(()) }
    }
}
