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
use modelward_sigma::{SigmaSet, Source};
use serde_json::Value;

use crate::ruleset::RuleSet;

struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            modelward_event::outln!("FAIL {}", what());
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

pub fn run(paths: &[PathBuf], pipelines: &[PathBuf]) -> Result<u8> {
    let set = RuleSet::load_paths(paths, pipelines);
    set.report_errors();
    let mut tally = Tally {
        passed: 0,
        failed: 0,
    };
    let mut untested = Vec::new();
    for rule in &set.sigma.rules {
        let Some(tests) = &rule.tests else {
            untested.push(rule.meta.origin.clone() + ": " + &rule.meta.name);
            continue;
        };
        for (i, e) in tests.true_positives.iter().enumerate() {
            tally.check(rule.matches(&event(e)), || {
                format!(
                    "{} ({}): true positive #{} does not match",
                    rule.meta.name,
                    rule.meta.origin,
                    i + 1
                )
            });
        }
        for (i, e) in tests.true_negatives.iter().enumerate() {
            tally.check(!rule.matches(&event(e)), || {
                format!(
                    "{} ({}): true negative #{} matches",
                    rule.meta.name,
                    rule.meta.origin,
                    i + 1
                )
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
                untested.push(c.meta.origin.clone() + ": " + &c.meta.name);
            }
            continue;
        };
        let meta = Arc::clone(&c.meta);
        if !tests.true_positives.is_empty() {
            let n = alerts_of(&set.sigma, &meta.id, &tests.true_positives);
            tally.check(n > 0, || {
                format!(
                    "{} ({}): its true positives raise no alert",
                    meta.name, meta.origin
                )
            });
        }
        if !tests.true_negatives.is_empty() {
            let n = alerts_of(&set.sigma, &meta.id, &tests.true_negatives);
            tally.check(n == 0, || {
                format!(
                    "{} ({}): its true negatives raise {n} alert(s)",
                    meta.name, meta.origin
                )
            });
        }
    }
    for u in &untested {
        modelward_event::outln!("untested: {u}");
    }
    modelward_event::outln!(
        "rule tests: {} passed, {} failed, {} skipped",
        tally.passed,
        tally.failed,
        untested.len()
    );
    Ok(if tally.failed == 0 && set.errors.is_empty() {
        0
    } else {
        1
    })
}
