//! The engine as a stream: records pushed a few at a time with the watermark advanced as
//! they come give the alerts a hunt over the whole input gives, each as soon as its rule can
//! tell; what is held stays bounded.

use std::collections::BTreeMap;
use std::path::Path;

use modelward_engine::{Engine, EngineBuilder, Session, Snapshot};
use modelward_event::input::{Batch, InputPath, Reader, ReaderOptions};
use modelward_rule::Alert;
use serde_json::{json, Value};

use super::{burst, common, iso, raw_listkey, seed, MINUTE, T0};

/// The example Azure logs (both days, the second gzipped) and a simulated day of LLM
/// traffic with every attack profile, each in time order, read in batches of about
/// `batch_bytes`.
fn corpus(batch_bytes: usize) -> Vec<Vec<Batch>> {
    let options = ReaderOptions {
        batch_bytes,
        ..ReaderOptions::default()
    };
    let read = |reader: Reader| -> Vec<Batch> { reader.map(Result::unwrap).collect() };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure_openai");
    let mut sources: Vec<Vec<Batch>> = [
        "diagnostics-2025-03-01.ndjson",
        "diagnostics-2025-03-02.ndjson.gz",
    ]
    .iter()
    .map(|name| read(Reader::open(&InputPath::File(examples.join(name)), options.clone()).unwrap()))
    .collect();
    let spec = modelward_corpus::sim::SimSpec {
        seed: 5,
        scale: 0.25,
        ..modelward_corpus::sim::SimSpec::default()
    };
    let mut sim = Vec::new();
    modelward_corpus::sim::simulate(&spec, &mut sim, &mut Vec::new()).unwrap();
    sources.push(read(
        Reader::from_read("sim.ndjson", Box::new(std::io::Cursor::new(sim)), options).unwrap(),
    ));
    sources
}

/// The latest `@timestamp` among a batch's records.
fn latest(batch: &Batch) -> Option<i64> {
    batch
        .records
        .iter()
        .filter_map(|span| {
            let v: Value = serde_json::from_slice(batch.bytes(span)).ok()?;
            let t = v.get("@timestamp").or_else(|| v.get("time"))?.as_str()?;
            modelward_event::parse_timestamp(t)
        })
        .max()
}

fn docs(alerts: &[Alert]) -> Vec<Value> {
    alerts.iter().map(Alert::to_json).collect()
}

/// (rule id, alert id) → the alert, to compare runs.
fn by_id(alerts: &[Value]) -> BTreeMap<(String, String), Value> {
    alerts
        .iter()
        .map(|a| {
            (
                (
                    a["rule"]["id"].as_str().unwrap().to_string(),
                    a["alert"]["id"].as_str().unwrap().to_string(),
                ),
                a.clone(),
            )
        })
        .collect()
}

#[test]
fn a_stream_gives_the_hunts_alerts() {
    let engine = common::whole_pack();
    // The hunt: every record, then the end.
    let mut hunt = Session::new(&engine);
    for source in corpus(4 << 20) {
        for batch in &source {
            hunt.push(batch, &mut |d| panic!("{d:?}"));
        }
    }
    let mut sink = modelward_engine::VecSink::default();
    let hunt_stats = hunt.finish(&mut sink, &mut |_| {}).unwrap();
    let hunted = docs(&sink.alerts);
    common::validate_all(&sink.alerts);
    // Every kind of rule alerts in this corpus.
    let kinds: std::collections::BTreeSet<&str> = hunted
        .iter()
        .map(|a| a["rule"]["type"].as_str().unwrap())
        .collect();
    assert!(hunted.len() > 40, "{}", hunted.len());
    assert!(kinds.len() >= 3, "{kinds:?}");

    // The stream: about 64 KB at a time, the watermark at the latest time read, alerts
    // taken after every push. Each source is in time order; the sources follow one another.
    let (streamed, stream_stats, taken_early) = stream(&engine, None);
    assert!(
        taken_early * 2 > streamed.len(),
        "most alerts come before the end: {taken_early} of {}",
        streamed.len()
    );
    assert_same(&hunted, &streamed);
    assert_eq!(
        (hunt_stats.alerts, hunt_stats.events, hunt_stats.executions),
        (
            stream_stats.alerts,
            stream_stats.events,
            stream_stats.executions
        )
    );
    assert_eq!(stream_stats.late, 0);

    // The same stream stopped every 25 pushes: its state saved as JSON, the session
    // dropped, another restored from the JSON goes on.
    let (restored, restored_stats, _) = stream(&engine, Some(25));
    assert_same(&hunted, &restored);
    assert_eq!(
        (
            restored_stats.alerts,
            restored_stats.events,
            restored_stats.executions
        ),
        (hunt_stats.alerts, hunt_stats.events, hunt_stats.executions)
    );
    assert_eq!(restored_stats.state_not_restored, 0);
}

