//! Kafka: topic names and creation, producers, and followers that read a
//! topic partition from an explicit offset. Nothing here relies on a
//! broker-specific behaviour; the dev broker and Apache Kafka get the same
//! settings (no transactions anywhere).

use std::time::Duration;

use chrono::{DateTime, Utc};
use domain::event::DecodeError;
use domain::{CommandEnvelope, EventBatch};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{Error, Result};

/// Where the log lives. `prefix` lets several clusters (or tests) share one broker.
#[derive(Debug, Clone)]
pub struct KafkaConfig {
    pub brokers: String,
    pub prefix: String,
}

/// The single cell's partition: one cell is one partition of each log topic.
pub const CELL_PARTITION: i32 = 0;

impl KafkaConfig {
    pub fn commands_topic(&self) -> String {
        format!("{}orch.commands", self.prefix)
    }
    pub fn events_topic(&self) -> String {
        format!("{}orch.events", self.prefix)
    }
    pub fn heartbeats_topic(&self) -> String {
        format!("{}orch.heartbeats", self.prefix)
    }

    fn base(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers)
            .set("broker.address.family", "v4")
            .set("socket.keepalive.enable", "true");
        c
    }

    /// Creates the topics if missing, with partitions and retention set explicitly.
    pub async fn ensure_topics(&self) -> Result<()> {
        let admin: AdminClient<DefaultClientContext> = self.base().create()?;
        let commands = self.commands_topic();
        let events = self.events_topic();
        let heartbeats = self.heartbeats_topic();
        let week = (7 * 24 * 3600 * 1000i64).to_string();
        let topics = [
            // Commands are consumed once; the decider's output is its checkpoint.
            NewTopic::new(&commands, 1, TopicReplication::Fixed(1)).set("retention.ms", &week),
            // Events are the system of record: kept forever.
            NewTopic::new(&events, 1, TopicReplication::Fixed(1))
                .set("retention.ms", "-1")
                .set("retention.bytes", "-1"),
            // Only the last heartbeat of each node matters.
            NewTopic::new(&heartbeats, 1, TopicReplication::Fixed(1))
                .set("cleanup.policy", "compact"),
        ];
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = admin.create_topics(&topics, &opts).await?;
        for r in results {
            match r {
                Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, e)) => return Err(Error::Other(format!("creating topic {t}: {e}"))),
            }
        }
        Ok(())
    }

    /// Idempotent producer settings (acks=all): retries never duplicate or reorder.
    fn idempotent(&self, linger_ms: u32) -> ClientConfig {
        let mut c = self.base();
        c.set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", linger_ms.to_string())
            .set("batch.num.messages", "10000")
            .set("queue.buffering.max.messages", "1000000")
            .set("message.timeout.ms", "30000");
        c
    }

    /// Idempotent producer (acks=all): retries never duplicate or reorder.
    pub fn producer(&self, linger_ms: u32) -> Result<FutureProducer> {
        Ok(self.idempotent(linger_ms).create()?)
    }

    /// The decider's producer: idempotent, and a failure that could leave a
    /// gap in the event log stops it (fatal) instead of skipping a batch.
    /// Batches of large commands may exceed the 1 MB default.
    pub fn event_producer(&self) -> Result<FutureProducer> {
        Ok(self
            .idempotent(2)
            .set("enable.gapless.guarantee", "true")
            .set("message.max.bytes", "10000000")
            .create()?)
    }

    /// A consumer of one partition from an explicit offset: no group
    /// membership, no committed offsets; the reader keeps its own position.
    pub fn reader(&self, topic: &str, offset: Offset) -> Result<StreamConsumer> {
        let consumer: StreamConsumer = self
            .base()
            .set("group.id", format!("orch-reader-{}", Uuid::new_v4()))
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("fetch.wait.max.ms", "20")
            .set("fetch.min.bytes", "1")
            .set("auto.offset.reset", "earliest")
            .create()?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, CELL_PARTITION, offset)?;
        consumer.assign(&tpl)?;
        Ok(consumer)
    }

    /// (low, high) watermarks of the cell partition of `topic`.
    pub async fn watermarks(&self, topic: &str) -> Result<(i64, i64)> {
        let consumer: StreamConsumer = self.base().set("group.id", "orch-watermarks").create()?;
        let topic = topic.to_string();
        let w = tokio::task::spawn_blocking(move || {
            consumer.fetch_watermarks(&topic, CELL_PARTITION, Duration::from_secs(10))
        })
        .await
        .map_err(|e| Error::Other(e.to_string()))??;
        Ok(w)
    }
}

