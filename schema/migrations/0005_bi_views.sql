-- BI views: one per question platform teams ask, documented with example
-- answers in docs/bi.md. Names are not schema-qualified: the same migrations
-- also run in other schemas through search_path.
--
-- Days are UTC days, so an answer does not depend on the session's TimeZone.
-- "Last" in the event log means last in log order (log_offset, batch_index).

-- The views below read events of one or a few types; type-then-time serves
-- them and any time-bounded query for one type.
CREATE INDEX event_log_type_time ON event_log (event_type, occurred_at);

-- Changes made by people (or their scripts) are a sliver of the log: the
-- controller, the scheduler and the node agents write nearly all of it. This
-- partial index lets bi_changes_by_namespace read only those rows; its
-- predicate must stay identical to the view's WHERE clause to be used.
CREATE INDEX event_log_user_changes ON event_log (occurred_at)
    WHERE actor NOT LIKE 'system:%' AND event_type <> 'CommandRejected';

-- Pending → Bound, from the log rather than pod_instance: pod_instance loses a
-- pod's row when the pod is deleted, which would hide every replaced pod.
CREATE OR REPLACE VIEW bi_scheduling_latency_per_minute AS
WITH created AS (
    SELECT aggregate_id AS pod_id, occurred_at AS created_at
      FROM event_log
     WHERE event_type = 'PodCreated'
), bound AS (
    -- A pod is bound once; min() keeps the view right if that ever changes.
    SELECT aggregate_id AS pod_id, min(occurred_at) AS bound_at
      FROM event_log
     WHERE event_type = 'PodBound'
     GROUP BY aggregate_id
), latency AS (
    SELECT c.created_at,
           (extract(epoch FROM b.bound_at - c.created_at) * 1000)::float8 AS ms
      FROM created c
      LEFT JOIN bound b USING (pod_id)
)
SELECT date_trunc('minute', created_at) AS minute,
       count(*) AS pods_created,
       count(ms) AS pods_bound,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS p50_ms,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY ms))::numeric, 1) AS p95_ms,
       round(max(ms)::numeric, 1) AS max_ms
  FROM latency
 GROUP BY 1;

COMMENT ON VIEW bi_scheduling_latency_per_minute IS
'How long do pods wait for a node? One row per minute in which pods were created (PodCreated, '
'by the decider''s clock): pods_created, pods_bound (those that have a PodBound), and the '
'Pending→Bound latency of the bound ones in milliseconds (p50_ms, p95_ms, max_ms: time from '
'PodCreated to the pod''s first PodBound). pods_created − pods_bound are still Pending or were '
'deleted before a node was found. Read from event_log, so deleted pods still count.';

-- Rollout 0 is a deployment's creation, not a rollout anyone can fail.
CREATE OR REPLACE VIEW bi_rollouts_per_day AS
WITH rollouts AS (
    SELECT r.started_at,
           r.status,
           -- Deleting a deployment drops its running rollout without an
           -- event, so the row stays RUNNING for good (even if the deployment
           -- is later restored): counted apart, not as running.
           CASE WHEN r.status = 'RUNNING' THEN EXISTS (
               SELECT 1 FROM event_log d
                WHERE d.aggregate_kind = 'deployment' AND d.aggregate_id = r.workload_id
                  AND d.event_type = 'DeploymentDeleted' AND d.occurred_at >= r.started_at)
           END AS abandoned
      FROM rollout_history r
     WHERE r.rollout > 0
)
SELECT (started_at AT TIME ZONE 'UTC')::date AS day,
       count(*) AS started,
       count(*) FILTER (WHERE status = 'SUCCEEDED') AS succeeded,
       count(*) FILTER (WHERE status = 'ROLLED_BACK') AS rolled_back,
       count(*) FILTER (WHERE status = 'FAILED') AS failed,
       count(*) FILTER (WHERE status = 'RUNNING' AND NOT abandoned) AS running,
       count(*) FILTER (WHERE abandoned) AS abandoned,
       round(100.0 * count(*) FILTER (WHERE status = 'SUCCEEDED')
             / nullif(count(*) FILTER (WHERE status IN ('SUCCEEDED', 'ROLLED_BACK', 'FAILED')), 0), 1)
         AS success_pct
  FROM rollouts
 GROUP BY 1;

COMMENT ON VIEW bi_rollouts_per_day IS
'What share of rollouts succeed? One row per UTC day on which rollouts started (rollout_history, '
'rollout > 0: template updates, manual rollbacks and automatic rollbacks alike; the creation, '
'rollout 0, is left out). started = succeeded + rolled_back + failed + running + abandoned, where '
'abandoned are rollouts whose deployment was deleted while they ran (their row stays RUNNING). '
'success_pct = succeeded / (succeeded + rolled_back + failed), NULL while none has finished.';

