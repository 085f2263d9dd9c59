//! Read-your-writes. Every write's answer carries `X-Orch-Offset`, the log
//! offset of the record that holds its outcome; any read may send
//! `?minOffset=<offset>` (or the `X-Orch-Min-Offset` header) and is answered
//! only once the projections it reads include that record, waiting at most
//! the configured read wait (then `503 PROJECTION_BEHIND`). Every answer
//! says how far the projections had got (`X-Orch-Projected-Offset`).
//!
//! The projector announces each committed batch with `NOTIFY` in the batch's
//! own transaction, so a waiting read wakes as soon as the rows are visible;
//! a slow poll of `projection_offsets` covers a listener that reconnects.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use infra::kafka::KafkaConfig;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;

/// The response header with a write's outcome offset.
pub const OFFSET_HEADER: &str = "x-orch-offset";
/// The request header alternative to `?minOffset=`.
pub const MIN_OFFSET_HEADER: &str = "x-orch-min-offset";
/// The response header with the last log offset the projections included when the read began.
pub const PROJECTED_HEADER: &str = "x-orch-projected-offset";

tokio::task_local! {
    /// The outcome offset of the write this request made (set by `execute`).
    static WRITTEN: Arc<AtomicI64>;
}

/// Called by the write path with the offset of its outcome record.
pub fn record_written(offset: i64) {
    let _ = WRITTEN.try_with(|w| w.fetch_max(offset, Ordering::Relaxed));
}

/// How far the live projections are: the next log offset they will apply.
#[derive(Clone)]
pub struct Projected {
    rx: watch::Receiver<i64>,
    pub wait: Duration,
    kafka: KafkaConfig,
}

impl Projected {
    pub async fn start(
        kafka: &KafkaConfig,
        pool: PgPool,
        wait: Duration,
        shutdown: CancellationToken,
    ) -> infra::Result<Self> {
        let topic = kafka.events_topic();
        let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
            .fetch_one(&pool)
            .await?;
        let first = projectors::timetravel::offset_of(&pool, &topic)
            .await
            .map_err(|e| infra::Error::Other(e.to_string()))?;
        let (tx, rx) = watch::channel(first);
        tokio::spawn(follow(pool, schema, topic, tx, shutdown));
        Ok(Projected {
            rx,
            wait,
            kafka: kafka.clone(),
        })
    }

    pub fn next_offset(&self) -> i64 {
        *self.rx.borrow()
    }

    /// Wait until the projections include log offset `min`, at most `self.wait`.
    pub async fn include(&self, min: i64, log_end: i64) -> Result<(), ApiError> {
        if self.next_offset() > min {
            return Ok(());
        }
        // An offset no write was ever acknowledged at can never be reached.
        if min >= log_end {
            let end = match self.kafka.watermarks(&self.kafka.events_topic()).await {
                Ok((_, high)) => high,
                Err(e) => {
                    return Err(ApiError::degraded(format!(
                        "the event log is unavailable: {e}"
                    )));
                }
            };
            if min >= end {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "OFFSET_NOT_IN_LOG",
                    format!(
                        "minOffset {min} is not in the event log (it ends before offset {end}); \
                         use the X-Orch-Offset of a write to this cluster"
                    ),
                ));
            }
        }
        let mut rx = self.rx.clone();
        match tokio::time::timeout(self.wait, rx.wait_for(|next| *next > min)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(_)) => Err(ApiError::degraded("the projection watcher stopped")),
            Err(_) => Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "PROJECTION_BEHIND",
                format!(
                    "the projections had not reached log offset {min} after {} ms (they are at {}); \
                     retry, or read without minOffset for an eventually consistent answer",
                    self.wait.as_millis(),
                    self.next_offset() - 1
                ),
            )),
        }
    }
}

