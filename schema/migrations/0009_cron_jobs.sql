-- Cron jobs: a row of kind 'CronJob' in workload_def (its spec, suspend
-- included), and the cron job each job run came from.
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS cron_job_id uuid;
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS scheduled_at timestamptz;
CREATE INDEX IF NOT EXISTS job_run_cron_job ON job_run (cron_job_id, started_at);
