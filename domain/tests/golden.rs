//! Golden samples of the event log: `tests/golden/v<N>/<EventType>[-<case>].json`,
//! one envelope each, as release N wrote it. They are the fixture, written
//! once and never regenerated: a sample that stops decoding is a record in
//! someone's log that stopped decoding. A change to an event's shape needs
//! new samples (and, if old ones cannot be read as they are, an upcaster).

use domain::event as ev;
use std::path::{Path, PathBuf};

use domain::event::{DecodeError, EVENT_TYPES, SCHEMA_VERSION};
use domain::{EventBatch, EventEnvelope};
use serde_json::{Value, json};

struct Sample {
    path: PathBuf,
    /// The `N` of the `v<N>` directory.
    dir_version: u64,
    json: Value,
}

impl Sample {
    fn tag(&self) -> &str {
        self.json["body"]["type"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no body.type", self.path.display()))
    }

    fn stem(&self) -> &str {
        self.path.file_stem().unwrap().to_str().unwrap()
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn samples() -> Vec<Sample> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = std::fs::read_dir(golden_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for dir in dirs {
        let dir_name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let dir_version: u64 = dir_name
            .strip_prefix('v')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{}: golden/ holds only v<N> directories", dir.display()));
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for path in files {
            assert_eq!(
                path.extension().and_then(|e| e.to_str()),
                Some("json"),
                "{}: golden/v<N>/ holds only .json samples",
                path.display()
            );
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            out.push(Sample {
                path,
                dir_version,
                json,
            });
        }
    }
    assert!(!out.is_empty(), "no golden samples found");
    out
}

fn decode(sample: &Sample) -> EventEnvelope {
    EventEnvelope::from_json_value(sample.json.clone())
        .unwrap_or_else(|e| panic!("{}: {e}", sample.path.display()))
}

fn batch_of(envelopes: Vec<Value>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "commandId": "0192fcb5-c5c0-731f-96d6-afbf5628a2df",
        "commandOffset": 48213,
        "epoch": 7,
        "events": envelopes,
    }))
    .unwrap()
}

#[test]
fn every_golden_sample_decodes_through_the_upcasting_decoder() {
    for sample in samples() {
        let envelope = decode(&sample);
        assert_eq!(
            envelope.schema_version,
            SCHEMA_VERSION,
            "{}: not upcast to the current version",
            sample.path.display()
        );
        let batch = EventBatch::decode(&batch_of(vec![sample.json.clone()]))
            .unwrap_or_else(|e| panic!("{} in a batch: {e}", sample.path.display()));
        assert_eq!(batch.events, vec![envelope]);
    }
}

#[test]
fn every_sample_sits_in_the_directory_of_its_version_and_is_named_after_its_type() {
    for sample in samples() {
        assert_eq!(
            sample.json["schemaVersion"].as_u64(),
            Some(sample.dir_version),
            "{}: schemaVersion does not match its directory",
            sample.path.display()
        );
        let stem = sample.stem();
        let tag = sample.tag();
        assert!(
            stem == tag
                || stem
                    .strip_prefix(tag)
                    .is_some_and(|case| case.starts_with('-')),
            "{}: a sample of {tag} is named {tag}.json or {tag}-<case>.json",
            sample.path.display()
        );
        assert_eq!(
            decode(&sample).body.type_name(),
            tag,
            "{}",
            sample.path.display()
        );
    }
}

#[test]
fn every_event_type_has_a_sample_of_the_current_version() {
    let samples = samples();
    let missing: Vec<&str> = EVENT_TYPES
        .iter()
        .copied()
        .filter(|t| {
            !samples
                .iter()
                .any(|s| s.dir_version == u64::from(SCHEMA_VERSION) && s.tag() == *t)
        })
        .collect();
    assert!(
        missing.is_empty(),
        "no sample in tests/golden/v{SCHEMA_VERSION}/ for {missing:?}: add one by hand, as the release writes it"
    );
}

#[test]
fn every_sample_is_of_a_listed_event_type() {
    for sample in samples() {
        assert!(
            EVENT_TYPES.contains(&sample.tag()),
            "{}: type {} is not in EVENT_TYPES",
            sample.path.display(),
            sample.tag()
        );
    }
}

