//! The reconcilers' process loop: one view of the log, one heartbeat
//! watcher, and a pass every `tick` that runs the deployment controller,
//! the job and cron job controllers, the node lifecycle controller and the scheduler.

use domain::command as cmd;
use domain::event as ev;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use domain::CommandEnvelope;
use domain::event::Event;
use domain::ids::{NodeId, PodId};
use domain::model::NodeCondition;
use domain::reconcile::{self, LifecycleConfig, Planned, RolloutClock, ZoneLimiter};
use infra::kafka::{CommandBus, HeartbeatFollower, KafkaConfig};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::scheduler::SchedulerQueue;

#[derive(Debug, Clone)]
pub struct ReconcilerConfig {
    pub tick: Duration,
    pub lifecycle: LifecycleConfig,
    /// Resend a command that has not taken effect after this long.
    pub resend_after: Duration,
    /// At most this many pods created or bound per pass (a storm guard).
    pub max_per_pass: usize,
    /// A failed or evicted pod is deleted this long after it ended.
    pub failed_pod_ttl: Duration,
    /// A job's first retry waits this long; each further one twice as long (at most 6 min).
    pub job_backoff_base: Duration,
}

impl Default for ReconcilerConfig {
    fn default() -> Self {
        ReconcilerConfig {
            tick: Duration::from_millis(50),
            lifecycle: LifecycleConfig::default(),
            resend_after: Duration::from_secs(3),
            max_per_pass: 5000,
            failed_pod_ttl: Duration::from_secs(60),
            job_backoff_base: Duration::from_secs(10),
        }
    }
}

