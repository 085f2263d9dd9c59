-- Jobs: run-to-completion workloads. workload_def holds every kind (its
-- `kind` column says which), so names are unique per kind, not across kinds.

ALTER TABLE workload_def DROP CONSTRAINT IF EXISTS workload_def_namespace_name_key;
CREATE UNIQUE INDEX IF NOT EXISTS workload_def_namespace_kind_name ON workload_def (namespace, kind, name);

ALTER TABLE pod_instance ADD COLUMN IF NOT EXISTS workload_kind text NOT NULL DEFAULT 'Deployment';
ALTER TABLE pod_instance ADD COLUMN IF NOT EXISTS completion_index integer;
ALTER TABLE pod_instance ADD COLUMN IF NOT EXISTS exit_code integer;

-- One row per job ever created (kept after the job is deleted: its history).
CREATE TABLE IF NOT EXISTS job_run (
    job_id          uuid PRIMARY KEY,
    namespace       text NOT NULL,
    name            text NOT NULL,
    completions     integer NOT NULL,
    parallelism     integer NOT NULL,
    completion_mode text NOT NULL,
    started_at      timestamptz NOT NULL,
    ended_at        timestamptz,
    -- Running, Complete or Failed.
    outcome         text NOT NULL,
    failure_reason  text,
    message         text,
    -- Pods created (every attempt, retries included), and how they ended.
    attempts        integer NOT NULL DEFAULT 0,
    succeeded       integer NOT NULL DEFAULT 0,
    failed          integer NOT NULL DEFAULT 0,
    deleted_at      timestamptz
);
CREATE INDEX IF NOT EXISTS job_run_name ON job_run (namespace, name, started_at);

CREATE OR REPLACE VIEW bi_job_daily AS
SELECT namespace,
       name AS job,
       date_trunc('day', started_at)::date AS day,
       count(*) AS runs,
       count(*) FILTER (WHERE outcome = 'Complete') AS succeeded_runs,
       count(*) FILTER (WHERE outcome = 'Failed') AS failed_runs,
       round(100.0 * count(*) FILTER (WHERE outcome = 'Complete')
             / nullif(count(*) FILTER (WHERE outcome <> 'Running'), 0), 1) AS success_rate_pct,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at))
              FILTER (WHERE ended_at IS NOT NULL))::numeric, 3) AS duration_p50_s,
       round((percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - started_at))
              FILTER (WHERE ended_at IS NOT NULL))::numeric, 3) AS duration_p95_s,
       sum(attempts) AS pod_attempts,
       sum(failed) AS pod_failures
  FROM job_run
 GROUP BY namespace, name, date_trunc('day', started_at)::date;

COMMENT ON VIEW bi_job_daily IS
'How reliable and how long are my jobs? One row per job name and day it started: runs, how many '
'completed and failed, the success rate over finished runs (percent), the duration p50 and p95 in '
'seconds over finished runs, pods created (retries included) and pod failures counted against the '
'back-off limit. From job_run, so deleted jobs still count.';
