//! IoC collection and export from alert documents as `modelward hunt` writes them (taken from
//! `simulate-llm-traffic --seed 7` runs: logit extraction, and storage theft; trimmed).

use std::collections::{BTreeMap, HashSet};

use modelward_respond::incident::Ioc;
use modelward_respond::ioc::{collect, to_csv};
use modelward_respond::stix::to_stix;
use modelward_respond::volume::VolumeSeries;
use modelward_respond::{AlertView, Incident, Stage, Status};
use serde_json::{json, Value};

/// The Sigma logit-extraction rule on an API key.
fn sigma_logit_alert() -> Value {
    json!({
        "@timestamp": "2025-03-04T22:14:14.067Z",
        "alert": {"id": "7d4800f40f9a98f2"},
        "api_key.id": "key_vTm2A9Gei4Oi",
        "entity": {"model": "gpt-4o-mini", "principal": "dev-7731@example.net", "source.ip": "203.0.113.66"},
        "event": {"kind": "alert"},
        "evidence": {
            "events": 2,
            "first_seen": "2025-03-04T22:12:16.705Z",
            "last_seen": "2025-03-04T22:14:14.067Z",
            "samples": [{"file": "/tmp/ioc1.ndjson", "line": 2250, "offset": 11211002}]
        },
        "risk_score": 99,
        "rule": {"id": "5c0f6a1e-6d3b-4d47-9a51-0b4c2e7f1a04", "name": "AI Model Theft / Extraction Pattern",
                 "origin": "builtin:sigma/ai_model_theft.yml", "tags": ["attack.exfiltration", "atlas.aml.t0024"], "type": "sigma"},
        "severity": "critical",
        "window": {"end": "2025-03-04T22:14:14.067Z", "start": "2025-03-04T22:04:14.067Z"}
    })
}

/// The behavioural logit-extraction analyzer (MW-TH-0001) on the same principal.
fn behaviour_logit_alert() -> Value {
    json!({
        "@timestamp": "2025-03-04T22:14:26.121Z",
        "alert": {"id": "a4c85a6c877a2ee8"},
        "entity": {"model": "gpt-4o-mini", "principal": "dev-7731@example.net", "source.ip": "203.0.113.66"},
        "evidence": {
            "distinct_biased_tokens": 800, "first_seen": "2025-03-04T22:10:25.111Z", "last_seen": "2025-03-04T22:14:26.121Z",
            "pb53_vector": "model_extraction_api", "probe_calls": 100,
            "samples": [{"file": "/tmp/ioc1.ndjson", "line": 2201}],
            "thresholds": {"min_calls": 100, "window": "1d"}, "variant": "vocabulary_sweep"
        },
        "message": "dev-7731@example.net sent 100 logit probes since 2025-03-04T22:10:25.111Z",
        "risk_score": 73,
        "rule": {"id": "MW-TH-0001", "name": "Model extraction through the API - logit extraction",
                 "origin": "builtin:behavior/MW-TH-0001", "tags": ["behavioural"], "type": "detector"},
        "severity": "high"
    })
}

/// MW-TH-0007: an insider's first read of model weights.
fn weights_alert() -> Value {
    json!({
        "@timestamp": "2025-03-10T19:42:01.000Z",
        "alert": {"id": "726bfd2febb63e85"},
        "entity": {"principal": "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example", "source.ip": "192.0.2.58"},
        "evidence": {
            "baseline": {"first_seen": "2025-03-03T09:02:57.000Z", "storage_events": 84, "weight_buckets": []},
            "bucket": "123456789012/acme-ml-models",
            "bytes": 20981295608u64,
            "first_seen": "2025-03-10T19:42:01.000Z",
            "last_seen": "2025-03-10T19:52:51.000Z",
            "object_count": 5,
            "objects": [
                "123456789012/acme-ml-models/llama-3-8b-instruct/v3/model-00001-of-00004.safetensors",
                "123456789012/acme-ml-models/llama-3-8b-instruct/v3/model-00002-of-00004.safetensors",
                "123456789012/acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf"
            ],
            "pb53_vector": "weight_checkpoint_theft",
            "reason": "read model weights for the first time",
            "samples": [{"file": "/tmp/ioc2.ndjson", "line": 27898}]
        },
        "rule": {"id": "MW-TH-0007", "name": "Model weights downloaded by a principal outside its baseline", "origin": "builtin:behavior/MW-TH-0007"},
        "severity": "high",
        "window": {"end": "2025-03-10T19:52:51.000Z", "start": "2025-03-10T19:42:01.000Z"}
    })
}