/// Streams the corpus (about 64 KB a push, advancing to the latest time read, taking the
/// ready alerts after each push), restarting from a snapshot every `restart` pushes; returns
/// the alerts, the counters, and how many alerts came before the end.
fn stream(
    engine: &Engine,
    restart: Option<usize>,
) -> (Vec<Value>, modelward_engine::RunStats, usize) {
    let mut session = Session::new(engine);
    let mut streamed = Vec::new();
    let mut taken_early = 0;
    let mut pushes = 0;
    for source in corpus(64 << 10) {
        let mut watermark = i64::MIN;
        for batch in &source {
            session.push(batch, &mut |d| panic!("{d:?}"));
            if let Some(t) = latest(batch) {
                watermark = watermark.max(t);
            }
            session.advance(watermark, &mut |_| {});
            let ready = session.take_ready();
            taken_early += ready.len();
            // Within one take, report order.
            let times: Vec<i64> = ready.iter().map(|a| a.timestamp).collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            streamed.extend(docs(&ready));
            pushes += 1;
            if restart.is_some_and(|n| pushes % n == 0) {
                let json = serde_json::to_string(&session.snapshot()).unwrap();
                drop(session);
                let snapshot: Snapshot = serde_json::from_str(&json).unwrap();
                session = Session::restore(engine, snapshot).unwrap();
            }
        }
    }
    let mut sink = modelward_engine::VecSink::default();
    let stats = session.finish(&mut sink, &mut |_| {}).unwrap();
    streamed.extend(docs(&sink.alerts));
    (streamed, stats, taken_early)
}

/// The same alerts (by rule and id, whole documents), each once.
fn assert_same(expected: &[Value], got: &[Value]) {
    let (a, b) = (by_id(expected), by_id(got));
    let only_a: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_b: Vec<_> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "expected only: {only_a:?}\ngot only: {only_b:?}"
    );
    assert_eq!(a, b);
    assert_eq!(expected.len(), got.len());
}

#[test]
fn a_snapshot_of_another_version_or_rule_set() {
    let engine = EngineBuilder::new().esql_rule(seed()).build();
    let mut session = Session::new(&engine);
    common::push_lines(&mut session, "t.ndjson", &burst(raw_listkey, "RG", 100, T0));
    let mut json = serde_json::to_value(session.snapshot()).unwrap();
    // A rule set without the seed rule leaves its rows out, and says so.
    let other = EngineBuilder::new().build();
    let snapshot: Snapshot = serde_json::from_value(json.clone()).unwrap();
    let restored = Session::restore(&other, snapshot).unwrap();
    assert_eq!(restored.stats().state_not_restored, 1);
    assert_eq!(restored.held().rows, 0);
    // The same rule set takes them all.
    let snapshot: Snapshot = serde_json::from_value(json.clone()).unwrap();
    let restored = Session::restore(&engine, snapshot).unwrap();
    assert_eq!(
        (restored.stats().state_not_restored, restored.held().rows),
        (0, 100)
    );
    // Another version is refused.
    json["version"] = json!(99);
    let snapshot: Snapshot = serde_json::from_value(json).unwrap();
    assert_eq!(
        Session::restore(&engine, snapshot)
            .err()
            .unwrap()
            .to_string(),
        "snapshot format version 99; this build reads version 1"
    );
}

#[test]
fn alerts_come_when_their_rule_can_tell() {
    let yaml = "title: Tool call\nname: tool_call\nlogsource: {category: llm}\ndetection:\n  sel:\n    event.action: tool_call\n  condition: sel\nlevel: high\n---\ntitle: Many tool calls\ncorrelation:\n  type: event_count\n  rules: tool_call\n  generate: true\n  group-by: [user.id]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: critical\n";
    let mut set = modelward_sigma::SigmaSet::default();
    assert!(set.add_file(yaml, "t.yml").is_empty());
    assert!(set.resolve().is_empty());
    let engine = EngineBuilder::new().sigma(set).esql_rule(seed()).build();
    let mut session = Session::new(&engine);
    let rules = |alerts: Vec<Alert>| -> Vec<String> {
        alerts.into_iter().map(|a| a.rule.name.clone()).collect()
    };
    let calls: Vec<Value> = (0..3)
        .map(|i| json!({"@timestamp": iso(T0 + i * MINUTE), "event": {"action": "tool_call"}, "user": {"id": "mallory"}}))
        .collect();
    // A match on one event alerts when it is pushed; the correlation once event time has
    // reached its third match.
    common::push_lines(&mut session, "t.ndjson", &calls);
    assert_eq!(rules(session.take_ready()), ["Tool call"; 3]);
    session.advance(T0 + MINUTE, &mut |_| {});
    assert!(session.take_ready().is_empty());
    session.advance(T0 + 2 * MINUTE, &mut |_| {});
    assert_eq!(rules(session.take_ready()), ["Many tool calls"]);
    // The seed rule's 100 key listings from 09:05 end at 09:38; the 09:40 execution
    // ([08:40, 09:40]) counts them once event time reaches 09:40.
    common::push_lines(
        &mut session,
        "t.ndjson",
        &burst(raw_listkey, "RG", 100, T0 + 5 * MINUTE),
    );
    session.advance(T0 + 39 * MINUTE, &mut |_| {});
    assert!(session.take_ready().is_empty());
    session.advance(T0 + 40 * MINUTE, &mut |_| {});
    assert_eq!(
        rules(session.take_ready()),
        ["Potential Azure OpenAI Model Theft"]
    );
    // A listing pushed now, from before the start of every window still to run, is late.
    assert_eq!(session.stats().late, 0);
    common::push_lines(
        &mut session,
        "t.ndjson",
        &burst(raw_listkey, "RG", 1, T0 - 30 * MINUTE),
    );
    assert_eq!(session.stats().late, 1);
    let mut sink = modelward_engine::VecSink::default();
    let stats = session.finish(&mut sink, &mut |_| {}).unwrap();
    assert!(sink.alerts.is_empty(), "{:?}", rules(sink.alerts));
    assert_eq!(stats.alerts, 5);
}

