-- Identities and RBAC are events now: users, service accounts, tokens,
-- roles and bindings are projections of the log like every other table.
-- Tokens were rows written by the API; they become a projection of
-- TokenIssued / TokenRevoked (the digest only, never the token). Rows from
-- before this release are not in the log, so they go: `orch up` mints a
-- new bootstrap token at its next start.
DELETE FROM api_tokens;
ALTER TABLE api_tokens
    ADD COLUMN token_id    uuid,
    ADD COLUMN expires_at  timestamptz,
    ADD COLUMN issued_by   text,
    ADD COLUMN description text;
ALTER TABLE api_tokens ALTER COLUMN created_at DROP DEFAULT;
CREATE INDEX api_tokens_actor ON api_tokens (actor);

CREATE TABLE users (
    name        text PRIMARY KEY,
    groups      jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL
);

CREATE TABLE service_accounts (
    namespace   text NOT NULL,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  text NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- namespace '' is the cluster's (a cluster role or cluster binding).
CREATE TABLE rbac_roles (
    namespace   text NOT NULL,
    name        text NOT NULL,
    rules       jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text NOT NULL,
    PRIMARY KEY (namespace, name)
);

CREATE TABLE rbac_bindings (
    namespace   text NOT NULL,
    name        text NOT NULL,
    role_kind   text NOT NULL,
    role_name   text NOT NULL,
    subjects    jsonb NOT NULL,
    updated_at  timestamptz NOT NULL,
    updated_by  text NOT NULL,
    PRIMARY KEY (namespace, name)
);

-- Who was given (or lost) which role, where, by whom and when: one row per
-- subject per change, from the log. "Who made Bob an admin?" is
--   SELECT * FROM rbac_grant_history WHERE subject_name = 'bob';
CREATE VIEW rbac_grant_history AS
SELECT e.occurred_at, e.actor AS changed_by, e.reason, 'granted' AS change,
       COALESCE(e.body->>'namespace', '') AS namespace, e.body->>'name' AS binding,
       e.body->'role'->>'kind' AS role_kind, e.body->'role'->>'name' AS role_name,
       s->>'kind' AS subject_kind, s->>'name' AS subject_name, s->>'namespace' AS subject_namespace,
       e.log_offset
  FROM event_log e, jsonb_array_elements(e.body->'added') s
 WHERE e.event_type = 'RoleBindingSet'
UNION ALL
SELECT e.occurred_at, e.actor, e.reason, 'revoked',
       COALESCE(e.body->>'namespace', ''), e.body->>'name',
       e.body->'role'->>'kind', e.body->'role'->>'name',
       s->>'kind', s->>'name', s->>'namespace', e.log_offset
  FROM event_log e, jsonb_array_elements(e.body->'removed') s
 WHERE e.event_type = 'RoleBindingSet'
UNION ALL
SELECT e.occurred_at, e.actor, e.reason, 'revoked',
       COALESCE(e.body->>'namespace', ''), e.body->>'name',
       e.body->'role'->>'kind', e.body->'role'->>'name',
       s->>'kind', s->>'name', s->>'namespace', e.log_offset
  FROM event_log e, jsonb_array_elements(e.body->'subjects') s
 WHERE e.event_type = 'RoleBindingDeleted';

-- Refusals for a missing permission, by hour, actor and command.
CREATE VIEW forbidden_hourly AS
SELECT date_trunc('hour', occurred_at) AS hour, actor, body->>'commandType' AS command_type,
       count(*) AS refusals
  FROM event_log
 WHERE event_type = 'CommandRejected' AND body->>'code' = 'FORBIDDEN'
 GROUP BY 1, 2, 3;
