//! A session: the engine's state over a stream of records, whatever drives it. Records are
//! pushed (in parallel within a batch); the watermark is advanced (event time: every event
//! at or before it is in); the alerts that are ready are taken. `hunt` pushes every record
//! and finishes; `watch` and the gateway push as records come and advance as time passes.
//!
//! What becomes ready when:
//! - alerts on single events (Sigma rules, detectors) as soon as their record is pushed;
//! - ES|QL executions once the watermark reaches the end of their window (Kibana's
//!   schedule over event time: a live driver advances to the wall clock);
//! - Sigma correlations and behavioural analyzers as the watermark passes their matches and
//!   calls, which they see in event-time order;
//! - at the end of the input, what is still pending (open windows, held suppressions).
//!
//! Alerts are reported in one order however they became ready (time, then the kind of
//! rule, the rule, and the order they were made in), so a hunt over a file and a stream of
//! the same records give the same alerts. Something pushed behind the watermark is late:
//! correlations and analyzers still see it (out of order), ES|QL windows that already ran
//! do not, and a row no window still to run can hold is dropped and counted in
//! [`RunStats::late`].

use std::sync::Arc;

use rayon::prelude::*;

use modelward_behavior::{Call, SavedState};
use modelward_event::input::{Batch, ParseError};
use modelward_rule::Alert;

use crate::alerting::{Kind, Order, Placed};
use crate::exceptions::Tally;
use crate::record::RecordResult;
use crate::schedule::{EsqlRun, RuleOutcome};
use crate::scope::Scope;
use crate::sigma::{SigmaOutcome, SigmaRun};
use crate::sink::{AlertSink, SinkError};
use crate::snapshot::{AlertState, Snapshot, SnapshotError, SNAPSHOT_VERSION};
use crate::Engine;

/// Something to tell the user about while records are processed.
#[derive(Debug, Clone, PartialEq)]
pub enum Diagnostic {
    /// A record that is not a valid event; counted and skipped.
    Malformed(ParseError),
    /// An event a normalizer rejected; counted and skipped.
    Normalize(String),
    /// A record kept with values strict JSON refuses rewritten (lone surrogates, invalid
    /// UTF-8, numbers out of range: `event::input::lossy`); counted.
    Lossy(String),
    /// An event whose time is not plausible (before 1970, or past the wall clock by more
    /// than `max_future_skew_ms`): read as of the latest event time; counted.
    ImplausibleTime(String),
    /// An ES|QL evaluation warning (null result) for a rule.
    QueryWarning { rule: String, message: String },
}

/// As `hunt` and `watch` say it (one line; the caller escapes it for the terminal).
impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Diagnostic::Malformed(e) => write!(f, "skipped malformed record: {e}"),
            Diagnostic::Normalize(e) => write!(f, "normalizer: {e}"),
            Diagnostic::Lossy(e) => write!(f, "kept lossily: {e}"),
            Diagnostic::ImplausibleTime(e) => write!(f, "{e}"),
            Diagnostic::QueryWarning { rule, message } => {
                write!(f, "warning in rule \"{rule}\": {message}")
            }
        }
    }
}

