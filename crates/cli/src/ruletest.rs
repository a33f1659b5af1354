//! `modelward rules test`: each rule's own test events.
//!
//! A Sigma rule document may carry `modelward_tests` with `true_positives` and
//! `true_negatives` (lists of events). A detection rule must match each true positive and
//! no true negative. A correlation rule runs through the engine: its true positives, as one
//! sequence of events (with `@timestamp`), must raise it; its true negatives must not.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use modelward_engine::{EngineBuilder, Session, VecSink};
use modelward_event::input::{Reader, ReaderOptions};
use modelward_event::Event;
use modelward_rule::RuleMeta;
use modelward_sigma::{SigmaSet, Source};
use serde_json::{json, Value};

use crate::args::Format;
use crate::ruleset::RuleSet;

#[derive(Default)]
struct Tally {
    passed: u64,
    /// Each failed test: the rule's name, its file, what failed.
    failures: Vec<(String, String, String)>,
}

impl Tally {
    fn check(&mut self, ok: bool, meta: &RuleMeta, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failures
                .push((meta.name.clone(), meta.origin.clone(), what()));
        }
    }
}

/// Alerts of rule `id` when `events` run through an engine with every Sigma rule.
fn alerts_of(set: &SigmaSet, id: &str, events: &[Value]) -> usize {
    let engine = EngineBuilder::new().sigma(set.clone()).build();
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    let mut hunt = Session::new(&engine);
    if let Ok(reader) = Reader::from_read(
        "test",
        Box::new(std::io::Cursor::new(text.into_bytes())),
        ReaderOptions::default(),
    ) {
        for batch in reader.flatten() {
            hunt.push(&batch, &mut |_| {});
        }
    }
    let mut sink = VecSink::default();
    if hunt.finish(&mut sink, &mut |_| {}).is_err() {
        return 0;
    }
    sink.alerts.iter().filter(|a| a.rule.id == id).count()
}

fn event(v: &Value) -> Event {
    let fields = v.as_object().cloned().unwrap_or_default();
    Event::new(fields, Default::default())
}

/// `rules test`: text (a `FAIL` line a failed test, the untested rules, a summary; load
/// errors on stderr) or, with `--format json|ndjson`, one document `{"passed", "failed",
/// "skipped", "failures": [{"rule", "file", "message"}], "untested": [{"rule", "file"}],
/// "errors": [{"file", "line", "column", "message"}]}`. Exit 1 on a failure or load error.
pub fn run(paths: &[PathBuf], pipelines: &[PathBuf], format: Format) -> Result<u8> {
    let set = RuleSet::load_paths(paths, pipelines);
    if format == Format::Table {
        set.report_errors();
    }
    let mut tally = Tally::default();
    let mut untested = Vec::new();
    for rule in &set.sigma.rules {
        let Some(tests) = &rule.tests else {
            untested.push((rule.meta.name.clone(), rule.meta.origin.clone()));
            continue;
        };
        for (i, e) in tests.true_positives.iter().enumerate() {
            tally.check(rule.matches(&event(e)), &rule.meta, || {
                format!("true positive #{} does not match", i + 1)
            });
        }
        for (i, e) in tests.true_negatives.iter().enumerate() {
            tally.check(!rule.matches(&event(e)), &rule.meta, || {
                format!("true negative #{} matches", i + 1)
            });
        }
    }
    for (k, c) in set.sigma.correlations.iter().enumerate() {
        let Some(tests) = &c.tests else {
            // A correlation that only feeds another is tested through that one.
            let feeds_another = set
                .sigma
                .correlations
                .iter()
                .any(|o| !o.doc.generate && o.sources.contains(&Source::Correlation(k)));
            if !feeds_another {
                untested.push((c.meta.name.clone(), c.meta.origin.clone()));
            }
            continue;
        };
        let meta = Arc::clone(&c.meta);
        if !tests.true_positives.is_empty() {
            let n = alerts_of(&set.sigma, &meta.id, &tests.true_positives);
            tally.check(n > 0, &meta, || {
                "its true positives raise no alert".to_string()
            });
        }
        if !tests.true_negatives.is_empty() {
            let n = alerts_of(&set.sigma, &meta.id, &tests.true_negatives);
            tally.check(n == 0, &meta, || {
                format!("its true negatives raise {n} alert(s)")
            });
        }
    }
    let failed = tally.failures.len();
    if format == Format::Table {
        for (name, origin, what) in &tally.failures {
            modelward_event::outln!("FAIL {name} ({origin}): {what}");
        }
        for (name, origin) in &untested {
            modelward_event::outln!("untested: {origin}: {name}");
        }
        modelward_event::outln!(
            "rule tests: {} passed, {failed} failed, {} skipped",
            tally.passed,
            untested.len()
        );
    } else {
        let failures: Vec<_> = tally
            .failures
            .iter()
            .map(|(rule, file, message)| json!({"rule": rule, "file": file, "message": message}))
            .collect();
        let untested_docs: Vec<_> = untested
            .iter()
            .map(|(rule, file)| json!({"rule": rule, "file": file}))
            .collect();
        let errors: Vec<_> = set
            .errors
            .iter()
            .map(|e| json!({"file": e.file, "line": e.line, "column": e.column, "message": e.message}))
            .collect();
        let doc = json!({
            "passed": tally.passed,
            "failed": failed,
            "skipped": untested.len(),
            "failures": failures,
            "untested": untested_docs,
            "errors": errors,
        });
        let mut out = std::io::stdout().lock();
        let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
        docs.write(&mut out, doc)?;
        docs.finish(&mut out)?;
    }
    Ok(if failed == 0 && set.errors.is_empty() {
        0
    } else {
        1
    })
}
