//! The OpenAPI 3.1 document, written by hand next to the routes it describes.

use axum::Json;
use serde_json::{Value, json};

pub async fn document() -> Json<Value> {
    let mut doc = paths();
    consistency(&mut doc);
    Json(doc)
}

/// Read-your-writes on every route: `minOffset` (and its header) on reads,
/// `X-Orch-Offset` on writes, `X-Orch-Projected-Offset` on every answer.
fn consistency(doc: &mut Value) {
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    let min_offset = json!({"name": "minOffset", "in": "query",
        "description": "answer only once the projections include this log offset (a write's X-Orch-Offset): read-your-writes",
        "schema": {"type": "integer", "minimum": 0}});
    let min_header = json!({"name": "X-Orch-Min-Offset", "in": "header", "description": "the same as minOffset",
        "schema": {"type": "integer", "minimum": 0}});
    let offset = json!({"description": "the log offset of the record holding this command's outcome", "schema": {"type": "integer"}});
    let projected = json!({"description": "the last log offset the projections included when the read began", "schema": {"type": "integer"}});
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        if path == "/metrics" || path.ends_with("openapi.json") {
            continue;
        }
        let Some(ops) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in ops.iter_mut() {
            let params = op
                .as_object_mut()
                .unwrap()
                .entry("parameters")
                .or_insert_with(|| json!([]));
            params
                .as_array_mut()
                .unwrap()
                .extend([min_offset.clone(), min_header.clone()]);
            let responses = op["responses"].as_object_mut().unwrap();
            responses.insert("400".into(), {
                let mut e = responses
                    .get("400")
                    .cloned()
                    .unwrap_or_else(|| err("Bad request"));
                let d = e["description"].as_str().unwrap_or("").to_string();
                e["description"] =
                    json!(format!("{d}; INVALID_QUERY (minOffset), OFFSET_NOT_IN_LOG"));
                e
            });
            responses.insert("503".into(), {
                let mut e = responses
                    .get("503")
                    .cloned()
                    .unwrap_or_else(|| err("Unavailable"));
                let d = e["description"].as_str().unwrap_or("").to_string();
                e["description"] = json!(format!(
                    "{d}; PROJECTION_BEHIND (minOffset not reached in time)"
                ));
                e
            });
            for (code, r) in responses.iter_mut() {
                if !code.starts_with('2') {
                    continue;
                }
                let h = r
                    .as_object_mut()
                    .unwrap()
                    .entry("headers")
                    .or_insert_with(|| json!({}));
                h["X-Orch-Projected-Offset"] = projected.clone();
                if method != "get" {
                    h["X-Orch-Offset"] = offset.clone();
                }
            }
        }
    }
}