CREATE OR REPLACE VIEW bi_rollbacks_per_workload AS
WITH per_workload AS (
    SELECT workload_id,
           count(*) FILTER (WHERE rollout > 0) AS rollouts,
           count(*) FILTER (WHERE trigger IN ('ROLLBACK', 'AUTO_ROLLBACK')) AS rollbacks,
           count(*) FILTER (WHERE trigger = 'ROLLBACK') AS manual_rollbacks,
           count(*) FILTER (WHERE trigger = 'AUTO_ROLLBACK') AS automatic_rollbacks
      FROM rollout_history
     GROUP BY workload_id
    HAVING count(*) FILTER (WHERE rollout > 0) > 0
), last_rollback AS (
    -- The rollback's own reason is its command's: the controller's why for an
    -- automatic one, the optional `reason` of a manual one. A manual rollback
    -- without one that stopped a running rollout left its text on that
    -- rollout's row (ROLLED_BACK, the rollout just before).
    SELECT DISTINCT ON (r.workload_id)
           r.workload_id, r.started_at, r.actor, r.to_revision,
           COALESCE(r.reason, stopped.reason) AS reason
      FROM rollout_history r
      LEFT JOIN rollout_history stopped
        ON stopped.workload_id = r.workload_id AND stopped.rollout = r.rollout - 1
       AND stopped.status = 'ROLLED_BACK'
     WHERE r.trigger IN ('ROLLBACK', 'AUTO_ROLLBACK')
     ORDER BY r.workload_id, r.rollout DESC
)
SELECT created.body->'spec'->>'namespace' AS namespace,
       created.body->'spec'->>'name' AS name,
       p.workload_id AS deployment_id,
       -- Deleted now (no workload_def row): since its last deletion.
       CASE WHEN NOT EXISTS (SELECT 1 FROM workload_def w WHERE w.id = p.workload_id) THEN (
           SELECT max(d.occurred_at) FROM event_log d
            WHERE d.aggregate_kind = 'deployment' AND d.aggregate_id = p.workload_id
              AND d.event_type = 'DeploymentDeleted')
       END AS deleted_at,
       p.rollouts,
       p.rollbacks,
       p.manual_rollbacks,
       p.automatic_rollbacks,
       l.started_at AS last_rollback_at,
       l.to_revision AS last_rollback_to_revision,
       l.actor AS last_rollback_by,
       l.reason AS last_reason
  FROM per_workload p
  LEFT JOIN last_rollback l ON l.workload_id = p.workload_id
  -- Names come from the log: a deleted deployment's workload_def row is gone.
  LEFT JOIN event_log created
    ON created.aggregate_kind = 'deployment' AND created.aggregate_id = p.workload_id
   AND created.event_type = 'DeploymentCreated';

COMMENT ON VIEW bi_rollbacks_per_workload IS
'Which deployments get rolled back, by whom and why? One row per deployment, live or deleted, '
'that has had at least one rollout after its creation: rollouts (rollout > 0), rollbacks '
'(rollouts back to an earlier revision), split into manual_rollbacks (trigger ROLLBACK: the API''s '
'rollback or abort) and automatic_rollbacks (AUTO_ROLLBACK: the rollout controller stopped a '
'failing update); then the last rollback''s time, target revision, actor and reason (NULL when '
'a manual rollback gave none). namespace and name come from the DeploymentCreated event; '
'deleted_at is set while the deployment is deleted (the time of its DeploymentDeleted).';

-- Only Ready nodes count towards capacity: a NotReady or Lost node takes no
-- pods, and a Lost node's row is never removed.
CREATE OR REPLACE VIEW bi_node_utilisation_by_zone AS
SELECT zone,
       count(*) AS nodes,
       count(*) FILTER (WHERE ready) AS ready_nodes,
       COALESCE(sum(cpu_allocatable_milli) FILTER (WHERE ready), 0)::bigint AS cpu_allocatable_milli,
       COALESCE(sum(cpu_requested_milli) FILTER (WHERE ready), 0)::bigint AS cpu_requested_milli,
       round(100.0 * sum(cpu_requested_milli) FILTER (WHERE ready)
             / nullif(sum(cpu_allocatable_milli) FILTER (WHERE ready), 0), 1) AS cpu_used_pct,
       COALESCE(sum(mem_allocatable_mb) FILTER (WHERE ready), 0)::bigint AS mem_allocatable_mb,
       COALESCE(sum(mem_requested_mb) FILTER (WHERE ready), 0)::bigint AS mem_requested_mb,
       round(100.0 * sum(mem_requested_mb) FILTER (WHERE ready)
             / nullif(sum(mem_allocatable_mb) FILTER (WHERE ready), 0), 1) AS mem_used_pct,
       COALESCE(sum(pod_count) FILTER (WHERE ready), 0)::bigint AS pods
  FROM node_status
 GROUP BY zone;

