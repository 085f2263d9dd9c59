//! The gateway component: an HTTP reverse proxy (the `gateway` crate) whose
//! routes come from an in-memory view of the event log. Each projected batch
//! rebuilds the route table, so a pod that stops being Ready (or is deleted)
//! leaves its service's endpoints as soon as the gateway reads that event.
//!
//! Network policies are enforced here, for every request through the
//! gateway: the caller is a pod when it sends a valid `X-Orch-Pod-Token`
//! (its agent gave it `ORCH_POD_TOKEN`, an HMAC under a key derived from the
//! secrets' key ring), else outside the cluster; each endpoint whose pod a
//! policy isolates from the caller is left out, and with none left the
//! answer is `403 NETWORK_POLICY_DENIED`. A policy change applies from the
//! batch that records it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use domain::networkpolicy::{NetworkPolicy, Source, admits};
use gateway::{Caller, Resolve, Route};
use infra::kafka::KafkaConfig;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
struct Entry {
    service: String,
    host: Option<String>,
    prefix: String,
    endpoints: Vec<SocketAddr>,
}

type Labels = BTreeMap<String, String>;

/// What verdicts need, built only while some policy exists.
#[derive(Default)]
struct Policies {
    policies: Vec<NetworkPolicy>,
    /// Each endpoint's pod (a key of `pods`).
    endpoints: HashMap<SocketAddr, String>,
    /// Every live pod, as a caller: namespace and labels.
    pods: HashMap<String, (String, Labels)>,
    namespaces: HashMap<String, Labels>,
}

/// Services with their Ready endpoints, most specific route first.
#[derive(Default)]
pub struct Table {
    entries: RwLock<Vec<Entry>>,
    policies: RwLock<Policies>,
    /// Pods' identities are checked with it (none: every caller is external,
    /// and a token is refused).
    keys: Option<Arc<infra::keyring::Keys>>,
}

impl Table {
    fn rebuild_policies(&self, state: &domain::State) {
        let mut p = Policies::default();
        if !state.network_policies.is_empty() {
            p.policies = state.network_policies.values().cloned().collect();
            for id in state.pods.keys() {
                if let Some((ns, labels)) = state.pod_labels(*id) {
                    p.namespaces
                        .entry(ns.clone())
                        .or_insert_with(|| state.namespace_labels(&ns));
                    p.pods.insert(id.to_string(), (ns, labels));
                }
            }
            for (id, addr) in &state.addresses {
                let id = id.to_string();
                if let (true, Ok(a)) = (p.pods.contains_key(&id), addr.parse()) {
                    p.endpoints.insert(a, id);
                }
            }
        }
        *self.policies.write().unwrap() = p;
    }

    fn rebuild(&self, state: &domain::State) {
        self.rebuild_policies(state);
        let mut entries: Vec<Entry> = Vec::new();
        for s in state.services.values() {
            let endpoints: Vec<(domain::PodId, SocketAddr)> = state
                .endpoints(s)
                .into_iter()
                .filter_map(|(p, a)| Some((p, a.parse().ok()?)))
                .collect();
            // A StatefulSet's pods are each reachable by name under the service
            // (`<pod>.<service>`, or with the namespace `<pod>.<service>.<namespace>`).
            for (pod_id, addr) in &endpoints {
                let Some(pod) = state.pods.get(pod_id) else {
                    continue;
                };
                let Some(set) = pod
                    .owner
                    .stateful_set()
                    .and_then(|id| state.stateful_sets.get(&id))
                else {
                    continue;
                };
                let host = format!("{}.{}", set.spec.pod_name(pod.ordinal), s.spec.name);
                for host in [format!("{host}.{}", s.spec.namespace), host] {
                    entries.push(Entry {
                        service: format!("{}/{}/{}", s.spec.namespace, s.spec.name, host),
                        host: Some(host),
                        prefix: "/".into(),
                        endpoints: vec![*addr],
                    });
                }
            }
            entries.push(Entry {
                service: format!("{}/{}", s.spec.namespace, s.spec.name),
                host: s.spec.host.clone(),
                prefix: s.spec.path_prefix.clone(),
                endpoints: endpoints.into_iter().map(|(_, a)| a).collect(),
            });
        }
        // A named host before any host, then the longest prefix.
        entries.sort_by(|a, b| {
            (b.host.is_some(), b.prefix.len(), &a.service).cmp(&(
                a.host.is_some(),
                a.prefix.len(),
                &b.service,
            ))
        });
        *self.entries.write().unwrap() = entries;
    }
}

