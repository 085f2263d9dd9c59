//! The OpenAPI 3.1 document, written by hand next to the routes it describes.

use axum::Json;
use serde_json::{Value, json};

pub async fn document() -> Json<Value> {
    let error = json!({"$ref": "#/components/schemas/Error"});
    let err =
        |d: &str| json!({"description": d, "content": {"application/json": {"schema": error}}});
    let id_param = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string", "format": "uuid"}});
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
    Json(json!({
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
                "get": {"summary": "List deployments", "parameters": [{"name": "namespace", "in": "query", "schema": {"type": "string"}}],
                        "responses": {"200": {"description": "Deployments"}}}
            },
            "/api/v1/workloads/deployments/{id}": {
                "get": {"summary": "Read a deployment", "parameters": [id_param], "responses": {"200": {"description": "The deployment"}, "404": err("Not found")}},
                "delete": {"summary": "Delete a deployment and its pods", "parameters": [id_param], "responses": with("200", json!({"description": "Deleted"}))}
            },
            "/api/v1/workloads/deployments/{id}/scale": {
                "post": {"summary": "Scale a deployment", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "required": ["replicas"],
                            "additionalProperties": false, "properties": {"replicas": {"type": "integer", "minimum": 0}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "Scaled"}))}
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
                "post": {"summary": "A node agent reports a pod Started, Ready or Failed", "parameters": [id_param],
                         "requestBody": {"required": true, "content": {"application/json": {"schema": {"type": "object", "additionalProperties": false,
                            "required": ["nodeId", "state"], "properties": {"nodeId": {"type": "string", "format": "uuid"},
                              "state": {"enum": ["Started", "Ready", "Failed"]}, "reason": {"type": "string"}}}}}},
                         "responses": with("200", json!({"description": "{podId, state, changed}"}))}
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
                        "tolerations": {"type": "array", "items": {"type": "object"}}
                    }
                }
            }
        }
    }))
}
