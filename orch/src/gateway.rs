//! The gateway component: an HTTP reverse proxy (the `gateway` crate) whose
//! routes come from an in-memory view of the event log. Each projected batch
//! rebuilds the route table, so a pod that stops being Ready (or is deleted)
//! leaves its service's endpoints as soon as the gateway reads that event.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use gateway::{Resolve, Route};
use infra::kafka::KafkaConfig;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
struct Entry {
    service: String,
    host: Option<String>,
    prefix: String,
    endpoints: Vec<SocketAddr>,
}

/// Services with their Ready endpoints, most specific route first.
#[derive(Default)]
pub struct Table {
    entries: RwLock<Vec<Entry>>,
}

impl Table {
    fn rebuild(&self, state: &domain::State) {
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
}

/// Follow the log and serve the gateway on `listener` until shutdown.
pub async fn run(
    kafka: KafkaConfig,
    listener: tokio::net::TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let table = Arc::new(Table::default());
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
