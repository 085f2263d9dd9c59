-- Projections of orch.events. Every table here is rebuilt by replaying the log;
-- nothing writes them but the projector. Documented for SQL/BI use in docs/tables.md.

CREATE TABLE workload_def (
    id                 uuid PRIMARY KEY,
    namespace          text NOT NULL,
    name               text NOT NULL,
    kind               text NOT NULL,
    desired_replicas   integer NOT NULL,
    image              text NOT NULL,
    cpu_request_milli  integer NOT NULL,
    cpu_limit_milli    integer NOT NULL,
    mem_request_mb     integer NOT NULL,
    mem_limit_mb       integer NOT NULL,
    strategy           jsonb NOT NULL,
    spec               jsonb NOT NULL,
    revision           bigint NOT NULL,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    UNIQUE (namespace, name)
);

CREATE TABLE pod_instance (
    id                 uuid PRIMARY KEY,
    workload_id        uuid NOT NULL,
    namespace          text NOT NULL,
    name               text NOT NULL,
    ordinal            bigint NOT NULL,
    image              text NOT NULL,
    node_id            uuid,
    phase              text NOT NULL,
    ready              boolean NOT NULL DEFAULT false,
    liveness           text NOT NULL DEFAULT 'Unknown',
    cpu_request_milli  integer NOT NULL,
    mem_request_mb     integer NOT NULL,
    revision           bigint NOT NULL,
    failure_reason     text,
    placement          jsonb,
    created_at         timestamptz NOT NULL,
    bound_at           timestamptz,
    started_at         timestamptz,
    ready_at           timestamptz,
    finished_at        timestamptz,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX pod_instance_workload_phase ON pod_instance (workload_id, phase);
CREATE INDEX pod_instance_node_phase ON pod_instance (node_id, phase);

CREATE TABLE node_status (
    id                     uuid PRIMARY KEY,
    name                   text NOT NULL UNIQUE,
    zone                   text NOT NULL,
    cpu_total_milli        bigint NOT NULL,
    mem_total_mb           bigint NOT NULL,
    cpu_allocatable_milli  bigint NOT NULL,
    mem_allocatable_mb     bigint NOT NULL,
    cpu_requested_milli    bigint NOT NULL DEFAULT 0,
    mem_requested_mb       bigint NOT NULL DEFAULT 0,
    pod_count              integer NOT NULL DEFAULT 0,
    ready                  boolean NOT NULL,
    condition              text NOT NULL,
    labels                 jsonb NOT NULL,
    taints                 jsonb NOT NULL,
    last_heartbeat         timestamptz,
    registered_at          timestamptz NOT NULL,
    updated_at             timestamptz NOT NULL
);
CREATE INDEX node_status_zone_ready ON node_status (zone, ready);

CREATE TABLE rollout_history (
    id             uuid PRIMARY KEY,
    workload_id    uuid NOT NULL,
    from_revision  bigint,
    to_revision    bigint NOT NULL,
    status         text NOT NULL,
    reason         text,
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz
);
CREATE INDEX rollout_history_workload ON rollout_history (workload_id, started_at);

-- Every event with its envelope: the audit trail and the BI source.
CREATE TABLE event_log (
    event_id        uuid PRIMARY KEY,
    log_offset      bigint NOT NULL,
    batch_index     integer NOT NULL,
    causation_id    uuid NOT NULL,
    correlation_id  uuid NOT NULL,
    aggregate_kind  text NOT NULL,
    aggregate_id    uuid NOT NULL,
    sequence        bigint NOT NULL,
    event_type      text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    actor           text NOT NULL,
    reason          text,
    epoch           bigint NOT NULL,
    schema_version  integer NOT NULL,
    body            jsonb NOT NULL
);
CREATE INDEX event_log_aggregate ON event_log (aggregate_kind, aggregate_id, sequence);
CREATE INDEX event_log_actor ON event_log (actor, occurred_at);
CREATE INDEX event_log_time ON event_log (occurred_at);
CREATE INDEX event_log_causation ON event_log (causation_id);
CREATE INDEX event_log_offset ON event_log (log_offset, batch_index);

-- Where each projector is in the log, written in the same transaction as its rows.
CREATE TABLE projection_offsets (
    projector    text NOT NULL,
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    max_epoch    bigint NOT NULL DEFAULT 0,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projector, topic, partition)
);
