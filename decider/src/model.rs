//! The write model: domain state plus what the decider needs to answer each
//! command exactly once. Pure: tested without Kafka or PostgreSQL.

use domain::event as ev;
use std::collections::VecDeque;

use domain::ids::IdSet;

use chrono::{DateTime, Utc};
use domain::event::SCHEMA_VERSION;
use domain::{CommandEnvelope, Event, EventBatch, EventEnvelope, State, decide};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How many recent command ids are remembered for duplicate detection.
const DEDUPE_WINDOW: usize = 1_000_000;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct WriteModel {
    pub state: State,
    /// The next command offset to read.
    pub commands_next: i64,
    /// The next event offset to fold.
    pub events_next: i64,
    pub max_epoch: u64,
    handled: VecDeque<Uuid>,
    #[serde(skip)]
    handled_set: IdSet<Uuid>,
}

impl WriteModel {
    pub fn after_load(&mut self) {
        self.state.rebuild_indexes();
        self.handled_set = self.handled.iter().copied().collect();
    }

    fn remember(&mut self, id: Uuid) {
        if self.handled_set.insert(id) {
            self.handled.push_back(id);
            if self.handled.len() > DEDUPE_WINDOW
                && let Some(old) = self.handled.pop_front()
            {
                self.handled_set.remove(&old);
            }
        }
    }

    /// Estimated heap bytes: the state plus the command-id dedupe window.
    pub fn estimated_bytes(&self) -> usize {
        let id = std::mem::size_of::<Uuid>();
        self.state.estimated_bytes()
            + self.handled.capacity() * id
            + self.handled_set.capacity() * (id + 1)
    }

    pub fn has_handled(&self, id: &Uuid) -> bool {
        self.handled_set.contains(id)
    }

    /// Fold one of our own batches (rebuild after a restart).
    pub fn fold(&mut self, offset: i64, batch: &EventBatch) {
        for env in &batch.events {
            self.state.apply(env);
        }
        self.remember(batch.command_id);
        self.commands_next = self.commands_next.max(batch.command_offset + 1);
        self.events_next = offset + 1;
        self.max_epoch = self.max_epoch.max(batch.epoch);
    }

    /// Decide one command read at `offset`; returns the batch to produce, or
    /// `None` when the command was already handled or changes nothing.
    pub fn handle(
        &mut self,
        offset: i64,
        cmd: &CommandEnvelope,
        epoch: u64,
        now: DateTime<Utc>,
    ) -> Option<EventBatch> {
        self.commands_next = offset + 1;
        if self.has_handled(&cmd.command_id) {
            return None;
        }
        // Authorized again by the single writer: a grant revoked while the
        // request was in flight, or a component writing to the log directly,
        // is held to what its subject may do now.
        let decision = domain::rbac::authorize::command(&self.state, &cmd.actor, &cmd.body)
            .and_then(|()| decide(&self.state, &cmd.body));
        let events = match decision {
            Ok(events) if events.is_empty() && !cmd.reply => return None,
            Ok(events) => events,
            Err(r) => vec![Event::CommandRejected(ev::CommandRejected {
                command_type: cmd.body.type_name().to_string(),
                code: r.code,
                message: r.message,
                fields: r.fields,
                quota: r.quota.map(|q| *q),
            })],
        };
        let mut envelopes = Vec::with_capacity(events.len());
        for (i, body) in events.into_iter().enumerate() {
            let aggregate = body.aggregate(cmd.command_id);
            let sequence = self.state.version_of(&aggregate) + 1;
            let env = EventEnvelope {
                event_id: EventEnvelope::event_id_for(cmd.command_id, i),
                causation_id: cmd.command_id,
                correlation_id: cmd.correlation_id,
                aggregate,
                sequence,
                occurred_at: now,
                actor: cmd.actor.clone(),
                reason: cmd.reason.clone(),
                command: Some(cmd.body.type_name().to_string()),
                schema_version: SCHEMA_VERSION,
                body,
            };
            self.state.apply(&env);
            envelopes.push(env);
        }
        self.remember(cmd.command_id);
        Some(EventBatch {
            command_id: cmd.command_id,
            command_offset: offset,
            epoch,
            events: envelopes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::command as cmd;
    use domain::command::Command;
    use domain::testing::*;

    fn cmd(body: Command) -> CommandEnvelope {
        CommandEnvelope::new(Uuid::now_v7(), "admin", Some("test".into()), body)
    }

    #[test]
    fn a_repeated_command_is_answered_once_and_a_rebuilt_model_agrees() {
        let mut live = WriteModel::default();
        let mut log = Vec::new();
        let register = cmd(Command::RegisterNode(cmd::RegisterNode {
            node_id: domain::NodeId::from_name("n1"),
            spec: node_spec("n1", "az-a", 4000, 4096),
        }));
        let create = cmd(Command::CreateDeployment(cmd::CreateDeployment {
            deployment_id: deployment_id(1),
            spec: deployment_spec("web", 2, 100, 100),
        }));
        for (off, c) in [register.clone(), create.clone(), create.clone()]
            .iter()
            .enumerate()
        {
            if let Some(b) = live.handle(off as i64, c, 1, Utc::now()) {
                log.push((off as i64, b));
            }
        }
        assert_eq!(log.len(), 2, "the duplicate produced nothing");
        let seqs: Vec<u64> = log
            .iter()
            .flat_map(|(_, b)| b.events.iter().map(|e| e.sequence))
            .collect();
        assert_eq!(seqs, vec![1, 1]);
        let mut rebuilt = WriteModel::default();
        for (i, (_, b)) in log.iter().enumerate() {
            rebuilt.fold(i as i64, b);
        }
        assert_eq!(rebuilt.state, live.state);
        assert_eq!(rebuilt.commands_next, 2);
        assert!(rebuilt.has_handled(&create.command_id));
        // A snapshot round trip keeps duplicate detection.
        let mut snap: WriteModel =
            serde_json::from_str(&serde_json::to_string(&rebuilt).unwrap()).unwrap();
        snap.after_load();
        assert!(snap.handle(5, &create, 2, Utc::now()).is_none());
    }

    #[test]
    fn a_command_that_changes_nothing_is_answered_only_when_someone_waits() {
        let mut m = WriteModel::default();
        let spec = node_spec("n1", "az-a", 1000, 1000);
        let register = || {
            Command::RegisterNode(cmd::RegisterNode {
                node_id: domain::NodeId::from_name("n1"),
                spec: spec.clone(),
            })
        };
        assert!(m.handle(0, &cmd(register()), 1, Utc::now()).is_some());
        assert!(
            m.handle(1, &cmd(register()), 1, Utc::now()).is_none(),
            "a reconciler's no-op leaves no trace"
        );
        let answered = m
            .handle(2, &cmd(register()).with_reply(), 1, Utc::now())
            .unwrap();
        assert!(
            answered.events.is_empty(),
            "an API caller gets an empty batch"
        );
    }

    #[test]
    fn a_rejected_command_yields_a_command_rejected_event() {
        let mut m = WriteModel::default();
        let c = cmd(Command::ScaleDeployment(cmd::ScaleDeployment {
            deployment_id: deployment_id(9),
            replicas: 3,
        }));
        let b = m.handle(0, &c, 1, Utc::now()).unwrap();
        match &b.events[0].body {
            Event::CommandRejected(ev::CommandRejected { code, .. }) => {
                assert_eq!(*code, domain::RejectionCode::NotFound)
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(b.events[0].causation_id, c.command_id);
    }
}
