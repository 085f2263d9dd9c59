//! The history tools over the REST API: `orch history`, `orch explain` and
//! `orch undelete`, and `orch token`. They only read `GET /api/v1/events`
//! (and write one command), so they work for objects deleted long ago.
//! Every read asks the API to include the CLI's last write (read-your-writes,
//! across invocations: the offset is kept in a small state file).

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

#[derive(clap::Args, Debug, Clone)]
pub struct ApiConn {
    /// The API's base URL.
    #[arg(long, env = "ORCH_API", default_value = "http://127.0.0.1:8080")]
    pub api: String,
    /// A bearer token (printed by `orch up`).
    #[arg(long, env = "ORCH_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Read without waiting for the projections to include your last write
    /// (by default every read waits for it: read-your-writes).
    #[arg(long, env = "ORCH_EVENTUAL")]
    pub eventual: bool,
}

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    /// `deployment/<namespace>/<name>`, `job/<namespace>/<name>`, `pod/<namespace>/<name>`, `service/<namespace>/<name>`,
    /// `node/<name>`, `namespace/<name>`, `resourcequota/<namespace>`, or `<kind>/<id>`.
    pub target: String,
    /// Only events by this actor.
    #[arg(long)]
    pub actor: Option<String>,
    /// Only events at or after this RFC 3339 instant.
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this RFC 3339 instant.
    #[arg(long)]
    pub until: Option<String>,
    /// Print the raw events as JSON lines.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    /// `pod`, `deployment`, `statefulset`, `job`, `cronjob` or `namespace`.
    pub kind: String,
    /// An id, or `<namespace>/<name>`.
    pub target: String,
}

#[derive(clap::Args, Debug)]
pub struct UndeleteArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    /// `<kind>/<namespace>/<name>`: a deployment, statefulset, job, cronjob or
    /// service; or `namespace/<name>` (with everything it held).
    pub target: String,
    /// Why (recorded with the command).
    #[arg(long)]
    pub reason: Option<String>,
}

pub(crate) struct Api {
    pub(crate) base: String,
    token: String,
    pub(crate) http: reqwest::Client,
    /// The log offset of the last write this CLI made to this API (from any
    /// earlier invocation too): reads ask the API to include it.
    written: std::sync::Mutex<Option<i64>>,
    eventual: bool,
}

/// Where the CLI remembers its last write's offset per API:
/// `$ORCH_CLI_STATE`, or `~/.local/state/orch/offsets.json`.
fn state_file() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("ORCH_CLI_STATE") {
        return Some(p.into());
    }
    let home = std::env::var_os("HOME")?;
    Some(std::path::Path::new(&home).join(".local/state/orch/offsets.json"))
}

fn read_state() -> serde_json::Map<String, Value> {
    state_file()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

impl Api {
    pub(crate) fn new(c: &ApiConn) -> Api {
        let base = c.api.trim_end_matches('/').to_string();
        let written = read_state().get(&base).and_then(Value::as_i64);
        Api {
            base,
            token: c.token.clone(),
            http: reqwest::Client::new(),
            written: std::sync::Mutex::new(written),
            eventual: c.eventual,
        }
    }

    /// Remember a write's offset (or forget a stale one) here and in the state file.
    fn remember(&self, offset: Option<i64>) {
        *self.written.lock().unwrap() = offset;
        let Some(path) = state_file() else { return };
        let mut state = read_state();
        match offset {
            Some(o) => state.insert(self.base.clone(), json!(o)),
            None => state.remove(&self.base),
        };
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        if let Err(e) = std::fs::write(&path, Value::Object(state).to_string()) {
            eprintln!(
                "note: could not remember the write's offset in {}: {e}",
                path.display()
            );
        }
    }

    /// One request: its status, the write offset it reports, its JSON body.
    async fn exchange(
        &self,
        req: reqwest::Request,
    ) -> anyhow::Result<(reqwest::StatusCode, Option<i64>, Value)> {
        let resp = self
            .http
            .execute(req)
            .await
            .with_context(|| format!("calling the API at {}", self.base))?;
        let offset = resp
            .headers()
            .get("x-orch-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<i64>().ok());
        Ok((
            resp.status(),
            offset,
            resp.json().await.unwrap_or(Value::Null),
        ))
    }

    pub(crate) async fn send(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let req = req
            .bearer_auth(&self.token)
            .build()
            .context("building the request")?;
        let min = (!self.eventual && req.method() == reqwest::Method::GET)
            .then(|| *self.written.lock().unwrap())
            .flatten();
        let mut first = req.try_clone().context("cloning the request")?;
        if let Some(o) = min {
            first
                .url_mut()
                .query_pairs_mut()
                .append_pair("minOffset", &o.to_string());
        }
        let (mut status, written, mut body) = self.exchange(first).await?;
        if let Some(o) = written {
            self.remember(Some(o.max(min.unwrap_or(-1))));
        }
        if min.is_some() && body["error"]["code"] == "OFFSET_NOT_IN_LOG" {
            // A write remembered from another cluster (or before a reset): forget it.
            self.remember(None);
            (status, _, body) = self.exchange(req).await?;
        }
        if !status.is_success() {
            bail!(
                "{} {}: {}",
                status.as_u16(),
                body["error"]["code"].as_str().unwrap_or("ERROR"),
                body["error"]["message"].as_str().unwrap_or("")
            );
        }
        Ok(body)
    }

    pub(crate) async fn get(&self, path: &str, query: &[(&str, String)]) -> anyhow::Result<Value> {
        self.send(self.http.get(format!("{}{path}", self.base)).query(query))
            .await
    }

    /// Every event matching `query`, oldest first, following the cursor.
    async fn events(&self, query: &[(&str, String)]) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = query.to_vec();
            q.push(("limit", "1000".into()));
            if let Some(c) = &cursor {
                q.push(("cursor", c.clone()));
            }
            let page = self.get("/api/v1/events", &q).await?;
            out.extend(page["items"].as_array().cloned().unwrap_or_default());
            match page["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(out),
            }
        }
    }
}