/// A presigned download of the same weights with curl.
fn presigned_alert() -> Value {
    json!({
        "@timestamp": "2025-03-10T19:52:51.000Z",
        "alert": {"id": "5d76374031b76a7b"},
        "entity": {"principal": "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example", "source.ip": "203.0.113.201"},
        "evidence": {"source": {"file": "/tmp/ioc2.ndjson", "line": 27902, "offset": 56302170}},
        "file.path": "s3://acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf",
        "original_time": "2025-03-10T19:52:51.000Z",
        "rule": {"id": "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b04", "name": "Model weights downloaded through a presigned URL, SAS or anonymously"},
        "severity": "high",
        "source.ip": "203.0.113.201",
        "storage.auth.method": "presigned",
        "user.id": "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example",
        "user_agent.original": "curl/8.5.0"
    })
}

/// A checkpoint copied to another account's bucket by an IAM user.
fn copy_alert() -> Value {
    json!({
        "@timestamp": "2025-03-10T21:33:49.000Z",
        "alert": {"id": "916c54135b2c7dd0"},
        "entity": {"principal": "arn:aws:iam::123456789012:user/jsmith", "source.ip": "192.0.2.91"},
        "evidence": {"source": {"file": "/tmp/ioc2.ndjson", "line": 31908, "offset": 63148035}},
        "file.path": "s3://jsmith-archive-7f3a/backup/step-12000/model-00001-of-00006.safetensors",
        "original_time": "2025-03-10T21:33:49.000Z",
        "rule": {"id": "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d01", "name": "Object storage copy to another account"},
        "severity": "high",
        "source.ip": "192.0.2.91",
        "storage.copy.source.account": "123456789012",
        "storage.copy.source.bucket": "acme-ml-models",
        "storage.copy.source.key": "checkpoints/llama-3-8b-support-ft/step-12000/model-00001-of-00006.safetensors",
        "storage.copy.target.account": "444455556666",
        "user.id": "arn:aws:iam::123456789012:user/jsmith"
    })
}

fn views(docs: Vec<Value>) -> Vec<AlertView> {
    docs.into_iter()
        .map(|d| AlertView::from_json(d).unwrap())
        .collect()
}

fn ms(s: &str) -> i64 {
    modelward_event::parse_timestamp(s).unwrap()
}

/// The principal's calls per minute around the extraction: 5 × 300 in the alerts' range.
fn extraction_volume() -> VolumeSeries {
    let minute = |t: &str| ms(&format!("2025-03-04T{t}:00Z"));
    let mut calls = BTreeMap::new();
    calls.insert(minute("21:00"), 7);
    for t in ["22:10", "22:11", "22:12", "22:13", "22:14"] {
        calls.insert(minute(t), 300);
    }
    calls.insert(minute("22:15"), 999);
    let mut series = BTreeMap::new();
    series.insert("dev-7731@example.net".to_string(), calls);
    VolumeSeries {
        bucket_ms: 60_000,
        series,
        ..VolumeSeries::default()
    }
}

fn incident(id: &str, alerts: Vec<AlertView>) -> Incident {
    let first_seen = alerts.iter().map(|a| a.first_seen).min().unwrap_or(0);
    let last_seen = alerts.iter().map(|a| a.timestamp).max().unwrap_or(0);
    Incident {
        id: id.into(),
        title: "Model extraction via API by dev-7731@example.net (key key_vTm2A9Gei4Oi)".into(),
        playbook: "PB-53".into(),
        status: Status::Open,
        stage: Stage::Analyze,
        severity: "critical".into(),
        created_at: ms("2025-03-04T22:15:00Z"),
        first_seen,
        last_seen,
        entities: vec![
            ("principal".into(), "dev-7731@example.net".into()),
            ("api_key".into(), "key_vTm2A9Gei4Oi".into()),
        ],
        alerts,
        ..Incident::new(String::new(), "PB-53", "critical", 0)
    }
}

fn find<'a>(iocs: &'a [Ioc], kind: &str) -> Vec<&'a Ioc> {
    iocs.iter().filter(|i| i.kind == kind).collect()
}

fn values<'a>(iocs: &'a [Ioc], kind: &str) -> Vec<&'a str> {
    find(iocs, kind).iter().map(|i| i.value.as_str()).collect()
}

