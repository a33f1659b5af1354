//! A hunt: records in, alerts out at the end.

use std::sync::Arc;

use rayon::prelude::*;

use modelward_esql::table::Row;
use modelward_event::input::{Batch, ParseError};
use modelward_event::Event;

use crate::exceptions::Tally;
use crate::record::RecordResult;
use crate::schedule::run_rule;
use crate::sink::{AlertSink, SinkError};
use crate::Engine;

/// Something to tell the user about while records are processed.
#[derive(Debug, Clone, PartialEq)]
pub enum Diagnostic {
    /// A record that is not a valid event; counted and skipped.
    Malformed(ParseError),
    /// An event a normalizer rejected; counted and skipped.
    Normalize(String),
    /// An ES|QL evaluation warning (null result) for a rule.
    QueryWarning { rule: String, message: String },
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunStats {
    pub records: u64,
    pub bytes: u64,
    pub events: u64,
    pub malformed: u64,
    pub normalize_errors: u64,
    /// Records the source's pipeline drops by design.
    pub dropped: u64,
    /// Records no rule could match, rejected before parsing.
    pub prefiltered: u64,
    /// Events without a usable timestamp for some rule: outside every window.
    pub no_timestamp: u64,
    pub executions: u64,
    /// Executions that produced more than `max_signals` rows.
    pub truncated: u64,
    pub suppressed: u64,
    pub query_warnings: u64,
    /// Matches dropped from full correlation windows (bounded state).
    pub correlation_evicted: u64,
    /// LLM calls the behavioural analyzers read.
    pub behavior_calls: u64,
    /// Principal profiles the behavioural analyzers evicted (bounded state).
    pub behavior_evicted: u64,
    /// Calls a previous run's saved baselines had already counted (per analyzer).
    pub behavior_already_counted: u64,
    /// Saved baseline profiles that could not be restored.
    pub baselines_not_restored: u64,
    pub alerts: u64,
    /// Alerts an exception left out (not in `alerts`).
    pub excluded: u64,
    /// Events an exception kept out of a correlation or an aggregation, once per rule that
    /// would have counted them.
    pub excluded_events: u64,
    /// Per exception, in configuration order.
    pub exceptions: Vec<ExceptionStats>,
}

/// What one exception left out in a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExceptionStats {
    pub name: String,
    pub alerts: u64,
    pub events: u64,
    /// When it expired, if it had when the run started (it then applied to nothing).
    pub expired: Option<i64>,
}

impl RunStats {
    fn count_excluded(&mut self, tally: &Tally) {
        for (i, n) in tally.alerts.iter().enumerate() {
            self.excluded += n;
            if let Some(e) = self.exceptions.get_mut(i) {
                e.alerts += n;
            }
        }
        for (i, n) in tally.events.iter().enumerate() {
            self.excluded_events += n;
            if let Some(e) = self.exceptions.get_mut(i) {
                e.events += n;
            }
        }
    }
}

/// The state of one run: rows each rule's streaming prefix kept, by event time.
pub struct Hunt<'e> {
    engine: &'e Engine,
    rows: Vec<Vec<(i64, Row)>>,
    sigma_hits: Vec<Vec<(Option<i64>, Arc<Event>)>>,
    findings: Vec<(modelward_detectors::Finding, Arc<Event>)>,
    calls: Vec<modelward_behavior::Call>,
    /// The behavioural baselines a previous run saved (`resume`), and after `finish` what
    /// to save for the next.
    baselines: Option<modelward_behavior::SavedState>,
    stats: RunStats,
    warned: Vec<u64>,
}

/// Records one parallel task processes.
const RECORDS_PER_TASK: usize = 256;

/// Query warnings reported per rule before they are only counted.
const WARNINGS_SHOWN: u64 = 5;

