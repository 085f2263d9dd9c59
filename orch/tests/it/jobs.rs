//! Jobs end to end: pods that run to completion on both runtimes, retries
//! after a back-off, Indexed completions, the pod failure policy, bad input,
//! and what the projections and the log say about every run.

use serde_json::{Value, json};

use crate::support::*;

fn job(name: &str, completions: i64, parallelism: i64, template: Value) -> Value {
    json!({"namespace": "default", "name": name, "completions": completions,
           "parallelism": parallelism, "template": template})
}

fn shell(script: &str) -> Value {
    json!({"image": "busybox:1.36", "resources": {"cpuRequestMilli": 10, "memRequestMb": 16},
           "command": ["/bin/sh", "-c", script]})
}

async fn create(c: &Cluster, body: Value) -> String {
    let (s, v) = c.post("/api/v1/workloads/jobs", body).await;
    assert_eq!(s, 201, "{v}");
    v["jobId"].as_str().unwrap().to_string()
}

async fn finished(c: &Cluster, id: &str) -> Value {
    eventually("the job finishes", DEADLINE, || async {
        let (s, v) = c.get(&format!("/api/v1/workloads/jobs/{id}")).await;
        (s == 200 && v["status"]["outcome"] != "Running").then_some(v)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_on_real_processes_retries_a_failed_pod_after_a_back_off_and_completes() {
    let c = Cluster::start(
        "jobproc",
        Options {
            runtime: "process",
            up_args: vec!["--job-backoff-base-ms".into(), "1500".into()],
            ..Default::default()
        },
    )
    .await;
    let marker = std::env::temp_dir().join(format!("orch-job-{}", uuid::Uuid::new_v4()));
    // Exactly one pod (the first to take the marker) fails with code 3, at
    // once; the others take 2 s, so no success resets the back-off (1.5 s)
    // before the controller may create a pod again.
    let script = format!(
        "mkdir {} 2>/dev/null && exit 3; sleep 2; exit 0",
        marker.display()
    );
    let mut body = job("etl", 10, 3, shell(&script));
    body["backoffLimit"] = json!(2);
    let id = create(&c, body).await;
    let v = finished(&c, &id).await;
    let st = &v["status"];
    assert_eq!(st["outcome"], "Complete", "{v}");
    assert_eq!(
        (st["succeeded"].as_i64(), st["failed"].as_i64()),
        (Some(10), Some(1)),
        "{v}"
    );
    assert_eq!(st["attempts"], 11, "{v}");
    assert_eq!(st["succeededPods"], 10, "{v}");
    // The failure is in the log with its exit code; the projection agrees.
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM event_log WHERE event_type = 'PodFailed' AND (body->>'exitCode')::int = 3
               AND aggregate_id IN (SELECT id FROM pod_instance WHERE workload_id = '{id}')"
        ))
        .await,
        1
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM pod_instance WHERE workload_id = '{id}' AND workload_kind = 'Job' AND exit_code = 3 AND phase = 'FAILED'"
        ))
        .await,
        1
    );
    // Back-off: no pod was created in the 1.5 s after the failure.
    let gap_ms = c
        .count(&format!(
            "SELECT (extract(epoch FROM (SELECT min(e.occurred_at) FROM event_log e
                 WHERE e.event_type = 'PodCreated' AND e.body->>'jobId' = '{id}' AND e.occurred_at > f.occurred_at)
               - f.occurred_at) * 1000)::bigint
               FROM event_log f WHERE f.event_type = 'PodFailed' AND (f.body->>'exitCode')::int = 3"
        ))
        .await;
    assert!(gap_ms >= 1400, "the retry waited only {gap_ms} ms");
    // Never more than 3 pods running at once: replay the log's starts and ends.
    let max_running = c
        .count(&format!(
            "SELECT COALESCE(max(running), 0) FROM (
               SELECT sum(CASE WHEN event_type = 'PodStarted' THEN 1 ELSE -1 END)
                        OVER (ORDER BY log_offset, batch_index) AS running
                 FROM event_log WHERE aggregate_id IN (SELECT id FROM pod_instance WHERE workload_id = '{id}')
                  AND event_type IN ('PodStarted', 'PodSucceeded', 'PodFailed')) r"
        ))
        .await;
    assert!(
        (1..=3).contains(&max_running),
        "{max_running} pods ran at once"
    );
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM event_log WHERE event_type = 'JobCompleted' AND aggregate_id = '{id}'"
        ))
        .await,
        1
    );

    // A pod failure policy rule fails the job at once, without retries.
    let mut body = job("strict", 2, 1, shell("exit 42"));
    body["podFailurePolicy"] =
        json!([{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]);
    let strict = create(&c, body).await;
    let v = finished(&c, &strict).await;
    assert_eq!(v["status"]["outcome"], "Failed", "{v}");
    assert_eq!(v["status"]["failureReason"], "PodFailurePolicy", "{v}");
    assert_eq!(v["status"]["attempts"], 1, "{v}");
    let _ = std::fs::remove_dir(&marker);
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_indexed_job_on_hollow_nodes_runs_each_index_once_and_bad_jobs_are_refused() {
    let c = Cluster::start(
        "jobidx",
        Options {
            agent_args: vec!["--job-run-ms".into(), "200".into()],
            ..Default::default()
        },
    )
    .await;
    // Bad input: a clear 4xx with field paths, and nothing written.
    let cases = [
        (
            job("neg", -1, 1, shell("true")),
            422,
            "VALIDATION_FAILED",
            "completions",
        ),
        (
            job("zero-par", 1, 0, shell("true")),
            422,
            "VALIDATION_FAILED",
            "parallelism",
        ),
        (
            {
                let mut t = shell("true");
                t["restartPolicy"] = json!("Always");
                job("always", 1, 1, t)
            },
            422,
            "VALIDATION_FAILED",
            "template.restartPolicy",
        ),
        (
            {
                let mut t = shell("true");
                t["resources"]["cpuRequestMilli"] = json!(0);
                job("cpu0", 1, 1, t)
            },
            422,
            "VALIDATION_FAILED",
            "template.resources.cpuRequestMilli",
        ),
        (
            {
                let mut b = job("succ", 1, 1, shell("true"));
                b["podFailurePolicy"] =
                    json!([{"action": "Ignore", "onExitCodes": {"operator": "In", "values": [0]}}]);
                b
            },
            422,
            "VALIDATION_FAILED",
            "podFailurePolicy[0].onExitCodes.values",
        ),
        (
            job("Bad_Name", 1, 1, shell("true")),
            422,
            "VALIDATION_FAILED",
            "name",
        ),
    ];
    for (body, status, code, field) in cases {
        let (s, v) = c.post("/api/v1/workloads/jobs", body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{v}"
        );
        let fields: Vec<&str> = v["error"]["fields"]
            .as_array()
            .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(fields.contains(&field), "{field} in {v}");
    }
    let (s, v) = c
        .post(
            "/api/v1/workloads/jobs",
            json!({"namespace": "default", "name": "x", "template": shell("true"), "replicas": 3}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (422, Some("UNKNOWN_FIELD")),
        "{v}"
    );
    assert_eq!(
        c.count("SELECT count(*) FROM event_log WHERE event_type = 'JobCreated'")
            .await,
        0
    );

    let mut body = job("shards", 6, 2, shell("true"));
    body["completionMode"] = json!("Indexed");
    body["ttlSecondsAfterFinished"] = json!(3600);
    let id = create(&c, body).await;
    // A job and a deployment may share a name.
    c.deploy_ready("shards", 1, 100).await;
    let v = finished(&c, &id).await;
    assert_eq!(v["status"]["outcome"], "Complete", "{v}");
    assert_eq!(v["completionMode"], "Indexed");
    let indexes = c
        .count(&format!(
            "SELECT count(DISTINCT completion_index) FROM pod_instance
              WHERE workload_id = '{id}' AND phase = 'SUCCEEDED' AND completion_index BETWEEN 0 AND 5"
        ))
        .await;
    assert_eq!(indexes, 6);
    let (s, pods) = c.get(&format!("/api/v1/workloads/jobs/{id}/pods")).await;
    assert_eq!(s, 200);
    assert_eq!(pods["items"].as_array().unwrap().len(), 6, "{pods}");
    let (_, list) = c.get("/api/v1/workloads/jobs?namespace=default").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (_, deps) = c.get("/api/v1/workloads/deployments").await;
    assert_eq!(
        deps["items"].as_array().unwrap().len(),
        1,
        "jobs are not deployments: {deps}"
    );
    // History: the job's events, through the events API.
    let (_, h) = c.get(&format!("/api/v1/events?aggregate={id}")).await;
    let types: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(types, vec!["JobCreated", "JobCompleted"], "{h}");
    // The BI view answers for the day.
    let (runs, rate): (i64, Option<String>) = sqlx::query_as(
        "SELECT runs, success_rate_pct::text FROM bi_job_daily WHERE job = 'shards'",
    )
    .fetch_one(&c.pool)
    .await
    .unwrap();
    assert_eq!((runs, rate.as_deref()), (1, Some("100.0")));
    // Deleting the job deletes its pods; job_run keeps the run.
    assert_eq!(c.delete(&format!("/api/v1/workloads/jobs/{id}")).await, 200);
    c.wait_count(
        "the job's pods deleted",
        &format!("SELECT count(*) FROM pod_instance WHERE workload_id = '{id}'"),
        0,
    )
    .await;
    assert_eq!(c.get(&format!("/api/v1/workloads/jobs/{id}")).await.0, 404);
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM job_run WHERE job_id = '{id}' AND deleted_at IS NOT NULL"
        ))
        .await,
        1
    );
    assert_eq!(c.delete(&format!("/api/v1/workloads/jobs/{id}")).await, 404);
    // Undeleted: the same job, its run no longer marked deleted.
    let (s, v) = c
        .post(
            "/api/v1/workloads/jobs/undelete",
            json!({"namespace": "default", "name": "shards", "reason": "deleted by mistake"}),
        )
        .await;
    assert_eq!((s, v["jobId"].as_str()), (201, Some(id.as_str())), "{v}");
    let v = finished(&c, &id).await;
    assert_eq!(v["status"]["outcome"], "Complete", "{v}");
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM job_run WHERE job_id = '{id}' AND deleted_at IS NULL"
        ))
        .await,
        1
    );
    let (s, v) = c
        .post(
            "/api/v1/workloads/jobs/undelete",
            json!({"namespace": "default", "name": "nothing-here"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{v}"
    );
    c.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cron_job_every_two_seconds_under_forbid_skips_runs_while_one_is_active() {
    let c = Cluster::start(
        "cron",
        Options {
            agent_args: vec!["--job-run-ms".into(), "3500".into()],
            ..Default::default()
        },
    )
    .await;
    let (s, v) = c
        .post(
            "/api/v1/workloads/cronjobs",
            json!({"namespace": "default", "name": "tick", "schedule": "not a schedule",
                   "jobTemplate": {"template": shell("true")}}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["fields"][0]["field"].as_str()),
        (422, Some("schedule")),
        "{v}"
    );
    let (s, v) = c
        .post(
            "/api/v1/workloads/cronjobs",
            json!({"namespace": "default", "name": "tick", "schedule": "*/2 * * * * *",
                   "timeZone": "Europe/Paris", "concurrencyPolicy": "Forbid",
                   "jobTemplate": {"template": shell("true")}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let id = v["cronJobId"].as_str().unwrap().to_string();
    // Runs take 3.5 s and are due every 2 s: some are skipped, and say why.
    c.wait_count(
        "a run skipped under Forbid",
        &format!(
            "SELECT LEAST(count(*), 1) FROM event_log WHERE aggregate_id = '{id}' AND event_type = 'CronJobRunSkipped'
               AND body->>'reason' LIKE 'concurrencyPolicy Forbid: job tick-% is still running'"
        ),
        1,
    )
    .await;
    c.wait_count(
        "two runs complete",
        &format!("SELECT LEAST(count(*), 2) FROM job_run WHERE cron_job_id = '{id}' AND outcome = 'Complete'"),
        2,
    )
    .await;
    // Forbid: no two runs overlapped.
    let overlaps = c
        .count(&format!(
            "SELECT count(*) FROM job_run a JOIN job_run b ON a.cron_job_id = b.cron_job_id AND a.job_id < b.job_id
              WHERE a.cron_job_id = '{id}'
                AND a.started_at < COALESCE(b.ended_at, 'infinity') AND b.started_at < COALESCE(a.ended_at, 'infinity')"
        ))
        .await;
    assert_eq!(overlaps, 0);
    let (s, v) = c.get(&format!("/api/v1/workloads/cronjobs/{id}")).await;
    assert_eq!(s, 200);
    assert!(v["status"]["skipped"].as_i64().unwrap() >= 1, "{v}");
    assert!(v["status"]["lastScheduleTime"].is_string(), "{v}");
    // Suspended: the runs stop (the log shows none after the suspension).
    let (s, v) = c
        .patch(
            &format!("/api/v1/workloads/cronjobs/{id}"),
            json!({"suspend": true}),
        )
        .await;
    assert_eq!((s, v["status"].as_str()), (200, Some("SUSPENDED")), "{v}");
    let after_suspend = format!(
        "SELECT count(*) FROM event_log WHERE aggregate_id = '{id}' AND event_type IN ('CronJobRunStarted', 'CronJobRunSkipped')
           AND log_offset > (SELECT max(log_offset) FROM event_log WHERE aggregate_id = '{id}' AND event_type = 'CronJobSuspended')"
    );
    // Two schedule periods, observed with a deadline rather than one sleep.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < until {
        assert_eq!(
            c.count(&after_suspend).await,
            0,
            "a run after the suspension"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    let (_, runs) = c
        .get(&format!("/api/v1/workloads/cronjobs/{id}/jobs"))
        .await;
    let runs = runs["items"].as_array().unwrap().len();
    assert!(runs >= 2, "{runs} runs");
    assert_eq!(
        c.delete(&format!("/api/v1/workloads/cronjobs/{id}")).await,
        200
    );
    c.wait_count(
        "the cron job's jobs deleted",
        "SELECT count(*) FROM workload_def WHERE kind IN ('Job', 'CronJob')",
        0,
    )
    .await;
    assert_eq!(
        c.count(&format!(
            "SELECT count(*) FROM job_run WHERE cron_job_id = '{id}'"
        ))
        .await,
        runs as i64,
        "the runs stay in job_run"
    );
    // Undeleted: the same cron job, as it was (suspended); resumed, it runs again.
    let (s, v) = c
        .post(
            "/api/v1/workloads/cronjobs/undelete",
            json!({"namespace": "default", "name": "tick"}),
        )
        .await;
    assert_eq!(
        (s, v["cronJobId"].as_str()),
        (201, Some(id.as_str())),
        "{v}"
    );
    let (s, v) = c
        .patch(
            &format!("/api/v1/workloads/cronjobs/{id}"),
            json!({"suspend": false}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    c.wait_count(
        "the undeleted cron job runs again",
        &format!("SELECT least(count(*), 1) FROM job_run WHERE cron_job_id = '{id}' AND deleted_at IS NULL"),
        1,
    )
    .await;
    c.finish().await;
}