fn csv(iocs: &[Ioc]) -> String {
    let mut out = Vec::new();
    to_csv(iocs, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn api_extraction_alerts_give_address_principal_masked_key_volume_and_model() {
    let alerts = views(vec![sigma_logit_alert(), behaviour_logit_alert()]);
    let iocs = collect(&alerts, &extraction_volume());

    let ip = find(&iocs, "ip");
    assert_eq!(ip.len(), 1);
    assert_eq!(ip[0].value, "203.0.113.66");
    assert_eq!(ip[0].source, "API gateway logs");
    assert_eq!(ip[0].alerts, ["7d4800f40f9a98f2", "a4c85a6c877a2ee8"]);
    // Merged: from the behaviour alert's first probe to its last.
    assert_eq!(ip[0].first_seen, ms("2025-03-04T22:10:25.111Z"));
    assert_eq!(ip[0].last_seen, ms("2025-03-04T22:14:26.121Z"));

    assert_eq!(values(&iocs, "principal"), ["dev-7731@example.net"]);
    let key = find(&iocs, "api_key");
    assert_eq!(key.len(), 1);
    // The key id, whole: the identifier the responder revokes the key by.
    assert_eq!(key[0].value, "key_vTm2A9Gei4Oi");
    assert_eq!(key[0].source, "Auth logs");
    assert_eq!(key[0].alerts, ["7d4800f40f9a98f2"]);

    // Calls between the first and last alert time, counted from the series (the 22:15
    // bucket and the earlier hour are outside).
    let volume = find(&iocs, "query_volume");
    assert_eq!(volume.len(), 1);
    assert_eq!(
        volume[0].value,
        "dev-7731@example.net: 1,500 calls 2025-03-04T22:10Z – 22:14Z"
    );
    assert_eq!(volume[0].source, "API analytics");

    let model = find(&iocs, "target_model");
    assert_eq!(model.len(), 1);
    assert_eq!(
        (model[0].value.as_str(), model[0].source.as_str()),
        ("gpt-4o-mini", "Service routing")
    );
    assert!(find(&iocs, "employee_id").is_empty());
    assert!(find(&iocs, "downloaded_file").is_empty());

    // Without a series, the evidence's largest count, as a lower bound.
    let iocs = collect(&alerts, &VolumeSeries::default());
    assert_eq!(
        values(&iocs, "query_volume"),
        ["dev-7731@example.net: at least 100 calls 2025-03-04T22:10Z – 22:14Z (alert evidence)"]
    );
}

#[test]
fn storage_theft_alerts_give_files_models_insiders_and_user_agents() {
    let alerts = views(vec![weights_alert(), presigned_alert(), copy_alert()]);
    let iocs = collect(&alerts, &VolumeSeries::default());

    assert_eq!(
        values(&iocs, "ip"),
        ["192.0.2.58", "192.0.2.91", "203.0.113.201"]
    );
    assert!(find(&iocs, "ip")
        .iter()
        .all(|i| i.source == "Storage access logs"));
    assert_eq!(
        values(&iocs, "principal"),
        [
            "arn:aws:iam::123456789012:user/jsmith",
            "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example"
        ]
    );
    // The IAM user and the SSO session name of the organisation's account.
    let employees = find(&iocs, "employee_id");
    assert_eq!(
        employees
            .iter()
            .map(|i| i.value.as_str())
            .collect::<Vec<_>>(),
        ["jsmith", "rkumar@acme.example"]
    );
    assert!(employees.iter().all(|i| i.source == "IAM/HR logs"));

    // Evidence objects and the presigned download's path are the same object once, written
    // as the URL the download gave for the bucket; the copy gives its source and where it
    // went (no target model: not the organisation's).
    let files = find(&iocs, "downloaded_file");
    assert_eq!(
        files.iter().map(|i| i.value.as_str()).collect::<Vec<_>>(),
        [
            "s3://acme-ml-models/checkpoints/llama-3-8b-support-ft/step-12000/model-00001-of-00006.safetensors",
            "s3://acme-ml-models/llama-3-8b-instruct/v3/model-00001-of-00004.safetensors",
            "s3://acme-ml-models/llama-3-8b-instruct/v3/model-00002-of-00004.safetensors",
            "s3://acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf",
            "s3://jsmith-archive-7f3a/backup/step-12000/model-00001-of-00006.safetensors",
        ]
    );
    let gguf = files.iter().find(|i| i.value.ends_with(".gguf")).unwrap();
    assert_eq!(gguf.alerts, ["5d76374031b76a7b", "726bfd2febb63e85"]);
    assert_eq!(gguf.source, "Storage access logs");

    assert_eq!(
        values(&iocs, "target_model"),
        [
            "s3://acme-ml-models/checkpoints/llama-3-8b-support-ft/step-12000/",
            "s3://acme-ml-models/llama-3-8b-instruct/v3/",
            "s3://acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf",
        ]
    );
    assert_eq!(values(&iocs, "user_agent"), ["curl/8.5.0"]);
    assert_eq!(
        values(&iocs, "query_volume"),
        [
            "arn:aws:iam::123456789012:user/jsmith: at least 1 call 2025-03-10T21:33Z (alert evidence)",
            "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example: at least 5 calls, 20.98 GB read 2025-03-10T19:42Z – 19:52Z (alert evidence)",
        ]
    );

    // PB-53's table order, then value; deterministic whatever the alert order.
    let kinds: Vec<&str> = iocs.iter().map(|i| i.kind.as_str()).collect();
    let mut sorted = kinds.clone();
    sorted.sort_by_key(|k| {
        modelward_respond::ioc::KINDS
            .iter()
            .position(|x| x == k)
            .unwrap()
    });
    assert_eq!(kinds, sorted);
    let reversed = views(vec![copy_alert(), presigned_alert(), weights_alert()]);
    assert_eq!(collect(&reversed, &VolumeSeries::default()), iocs);
}

#[test]
fn employees_of_other_accounts_are_not_insiders() {
    let mut outsider = copy_alert();
    outsider["entity"]["principal"] = json!("arn:aws:iam::444455556666:user/mallory");
    outsider["user.id"] = json!("arn:aws:iam::444455556666:user/mallory");
    // The organisation's account is known from the bucket of the weights alert.
    let iocs = collect(
        &views(vec![weights_alert(), outsider]),
        &VolumeSeries::default(),
    );
    assert_eq!(values(&iocs, "employee_id"), ["rkumar@acme.example"]);
}

#[test]
fn csv_of_the_storage_fixture() {
    let alerts = views(vec![weights_alert(), presigned_alert(), copy_alert()]);
    let text = csv(&collect(&alerts, &VolumeSeries::default()));
    assert!(text.split_inclusive('\n').all(|l| l.ends_with("\r\n")));
    insta::assert_snapshot!(text.replace("\r\n", "\n"));
}

#[test]
fn no_whole_key_or_secret_survives_in_csv_or_stix() {
    let secret = "sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj";
    let mut leaky = sigma_logit_alert();
    leaky["user_agent.original"] = json!(format!(
        "python-requests/2.31 (Authorization: Bearer {secret})"
    ));
    leaky["evidence"]["principals"] = json!([{"principal": secret, "calls": 3}]);
    let alerts = views(vec![leaky, behaviour_logit_alert()]);
    let iocs = collect(&alerts, &extraction_volume());
    let inc = incident("INC-5c0f6a1e6d3b", alerts);
    let outputs = [
        csv(&iocs),
        to_stix(&inc, &iocs, ms("2025-03-05T08:00:00Z")).to_string(),
    ];
    for out in &outputs {
        assert!(!out.contains("Q3xv9LmT7rNcA2bKd8YhW4pE"), "{out}");
        assert!(out.contains("key_vTm2A9Gei4Oi"));
    }
    // The secret-bearing user agent is still an indicator, masked.
    assert!(values(&iocs, "user_agent")
        .iter()
        .any(|ua| ua.starts_with("python-requests/2.31") && ua.contains("sk-p…Zj")));
}

#[test]
fn csv_defuses_formulas_from_log_values() {
    let mut evil = presigned_alert();
    evil["user_agent.original"] = json!("=HYPERLINK(\"http://evil.example/\",\"x\")");
    let iocs = collect(&views(vec![evil]), &VolumeSeries::default());
    let text = csv(&iocs);
    let line = text.lines().find(|l| l.starts_with("user_agent,")).unwrap();
    assert_eq!(
        line,
        "user_agent,\"'=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",Storage access logs,2025-03-10T19:52:51.000Z,2025-03-10T19:52:51.000Z,5d76374031b76a7b"
    );
}

// ---------------------------------------------------------------------------------------
// STIX

fn stix_fixture() -> Value {
    let alerts = views(vec![
        sigma_logit_alert(),
        behaviour_logit_alert(),
        weights_alert(),
        presigned_alert(),
        copy_alert(),
    ]);
    let iocs = collect(&alerts, &extraction_volume());
    let inc = incident("INC-5c0f6a1e6d3b", alerts);
    to_stix(&inc, &iocs, ms("2025-03-11T08:00:00Z"))
}

/// `type--uuid` with a lowercase RFC 4122 UUID; its version.
fn uuid_version(id: &str, kind: &str) -> Option<u8> {
    let uuid = id.strip_prefix(kind)?.strip_prefix("--")?;
    let groups: Vec<&str> = uuid.split('-').collect();
    let shape = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12]);
    let hex = groups
        .iter()
        .all(|g| g.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    let variant = matches!(uuid.as_bytes().get(19), Some(b'8' | b'9' | b'a' | b'b'));
    (shape && hex && variant).then(|| uuid.as_bytes()[14] - b'0')
}

fn timestamp(o: &Value, prop: &str) -> i64 {
    let s = o[prop]
        .as_str()
        .unwrap_or_else(|| panic!("{prop} missing in {o}"));
    assert!(s.ends_with('Z') && s.contains('T'), "{prop} = {s}");
    modelward_event::parse_timestamp(s).unwrap()
}

fn nonempty_str(o: &Value, prop: &str) {
    assert!(
        o[prop].as_str().is_some_and(|s| !s.is_empty()),
        "{prop} missing in {o}"
    );
}

const SCOS: [&str; 4] = ["ipv4-addr", "ipv6-addr", "user-account", "file"];

#[test]
fn stix_bundle_objects_have_their_required_properties() {
    let bundle = stix_fixture();
    assert_eq!(bundle["type"], "bundle");
    assert!(uuid_version(bundle["id"].as_str().unwrap(), "bundle").is_some());
    assert!(
        bundle.get("spec_version").is_none(),
        "2.1 bundles have none"
    );
    let objects = bundle["objects"].as_array().unwrap();
    let ids: HashSet<&str> = objects.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), objects.len(), "ids are unique");

    for o in objects {
        let kind = o["type"].as_str().unwrap();
        let id = o["id"].as_str().unwrap();
        let version = uuid_version(id, kind).unwrap_or_else(|| panic!("bad id {id}"));
        assert_eq!(o["spec_version"], "2.1", "{o}");
        if SCOS.contains(&kind) {
            assert_eq!(version, 5, "SCO ids are UUIDv5: {id}");
        } else {
            assert_eq!(version, 4, "SDO/SRO ids are UUIDv4: {id}");
            assert!(timestamp(o, "modified") >= timestamp(o, "created"), "{o}");
        }
        // Every reference resolves inside the bundle.
        for (prop, v) in o.as_object().unwrap() {
            if prop.ends_with("_ref") {
                assert!(ids.contains(v.as_str().unwrap()), "{prop} of {id}");
            }
            if prop.ends_with("_refs") {
                let refs = v.as_array().unwrap();
                assert!(!refs.is_empty());
                assert!(refs.iter().all(|r| ids.contains(r.as_str().unwrap())));
            }
        }
        match kind {
            "identity" => {
                nonempty_str(o, "name");
                assert_eq!(o["identity_class"], "system");
            }
            "incident" => {
                nonempty_str(o, "name");
                nonempty_str(o, "description");
            }
            "indicator" => {
                nonempty_str(o, "pattern");
                assert_eq!(o["pattern_type"], "stix");
                timestamp(o, "valid_from");
                let types = o["indicator_types"].as_array().unwrap();
                assert!(!types.is_empty());
                let p = o["pattern"].as_str().unwrap();
                assert!(p.starts_with('[') && p.ends_with(']'), "{p}");
            }
            "observed-data" => {
                assert!(timestamp(o, "last_observed") >= timestamp(o, "first_observed"));
                let n = o["number_observed"].as_u64().unwrap();
                assert!((1..=999_999_999).contains(&n));
            }
            "relationship" => {
                nonempty_str(o, "relationship_type");
                nonempty_str(o, "source_ref");
                nonempty_str(o, "target_ref");
            }
            "note" => {
                nonempty_str(o, "content");
                assert!(!o["object_refs"].as_array().unwrap().is_empty());
            }
            "ipv4-addr" | "ipv6-addr" => nonempty_str(o, "value"),
            "user-account" => nonempty_str(o, "user_id"),
            "file" => nonempty_str(o, "name"),
            other => panic!("unexpected object type {other}"),
        }
        if !matches!(kind, "identity") && !SCOS.contains(&kind) {
            assert!(o["created_by_ref"].is_string(), "{o}");
        }
    }
}