impl<'e> Hunt<'e> {
    pub fn new(engine: &'e Engine) -> Hunt<'e> {
        Hunt {
            engine,
            rows: engine.rules.iter().map(|_| Vec::new()).collect(),
            sigma_hits: engine.sigma.rules.iter().map(|_| Vec::new()).collect(),
            findings: Vec::new(),
            calls: Vec::new(),
            baselines: None,
            stats: RunStats {
                exceptions: engine
                    .exceptions()
                    .iter()
                    .enumerate()
                    .map(|(i, e)| ExceptionStats {
                        name: e.name.clone(),
                        expired: e.expires.filter(|_| engine.exceptions().has_expired(i)),
                        ..ExceptionStats::default()
                    })
                    .collect(),
                ..RunStats::default()
            },
            warned: vec![0; engine.rules.len()],
        }
    }

    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Processes a batch (records in parallel); problems go to `report` as they are found.
    pub fn ingest(&mut self, batch: &Batch, report: &mut dyn FnMut(Diagnostic)) {
        let engine = self.engine;
        // Records in chunks: each chunk accumulates one result, in record order.
        let results: Vec<RecordResult> = batch
            .records
            .par_chunks(RECORDS_PER_TASK)
            .map(|chunk| {
                let mut acc = RecordResult::default();
                for span in chunk {
                    engine.process_record(&batch.file, span, batch.bytes(span), &mut acc);
                }
                acc
            })
            .collect();
        self.stats.records += batch.records.len() as u64;
        self.stats.bytes += batch.data.len() as u64;
        for result in results {
            self.stats.events += result.events;
            self.stats.prefiltered += result.skipped;
            self.stats.no_timestamp += result.no_timestamp;
            self.stats.dropped += result.dropped;
            self.stats.count_excluded(&result.excluded);
            for e in result.errors {
                self.stats.malformed += 1;
                report(Diagnostic::Malformed(e));
            }
            for e in result.normalize_errors {
                self.stats.normalize_errors += 1;
                report(Diagnostic::Normalize(e));
            }
            for (rule, message) in result.warnings {
                self.warning(rule, message, report);
            }
            for row in result.rows {
                self.rows[row.rule].push((row.ts, row.row));
            }
            for (rule, ts, event) in result.sigma_hits {
                self.sigma_hits[rule].push((ts, event));
            }
            self.findings.extend(result.findings);
            self.calls.extend(result.calls);
        }
    }

    fn warning(&mut self, rule: usize, message: String, report: &mut dyn FnMut(Diagnostic)) {
        self.stats.query_warnings += 1;
        self.warned[rule] += 1;
        if self.warned[rule] <= WARNINGS_SHOWN {
            let name = self.engine.rules[rule].meta.name.clone();
            report(Diagnostic::QueryWarning {
                rule: name,
                message,
            });
        }
    }

    /// Runs every rule's executions over the event time the data covers and sends the
    /// alerts, in time order, to the sink.
    pub fn finish(self, sink: &mut dyn AlertSink) -> Result<RunStats, SinkError> {
        self.finish_with(sink, &mut |_| {})
    }

    pub fn finish_with(
        self,
        sink: &mut dyn AlertSink,
        report: &mut dyn FnMut(Diagnostic),
    ) -> Result<RunStats, SinkError> {
        self.finish_saving(sink, report, None)
    }

    /// Starts the behavioural analyzers from baselines a previous run saved.
    pub fn resume(&mut self, baselines: modelward_behavior::SavedState) {
        self.baselines = Some(baselines);
    }

    /// [`Hunt::finish_with`], writing the behavioural baselines to keep for the next run
    /// into `saved`.
    pub fn finish_saving(
        mut self,
        sink: &mut dyn AlertSink,
        report: &mut dyn FnMut(Diagnostic),
        saved: Option<&mut modelward_behavior::SavedState>,
    ) -> Result<RunStats, SinkError> {
        let engine = self.engine;
        let buffers = std::mem::take(&mut self.rows);
        let outcomes: Vec<_> = buffers
            .into_par_iter()
            .enumerate()
            .map(|(r, rows)| run_rule(engine, r, rows))
            .collect();
        let mut alerts = Vec::new();
        let mut excluded = Tally::default();
        for (r, outcome) in outcomes.into_iter().enumerate() {
            self.stats.executions += outcome.executions;
            self.stats.truncated += outcome.truncated;
            self.stats.suppressed += outcome.suppressed;
            excluded.add(&outcome.excluded);
            for w in outcome.warnings {
                self.warning(r, w, report);
            }
            alerts.extend(outcome.alerts);
        }
        let sigma = crate::sigma::sigma_alerts(engine, std::mem::take(&mut self.sigma_hits));
        self.stats.correlation_evicted += sigma.evicted;
        self.stats.no_timestamp += sigma.no_timestamp;
        excluded.add(&sigma.excluded);
        alerts.extend(sigma.alerts);
        alerts.extend(crate::findings::finding_alerts(
            engine,
            std::mem::take(&mut self.findings),
            &mut excluded,
        ));
        let (behavior, baselines) = engine
            .behavior
            .analyze_resumed(std::mem::take(&mut self.calls), self.baselines.take());
        self.stats.behavior_calls += behavior.calls;
        self.stats.behavior_evicted += behavior.evicted;
        self.stats.behavior_already_counted += behavior.already_counted;
        self.stats.baselines_not_restored += behavior.not_restored;
        if let Some(out) = saved {
            *out = baselines;
        }
        alerts.extend(crate::behavior::behavior_alerts(engine, behavior.findings));
        // Alerts on single events were judged on their event already; this judges the rest
        // on the alert (and finds nothing more in those).
        if !engine.exceptions().is_empty() {
            alerts.retain(|alert| {
                let rule = engine.exceptions().for_rule(&alert.rule);
                match rule.excluding_alert(alert) {
                    Some(x) => {
                        excluded.alert(x);
                        false
                    }
                    None => true,
                }
            });
        }
        self.stats.count_excluded(&excluded);
        for alert in &mut alerts {
            redact(engine.detectors.redactor(), &mut alert.fields);
        }
        // Stable: within one time, rules in load order and each execution's rows in order.
        alerts.sort_by_key(|a| a.timestamp);
        for alert in &alerts {
            sink.alert(alert)?;
        }
        self.stats.alerts = alerts.len() as u64;
        sink.finish()?;
        Ok(self.stats)
    }
}

/// Masks the credentials in every string of an alert's fields (rule-selected event fields
/// may hold prompts and completions).
fn redact(
    redactor: &modelward_detectors::CredentialTheft,
    fields: &mut serde_json::Map<String, serde_json::Value>,
) {
    fn walk(redactor: &modelward_detectors::CredentialTheft, v: &mut serde_json::Value) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(masked) = redactor.redact(s) {
                    *s = masked;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| walk(redactor, i)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| walk(redactor, i)),
            _ => {}
        }
    }
    fields.values_mut().for_each(|v| walk(redactor, v));
}
