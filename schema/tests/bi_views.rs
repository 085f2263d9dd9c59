//! The BI views of `0005_bi_views.sql` against a small hand-made history
//! whose answers are known: pods created and bound at known times, rollouts
//! that succeeded, failed and were rolled back, restarts, nodes in two zones,
//! and user changes in two namespaces, one deployment deleted along the way.
//!
//! Needs PostgreSQL at DATABASE_URL (default 127.0.0.1:5432, user postgres);
//! the test makes its own database and drops it.

use sqlx::{Connection, Executor, PgConnection};

/// The fixtures name objects `@name`; these are their ids.
const IDS: &[(&str, &str)] = &[
    ("web", "00000000-0000-0000-0000-00000000d001"), // default/web, live
    ("cart", "00000000-0000-0000-0000-00000000d002"), // shop/cart, deleted
    ("api", "00000000-0000-0000-0000-00000000d003"), // shop/api, never updated
    ("web-0", "00000000-0000-0000-0000-00000000a001"),
    ("web-1", "00000000-0000-0000-0000-00000000a002"),
    ("web-2", "00000000-0000-0000-0000-00000000a003"),
    ("cart-0", "00000000-0000-0000-0000-00000000a004"),
    ("cart-1", "00000000-0000-0000-0000-00000000a005"),
    ("node-a1", "00000000-0000-0000-0000-00000000b001"),
    ("node-a2", "00000000-0000-0000-0000-00000000b002"),
    ("node-b1", "00000000-0000-0000-0000-00000000b003"),
    ("node-b2", "00000000-0000-0000-0000-00000000b004"),
    ("rejected", "00000000-0000-0000-0000-00000000c001"),
];