/// Fields are only added as optional (and skipped when absent), so a sample
/// of the current version reads back into exactly the JSON it came from.
#[test]
fn a_current_version_sample_re_serializes_to_the_same_json() {
    for sample in samples()
        .into_iter()
        .filter(|s| s.dir_version == u64::from(SCHEMA_VERSION))
    {
        let again = serde_json::to_value(decode(&sample)).unwrap();
        assert_eq!(again, sample.json, "{}", sample.path.display());
    }
}

#[test]
fn a_batch_of_current_envelopes_decodes_as_plain_serde_does() {
    let current: Vec<Value> = samples()
        .into_iter()
        .filter(|s| s.dir_version == u64::from(SCHEMA_VERSION))
        .map(|s| s.json)
        .collect();
    let bytes = batch_of(current);
    let plain: EventBatch = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(EventBatch::decode(&bytes).unwrap(), plain);
}

fn from_a_newer_release(type_tag: Option<&str>) -> Value {
    let mut json = samples()
        .into_iter()
        .find(|s| s.stem() == "PodBound")
        .unwrap()
        .json;
    json["schemaVersion"] = json!(SCHEMA_VERSION + 1);
    if let Some(tag) = type_tag {
        json["body"]["type"] = json!(tag);
    }
    json
}

/// Refused for its version, and the message names the event so it can be
/// found in the log.
fn assert_refused_as_newer(result: Result<impl std::fmt::Debug, DecodeError>, newer: &Value) {
    let err = result.unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::WrittenByNewerRelease { found, supported, .. }
                if found == u64::from(SCHEMA_VERSION) + 1 && supported == SCHEMA_VERSION
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("newer release"), "{message}");
    assert!(
        message.contains(newer["eventId"].as_str().unwrap()),
        "{message}"
    );
}

#[test]
fn an_envelope_from_a_newer_release_is_refused_with_a_clear_error() {
    let newer = from_a_newer_release(None);
    assert_refused_as_newer(EventEnvelope::from_json_value(newer.clone()), &newer);
    assert_refused_as_newer(EventBatch::decode(&batch_of(vec![newer.clone()])), &newer);
}

/// A newer release's event may not even parse here (a new variant, a new
/// required field); it must still be refused for its version, not reported
/// as malformed.
#[test]
fn a_newer_release_event_this_one_cannot_parse_is_still_refused_for_its_version() {
    let newer = from_a_newer_release(Some("PodHibernated"));
    assert_refused_as_newer(EventEnvelope::from_json_value(newer.clone()), &newer);
    let current = samples()
        .into_iter()
        .find(|s| s.stem() == "NodeReady")
        .unwrap()
        .json;
    assert_refused_as_newer(
        EventBatch::decode(&batch_of(vec![current, newer.clone()])),
        &newer,
    );
}

#[test]
fn a_malformed_current_envelope_is_a_json_error() {
    let mut json = samples()
        .into_iter()
        .find(|s| s.stem() == "PodBound")
        .unwrap()
        .json;
    json["body"]
        .as_object_mut()
        .unwrap()
        .remove("nodeId")
        .unwrap();
    let err = EventBatch::decode(&batch_of(vec![json])).unwrap_err();
    assert!(matches!(err, DecodeError::Json(_)), "{err:?}");
    assert!(err.to_string().contains("nodeId"), "{err}");
}

/// v1 said why a pod failed only in words; v2's typed cause is what those words meant.
#[test]
fn a_v1_pod_failure_reads_with_the_cause_its_reason_implies() {
    let cause_of = |stem: &str| {
        let sample = samples()
            .into_iter()
            .find(|s| s.dir_version == 1 && s.stem() == stem)
            .unwrap();
        match decode(&sample).body {
            domain::Event::PodFailed(ev::PodFailed { cause, .. }) => cause,
            other => panic!("{stem}: {other:?}"),
        }
    };
    use domain::event::PodFailureCause;
    assert_eq!(cause_of("PodFailed"), PodFailureCause::NodeLost);
    assert_eq!(cause_of("PodFailed-Unbound"), PodFailureCause::Container);
}
