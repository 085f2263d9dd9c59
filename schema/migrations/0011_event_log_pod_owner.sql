-- The events API's `owner` filter (the events of a workload's pods, as
-- `orch explain job|statefulset` asks for them): PodCreated by owner id.
CREATE INDEX IF NOT EXISTS event_log_pod_owner
    ON event_log ((COALESCE(body->>'deploymentId', body->>'jobId', body->>'statefulSetId')))
 WHERE event_type = 'PodCreated';