/// `kind/ns/name`, `node/name` or `kind/<uuid>` → the events API's filter.
fn target_query(target: &str) -> anyhow::Result<(String, Vec<(&'static str, String)>)> {
    let parts: Vec<&str> = target.split('/').collect();
    let kind = parts[0];
    // Identities and RBAC objects have ids derived from their names.
    let derived = match parts.as_slice() {
        ["user", name] => Some(("user", domain::identity::user_id(name))),
        ["serviceaccount", ns, name] => Some((
            "serviceaccount",
            domain::identity::service_account_id(ns, name),
        )),
        ["clusterrole", name] => Some(("role", domain::rbac::role_id(None, name))),
        ["role", ns, name] => Some(("role", domain::rbac::role_id(Some(ns), name))),
        ["clusterrolebinding", name] => Some(("rolebinding", domain::rbac::binding_id(None, name))),
        ["rolebinding", ns, name] => {
            Some(("rolebinding", domain::rbac::binding_id(Some(ns), name)))
        }
        ["secret", ns, name] => Some(("secret", domain::secret::secret_id(ns, name))),
        ["networkpolicy", ns, name] => Some((
            "networkpolicy",
            domain::networkpolicy::network_policy_id(ns, name),
        )),
        _ => None,
    };
    if let Some((kind, id)) = derived {
        return Ok((kind.to_string(), vec![("aggregate", id.to_string())]));
    }
    if ![
        "deployment",
        "statefulset",
        "job",
        "cronjob",
        "pod",
        "service",
        "node",
        "namespace",
        "resourcequota",
    ]
    .contains(&kind)
    {
        bail!(
            "'{target}': the kind must be deployment, statefulset, job, cronjob, pod, service, node, namespace, resourcequota, user/<name>, serviceaccount/<ns>/<name>, role/<ns>/<name>, clusterrole/<name>, rolebinding/<ns>/<name>, clusterrolebinding/<name>, secret/<ns>/<name> or networkpolicy/<ns>/<name>"
        );
    }
    let mut q = vec![("kind", kind.to_string())];
    match parts.as_slice() {
        [_, id] if uuid::Uuid::parse_str(id).is_ok() => q.push(("aggregate", id.to_string())),
        [_, name] if kind == "node" || kind == "namespace" => q.push(("name", name.to_string())),
        // A namespace's quota: `resourcequota/<namespace>`.
        [_, ns] if kind == "resourcequota" => q.push(("namespace", ns.to_string())),
        [_, ns, name] if kind != "node" => {
            q.push(("namespace", ns.to_string()));
            q.push(("name", name.to_string()));
        }
        _ => bail!(
            "'{target}': expected {kind}/{}",
            if kind == "node" || kind == "namespace" || kind == "resourcequota" {
                "<name> or <kind>/<id>"
            } else {
                "<namespace>/<name> or <kind>/<id>"
            }
        ),
    }
    Ok((kind.to_string(), q))
}

fn short(id: &Value) -> String {
    id.as_str()
        .map_or(String::new(), |s| s.chars().take(8).collect())
}

/// One line saying what an event changed.
pub fn summarize(e: &Value) -> String {
    let b = &e["body"];
    let s = |k: &str| b[k].as_str().unwrap_or("").to_string();
    match e["type"].as_str().unwrap_or("") {
        "DeploymentCreated" => format!(
            "created {}/{}: {} × {} (revision {})",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["replicas"],
            b["spec"]["image"].as_str().unwrap_or(""),
            b["revision"]
        ),
        "DeploymentUndeleted" => format!(
            "restored {}/{}: {} × {} (revision {})",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["replicas"],
            b["spec"]["image"].as_str().unwrap_or(""),
            b["revision"]
        ),
        "DeploymentScaled" => format!("scaled {} → {}", b["from"], b["to"]),
        "DeploymentDeleted" => format!("deleted {}/{}", s("namespace"), s("name")),
        "DeploymentRevisionCreated" => format!(
            "revision {}: {}",
            b["revision"],
            b["spec"]["image"].as_str().unwrap_or("")
        ),
        "RolloutStarted" => format!(
            "rollout {} started: revision {} → {} ({}{})",
            b["rollout"],
            b["from"],
            b["to"],
            s("trigger"),
            b["canary"]
                .as_u64()
                .map_or(String::new(), |c| format!(", canary {c}"))
        ),
        "RolloutSucceeded" => format!(
            "rollout {} succeeded: now on revision {}",
            b["rollout"], b["to"]
        ),
        "RolloutRolledBack" => format!(
            "rollout {} rolled back{} to revision {}: {}",
            b["rollout"],
            if b["automatic"].as_bool() == Some(true) {
                " automatically"
            } else {
                ""
            },
            b["to"],
            s("reason")
        ),
        "RolloutFailed" => format!("rollout {} failed: {}", b["rollout"], s("reason")),
        "PodCreated" => format!(
            "pod {} created: {} revision {} ({}m CPU, {} MB)",
            s("name"),
            s("image"),
            b["revision"],
            b["resources"]["cpuRequestMilli"],
            b["resources"]["memRequestMb"]
        ),
        "PodBound" => {
            let top = &b["placement"]["top"][0];
            format!(
                "bound to {} (score {}, {} of {} nodes feasible)",
                top["nodeName"].as_str().unwrap_or(&short(&b["nodeId"])),
                top["total"],
                b["placement"]["nodesFeasible"],
                b["placement"]["nodesTotal"]
            )
        }
        "PodUnschedulable" => format!(
            "unschedulable: {} nodes, filtered {}",
            b["nodesTotal"], b["filtered"]
        ),
        "PodStarted" => format!(
            "started{}",
            b["address"]
                .as_str()
                .map_or(String::new(), |a| format!(" at {a}"))
        ),
        "PodReady" => "ready".into(),
        "PodNotReady" => format!("not ready: {}", s("reason")),
        "PodRestarted" => format!(
            "restarted (#{}, back-off {} ms): {}",
            b["restarts"],
            b["backoffMs"],
            s("reason")
        ),
        "PodFailed" => format!(
            "failed{}: {}",
            b["exitCode"]
                .as_i64()
                .map_or(String::new(), |c| format!(" (exit code {c})")),
            s("reason")
        ),
        "PodSucceeded" => "succeeded (exit code 0)".into(),
        "JobCreated" => format!(
            "created job {}/{}: {} completion(s), {} at a time, backoffLimit {}{} ({})",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["completions"],
            b["spec"]["parallelism"],
            b["spec"]["backoffLimit"],
            if b["spec"]["completionMode"] == "Indexed" {
                ", Indexed"
            } else {
                ""
            },
            b["spec"]["template"]["image"].as_str().unwrap_or("")
        ),
        "JobCompleted" => format!(
            "complete: {} succeeded, {} failed",
            b["succeeded"], b["failed"]
        ),
        "JobFailed" => format!(
            "failed ({}): {} ({} succeeded, {} failed)",
            s("reason"),
            s("message"),
            b["succeeded"],
            b["failed"]
        ),
        "JobDeleted" => format!("deleted {}/{}", s("namespace"), s("name")),
        "JobUndeleted" | "CronJobUndeleted" => format!(
            "restored {}/{}",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or("")
        ),
        "CronJobCreated" => format!(
            "created cron job {}/{}: '{}' ({}), concurrency {}",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["schedule"].as_str().unwrap_or(""),
            b["spec"]["timeZone"].as_str().unwrap_or(""),
            b["spec"]["concurrencyPolicy"].as_str().unwrap_or("Allow")
        ),
        "CronJobSuspended" => {
            if b["suspend"] == true {
                "suspended".into()
            } else {
                "resumed".into()
            }
        }
        "CronJobRunStarted" => format!(
            "run for {} started: job {}",
            ms_time(&b["scheduledAtMs"]),
            short(&b["jobId"])
        ),
        "CronJobRunSkipped" => format!(
            "run for {} skipped: {}",
            ms_time(&b["scheduledAtMs"]),
            s("reason")
        ),
        "CronJobDeleted" => format!("deleted {}/{}", s("namespace"), s("name")),
        "StatefulSetCreated" => format!(
            "created statefulset {}/{}: {} × {} ({}{})",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["replicas"],
            b["spec"]["template"]["image"].as_str().unwrap_or(""),
            b["spec"]["podManagementPolicy"]
                .as_str()
                .unwrap_or("OrderedReady"),
            b["spec"]["volumeClaimTemplate"]["name"]
                .as_str()
                .map_or(String::new(), |v| format!(", volume claim {v}"))
        ),
        "StatefulSetScaled" => format!("scaled {} → {}", b["from"], b["to"]),
        "StatefulSetRevisionCreated" => format!(
            "revision {} ({}): update {} from revision {}",
            b["revision"],
            b["template"]["image"].as_str().unwrap_or(""),
            b["update"],
            b["from"]
        ),
        "StatefulSetPartitionChanged" => format!("partition {} → {}", b["from"], b["to"]),
        "StatefulSetUpdateCompleted" => format!(
            "update {} complete: ordinals {}.. run revision {}",
            b["update"], b["partition"], b["revision"]
        ),
        "StatefulSetRolledBack" => format!(
            "{} rolled back from revision {} to {}",
            if b["automatic"] == true {
                "automatically"
            } else {
                "by request"
            },
            b["from"],
            b["to"]
        ),
        "StatefulSetDeleted" => format!("deleted {}/{}", s("namespace"), s("name")),
        "StatefulSetUndeleted" => format!(
            "restored {}/{}: {} × {} (revision {})",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["replicas"],
            b["spec"]["template"]["image"].as_str().unwrap_or(""),
            b["revision"]
        ),
        "PodEvicted" => format!(
            "evicted ({}): {}",
            b["cause"]["kind"].as_str().unwrap_or(""),
            s("reason")
        ),
        "PodDeleted" => format!("deleted: {}", s("reason")),
        "NodeRegistered" => format!(
            "registered {} in {}",
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["zone"].as_str().unwrap_or("")
        ),
        "NodeNotReady" => format!("not ready (silent for {} ms)", b["silentForMs"]),
        "NodeLost" => format!(
            "lost (silent for {} ms), {} pod(s) failed",
            b["silentForMs"], b["podsFailed"]
        ),
        "ServiceCreated" => format!(
            "service {}/{} selecting {}",
            b["spec"]["namespace"].as_str().unwrap_or(""),
            b["spec"]["name"].as_str().unwrap_or(""),
            b["spec"]["selector"]
        ),
        "NamespaceCreated" => format!("namespace {} created", s("name")),
        "UserCreated" => format!("user {} created, groups {}", s("name"), b["groups"]),
        "UserGroupsChanged" => format!("user {} groups now {}", s("name"), b["groups"]),
        "UserDeleted" => format!("user {} deleted", s("name")),
        "ServiceAccountCreated" => {
            format!("service account {}/{} created", s("namespace"), s("name"))
        }
        "ServiceAccountDeleted" => {
            format!("service account {}/{} deleted", s("namespace"), s("name"))
        }
        "TokenIssued" => format!(
            "token {} issued for {}, expires {}",
            short(&b["tokenId"]),
            s("subject"),
            b["expiresAt"].as_str().unwrap_or("never")
        ),
        "TokenRevoked" => format!("token {} of {} revoked", short(&b["tokenId"]), s("subject")),
        "RoleSet" => format!(
            "role {}{} set: {}",
            b["namespace"]
                .as_str()
                .map_or(String::new(), |n| format!("{n}/")),
            s("name"),
            b["rules"]
        ),
        "RoleDeleted" => format!("role {} deleted", s("name")),
        // Key names only: an event never holds a value (its ciphertext is not shown either).
        "SecretSet" => {
            let list = |k: &str| {
                b[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|l| !l.is_empty())
            };
            let mut parts = Vec::new();
            if let Some(l) = list("added") {
                parts.push(format!("added {l}"));
            }
            if let Some(l) = list("changed") {
                parts.push(format!("value changed: {l}"));
            }
            if let Some(l) = list("removed") {
                parts.push(format!("removed {l}"));
            }
            format!(
                "secret {}/{} {} version {}: {} (data key wrapped with '{}')",
                s("namespace"),
                s("name"),
                if b["created"] == true {
                    "created,"
                } else {
                    "set,"
                },
                b["version"],
                parts.join("; "),
                b["data"]["keyId"].as_str().unwrap_or("")
            )
        }
        "SecretDeleted" => format!(
            "secret {}/{} deleted (version {})",
            s("namespace"),
            s("name"),
            b["version"]
        ),
        "SecretUndeleted" => format!(
            "secret {}/{} restored (version {})",
            s("namespace"),
            s("name"),
            b["version"]
        ),
        "SecretRewrapped" => format!(
            "secret {}/{} version {}: data key re-wrapped from '{}' to '{}' (rotation {})",
            s("namespace"),
            s("name"),
            b["version"],
            s("fromKey"),
            s("toKey"),
            short(&b["rotationId"])
        ),
        "NetworkPolicySet" => format!(
            "network policy {}/{} {}: pods {} take {}",
            s("namespace"),
            s("name"),
            if b["created"] == true {
                "created"
            } else {
                "changed"
            },
            b["spec"]["podSelector"],
            b["spec"]["ingress"]
        ),
        "NetworkPolicyDeleted" => {
            format!("network policy {}/{} deleted", s("namespace"), s("name"))
        }
        "KeyRotationStarted" => format!(
            "key rotation {} started: {} data key(s) to re-wrap under '{}'",
            short(&b["rotationId"]),
            b["total"],
            s("toKey")
        ),
        "KeyRotationCompleted" => format!(
            "key rotation {} completed: every data key wrapped under '{}'",
            short(&b["rotationId"]),
            s("toKey")
        ),
        "RoleBindingSet" | "RoleBindingDeleted" => {
            let who = |k: &str| {
                b[k].as_array()
                    .map(|a| {
                        a.iter()
                            .map(|x| {
                                format!(
                                    "{} {}",
                                    x["kind"].as_str().unwrap_or(""),
                                    x["name"].as_str().unwrap_or("")
                                )
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .unwrap_or_default()
            };
            let at = b["namespace"]
                .as_str()
                .map_or("cluster-wide".to_string(), |n| format!("in {n}"));
            let role = format!(
                "{} {}",
                b["role"]["kind"].as_str().unwrap_or(""),
                b["role"]["name"].as_str().unwrap_or("")
            );
            if e["type"] == "RoleBindingDeleted" {
                format!(
                    "binding {} ({role} {at}) deleted: {} lost it",
                    s("name"),
                    who("subjects")
                )
            } else {
                format!(
                    "binding {} gives {role} {at}: granted to [{}], revoked from [{}]",
                    s("name"),
                    who("added"),
                    who("removed")
                )
            }
        }
        "NamespaceDeleted" => format!(
            "namespace {} deleted with {} object(s): {}",
            s("name"),
            b["objects"].as_array().map_or(0, Vec::len),
            objects(&b["objects"])
        ),
        "NamespaceUndeleted" => format!(
            "namespace {} restored with {}{}",
            s("name"),
            objects(&b["restored"]),
            match b["skipped"].as_array() {
                Some(skipped) if !skipped.is_empty() => format!(
                    "; not restored: {}",
                    skipped
                        .iter()
                        .map(|k| format!(
                            "{} ({})",
                            k["object"]["name"].as_str().unwrap_or(""),
                            k["reason"].as_str().unwrap_or("")
                        ))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            }
        ),
        "ResourceQuotaSet" => format!(
            "quota of {} set to {} (committed then: {})",
            s("namespace"),
            b["hard"],
            b["used"]
        ),
        "ResourceQuotaUsageRecorded" => format!(
            "{} commits {} pods, {}m CPU, {} MB requested (hard: {})",
            s("namespace"),
            b["used"]["pods"],
            b["used"]["requestsCpuMilli"],
            b["used"]["requestsMemoryMb"],
            b["hard"]
        ),
        "ResourceQuotaRemoved" => format!("quota of {} removed", s("namespace")),
        _ => {
            let mut v = b.clone();
            if let Some(o) = v.as_object_mut() {
                o.remove("type");
            }
            v.to_string()
        }
    }
}

/// `[{kind, name}]` as `deployment web, service web`.
fn objects(v: &Value) -> String {
    let names: Vec<String> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            format!(
                "{} {}",
                o["kind"].as_str().unwrap_or("").to_ascii_lowercase(),
                o["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    if names.is_empty() {
        "nothing".into()
    } else {
        names.join(", ")
    }
}

/// A time in ms since the epoch, as `time` prints one.
fn ms_time(v: &Value) -> String {
    v.as_i64()
        .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        .map_or(String::new(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn time(e: &Value) -> String {
    e["occurredAt"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map_or(String::new(), |t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S%.3f")
                .to_string()
        })
}

fn print_event(e: &Value) {
    println!(
        "{}  #{:<4} {:<24} {:<22} {}",
        time(e),
        e["sequence"],
        e["type"].as_str().unwrap_or(""),
        e["actor"].as_str().unwrap_or(""),
        summarize(e)
    );
    let mut why = Vec::new();
    if let Some(r) = e["reason"].as_str() {
        why.push(format!("reason: {r}"));
    }
    if let Some(c) = e["command"].as_str() {
        why.push(format!("command {c}"));
    }
    why.push(format!(
        "cmd {} corr {} offset {}",
        short(&e["causationId"]),
        short(&e["correlationId"]),
        e["offset"]
    ));
    println!("{:>27} {}", "", why.join("; "));
}

pub async fn history(a: HistoryArgs) -> anyhow::Result<()> {
    let api = Api::new(&a.conn);
    let (_, mut q) = target_query(&a.target)?;
    if let Some(x) = &a.actor {
        q.push(("actor", x.clone()));
    }
    if let Some(x) = &a.since {
        q.push(("since", x.clone()));
    }
    if let Some(x) = &a.until {
        q.push(("until", x.clone()));
    }
    let mut events = api.events(&q).await?;
    // A user's or service account's history includes its grants and tokens.
    let subject = match a.target.split('/').collect::<Vec<_>>().as_slice() {
        ["user", name] => Some(name.to_string()),
        ["serviceaccount", ns, name] => Some(format!("system:serviceaccount:{ns}:{name}")),
        _ => None,
    };
    if let Some(subject) = subject {
        let mut q: Vec<(&'static str, String)> = vec![("subject", subject)];
        q.extend(
            [
                ("actor", &a.actor),
                ("since", &a.since),
                ("until", &a.until),
            ]
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k, v))),
        );
        events.extend(api.events(&q).await?);
        let key = |e: &Value| {
            (
                e["offset"].as_i64().unwrap_or(0),
                e["index"].as_i64().unwrap_or(0),
            )
        };
        events.sort_by_key(key);
        events.dedup_by_key(|e| key(e));
    }
    if events.is_empty() {
        bail!("no events for {}", a.target);
    }
    for e in &events {
        if a.json {
            println!("{e}");
        } else {
            print_event(e);
        }
    }
    if !a.json {
        let ids: std::collections::BTreeSet<&str> = events
            .iter()
            .filter_map(|e| e["aggregate"]["id"].as_str())
            .collect();
        println!(
            "{} event(s) of {} object(s) named {}",
            events.len(),
            ids.len(),
            a.target
        );
    }
    Ok(())
}

/// The events of one object by id or `<namespace>/<name>`, and its id (the latest incarnation).
async fn object_events(
    api: &Api,
    kind: &str,
    target: &str,
) -> anyhow::Result<(String, Vec<Value>)> {
    let t = format!("{kind}/{target}");
    let (_, q) = target_query(&t)?;
    let mut events = api.events(&q).await?;
    let id = events
        .iter()
        .rev()
        .find_map(|e| e["aggregate"]["id"].as_str().map(str::to_string))
        .ok_or_else(|| anyhow!("no {kind} {target} in the history"))?;
    events.retain(|e| e["aggregate"]["id"].as_str() == Some(&id));
    Ok((id, events))
}

pub async fn explain(a: ExplainArgs) -> anyhow::Result<()> {
    let api = Api::new(&a.conn);
    match a.kind.as_str() {
        "pod" => explain_pod(&api, &a.target).await,
        "deployment" => explain_deployment(&api, &a.target).await,
        "job" => explain_job(&api, &a.target).await,
        "cronjob" => explain_cron_job(&api, &a.target).await,
        "statefulset" => explain_stateful_set(&api, &a.target).await,
        "namespace" => explain_namespace(&api, &a.target).await,
        k => bail!("explain {k}: expected pod, deployment, statefulset, job, cronjob or namespace"),
    }
}

/// A namespace: its state and level, its quota (used, hard, left), its
/// limit range, and the requests refused there lately, with why.
async fn explain_namespace(api: &Api, name: &str) -> anyhow::Result<()> {
    let ns = api.get(&format!("/api/v1/namespaces/{name}"), &[]).await?;
    let level = ns["labels"]["pod-security.orch/enforce"]
        .as_str()
        .unwrap_or("privileged");
    println!(
        "namespace {name}: {}, pod security level {level}{}, {} object(s)",
        ns["status"].as_str().unwrap_or(""),
        if ns["builtIn"] == true {
            ", built in"
        } else {
            ""
        },
        ns["objects"]
    );
    match api
        .get(&format!("/api/v1/namespaces/{name}/quota"), &[])
        .await
    {
        Ok(q) => {
            println!(
                "\nQUOTA (usage as recorded at {})",
                q["updatedAt"].as_str().unwrap_or("")
            );
            println!(
                "  {:<20} {:>10} {:>10} {:>10}",
                "resource", "used", "hard", "left"
            );
            for (k, hard) in q["hard"].as_object().into_iter().flatten() {
                let (used, left) = (q["used"][k].to_string(), q["remaining"][k].to_string());
                println!("  {k:<20} {used:>10} {:>10} {left:>10}", hard.to_string());
            }
        }
        Err(_) => println!("\nQUOTA none"),
    }
    match api
        .get(&format!("/api/v1/namespaces/{name}/limitrange"), &[])
        .await
    {
        Ok(l) => println!("\nLIMIT RANGE {}", l["spec"]),
        Err(_) => println!("\nLIMIT RANGE none"),
    }
    let page = api
        .get(
            "/api/v1/events",
            &[
                ("type", "CommandRejected".into()),
                ("order", "desc".into()),
                ("limit", "500".into()),
            ],
        )
        .await?;
    let (quoted, plain) = (format!("namespace '{name}'"), format!("namespace {name} "));
    let refusals: Vec<&Value> = page["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| {
            let b = &e["body"];
            let m = b["message"].as_str().unwrap_or("");
            b["quota"]["namespace"] == name || m.contains(&quoted) || m.contains(&plain)
        })
        .take(10)
        .collect();
    println!("\nREFUSED LATELY (newest first)");
    if refusals.is_empty() {
        println!("  nothing");
    }
    for e in refusals {
        println!(
            "  {} {} by {}: {} {}",
            time(e),
            e["body"]["commandType"].as_str().unwrap_or(""),
            e["actor"].as_str().unwrap_or(""),
            e["body"]["code"].as_str().unwrap_or(""),
            e["body"]["message"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

async fn explain_pod(api: &Api, target: &str) -> anyhow::Result<()> {
    let (id, events) = object_events(api, "pod", target).await?;
    let created = events
        .iter()
        .find(|e| e["type"] == "PodCreated")
        .ok_or_else(|| anyhow!("pod {id}: its creation is not in the history"))?;
    let b = &created["body"];
    println!("pod {} ({id})", b["name"].as_str().unwrap_or(""));
    println!("\nWHY IT EXISTS");
    println!(
        "  {} created it at {} with {}{}",
        created["actor"].as_str().unwrap_or(""),
        time(created),
        created["command"].as_str().unwrap_or("a command"),
        created["reason"]
            .as_str()
            .map_or(String::new(), |r| format!(": {r}"))
    );
    let (owner_kind, owner) = match b["jobId"].as_str() {
        Some(j) => ("job", j),
        None => ("deployment", b["deploymentId"].as_str().unwrap_or("")),
    };
    println!(
        "  for {owner_kind} {owner}{} (ordinal {}, revision {}, image {})",
        b["completionIndex"]
            .as_u64()
            .map_or(String::new(), |i| format!(" index {i}")),
        b["ordinal"],
        b["revision"],
        b["image"].as_str().unwrap_or("")
    );
    // The request it serves: the command its controller's command is correlated with.
    let corr = created["correlationId"].as_str().unwrap_or("");
    if corr != created["causationId"].as_str().unwrap_or("") {
        let req = api.events(&[("causation", corr.to_string())]).await?;
        if let Some(r) = req.first() {
            println!(
                "  it serves the request {} by {} at {} with {}{}: {}",
                short(&r["causationId"]),
                r["actor"].as_str().unwrap_or(""),
                time(r),
                r["command"].as_str().unwrap_or("a command"),
                r["reason"]
                    .as_str()
                    .map_or(String::new(), |x| format!(" ({x})")),
                req.iter().map(summarize).collect::<Vec<_>>().join("; ")
            );
            return explain_pod_rest(&events);
        }
    }
    // No correlated request (an older log): the deployment's last change before it.
    let cause = api
        .events(&[
            (
                "aggregate",
                b["deploymentId"].as_str().unwrap_or("").to_string(),
            ),
            (
                "until",
                created["occurredAt"].as_str().unwrap_or("").to_string(),
            ),
            ("order", "desc".into()),
        ])
        .await
        .unwrap_or_default();
    if let Some(c) = cause.iter().find(|c| {
        [
            "DeploymentCreated",
            "DeploymentScaled",
            "RolloutStarted",
            "DeploymentUndeleted",
        ]
        .contains(&c["type"].as_str().unwrap_or(""))
    }) {
        println!(
            "  the deployment's last change before it: {} by {} at {}",
            summarize(c),
            c["actor"].as_str().unwrap_or(""),
            time(c)
        );
    }
    explain_pod_rest(&events)
}

fn explain_pod_rest(events: &[Value]) -> anyhow::Result<()> {
    println!("\nWHY THIS NODE");
    let mut bound = false;
    for e in events {
        match e["type"].as_str().unwrap_or("") {
            "PodUnschedulable" => println!(
                "  {} no node fit: of {} nodes, removed by filter {}",
                time(e),
                e["body"]["nodesTotal"],
                e["body"]["filtered"]
            ),
            "PodBound" => {
                bound = true;
                let p = &e["body"]["placement"];
                println!(
                    "  {} {} bound it: {} nodes, {} examined, {} feasible",
                    time(e),
                    e["actor"].as_str().unwrap_or(""),
                    p["nodesTotal"],
                    p["nodesExamined"]
                        .as_u64()
                        .unwrap_or(p["nodesTotal"].as_u64().unwrap_or(0)),
                    p["nodesFeasible"]
                );
                match p["filtered"].as_object().filter(|f| !f.is_empty()) {
                    Some(f) => {
                        for (filter, n) in f {
                            println!("    filter {filter:<24} removed {n} node(s)");
                        }
                    }
                    None => println!("    filters: none removed a node"),
                }
                for (i, n) in p["top"].as_array().into_iter().flatten().enumerate() {
                    println!(
                        "    {} {:<24} total {:<4} {}",
                        if i == 0 { "winner" } else { "      " },
                        n["nodeName"].as_str().unwrap_or(""),
                        n["total"],
                        n["scores"]
                    );
                }
                if let Some(v) = p["preempted"].as_array().filter(|v| !v.is_empty()) {
                    println!(
                        "    preempted {} lower-priority pod(s): {}",
                        v.len(),
                        json!(v)
                    );
                }
            }
            _ => {}
        }
    }
    if !bound {
        println!("  never bound");
    }
    println!("\nLIFE");
    for e in events {
        let t = e["type"].as_str().unwrap_or("");
        if [
            "PodStarted",
            "PodReady",
            "PodNotReady",
            "PodRestarted",
            "PodFailed",
            "PodEvicted",
            "PodDeleted",
        ]
        .contains(&t)
        {
            println!(
                "  {} {:<14} {:<28} {}",
                time(e),
                t.trim_start_matches("Pod"),
                e["actor"].as_str().unwrap_or(""),
                summarize(e)
            );
        }
    }
    if let Some(end) = events.iter().rev().find(|e| {
        ["PodFailed", "PodEvicted", "PodDeleted"].contains(&e["type"].as_str().unwrap_or(""))
    }) {
        println!(
            "\nWHY IT ENDED\n  {} by {}{}",
            summarize(end),
            end["actor"].as_str().unwrap_or(""),
            end["reason"]
                .as_str()
                .map_or(String::new(), |r| format!(" ({r})"))
        );
    }
    Ok(())
}

async fn explain_deployment(api: &Api, target: &str) -> anyhow::Result<()> {
    let (id, events) = object_events(api, "deployment", target).await?;
    println!("deployment {target} ({id}): {} event(s)\n", events.len());
    for e in &events {
        let t = e["type"].as_str().unwrap_or("");
        let what = match t {
            "DeploymentCreated" | "DeploymentUndeleted" | "DeploymentDeleted" => "LIFECYCLE",
            "DeploymentScaled" => "SCALE",
            "DeploymentRevisionCreated"
            | "DeploymentStrategyChanged"
            | "DeploymentBudgetChanged" => "SPEC",
            _ if t.starts_with("Rollout") => "ROLLOUT",
            _ => "OTHER",
        };
        println!(
            "{}  {:<9} {:<22} {}",
            time(e),
            what,
            e["actor"].as_str().unwrap_or(""),
            summarize(e)
        );
        if let Some(r) = e["reason"].as_str() {
            println!("{:>35} why: {r}", "");
        }
    }
    Ok(())
}

/// A job's life: its creation, every pod it ran (how each ended, and how
/// long the controller waited before the next after a failure), its end.
async fn explain_job(api: &Api, target: &str) -> anyhow::Result<()> {
    let (id, events) = object_events(api, "job", target).await?;
    let pods = api
        .events(&[("type", "PodCreated".to_string()), ("owner", id.clone())])
        .await?;
    println!("job {target} ({id})\n");
    for e in events.iter().filter(|e| e["type"] == "JobCreated") {
        println!(
            "{}  {:<22} {}",
            time(e),
            e["actor"].as_str().unwrap_or(""),
            summarize(e)
        );
    }
    println!("\nPODS ({} attempt(s))", pods.len());
    let mut last_failure: Option<chrono::DateTime<chrono::FixedOffset>> = None;
    for p in &pods {
        let pod_id = p["aggregate"]["id"].as_str().unwrap_or("").to_string();
        let created = p["occurredAt"]
            .as_str()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        let waited = match (last_failure.take(), created) {
            (Some(f), Some(c)) if c > f => {
                format!(", {} ms after the last failure", (c - f).num_milliseconds())
            }
            _ => String::new(),
        };
        let life = api.events(&[("aggregate", pod_id)]).await?;
        let end = life.iter().rev().find(|e| {
            matches!(
                e["type"].as_str(),
                Some("PodSucceeded" | "PodFailed" | "PodEvicted" | "PodDeleted")
            )
        });
        if let Some(e) = end.filter(|e| e["type"] == "PodFailed") {
            last_failure = e["occurredAt"]
                .as_str()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
        }
        println!(
            "{}  {:<24} {}{}",
            time(p),
            p["body"]["name"].as_str().unwrap_or(""),
            end.map_or("running".to_string(), summarize),
            waited
        );
    }
    println!();
    for e in events.iter().filter(|e| e["type"] != "JobCreated") {
        println!(
            "{}  {:<22} {}",
            time(e),
            e["actor"].as_str().unwrap_or(""),
            summarize(e)
        );
        if let Some(r) = e["reason"].as_str() {
            println!("{:>25} why: {r}", "");
        }
    }
    Ok(())
}

/// A StatefulSet's life, merged with its pods' creations and deletions in
/// log order: which ordinal came (or went) when, and why (ordered start,
/// replacement after a failure, scale-down, rolling update, rollback).
async fn explain_stateful_set(api: &Api, target: &str) -> anyhow::Result<()> {
    let (id, events) = object_events(api, "statefulset", target).await?;
    let created = api
        .events(&[("type", "PodCreated".to_string()), ("owner", id.clone())])
        .await?;
    let names: std::collections::HashMap<String, String> = created
        .iter()
        .filter_map(|e| {
            Some((
                e["aggregate"]["id"].as_str()?.to_string(),
                e["body"]["name"].as_str()?.to_string(),
            ))
        })
        .collect();
    let deleted = api
        .events(&[("type", "PodDeleted".to_string()), ("owner", id.clone())])
        .await?;
    let mut all: Vec<&Value> = events
        .iter()
        .chain(created.iter().chain(deleted.iter()).filter(|e| {
            e["aggregate"]["id"]
                .as_str()
                .is_some_and(|p| names.contains_key(p))
        }))
        .collect();
    all.sort_by_key(|e| (e["offset"].as_i64(), e["index"].as_i64()));
    println!("statefulset {target} ({id}): {} event(s)\n", all.len());
    for e in all {
        let pod = e["aggregate"]["id"].as_str().and_then(|p| names.get(p));
        let what = match (e["type"].as_str().unwrap_or(""), pod) {
            ("PodCreated", Some(n)) => format!(
                "{n} created (revision {}{})",
                e["body"]["revision"],
                e["body"]["volumeClaim"]
                    .as_str()
                    .map_or(String::new(), |v| format!(", volume {v}"))
            ),
            ("PodDeleted", Some(n)) => format!("{n} {}", summarize(e)),
            _ => summarize(e),
        };
        println!(
            "{}  {:<22} {what}",
            time(e),
            e["actor"].as_str().unwrap_or("")
        );
        if let Some(r) = e["reason"].as_str() {
            println!("{:>25} why: {r}", "");
        }
    }
    Ok(())
}

/// A cron job's life: every run its schedule made due, started or skipped and why.
async fn explain_cron_job(api: &Api, target: &str) -> anyhow::Result<()> {
    let (id, events) = object_events(api, "cronjob", target).await?;
    println!("cron job {target} ({id}): {} event(s)\n", events.len());
    for e in &events {
        println!(
            "{}  {:<22} {}",
            time(e),
            e["actor"].as_str().unwrap_or(""),
            summarize(e)
        );
        if let Some(r) = e["reason"].as_str() {
            println!("{:>25} why: {r}", "");
        }
    }
    Ok(())
}

pub async fn undelete(a: UndeleteArgs) -> anyhow::Result<()> {
    let api = Api::new(&a.conn);
    let parts: Vec<&str> = a.target.split('/').collect();
    // A namespace: itself and everything it held, in one step.
    if let ["namespace", name] = parts.as_slice() {
        let mut req = api
            .http
            .post(format!("{}/api/v1/namespaces/{name}/undelete", api.base));
        if let Some(r) = &a.reason {
            req = req.header("x-change-reason", r);
        }
        let out = api.send(req).await?;
        println!(
            "restored namespace {name} with {}",
            objects(&out["restored"])
        );
        for s in out["skipped"].as_array().into_iter().flatten() {
            println!(
                "  not restored: {} {}: {}",
                s["object"]["kind"]
                    .as_str()
                    .unwrap_or("")
                    .to_ascii_lowercase(),
                s["object"]["name"].as_str().unwrap_or(""),
                s["reason"].as_str().unwrap_or("")
            );
        }
        return Ok(());
    }
    const KINDS: [&str; 5] = ["deployment", "statefulset", "job", "cronjob", "service"];
    let [kind, ns, name] = parts.as_slice() else {
        bail!(
            "'{}': expected <kind>/<namespace>/<name>, the kind one of {}",
            a.target,
            KINDS.join(", ")
        );
    };
    if !KINDS.contains(kind) {
        bail!(
            "{kind}: only these kinds can be undeleted: {}",
            KINDS.join(", ")
        );
    }
    let mut body = json!({"namespace": ns, "name": name});
    if let Some(r) = &a.reason {
        body["reason"] = json!(r);
    }
    let path = if *kind == "service" {
        "services/undelete".to_string()
    } else {
        format!("workloads/{kind}s/undelete")
    };
    let out = api
        .send(
            api.http
                .post(format!("{}/api/v1/{path}", api.base))
                .json(&body),
        )
        .await?;
    let id = [
        "deploymentId",
        "statefulSetId",
        "jobId",
        "cronJobId",
        "serviceId",
    ]
    .iter()
    .find_map(|k| out[k].as_str())
    .unwrap_or("");
    match out["revision"].as_u64() {
        Some(r) => println!(
            "restored {kind} {ns}/{name} ({id}) at revision {r} with {} replica(s)",
            out["replicas"]
        ),
        None => println!("restored {kind} {ns}/{name} ({id})"),
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct TokenArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    #[command(subcommand)]
    pub action: TokenAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum TokenAction {
    /// Revoke the token given with --token / ORCH_TOKEN (for the bootstrap
    /// admin token: the next `orch up` mints a new one).
    Revoke,
    /// Issue a token (for yourself, or with --subject for a user or
    /// `system:serviceaccount:<ns>:<name>`); printed once.
    Create {
        #[arg(long)]
        subject: Option<String>,
        /// Lifetime in seconds (default: 24 h for a user, 90 days for a service account).
        #[arg(long)]
        ttl_seconds: Option<i64>,
        #[arg(long)]
        description: Option<String>,
    },
}

#[derive(clap::Args, Debug)]
pub struct AuthArgs {
    #[command(flatten)]
    pub conn: ApiConn,
    #[command(subcommand)]
    pub action: AuthAction,
}

#[derive(clap::Subcommand, Debug)]
pub enum AuthAction {
    /// Who the token is: subject, groups, bindings.
    Whoami,
    /// May I? `orch auth can-i scale deployments -n shop`
    CanI {
        verb: String,
        resource: String,
        #[arg(short, long)]
        namespace: Option<String>,
    },
    /// Every subject that may, and through which binding.
    WhoCan {
        verb: String,
        resource: String,
        #[arg(short, long)]
        namespace: Option<String>,
    },
}

pub async fn auth(a: AuthArgs) -> anyhow::Result<()> {
    let api = Api::new(&a.conn);
    let q = |verb: String, resource: String, namespace: Option<String>| {
        let mut q = vec![("verb", verb), ("resource", resource)];
        if let Some(ns) = namespace {
            q.push(("namespace", ns));
        }
        q
    };
    match a.action {
        AuthAction::Whoami => {
            let v = api.get("/api/v1/auth/whoami", &[]).await?;
            println!(
                "{} ({}), groups {}",
                v["actor"].as_str().unwrap_or("?"),
                v["kind"].as_str().unwrap_or("?"),
                v["groups"]
            );
            for b in v["bindings"].as_array().into_iter().flatten() {
                println!(
                    "  {}  {} {}",
                    b["binding"].as_str().unwrap_or(""),
                    b["role"]["kind"].as_str().unwrap_or(""),
                    b["role"]["name"].as_str().unwrap_or("")
                );
            }
        }
        AuthAction::CanI {
            verb,
            resource,
            namespace,
        } => {
            let v = api
                .get("/api/v1/auth/can-i", &q(verb, resource, namespace))
                .await?;
            if v["allowed"] == true {
                println!(
                    "yes, through {} ({})",
                    v["binding"].as_str().unwrap_or(""),
                    v["role"].as_str().unwrap_or("")
                );
            } else {
                println!("no");
                std::process::exit(1);
            }
        }
        AuthAction::WhoCan {
            verb,
            resource,
            namespace,
        } => {
            let v = api
                .get("/api/v1/auth/who-can", &q(verb, resource, namespace))
                .await?;
            for s in v["subjects"].as_array().into_iter().flatten() {
                let who = match s["namespace"].as_str() {
                    Some(ns) => format!(
                        "{} {}/{}",
                        s["kind"].as_str().unwrap_or(""),
                        ns,
                        s["name"].as_str().unwrap_or("")
                    ),
                    None => format!(
                        "{} {}",
                        s["kind"].as_str().unwrap_or(""),
                        s["name"].as_str().unwrap_or("")
                    ),
                };
                println!(
                    "{who:<40} {:<40} {}",
                    s["binding"].as_str().unwrap_or(""),
                    s["role"].as_str().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}

pub async fn token(a: TokenArgs) -> anyhow::Result<()> {
    let api = Api::new(&a.conn);
    match a.action {
        TokenAction::Revoke => {
            let out = api
                .send(api.http.delete(format!("{}/api/v1/auth/token", api.base)))
                .await?;
            println!(
                "revoked the token of {}",
                out["actor"].as_str().unwrap_or("?")
            );
        }
        TokenAction::Create {
            subject,
            ttl_seconds,
            description,
        } => {
            let mut body = serde_json::Map::new();
            if let Some(s) = subject {
                body.insert("subject".into(), s.into());
            }
            if let Some(t) = ttl_seconds {
                body.insert("ttlSeconds".into(), t.into());
            }
            if let Some(d) = description {
                body.insert("description".into(), d.into());
            }
            let out = api
                .send(
                    api.http
                        .post(format!("{}/api/v1/tokens", api.base))
                        .json(&body),
                )
                .await?;
            eprintln!(
                "token {} for {}, expires {} (shown once):",
                out["tokenId"].as_str().unwrap_or("?"),
                out["subject"].as_str().unwrap_or("?"),
                out["expiresAt"].as_str().unwrap_or("?")
            );
            println!("{}", out["token"].as_str().unwrap_or(""));
        }
    }
    Ok(())
}