/// Counters of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunStats {
    pub records: u64,
    pub bytes: u64,
    pub events: u64,
    pub malformed: u64,
    pub normalize_errors: u64,
    /// Records kept with values rewritten lossily (`Diagnostic::Lossy`).
    #[serde(default)]
    pub lossy: u64,
    /// Events whose time was not believed (`Diagnostic::ImplausibleTime`).
    #[serde(default)]
    pub implausible_time: u64,
    /// Records the source's pipeline drops by design.
    pub dropped: u64,
    /// Records no rule could match, rejected before parsing.
    pub prefiltered: u64,
    /// Events without a usable timestamp for some rule: outside every window.
    pub no_timestamp: u64,
    /// Rows pushed after every ES|QL window that could hold them ran (dropped), and matches
    /// or calls pushed behind the watermark (still counted, out of order).
    pub late: u64,
    pub executions: u64,
    /// Executions that produced more than `max_signals` rows.
    pub truncated: u64,
    pub suppressed: u64,
    pub query_warnings: u64,
    /// Matches dropped from full correlation windows (bounded state).
    pub correlation_evicted: u64,
    /// Groups dropped from full correlation state (`max_correlation_groups`).
    #[serde(default)]
    pub correlation_groups_evicted: u64,
    /// LLM calls the behavioural analyzers read.
    pub behavior_calls: u64,
    /// Principal profiles the behavioural analyzers evicted (bounded state).
    pub behavior_evicted: u64,
    /// Calls a previous run's saved baselines had already counted (per analyzer).
    pub behavior_already_counted: u64,
    /// Saved baseline profiles that could not be restored.
    pub baselines_not_restored: u64,
    /// Pieces of a snapshot's state (a rule's rows, a correlation's windows, held alerts)
    /// whose rule is no longer loaded, or has changed, left out on restore.
    pub state_not_restored: u64,
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
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

/// What a [`Session`] holds, waiting for event time or to be taken.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// ES|QL rows a window still to run may hold.
    pub rows: usize,
    /// Sigma matches correlations have not seen yet.
    pub matches: usize,
    /// LLM calls the analyzers have not seen yet.
    pub calls: usize,
    /// Alerts ready and not taken.
    pub alerts: usize,
}

/// The engine's state over one stream of records: rows waiting for their windows, matches
/// and calls waiting for event time to reach them, the analyzers' profiles, and alerts
/// ready to take.
pub struct Session<'e> {
    engine: EngineRef<'e>,
    esql: Vec<EsqlRun>,
    sigma: SigmaRun,
    behavior: modelward_behavior::Run,
    /// LLM calls the watermark has not reached yet, by time (calls of one time in push
    /// order): an advance takes the due ones from the front, never moving the rest.
    calls: std::collections::VecDeque<Call>,
    /// Every event at or before it is in; `None` until the first advance.
    watermark: Option<i64>,
    /// The latest event time read: the time of an alert on an event without one.
    clock: Option<i64>,
    /// Alerts made (their order among alerts of one time and rule).
    seq: u64,
    ready: Vec<Placed>,
    stats: RunStats,
    warned: Vec<u64>,
    /// Which part of the work it does ([`Scope`]).
    scope: Scope,
    /// Per input file, events a source normalizer recognised and events used as plain JSON.
    recognition: std::collections::BTreeMap<Arc<str>, Recognition>,
}

/// How many of a file's events a source normalizer recognised ([`Session::recognition`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recognition {
    /// Normalized by a source, or already in a data stream's form (`data_stream.dataset`
    /// or `event.dataset`).
    pub recognised: u64,
    /// Used as plain JSON: the built-in rules, detectors and analyzers read the fields the
    /// normalizers write, so they may find nothing in such events.
    pub unrecognised: u64,
}

impl Recognition {
    /// Whether most of the file's events are no source's (at least one is).
    pub fn mostly_unrecognised(&self) -> bool {
        self.unrecognised > 0 && self.unrecognised >= self.recognised
    }
}

/// Records one parallel task processes.
const RECORDS_PER_TASK: usize = 256;

/// Query warnings reported per rule before they are only counted.
const WARNINGS_SHOWN: u64 = 5;

/// How many due calls the analyzers are fed at a time: an advance over a long stretch of
/// held calls (a hunt's first close past its hold, or its end) copies and sorts a few
/// hundred kilobytes at a time, not all of them at once.
const FEED_CALLS: usize = 1024;

/// The engine a session runs: borrowed (a hunt) or shared (a service's long-lived session).
#[derive(Clone)]
pub enum EngineRef<'e> {
    Borrowed(&'e Engine),
    Shared(Arc<Engine>),
}