#[tokio::test]
async fn each_bi_view_answers_its_question_exactly_on_a_known_history() {
    let server = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!(
        "bi_views_test_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut admin = PgConnection::connect(&server)
        .await
        .expect("PostgreSQL must run on DATABASE_URL or 127.0.0.1:5432");
    admin
        .execute(format!("CREATE DATABASE {name}").as_str())
        .await
        .unwrap();
    // In a task, so a failed assertion still lets the database be dropped.
    let outcome = tokio::spawn(given_a_history_then_the_views_answer(with_database(
        &server, &name,
    )))
    .await;
    admin
        .execute(format!("DROP DATABASE {name} WITH (FORCE)").as_str())
        .await
        .unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

fn with_database(url: &str, db: &str) -> String {
    let authority = url.find("://").map_or(0, |i| i + 3);
    let (base, query) = match url[authority..].find('/') {
        Some(i) => {
            let rest = &url[authority + i..];
            (
                &url[..authority + i],
                rest.find('?').map_or("", |q| &rest[q..]),
            )
        }
        None => (url, ""),
    };
    format!("{base}/{db}{query}")
}

async fn given_a_history_then_the_views_answer(url: String) {
    // Through a pool: `run` on a bare connection makes a future that is not `Send`.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    schema::MIGRATOR.run(&pool).await.unwrap();
    pool.close().await;
    let mut db = PgConnection::connect(&url).await.unwrap();
    db.execute(resolve(PROJECTIONS).as_str()).await.unwrap();
    given_events(&mut db).await;
    // Days are UTC days whatever the session's zone (UTC+12:45 here).
    db.execute("SET TimeZone = 'Pacific/Chatham'")
        .await
        .unwrap();

    // 10:00: 100, 300 and 1000 ms (web-0's second PodBound does not count);
    // cart-1 never bound. 10:01: 50 ms.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s', to_char(minute AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                           pods_created, pods_bound, p50_ms, p95_ms, max_ms)
               FROM bi_scheduling_latency_per_minute ORDER BY minute"
        )
        .await,
        ["2024-05-01 10:00|4|3|300.0|930.0|1000.0", "2024-05-01 10:01|1|1|50.0|50.0|50.0"]
    );

    // 05-01: web 1 ok, 2 rolled back, 3 (auto) ok; cart 1 failed, 2 (manual) ok.
    // 05-02: web 4 rolled back by 5 (running); cart 3 running when cart was deleted.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s|%s|%s', day, started, succeeded, rolled_back, failed,
                           running, abandoned, success_pct)
               FROM bi_rollouts_per_day ORDER BY day"
        )
        .await,
        ["2024-05-01|5|3|1|1|0|0|60.0", "2024-05-02|3|0|1|0|1|1|0.0"]
    );

    // shop/api had no rollout after its creation: no row. shop/cart is deleted
    // but keeps its name; web's last rollback gave no reason of its own.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', namespace, name,
                           to_char(deleted_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'),
                           rollouts, rollbacks, manual_rollbacks, automatic_rollbacks,
                           to_char(last_rollback_at AT TIME ZONE 'UTC', 'MM-DD HH24:MI'),
                           last_rollback_to_revision, last_rollback_by, last_reason)
               FROM bi_rollbacks_per_workload ORDER BY namespace, name"
        )
        .await,
        [
            "default|web||5|2|1|1|05-02 08:05|1|alice|rollback to revision 1 requested by alice",
            "shop|cart|05-02 09:00|3|1|1|0|05-01 23:30|1|bob|bad build",
        ]
    );

    // az-b's NotReady node adds to `nodes` only.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s|%s|%s|%s|%s', zone, nodes, ready_nodes,
                           cpu_allocatable_milli, cpu_requested_milli, cpu_used_pct,
                           mem_allocatable_mb, mem_requested_mb, mem_used_pct, pods)
               FROM bi_node_utilisation_by_zone ORDER BY zone"
        )
        .await,
        [
            "az-a|2|2|8000|4000|50.0|16000|6000|37.5|5",
            "az-b|2|1|2000|500|25.0|4000|1000|25.0|1",
        ]
    );

    // cart-0 was deleted with its deployment and still counts.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s', namespace, deployment, restarts, pods_restarted,
                           last_reason, to_char(last_restart_at AT TIME ZONE 'UTC', 'HH24:MI:SS'))
               FROM bi_pod_restarts ORDER BY namespace, deployment"
        )
        .await,
        [
            "default|web|3|2|exited with status 1|10:05:59",
            "shop|cart|1|1|liveness probe failed: GET /healthz → 500|10:07:00",
        ]
    );

    // Pods and rollouts take their namespace from their creation event; the
    // cordon is cluster-scoped; the controller's events and alice's rejected
    // command are not changes.
    assert_eq!(
        rows(
            &mut db,
            "SELECT format('%s|%s|%s|%s|%s|%s', day, namespace, actor, event_type, events, objects)
               FROM bi_changes_by_namespace ORDER BY day, namespace NULLS FIRST, actor, event_type"
        )
        .await,
        [
            "2024-05-01||alice|NodeCordoned|1|1",
            "2024-05-01|default|alice|DeploymentCreated|1|1",
            "2024-05-01|default|alice|DeploymentRevisionCreated|1|1",
            "2024-05-01|default|alice|DeploymentScaled|1|1",
            "2024-05-01|default|alice|RolloutStarted|1|1",
            "2024-05-01|shop|bob|DeploymentCreated|2|2",
            "2024-05-02|default|alice|RolloutRolledBack|1|1",
            "2024-05-02|default|alice|RolloutStarted|1|1",
            "2024-05-02|shop|bob|DeploymentDeleted|1|1",
            "2024-05-02|shop|bob|PodDeleted|2|2",
        ]
    );
}

async fn rows(db: &mut PgConnection, sql: &str) -> Vec<String> {
    sqlx::query_scalar(sql).fetch_all(db).await.unwrap()
}

