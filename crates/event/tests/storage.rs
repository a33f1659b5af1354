//! Tests of the object-storage normalizers (S3 server access logs, CloudTrail, Azure
//! StorageBlobLogs, GCS audit logs): every fixture must normalize to its expected output,
//! detection must pick the right source, and the shared `storage.*` fields must agree.

mod common;

use common::object;
use modelward_event::input::parse_record;
use modelward_event::source::{
    self, azure_blob, cloudtrail, gcs_audit, s3_access, Normalized, SourceKind,
};
use serde_json::{json, Map, Value};

fn s3_line(line: &[u8]) -> Result<Map<String, Value>, String> {
    let mut events = parse_record(line).map_err(|e| format!("{}: {}", e.column, e.message))?;
    let raw = events.pop().ok_or("no event")?;
    s3_access::normalize(raw).map_err(|e| e.to_string())
}

/// With `MODELWARD_BLESS=1`, (re)writes the expected outputs instead of comparing; review
/// the diff before committing.
fn bless() -> bool {
    std::env::var_os("MODELWARD_BLESS").is_some()
}

fn write_expected(source: &str, name: &str, doc: Map<String, Value>) {
    let path = common::fixtures_dir(source).join(format!("{name}.expected.json"));
    let text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap() + "\n";
    std::fs::write(path, text).unwrap();
}

fn json_fixtures(
    source: &str,
    min: usize,
    normalize: impl Fn(Map<String, Value>) -> Result<Map<String, Value>, String>,
) {
    if bless() {
        for name in common::fixture_names(source) {
            let doc = normalize(common::fixture(source, &name)).unwrap();
            write_expected(source, &name, doc);
        }
    }
    common::assert_fixtures_normalize(source, min, normalize);
}

#[test]
fn s3_access_fixtures() {
    if bless() {
        for name in common::line_fixture_names("s3_access") {
            let raw =
                std::fs::read(common::fixtures_dir("s3_access").join(format!("{name}.raw.log")))
                    .unwrap();
            let line = raw.split(|b| *b == b'\n').next().unwrap();
            write_expected("s3_access", &name, s3_line(line).unwrap());
        }
    }
    common::assert_line_fixtures_normalize("s3_access", 5, s3_line);
}

#[test]
fn cloudtrail_fixtures() {
    json_fixtures("cloudtrail", 6, |raw| {
        cloudtrail::normalize(raw).map_err(|e| e.to_string())
    });
}

#[test]
fn azure_blob_fixtures() {
    json_fixtures("azure_blob", 7, |raw| {
        azure_blob::normalize(raw).map_err(|e| e.to_string())
    });
}

#[test]
fn gcs_audit_fixtures() {
    json_fixtures("gcs_audit", 8, |raw| {
        gcs_audit::normalize(raw).map_err(|e| e.to_string())
    });
}

/// Auto-detection gives what forcing the source gives, for every JSON fixture.
#[test]
fn auto_detection_picks_the_source() {
    for (dir, kind) in [
        ("cloudtrail", SourceKind::CloudTrail),
        ("azure_blob", SourceKind::AzureBlob),
        ("gcs_audit", SourceKind::GcsAudit),
    ] {
        for name in common::fixture_names(dir) {
            let raw = common::fixture(dir, &name);
            let auto = source::normalize(raw.clone(), SourceKind::Auto).unwrap();
            let forced = source::normalize(raw, kind).unwrap();
            let (Normalized::Event(auto), Normalized::Event(forced)) = (auto, forced) else {
                panic!("{dir}/{name}: partial");
            };
            assert_eq!(auto, forced, "{dir}/{name}");
            assert!(auto.contains_key("data_stream"), "{dir}/{name}");
        }
    }
    for name in common::line_fixture_names("s3_access") {
        let raw = std::fs::read(common::fixtures_dir("s3_access").join(format!("{name}.raw.log")))
            .unwrap();
        let mut events = parse_record(raw.trim_ascii_end()).unwrap();
        let event = events.pop().unwrap();
        let Ok(Normalized::Event(doc)) = source::normalize(event, SourceKind::Auto) else {
            panic!("s3_access/{name}");
        };
        assert_eq!(doc["data_stream"]["dataset"], "aws.s3access", "{name}");
    }
}

/// Storage sources are not mistaken for each other or for the LLM sources.
#[test]
fn detection_is_exclusive() {
    let mut seen = 0;
    for dir in ["cloudtrail", "azure_blob", "gcs_audit"] {
        for name in common::fixture_names(dir) {
            let raw = common::fixture(dir, &name);
            let hits = [
                cloudtrail::looks_like(&raw),
                azure_blob::looks_like(&raw),
                gcs_audit::looks_like(&raw),
                s3_access::looks_like(&raw),
            ];
            assert_eq!(hits.iter().filter(|h| **h).count(), 1, "{dir}/{name}");
            seen += 1;
        }
    }
    assert!(seen >= 18);
    for dir in ["aws_bedrock", "azure_openai", "litellm"] {
        for name in common::fixture_names(dir) {
            let raw = common::fixture(dir, &name);
            assert!(!cloudtrail::looks_like(&raw), "{dir}/{name}");
            assert!(!azure_blob::looks_like(&raw), "{dir}/{name}");
            assert!(!gcs_audit::looks_like(&raw), "{dir}/{name}");
        }
    }
}