impl std::ops::Deref for EngineRef<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        match self {
            EngineRef::Borrowed(e) => e,
            EngineRef::Shared(e) => e,
        }
    }
}

impl<'e> From<&'e Engine> for EngineRef<'e> {
    fn from(e: &'e Engine) -> EngineRef<'e> {
        EngineRef::Borrowed(e)
    }
}

impl From<Arc<Engine>> for EngineRef<'_> {
    fn from(e: Arc<Engine>) -> Self {
        EngineRef::Shared(e)
    }
}

impl<'e> Session<'e> {
    pub fn new(engine: impl Into<EngineRef<'e>>) -> Session<'e> {
        let engine = engine.into();
        let stats = RunStats {
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
        };
        Session {
            esql: (0..engine.rules.len()).map(EsqlRun::new).collect(),
            sigma: SigmaRun::new(&engine),
            behavior: engine.behavior.start(None),
            calls: std::collections::VecDeque::new(),
            watermark: None,
            clock: None,
            seq: 0,
            ready: Vec::new(),
            warned: vec![0; engine.rules.len()],
            stats,
            engine,
            scope: Scope::All,
            recognition: std::collections::BTreeMap::new(),
        }
    }

    /// Per input file read so far, how many of its parsed events a source normalizer
    /// recognised (records the prefilter skipped unparsed are in neither count).
    pub fn recognition(&self) -> impl Iterator<Item = (&str, Recognition)> + '_ {
        self.recognition.iter().map(|(f, r)| (&**f, *r))
    }

    /// Does only part of the work from now on ([`Scope`]): per-event alerts, or one
    /// partition's windows. Set it before the first push.
    pub fn set_scope(&mut self, scope: Scope) {
        self.scope = scope;
        self.apply_scope();
    }

    /// What the session does ([`Scope`]).
    pub fn scope(&self) -> Scope {
        self.scope
    }