/// `@name` (before a closing quote) → the object's id.
fn resolve(text: &str) -> String {
    let mut out = text.to_string();
    for (name, id) in IDS {
        for quote in ['\'', '"'] {
            out = out.replace(&format!("@{name}{quote}"), &format!("{id}{quote}"));
        }
    }
    out
}

/// What the projector would have left: the live deployments (cart is gone),
/// the rollout history of all three, four nodes in two zones. No pod rows:
/// the pod views must not need them.
const PROJECTIONS: &str = "
INSERT INTO workload_def (id, namespace, name, kind, desired_replicas, image, cpu_request_milli,
    cpu_limit_milli, mem_request_mb, mem_limit_mb, strategy, spec, revision, created_at, updated_at)
SELECT id::uuid, ns, name, 'Deployment', 2, 'demo-app:v1', 100, 200, 64, 128, '{}', '{}', 1,
       '2024-05-01T10:00:00Z', '2024-05-01T10:00:00Z'
  FROM (VALUES ('@web', 'default', 'web'), ('@api', 'shop', 'api')) AS v(id, ns, name);

INSERT INTO rollout_history (id, workload_id, rollout, from_revision, to_revision, trigger, status,
    reason, actor, started_at, ended_at)
SELECT gen_random_uuid(), w::uuid, n, f, t, tr, st, re, a, s::timestamptz,
       CASE WHEN st <> 'RUNNING' THEN s::timestamptz + interval '2 minutes' END
  FROM (VALUES
    ('@web', 0, NULL, 1, 'CREATE', 'SUCCEEDED', 'initial revision', NULL, '2024-05-01T10:00:00Z'),
    ('@web', 1, 1, 2, 'UPDATE', 'SUCCEEDED', NULL, 'alice', '2024-05-01T10:10:00Z'),
    ('@web', 2, 2, 3, 'UPDATE', 'ROLLED_BACK', '1 pod(s) of revision 3 failed', 'alice', '2024-05-01T11:00:00Z'),
    ('@web', 3, 3, 2, 'AUTO_ROLLBACK', 'SUCCEEDED', '1 pod(s) of revision 3 failed', 'system:controller', '2024-05-01T11:05:00Z'),
    ('@web', 4, 2, 4, 'UPDATE', 'ROLLED_BACK', 'rollback to revision 1 requested by alice', 'alice', '2024-05-02T08:00:00Z'),
    ('@web', 5, 4, 1, 'ROLLBACK', 'RUNNING', NULL, 'alice', '2024-05-02T08:05:00Z'),
    ('@cart', 0, NULL, 1, 'CREATE', 'SUCCEEDED', 'initial revision', NULL, '2024-05-01T10:00:00Z'),
    ('@cart', 1, 1, 2, 'UPDATE', 'FAILED', 'no progress for 600 s', 'bob', '2024-05-01T12:00:00Z'),
    -- Late on 05-01 UTC, already 05-02 in the session's zone.
    ('@cart', 2, 2, 1, 'ROLLBACK', 'SUCCEEDED', 'bad build', 'bob', '2024-05-01T23:30:00Z'),
    -- Still running when cart was deleted.
    ('@cart', 3, 1, 3, 'UPDATE', 'RUNNING', NULL, 'bob', '2024-05-02T08:30:00Z'),
    ('@api', 0, NULL, 1, 'CREATE', 'SUCCEEDED', 'initial revision', NULL, '2024-05-01T10:00:00Z')
  ) AS v(w, n, f, t, tr, st, re, a, s);

INSERT INTO node_status (id, name, zone, cpu_total_milli, mem_total_mb, cpu_allocatable_milli,
    mem_allocatable_mb, cpu_requested_milli, mem_requested_mb, pod_count, ready, condition, labels,
    taints, registered_at, updated_at)
