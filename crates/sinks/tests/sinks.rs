//! The sinks against local servers that speak each protocol as documented (tests/mock), the
//! file formats against their schemas.

mod mock;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use modelward_engine::AlertSink;
use modelward_sinks::{Delivery, Error, Opened, OutputOptions, Report};
use serde_json::Value;

use mock::Server;

const ALERTS: &str = include_str!("fixtures/alerts.ndjson");
const TRICKY: &str = include_str!("fixtures/tricky.ndjson");
const OCSF_SCHEMA: &str = include_str!("fixtures/ocsf-1.8.0-detection_finding.schema.json");
const ES_TEMPLATE: &str = include_str!("../../../schema/outputs/elasticsearch-index-template.json");
const SENTINEL_DCR: &str = include_str!("../../../schema/outputs/sentinel-dcr.json");
const SENTINEL_TABLE: &str = include_str!("../../../schema/outputs/sentinel-table.json");

/// The 25 alerts of `modelward hunt examples/`, as documents. Regenerate the fixture when
/// the engine's alerts change: `cargo build -p modelward && target/debug/modelward hunt -q
/// --format ndjson examples/ > crates/sinks/tests/fixtures/alerts.ndjson`
/// (`the_fixture_is_current_alert_output` checks what went stale before).
fn alerts() -> Vec<Value> {
    ALERTS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn tricky() -> Value {
    serde_json::from_str(TRICKY.trim()).unwrap()
}

fn ids(docs: &[Value]) -> BTreeSet<String> {
    docs.iter()
        .map(|d| d["alert"]["id"].as_str().unwrap().to_string())
        .collect()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mw-sinks-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Opens `options` as a delivery with `env`.
fn delivery(options: OutputOptions, env: &[(&str, &str)]) -> Delivery {
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match options.open(&lookup) {
        Ok(Opened::Sink(output)) => output.into_delivery().expect("an HTTP output"),
        Ok(Opened::Plain { .. }) => panic!("a plain target"),
        Err(e) => panic!("{e}"),
    }
}

/// Sends `docs` and closes: the report, or the error with its report.
fn send_all(mut d: Delivery, docs: &[Value]) -> Result<Report, Box<(String, Report)>> {
    for doc in docs {
        d.send(doc.clone()).unwrap();
    }
    match d.close() {
        Ok(r) => Ok(r.clone()),
        Err(e) => {
            let text = e.to_string();
            match e {
                Error::Undelivered { report, .. } => Err(Box::new((text, *report))),
                other => panic!("{other}"),
            }
        }
    }
}

fn fast(mut o: OutputOptions) -> OutputOptions {
    o.backoff_ms = Some(5);
    o.max_backoff_ms = Some(20);
    o.timeout_ms = Some(5_000);
    o
}

#[test]
fn elasticsearch_bulk_retries_429_items_and_reports_mapping_errors() {
    let docs = alerts();
    let all = ids(&docs);
    let busy: BTreeSet<String> = docs[..3]
        .iter()
        .map(|d| d["alert"]["id"].as_str().unwrap().to_string())
        .collect();
    let state = Arc::new(Mutex::new(mock::EsState {
        busy_once: busy.clone(),
        unmappable_rules: ["Access anomaly in AI resource".to_string()].into(),
        authorization: Some(
            "ApiKey VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==".into(),
        ),
        ..Default::default()
    }));
    let template: Value = serde_json::from_str(ES_TEMPLATE).unwrap();
    let es = Server::start(mock::elasticsearch(state.clone(), template));
    let dir = scratch("es");
    let spool = dir.join("undelivered.ndjson");
    let options = OutputOptions {
        name: Some("es".into()),
        api_key: Some("env:ES_KEY".into()),
        spool: Some(spool.clone()),
        batch_max_events: Some(10),
        ..fast(OutputOptions::target(&format!(
            "elasticsearch+{}/logs-modelward-default",
            es.url()
        )))
    };
    let env = [(
        "ES_KEY",
        "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==",
    )];
    let (message, report) = *send_all(delivery(options.clone(), &env), &docs).unwrap_err();

    // The 429 items were sent again and arrived; the unmappable one is reported, spooled.
    let s = state.lock().unwrap();
    let stored = &s.docs["logs-modelward-default"];
    assert_eq!(stored.len(), 24);
    assert!(busy.iter().all(|id| stored.contains_key(id)));
    assert_eq!(s.item_statuses.iter().filter(|&&st| st == 429).count(), 3);
    assert_eq!(report.delivered, 24);
    assert_eq!(report.rejected.len(), 1);
    assert!(report.unsent.is_empty());
    assert!(report.retried >= 1, "{report:?}");
    assert!(
        message.contains("1 of 25 alert(s) not delivered: 1 rejected")
            && message.contains("document_parsing_exception")
            && message.contains("written to the spool"),
        "{message}"
    );
    let spooled = std::fs::read_to_string(&spool).unwrap();
    let spooled: Vec<Value> = spooled
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(spooled.len(), 1);
    assert_eq!(spooled[0]["rule"]["name"], "Access anomaly in AI resource");
    assert_eq!(
        ids(&spooled)
            .union(&stored.keys().cloned().collect())
            .count(),
        all.len()
    );

    // Every request: create actions only, NDJSON, the API key.
    for r in es.requests() {
        assert_eq!(r.path(), "/logs-modelward-default/_bulk");
        assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
        let text = String::from_utf8(r.body.clone()).unwrap();
        for (i, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line).unwrap();
            if i % 2 == 0 {
                assert!(v["create"]["_id"].is_string(), "{line}");
            }
        }
    }

    // ECS names.
    let jailbreak = stored
        .values()
        .find(|d| d["rule"]["id"] == "MW-AI-0002")
        .unwrap();
    assert_eq!(jailbreak["event"]["kind"], "alert");
    assert_eq!(jailbreak["event"]["category"][0], "intrusion_detection");
    // A jailbreak the shield blocked is low (nothing reached the model).
    assert_eq!(jailbreak["event"]["severity"], 2);
    assert!(jailbreak["@timestamp"]
        .as_str()
        .unwrap()
        .starts_with("2025-03-0"));
    assert!(jailbreak["user"]["name"].is_string());
    assert!(jailbreak["source"]["ip"].is_string());
    assert!(jailbreak["gen_ai"]["request"]["model"].is_string());
    assert!(jailbreak["log"]["file"]["path"]
        .as_str()
        .unwrap()
        .starts_with("examples/"));
    assert_eq!(jailbreak["threat"]["technique"]["id"][0], "AML.T0054");
    assert_eq!(jailbreak["data_stream"]["dataset"], "modelward");
    assert_eq!(jailbreak["modelward"]["severity"], "low");
    assert_eq!(jailbreak["threat"]["tactic"]["id"][0], "AML.TA0012");
    let esql = stored
        .values()
        .find(|d| d["rule"]["category"] == "esql")
        .unwrap();
    assert_eq!(esql["modelward"]["fields"]["count"], 102);
    assert_eq!(esql["event"]["start"], esql["modelward"]["window"]["start"]);
    drop(s);

    // A replay (at least once) adds nothing: the ids are there already (409).
    let replay = send_all(delivery(options, &env), &docs[..5]).unwrap();
    assert_eq!((replay.delivered, replay.duplicates), (5, 5));
    assert_eq!(
        state.lock().unwrap().docs["logs-modelward-default"].len(),
        24
    );
}

#[test]
fn the_index_template_maps_every_field_sent() {
    let template: Value = serde_json::from_str(ES_TEMPLATE).unwrap();
    let fields = mock::template_fields(&template);
    let mut docs = alerts();
    docs.push(tricky());
    for d in &docs {
        let mut doc = modelward_sinks::elasticsearch::document(d);
        doc["data_stream"] =
            serde_json::json!({"type": "logs", "dataset": "modelward", "namespace": "default"});
        assert_eq!(mock::mapping_error(&doc, &fields), None, "{doc:#}");
    }
    // A non-address entity is kept in modelward.entity, not in the ip field.
    let doc = modelward_sinks::elasticsearch::document(&tricky());
    assert!(doc.get("source").is_none());
    assert_eq!(doc["modelward"]["entity"]["source.ip"], "not-an-ip");
    assert_eq!(
        doc["threat"]["technique"]["subtechnique"]["id"][0],
        "T1078.004"
    );
    assert_eq!(
        doc["threat"]["framework"],
        serde_json::json!(["MITRE ATT&CK", "MITRE ATLAS"])
    );
}

#[test]
fn elasticsearch_413_splits_the_batch() {
    let docs = alerts();
    let state = Arc::new(Mutex::new(mock::EsState {
        max_body: 30_000,
        ..Default::default()
    }));
    let es = Server::start(mock::elasticsearch(
        state.clone(),
        serde_json::from_str(ES_TEMPLATE).unwrap(),
    ));
    let options = fast(OutputOptions::target(&format!(
        "opensearch+{}/logs-modelward-default",
        es.url()
    )));
    let report = send_all(delivery(options, &[]), &docs).unwrap();
    assert_eq!(report.delivered, 25);
    assert!(report.split >= 2, "{report:?}");
    assert_eq!(
        state.lock().unwrap().docs["logs-modelward-default"].len(),
        25
    );
    assert!(es.requests().iter().any(|r| r.body.len() > 30_000));
}

#[test]
fn splunk_hec_batches_with_indexer_acknowledgement() {
    let docs = alerts();
    let state = Arc::new(Mutex::new(mock::HecState {
        token: "11111111-2222-3333-4444-555555555555".into(),
        ack: true,
        polls_before_ack: 1,
        busy: 1,
        ..Default::default()
    }));
    let hec = Server::start(mock::splunk(state.clone()));
    let options = OutputOptions {
        token: Some("env:HEC".into()),
        batch_max_events: Some(10),
        ack_poll_ms: Some(10),
        ack_timeout_ms: Some(5_000),
        ..fast(OutputOptions::target(&format!(
            "splunk+{}?index=ai&ack=true&sourcetype=modelward:alert",
            hec.url()
        )))
    };
    let report = send_all(
        delivery(options, &[("HEC", "11111111-2222-3333-4444-555555555555")]),
        &docs,
    )
    .unwrap();
    assert_eq!(report.delivered, 25);
    assert_eq!(report.retried, 1, "the busy answer was retried: {report:?}");
    let s = state.lock().unwrap();
    assert_eq!(s.batches.len(), 3, "10 + 10 + 5 events");
    let events = s.events();
    assert_eq!(
        ids(&events
            .iter()
            .map(|e| e["event"].clone())
            .collect::<Vec<_>>()),
        ids(&docs)
    );
    for e in &events {
        assert_eq!(e["index"], "ai");
        assert_eq!(e["sourcetype"], "modelward:alert");
        assert_eq!(e["source"], "modelward");
        assert_eq!(e["fields"]["alert_id"], e["event"]["alert"]["id"]);
        let t = e["time"].as_f64().unwrap();
        let ms =
            modelward_event::parse_timestamp(e["event"]["@timestamp"].as_str().unwrap()).unwrap();
        assert!((t * 1000.0 - ms as f64).abs() < 1.0, "{t} {ms}");
    }
    assert!(s.ack_requests >= 3);
    let channels: BTreeSet<String> = hec
        .requests()
        .iter()
        .map(|r| r.header("x-splunk-request-channel").unwrap().to_string())
        .collect();
    assert_eq!(channels.len(), 1, "one channel per output");
    assert!(hec
        .requests()
        .iter()
        .filter(|r| r.path() == "/services/collector/ack")
        .all(|r| r.query("channel").as_deref() == channels.iter().next().map(String::as_str)));
}

#[test]
fn splunk_batches_never_acknowledged_are_sent_again() {
    let docs = alerts();
    let state = Arc::new(Mutex::new(mock::HecState {
        token: "tok-abcdef".into(),
        ack: true,
        lost: [0].into(),
        ..Default::default()
    }));
    let hec = Server::start(mock::splunk(state.clone()));
    let options = OutputOptions {
        token: Some("env:HEC".into()),
        batch_max_events: Some(20),
        ack: Some(true),
        ack_poll_ms: Some(10),
        ack_timeout_ms: Some(200),
        ..fast(OutputOptions::target(&format!("splunk+{}", hec.url())))
    };
    let report = send_all(delivery(options, &[("HEC", "tok-abcdef")]), &docs).unwrap();
    assert_eq!(report.delivered, 25);
    assert_eq!(report.retried, 1);
    let s = state.lock().unwrap();
    // At least once: the first 20 arrived twice; the alert ids tell the repeats.
    let events = s.events();
    assert_eq!(events.len(), 45);
    let unique: BTreeSet<&str> = events
        .iter()
        .map(|e| e["fields"]["alert_id"].as_str().unwrap())
        .collect();
    assert_eq!(unique.len(), 25);
}

#[test]
fn splunk_bad_token_stops_the_output_without_showing_it() {
    let docs = alerts();
    let state = Arc::new(Mutex::new(mock::HecState {
        token: "right-token".into(),
        ..Default::default()
    }));
    let hec = Server::start(mock::splunk(state));
    let dir = scratch("hec-bad");
    let options = OutputOptions {
        token: Some("env:HEC".into()),
        batch_max_events: Some(5),
        spool: Some(dir.join("spool.ndjson")),
        ..fast(OutputOptions::target(&format!("splunk+{}", hec.url())))
    };
    let d = delivery(options, &[("HEC", "wrong-token-0042")]);
    assert!(!format!("{d:?}").contains("wrong-token-0042"));
    let (message, report) = *send_all(d, &docs).unwrap_err();
    assert_eq!(hec.requests().len(), 1, "nothing tried after a 403");
    assert_eq!(report.unsent.len(), 25);
    assert!(
        message.contains("HTTP 403: Invalid token <redacted> (code 4)"),
        "{message}"
    );
    assert!(!message.contains("wrong-token-0042"), "{message}");
    assert!(message.contains("25 written to the spool"), "{message}");
    let spooled = std::fs::read_to_string(dir.join("spool.ndjson")).unwrap();
    assert_eq!(spooled.lines().count(), 25);
}

fn azure_state() -> Arc<Mutex<mock::AzureState>> {
    let dcr: Value = serde_json::from_str(SENTINEL_DCR).unwrap();
    Arc::new(Mutex::new(mock::AzureState {
        tenant: "72f988bf-86f1-41af-91ab-2d7cd011db47".into(),
        client_id: "0d3a6f2e-1111-2222-3333-444444444444".into(),
        client_secret: "Qx8~client.secret-value".into(),
        dcr: "dcr-00000000000000000000000000000000".into(),
        stream: "Custom-ModelwardAlerts_CL".into(),
        columns: mock::dcr_columns(&dcr, "Custom-ModelwardAlerts_CL"),
        ..Default::default()
    }))
}

fn sentinel_options(server: &Server, secret_var: &str) -> OutputOptions {
    OutputOptions {
        tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47".into()),
        client_id: Some("0d3a6f2e-1111-2222-3333-444444444444".into()),
        client_secret: Some(format!("env:{secret_var}")),
        authority_host: Some(server.url()),
        ..fast(OutputOptions::target(&format!(
            "sentinel+{}/dataCollectionRules/dcr-00000000000000000000000000000000/streams/Custom-ModelwardAlerts_CL",
            server.url()
        )))
    }
}

#[test]
fn sentinel_gets_a_token_then_ingests_rows_of_the_declared_stream() {
    let docs = alerts();
    let state = azure_state();
    state.lock().unwrap().throttle = 1;
    let azure = Server::start(mock::azure(state.clone()));
    let options = sentinel_options(&azure, "SECRET");
    let report = send_all(
        delivery(options, &[("SECRET", "Qx8~client.secret-value")]),
        &docs,
    )
    .unwrap();
    assert_eq!(report.delivered, 25);
    assert_eq!(report.retried, 1, "the 429 was retried: {report:?}");
    let s = state.lock().unwrap();
    assert_eq!(s.tokens_issued, 1, "the token is kept");
    assert_eq!(s.rows.len(), 25);
    let requests = azure.requests();
    assert!(requests[0].path().ends_with("/oauth2/v2.0/token"));
    let ingest = requests
        .iter()
        .find(|r| r.path().starts_with("/dataCollectionRules/"))
        .unwrap();
    assert_eq!(ingest.query("api-version").as_deref(), Some("2023-01-01"));
    assert!(ingest
        .header("x-ms-client-request-id")
        .is_some_and(|v| v.len() == 36));
    let row = s.rows.iter().find(|r| r["RuleId"] == "MW-AI-0002").unwrap();
    assert_eq!(row["Severity"], "Low");
    assert!(row["TimeGenerated"].as_str().unwrap().ends_with('Z'));
    assert_eq!(row["Techniques"][0], "AML.T0054");
    assert!(row["Evidence"]["source"]["file"].is_string());
    let esql = s.rows.iter().find(|r| r["RuleType"] == "esql").unwrap();
    assert_eq!(esql["Fields"]["count"], 102);
    assert!(esql["WindowStart"].is_string());
}

#[test]
fn sentinel_splits_on_413_and_a_wrong_secret_stops_it() {
    let docs = alerts();
    let state = azure_state();
    state.lock().unwrap().max_body = 20_000;
    let azure = Server::start(mock::azure(state.clone()));
    let report = send_all(
        delivery(
            sentinel_options(&azure, "SECRET"),
            &[("SECRET", "Qx8~client.secret-value")],
        ),
        &docs,
    )
    .unwrap();
    assert_eq!(report.delivered, 25);
    assert!(
        report.split >= 1 && state.lock().unwrap().too_large >= 1,
        "{report:?}"
    );
    assert_eq!(state.lock().unwrap().rows.len(), 25);

    let (message, report) = *send_all(
        delivery(
            sentinel_options(&azure, "SECRET"),
            &[("SECRET", "not-the-secret-42")],
        ),
        &docs,
    )
    .unwrap_err();
    assert_eq!(report.unsent.len(), 25);
    assert!(
        message.contains("token request: HTTP 401: invalid_client AADSTS7000215"),
        "{message}"
    );
    assert!(!message.contains("not-the-secret-42"), "{message}");
}

#[test]
fn sentinel_columns_match_the_dcr_and_table_files() {
    let dcr: Value = serde_json::from_str(SENTINEL_DCR).unwrap();
    let table: Value = serde_json::from_str(SENTINEL_TABLE).unwrap();
    let ours: Vec<(String, String)> = modelward_sinks::sentinel::COLUMNS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let listed = |v: &Value| -> Vec<(String, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().into(),
                    c["type"].as_str().unwrap().into(),
                )
            })
            .collect()
    };
    assert_eq!(
        listed(&dcr["properties"]["streamDeclarations"]["Custom-ModelwardAlerts_CL"]["columns"]),
        ours
    );
    assert_eq!(listed(&table["properties"]["schema"]["columns"]), ours);
    // Every row only has declared columns.
    for d in alerts().iter().chain([&tricky()]) {
        let row = modelward_sinks::sentinel::row(d);
        for k in row.as_object().unwrap().keys() {
            assert!(ours.iter().any(|(n, _)| n == k), "{k}");
        }
    }
}

