//! `orch secrets`: the secrets API from a terminal. Values go in as
//! `--from-literal key=value` or `--from-file key=path` and come out only
//! with `get --reveal` (which needs `read-secrets`).

use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Map, Value, json};

use crate::cli::{Api, ApiConn};

#[derive(clap::Args, Debug)]
pub struct SecretsArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    #[command(subcommand)]
    pub action: SecretsAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum SecretsAction {
    /// Create or replace `<namespace>/<name>` with these keys (every key: a
    /// key left out is removed).
    Set {
        target: String,
        /// `key=value` (repeatable).
        #[arg(long = "from-literal")]
        literal: Vec<String>,
        /// `key=path`: the file's bytes (repeatable).
        #[arg(long = "from-file")]
        file: Vec<String>,
    },
    /// A namespace's secrets: names, keys, versions, wrapping key.
    List {
        #[arg(short, long, default_value = "default")]
        namespace: String,
    },
    /// A secret's metadata; its values with --reveal.
    Get {
        target: String,
        #[arg(long)]
        reveal: bool,
    },
    Delete {
        target: String,
    },
    /// Re-wrap every secret's data key under the key ring's active (last)
    /// key, showing progress; append the new key to every API and agent
    /// host's ring first, and remove the old one after.
    RotateKey {
        /// Give up waiting after this many seconds (the rotation goes on).
        #[arg(long, default_value_t = 600)]
        timeout_seconds: u64,
    },
}

fn split(target: &str) -> anyhow::Result<(&str, &str)> {
    match target.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => {
            Ok((ns, name))
        }
        _ => bail!("'{target}': expected <namespace>/<name>"),
    }
}

fn pair<'a>(flag: &str, raw: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    raw.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .with_context(|| {
            format!(
                "{flag} takes key=value, not '{}'",
                raw.split('=').next().unwrap_or("")
            )
        })
}

pub async fn run(a: SecretsArgs) -> anyhow::Result<()> {
    use base64::Engine;
    let api = Api::new(&a.conn);
    match a.action {
        SecretsAction::Set {
            target,
            literal,
            file,
        } => {
            let (ns, name) = split(&target)?;
            let mut text = Map::new();
            let mut data = Map::new();
            for raw in &literal {
                let (k, v) = pair("--from-literal", raw)?;
                text.insert(k.to_string(), json!(v));
            }
            for raw in &file {
                let (k, path) = pair("--from-file", raw)?;
                let bytes = std::fs::read(path).with_context(|| format!("reading {path}"))?;
                data.insert(
                    k.to_string(),
                    json!(base64::engine::general_purpose::STANDARD.encode(bytes)),
                );
            }
            let out = api
                .send(
                    api.http
                        .put(format!(
                            "{}/api/v1/namespaces/{ns}/secrets/{name}",
                            api.base
                        ))
                        .json(&json!({"stringData": text, "data": data})),
                )
                .await?;
            println!(
                "secret {ns}/{name} {}: version {}, keys {}",
                out["status"].as_str().unwrap_or("?").to_lowercase(),
                out["version"],
                keys(&out)
            );
        }
        SecretsAction::List { namespace } => {
            let out = api
                .get(&format!("/api/v1/namespaces/{namespace}/secrets"), &[])
                .await?;
            println!("{:<30} {:>7}  {:<8} KEYS", "NAME", "VERSION", "KEY");
            for s in out["items"].as_array().into_iter().flatten() {
                println!(
                    "{:<30} {:>7}  {:<8} {}",
                    s["name"].as_str().unwrap_or(""),
                    s["version"].to_string(),
                    s["keyId"].as_str().unwrap_or(""),
                    keys(s)
                );
            }
        }
        SecretsAction::Get { target, reveal } => {
            let (ns, name) = split(&target)?;
            if !reveal {
                let s = api
                    .get(&format!("/api/v1/namespaces/{ns}/secrets/{name}"), &[])
                    .await?;
                println!(
                    "secret {ns}/{name}: version {}, keys {}, data key wrapped with '{}'",
                    s["version"],
                    keys(&s),
                    s["keyId"].as_str().unwrap_or("")
                );
            } else {
                let s = api
                    .get(&format!("/api/v1/namespaces/{ns}/secrets/{name}/data"), &[])
                    .await?;
                for (k, v) in s["stringData"].as_object().into_iter().flatten() {
                    println!("{k}={}", v.as_str().unwrap_or(""));
                }
                for (k, v) in s["data"].as_object().into_iter().flatten() {
                    println!("{k} (base64)={}", v.as_str().unwrap_or(""));
                }
            }
        }
        SecretsAction::Delete { target } => {
            let (ns, name) = split(&target)?;
            api.send(api.http.delete(format!(
                "{}/api/v1/namespaces/{ns}/secrets/{name}",
                api.base
            )))
            .await?;
            println!(
                "secret {ns}/{name} deleted (POST /api/v1/namespaces/{ns}/secrets/{name}/undelete brings it back)"
            );
        }
        SecretsAction::RotateKey { timeout_seconds } => rotate(&api, timeout_seconds).await?,
    }
    Ok(())
}

fn keys(s: &Value) -> String {
    s["keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

async fn rotate(api: &Api, timeout_seconds: u64) -> anyhow::Result<()> {
    let start = api
        .send(
            api.http
                .post(format!("{}/api/v1/secrets/key-rotations", api.base)),
        )
        .await?;
    let id = start["rotationId"]
        .as_str()
        .context("the API did not name the rotation")?
        .to_string();
    let to = start["toKey"].as_str().unwrap_or("?").to_string();
    let total = start["total"].as_u64().unwrap_or(0);
    eprintln!("rotation {id}: re-wrapping {total} data key(s) under '{to}'");
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} data keys  {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_seconds);
    loop {
        let r = api
            .get(&format!("/api/v1/secrets/key-rotations/{id}"), &[])
            .await?;
        bar.set_length(r["total"].as_u64().unwrap_or(total));
        bar.set_position(r["done"].as_u64().unwrap_or(0));
        if r["completed"] == true {
            bar.finish();
            println!(
                "rotation {id} completed: {} data key(s) now wrapped under '{to}'; the old key can leave every key ring",
                r["total"]
            );
            return Ok(());
        }
        if let Some(errors) = r["errors"].as_array().filter(|e| !e.is_empty()) {
            bar.abandon();
            for e in errors {
                eprintln!("  {}", e.as_str().unwrap_or(""));
            }
            bail!(
                "rotation {id} is stuck: fix the key ring and run `orch secrets rotate-key` again (it resumes)"
            );
        }
        if tokio::time::Instant::now() > deadline {
            bar.abandon();
            bail!(
                "rotation {id} still running after {timeout_seconds} s: see GET /api/v1/secrets/key-rotations/{id}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