/// Sends commands to the command topic.
#[derive(Clone)]
pub struct CommandBus {
    producer: FutureProducer,
    topic: String,
}

impl CommandBus {
    pub fn new(cfg: &KafkaConfig) -> Result<Self> {
        Ok(CommandBus {
            producer: cfg.producer(2)?,
            topic: cfg.commands_topic(),
        })
    }

    /// Enqueue without waiting for the broker.
    pub fn enqueue(&self, env: &CommandEnvelope) -> Result<DeliveryFuture> {
        let payload = serde_json::to_vec(env).map_err(|e| Error::Other(e.to_string()))?;
        let key = env.command_id.to_string();
        let headers = OwnedHeaders::new().insert(Header {
            key: "type",
            value: Some(env.body.type_name()),
        });
        let record = FutureRecord::to(&self.topic)
            .partition(CELL_PARTITION)
            .key(&key)
            .payload(&payload)
            .headers(headers);
        match self.producer.send_result(record) {
            Ok(f) => Ok(f),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => Err(
                Error::Other("producer queue full: the broker is not keeping up".into()),
            ),
            Err((e, _)) => Err(e.into()),
        }
    }

    /// Send and wait until the broker has it (acks=all).
    pub async fn send(&self, env: &CommandEnvelope) -> Result<i64> {
        let f = self.enqueue(env)?;
        wait_delivery(f).await
    }

    /// Send many, then wait for all of them.
    pub async fn send_all(&self, envs: &[CommandEnvelope]) -> Result<()> {
        let mut futs = Vec::with_capacity(envs.len());
        for e in envs {
            futs.push(self.enqueue(e)?);
        }
        for f in futs {
            wait_delivery(f).await?;
        }
        Ok(())
    }
}

pub async fn wait_delivery(f: DeliveryFuture) -> Result<i64> {
    match f.await {
        Ok(Ok(d)) => Ok(d.offset),
        Ok(Err((e, _))) => Err(e.into()),
        Err(_) => Err(Error::Other("producer dropped before delivery".into())),
    }
}

/// Reads event batches in order from an offset, dropping those written by a
/// fenced-off decider (an epoch lower than one already seen).
pub struct EventFollower {
    consumer: StreamConsumer,
    pub max_epoch: u64,
    pub next_offset: i64,
}

impl EventFollower {
    pub fn new(cfg: &KafkaConfig, from: i64, max_epoch: u64) -> Result<Self> {
        let consumer = cfg.reader(&cfg.events_topic(), Offset::Offset(from))?;
        Ok(EventFollower {
            consumer,
            max_epoch,
            next_offset: from,
        })
    }

    /// Up to `max` batches; waits at most `wait` for the first one.
    /// Stale-epoch batches advance the offset but are not returned.
    pub async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<(i64, EventBatch)>> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        let mut seen = 0;
        while seen < max {
            let remaining = if seen == 0 {
                deadline.saturating_duration_since(tokio::time::Instant::now())
            } else {
                Duration::from_millis(0)
            };
            let msg = if remaining.is_zero() {
                match futures::FutureExt::now_or_never(self.consumer.recv()) {
                    Some(m) => m,
                    None => break,
                }
            } else {
                match tokio::time::timeout(remaining, self.consumer.recv()).await {
                    Ok(m) => m,
                    Err(_) => break,
                }
            };
            let msg = msg?;
            let offset = msg.offset();
            seen += 1;
            self.next_offset = offset + 1;
            let Some(payload) = msg.payload() else {
                continue;
            };
            let batch = EventBatch::decode(payload).map_err(|e| Error::Decode {
                offset,
                source: match e {
                    DecodeError::Json(source) => source,
                    // `Error::Decode` carries a serde_json error; the
                    // message (a newer release wrote it, …) is what matters.
                    other => serde::de::Error::custom(other),
                },
            })?;
            if batch.epoch < self.max_epoch {
                tracing::warn!(
                    offset,
                    epoch = batch.epoch,
                    max_epoch = self.max_epoch,
                    "ignoring a fenced decider's batch"
                );
                continue;
            }
            self.max_epoch = batch.epoch;
            out.push((offset, batch));
        }
        Ok(out)
    }
}