COMMENT ON VIEW bi_node_utilisation_by_zone IS
'How full is each zone? One row per zone in node_status: nodes (every node ever registered, '
'Lost ones included), ready_nodes, and over the Ready nodes only: allocatable and requested '
'CPU (millicores) and memory (MB), the requested share of allocatable in percent (cpu_used_pct, '
'mem_used_pct: requests, not measured use), and the pods bound to them.';

CREATE OR REPLACE VIEW bi_pod_restarts AS
WITH restarts AS (
    SELECT (created.body->>'deploymentId')::uuid AS deployment_id,
           r.aggregate_id AS pod_id,
           r.occurred_at,
           r.log_offset,
           r.batch_index,
           r.body->>'reason' AS reason
      FROM event_log r
      JOIN event_log created
        ON created.aggregate_kind = 'pod' AND created.aggregate_id = r.aggregate_id
       AND created.event_type = 'PodCreated'
     WHERE r.event_type = 'PodRestarted'
), per_deployment AS (
    SELECT deployment_id,
           count(*) AS restarts,
           count(DISTINCT pod_id) AS pods_restarted,
           (array_agg(reason ORDER BY log_offset DESC, batch_index DESC))[1] AS last_reason,
           (array_agg(occurred_at ORDER BY log_offset DESC, batch_index DESC))[1] AS last_restart_at
      FROM restarts
     GROUP BY deployment_id
)
SELECT d.body->'spec'->>'namespace' AS namespace,
       d.body->'spec'->>'name' AS deployment,
       p.deployment_id,
       p.restarts,
       p.pods_restarted,
       p.last_reason,
       p.last_restart_at
  FROM per_deployment p
  LEFT JOIN event_log d
    ON d.aggregate_kind = 'deployment' AND d.aggregate_id = p.deployment_id
   AND d.event_type = 'DeploymentCreated';

COMMENT ON VIEW bi_pod_restarts IS
'Which deployments'' containers keep restarting? One row per deployment with at least one '
'PodRestarted event (a crash or a failed liveness probe, restarted after a back-off): restarts '
'(events), pods_restarted (distinct pods), the last restart''s reason and time. From event_log, '
'so deleted pods and deleted deployments still count; pod_instance.restarts only covers pods '
'that still exist.';

CREATE OR REPLACE VIEW bi_changes_by_namespace AS
WITH changes AS (
    SELECT e.occurred_at,
           e.actor,
           e.event_type,
           e.aggregate_id,
           -- Creation and deletion events name their namespace; any other
           -- event of a pod, deployment or service takes it from the
           -- aggregate's creation event. Nodes belong to no namespace.
           COALESCE(
               e.body->>'namespace',
               e.body->'spec'->>'namespace',
               CASE WHEN e.aggregate_kind IN ('pod', 'deployment', 'service') THEN (
                   SELECT COALESCE(c.body->>'namespace', c.body->'spec'->>'namespace')
                     FROM event_log c
                    WHERE c.aggregate_kind = e.aggregate_kind AND c.aggregate_id = e.aggregate_id
                      AND c.event_type IN ('PodCreated', 'DeploymentCreated', 'ServiceCreated')
                    LIMIT 1)
               END) AS namespace
      FROM event_log e
     WHERE e.actor NOT LIKE 'system:%' AND e.event_type <> 'CommandRejected'
)
SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
       namespace,
       actor,
       event_type,
       count(*) AS events,
       count(DISTINCT aggregate_id) AS objects,
       min(occurred_at) AS first_at,
       max(occurred_at) AS last_at
  FROM changes
 GROUP BY 1, 2, 3, 4;

COMMENT ON VIEW bi_changes_by_namespace IS
'Who changed what, where? One row per UTC day, namespace, actor and event type for the events '
'that users (API tokens'' actors, anything not starting with system:) caused: events, objects '
'(distinct aggregates), first_at and last_at. Every event of a command carries its actor, so a '
'user''s delete also shows the PodDeleted events it caused. namespace is NULL for nodes '
'(cluster-scoped: cordons, drains, taints). Rejected commands (CommandRejected) changed nothing '
'and are left out.';
