-- Namespaces as objects, and each namespace's quota.
-- `default` and `orch-system` exist from the start without an event (the
-- domain knows them, and the API lists them); any other appears with its
-- NamespaceCreated. (No seeded rows: every projection table holds only
-- what the log says, so resets and snapshots copy it whole.)
CREATE TABLE namespace (
    name        text PRIMARY KEY,
    labels      jsonb NOT NULL DEFAULT '{}',
    -- Active, or Deleted (Terminating while objects it held remain).
    status      text NOT NULL,
    created_at  timestamptz,
    deleted_at  timestamptz,
    -- What it held when deleted: [{kind, id, name}].
    deleted_objects jsonb NOT NULL DEFAULT '[]'
);

CREATE TABLE resource_quota (
    namespace   text PRIMARY KEY,
    hard        jsonb NOT NULL,
    used        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- BI: every recorded usage of every quota, one row per change, with the
-- figures as columns (hard limits NULL where not set).
CREATE VIEW quota_usage_history AS
SELECT body->>'namespace' AS namespace,
       occurred_at AS at,
       event_type,
       (body->'used'->>'pods')::bigint AS pods_used,
       (body->'hard'->>'pods')::bigint AS pods_hard,
       (body->'used'->>'requestsCpuMilli')::bigint AS requests_cpu_milli_used,
       (body->'hard'->>'requestsCpuMilli')::bigint AS requests_cpu_milli_hard,
       (body->'used'->>'requestsMemoryMb')::bigint AS requests_memory_mb_used,
       (body->'hard'->>'requestsMemoryMb')::bigint AS requests_memory_mb_hard,
       (body->'used'->>'limitsCpuMilli')::bigint AS limits_cpu_milli_used,
       (body->'hard'->>'limitsCpuMilli')::bigint AS limits_cpu_milli_hard,
       (body->'used'->>'limitsMemoryMb')::bigint AS limits_memory_mb_used,
       (body->'hard'->>'limitsMemoryMb')::bigint AS limits_memory_mb_hard,
       body->'used' AS used,
       body->'hard' AS hard
  FROM event_log
 WHERE event_type IN ('ResourceQuotaSet', 'ResourceQuotaUsageRecorded');

-- And how often each namespace was refused for its quota, per hour.
CREATE VIEW quota_refusals_hourly AS
SELECT date_trunc('hour', occurred_at) AS hour,
       body->'quota'->>'namespace' AS namespace,
       body->'quota'->>'resource' AS resource,
       count(*) AS refusals
  FROM event_log
 WHERE event_type = 'CommandRejected' AND body->>'code' = 'QUOTA_EXCEEDED'
 GROUP BY 1, 2, 3;

-- Each namespace's limit range: defaults and bounds for pods' resources.
CREATE TABLE limit_range (
    namespace   text PRIMARY KEY,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL
);