impl EventFollower {
    /// The next poll, retrying (and logging) after an error, until it
    /// succeeds or `shutdown` fires (`None`): the loop of every follower task.
    pub async fn next_until(
        &mut self,
        shutdown: &tokio_util::sync::CancellationToken,
        max: usize,
        wait: Duration,
    ) -> Option<Vec<(i64, EventBatch)>> {
        loop {
            let got = tokio::select! {
                _ = shutdown.cancelled() => return None,
                g = self.next(max, wait) => g,
            };
            match got {
                Ok(b) => return Some(b),
                Err(e) => {
                    tracing::error!(error = %e, offset = self.next_offset, "event follower failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return None,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    }
                }
            }
        }
    }
}

/// Reads raw command records in order from an offset.
pub struct CommandFollower {
    consumer: StreamConsumer,
}

impl CommandFollower {
    pub fn new(cfg: &KafkaConfig, from: i64) -> Result<Self> {
        Ok(CommandFollower {
            consumer: cfg.reader(&cfg.commands_topic(), Offset::Offset(from))?,
        })
    }

    /// Up to `max` commands; a record that does not decode is returned as `Err` text.
    pub async fn next(
        &mut self,
        max: usize,
        wait: Duration,
    ) -> Result<Vec<(i64, Result<CommandEnvelope, String>)>> {
        let mut out = Vec::new();
        let first = match tokio::time::timeout(wait, self.consumer.recv()).await {
            Ok(m) => m?,
            Err(_) => return Ok(out),
        };
        out.push(decode_command(&first));
        while out.len() < max {
            match futures::FutureExt::now_or_never(self.consumer.recv()) {
                Some(m) => out.push(decode_command(&m?)),
                None => break,
            }
        }
        Ok(out)
    }
}

fn decode_command(
    m: &rdkafka::message::BorrowedMessage<'_>,
) -> (i64, Result<CommandEnvelope, String>) {
    let decoded = match m.payload() {
        Some(p) => serde_json::from_slice(p).map_err(|e| e.to_string()),
        None => Err("empty command record".to_string()),
    };
    (m.offset(), decoded)
}

/// A node agent's heartbeat. Not an event: it goes to a compacted topic keyed by node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Heartbeat {
    pub node_id: Uuid,
    pub sent_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct HeartbeatSender {
    producer: FutureProducer,
    topic: String,
}

impl HeartbeatSender {
    pub fn new(cfg: &KafkaConfig) -> Result<Self> {
        // Heartbeats are best-effort: a lost one is covered by the next.
        let producer = cfg
            .base()
            .set("acks", "1")
            .set("linger.ms", "20")
            .set("queue.buffering.max.messages", "1000000")
            .create()?;
        Ok(HeartbeatSender {
            producer,
            topic: cfg.heartbeats_topic(),
        })
    }

    pub fn send(&self, hb: &Heartbeat) -> Result<DeliveryFuture> {
        let payload = serde_json::to_vec(hb).map_err(|e| Error::Other(e.to_string()))?;
        let key = hb.node_id.to_string();
        let record = FutureRecord::to(&self.topic)
            .partition(CELL_PARTITION)
            .key(&key)
            .payload(&payload);
        self.producer.send_result(record).map_err(|(e, _)| e.into())
    }
}

/// Reads the heartbeat topic from its beginning: the compacted topic holds
/// each node's last heartbeat, so a restarted reader knows how long every
/// node has really been silent once it has read up to the end.
pub struct HeartbeatFollower {
    consumer: StreamConsumer,
    /// The offset after the last record read.
    pub next_offset: i64,
}

impl HeartbeatFollower {
    pub fn new(cfg: &KafkaConfig) -> Result<Self> {
        Ok(HeartbeatFollower {
            consumer: cfg.reader(&cfg.heartbeats_topic(), Offset::Beginning)?,
            next_offset: 0,
        })
    }

    pub async fn next(&mut self, max: usize, wait: Duration) -> Result<Vec<Heartbeat>> {
        let mut out = Vec::new();
        let first = match tokio::time::timeout(wait, self.consumer.recv()).await {
            Ok(m) => m?,
            Err(_) => return Ok(out),
        };
        let next_offset = &mut self.next_offset;
        let mut push = |m: &rdkafka::message::BorrowedMessage<'_>| {
            *next_offset = (*next_offset).max(m.offset() + 1);
            if let Some(hb) = m
                .payload()
                .and_then(|p| serde_json::from_slice::<Heartbeat>(p).ok())
            {
                out.push(hb);
            }
        };
        push(&first);
        for _ in 1..max {
            match futures::FutureExt::now_or_never(self.consumer.recv()) {
                Some(m) => push(&m?),
                None => break,
            }
        }
        Ok(out)
    }
}
