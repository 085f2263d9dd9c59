-- StatefulSets: their rows of workload_def (kind 'StatefulSet', spec the
-- whole StatefulSet spec, revision the update revision) and of
-- deployment_revision (spec: the pod template of that revision).

-- The revision a set's ordinals below its partition run (NULL for other kinds).
ALTER TABLE workload_def ADD COLUMN IF NOT EXISTS current_revision bigint;
-- A set pod's volume claim (<claim>-<set>-<ordinal>): every pod of one ordinal has the same.
ALTER TABLE pod_instance ADD COLUMN IF NOT EXISTS volume_claim text;

-- hostname: a set pod's stable name under the service (<pod>.<service>):
-- the gateway routes that host to that pod alone.
CREATE OR REPLACE VIEW service_endpoints AS
SELECT s.id AS service_id, s.namespace, s.name AS service_name, p.id AS pod_id, p.name AS pod_name,
       p.address, p.node_id, p.revision, p.ready_at,
       CASE WHEN p.workload_kind = 'StatefulSet' THEN p.name || '.' || s.name END AS hostname
  FROM service s
  JOIN pod_instance p ON p.namespace = s.namespace AND p.phase = 'RUNNING' AND p.ready AND p.address IS NOT NULL
  JOIN workload_def w ON w.id = p.workload_id
  JOIN deployment_revision r ON r.workload_id = p.workload_id AND r.revision = p.revision
 WHERE (jsonb_build_object('app', w.name) || COALESCE(r.spec->'labels', '{}'::jsonb)) @> s.selector;
