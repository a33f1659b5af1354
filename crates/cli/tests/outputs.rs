//! `modelward hunt --output` against local servers that speak Elasticsearch `_bulk`, Splunk
//! HEC and the Logs Ingestion API (with its Entra token endpoint), as documented
//! (crates/sinks/tests/mock), and the file formats.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use serde_json::Value;

mod common;
use common::Dir;

#[path = "../../sinks/tests/mock/mod.rs"]
mod mock;

const ES_TEMPLATE: &str = include_str!("../../../schema/outputs/elasticsearch-index-template.json");
const SENTINEL_DCR: &str = include_str!("../../../schema/outputs/sentinel-dcr.json");

const HEC_TOKEN: &str = "5c1b2a9e-0000-4d4d-9999-hec-token-cli";
const AZURE_SECRET: &str = "Zz8~cli.client-secret.value";
const ES_KEY: &str = "ZXNfa2V5X2lkOmVzX2tleV9zZWNyZXQ=";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn hunt(dir: &Dir, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
        .current_dir(repo())
        .arg("hunt")
        .args(args)
        .arg("examples/")
        .env("MODELWARD_ELASTICSEARCH_API_KEY", ES_KEY)
        .env("MW_TEST_HEC", HEC_TOKEN)
        .env("MW_TEST_AZURE_SECRET", AZURE_SECRET)
        .env_remove("MODELWARD_SPLUNK_HEC_TOKEN")
        .env_remove("AZURE_CLIENT_SECRET")
        .env("TMPDIR", &dir.0)
        .output()
        .unwrap()
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["alert"]["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn hunt_sends_the_alerts_to_elasticsearch_splunk_sentinel_and_files() {
    let dir = Dir::new("outputs");
    let es_state = Arc::new(Mutex::new(mock::EsState {
        authorization: Some(format!("ApiKey {ES_KEY}")),
        ..Default::default()
    }));
    let es = mock::Server::start(mock::elasticsearch(
        es_state.clone(),
        serde_json::from_str(ES_TEMPLATE).unwrap(),
    ));
    let hec_state = Arc::new(Mutex::new(mock::HecState {
        token: HEC_TOKEN.into(),
        ack: true,
        polls_before_ack: 1,
        ..Default::default()
    }));
    let hec = mock::Server::start(mock::splunk(hec_state.clone()));
    let dcr: Value = serde_json::from_str(SENTINEL_DCR).unwrap();
    let azure_state = Arc::new(Mutex::new(mock::AzureState {
        tenant: "contoso.onmicrosoft.com".into(),
        client_id: "6a1c0000-1111-2222-3333-444444444444".into(),
        client_secret: AZURE_SECRET.into(),
        dcr: "dcr-11112222333344445555666677778888".into(),
        stream: "Custom-ModelwardAlerts_CL".into(),
        columns: mock::dcr_columns(&dcr, "Custom-ModelwardAlerts_CL"),
        max_body: 1_048_576,
        ..Default::default()
    }));
    let azure = mock::Server::start(mock::azure(azure_state.clone()));
    let config = dir.write(
        "modelward.toml",
        format!(
            r#"
[[outputs]]
name = "splunk"
target = "splunk+{hec}?index=ai"
token = "env:MW_TEST_HEC"
ack = true
ack_poll_ms = 10

[[outputs]]
name = "sentinel"
target = "sentinel+{azure}/dataCollectionRules/dcr-11112222333344445555666677778888/streams/Custom-ModelwardAlerts_CL"
tenant_id = "contoso.onmicrosoft.com"
client_id = "6a1c0000-1111-2222-3333-444444444444"
client_secret = "env:MW_TEST_AZURE_SECRET"
authority_host = "{azure}"
"#,
            hec = hec.url(),
            azure = azure.url()
        ),
    );
    let csv = dir.path("alerts.csv");
    let ocsf = dir.path("alerts.ocsf.ndjson");
    let plain = dir.path("alerts.ndjson");
    let es_target = format!("elasticsearch+{}/logs-modelward-default", es.url());
    let csv_target = format!("csv:{}", csv.display());
    let ocsf_target = format!("ocsf:{}", ocsf.display());
    let o = hunt(
        &dir,
        &[
            "--config",
            config.to_str().unwrap(),
            "-o",
            &es_target,
            "-o",
            "splunk",
            "-o",
            "sentinel",
            "-o",
            &csv_target,
            "-o",
            &ocsf_target,
            "-o",
            plain.to_str().unwrap(),
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "alerts found: {stderr}");
    assert!(o.stdout.is_empty(), "nothing on stdout when -o is given");

    // Today's -o FILE: NDJSON, the 25 alerts of the quickstart.
    let alerts = lines(&plain);
    assert_eq!(alerts.len(), 25);
    let expected = ids(&alerts);

    let es_docs: Vec<Value> = es_state.lock().unwrap().docs["logs-modelward-default"]
        .values()
        .cloned()
        .collect();
    assert_eq!(
        es_docs
            .iter()
            .map(|d| d["event"]["id"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>(),
        expected
    );
    let hec_events: Vec<Value> = hec_state
        .lock()
        .unwrap()
        .events()
        .into_iter()
        .map(|e| {
            assert_eq!(e["index"], "ai");
            e["event"].clone()
        })
        .collect();
    assert_eq!(ids(&hec_events), expected);
    assert!(hec_state.lock().unwrap().ack_requests >= 1);
    let az = azure_state.lock().unwrap();
    assert_eq!(az.tokens_issued, 1);
    assert_eq!(
        az.rows
            .iter()
            .map(|r| r["AlertId"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>(),
        expected
    );
    drop(az);

    let csv_text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(csv_text.split("\r\n").filter(|l| !l.is_empty()).count(), 26);
    assert!(csv_text.starts_with("time,alert_id,severity,risk_score,rule_id,rule_name,"));
    let findings = lines(&ocsf);
    assert_eq!(findings.len(), 25);
    assert!(findings.iter().all(|f| f["class_uid"] == 2004));

    for line in [
        "output `splunk` (splunk http://127.0.0.1:",
        "output `sentinel` (sentinel http://127.0.0.1:",
        "data stream logs-modelward-default): 25 alert(s) delivered",
    ] {
        assert!(stderr.contains(line), "{line} in {stderr}");
    }
    for secret in [HEC_TOKEN, AZURE_SECRET, ES_KEY] {
        assert!(!stderr.contains(secret), "{stderr}");
    }
}

#[test]
fn an_output_that_fails_is_reported_spooled_and_the_others_still_get_every_alert() {
    let dir = Dir::new("outputs-down");
    let state = Arc::new(Mutex::new(mock::EsState {
        down: Some(503),
        ..Default::default()
    }));
    let es = mock::Server::start(mock::elasticsearch(
        state,
        serde_json::from_str(ES_TEMPLATE).unwrap(),
    ));
    let config = dir.write(
        "modelward.toml",
        format!(
            "[[outputs]]\nname = \"es\"\ntarget = \"elasticsearch+{}/logs-modelward-default\"\nretries = 1\nbackoff_ms = 5\nspool = \"undelivered.ndjson\"\n",
            es.url()
        ),
    );
    let ndjson = dir.path("alerts.ndjson");
    let target = format!("ndjson:{}", ndjson.display());
    let o = hunt(
        &dir,
        &[
            "--config",
            config.to_str().unwrap(),
            "-q",
            "-o",
            "es",
            "-o",
            &target,
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("output `es`: 25 of 25 alert(s) not delivered: 25 unsent")
            && stderr.contains("HTTP 503")
            && stderr.contains("25 written to the spool"),
        "{stderr}"
    );
    // The spool is relative to the configuration file.
    assert_eq!(lines(&dir.path("undelivered.ndjson")).len(), 25);
    assert_eq!(lines(&ndjson).len(), 25);
}

#[test]
fn secrets_on_the_command_line_and_unset_variables_are_refused_before_the_hunt() {
    let dir = Dir::new("outputs-secrets");
    let o = hunt(
        &dir,
        &[
            "-o",
            "splunk+http://127.0.0.1:9?index=ai&token=abc-secret-123",
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("secrets are not taken from the command line"),
        "{stderr}"
    );
    assert!(!stderr.contains("abc-secret-123"), "{stderr}");
    let o = hunt(&dir, &["-o", "splunk+http://127.0.0.1:9"]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr.contains("MODELWARD_SPLUNK_HEC_TOKEN"), "{stderr}");
    assert!(
        !stderr.contains("file(s)"),
        "refused before the logs were read: {stderr}"
    );
    let config = dir.write(
        "c.toml",
        "[[outputs]]\nname = \"s\"\ntarget = \"splunk+http://127.0.0.1:9\"\ntoken = \"literal-token\"\n",
    );
    let o = hunt(&dir, &["--config", config.to_str().unwrap(), "-o", "s"]);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("`token` must name an environment variable"),
        "{stderr}"
    );
    assert!(!stderr.contains("literal-token"), "{stderr}");
}