impl Resolve for Table {
    fn route(&self, host: &str, path: &str) -> Option<Route> {
        let entries = self.entries.read().unwrap();
        entries
            .iter()
            .find(|e| {
                e.host.as_deref().is_none_or(|h| h == host) && path.starts_with(e.prefix.as_str())
            })
            .map(|e| Route {
                service: e.service.clone(),
                endpoints: e.endpoints.clone(),
            })
    }

    fn identify(&self, token: &str) -> Result<String, String> {
        let keys = self
            .keys
            .as_ref()
            .ok_or("this gateway has no key ring to verify pod identities with")?;
        // The ring is read again only for a key it does not hold yet.
        let key_id = token.split('.').nth(1).unwrap_or_default();
        keys.ring_with(key_id)
            .and_then(|r| r.verify_pod_token(token))
            .map_err(|e| e.0)
    }

    fn admit(&self, route: Route, caller: &Caller) -> Result<Route, String> {
        let p = self.policies.read().unwrap();
        if p.policies.is_empty() {
            return Ok(route);
        }
        let (source, who) = match caller {
            Caller::External => (Source::External, "a caller outside the cluster".to_string()),
            Caller::Pod(id) => {
                let Some((ns, labels)) = p.pods.get(id) else {
                    return Err(format!("pod {id} is not a live pod of this cluster"));
                };
                let namespace_labels = &p.namespaces[ns];
                (
                    Source::Pod {
                        namespace: ns,
                        labels,
                        namespace_labels,
                    },
                    format!("pod {id} of namespace {ns}"),
                )
            }
        };
        let mut refused = None;
        let endpoints: Vec<SocketAddr> = route
            .endpoints
            .iter()
            .copied()
            .filter(|e| match p.endpoints.get(e).and_then(|id| p.pods.get(id)) {
                None => true,
                Some((ns, labels)) => {
                    let v = admits(&p.policies, ns, labels, e.port(), &source);
                    if !v.allowed {
                        refused = Some((ns.clone(), v.isolated_by));
                    }
                    v.allowed
                }
            })
            .collect();
        match (endpoints.is_empty(), refused) {
            (true, Some((ns, by))) => Err(format!(
                "{who} may not reach service {}: network policy {} of namespace {ns} isolates its pods and no rule admits this caller",
                route.service,
                by.join(", ")
            )),
            _ => Ok(Route { endpoints, ..route }),
        }
    }
}

/// Follow the log and serve the gateway on `listener` until shutdown.
pub async fn run(
    kafka: KafkaConfig,
    listener: tokio::net::TcpListener,
    keys: infra::keyring::KeySource,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let table = Arc::new(Table {
        keys: Some(Arc::new(infra::keyring::Keys::new(keys))),
        ..Default::default()
    });
    let view = infra::view::spawn_view(&kafka, 0, shutdown.clone(), |_, _| {}).await?;
    {
        let (table, state, mut offset, stop) = (
            table.clone(),
            view.state.clone(),
            view.offset.clone(),
            shutdown.clone(),
        );
        tokio::spawn(async move {
            loop {
                table.rebuild(&*state.read().await);
                tokio::select! {
                    _ = stop.cancelled() => return,
                    r = offset.changed() => if r.is_err() { return },
                }
            }
        });
    }
    gateway::serve(listener, table, gateway::GatewayConfig::default(), shutdown).await?;
    Ok(())
}
