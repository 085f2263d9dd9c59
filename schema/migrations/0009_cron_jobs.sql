-- Cron jobs: a row of kind 'CronJob' in workload_def (its spec, suspend
-- included), and the cron job each job run came from.
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS cron_job_id uuid;
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS scheduled_at timestamptz;
CREATE INDEX IF NOT EXISTS job_run_cron_job ON job_run (cron_job_id, started_at);

-- A cron job's runs are one job for the question "how reliable is this job":
-- they are counted under the cron job's name, not each run's.
CREATE OR REPLACE VIEW bi_job_daily AS
WITH runs AS (
    SELECT r.*,
           COALESCE((SELECT c.body->'spec'->>'name' FROM event_log c
                      WHERE c.aggregate_id = r.cron_job_id AND c.event_type = 'CronJobCreated' LIMIT 1),
                    r.name) AS job
      FROM job_run r
)
SELECT namespace,
       job,
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
  FROM runs
 GROUP BY namespace, job, date_trunc('day', started_at)::date;

COMMENT ON VIEW bi_job_daily IS
'How reliable and how long are my jobs? One row per job (a cron job''s runs under the cron job''s '
'name) and day it started: runs, how many completed and failed, the success rate over finished runs '
'(percent), the duration p50 and p95 in seconds over finished runs, pods created (retries included) '
'and pod failures counted against the back-off limit. From job_run, so deleted jobs still count.';
