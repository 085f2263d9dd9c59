//! `GET /api/v1/events`: the audit trail (the `event_log` projection),
//! filtered and paged; nothing expires.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::openapi::{ReadDegraded, Unauthenticated};
use crate::error::{ApiError, ErrorBody};
use crate::extract::Actor;
use crate::json::ApiQuery;
use crate::state::S;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Query {
    /// An aggregate id (node, pod, deployment, service, job, cron job, StatefulSet).
    aggregate: Option<String>,
    /// The events of the pods a workload (deployment, job, StatefulSet) created, by its id.
    owner: Option<String>,
    /// `node`, `pod`, `deployment`, `service`, `job`, `cronjob`, `statefulset`, `command`.
    kind: Option<String>,
    /// An event type, e.g. `PodBound`.
    #[serde(rename = "type")]
    event_type: Option<String>,
    /// Events of objects created in this namespace.
    namespace: Option<String>,
    /// Events of objects created with this name (a node's, a deployment's, a job's, a pod's, a service's).
    name: Option<String>,
    actor: Option<String>,
    /// The events one command produced (a `causationId` or `correlationId` seen in another event).
    causation: Option<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    /// The grants and tokens of a subject (a user's name, or
    /// `system:serviceaccount:<ns>:<name>`): bindings that added or removed
    /// it, and its tokens issued and revoked.
    subject: Option<String>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<String>,
    /// 1–1000, default 100.
    limit: Option<i64>,
    /// `nextCursor` of the previous page.
    cursor: Option<String>,
}

type Row = (
    i64,
    i32,
    Uuid,
    String,
    String,
    Uuid,
    i64,
    DateTime<Utc>,
    String,
    Option<String>,
    Uuid,
    Uuid,
    Value,
    Option<String>,
);

fn bad(code: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, code, message)
}

#[utoipa::path(get, path = "/api/v1/events", tag = "events",
    summary = "The audit trail: every event (never expiring), filtered, keyset-paged",
    params(Query),
    responses(
        (status = 200, description = "`{items: [{offset, index, eventId, type, aggregate: {kind, id}, sequence, occurredAt, actor, reason, command, causationId, correlationId, body}], nextCursor}`", body = Value),
        (status = 400, description = "INVALID_QUERY (an unknown parameter, kind, order, limit or cursor), INVALID_ID (aggregate, causation, owner)", body = ErrorBody),
        Unauthenticated, ReadDegraded,
    ))]