async fn follow(
    pool: PgPool,
    schema: String,
    topic: String,
    tx: watch::Sender<i64>,
    shutdown: CancellationToken,
) {
    let publish = |next: i64| {
        tx.send_if_modified(|cur| {
            let moved = next > *cur;
            *cur = (*cur).max(next);
            moved
        });
    };
    loop {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(mut l) => match l.listen(projectors::NOTIFY_CHANNEL).await {
                Ok(()) => Some(l),
                Err(e) => {
                    tracing::warn!(error = %e, "LISTEN failed; polling the projection offset");
                    None
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "no listener connection; polling the projection offset");
                None
            }
        };
        let mut poll = true;
        loop {
            // Polled after a quiet spell too: it covers a notification missed while
            // the listener reconnected.
            if poll && let Ok(next) = projectors::timetravel::offset_of(&pool, &topic).await {
                publish(next);
            }
            let Some(l) = listener.as_mut() else {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_millis(20)) => continue,
                }
            };
            let got = tokio::select! {
                _ = shutdown.cancelled() => return,
                n = tokio::time::timeout(Duration::from_millis(250), l.recv()) => n,
            };
            match got {
                Err(_) => poll = true,
                Ok(Ok(n)) => {
                    poll = false;
                    let mut n = Some(n);
                    while let Some(note) = n {
                        if let Some(next) =
                            projectors::parse_notification(note.payload(), &schema, &topic)
                        {
                            publish(next);
                        }
                        n = l.next_buffered();
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "projection listener failed; reconnecting");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    break;
                }
            }
        }
    }
}

fn min_offset_of(req: &Request) -> Result<(Option<i64>, Option<Uri>), ApiError> {
    let bad = |v: &str| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY",
            format!("minOffset '{v}' is not a log offset (an integer ≥ 0)"),
        )
    };
    let parse = |v: &str| {
        v.parse::<i64>()
            .ok()
            .filter(|o| *o >= 0)
            .ok_or_else(|| bad(v))
    };
    let mut min = None;
    if let Some(h) = req.headers().get(MIN_OFFSET_HEADER) {
        let v = h.to_str().unwrap_or("");
        min = Some(parse(v)?);
    }
    let Some(query) = req.uri().query() else {
        return Ok((min, None));
    };
    let mut rest = Vec::new();
    let mut found = false;
    for kv in query.split('&') {
        match kv.split_once('=') {
            Some(("minOffset", v)) => {
                let o = parse(v)?;
                min = Some(min.map_or(o, |m: i64| m.max(o)));
                found = true;
            }
            None if kv == "minOffset" => return Err(bad("")),
            _ => rest.push(kv),
        }
    }
    if !found {
        return Ok((min, None));
    }
    // The handlers' own query types refuse unknown fields: they never see it.
    let path = req.uri().path();
    let pq = if rest.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", rest.join("&"))
    };
    let mut parts = req.uri().clone().into_parts();
    parts.path_and_query = Some(pq.parse().map_err(|_| bad("?"))?);
    Ok((min, Uri::from_parts(parts).ok()))
}

/// What the middleware needs: how far the projections are, and where the log ends.
#[derive(Clone)]
pub struct Consistency {
    pub projected: Projected,
    pub outcomes: crate::outcome::Outcomes,
}

/// The middleware: waits for `minOffset` on reads, and stamps writes with their offset.
pub async fn layer(
    axum::extract::State(s): axum::extract::State<Consistency>,
    mut req: Request,
    next: Next,
) -> Response {
    let (min, uri) = match min_offset_of(&req) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    if let Some(uri) = uri {
        *req.uri_mut() = uri;
    }
    if let Some(min) = min
        && let Err(e) = s.projected.include(min, s.outcomes.log_end()).await
    {
        return e.into_response();
    }
    let projected = s.projected.next_offset() - 1;
    let written = Arc::new(AtomicI64::new(-1));
    let mut resp = WRITTEN.scope(written.clone(), next.run(req)).await;
    let h = resp.headers_mut();
    let w = written.load(Ordering::Relaxed);
    if w >= 0 {
        h.insert(OFFSET_HEADER, HeaderValue::from(w));
    }
    h.insert(PROJECTED_HEADER, HeaderValue::from(projected));
    resp
}
