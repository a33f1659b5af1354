//! Inputs as clouds deliver them, through `modelward hunt`: the same Bedrock invocation logs
//! and CloudTrail records through every CloudWatch Logs delivery raise the alerts the native
//! logs raise.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The CloudWatch fixtures that wrap `native.ndjson`'s records, one a delivery shape.
const CLOUDWATCH_DELIVERIES: [&str; 10] = [
    "subscription.ndjson",
    "lambda_awslogs.ndjson",
    "firehose.gz",
    "filter_log_events.json",
    "get_log_events.json",
    "export_000000.gz",
    "kinesis_lambda_event.json",
    "kinesis_get_records.json",
    "firehose_transform_event.json",
    "firehose_decompressed.json",
];

fn fixture(dir: &str, name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../event/tests/fixtures")
        .join(dir)
        .join(name)
}

/// The alerts of a hunt over one file, and its standard error.
fn hunt(path: &Path) -> (Vec<Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["hunt", "--format", "ndjson"])
        .arg(path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    // 0: no alert, 1: alerts; 2 would be an error.
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}: {stderr}",
        path.display()
    );
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (alerts, stderr)
}

/// What an alert says, without where its record was read (file, line, offset: they differ
/// between deliveries, and so do the ids of alerts on one event, which are made of them).
fn what(alerts: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = alerts
        .iter()
        .map(|a| {
            format!(
                "{} {} {} {}",
                a["rule"]["id"], a["@timestamp"], a["entity"], a["message"]
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn cloudwatch_deliveries_raise_the_native_alerts() {
    let (native, _) = hunt(&fixture("cloudwatch", "native.ndjson"));
    assert!(native.len() >= 8, "{}", native.len());
    let rules: std::collections::BTreeSet<_> =
        native.iter().map(|a| a["rule"]["id"].to_string()).collect();
    assert!(rules.len() >= 4, "{rules:?}");
    for name in CLOUDWATCH_DELIVERIES {
        let (alerts, stderr) = hunt(&fixture("cloudwatch", name));
        assert_eq!(what(&alerts), what(&native), "{name}");
        assert!(!stderr.contains("malformed: 1"), "{name}: {stderr}");
        assert!(!stderr.contains("trailing characters"), "{name}: {stderr}");
        // Alerts on events of one payload are told apart.
        let ids: std::collections::BTreeSet<_> = alerts
            .iter()
            .map(|a| a["alert"]["id"].to_string())
            .collect();
        assert_eq!(ids.len(), alerts.len(), "{name}");
    }
}

/// OpenTelemetry GenAI spans (OpenLLMetry's indexed prompt attributes; the 1.37 input
/// messages on an operation-details event) raise the per-call detectors' alerts, on the
/// caller and model the span names, and are no "unrecognised" input.
#[test]
fn otel_genai_spans_raise_the_per_call_alerts() {
    for (name, principal, model) in [
        ("openllmetry_chat_span", "customer-4411", "gpt-4o-mini"),
        (
            "semconv_details_span",
            "0f3c7a1e-8b2d-4c5e-9f60-7a8b9c0d1e2f",
            "gpt-4.1",
        ),
    ] {
        let (alerts, stderr) = hunt(&fixture("otel_genai", &format!("{name}.raw.json")));
        let jailbreak = alerts
            .iter()
            .find(|a| a["rule"]["id"] == "MW-AI-0003")
            .unwrap_or_else(|| panic!("{name}: no jailbreak alert in {alerts:?}"));
        assert_eq!(jailbreak["entity"]["principal"], principal, "{name}");
        assert_eq!(jailbreak["entity"]["model"], model, "{name}");
        assert!(!stderr.contains("WARNING"), "{name}: {stderr}");
    }
}

/// A file most of whose events no source recognises is said loudly, once per file, and not
/// with `--source json`; a CloudWatch payload of plain-text lines is such a file.
#[test]
fn a_file_of_no_known_source_is_warned_about() {
    let dir = std::env::temp_dir().join(format!("mw-unrecognised-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("sysmon.ndjson");
    std::fs::write(
        &plain,
        "{\"EventID\":1,\"Image\":\"x.exe\"}\n{\"EventID\":3}\n",
    )
    .unwrap();
    let lambda = dir.join("lambda.ndjson");
    std::fs::write(
        &lambda,
        r#"{"messageType":"DATA_MESSAGE","owner":"333333333333","logGroup":"/aws/lambda/chat","logStream":"2025/03/01/[$LATEST]0a1b","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1740824100000,"message":"START RequestId: 8f1c"},{"id":"2","timestamp":1740824100001,"message":"END RequestId: 8f1c"}]}"#,
    )
    .unwrap();
    let (_, stderr) = hunt(&plain);
    assert_eq!(stderr.matches("WARNING").count(), 1, "{stderr}");
    assert!(
        stderr.contains("sysmon.ndjson: 2 of 2 events (100%) are of no source"),
        "{stderr}"
    );
    let (_, stderr) = hunt(&lambda);
    assert!(
        stderr.contains("lambda.ndjson: 2 of 2 events (100%) are of no source"),
        "{stderr}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
        .args(["hunt", "--source", "json"])
        .arg(&plain)
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("WARNING"));
    // A native file of known sources is not warned about.
    let (_, stderr) = hunt(&fixture("cloudwatch", "native.ndjson"));
    assert!(!stderr.contains("WARNING"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A page of OpenAI's organisation audit log (the list response, as `GET
/// /v1/organization/audit_logs` returns it) is read object by object, and five keys created
/// and deleted by one user within the hour raise the built-in key churn rule on that user.
#[test]
fn openai_audit_log_key_churn() {
    let (alerts, stderr) = hunt(&fixture("openai_audit", "audit_logs_page.json"));
    assert!(stderr.contains("6 events"), "{stderr}");
    assert!(!stderr.contains("WARNING"), "{stderr}");
    assert!(!stderr.contains("not mapped"), "{stderr}");
    let churn: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule"]["id"] == "3c5e7a91-2b4d-4f68-9a1c-0d2e4f6a8b02")
        .collect();
    assert_eq!(churn.len(), 1, "{alerts:?}");
    assert_eq!(churn[0]["entity"]["principal"], "user-Ab12Cd34Ef56Gh78");
    assert_eq!(churn[0]["entity"]["source.ip"], "185.220.101.4");
}

/// An Azure activity log delivered by a diagnostic setting: a week of a service principal's
/// key listings and deployment reads from its build agents' range, then its keys listed (a
/// `Start` and a `Success` record) and a deployment written from a new address. One
/// MW-AI-0022 alert on the principal, for the new range, at the listing's `Success` record.
#[test]
fn azure_activity_log_anomalous_operation() {
    let (alerts, stderr) = hunt(&fixture("azure_activity", "activity_log_records.json"));
    assert!(stderr.contains("17 events"), "{stderr}");
    assert!(!stderr.contains("WARNING"), "{stderr}");
    let ops: Vec<_> = alerts
        .iter()
        .filter(|a| a["rule"]["id"] == "MW-AI-0022")
        .collect();
    assert_eq!(ops.len(), 1, "{alerts:?}");
    let alert = ops[0];
    assert_eq!(
        alert["entity"]["principal"],
        "3b8e5f2a-9c41-4d7e-b6a0-15c2e8d94f37"
    );
    assert_eq!(alert["severity"], "medium", "{alert}");
    let text = alert.to_string();
    assert!(
        text.contains("AI.Azure_AnomalousOperation.InitialAccess"),
        "{text}"
    );
    assert!(text.contains("198.51.100.0/24"), "{text}");
    assert!(
        text.contains("MICROSOFT.COGNITIVESERVICES/ACCOUNTS/LISTKEYS/ACTION"),
        "{text}"
    );
    assert!(text.contains("2026-11-30T02:14:08"), "{text}");
}

/// With rules alone (no detector or analyzer, so the literal prefilter skips what no rule can
/// match unparsed), every delivery still gives the native alerts: a compressed `awslogs.data`
/// shows nothing of its events and is passed to every rule, and the other shapes hold their
/// messages' literals as JSON text. The rule needs a literal only the raw record can hold
/// (CloudTrail's `eventName`), which the prefilter looks for.
#[test]
fn cloudwatch_deliveries_under_the_prefilter() {
    let dir = std::env::temp_dir().join(format!("mw-cw-prefilter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rule = dir.join("create_access_key.yml");
    std::fs::write(
        &rule,
        "title: IAM access key created\nid: 0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00\nlogsource:\n    product: aws\n    service: cloudtrail\ndetection:\n    selection:\n        eventName: CreateAccessKey\n    condition: selection\nlevel: high\n",
    )
    .unwrap();
    let run = |path: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_modelward"))
            .args(["hunt", "--format", "ndjson", "--no-builtin", "--rules"])
            .arg(&rule)
            .arg(path)
            .output()
            .unwrap();
        let alerts: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        what(&alerts)
    };
    let native = run(&fixture("cloudwatch", "native.ndjson"));
    assert_eq!(native.len(), 1, "{native:?}");
    for name in CLOUDWATCH_DELIVERIES {
        assert_eq!(run(&fixture("cloudwatch", name)), native, "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Vertex AI request-response logging rows, as `bq query --format=prettyjson` prints them
/// and as `bq extract` writes them (NDJSON), raise the alerts the same Gemini calls raise in
/// modelward's own LLM log (`fixtures/vertex_ai/generate.py`), recognised without
/// `--source`.
#[test]
fn vertex_ai_logging_rows_raise_the_native_alerts() {
    let (native, _) = hunt(&fixture("vertex_ai", "calls.native.ndjson"));
    let rules: std::collections::BTreeSet<_> = native
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        rules.contains("MW-AI-0003") && rules.contains("MW-AI-0001"),
        "{rules:?}"
    );
    for name in ["calls.bq_query.json", "calls.bq_extract.ndjson"] {
        let (alerts, stderr) = hunt(&fixture("vertex_ai", name));
        assert_eq!(what(&alerts), what(&native), "{name}");
        assert!(!stderr.contains("WARNING"), "{name}: {stderr}");
        assert!(
            alerts
                .iter()
                .all(|a| a["entity"]["model"] == "gemini-2.5-pro"),
            "{name}: {alerts:?}"
        );
    }
}

/// An alert on an event inside a delivery names the record (file, line, offset) and, past
/// the first, the event's index in it; its id is made of them, so a replay of the same input
/// gives the same ids, and two events of one record have two.
#[test]
fn alerts_inside_deliveries_name_their_event_and_replay_alike() {
    for name in ["subscription.ndjson", "kinesis_lambda_event.json"] {
        let path = fixture("cloudwatch", name);
        let (first, _) = hunt(&path);
        let (again, _) = hunt(&path);
        let ids = |alerts: &[Value]| -> Vec<String> {
            alerts
                .iter()
                .map(|a| a["alert"]["id"].to_string())
                .collect()
        };
        assert_eq!(ids(&first), ids(&again), "{name}");
        let places: std::collections::BTreeSet<String> = first
            .iter()
            .filter(|a| a["evidence"]["source"].is_object())
            .map(|a| {
                let s = &a["evidence"]["source"];
                format!(
                    "{} {} {} {} {}",
                    a["rule"]["id"], s["file"], s["line"], s["offset"], s["index"]
                )
            })
            .collect();
        let per_event = first
            .iter()
            .filter(|a| a["evidence"]["source"].is_object())
            .count();
        assert!(per_event >= 4, "{name}: {per_event}");
        assert_eq!(places.len(), per_event, "{name}: {places:?}");
        assert!(
            first
                .iter()
                .any(|a| a["evidence"]["source"]["index"].as_u64() > Some(0)),
            "{name}"
        );
    }
}