    fn apply_scope(&mut self) {
        if let Scope::Partition { index, count } = self.scope {
            self.behavior.set_partition(index, count);
        }
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn stats(&self) -> &RunStats {
        &self.stats
    }

    /// Every event at or before this time is in (`None` before the first advance).
    pub fn watermark(&self) -> Option<i64> {
        self.watermark
    }

    /// The latest event time read so far (`None` before any event with a time).
    pub fn clock(&self) -> Option<i64> {
        self.clock
    }

    /// Starts the behavioural analyzers from baselines a previous run saved. Call it before
    /// the first [`Session::advance`]: calls already analysed are not analysed again.
    pub fn resume(&mut self, baselines: SavedState) {
        self.behavior = self.engine.behavior.start(Some(baselines));
        self.apply_scope();
    }

    /// What the behavioural analyzers would start a later run from: their profiles now,
    /// before the end-of-input reports (so open windows carry over). Take it after
    /// advancing to the end (`advance(i64::MAX, ..)`) and before [`Session::finish`].
    pub fn baselines(&self) -> SavedState {
        self.behavior.save()
    }

    /// Pushes a batch of raw records (processed in parallel); problems go to `report` as
    /// they are found. Alerts on single events are ready at once. Returns the batch's latest
    /// event time (`None` when no record of it had one): a live driver keeps it per source
    /// to advance by the source that is furthest behind.
    pub fn push(&mut self, batch: &Batch, report: &mut dyn FnMut(Diagnostic)) -> Option<i64> {
        self.push_within(batch, None, report).0
    }

    /// As [`Session::push`], and for each record (in batch order) the partitions of `count`
    /// its windows' keys fall in, sorted (none: it feeds no window): where `watch`'s stage
    /// one publishes it ([`Scope`]).
    pub fn push_routed(
        &mut self,
        batch: &Batch,
        count: u32,
        report: &mut dyn FnMut(Diagnostic),
    ) -> (Option<i64>, Vec<Vec<u32>>) {
        self.push_within(batch, Some(count), report)
    }

    fn push_within(
        &mut self,
        batch: &Batch,
        count: Option<u32>,
        report: &mut dyn FnMut(Diagnostic),
    ) -> (Option<i64>, Vec<Vec<u32>>) {
        let engine = &*self.engine;
        let behavior = self.behavior.keyer();
        // Records in chunks: each chunk accumulates one result, in record order.
        let mut results: Vec<RecordResult> = batch
            .records
            .par_chunks(RECORDS_PER_TASK)
            .map(|chunk| {
                let mut acc = RecordResult::default();
                for span in chunk {
                    let marks = crate::routing::Marks::of(&acc);
                    engine.process_record(&batch.file, span, batch.bytes(span), &mut acc);
                    if let Some(count) = count {
                        let routes =
                            crate::routing::partitions(engine, behavior, &acc, marks, count);
                        acc.routes.push(routes);
                    }
                }
                acc
            })
            .collect();
        let routes: Vec<Vec<u32>> = results
            .iter_mut()
            .flat_map(|r| std::mem::take(&mut r.routes))
            .collect();
        self.stats.records += batch.records.len() as u64;
        self.stats.bytes += batch.data.len() as u64;
        let (recognised, unrecognised) = results
            .iter()
            .fold((0, 0), |(r, u), x| (r + x.recognised, u + x.unrecognised));
        if recognised + unrecognised > 0 {
            let entry = self.recognition.entry(batch.file.clone()).or_default();
            entry.recognised += recognised;
            entry.unrecognised += unrecognised;
        }
        let latest = results.iter().filter_map(|r| r.latest).max();
        for result in results {
            self.merge(result, report);
        }
        (latest, routes)
    }

    fn merge(&mut self, result: RecordResult, report: &mut dyn FnMut(Diagnostic)) {
        let engine = self.engine.clone();
        self.stats.events += result.events;
        self.stats.prefiltered += result.skipped;
        self.stats.no_timestamp += result.no_timestamp;
        self.stats.dropped += result.dropped;
        self.stats.count_excluded(&result.excluded);
        if let Some(t) = result.latest {
            self.clock = Some(self.clock.map_or(t, |c| c.max(t)));
        }
        let clock = self.clock.unwrap_or(0);
        let behind = |ts: i64, watermark: Option<i64>| watermark.is_some_and(|w| ts <= w);
        for e in result.errors {
            self.stats.malformed += 1;
            report(Diagnostic::Malformed(e));
        }
        for e in result.normalize_errors {
            self.stats.normalize_errors += 1;
            report(Diagnostic::Normalize(e));
        }
        for note in result.lossy {
            self.stats.lossy += 1;
            report(Diagnostic::Lossy(note));
        }
        for note in result.implausible {
            self.stats.implausible_time += 1;
            report(Diagnostic::ImplausibleTime(note));
        }
        for (rule, message) in result.warnings {
            self.warning(rule, message, report);
        }
        for mut row in result.rows {
            if row.undated {
                // Dated at the latest plausible event time read, or outside every window.
                match self.clock {
                    Some(c) => row.ts = c,
                    None => {
                        self.stats.no_timestamp += 1;
                        continue;
                    }
                }
            }
            if !crate::routing::row_in_scope(&engine, self.scope, &row) {
                continue;
            }
            if !self.esql[row.rule].push(&engine.rules[row.rule], row.ts, row.row) {
                self.stats.late += 1;
            }
        }
        let mut sigma = SigmaOutcome::default();
        for (rule, ts, event) in result.sigma_hits {
            let seq = self.next_seq();
            self.sigma.hit(
                &engine,
                (rule, ts, event),
                (clock, self.watermark),
                (seq, self.scope),
                &mut sigma,
            );
        }
        self.take_sigma(sigma);
        let mut excluded = Tally::default();
        let findings = if self.scope.per_event() {
            result.findings
        } else {
            Vec::new()
        };
        for (finding, ts, event) in findings {
            let Some(alert) = crate::findings::finding_alert(
                &engine,
                finding,
                (ts, &event),
                clock,
                &mut excluded,
            ) else {
                continue;
            };
            let order = Order {
                ts: alert.timestamp,
                kind: Kind::Detector,
                rule: 0,
                seq: self.next_seq(),
            };
            self.release((order, alert));
        }
        self.stats.count_excluded(&excluded);
        // Calls of events whose time is not believed: at the latest event time read.
        let undated = result.undated_calls.into_iter().filter_map(|mut call| {
            call.ts = self.clock?;
            Some(call)
        });
        let mut calls: Vec<Call> = result.calls.into_iter().chain(undated).collect();
        if !self.scope.windows() {
            calls.clear();
        }
        for call in calls {
            if behind(call.ts, self.watermark) {
                self.stats.late += 1;
            }
            // After every call of its time or earlier: arrival order is nearly time order,
            // so this is nearly always the end.
            let at = self.calls.partition_point(|c| c.ts <= call.ts);
            self.calls.insert(at, call);
        }
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
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

    /// Declares every event at or before `to` (event time) in: runs the ES|QL executions
    /// whose windows end by then, and feeds correlations and analyzers what it reaches.
    /// The watermark never goes back (an earlier `to` does nothing).
    pub fn advance(&mut self, to: i64, report: &mut dyn FnMut(Diagnostic)) {
        let to = self.advance_rules(to, report);
        let findings = self.advance_behavior(to);
        self.take_findings(findings);
    }

    /// Advances the ES|QL and Sigma rules; returns the watermark.
    fn advance_rules(&mut self, to: i64, report: &mut dyn FnMut(Diagnostic)) -> i64 {
        let to = self.watermark.map_or(to, |w| w.max(to));
        self.watermark = Some(to);
        let engine = &*self.engine;
        let outcomes: Vec<RuleOutcome> = self
            .esql
            .par_iter_mut()
            .map(|run| run.advance(engine, to))
            .collect();
        for (r, outcome) in outcomes.into_iter().enumerate() {
            self.take_esql(r, outcome, report);
        }
        let mut seq = self.seq;
        let sigma = self.sigma.advance(&self.engine, to, &mut seq, self.scope);
        self.seq = seq;
        self.take_sigma(sigma);
        self.stats.correlation_evicted = self.sigma.evicted();
        self.stats.correlation_groups_evicted = self.sigma.groups_evicted();
        to
    }

    /// Feeds the analyzers the calls up to `to`, [`FEED_CALLS`] at a time; returns their
    /// findings in event-time order (as one feed of them all would: each feed's findings come
    /// sorted, stably, by time and code, and so does their concatenation).
    fn advance_behavior(&mut self, to: i64) -> Vec<modelward_behavior::Finding> {
        let mut due = self.calls.partition_point(|c| c.ts <= to);
        let mut findings = Vec::new();
        let mut feeds = 0;
        while due > 0 {
            let n = due.min(FEED_CALLS);
            let now: Vec<Call> = self.calls.drain(..n).collect();
            findings.extend(self.behavior.observe(now));
            due -= n;
            feeds += 1;
        }
        // A long stretch let go (a hunt past its hold) leaves no buffer its size behind.
        if self.calls.capacity() > FEED_CALLS * 4 && self.calls.capacity() > self.calls.len() * 4 {
            self.calls.shrink_to(self.calls.len() * 2);
        }
        if feeds > 1 {
            findings.sort_by(|a, b| (a.timestamp, a.code).cmp(&(b.timestamp, b.code)));
        }
        findings
    }

    fn take_esql(&mut self, r: usize, outcome: RuleOutcome, report: &mut dyn FnMut(Diagnostic)) {
        self.stats.executions += outcome.executions;
        self.stats.truncated += outcome.truncated;
        self.stats.suppressed += outcome.suppressed;
        self.stats.count_excluded(&outcome.excluded);
        for w in outcome.warnings {
            self.warning(r, w, report);
        }
        for placed in outcome.alerts {
            self.release(placed);
        }
    }

    fn take_sigma(&mut self, outcome: SigmaOutcome) {
        self.stats.no_timestamp += outcome.no_timestamp;
        self.stats.late += outcome.late;
        self.stats.count_excluded(&outcome.excluded);
        for placed in outcome.alerts {
            self.release(placed);
        }
    }

    fn take_findings(&mut self, findings: Vec<modelward_behavior::Finding>) {
        for f in findings {
            let Some(alert) = crate::behavior::behavior_alert(&self.engine, f) else {
                continue;
            };
            let order = Order {
                ts: alert.timestamp,
                kind: Kind::Analyzer,
                rule: 0,
                seq: self.next_seq(),
            };
            self.release((order, alert));
        }
    }

    /// An alert is ready: unless an exception leaves it out, its secrets are masked and it
    /// waits to be taken. (Alerts on single events were judged on their event already;
    /// this judges the rest on the alert, and finds nothing more in those.)
    fn release(&mut self, (order, mut alert): Placed) {
        let exceptions = self.engine.exceptions();
        if !exceptions.is_empty() {
            if let Some(x) = exceptions.for_rule(&alert.rule).excluding_alert(&alert) {
                let mut tally = Tally::default();
                tally.alert(x);
                self.stats.count_excluded(&tally);
                return;
            }
        }
        let redactor = self.engine.detectors.redactor();
        for map in [&mut alert.fields, &mut alert.entity, &mut alert.evidence] {
            redact(redactor, map);
        }
        if let Some(s) = &mut alert.suppression {
            for (_, v) in &mut s.terms {
                redact_value(redactor, v);
            }
        }
        self.stats.alerts += 1;
        self.ready.push((order, alert));
    }

    /// How many alerts are ready and not yet taken.
    pub fn ready_len(&self) -> usize {
        self.ready.len()
    }

    /// The alerts ready now, in report order.
    pub fn take_ready(&mut self) -> Vec<Alert> {
        let mut ready = std::mem::take(&mut self.ready);
        ready.sort_by_key(|(order, _)| *order);
        ready.into_iter().map(|(_, alert)| alert).collect()
    }

    /// The session's whole state as data, to checkpoint (see [`crate::Snapshot`]). Taken
    /// between pushes; alerts ready and not taken are in it.
    pub fn snapshot(&self) -> Snapshot {
        let engine = &*self.engine;
        Snapshot {
            version: SNAPSHOT_VERSION,
            watermark: self.watermark,
            clock: self.clock,
            seq: self.seq,
            esql: self.esql.iter().map(|run| run.snapshot(engine)).collect(),
            sigma: self.sigma.snapshot(engine),
            calls: self.calls.iter().cloned().collect(),
            behavior: self.behavior.save(),
            ready: self
                .ready
                .iter()
                .map(|(order, a)| (*order, AlertState::of(a)))
                .collect(),
            stats: self.stats.clone(),
        }
    }

    /// A session that goes on from a snapshot: the same alerts as the session it was taken
    /// of would have raised from the same records on. State of rules not loaded now (or
    /// changed: an ES|QL rule whose query differs) is left out and counted in
    /// [`RunStats::state_not_restored`].
    pub fn restore(
        engine: impl Into<EngineRef<'e>>,
        snapshot: Snapshot,
    ) -> Result<Session<'e>, SnapshotError> {
        if snapshot.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::Version {
                found: snapshot.version,
                expected: SNAPSHOT_VERSION,
            });
        }
        let mut session = Session::new(engine);
        let engine = session.engine.clone();
        let mut dropped = 0u64;
        for state in snapshot.esql {
            let at = engine
                .rules
                .iter()
                .position(|r| r.meta.id == state.rule && r.plan.text() == state.query);
            match at {
                Some(r) => session.esql[r] = EsqlRun::restore(r, state, &engine),
                None => dropped += 1,
            }
        }
        dropped += session.sigma.restore(&engine, snapshot.sigma);
        session.behavior = engine.behavior.start(Some(snapshot.behavior));
        session.apply_scope();
        let mut calls = snapshot.calls;
        calls.sort_by_key(|c| c.ts);
        session.calls = calls.into();
        for (order, alert) in snapshot.ready {
            match alert.into_alert(&engine) {
                Some(a) => session.ready.push((order, a)),
                None => dropped += 1,
            }
        }
        // The exceptions as configured now, with the counts of those of the same name.
        let mut exceptions = std::mem::take(&mut session.stats.exceptions);
        for e in &mut exceptions {
            if let Some(old) = snapshot.stats.exceptions.iter().find(|o| o.name == e.name) {
                e.alerts = old.alerts;
                e.events = old.events;
            }
        }
        session.stats = RunStats {
            exceptions,
            state_not_restored: snapshot.stats.state_not_restored + dropped,
            ..snapshot.stats
        };
        session.watermark = snapshot.watermark;
        session.clock = snapshot.clock;
        session.seq = snapshot.seq;
        Ok(session)
    }

    /// What the session holds now (its memory is about proportional to it).
    pub fn held(&self) -> Held {
        Held {
            rows: self.esql.iter().map(EsqlRun::rows).sum(),
            matches: self.sigma.pending(),
            calls: self.calls.len(),
            alerts: self.ready.len(),
        }
    }

    /// The end of the input: everything still pending runs (every execution, correlation
    /// and analyzer window to the end), and every alert not taken yet goes to the sink in
    /// report order. Returns the run's counters.
    pub fn finish(
        mut self,
        sink: &mut dyn AlertSink,
        report: &mut dyn FnMut(Diagnostic),
    ) -> Result<RunStats, SinkError> {
        self.advance_rules(i64::MAX, report);
        for r in 0..self.esql.len() {
            let mut outcome = RuleOutcome::default();
            self.esql[r].finish(&mut outcome);
            self.take_esql(r, outcome, report);
        }
        // The analyzers' last findings and those the end of input closes, in one time order.
        let mut findings = self.advance_behavior(i64::MAX);
        let behavior = std::mem::replace(&mut self.behavior, self.engine.behavior.start(None));
        let outcome = behavior.finish();
        findings.extend(outcome.findings);
        findings.sort_by(|a, b| (a.timestamp, a.code).cmp(&(b.timestamp, b.code)));
        self.take_findings(findings);
        self.stats.behavior_calls += outcome.calls;
        self.stats.behavior_evicted += outcome.evicted;
        self.stats.behavior_already_counted += outcome.already_counted;
        self.stats.baselines_not_restored += outcome.not_restored;
        for alert in self.take_ready() {
            sink.alert(&alert)?;
        }
        sink.finish()?;
        Ok(self.stats)
    }
}

/// Masks the secrets in every string of a part of an alert (rule-selected event fields may
/// hold prompts and completions, the entity a user agent, the evidence excerpts), keys
/// included: first the credential detector's rules (user gitleaks rules among them), then
/// modelward's one masking path, `modelward_event::secret`.
fn redact(
    redactor: &modelward_detectors::CredentialTheft,
    fields: &mut serde_json::Map<String, serde_json::Value>,
) {
    let mut v = serde_json::Value::Object(std::mem::take(fields));
    redact_value(redactor, &mut v);
    if let serde_json::Value::Object(map) = v {
        *fields = map;
    }
}

fn redact_value(redactor: &modelward_detectors::CredentialTheft, v: &mut serde_json::Value) {
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
    walk(redactor, v);
    modelward_event::secret::mask_json(v);
}