SELECT id::uuid, name, zone, cpu, mem, cpu, mem, cpu_req, mem_req, pods, ready,
       CASE WHEN ready THEN 'Ready' ELSE 'NotReady' END, '{}', '[]',
       '2024-05-01T09:00:00Z', '2024-05-01T09:00:00Z'
  FROM (VALUES
    ('@node-a1', 'node-a1', 'az-a', true, 4000, 1000, 8000, 2000, 2),
    ('@node-a2', 'node-a2', 'az-a', true, 4000, 3000, 8000, 4000, 3),
    ('@node-b1', 'node-b1', 'az-b', true, 2000, 500, 4000, 1000, 1),
    ('@node-b2', 'node-b2', 'az-b', false, 2000, 1500, 4000, 1000, 2)
  ) AS v(id, name, zone, ready, cpu, cpu_req, mem, mem_req, pods);
";

/// The log, in order: aggregate kind and name, occurred at, actor, body.
const LOG: &str = r#"
node       node-a1 2024-05-01T09:00:00Z     system:node-agent/node-a1 {"type":"NodeRegistered","nodeId":"@node-a1","spec":{"name":"node-a1","zone":"az-a"}}
deployment web     2024-05-01T10:00:00Z     alice  {"type":"DeploymentCreated","deploymentId":"@web","spec":{"namespace":"default","name":"web","image":"demo-app:v1","replicas":2},"revision":1}
deployment cart    2024-05-01T10:00:00Z     bob    {"type":"DeploymentCreated","deploymentId":"@cart","spec":{"namespace":"shop","name":"cart","image":"demo-app:v1","replicas":2},"revision":1}
deployment api     2024-05-01T10:00:00Z     bob    {"type":"DeploymentCreated","deploymentId":"@api","spec":{"namespace":"shop","name":"api","image":"demo-app:v1","replicas":2},"revision":1}
pod        web-0   2024-05-01T10:00:00Z     system:controller {"type":"PodCreated","podId":"@web-0","deploymentId":"@web","namespace":"default","name":"web-0","ordinal":0,"revision":1}
pod        web-0   2024-05-01T10:00:00.100Z system:scheduler  {"type":"PodBound","podId":"@web-0","nodeId":"@node-a1"}
pod        web-1   2024-05-01T10:00:10Z     system:controller {"type":"PodCreated","podId":"@web-1","deploymentId":"@web","namespace":"default","name":"web-1","ordinal":1,"revision":1}
pod        web-1   2024-05-01T10:00:10.300Z system:scheduler  {"type":"PodBound","podId":"@web-1","nodeId":"@node-a1"}
pod        cart-0  2024-05-01T10:00:20Z     system:controller {"type":"PodCreated","podId":"@cart-0","deploymentId":"@cart","namespace":"shop","name":"cart-0","ordinal":0,"revision":1}
pod        cart-0  2024-05-01T10:00:21Z     system:scheduler  {"type":"PodBound","podId":"@cart-0","nodeId":"@node-a1"}
pod        cart-1  2024-05-01T10:00:30Z     system:controller {"type":"PodCreated","podId":"@cart-1","deploymentId":"@cart","namespace":"shop","name":"cart-1","ordinal":1,"revision":1}
pod        cart-0  2024-05-01T10:00:40Z     system:scheduler  {"type":"PodBound","podId":"@cart-0","nodeId":"@node-a2"}
pod        web-2   2024-05-01T10:01:00Z     system:controller {"type":"PodCreated","podId":"@web-2","deploymentId":"@web","namespace":"default","name":"web-2","ordinal":2,"revision":1}
pod        web-2   2024-05-01T10:01:00.050Z system:scheduler  {"type":"PodBound","podId":"@web-2","nodeId":"@node-a1"}
pod        web-1   2024-05-01T10:04:00Z     system:node-agent/node-a1 {"type":"PodRestarted","podId":"@web-1","nodeId":"@node-a1","restarts":1,"backoffMs":1000,"reason":"readiness probe failed"}
pod        web-0   2024-05-01T10:06:00Z     system:node-agent/node-a1 {"type":"PodRestarted","podId":"@web-0","nodeId":"@node-a1","restarts":1,"backoffMs":1000,"reason":"liveness probe failed"}
pod        web-0   2024-05-01T10:05:59Z     system:node-agent/node-a1 {"type":"PodRestarted","podId":"@web-0","nodeId":"@node-a1","restarts":2,"backoffMs":2000,"reason":"exited with status 1"}
pod        cart-0  2024-05-01T10:07:00Z     system:node-agent/node-a1 {"type":"PodRestarted","podId":"@cart-0","nodeId":"@node-a2","restarts":1,"backoffMs":1000,"reason":"liveness probe failed: GET /healthz → 500"}
deployment web     2024-05-01T10:08:00Z     alice  {"type":"DeploymentScaled","deploymentId":"@web","from":2,"to":3}
deployment web     2024-05-01T10:10:00Z     alice  {"type":"DeploymentRevisionCreated","deploymentId":"@web","revision":2,"spec":{"namespace":"default","name":"web"}}
deployment web     2024-05-01T10:10:00Z     alice  {"type":"RolloutStarted","deploymentId":"@web","rollout":1,"from":1,"to":2,"trigger":"Update"}
deployment web     2024-05-01T10:12:00Z     system:controller {"type":"RolloutSucceeded","deploymentId":"@web","rollout":1,"from":1,"to":2}
node       node-b2 2024-05-01T11:30:00Z     alice  {"type":"NodeCordoned","nodeId":"@node-b2","drain":false}
command    rejected 2024-05-02T07:00:00Z    alice  {"type":"CommandRejected","commandType":"ScaleDeployment","code":"NOT_FOUND","message":"deployment not found"}
deployment web     2024-05-02T08:05:00Z     alice  {"type":"RolloutRolledBack","deploymentId":"@web","rollout":4,"from":4,"to":1,"automatic":false,"reason":"rollback to revision 1 requested by alice"}
deployment web     2024-05-02T08:05:00Z     alice  {"type":"RolloutStarted","deploymentId":"@web","rollout":5,"from":4,"to":1,"trigger":"Rollback"}
pod        cart-0  2024-05-02T09:00:00Z     bob    {"type":"PodDeleted","podId":"@cart-0","reason":"deployment deleted","usage":null}
pod        cart-1  2024-05-02T09:00:00Z     bob    {"type":"PodDeleted","podId":"@cart-1","reason":"deployment deleted","usage":null}
deployment cart    2024-05-02T09:00:00Z     bob    {"type":"DeploymentDeleted","deploymentId":"@cart","namespace":"shop","name":"cart"}
"#;

