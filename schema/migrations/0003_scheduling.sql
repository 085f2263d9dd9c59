-- Scheduling at scale: cordon/drain state and taints that change after
-- registration on node_status; why a pending pod has no node yet.
ALTER TABLE node_status
    ADD COLUMN unschedulable boolean NOT NULL DEFAULT false,
    ADD COLUMN draining      boolean NOT NULL DEFAULT false;

-- {"nodesTotal": n, "filtered": {"InsufficientCpu": k, ...}} from the last
-- PodUnschedulable event; kept after the pod is bound, for history.
ALTER TABLE pod_instance
    ADD COLUMN unschedulable jsonb;
