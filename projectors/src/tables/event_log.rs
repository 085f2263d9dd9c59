//! `event_log`: every event, as the log holds it (append-only; the
//! audit trail and the events API read it).

use domain::event::EventEnvelope;
use sqlx::{Postgres, Transaction};

use super::Table;

pub(crate) const TABLES: &[Table] = &[Table {
    name: "event_log",
    checksum_sql: "SELECT md5(COALESCE(string_agg(t::text, '|' ORDER BY log_offset, batch_index), '')) FROM event_log t",
    snapshot: false,
}];

/// `COPY`, not INSERT: the log is the biggest table and the hottest write.
/// No ON CONFLICT is needed: the offsets guard applies a batch once, and
/// the decider never writes an event id twice.
pub(crate) async fn write(
    log: &[(i64, i32, u64, EventEnvelope)],
    tx: &mut Transaction<'_, Postgres>,
) -> Result<(), sqlx::Error> {
    if log.is_empty() {
        return Ok(());
    }
    let mut buf = Vec::with_capacity(log.len() * 700);
    for (off, i, epoch, e) in log {
        use std::io::Write;
        let body = serde_json::to_string(&e.body).unwrap_or_else(|_| "null".into());
        let _ = write!(
            buf,
            "{},{},{},{},{},{},{},{},{},{},",
            e.event_id,
            off,
            i,
            e.causation_id,
            e.correlation_id,
            e.aggregate.kind.as_str(),
            e.aggregate.id,
            e.sequence,
            e.body.type_name(),
            e.occurred_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        );
        csv_field(&mut buf, Some(&e.actor));
        buf.push(b',');
        csv_field(&mut buf, e.reason.as_deref());
        let _ = write!(buf, ",{},{},", epoch, e.schema_version);
        csv_field(&mut buf, Some(&body));
        buf.push(b',');
        csv_field(&mut buf, e.command.as_deref());
        buf.push(b'\n');
    }
    let mut copy = (**tx)
            .copy_in_raw(
                "COPY event_log (event_id, log_offset, batch_index, causation_id, correlation_id, aggregate_kind,
                   aggregate_id, sequence, event_type, occurred_at, actor, reason, epoch, schema_version, body, command)
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await?;
    copy.send(buf).await?;
    copy.finish().await?;
    Ok(())
}

/// A CSV field for `COPY … (FORMAT csv)`: quoted with quotes doubled; `None` is NULL (unquoted empty).
fn csv_field(buf: &mut Vec<u8>, v: Option<&str>) {
    let Some(v) = v else { return };
    buf.push(b'"');
    for b in v.bytes() {
        if b == b'"' {
            buf.push(b'"');
        }
        buf.push(b);
    }
    buf.push(b'"');
}