async fn given_events(db: &mut PgConnection) {
    let lines = LOG.lines().map(str::trim).filter(|l| !l.is_empty());
    for (offset, line) in lines.enumerate() {
        let mut rest = line;
        let mut next = || {
            let (field, tail) = rest.split_once(' ').expect("five fields");
            rest = tail.trim_start();
            field
        };
        let (kind, aggregate, at, actor) = (next(), next(), next(), next());
        let aggregate = IDS
            .iter()
            .find(|(n, _)| *n == aggregate)
            .expect("known name")
            .1;
        sqlx::query(
            "INSERT INTO event_log (event_id, log_offset, batch_index, causation_id, correlation_id,
               aggregate_kind, aggregate_id, sequence, event_type, occurred_at, actor, reason, epoch,
               schema_version, body)
             SELECT gen_random_uuid(), $1, 0, gen_random_uuid(), gen_random_uuid(), $2, $3::uuid,
               (SELECT count(*) + 1 FROM event_log WHERE aggregate_id = $3::uuid),
               $6::jsonb->>'type', $4::timestamptz, $5, NULL, 1, 1, $6::jsonb",
        )
        .bind(offset as i64)
        .bind(kind)
        .bind(aggregate)
        .bind(at)
        .bind(actor)
        .bind(resolve(rest))
        .execute(&mut *db)
        .await
        .unwrap();
    }
}