#[test]
fn stix_bundle_content() {
    let bundle = stix_fixture();
    let objects = bundle["objects"].as_array().unwrap();
    let of = |kind: &str| -> Vec<&Value> { objects.iter().filter(|o| o["type"] == kind).collect() };

    let incident = of("incident");
    assert_eq!(incident.len(), 1);
    let incident_id = incident[0]["id"].as_str().unwrap();
    assert_eq!(
        incident[0]["name"],
        "Model extraction via API by dev-7731@example.net (key key_vTm2A9Gei4Oi)"
    );
    let description = incident[0]["description"].as_str().unwrap();
    assert!(description.contains("INC-5c0f6a1e6d3b"));
    assert!(description.contains("dev-7731@example.net: 1,500 calls 2025-03-04T22:10Z – 22:14Z"));

    let patterns: Vec<&str> = of("indicator")
        .iter()
        .map(|o| o["pattern"].as_str().unwrap())
        .collect();
    for p in [
        "[ipv4-addr:value = '203.0.113.66']",
        "[user-account:user_id = 'dev-7731@example.net']",
        "[user-account:user_id = 'arn:aws:iam::123456789012:user/jsmith']",
        "[file:name = 'llama-3-8b-instruct.Q4_K_M.gguf']",
        "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'curl/8.5.0']",
    ] {
        assert!(patterns.contains(&p), "{p} not in {patterns:?}");
    }
    // Volumes, keys, models and employees are no indicators: they are in the note.
    assert!(!patterns
        .iter()
        .any(|p| p.contains("key_vT") || p.contains("calls")));
    let note = of("note");
    assert_eq!(note.len(), 1);
    let content = note[0]["content"].as_str().unwrap();
    for line in [
        "- API key id: key_vTm2A9Gei4Oi (Auth logs)",
        "- Target model: gpt-4o-mini (Service routing)",
        "- Employee id (insider): jsmith (IAM/HR logs)",
        "- Query volume: dev-7731@example.net: 1,500 calls",
    ] {
        assert!(content.contains(line), "{line} not in {content}");
    }

    // Each indicator indicates the incident.
    let indicates: Vec<&Value> = of("relationship")
        .into_iter()
        .filter(|r| r["relationship_type"] == "indicates")
        .collect();
    assert_eq!(indicates.len(), of("indicator").len());
    assert!(indicates.iter().all(|r| r["target_ref"] == incident_id));

    // The address's SCO has the STIX deterministic id.
    let ip = of("ipv4-addr")
        .into_iter()
        .find(|o| o["value"] == "203.0.113.66")
        .unwrap();
    assert_eq!(
        ip["id"].as_str().unwrap(),
        modelward_respond::stix::id::sco_id("ipv4-addr", &[("value", "203.0.113.66")])
    );
}