#[test]
fn undelivered_alerts_go_to_the_spool_when_the_destination_is_down() {
    let docs = alerts();
    let state = Arc::new(Mutex::new(mock::EsState {
        down: Some(503),
        ..Default::default()
    }));
    let es = Server::start(mock::elasticsearch(
        state,
        serde_json::from_str(ES_TEMPLATE).unwrap(),
    ));
    let dir = scratch("down");
    let options = OutputOptions {
        retries: Some(2),
        batch_max_events: Some(10),
        spool: Some(dir.join("spool.ndjson")),
        ..fast(OutputOptions::target(&format!(
            "elasticsearch+{}/logs-modelward-default",
            es.url()
        )))
    };
    let (message, report) = *send_all(delivery(options, &[]), &docs).unwrap_err();
    assert_eq!(
        es.requests().len(),
        3,
        "one batch tried three times, the rest not tried"
    );
    assert_eq!(report.unsent.len(), 25);
    assert!(
        message.contains("25 of 25 alert(s) not delivered: 25 unsent"),
        "{message}"
    );
    assert!(message.contains("HTTP 503"), "{message}");
    assert!(message.contains("gave up after 3 attempts"), "{message}");
    let spooled: Vec<Value> = std::fs::read_to_string(dir.join("spool.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        spooled, docs,
        "the spool holds the alert documents as they were"
    );
}

#[test]
fn ocsf_findings_validate_against_the_ocsf_schema() {
    let schema: Value = serde_json::from_str(OCSF_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("ocsf.schema.json", schema).unwrap();
    let index = compiler.compile("ocsf.schema.json", &mut schemas).unwrap();
    let mut docs = alerts();
    docs.push(tricky());
    for d in &docs {
        let f = modelward_sinks::ocsf::finding(d);
        if let Err(e) = schemas.validate(&f, index) {
            panic!("finding does not validate: {e:#}\n{f:#}");
        }
        assert_eq!(f["class_uid"], 2004);
        assert_eq!(f["type_uid"], 200401);
        assert_eq!(f["finding_info"]["uid"], d["alert"]["id"]);
    }
    let f = modelward_sinks::ocsf::finding(&tricky());
    assert_eq!(
        (f["severity_id"].as_u64(), f["time"].as_i64()),
        (Some(5), Some(1_740_910_500_000))
    );
    assert_eq!(
        f["finding_info"]["attacks"][1]["sub_technique"]["uid"],
        "T1078.004"
    );
    assert_eq!(f["finding_info"]["attacks"][1]["technique"]["uid"], "T1078");
    assert_eq!(
        f["finding_info"]["attacks"][2]["tactic"]["uid"],
        "AML.TA0000"
    );
    // The schema bites: a finding without its finding_info, or of another class, fails.
    let mut bad = f.clone();
    bad.as_object_mut().unwrap().remove("finding_info");
    assert!(schemas.validate(&bad, index).is_err());
    let mut bad = f.clone();
    bad["class_uid"] = 2003.into();
    assert!(schemas.validate(&bad, index).is_err());
    let mut bad = f;
    bad["finding_info"]["colour"] = "red".into();
    assert!(schemas.validate(&bad, index).is_err());
}

#[test]
fn csv_has_stable_columns_and_defuses_formulas() {
    use modelward_sinks::csv::{row, COLUMNS};
    let r = row(&tricky());
    assert_eq!(r.len(), COLUMNS.len());
    let cell = |name: &str| r[COLUMNS.iter().position(|c| *c == name).unwrap()].clone();
    assert_eq!(
        cell("principal"),
        "=HYPERLINK(\"http://evil.example\",\"click\")"
    );
    assert_eq!(
        cell("tactics"),
        "TA0001 Initial Access;AML.TA0000 ML Model Access"
    );
    assert_eq!(cell("techniques"), "T1078;T1078.004");
    assert_eq!(cell("events"), "7");
    assert_eq!(cell("evidence_file"), "");
    // Written, each cell is escaped.
    let line: Vec<String> = r
        .iter()
        .map(|c| modelward_event::csv::field(c).into_owned())
        .collect();
    let line = line.join(",");
    assert!(
        line.contains(",\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"click\"\")\","),
        "{line}"
    );
    assert!(line.contains(",'@SUM(A1) logit sweep,"), "{line}");
    assert!(
        line.contains(",'-2+3 sweep of logit_bias values,"),
        "{line}"
    );
    assert!(line.contains(",\"gpt-4o\nsecond line\","), "{line}");
    let jailbreak = row(&alerts()[0]);
    assert!(
        jailbreak[COLUMNS.iter().position(|c| *c == "evidence_file").unwrap()]
            .starts_with("examples/")
    );
}

#[test]
fn file_outputs_write_each_format() {
    use modelward_rule::{Alert, RuleMeta, RuleType, Severity};
    let dir = scratch("files");
    let rule = Arc::new(RuleMeta::new(
        "r1",
        "=Rule, \"one\"",
        RuleType::Sigma,
        Severity::High,
        73,
    ));
    let mut alert = Alert::new(rule, 1_740_787_200_000, "a1b2c3d4e5f60718".into());
    alert.entity.insert("principal".into(), "alice".into());
    for (prefix, file) in [
        ("csv", "a.csv"),
        ("ocsf", "a.ocsf.ndjson"),
        ("ndjson", "a.ndjson"),
        ("json", "a.json"),
    ] {
        let target = format!("{prefix}:{}", dir.join(file).display());
        let Opened::Sink(mut out) = OutputOptions::target(&target)
            .open(&|_: &str| None)
            .unwrap()
        else {
            panic!("a sink");
        };
        out.alert(&alert).unwrap();
        out.finish().unwrap();
    }
    let csv = std::fs::read_to_string(dir.join("a.csv")).unwrap();
    let mut lines = csv.split("\r\n");
    assert_eq!(
        lines.next().unwrap(),
        modelward_sinks::csv::COLUMNS.join(",")
    );
    assert!(lines.next().unwrap().starts_with(
        "2025-03-01T00:00:00.000Z,a1b2c3d4e5f60718,high,73,r1,\"'=Rule, \"\"one\"\"\",sigma,alice,"
    ));
    let ocsf: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("a.ocsf.ndjson"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(ocsf["severity_id"], 4);
    let ndjson: Value = serde_json::from_str(
        std::fs::read_to_string(dir.join("a.ndjson"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    assert_eq!(ndjson["alert"]["id"], "a1b2c3d4e5f60718");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("a.json")).unwrap()).unwrap();
    assert_eq!(json[0]["alert"]["id"], "a1b2c3d4e5f60718");
    // An empty CSV still has its header.
    let target = format!("csv:{}", dir.join("empty.csv").display());
    let Opened::Sink(mut out) = OutputOptions::target(&target)
        .open(&|_: &str| None)
        .unwrap()
    else {
        panic!("a sink");
    };
    out.finish().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("empty.csv"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[test]
fn webhook_posts_each_alert_signed_retries_and_opens_its_circuit() {
    use modelward_respond::action::webhook::{verify_signature, DEFAULT_TOLERANCE};
    use modelward_rule::{Alert, RuleMeta, RuleType, Severity};
    let rule = Arc::new(RuleMeta::new(
        "r1",
        "Rule one",
        RuleType::Sigma,
        Severity::High,
        73,
    ));
    let alert = |id: &str| {
        let mut a = Alert::new(rule.clone(), 1_740_787_200_000, id.into());
        a.entity.insert("principal".into(), "alice".into());
        a
    };
    let env = |name: &str| (name == "HOOK_SECRET").then(|| "s3cret-hook-key".to_string());
    // The receiver fails the first request with 503, then takes everything.
    let calls = Arc::new(Mutex::new(0u32));
    let seen = calls.clone();
    let server = Server::start(move |_| {
        let mut n = seen.lock().unwrap();
        *n += 1;
        mock::Response::empty(if *n == 1 { 503 } else { 204 })
    });
    let options = OutputOptions {
        secret: Some("env:HOOK_SECRET".into()),
        backoff_ms: Some(1),
        ..OutputOptions::target(&format!("webhook+{}/hooks/soar", server.url()))
    };
    let Opened::Sink(mut out) = options.open(&env).unwrap() else {
        panic!("a sink");
    };
    out.alert(&alert("a1b2c3d4e5f60718")).unwrap();
    out.alert(&alert("0011223344556677")).unwrap();
    out.flush().unwrap();
    let requests = server.requests();
    assert_eq!(requests.len(), 3, "one retried, then one each");
    let mut keys = Vec::new();
    for r in &requests {
        assert_eq!(r.method, "POST");
        assert_eq!(r.path(), "/hooks/soar");
        verify_signature(
            b"s3cret-hook-key",
            r.header("X-Modelward-Timestamp").unwrap(),
            r.header("X-Modelward-Signature").unwrap(),
            &r.body,
            std::time::SystemTime::now(),
            DEFAULT_TOLERANCE,
        )
        .unwrap();
        let doc: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(doc["alert"]["id"], r.header("Idempotency-Key").unwrap());
        assert_eq!(doc["rule"]["id"], "r1");
        keys.push(r.header("Idempotency-Key").unwrap().to_string());
    }
    assert_eq!(
        keys,
        ["a1b2c3d4e5f60718", "a1b2c3d4e5f60718", "0011223344556677"]
    );

    // A receiver that refuses everything: after 2 failures in a row the rest are not tried,
    // and the flush says how many were lost, without the secret or the URL's path.
    let down = Server::start(|_| mock::Response::empty(500));
    let options = OutputOptions {
        secret: Some("env:HOOK_SECRET".into()),
        retries: Some(1),
        backoff_ms: Some(1),
        circuit_breaker: Some(2),
        ..OutputOptions::target(&format!("webhook+{}/hooks/t0k3n-path", down.url()))
    };
    let Opened::Sink(mut out) = options.open(&env).unwrap() else {
        panic!("a sink");
    };
    for i in 0..5 {
        out.alert(&alert(&format!("{i:016x}"))).unwrap();
    }
    let error = out.flush().unwrap_err().to_string();
    assert_eq!(
        down.requests().len(),
        4,
        "2 alerts x 2 attempts, then the circuit is open"
    );
    assert!(error.contains("5 alert(s) not delivered"), "{error}");
    assert!(error.contains("HTTP 500"), "{error}");
    for hidden in ["s3cret-hook-key", "t0k3n-path"] {
        assert!(!error.contains(hidden), "{error}");
    }

    // The secret comes from the environment only, and is required.
    let literal = OutputOptions {
        secret: Some("literal-secret".into()),
        ..OutputOptions::target("webhook+http://127.0.0.1:9/h")
    };
    let error = literal.open(&env).err().unwrap().to_string();
    assert!(!error.contains("literal-secret"), "{error}");
    let missing = OutputOptions::target("webhook+http://127.0.0.1:9/hooks/t0k3n-path");
    let error = missing.open(&env).err().unwrap().to_string();
    assert!(error.contains("webhook+http://127.0.0.1:9/…"), "{error}");
    assert!(error.contains("secret"), "{error}");
    // Options of other outputs are refused.
    let batch = OutputOptions {
        secret: Some("env:HOOK_SECRET".into()),
        batch_max_events: Some(5),
        ..OutputOptions::target("webhook+http://127.0.0.1:9/h")
    };
    assert!(batch.open(&env).is_err());
}

/// The fixture is what the engine writes today: every ATLAS/ATT&CK tactic and technique
/// has its id and name (an earlier copy had empty ATLAS tactics and technique names that
/// were their ids), severities are not one level, and the blocked jailbreaks are low.
#[test]
fn the_fixture_is_current_alert_output() {
    let docs = alerts();
    assert_eq!(docs.len(), 25);
    let mut severities = BTreeSet::new();
    for d in &docs {
        let threats = d["threat"].as_array().unwrap();
        assert!(!threats.is_empty(), "{}", d["rule"]["id"]);
        for t in threats {
            for key in ["id", "name"] {
                let v = t["tactic"][key].as_str().unwrap_or_default();
                assert!(!v.is_empty(), "{} tactic {key}: {t}", d["rule"]["id"]);
            }
            // A tactic may stand alone (ECS allows a threat without a technique).
            for te in t["technique"].as_array().into_iter().flatten() {
                let (id, name) = (te["id"].as_str().unwrap(), te["name"].as_str().unwrap());
                assert!(!id.is_empty() && !name.is_empty() && id != name, "{te}");
            }
        }
        severities.insert(d["severity"].as_str().unwrap().to_string());
        if d["rule"]["id"] == "MW-AI-0002" {
            assert_eq!(d["severity"], "low", "{}", d["alert"]["id"]);
        }
    }
    assert!(severities.len() > 1, "{severities:?}");
}