fn paths() -> Value {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err =
        |d: &str| json!({"description": d, "content": {"application/json": {"schema": error}}});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
    let as_of = json!({"name": "asOf", "in": "query", "description": "read the state as it was: an RFC 3339 instant or a log offset (also on pods, nodes, services)",
                       "schema": {"type": "string"}});
    let write_errors = json!({
        "400": err("Malformed JSON or bad id (MALFORMED_JSON, INVALID_ID)"),
        "401": err("Missing or unknown bearer token (UNAUTHENTICATED)"),
        "404": err("No such object (NOT_FOUND)"),
        "409": err("Conflict (ALREADY_EXISTS, ROLLOUT_IN_PROGRESS)"),
        "415": err("Not JSON (UNSUPPORTED_MEDIA_TYPE)"),
        "422": err("Invalid fields (VALIDATION_FAILED, UNKNOWN_FIELD) or INSUFFICIENT_CLUSTER_CAPACITY"),
        "503": err("The log or the decider did not answer in time (CONTROL_PLANE_DEGRADED)")
    });
    let with = |ok_code: &str, ok: Value| {
        let mut r = write_errors.clone();
        r[ok_code] = ok;
        r
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "orch command API", "version": "1"},
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/workloads/deployments": {
                "post": {
                    "summary": "Create a deployment",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DeploymentCreate"}}}},
                    "responses": with("201", json!({"description": "Created", "content": {"application/json": {"schema": {
                        "type": "object", "properties": {"deploymentId": {"type": "string", "format": "uuid"}, "status": {"const": "CREATED"}}}}}}))
                },
                "get": {"summary": "List deployments", "parameters": [{"name": "namespace", "in": "query", "schema": {"type": "string"}}, as_of.clone()],
                        "responses": {"200": {"description": "Deployments"}}}
            },
            "/api/v1/workloads/deployments/undelete": {
                "post": {"summary": "Restore the last deleted deployment of this name (same id, spec and revisions)",
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["namespace", "name"],
                            "additionalProperties": false, "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}, "reason": {"type": "string"}}}}}},
                         "responses": with("201", json!({"description": "{deploymentId, revision, replicas, status: UNDELETED}; 409 ALREADY_EXISTS if the name is in use, 404 NOT_FOUND if none was deleted"}))}
            },
            "/api/v1/workloads/deployments/{id}": {
                "get": {"summary": "Read a deployment", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "The deployment"}, "404": err("Not found")}},
                "delete": {"summary": "Delete a deployment and its pods", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))},
                "patch": {"summary": "Change the template (a new revision and a rollout; 409 ROLLOUT_IN_PROGRESS while one runs) and/or the strategy",
                          "parameters": [id_param],
                          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                              "image": {"type": "string"}, "command": {"type": "array"}, "args": {"type": "array"}, "env": {"type": "object"},
                              "resources": {"type": "object"}, "labels": {"type": "object"}, "readinessProbe": {"type": ["object", "null"]},
                              "livenessProbe": {"type": ["object", "null"]}, "startupProbe": {"type": ["object", "null"]}, "strategy": {"type": "object"},
                              "disruptionBudget": {"type": ["object", "null"]},
                              "canary": {"type": "object", "properties": {"replicas": {"type": "integer"}, "percent": {"type": "integer"}}},
                              "reason": {"type": "string"}}}}}},
                          "responses": with("200", json!({"description": "{deploymentId, status: ROLLOUT_STARTED | STRATEGY_CHANGED | BUDGET_CHANGED | UNCHANGED, rollout, revision}"}))}
            },
            "/api/v1/workloads/deployments/{id}/scale": {
                "post": {"summary": "Scale a deployment", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["replicas"],
                            "additionalProperties": false, "properties": {"replicas": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "Scaled"}))}
            },
            "/api/v1/workloads/deployments/{id}/rollback": {
                "post": {"summary": "Roll back to any revision ever recorded (404 REVISION_NOT_FOUND)", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["revision"],
                            "additionalProperties": false, "properties": {"revision": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "{deploymentId, status: ROLLOUT_STARTED | ALREADY_AT_REVISION, rollout}"}))}
            },
            "/api/v1/workloads/deployments/{id}/rollout/{action}": {
                "post": {"summary": "pause | resume | promote (a canary) | abort (roll back to where the rollout started); 409 NO_ROLLOUT_IN_PROGRESS, NOT_A_CANARY",
                         "parameters": [id_param, {"name": "action", "in": "path", "required": true, "schema": {"enum": ["pause", "resume", "promote", "abort"]}}],
                         "responses": with("200", json!({"description": "{deploymentId, status: PAUSED | RESUMED | PROMOTED | ROLLOUT_STARTED | UNCHANGED}"}))}
            },
            "/api/v1/workloads/deployments/{id}/revisions": {
                "get": {"summary": "Every revision ever recorded", "parameters": [id_param], "responses": {"200": {"description": "{items:[{revision, image, spec, createdAt, actor}]}"}}}
            },
            "/api/v1/workloads/deployments/{id}/rollouts": {
                "get": {"summary": "Rollout history", "parameters": [id_param], "responses": {"200": {"description": "{items:[{rollout, fromRevision, toRevision, trigger, status, canaryPods, paused, reason, actor, startedAt, endedAt}]}"}}}
            },
            "/api/v1/workloads/jobs": {
                "post": {
                    "summary": "Create a job: `completions` pods that exit 0, `parallelism` at a time, failed ones retried after an exponential back-off up to `backoffLimit`",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["namespace", "name", "template"],
                        "additionalProperties": false, "properties": {
                            "namespace": {"type": "string"}, "name": {"type": "string", "maxLength": 52},
                            "completions": {"type": "integer", "minimum": 1, "default": 1}, "parallelism": {"type": "integer", "minimum": 1, "default": 1},
                            "backoffLimit": {"type": "integer", "minimum": 0, "default": 6},
                            "completionMode": {"enum": ["NonIndexed", "Indexed"]},
                            "activeDeadlineSeconds": {"type": "integer", "minimum": 1},
                            "ttlSecondsAfterFinished": {"type": "integer", "minimum": 0},
                            "podFailurePolicy": {"type": "array", "items": {"type": "object", "required": ["action", "onExitCodes"], "properties": {
                                "action": {"enum": ["FailJob", "Ignore", "Count"]},
                                "onExitCodes": {"type": "object", "required": ["operator", "values"], "properties": {
                                    "operator": {"enum": ["In", "NotIn"]}, "values": {"type": "array", "items": {"type": "integer"}}}}}}},
                            "template": {"type": "object", "description": "A pod template: the fields of a deployment's (image, resources, command, args, env, probes, scheduling); restartPolicy must be Never (the default here)"}}}}}},
                    "responses": with("201", json!({"description": "{jobId, status: CREATED}"}))
                },
                "get": {"summary": "List jobs", "parameters": [{"name": "namespace", "in": "query", "schema": {"type": "string"}}, as_of.clone()],
                        "responses": {"200": {"description": "{items:[{jobId, namespace, name, spec, completions, parallelism, completionMode, status{startedAt, endedAt, outcome, failureReason, message, attempts, succeeded, failed, active, succeededPods, failedPods}}]}"}}}
            },
            "/api/v1/workloads/jobs/{id}": {
                "get": {"summary": "Read a job and its progress", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "The job"}, "404": err("Not found")}},
                "delete": {"summary": "Delete a job and its pods (its job_run row and events stay)", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))}
            },
            "/api/v1/workloads/jobs/{id}/pods": {
                "get": {"summary": "The job's pods (every attempt still kept)", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "{items:[…]}"}}}
            },
            "/api/v1/workloads/cronjobs": {
                "post": {
                    "summary": "Create a cron job: a job template run on a cron schedule (5 fields, or 6–7 with seconds first) in a time zone",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["namespace", "name", "schedule", "jobTemplate"],
                        "additionalProperties": false, "properties": {
                            "namespace": {"type": "string"}, "name": {"type": "string", "maxLength": 40},
                            "schedule": {"type": "string"}, "timeZone": {"type": "string", "default": "UTC"},
                            "concurrencyPolicy": {"enum": ["Allow", "Forbid", "Replace"]},
                            "startingDeadlineSeconds": {"type": "integer", "minimum": 1}, "suspend": {"type": "boolean"},
                            "successfulJobsHistoryLimit": {"type": "integer", "minimum": 0, "default": 3},
                            "failedJobsHistoryLimit": {"type": "integer", "minimum": 0, "default": 1},
                            "jobTemplate": {"type": "object", "description": "A job's fields but namespace and name (completions, parallelism, backoffLimit, …, template)"}}}}}},
                    "responses": with("201", json!({"description": "{cronJobId, status: CREATED}"}))
                },
                "get": {"summary": "List cron jobs", "parameters": [{"name": "namespace", "in": "query", "schema": {"type": "string"}}, as_of.clone()],
                        "responses": {"200": {"description": "{items:[{cronJobId, namespace, name, spec, schedule, suspend, status{active, lastScheduleTime, lastSuccessfulTime, runs, skipped}}]}"}}}
            },
            "/api/v1/workloads/cronjobs/{id}": {
                "get": {"summary": "Read a cron job", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "The cron job"}, "404": err("Not found")}},
                "patch": {"summary": "Suspend or resume", "parameters": [id_param],
                          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["suspend"], "additionalProperties": false,
                              "properties": {"suspend": {"type": "boolean"}, "reason": {"type": "string"}}}}}},
                          "responses": with("200", json!({"description": "{cronJobId, status: SUSPENDED | RESUMED | UNCHANGED}"}))},
                "delete": {"summary": "Delete a cron job and the jobs it keeps", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))}
            },
            "/api/v1/workloads/cronjobs/{id}/jobs": {
                "get": {"summary": "Every run ever made, newest first (deleted jobs included)", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "{items:[{jobId, name, scheduledAt, startedAt, endedAt, outcome, …}]}"}}}
            },
            "/api/v1/workloads/statefulsets": {
                "post": {
                    "summary": "Create a StatefulSet: pods <name>-0 … <name>-(replicas-1) with a stable name, a volume claim each, ordered start (OrderedReady) or all at once (Parallel)",
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}}],
                    "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["namespace", "name", "template"],
                        "additionalProperties": false, "properties": {
                            "namespace": {"type": "string"}, "name": {"type": "string", "description": "<name>-<replicas-1> must be a DNS-1123 label (63 characters)"},
                            "replicas": {"type": "integer", "minimum": 0, "default": 1},
                            "serviceName": {"type": "string", "description": "the governing service: the gateway routes <pod>.<serviceName> to that pod (default: the set's name)"},
                            "podManagementPolicy": {"enum": ["OrderedReady", "Parallel"]},
                            "updateStrategy": {"type": "object", "additionalProperties": false, "properties": {
                                "partition": {"type": "integer", "minimum": 0, "description": "at most replicas; ordinals below it keep the current revision"},
                                "rollbackAfterFailures": {"type": "integer", "minimum": 1, "default": 3},
                                "autoRollback": {"type": "boolean", "default": true}}},
                            "volumeClaimTemplate": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
                                "name": {"type": "string"}, "mountPath": {"type": "string", "default": "/data"}}},
                            "template": {"type": "object", "description": "A pod template (image, resources, command, args, env, probes, scheduling); restartPolicy must be Always (the default here)"}}}}}},
                    "responses": with("201", json!({"description": "{statefulSetId, status: CREATED}"}))
                },
                "get": {"summary": "List StatefulSets", "parameters": [{"name": "namespace", "in": "query", "schema": {"type": "string"}}, as_of.clone()],
                        "responses": {"200": {"description": "{items:[{statefulSetId, namespace, name, replicas, spec, status{updateRevision, currentRevision, replicas, readyReplicas, updatedReplicas, pods[{ordinal, name, podId, phase, ready, revision, nodeId, address, volumeClaim, restarts}]}}]}"}}}
            },
            "/api/v1/workloads/statefulsets/{id}": {
                "get": {"summary": "Read a StatefulSet and its pods by ordinal", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "The set"}, "404": err("Not found")}},
                "patch": {"summary": "A new template (rolled out from the highest ordinal down to the partition) and/or a new partition", "parameters": [id_param],
                          "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "properties": {
                              "template": {"type": "object"}, "image": {"type": "string", "description": "only the image of the current template"},
                              "partition": {"type": "integer", "minimum": 0}, "reason": {"type": "string", "maxLength": 1000}}}}}},
                          "responses": with("200", json!({"description": "{statefulSetId, changed, revision?, partition?}"}))},
                "delete": {"summary": "Delete the set and its pods, highest ordinal first (the volumes stay)", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))}
            },
            "/api/v1/workloads/statefulsets/{id}/scale": {
                "post": {"summary": "Scale (a scale-down removes the highest ordinals first)", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["replicas"], "additionalProperties": false,
                             "properties": {"replicas": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "{statefulSetId, replicas, from}"}))}
            },
            "/api/v1/workloads/statefulsets/{id}/rollback": {
                "post": {"summary": "Every ordinal back to a recorded revision", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["revision"], "additionalProperties": false,
                             "properties": {"revision": {"type": "integer", "minimum": 1}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "{statefulSetId, revision, changed}"}))}
            },
            "/api/v1/workloads/statefulsets/{id}/revisions": {
                "get": {"summary": "Every template ever recorded", "parameters": [id_param], "responses": {"200": {"description": "{items:[{revision, image, template, createdAt, actor}]}"}}}
            },
            "/api/v1/workloads/statefulsets/{id}/pods": {
                "get": {"summary": "The set's pods", "parameters": [id_param, as_of.clone()], "responses": {"200": {"description": "{items:[…]}"}}}
            },
            "/api/v1/events": {
                "get": {"summary": "The audit trail: every event (never expiring), filtered, keyset-paged",
                        "parameters": [
                            {"name": "aggregate", "in": "query", "schema": {"type": "string", "format": "uuid"}},
                            {"name": "kind", "in": "query", "schema": {"enum": ["node", "pod", "deployment", "service", "job", "cronjob", "statefulset", "command"]}},
                            {"name": "type", "in": "query", "schema": {"type": "string"}},
                            {"name": "namespace", "in": "query", "schema": {"type": "string"}},
                            {"name": "name", "in": "query", "description": "objects created with this name", "schema": {"type": "string"}},
                            {"name": "actor", "in": "query", "schema": {"type": "string"}},
                            {"name": "causation", "in": "query", "description": "the events of one command", "schema": {"type": "string", "format": "uuid"}},
                            {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                            {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                            {"name": "order", "in": "query", "schema": {"enum": ["asc", "desc"]}},
                            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                            {"name": "cursor", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "{items:[{offset, index, eventId, type, aggregate{kind,id}, sequence, occurredAt, actor, reason, command, causationId, correlationId, body}], nextCursor}"},
                                      "400": err("INVALID_QUERY, INVALID_ID")}}
            },
            "/api/v1/services": {
                "post": {"summary": "Create a service (pods by label selector; the gateway routes host + pathPrefix to its Ready endpoints)",
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["namespace", "name", "selector"],
                            "additionalProperties": false, "properties": {"namespace": {"type": "string"}, "name": {"type": "string"},
                            "selector": {"type": "object", "additionalProperties": {"type": "string"}}, "host": {"type": "string"}, "pathPrefix": {"type": "string"}}}}}},
                         "responses": with("201", json!({"description": "{serviceId, status: CREATED}"}))},
                "get": {"summary": "List services", "responses": {"200": {"description": "{items:[…, readyEndpoints]}"}}}
            },
            "/api/v1/services/{id}": {
                "get": {"summary": "A service", "parameters": [id_param], "responses": {"200": {"description": "The service"}, "404": err("Not found")}},
                "delete": {"summary": "Delete a service", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))}
            },
            "/api/v1/services/{id}/endpoints": {
                "get": {"summary": "The service's Ready endpoints", "parameters": [id_param], "responses": {"200": {"description": "{items:[{podId, podName, address, nodeId, revision}]}"}}}
            },
            "/api/v1/pods/{id}/logs": {
                "get": {"summary": "The pod's stdout and stderr (proxied to its node's agent)", "parameters": [id_param,
                            {"name": "follow", "in": "query", "schema": {"type": "boolean"}}, {"name": "tail", "in": "query", "schema": {"type": "integer"}}],
                        "responses": {"200": {"description": "text/plain"}, "404": err("No such pod or no logs yet"), "409": err("LOGS_UNAVAILABLE (no node yet, or a hollow node)"), "502": err("AGENT_UNREACHABLE")}}
            },
            "/api/v1/workloads/deployments/{id}/pods": {
                "get": {"summary": "The deployment's pods", "parameters": [id_param], "responses": {"200": {"description": "Pods"}}}
            },
            "/api/v1/pods/{id}": {
                "get": {"summary": "A pod, with its placement explanation", "parameters": [id_param], "responses": {"200": {"description": "The pod"}, "404": err("Not found")}}
            },
            "/api/v1/nodes/health": {
                "get": {"summary": "Node health", "parameters": [{"name": "zone", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "{items:[{nodeId,zone,ready,cpuFreeMilli,memFreeMb}]}"}}}
            },
            "/api/v1/nodes": {
                "post": {"summary": "Register a node (for agents that do not speak Kafka)",
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                            "required": ["name", "zone", "cpuCapacityMilli", "memCapacityMb"],
                            "properties": {"name": {"type": "string"}, "zone": {"type": "string"}, "cpuCapacityMilli": {"type": "integer"},
                              "memCapacityMb": {"type": "integer"}, "cpuAllocatableMilli": {"type": "integer"}, "memAllocatableMb": {"type": "integer"},
                              "labels": {"type": "object"}, "taints": {"type": "array"}}}}}},
                         "responses": with("201", json!({"description": "Registered (200 UNCHANGED when already registered as is)"}))}
            },
            "/api/v1/nodes/{id}/heartbeat": {
                "post": {"summary": "Heartbeat (to the compacted heartbeat topic, not the event log)", "parameters": [id_param], "responses": {"202": {"description": "Stored"}}}
            },
            "/api/v1/nodes/{id}/pods": {
                "get": {"summary": "Live pods bound to the node", "parameters": [id_param], "responses": {"200": {"description": "Pods"}}}
            },
            "/api/v1/pods/{id}/status": {
                "post": {"summary": "A node agent reports a pod Started, Ready, Failed (with its exitCode) or Succeeded", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                            "required": ["nodeId", "state"], "properties": {"nodeId": {"type": "string", "format": "uuid"},
                              "state": {"enum": ["Started", "Ready", "Failed", "Succeeded"]}, "reason": {"type": "string"}, "exitCode": {"type": "integer"}}}}}},
                         "responses": with("200", json!({"description": "{podId, state, changed}"}))}
            },
            "/api/v1/pods/{id}/placement": {
                "get": {"summary": "Why the pod is where it is: nodes removed per filter, top-scored nodes with per-plugin scores, the winner, pods preempted; or why no node fits yet",
                        "parameters": [id_param], "responses": {"200": {"description": "{status: Bound|Unschedulable|Pending, nodesTotal, nodesExamined, nodesFeasible, filtered, top, winner, preempted, lastUnschedulable}"}, "404": err("Not found")}}
            },
            "/api/v1/pods/{id}/eviction": {
                "post": {"summary": "Evict a pod (its controller replaces it) within its deployment's disruption budget", "parameters": [id_param],
                         "requestBody": {"required": false, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                            "properties": {"reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "{podId, evicted}"})).as_object().cloned().map(|mut m| {
                            m.insert("429".into(), err("The disruption budget allows no more disruptions now (DISRUPTION_BUDGET_EXCEEDED)"));
                            Value::Object(m)
                         }).unwrap_or_default()}
            },
            "/api/v1/nodes/{id}": {
                "get": {"summary": "A node (by UUID or name): condition, cordon/drain state, taints, usage, pods", "parameters": [id_param],
                        "responses": {"200": {"description": "The node"}, "404": err("Not found")}}
            },
            "/api/v1/nodes/{id}/cordon": {"post": {"summary": "Cordon: no new pods", "parameters": [id_param], "responses": with("200", json!({"description": "The node, with changed"}))}},
            "/api/v1/nodes/{id}/uncordon": {"post": {"summary": "Uncordon (also stops a drain)", "parameters": [id_param], "responses": with("200", json!({"description": "The node, with changed"}))}},
            "/api/v1/nodes/{id}/drain": {"post": {"summary": "Cordon and evict every pod within the disruption budgets (the controller keeps going until the node is empty)",
                "parameters": [id_param], "responses": with("200", json!({"description": "The node, with changed"}))}},
            "/api/v1/nodes/{id}/taints": {
                "put": {"summary": "Replace the node's taints; NoExecute evicts pods that do not tolerate it (after their tolerationSeconds)", "parameters": [id_param],
                        "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false, "required": ["taints"],
                           "properties": {"taints": {"type": "array", "items": {"type": "object", "required": ["key", "effect"], "properties": {
                             "key": {"type": "string"}, "value": {"type": "string"}, "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]}}}}}}}}},
                        "responses": with("200", json!({"description": "{nodeId, taints (with timeAddedMs), changed}"}))}
            },
            "/api/v1/auth/token": {
                "delete": {"summary": "Revoke the token this request presents (for the bootstrap admin token, the next `orch up` mints a new one)",
                           "responses": {"200": {"description": "{actor, status: REVOKED}"}, "401": err("Missing, unknown or revoked token (UNAUTHENTICATED)")}}
            },
            "/metrics": {"get": {"summary": "Prometheus metrics", "security": [], "responses": {"200": {"description": "text/plain"}}}}
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "object", "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}}}}}},
                "DeploymentCreate": {
                    "type": "object", "additionalProperties": false,
                    "required": ["namespace", "name", "image", "replicas", "resources"],
                    "properties": {
                        "namespace": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
                        "name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"},
                        "image": {"type": "string"},
                        "replicas": {"type": "integer", "minimum": 0, "maximum": 100000},
                        "resources": {"type": "object", "additionalProperties": false, "required": ["cpuRequestMilli", "memRequestMb"], "properties": {
                            "cpuRequestMilli": {"type": "integer", "minimum": 1}, "cpuLimitMilli": {"type": "integer"},
                            "memRequestMb": {"type": "integer", "minimum": 1}, "memLimitMb": {"type": "integer"}}},
                        "strategy": {"type": "object", "additionalProperties": false, "properties": {
                            "type": {"const": "RollingUpdate"}, "maxUnavailable": {"type": "integer"}, "maxSurge": {"type": "integer"}}},
                        "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
                        "tolerations": {"type": "array", "items": {"type": "object", "properties": {
                            "key": {"type": "string"}, "operator": {"enum": ["Equal", "Exists"]}, "value": {"type": "string"},
                            "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]}, "tolerationSeconds": {"type": "integer"}}}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Pod labels; app=<name> is implied"},
                        "affinity": {"type": "object", "additionalProperties": false, "properties": {
                            "nodeAffinity": {"type": "object", "properties": {
                                "required": {"type": "array", "description": "NodeSelectorTerms, ORed: {matchExpressions: [{key, operator: In|NotIn|Exists|DoesNotExist|Gt|Lt, values}]}"},
                                "preferred": {"type": "array", "description": "[{weight 1-100, preference: NodeSelectorTerm}]"}}},
                            "podAffinity": {"$ref": "#/components/schemas/PodAffinity"},
                            "podAntiAffinity": {"$ref": "#/components/schemas/PodAffinity"}}},
                        "topologySpreadConstraints": {"type": "array", "items": {"type": "object", "required": ["maxSkew", "topologyKey"], "properties": {
                            "maxSkew": {"type": "integer", "minimum": 1}, "topologyKey": {"enum": ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]},
                            "whenUnsatisfiable": {"enum": ["DoNotSchedule", "ScheduleAnyway"]}, "labelSelector": {"type": "object"}}}},
                        "priorityClassName": {"enum": ["system-node-critical", "system-cluster-critical", "high", "default", "low"]},
                        "priority": {"type": "integer"},
                        "disruptionBudget": {"type": "object", "additionalProperties": false, "description": "Exactly one of the two",
                            "properties": {"minAvailable": {"type": "integer"}, "maxUnavailable": {"type": "integer"}}},
                        "command": {"type": "array", "items": {"type": "string"}},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "env": {"type": "object", "additionalProperties": {"type": "string"}},
                        "readinessProbe": {"$ref": "#/components/schemas/Probe"},
                        "livenessProbe": {"$ref": "#/components/schemas/Probe"},
                        "startupProbe": {"$ref": "#/components/schemas/Probe"}
                    }
                },
                "Probe": {"type": "object", "additionalProperties": false, "description": "Exactly one of httpGet, tcpSocket, exec",
                    "properties": {"httpGet": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}},
                        "tcpSocket": {"type": "object"}, "exec": {"type": "object", "required": ["command"], "properties": {"command": {"type": "array", "items": {"type": "string"}}}},
                        "initialDelayMs": {"type": "integer", "minimum": 0}, "periodMs": {"type": "integer", "minimum": 1}, "timeoutMs": {"type": "integer", "minimum": 1},
                        "failureThreshold": {"type": "integer", "minimum": 1}, "successThreshold": {"type": "integer", "minimum": 1}}},
                "PodAffinity": {"type": "object", "properties": {
                    "required": {"type": "array", "items": {"type": "object", "required": ["labelSelector", "topologyKey"], "properties": {
                        "labelSelector": {"type": "object"}, "topologyKey": {"enum": ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]}}}},
                    "preferred": {"type": "array", "description": "[{weight 1-100, podAffinityTerm}]"}}
                }
            }
        }
    })
}