/// Normalized events are not raw events of any source: normalizing twice in auto mode
/// changes nothing.
#[test]
fn normalized_events_pass_through() {
    for (dir, kind) in [
        ("cloudtrail", SourceKind::CloudTrail),
        ("azure_blob", SourceKind::AzureBlob),
        ("gcs_audit", SourceKind::GcsAudit),
    ] {
        for name in common::fixture_names(dir) {
            let Ok(Normalized::Event(once)) = source::normalize(common::fixture(dir, &name), kind)
            else {
                panic!("{dir}/{name}");
            };
            let Ok(Normalized::Event(twice)) = source::normalize(once.clone(), SourceKind::Auto)
            else {
                panic!("{dir}/{name}");
            };
            assert_eq!(once, twice, "{dir}/{name}");
        }
    }
}

fn at<'a>(doc: &'a Value, path: &str) -> &'a Value {
    path.split('.')
        .fold(doc, |value, key| value.get(key).unwrap_or(&Value::Null))
}

/// The same weight download seen by the four sources gives the same common fields.
#[test]
fn one_download_four_sources_same_common_fields() {
    let line =
        std::fs::read(common::fixtures_dir("s3_access").join("get_weights.raw.log")).unwrap();
    let docs = [
        Value::Object(s3_line(line.trim_ascii_end()).unwrap()),
        Value::Object(
            cloudtrail::normalize(common::fixture("cloudtrail", "get_object_weights")).unwrap(),
        ),
        Value::Object(
            azure_blob::normalize(common::fixture("azure_blob", "get_blob_oauth")).unwrap(),
        ),
        Value::Object(
            gcs_audit::normalize(common::fixture("gcs_audit", "objects_get_delegated")).unwrap(),
        ),
    ];
    for doc in &docs {
        assert_eq!(at(doc, "storage.operation"), "read", "{doc}");
        assert_eq!(at(doc, "file.extension"), "safetensors");
        assert_eq!(at(doc, "file.name"), "model-00001-of-00004.safetensors");
        assert_eq!(at(doc, "source.ip"), "198.51.100.23");
        assert_eq!(at(doc, "event.outcome"), "success");
        assert!(at(doc, "user.id").is_string(), "{doc}");
        assert!(at(doc, "cloud.provider").is_string());
        assert!(at(doc, "@timestamp").is_string());
    }
}

#[test]
fn signatures_never_reach_the_event() {
    let line =
        std::fs::read(common::fixtures_dir("s3_access").join("presigned_get.raw.log")).unwrap();
    let doc = Value::Object(s3_line(line.trim_ascii_end()).unwrap());
    let text = doc.to_string();
    assert!(!text.contains("0f9a7c1d2b3e"), "{text}");
    assert_eq!(at(&doc, "storage.auth.method"), "presigned");
    let doc = Value::Object(
        azure_blob::normalize(common::fixture("azure_blob", "get_blob_sas")).unwrap(),
    );
    assert!(at(&doc, "url.original")
        .as_str()
        .unwrap()
        .ends_with("sig=REDACTED"));
    assert!(!doc.to_string().contains("tokenHash"));
}

#[test]
fn bad_records_are_typed_errors_not_panics() {
    for raw in [
        json!({"eventName": "GetObject", "eventSource": "s3.amazonaws.com", "eventTime": "yesterday"}),
        json!({"eventName": "GetObject", "eventSource": "s3.amazonaws.com", "eventTime": "2025-01-01T00:00:00Z", "requestParameters": "x", "resources": 3, "additionalEventData": {"bytesTransferredOut": "lots"}}),
    ] {
        let _ = cloudtrail::normalize(object(raw));
    }
    assert!(cloudtrail::normalize(object(json!({"eventTime": 1}))).is_err());
    assert!(azure_blob::normalize(object(
        json!({"operationName": "GetBlob", "category": "StorageRead"})
    ))
    .is_err());
    let odd = azure_blob::normalize(object(json!({
        "time": "2025-01-01T00:00:00Z", "operationName": "CopyBlob", "category": "StorageWrite",
        "callerIpAddress": "nonsense", "statusCode": "abc", "durationMs": -5,
        "properties": {"objectKey": "////", "sourceUri": "::", "responseBodySize": 1e300}
    })))
    .unwrap();
    assert_eq!(odd["storage"]["operation"], "copy");
    assert!(gcs_audit::normalize(object(
        json!({"protoPayload": {"methodName": "storage.objects.get"}})
    ))
    .is_err());
    let e = s3_access::normalize(object(
        json!({"s3_access": {"operation": "REST.GET.OBJECT", "bucket": "b", "bytes_sent": "many"}}),
    ))
    .unwrap_err();
    assert!(e.to_string().contains("bytes_sent"), "{e}");
}

/// What the S3 line parser says about bad lines, with columns (a snapshot).
#[test]
fn s3_line_errors_snapshot() {
    let good =
        std::fs::read_to_string(common::fixtures_dir("s3_access").join("get_weights.raw.log"))
            .unwrap();
    let good = good.trim_end();
    let cases = [
        good.replacen(" 200 - ", " 2OO - ", 1),
        good[..120].to_string(),
        good.replacen("[14/Mar/2025:09:12:44 +0000]", "[14/Mar/2025:09:12:44]", 1),
        good.replacen(
            "[14/Mar/2025:09:12:44 +0000]",
            "[14/Mar/2025:09:12:44 +0000",
            1,
        ),
        good.replacen("\"GET /acme", "\"GET /acme\"x", 1),
        good.replacen(" 4976698672 4976698672 ", " 4.9GB 4976698672 ", 1),
        format!("{} \"unterminated", &good[..200]),
    ];
    let report: Vec<String> = cases
        .iter()
        .map(|line| match parse_record(line.as_bytes()) {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("{}:{}: {}", e.line, e.column, e.message),
        })
        .collect();
    insta::assert_snapshot!(report.join("\n"));
}
