//! What the behavioural end-to-end tests share: a hunt over NDJSON lines with every detector
//! and the given analyzers, whose alerts must validate against the published alert schema.

#![allow(dead_code)] // each test binary uses its part

use modelward_behavior::Behavior;
use modelward_detectors::{Detectors, Settings};
use modelward_engine::{Engine, EngineBuilder, RunStats, Session, VecSink};
use modelward_event::input::{Reader, ReaderOptions};
use modelward_rule::{Alert, ALERT_SCHEMA};
use serde_json::{json, Value};

/// Hunts `lines` (read as the file `file`) with the built-in detectors and `behavior`; any
/// diagnostic fails the test, and so does an alert that does not validate.
pub fn hunt_lines(file: &str, lines: &[Value], behavior: Behavior) -> (Vec<Alert>, RunStats) {
    let engine = EngineBuilder::new()
        .detectors(Detectors::new(&Settings::default()).unwrap())
        .behavior(behavior)
        .build();
    hunt_with(&engine, file, lines)
}

/// Hunts `lines` (read as the file `file`, one JSON object a line) with `engine`; any
/// diagnostic fails the test, and so does an alert that does not validate.
pub fn hunt_with(engine: &Engine, file: &str, lines: &[Value]) -> (Vec<Alert>, RunStats) {
    let mut hunt = Session::new(engine);
    push_lines(&mut hunt, file, lines);
    let mut sink = VecSink::default();
    let stats = hunt.finish(&mut sink, &mut |_| {}).unwrap();
    validate_all(&sink.alerts);
    (sink.alerts, stats)
}

/// Pushes `lines` (read as the file `file`, one JSON object a line) through `session`; any
/// diagnostic fails the test.
pub fn push_lines(session: &mut Session, file: &str, lines: &[Value]) {
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    for batch in Reader::from_read(
        file,
        Box::new(std::io::Cursor::new(text.into_bytes())),
        ReaderOptions::default(),
    )
    .unwrap()
    {
        session.push(&batch.unwrap(), &mut |d| {
            panic!("unexpected diagnostic {d:?}")
        });
    }
}

/// One call as modelward's gateway logs it: `request` is the request body, `completion` the
/// answer, `tokens` the prompt and completion tokens.
pub fn gateway_call(
    ts: i64,
    key: &str,
    ip: &str,
    ua: &str,
    request: Value,
    completion: &str,
    tokens: (u64, u64),
) -> Value {
    json!({
        "modelward": {"log": "llm", "version": 1},
        "@timestamp": modelward_event::format_timestamp(ts),
        "client": {"ip": ip},
        "principal": {"api_key_id": key, "auth": "api_key"},
        "http": {"method": "POST", "path": "/v1/chat/completions", "status": 200, "request_headers": {"User-Agent": ua}},
        "request": request,
        "response": {"choices": [{"message": {"content": completion}, "finish_reason": "stop"}], "usage": {"prompt_tokens": tokens.0, "completion_tokens": tokens.1}}
    })
}

/// Fails the test unless every alert validates against the published alert schema.
pub fn validate_all(alerts: &[Alert]) {
    let schema: Value = serde_json::from_str(ALERT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("alert.schema.json", schema).unwrap();
    let index = compiler.compile("alert.schema.json", &mut schemas).unwrap();
    for alert in alerts {
        let doc = alert.to_json();
        if let Err(e) = schemas.validate(&doc, index) {
            panic!("alert does not validate: {e:#}\n{doc:#}");
        }
    }
}

/// The alerts whose rule id starts with `prefix`, as documents, by (rule id, principal);
/// each is printed (its rule and message) for a failing test's reader.
pub fn by_rule_and_principal(
    alerts: &[Alert],
    prefix: &str,
) -> std::collections::BTreeMap<(String, String), Vec<Value>> {
    let mut by: std::collections::BTreeMap<(String, String), Vec<Value>> = Default::default();
    for a in alerts.iter().filter(|a| a.rule.id.starts_with(prefix)) {
        let doc = a.to_json();
        eprintln!("{} {}", a.rule.id, doc["message"]);
        let principal = doc["entity"]["principal"]
            .as_str()
            .unwrap_or("")
            .to_string();
        by.entry((a.rule.id.clone(), principal))
            .or_default()
            .push(doc);
    }
    by
}

/// Every built-in rule (rules/), detector and analyzer, as `modelward hunt` runs them.
pub fn whole_pack() -> Engine {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut sigma = modelward_sigma::SigmaSet::default();
    let mut esql = Vec::new();
    let mut files: Vec<_> = walk(&root);
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.display().to_string();
        match path.extension().and_then(|e| e.to_str()) {
            Some("yml" | "yaml") if !name.contains("/tests/") => {
                let errors = sigma.add_file(&text, &name);
                assert!(errors.is_empty(), "{name}: {errors:?}");
            }
            Some("toml") => esql.push(modelward_esql::parse_toml_rule(&text, &name).unwrap()),
            _ => {}
        }
    }
    assert!(sigma.resolve().is_empty());
    assert!(sigma.rules.len() > 5 && !sigma.correlations.is_empty() && !esql.is_empty());
    EngineBuilder::new()
        .esql_rules(esql)
        .sigma(sigma)
        .detectors(
            modelward_detectors::Detectors::new(&modelward_detectors::Settings::default()).unwrap(),
        )
        .behavior(
            modelward_behavior::Behavior::new(&modelward_behavior::Settings::default()).unwrap(),
        )
        .build()
}

pub fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