#[test]
fn stix_export_is_deterministic() {
    assert_eq!(stix_fixture(), stix_fixture());
    // SDO ids stay across exports at other times; only `modified` and the bundle id change.
    let alerts = views(vec![sigma_logit_alert(), behaviour_logit_alert()]);
    let iocs = collect(&alerts, &extraction_volume());
    let inc = incident("INC-5c0f6a1e6d3b", alerts);
    let a = to_stix(&inc, &iocs, ms("2025-03-05T08:00:00Z"));
    let b = to_stix(&inc, &iocs, ms("2025-03-06T08:00:00Z"));
    assert_ne!(a["id"], b["id"]);
    let ids = |v: &Value| -> Vec<String> {
        v["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&a), ids(&b));
    // Another incident with the same IoCs gets its own SDO ids but the same SCO ids.
    let other = incident("INC-000000000001", inc.alerts.clone());
    let c = to_stix(&other, &iocs, ms("2025-03-05T08:00:00Z"));
    let (ia, ic) = (ids(&a), ids(&c));
    for (x, y) in ia.iter().zip(&ic) {
        if SCOS.iter().any(|s| x.starts_with(&format!("{s}--"))) {
            assert_eq!(x, y);
        } else if !x.starts_with("identity--") {
            assert_ne!(x, y);
        }
    }
}

#[test]
fn stix_patterns_escape_quotes_and_backslashes_from_logs() {
    let mut odd = presigned_alert();
    odd["user_agent.original"] = json!(r"it's a \ test");
    let alerts = views(vec![odd]);
    let iocs = collect(&alerts, &VolumeSeries::default());
    let bundle = to_stix(&incident("INC-1", alerts), &iocs, 0);
    let patterns: Vec<&str> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["pattern"].as_str())
        .collect();
    assert!(patterns.contains(
        &r"[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'it\'s a \\ test']"
    ));
}
