-- Projection snapshots: copies of the projection tables at a log offset, each
-- in a schema of its own (`snapshot_<offset>`), so time travel and replays
-- start from the latest snapshot before the point asked for instead of offset 0.
CREATE TABLE projection_snapshots (
    schema_name    text PRIMARY KEY,
    topic          text NOT NULL,
    next_offset    bigint NOT NULL,
    max_epoch      bigint NOT NULL,
    -- The newest event in the snapshot (NULL: an empty log).
    last_event_at  timestamptz,
    taken_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX projection_snapshots_offset ON projection_snapshots (topic, next_offset);

-- The type of the command that produced each event (`CreatePod`, `ScaleDeployment`, …):
-- `orch explain` says which command created a pod. NULL for events written before.
ALTER TABLE event_log ADD COLUMN command text;