async fn list(
    State(s): State<S>,
    _: Actor,
    ApiQuery(q): ApiQuery<Query>,
) -> Result<Json<Value>, ApiError> {
    let causation = match q.causation.as_deref() {
        Some(c) => Some(
            Uuid::parse_str(c)
                .map_err(|_| bad("INVALID_ID", format!("causation '{c}' is not a UUID")))?,
        ),
        None => None,
    };
    let owner = match q.owner.as_deref() {
        Some(o) => Some(
            Uuid::parse_str(o)
                .map_err(|_| bad("INVALID_ID", format!("owner '{o}' is not a UUID")))?
                .to_string(),
        ),
        None => None,
    };
    let aggregate = match q.aggregate.as_deref() {
        Some(a) => Some(
            Uuid::parse_str(a)
                .map_err(|_| bad("INVALID_ID", format!("aggregate '{a}' is not a UUID")))?,
        ),
        None => None,
    };
    if let Some(k) = q.kind.as_deref()
        && k.parse::<domain::AggregateKind>().is_err()
    {
        use strum::VariantNames;
        return Err(bad(
            "INVALID_QUERY",
            format!(
                "kind '{k}' is not one of {}",
                domain::AggregateKind::VARIANTS.join(", ")
            ),
        ));
    }
    let desc = match q.order.as_deref() {
        None | Some("asc") => false,
        Some("desc") => true,
        Some(o) => {
            return Err(bad(
                "INVALID_QUERY",
                format!("order '{o}' is not asc or desc"),
            ));
        }
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(bad(
            "INVALID_QUERY",
            format!("limit must be 1 to 1000, got {limit}"),
        ));
    }
    let cursor = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let parsed = c
                .split_once(':')
                .and_then(|(o, i)| Some((o.parse::<i64>().ok()?, i.parse::<i32>().ok()?)));
            Some(parsed.ok_or_else(|| {
                bad(
                    "INVALID_QUERY",
                    format!("cursor '{c}' is not one this API returned"),
                )
            })?)
        }
    };
    // A binding names a subject as {kind, name[, namespace]}.
    let subject_filter = q
        .subject
        .as_deref()
        .map(|subject| match domain::identity::Principal::of(subject) {
            domain::identity::Principal::ServiceAccount { namespace, name } => {
                json!([{"kind": "ServiceAccount", "namespace": namespace, "name": name}])
            }
            _ => json!([{"kind": "User", "name": subject}]),
        });
    // Keyset paging over the log position: stable while the log grows.
    let sql = format!(
        "SELECT log_offset, batch_index, event_id, event_type, aggregate_kind, aggregate_id, sequence,
                occurred_at, actor, reason, causation_id, correlation_id, body, command
           FROM event_log e
          WHERE ($1::uuid IS NULL OR aggregate_id = $1)
            AND ($2::text IS NULL OR aggregate_kind = $2)
            AND ($3::text IS NULL OR event_type = $3)
            AND (($4::text IS NULL AND $11::text IS NULL) OR aggregate_id IN (
                  SELECT aggregate_id FROM event_log
                   WHERE event_type IN ('PodCreated', 'DeploymentCreated', 'ServiceCreated', 'NodeRegistered', 'JobCreated', 'CronJobCreated', 'StatefulSetCreated', 'NamespaceCreated', 'ResourceQuotaSet')
                     AND ($4 IS NULL OR COALESCE(body->>'namespace', body->'spec'->>'namespace') = $4)
                     AND ($11 IS NULL OR COALESCE(body->>'name', body->'spec'->>'name') = $11)))
            AND ($5::text IS NULL OR actor = $5)
            AND ($12::uuid IS NULL OR causation_id = $12)
            AND ($13::text IS NULL OR aggregate_id IN (
                  SELECT aggregate_id FROM event_log
                   WHERE event_type = 'PodCreated'
                     AND COALESCE(body->>'deploymentId', body->>'jobId', body->>'statefulSetId') = $13))
            AND ($14::text IS NULL
                 OR (event_type IN ('RoleBindingSet', 'RoleBindingDeleted')
                     AND (body->'added' @> $15 OR body->'removed' @> $15
                          OR (event_type = 'RoleBindingDeleted' AND body->'subjects' @> $15)))
                 OR (event_type IN ('TokenIssued', 'TokenRevoked') AND body->>'subject' = $14))
            AND ($6::timestamptz IS NULL OR occurred_at >= $6)
            AND ($7::timestamptz IS NULL OR occurred_at < $7)
            AND ($8::int8 IS NULL OR (log_offset, batch_index) {} ($8, $9))
          ORDER BY log_offset {dir}, batch_index {dir}
          LIMIT $10",
        if desc { "<" } else { ">" },
        dir = if desc { "DESC" } else { "ASC" },
    );
    let rows: Vec<Row> = sqlx::query_as(&sql)
        .bind(aggregate)
        .bind(q.kind)
        .bind(q.event_type)
        .bind(q.namespace)
        .bind(q.actor)
        .bind(q.since)
        .bind(q.until)
        .bind(cursor.map(|c| c.0))
        .bind(cursor.map(|c| c.1).unwrap_or(0))
        .bind(limit)
        .bind(q.name)
        .bind(causation)
        .bind(owner)
        .bind(q.subject.as_deref())
        .bind(subject_filter)
        .fetch_all(&s.pool)
        .await?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| format!("{}:{}", r.0, r.1)))
        .flatten();
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            json!({"offset": r.0, "index": r.1, "eventId": r.2, "type": r.3,
                   "aggregate": {"kind": r.4, "id": r.5}, "sequence": r.6, "occurredAt": r.7,
                   "actor": r.8, "reason": r.9, "causationId": r.10, "correlationId": r.11, "body": r.12,
                   "command": r.13})
        })
        .collect();
    Ok(Json(json!({"items": items, "nextCursor": next})))
}
