//! Any bytes through the object-storage normalizers: as a record the reader hands over (an
//! S3 server access log line or JSON), through the S3 line parser directly, and as a JSON
//! object into each of the four normalizers (S3 access, CloudTrail, Azure blob, GCS audit),
//! forced and auto-detected (GCS audit also as Vertex AI's `aiplatform.googleapis.com`
//! records, whose model names are parsed from resource names). Each must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::input::parse_record;
use modelward_event::source::{self, azure_blob, cloudtrail, gcs_audit, s3_access, SourceKind};
use serde_json::{Map, Value};

const KINDS: [SourceKind; 5] = [
    SourceKind::Auto,
    SourceKind::S3Access,
    SourceKind::CloudTrail,
    SourceKind::AzureBlob,
    SourceKind::GcsAudit,
];

fn all_normalizers(object: &Map<String, Value>) {
    let _ = (
        s3_access::looks_like(object),
        cloudtrail::looks_like(object),
        azure_blob::looks_like(object),
        gcs_audit::looks_like(object),
    );
    for kind in KINDS {
        let _ = source::normalize(object.clone(), kind);
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(events) = parse_record(data) {
        for event in &events {
            all_normalizers(event);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = gcs_audit::vertex_model(text);
    }
    let _ = s3_access::looks_like_line(data);
    if let Ok(raw) = s3_access::parse_line(data) {
        assert!(raw.get("s3_access").is_some_and(Value::is_object));
        let _ = s3_access::normalize(raw);
    }
    if let Ok(object) = serde_json::from_slice::<Map<String, Value>>(data) {
        all_normalizers(&object);
        // The same object as the fields of a parsed access log line.
        let mut wrapped = Map::new();
        wrapped.insert("s3_access".into(), Value::Object(object));
        all_normalizers(&wrapped);
    }
});
