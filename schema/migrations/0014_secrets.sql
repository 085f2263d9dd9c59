-- Secrets as the log knows them: names, keys, versions and the key that
-- wraps each data key. Never a value: the events carry ciphertext only, and
-- this table not even that.
CREATE TABLE secrets (
    namespace   text        NOT NULL,
    name        text        NOT NULL,
    secret_id   uuid        NOT NULL,
    version     bigint      NOT NULL,
    keys        jsonb       NOT NULL,
    key_id      text        NOT NULL,
    deleted     boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text        NOT NULL,
    rewrapped_at timestamptz,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE secret_key_rotations (
    rotation_id  uuid        PRIMARY KEY,
    to_key       text        NOT NULL,
    from_keys    jsonb       NOT NULL,
    total        integer     NOT NULL,
    rewrapped    integer     NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL,
    started_by   text        NOT NULL,
    completed_at timestamptz
);

-- Which key wraps how many live secrets: what a retired key would still lock.
CREATE VIEW secrets_by_key AS
SELECT key_id, count(*) FILTER (WHERE NOT deleted) AS live, count(*) FILTER (WHERE deleted) AS deleted
FROM secrets GROUP BY key_id;