pub async fn run(
    kafka: KafkaConfig,
    cfg: ReconcilerConfig,
    shutdown: CancellationToken,
) -> infra::Result<()> {
    let bus = CommandBus::new(&kafka)?;
    let rejected: Arc<Mutex<Vec<Uuid>>> = Default::default();
    let created_at: Arc<Mutex<HashMap<PodId, DateTime<Utc>>>> = Default::default();
    let m_latency =
        infra::metrics::histogram("pod_schedule_latency_seconds", "PodCreated to PodBound");
    let m_bound = infra::metrics::counter("scheduler_pods_bound_total", "Pods bound");
    // When each node was last heard from: its heartbeats, and its registration
    // (an agent that registered was alive then, heartbeat or not).
    let last_seen: Arc<Mutex<HashMap<NodeId, i64>>> = Default::default();
    // When and why each pod that is not live any more ended, for pod garbage collection.
    let ended_at: Arc<Mutex<HashMap<PodId, (i64, String)>>> = Default::default();
    let (rej, created, seen, ended) = (
        rejected.clone(),
        created_at.clone(),
        last_seen.clone(),
        ended_at.clone(),
    );
    let view = infra::view::spawn_view(&kafka, 0, shutdown.clone(), move |_, batch| {
        let mut created = created.lock().unwrap();
        for env in &batch.events {
            match &env.body {
                Event::NodeRegistered(ev::NodeRegistered { node_id, .. }) => {
                    let mut s = seen.lock().unwrap();
                    let e = s.entry(*node_id).or_insert(0);
                    *e = (*e).max(env.occurred_at.timestamp_millis());
                }
                Event::CommandRejected(_) => rej.lock().unwrap().push(env.causation_id),
                Event::PodCreated(ev::PodCreated { pod_id, .. }) => {
                    created.insert(*pod_id, env.occurred_at);
                }
                Event::PodBound(ev::PodBound { pod_id, .. }) => {
                    if let Some(c) = created.remove(pod_id) {
                        m_latency.observe(
                            (env.occurred_at - c).num_microseconds().unwrap_or(0) as f64 / 1e6,
                        );
                    }
                    m_bound.fetch_add(1, Ordering::Relaxed);
                }
                Event::PodDeleted(ev::PodDeleted { pod_id, .. }) => {
                    created.remove(pod_id);
                    ended.lock().unwrap().remove(pod_id);
                }
                Event::PodFailed(ev::PodFailed { pod_id, reason, .. })
                | Event::PodEvicted(ev::PodEvicted { pod_id, reason, .. }) => {
                    ended.lock().unwrap().insert(
                        *pod_id,
                        (env.occurred_at.timestamp_millis(), reason.clone()),
                    );
                }
                _ => {}
            }
        }
    })
    .await?;

    let m_hb = infra::metrics::counter(
        "reconciler_heartbeats_total",
        "Heartbeats read by the node lifecycle controller",
    );
    let m_hb_seconds = infra::metrics::histogram(
        "reconciler_heartbeat_batch_seconds",
        "Time to apply one polled batch of heartbeats (excluding the Kafka fetch)",
    );
    // Node liveness is decided only once every heartbeat the topic held at
    // start has been read: before that a node long dead would look fresh
    // (and one alive would look silent).
    let watch_started = Utc::now().timestamp_millis();
    let (_, hb_end) = kafka.watermarks(&kafka.heartbeats_topic()).await?;
    let heartbeats_read = Arc::new(std::sync::atomic::AtomicBool::new(hb_end == 0));
    {
        let mut hb = HeartbeatFollower::new(&kafka)?;
        let seen = last_seen.clone();
        let stop = shutdown.clone();
        let read = heartbeats_read.clone();
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = stop.cancelled() => return,
                    g = hb.next(10_000, Duration::from_millis(500)) => g,
                };
                match got {
                    Ok(hbs) => {
                        // At the end of what the topic held at start (or nothing more to read:
                        // compaction may have removed the offsets just before the end).
                        if (hbs.is_empty() || hb.next_offset >= hb_end)
                            && !read.swap(true, Ordering::Relaxed)
                        {
                            tracing::info!(
                                nodes = seen.lock().unwrap().len(),
                                "read every node's last heartbeat; node liveness is now decided"
                            );
                        }
                        let t = Instant::now();
                        let n = hbs.len() as u64;
                        let mut s = seen.lock().unwrap();
                        for h in hbs {
                            let e = s.entry(NodeId(h.node_id)).or_insert(0);
                            *e = (*e).max(h.sent_at.timestamp_millis());
                        }
                        drop(s);
                        m_hb_seconds.observe(t.elapsed().as_secs_f64());
                        m_hb.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "heartbeat follower failed; retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        });
    }

    let mut queue = SchedulerQueue::new(cfg.max_per_pass);
    let mut limiter = ZoneLimiter::default();
    let mut rollout_clock = RolloutClock::default();
    let mut set_clock = reconcile::ReadyClock::default();
    let m_held = infra::metrics::gauge(
        "node_evictions_held_back",
        "Lost nodes waiting for their zone's eviction rate limit",
    );
    let mut recently_sent: HashMap<Uuid, Instant> = HashMap::new();
    let m_depth = infra::metrics::gauge("scheduler_queue_depth", "Pods waiting for a node");
    let m_not_ready = infra::metrics::gauge("node_not_ready_count", "Nodes NotReady or Lost");
    let m_fail = infra::metrics::counter(
        "controller_reconcile_failures_total",
        "Reconcile passes whose commands could not be sent",
    );
    let m_passes = infra::metrics::counter("controller_reconcile_passes_total", "Reconcile passes");
    let mut ticker = tokio::time::interval(cfg.tick);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let now = Instant::now();
        for id in rejected.lock().unwrap().drain(..) {
            queue.rejected(id);
            recently_sent.remove(&id);
        }
        let mut planned: Vec<Planned> = Vec::new();
        let binds;
        // What caused each command (the deployment's last request), for its correlation id.
        let (causes, bind_causes): (Vec<Option<Uuid>>, Vec<Option<Uuid>>);
        {
            let state = view.state.read().await;
            let now_ms = Utc::now().timestamp_millis();
            planned.extend(
                reconcile::deployments(&state, (now_ms / 5_000) as u64)
                    .into_iter()
                    .take(cfg.max_per_pass),
            );
            planned.extend(
                reconcile::jobs(&state, now_ms, cfg.job_backoff_base.as_millis() as i64)
                    .into_iter()
                    .take(cfg.max_per_pass),
            );
            planned.extend(
                reconcile::stateful_sets(&state, now_ms, &mut set_clock)
                    .into_iter()
                    .take(cfg.max_per_pass),
            );
            planned.extend(reconcile::job_pod_ttl(&state, now_ms, 1000));
            planned.extend(reconcile::cron_jobs(&state, now_ms));
            planned.extend(reconcile::namespaces(&state));
            planned.extend(reconcile::rollout_deadlines(
                &state,
                now_ms,
                &mut rollout_clock,
            ));
            let liveness_known = heartbeats_read.load(Ordering::Relaxed);
            if liveness_known {
                // Held only for this pure pass (no await), instead of copying the map every tick.
                let seen = last_seen.lock().unwrap();
                planned.extend(reconcile::node_lifecycle(
                    &state,
                    |n| seen.get(&n).copied(),
                    Utc::now().timestamp_millis(),
                    watch_started,
                    cfg.lifecycle,
                    &mut limiter,
                ));
            }
            m_held.store(limiter.held_back as i64, Ordering::Relaxed);
            {
                let ended = ended_at.lock().unwrap();
                planned.extend(reconcile::pod_gc(
                    &state,
                    ended.iter().map(|(p, (at, why))| (*p, *at, why.as_str())),
                    now_ms,
                    cfg.failed_pod_ttl.as_millis() as i64,
                    1000,
                ));
            }
            planned.extend(reconcile::evictions(
                &state,
                Utc::now().timestamp_millis(),
                cfg.resend_after.as_millis() as i64,
            ));
            // Placing pods before liveness is known could bind them to a dead node
            // that still looks Ready; once known, this pass's MarkNodeNotReady
            // commands go first in the log, so the decider refuses a bind to those nodes.
            binds = if liveness_known {
                queue.plan(&state, now)
            } else {
                Vec::new()
            };
            causes = planned.iter().map(|p| state.cause_of(&p.command)).collect();
            bind_causes = binds.iter().map(|b| state.cause_of(&b.command)).collect();
            m_depth.store(queue.depth as i64, Ordering::Relaxed);
            m_not_ready.store(
                state
                    .nodes
                    .values()
                    .filter(|n| n.condition != NodeCondition::Ready)
                    .count() as i64,
                Ordering::Relaxed,
            );
        }
        recently_sent.retain(|_, at| now.duration_since(*at) < cfg.resend_after);
        let mut envs: Vec<CommandEnvelope> = Vec::with_capacity(planned.len() + binds.len());
        for (p, cause) in planned.into_iter().zip(causes) {
            if recently_sent.contains_key(&p.command_id) {
                continue;
            }
            recently_sent.insert(p.command_id, now);
            envs.push(
                CommandEnvelope::new(p.command_id, "system:controller", Some(p.reason), p.command)
                    .caused_by(cause),
            );
        }
        for (b, cause) in binds.into_iter().zip(bind_causes) {
            let reason = match &b.command {
                domain::command::Command::BindPod(cmd::BindPod { preempt, .. })
                    if !preempt.is_empty() =>
                {
                    format!(
                        "no node fits; preempting {} lower-priority pod(s)",
                        preempt.len()
                    )
                }
                domain::command::Command::MarkPodUnschedulable(_) => "no node fits".into(),
                _ => "scheduled".into(),
            };
            envs.push(
                CommandEnvelope::new(b.command_id, "system:scheduler", Some(reason), b.command)
                    .caused_by(cause),
            );
        }
        m_passes.fetch_add(1, Ordering::Relaxed);
        if envs.is_empty() {
            continue;
        }
        if let Err(e) = bus.send_all(&envs).await {
            m_fail.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "sending reconcile commands failed; the next pass retries");
            for env in &envs {
                recently_sent.remove(&env.command_id);
                queue.rejected(env.command_id);
            }
        }
    }
}
