//! `orch`: one binary with subcommands, like `nomad agent`. `orch up` runs
//! the whole control plane in one process (and, for the demo, a hollow node
//! agent and a local broker); each component can also run alone.

mod broker;
mod cli;
mod demo_app;
mod gateway;
mod replay;
mod secrets;
mod up;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "orch", about = "An event-sourced container orchestrator")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(clap::Args, Clone, Debug)]
pub struct Conn {
    /// Kafka bootstrap servers; unset = start a local nisshi broker (`orch up` only).
    #[arg(long, env = "KAFKA_BROKERS")]
    pub kafka_brokers: Option<String>,
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", default_value = infra::db::DEFAULT_DATABASE_URL)]
    pub database_url: String,
    /// Prefix of every topic name (several clusters on one broker).
    #[arg(long, env = "ORCH_TOPIC_PREFIX", default_value = "")]
    pub topic_prefix: String,
}

#[derive(Subcommand)]
#[allow(clippy::large_enum_variant)] // parsed once
enum Cmd {
    /// Run the control plane (decider, projector, reconcilers, API) and, by default, a demo agent.
    Up(up::UpArgs),
    /// Run a hollow node agent simulating many nodes.
    Agent(up::AgentArgs),
    /// Install (if missing) and run a local nisshi broker in the foreground.
    Broker(broker::BrokerArgs),
    /// Every change to an object, with actor, reason and command, from the log (never expires).
    History(cli::HistoryArgs),
    /// Why a pod exists and landed where it did; every scale, rollout and rollback of a deployment.
    Explain(cli::ExplainArgs),
    /// Restore a deleted deployment from its history (recorded as a command of its own).
    Undelete(cli::UndeleteArgs),
    /// Manage API tokens (issue one, revoke the one you hold).
    Token(cli::TokenArgs),
    /// Who am I, may I, who may: answered by the API from the roles and bindings.
    Auth(cli::AuthArgs),
    /// Secrets: set, list, show (values with --reveal), delete, and rotate the key-encryption key.
    Secrets(secrets::SecretsArgs),
    /// Rebuild every projection from the log into a fresh schema (verified against the live
    /// tables), or the cluster as it was with --as-of.
    Replay(replay::ReplayArgs),
    /// Copy the projection tables at their current offset, so replays and time travel start there.
    Snapshot(replay::SnapshotArgs),
    /// The built-in demo HTTP app (what image demo-app:<tag> runs).
    DemoApp(demo_app::DemoAppArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The demo app runs many times per node: its own current-thread runtime,
    // no tracing subscriber, no multi-thread runtime.
    let command = match cli.command {
        Cmd::DemoApp(a) => return demo_app::run(a),
        other => other,
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        match command {
            Cmd::Up(a) => up::up(a).await,
            Cmd::Agent(a) => up::agent(a).await,
            Cmd::Broker(a) => broker::run_foreground(a).await,
            Cmd::Replay(a) => replay::replay(a).await,
            Cmd::History(a) => cli::history(a).await,
            Cmd::Explain(a) => cli::explain(a).await,
            Cmd::Undelete(a) => cli::undelete(a).await,
            Cmd::Token(a) => cli::token(a).await,
            Cmd::Auth(a) => cli::auth(a).await,
            Cmd::Secrets(a) => secrets::run(a).await,
            Cmd::Snapshot(a) => replay::snapshot(a).await,
            Cmd::DemoApp(_) => unreachable!("handled before the runtime is built"),
        }
    })
}
