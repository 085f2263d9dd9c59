-- Real workloads: rollouts with history, every revision's template,
-- services and their Ready endpoints, pod addresses and restarts.

-- One row per rollout: rollout 0 is the deployment's creation; then
-- RUNNING → SUCCEEDED / FAILED / ROLLED_BACK. Never deleted.
ALTER TABLE rollout_history
    ADD COLUMN rollout      bigint NOT NULL DEFAULT 0,
    ADD COLUMN trigger      text NOT NULL DEFAULT 'CREATE',
    ADD COLUMN canary_pods  integer,
    ADD COLUMN paused       boolean NOT NULL DEFAULT false,
    ADD COLUMN actor        text;
CREATE UNIQUE INDEX rollout_history_number ON rollout_history (workload_id, rollout);

-- Every pod template ever recorded (history is never truncated, so any
-- revision can be rolled back to).
CREATE TABLE deployment_revision (
    workload_id  uuid NOT NULL,
    revision     bigint NOT NULL,
    image        text NOT NULL,
    spec         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    actor        text,
    PRIMARY KEY (workload_id, revision)
);

ALTER TABLE pod_instance
    ADD COLUMN address        text,
    ADD COLUMN restarts       integer NOT NULL DEFAULT 0,
    ADD COLUMN status_reason  text;

CREATE TABLE service (
    id           uuid PRIMARY KEY,
    namespace    text NOT NULL,
    name         text NOT NULL,
    selector     jsonb NOT NULL,
    host         text,
    path_prefix  text NOT NULL,
    created_at   timestamptz NOT NULL,
    UNIQUE (namespace, name)
);

-- A service's endpoints: its Ready, running pods with an address whose
-- labels (those of the pod's revision, with the implied app=<deployment>)
-- contain the selector.
CREATE VIEW service_endpoints AS
SELECT s.id AS service_id, s.namespace, s.name AS service_name, p.id AS pod_id, p.name AS pod_name,
       p.address, p.node_id, p.revision, p.ready_at
  FROM service s
  JOIN pod_instance p ON p.namespace = s.namespace AND p.phase = 'RUNNING' AND p.ready AND p.address IS NOT NULL
  JOIN workload_def w ON w.id = p.workload_id
  JOIN deployment_revision r ON r.workload_id = p.workload_id AND r.revision = p.revision
 WHERE (jsonb_build_object('app', w.name) || COALESCE(r.spec->'labels', '{}'::jsonb)) @> s.selector;
