-- Control-plane bookkeeping (not projections).

-- Fencing: a decider takes the cell's advisory lock, then the next epoch here.
CREATE TABLE decider_epochs (
    cell        integer PRIMARY KEY,
    epoch       bigint NOT NULL,
    holder      text NOT NULL,
    started_at  timestamptz NOT NULL
);

-- Snapshots of the decider's write model, so a restart replays only the tail.
CREATE TABLE decider_snapshots (
    cell            integer PRIMARY KEY,
    epoch           bigint NOT NULL,
    events_next_offset bigint NOT NULL,
    commands_next_offset bigint NOT NULL,
    state           jsonb NOT NULL,
    taken_at        timestamptz NOT NULL
);

-- API bearer tokens, stored as SHA-256 digests.
CREATE TABLE api_tokens (
    token_sha256  text PRIMARY KEY,
    actor         text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