#[test]
fn what_a_stream_holds_stays_within_a_window() {
    let engine = EngineBuilder::new().esql_rule(seed()).build();
    let mut session = Session::new(&engine);
    let mut most = 0;
    // Three days of a key listing every 20 seconds (12,960 events), the watermark following.
    for hour in 0..72 {
        common::push_lines(
            &mut session,
            "t.ndjson",
            &burst(raw_listkey, "RG", 180, T0 + hour * 60 * MINUTE),
        );
        session.advance(T0 + (hour + 1) * 60 * MINUTE - 1, &mut |_| {});
        session.take_ready();
        most = most.max(session.held().rows);
    }
    // The seed rule looks back an hour: at most about an hour and a batch of rows.
    assert!(most <= 2 * 180 + 30, "held {most} rows");
    let stats = session
        .finish(&mut modelward_engine::VecSink::default(), &mut |_| {})
        .unwrap();
    assert_eq!(stats.late, 0);
    assert!(stats.alerts > 0);
}

#[test]
fn the_first_execution_waits_for_its_time_so_earlier_rows_still_count() {
    let rule = super::esql(
        "// interval: 10m\n// from: now-60m\nfrom logs-* | where event.action == \"ListKey\" | stats c = count(*)",
    );
    let engine = EngineBuilder::new().esql_rule(rule).build();
    let mut session = Session::new(&engine);
    let listing = |at: i64| [json!({"@timestamp": iso(at), "event": {"action": "ListKey"}})];
    // A listing at 09:03 while event time is at 08:59: no execution is due yet.
    common::push_lines(&mut session, "t.ndjson", &listing(T0 + 3 * MINUTE));
    session.advance(T0 - MINUTE, &mut |_| {});
    // One at 08:55 comes after (a late writer): the 09:00 execution is the first.
    common::push_lines(&mut session, "t.ndjson", &listing(T0 - 5 * MINUTE));
    session.advance(T0, &mut |_| {});
    let alerts = session.take_ready();
    assert_eq!(alerts.len(), 1);
    assert_eq!(iso(alerts[0].timestamp), iso(T0));
    assert_eq!(alerts[0].fields["c"], json!(1));
}

#[test]
fn a_match_behind_the_watermark_is_late_only_where_a_correlation_counts_it() {
    let yaml = "title: Tool call\nname: tool_call\nlogsource: {category: llm}\ndetection:\n  sel:\n    event.action: tool_call\n  condition: sel\nlevel: high\n---\ntitle: Model listing\nlogsource: {category: llm}\ndetection:\n  sel:\n    event.action: list_models\n  condition: sel\nlevel: low\n---\ntitle: Many tool calls\ncorrelation:\n  type: event_count\n  rules: tool_call\n  generate: true\n  group-by: [user.id]\n  timespan: 5m\n  condition: {gte: 3}\nlevel: critical\n";
    let mut set = modelward_sigma::SigmaSet::default();
    assert!(set.add_file(yaml, "t.yml").is_empty());
    assert!(set.resolve().is_empty());
    let engine = EngineBuilder::new().sigma(set).build();
    let mut session = Session::new(&engine);
    session.advance(T0, &mut |_| {});
    // Both from before the watermark: the listing's alert is never late; the tool call a
    // correlation counts is, and is still counted.
    let behind = |action: &str| json!({"@timestamp": iso(T0 - MINUTE), "event": {"action": action}, "user": {"id": "u"}});
    common::push_lines(&mut session, "t.ndjson", &[behind("list_models")]);
    assert_eq!(session.stats().late, 0);
    common::push_lines(&mut session, "t.ndjson", &[behind("tool_call")]);
    assert_eq!(session.stats().late, 1);
    assert_eq!(session.held().matches, 1);
}
