//! What the behavioural end-to-end tests share: a hunt over NDJSON lines with every detector
//! and the given analyzers, whose alerts must validate against the published alert schema.

use modelward_behavior::Behavior;
use modelward_detectors::{Detectors, Settings};
use modelward_engine::{EngineBuilder, Hunt, RunStats, VecSink};
use modelward_event::input::{Reader, ReaderOptions};
use modelward_rule::{Alert, ALERT_SCHEMA};
use serde_json::Value;

/// Hunts `lines` (read as the file `file`) with the built-in detectors and `behavior`; any
/// diagnostic fails the test, and so does an alert that does not validate.
pub fn hunt_lines(file: &str, lines: &[Value], behavior: Behavior) -> (Vec<Alert>, RunStats) {
    let engine = EngineBuilder::new()
        .detectors(Detectors::new(&Settings::default()).unwrap())
        .behavior(behavior)
        .build();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    let mut hunt = Hunt::new(&engine);
    for batch in Reader::from_read(
        file,
        Box::new(std::io::Cursor::new(text.into_bytes())),
        ReaderOptions::default(),
    )
    .unwrap()
    {
        hunt.ingest(&batch.unwrap(), &mut |d| {
            panic!("unexpected diagnostic {d:?}")
        });
    }
    let mut sink = VecSink::default();
    let stats = hunt.finish(&mut sink).unwrap();
    let schema: Value = serde_json::from_str(ALERT_SCHEMA).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("alert.schema.json", schema).unwrap();
    let index = compiler.compile("alert.schema.json", &mut schemas).unwrap();
    for a in &sink.alerts {
        let doc = a.to_json();
        if let Err(e) = schemas.validate(&doc, index) {
            panic!("alert does not validate: {e}\n{doc:#}");
        }
    }
    (sink.alerts, stats)
}
