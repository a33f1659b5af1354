//! Object-storage sources end to end: raw S3 server access logs, CloudTrail, Azure
//! StorageBlobLogs and GCS audit logs through `modelward hunt`, raising the built-in storage
//! rules (and the Tor detector on `source.ip`).

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{json, Value};

mod common;
use common::Dir;

const WEIGHTS: &str = "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b03";
const WEIGHTS_VIA_LINK: &str = "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b04";
const CROSS_ACCOUNT: &str = "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d01";
const KEYS: &str = "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d02";
const VERTEX_EXPORT: &str = "8d3b2f61-4c7e-4a19-b6d5-2e9f0a7c1b44";
const SHARE: &str = "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d03";
const TOR: &str = "MW-AI-0010";

/// A fixture of the event crate's normalizer tests (real-shaped raw input).
fn fixture(source: &str, name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../event/tests/fixtures")
        .join(source)
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json_fixture(source: &str, name: &str) -> Value {
    serde_json::from_str(&fixture(source, &format!("{name}.raw.json"))).unwrap()
}

fn hunt(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelward"));
    cmd.arg("hunt").arg("--format").arg("ndjson").args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn alerts(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The alerts of one rule.
fn of_rule<'a>(alerts: &'a [Value], id: &str) -> Vec<&'a Value> {
    alerts
        .iter()
        .filter(|a| a["rule"]["id"] == json!(id))
        .collect()
}

fn rule_ids(alerts: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = alerts
        .iter()
        .map(|a| a["rule"]["id"].as_str().unwrap_or_default().to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// The fields of the first sample event of an alert, whatever the alert's layout.
fn mentions(alert: &Value, text: &str) -> bool {
    alert.to_string().contains(text)
}

#[test]
fn s3_access_log_weight_download_raises_the_rule() {
    let d = Dir::new("storage-s3");
    let log = d.write(
        "2025-03-14-09-15-00-3E57427F3EXAMPLE",
        fixture("s3_access", "get_weights.raw.log") + &fixture("s3_access", "legacy_put.raw.log"),
    );
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    let weights = of_rule(&found, WEIGHTS);
    assert_eq!(weights.len(), 1, "{found:#?}");
    assert!(mentions(weights[0], "model-00001-of-00004.safetensors"));
    assert!(mentions(
        weights[0],
        "arn:aws:iam::123456789012:user/mlops-ci"
    ));
}

#[test]
fn cloudtrail_weight_download_copy_and_keys_raise_their_rules() {
    let d = Dir::new("storage-cloudtrail");
    let records: Vec<Value> = [
        "get_object_weights",
        "copy_object_cross_account",
        "create_access_key",
        "list_objects_v2",
        "get_bucket_policy_denied",
    ]
    .iter()
    .map(|n| json_fixture("cloudtrail", n))
    .collect();
    let log = d.write(
        "123456789012_CloudTrail_us-west-2_20250316T1125Z_abc.json",
        json!({ "Records": records }).to_string(),
    );
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    assert_eq!(of_rule(&found, WEIGHTS).len(), 1, "{found:#?}");
    let copies = of_rule(&found, CROSS_ACCOUNT);
    assert_eq!(copies.len(), 1, "{found:#?}");
    assert!(mentions(copies[0], "999988887777"));
    assert_eq!(of_rule(&found, KEYS).len(), 1, "{found:#?}");
    // A list and a denied policy read raise nothing.
    assert_eq!(
        rule_ids(&found),
        [WEIGHTS, CROSS_ACCOUNT, KEYS],
        "{found:#?}"
    );
}

#[test]
fn azure_blob_weight_download_copy_sas_and_keys_raise_their_rules() {
    let d = Dir::new("storage-azure");
    let records: Vec<Value> = [
        "get_blob_oauth",
        "get_blob_sas",
        "copy_blob_source_cross_account",
        "copy_blob_same_account",
        "get_user_delegation_key",
        "list_keys_activity",
        "list_blobs_denied",
    ]
    .iter()
    .map(|n| json_fixture("azure_blob", n))
    .collect();
    let log = d.write("PT1H.json", json!({ "records": records }).to_string());
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    // GetBlob over OAuth and over SAS (the CopyBlobSource read of a variables shard is a copy).
    assert_eq!(of_rule(&found, WEIGHTS).len(), 2, "{found:#?}");
    let via_link = of_rule(&found, WEIGHTS_VIA_LINK);
    assert_eq!(via_link.len(), 1, "{found:#?}");
    assert!(mentions(via_link[0], "mistral-7b-instruct.Q4_K_M.gguf"));
    assert!(
        !mentions(via_link[0], "sig=XXXXX"),
        "the SAS signature is redacted"
    );
    let copies = of_rule(&found, CROSS_ACCOUNT);
    assert_eq!(copies.len(), 1, "{found:#?}");
    assert!(mentions(copies[0], "exfil7731"));
    assert_eq!(of_rule(&found, KEYS).len(), 1, "{found:#?}");
    assert_eq!(of_rule(&found, SHARE).len(), 1, "{found:#?}");
}

#[test]
fn gcs_audit_weight_download_raises_the_rule() {
    let d = Dir::new("storage-gcs");
    let lines: String = [
        "objects_get_delegated",
        "objects_list",
        "objects_create",
        "objects_get_denied_private_ip",
        "create_service_account_key",
    ]
    .iter()
    .map(|n| json_fixture("gcs_audit", n).to_string() + "\n")
    .collect();
    let log = d.write("data_access.ndjson", lines);
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    let weights = of_rule(&found, WEIGHTS);
    // The allowed read of the safetensors shard and the denied read of saved_model.pb: the
    // rule is about attempts too.
    assert_eq!(weights.len(), 2, "{found:#?}");
    assert!(weights
        .iter()
        .any(|a| mentions(a, "gs://acme-ml-models/llama-3-8b/")));
    assert_eq!(of_rule(&found, KEYS).len(), 1, "{found:#?}");
}

#[test]
fn vertex_ai_model_export_raises_the_rule() {
    let d = Dir::new("storage-vertex");
    let lines: String = [
        "vertex_generate_content",
        "vertex_deploy_model",
        "vertex_export_model",
    ]
    .iter()
    .map(|n| json_fixture("gcs_audit", n).to_string() + "\n")
    .collect();
    let log = d.write("vertex_audit.ndjson", lines);
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    // Only the export: inference and deployment are the model's ordinary life.
    let export = of_rule(&found, VERTEX_EXPORT);
    assert_eq!(export.len(), 1, "{found:#?}");
    assert!(mentions(export[0], "jdoe@acme.example"), "{found:#?}");
}

#[test]
fn forced_sources_work_and_json_leaves_records_as_they_are() {
    let d = Dir::new("storage-forced");
    let log = d.write(
        "gcs.ndjson",
        json_fixture("gcs_audit", "objects_get_delegated").to_string() + "\n",
    );
    let o = hunt(&["--source", "gcs_audit"], &[&log]);
    assert_eq!(of_rule(&alerts(&o), WEIGHTS).len(), 1, "{}", stderr(&o));
    let o = hunt(&["--source", "json"], &[&log]);
    assert_eq!(of_rule(&alerts(&o), WEIGHTS).len(), 0, "{}", stderr(&o));
    let o = hunt(&["--source", "nope"], &[&log]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("gcs_audit"), "{}", stderr(&o));
}

#[test]
fn tor_detector_fires_on_storage_downloads() {
    let d = Dir::new("storage-tor");
    d.write("tor.txt", "185.220.101.4\n");
    let cfg = d.write(
        "modelward.toml",
        "[detectors]\ntor_exit_lists = [\"tor.txt\"]\n",
    );
    let s3 = d.write("s3.log", fixture("s3_access", "presigned_get.raw.log"));
    let ct = d.write(
        "ct.json",
        json!({"Records": [json_fixture("cloudtrail", "get_object_presigned")]}).to_string(),
    );
    let az = d.write(
        "az.json",
        json!({"records": [json_fixture("azure_blob", "get_blob_sas")]}).to_string(),
    );
    let o = hunt(&["--config", cfg.to_str().unwrap()], &[&s3, &ct, &az]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let found = alerts(&o);
    let tor = of_rule(&found, TOR);
    assert_eq!(tor.len(), 3, "{found:#?}");
    assert!(tor.iter().all(|a| mentions(a, "185.220.101.4")));
    assert_eq!(of_rule(&found, WEIGHTS_VIA_LINK).len(), 3, "{found:#?}");
}

#[test]
fn bad_s3_lines_are_reported_with_position_and_skipped() {
    let d = Dir::new("storage-bad");
    let good = fixture("s3_access", "get_weights.raw.log");
    let bad = good.replacen(" 200 - ", " 2OO - ", 1);
    let truncated = &good[..200];
    let log = d.write("access.log", format!("{bad}{truncated}\n{good}"));
    let o = hunt(&[], &[&log]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    let column = bad.find(" 2OO ").unwrap() + 2;
    assert!(
        err.contains(&format!(
            "access.log:1:{column}: S3 access log line: `http_status`"
        )),
        "{err}"
    );
    assert!(err.contains("access.log:2:"), "{err}");
    assert_eq!(of_rule(&alerts(&o), WEIGHTS).len(), 1);
}

/// Sigma rules written on CloudTrail's own field names (as SigmaHQ writes them) still match:
/// the normalizer keeps the record's keys beside the ECS fields.
#[test]
fn rules_on_raw_cloudtrail_names_still_match() {
    let d = Dir::new("storage-raw-names");
    let rule = d.write(
        "copy.yml",
        "title: S3 CopyObject by name\nid: 0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventSource: s3.amazonaws.com\n    eventName: CopyObject\n    userIdentity.accountId: '999988887777'\n  condition: sel\nlevel: low\n",
    );
    let log = d.write(
        "ct.json",
        json!({"Records": [json_fixture("cloudtrail", "copy_object_cross_account")]}).to_string(),
    );
    let o = hunt(
        &["--no-builtin", "--rules", rule.to_str().unwrap()],
        &[&log],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(
        of_rule(&alerts(&o), "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e").len(),
        1
    );
}
