//! Live detection, shared by `modelward gateway` (in-path detection over the calls it logs)
//! and `modelward watch` (over files, HTTP ingest and stdin): the engine `hunt` builds, fed
//! batches as they come ([`Live`]), and the playbook over its alerts ([`Incidents`]).
//!
//! Time: per-event rules alert when their record is pushed; windows (Sigma correlations,
//! ES|QL executions, the analyzers) close as event time passes. Each source (a file, a
//! Kafka partition, stdin) has its own clock, the latest event it delivered; event time is
//! the clock of the source furthest behind, among those that delivered within the idle
//! time, less the allowed lateness. A source that is idle longer holds nothing back, and when
//! every source is idle event time is the wall clock less the lateness, so that a quiet
//! source still closes its windows; before any event time was read it does not move at all
//! (a replay's first records would otherwise find every window closed by the wall clock).
//! One partition read ahead of the others therefore does not make theirs late, as one clock
//! for all would.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use modelward_engine::{Dedup, Engine, EngineOptions, EngineRef, Scope, Session};
use modelward_event::input::{Batch, InputPath, ReaderOptions, RecordSpan};
use modelward_event::source::SourceKind;
use modelward_gateway::say::{say, Level};
use modelward_respond::Logs;
use modelward_rule::Alert;

use crate::args::RuleSource;
use crate::config::Options;
use crate::respond::{describe, now_ms, Setup};

/// How long an incident whose measures were written waits for a gateway to have them in
/// force before it is analysed again anyway (ms).
const SETTLE_MS: i64 = 10_000;

/// The engine `hunt` builds from the configuration's rules, detectors, analyzers and
/// exceptions, for records of `source`.
pub fn engine(options: &mut Options, config: &Path, source: SourceKind) -> Result<Engine> {
    let rules = options.rules.take().unwrap_or_default();
    let limits = rules.limits();
    let source_rules = RuleSource {
        rules: rules.paths.unwrap_or_default(),
        no_builtin: rules.builtin == Some(false),
        pipelines: rules.pipelines.unwrap_or_default(),
    };
    let detector_settings = options.detectors.take().unwrap_or_default().settings()?;
    let behavior_settings = options
        .behavior
        .take()
        .unwrap_or_default()
        .settings(&detector_settings.disabled);
    let exceptions = crate::config::resolve_exceptions(options.exceptions.take(), Some(config))?;
    let (engine, _) = crate::hunt::build_engine_within(
        &source_rules,
        limits,
        detector_settings,
        behavior_settings,
        exceptions,
        EngineOptions {
            dedup: Dedup::PerLookback,
            source,
            timestamp_fields: options
                .input
                .as_ref()
                .and_then(|i| i.timestamp_fields.clone())
                .unwrap_or_default(),
            max_future_skew_ms: options.input.as_ref().and_then(|i| i.max_future_skew_ms()),
            validate: false,
            ..EngineOptions::default()
        },
        false,
    )?;
    Ok(engine)
}

/// The engine over batches as they come.
pub struct Live<'e> {
    session: Session<'e>,
    lateness: i64,
    clocks: Clocks,
    component: &'static str,
}

/// Each source's clock: the latest event time it delivered and when it last delivered
/// (wall clock, ms).
#[derive(Debug, Default)]
struct Clocks {
    /// How long a source may deliver nothing and still hold event time back (ms).
    idle: i64,
    sources: std::collections::HashMap<std::sync::Arc<str>, Clock>,
    /// Whether any source has delivered an event time.
    timed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Clock {
    /// The latest event time delivered (`None`: none yet, or only records without one).
    latest: Option<i64>,
    /// When it last delivered, or when it was first expected.
    delivered: i64,
    /// Named by the driver as a source it reads (an assigned partition): kept while idle.
    expected: bool,
    /// Expected and has delivered nothing yet: holds event time back while not idle.
    waiting: bool,
}

/// A source idle this long (ms), and not expected, is forgotten (a rotated-away segment).
const FORGET_MS: i64 = 3_600_000;

impl Clocks {
    fn delivered(&mut self, source: &std::sync::Arc<str>, latest: Option<i64>, now: i64) {
        let clock = self.sources.entry(source.clone()).or_insert(Clock {
            latest: None,
            delivered: now,
            expected: false,
            waiting: false,
        });
        clock.delivered = now;
        clock.waiting = false;
        self.timed |= latest.is_some();
        clock.latest = match (clock.latest, latest) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }

    /// `sources` are the ones the driver reads now (a consumer's assigned partitions): one
    /// not seen yet holds event time back until it delivers or has been idle `idle`.
    fn expect(&mut self, sources: &[std::sync::Arc<str>], now: i64) {
        for c in self.sources.values_mut() {
            c.expected = false;
        }
        for s in sources {
            self.sources
                .entry(s.clone())
                .or_insert(Clock {
                    latest: None,
                    delivered: now,
                    expected: true,
                    waiting: true,
                })
                .expected = true;
        }
    }

    /// Event time before the lateness: the clock furthest behind among the sources that
    /// delivered within the idle time, or `now` when none of them has one (every source
    /// idle, or only records without a time); `None` before any source delivered an event
    /// time (a replay's first records must not find every window already closed by the wall
    /// clock) and while an expected source has not delivered yet and is not idle (nothing can
    /// be declared in).
    fn event_time(&mut self, now: i64) -> Option<i64> {
        let idle = self.idle;
        self.sources
            .retain(|_, c| c.expected || now - c.delivered < FORGET_MS.max(idle));
        if !self.timed {
            return None;
        }
        let mut behind: Option<i64> = None;
        for c in self.sources.values() {
            if now - c.delivered >= idle {
                continue;
            }
            if c.waiting {
                return None;
            }
            if let Some(latest) = c.latest {
                behind = Some(behind.map_or(latest, |b| b.min(latest)));
            }
        }
        Some(behind.unwrap_or(now))
    }
}

impl<'e> Live<'e> {
    /// A session restored from `saved` (a snapshot's JSON) when there is one that can be
    /// read, else a new one (and why, said). `idle_ms`: how long a source may deliver
    /// nothing and still hold event time back.
    pub fn new(
        engine: impl Into<EngineRef<'e>>,
        (lateness_ms, idle_ms): (i64, i64),
        saved: Option<&[u8]>,
        component: &'static str,
    ) -> Live<'e> {
        let engine: EngineRef<'e> = engine.into();
        let restored = saved.and_then(|bytes| {
            match serde_json::from_slice::<modelward_engine::Snapshot>(bytes)
                .map_err(|e| e.to_string())
                .and_then(|s| Session::restore(engine.clone(), s).map_err(|e| e.to_string()))
            {
                Ok(session) => Some(session),
                Err(e) => {
                    say(
                        Level::Warn,
                        component,
                        &format!("saved detection state not restored ({e}): starting afresh"),
                    );
                    None
                }
            }
        });
        Live {
            session: restored.unwrap_or_else(|| Session::new(engine)),
            lateness: lateness_ms,
            clocks: Clocks {
                idle: idle_ms,
                ..Clocks::default()
            },
            component,
        }
    }

    /// The sources the driver reads now (a consumer group's assigned partitions, as the
    /// batches name them): one that has delivered nothing yet holds event time back until it
    /// does or has been idle the idle time, so that a replay's partitions all count from the
    /// start.
    pub fn expect(&mut self, sources: &[std::sync::Arc<str>], now: i64) {
        self.clocks.expect(sources, now);
    }

    /// Goes on with `engine` (rules or exceptions reloaded): the state carries over by rule
    /// (a rule kept keeps its windows, a new one starts empty, a removed one's state is
    /// dropped and counted). On an error the running engine is kept.
    pub fn reload(&mut self, engine: impl Into<EngineRef<'e>>) -> Result<()> {
        let snapshot = self.session.snapshot();
        let mut session = Session::restore(engine, snapshot)?;
        session.set_scope(self.session.scope());
        self.session = session;
        Ok(())
    }

    fn report(component: &'static str) -> impl FnMut(modelward_engine::Diagnostic) {
        move |d| say(Level::Warn, component, &d.to_string())
    }

    /// Pushes `batches`, advances event time (the clock of the source furthest behind, or
    /// `now` when every source is idle, less the lateness: the module's documentation) and
    /// returns the alerts that are ready.
    pub fn step(&mut self, batches: &[Batch], now: i64) -> Vec<Alert> {
        self.step_within(batches, now, None).0
    }

    /// As [`Live::step`], and for each batch, for each of its records, the partitions of
    /// `count` the record's windows are keyed to (`watch`'s stage one publishes it there:
    /// [`Scope`]).
    pub fn step_routed(
        &mut self,
        batches: &[Batch],
        now: i64,
        count: u32,
    ) -> (Vec<Alert>, Vec<Vec<Vec<u32>>>) {
        self.step_within(batches, now, Some(count))
    }

    fn step_within(
        &mut self,
        batches: &[Batch],
        now: i64,
        count: Option<u32>,
    ) -> (Vec<Alert>, Vec<Vec<Vec<u32>>>) {
        let mut report = Self::report(self.component);
        let mut routes = Vec::new();
        for b in batches {
            let latest = match count {
                Some(count) => {
                    let (latest, r) = self.session.push_routed(b, count, &mut report);
                    routes.push(r);
                    latest
                }
                None => self.session.push(b, &mut report),
            };
            self.clocks.delivered(&b.file, latest, now);
        }
        if let Some(at) = self.clocks.event_time(now) {
            self.session
                .advance(at.saturating_sub(self.lateness), &mut report);
        }
        (self.session.take_ready(), routes)
    }

    /// Does only part of the engine's work ([`Scope`]): `watch`'s stage one (per-event
    /// alerts) or one partition's windows (stage two).
    pub fn set_scope(&mut self, scope: Scope) {
        self.session.set_scope(scope);
    }

    /// What part of the engine's work it does.
    pub fn scope(&self) -> Scope {
        self.session.scope()
    }

    /// The run's counters, and what the session holds.
    pub fn figures(&self) -> (&modelward_engine::RunStats, modelward_engine::Held) {
        (self.session.stats(), self.session.held())
    }

    /// The session's state, as JSON (kept for a restart).
    pub fn snapshot(&self) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec(&self.session.snapshot())?)
    }

    /// Every window closed, as at the end of a hunt: the alerts that gives.
    pub fn finish(self) -> Vec<Alert> {
        let mut report = Self::report(self.component);
        let mut rest = modelward_engine::VecSink::default();
        match self.session.finish(&mut rest, &mut report) {
            Ok(_) => rest.alerts,
            Err(e) => {
                say(
                    Level::Error,
                    self.component,
                    &format!("closing windows: {e}"),
                );
                Vec::new()
            }
        }
    }
}

/// Alerts of several sessions (stage one's and each partition's) in time order; a
/// session's own order is kept among alerts of one time.
pub fn report_order(alerts: &mut [Alert]) {
    alerts.sort_by_key(|a| a.timestamp);
}

/// Records in batches, one per run of records of one file (a rotating log's records may
/// come from two segments).
pub fn batches(records: Vec<modelward_gateway::log::Record>) -> Vec<Batch> {
    let mut out: Vec<Batch> = Vec::new();
    for r in records {
        let next = match out.last_mut() {
            Some(b) if b.file == r.file => b,
            _ => {
                out.push(Batch {
                    file: r.file.clone(),
                    data: Vec::new(),
                    records: Vec::new(),
                });
                out.last_mut().expect("pushed")
            }
        };
        let start = next.data.len();
        next.data.extend_from_slice(&r.bytes);
        next.records.push(RecordSpan {
            start,
            end: next.data.len(),
            line: r.line,
            offset: r.offset,
        });
        next.data.push(b'\n');
    }
    out
}

/// Alerts through the playbook into the incidents database, live.
pub struct Incidents {
    setup: Setup,
    db: PathBuf,
    actor: &'static str,
    component: &'static str,
    source: SourceKind,
    /// Incidents whose measures were written, to analyse again once a gateway has them in
    /// force (that is when their containment steps are done), with when to give up waiting.
    settling: RefCell<Vec<(String, i64)>>,
}

impl Incidents {
    /// From `[respond]` (its webhooks' secrets are read now, so a missing one is said at
    /// start, not at the first alert).
    pub fn new(
        options: &mut Options,
        db: &Path,
        actor: &'static str,
        component: &'static str,
        source: SourceKind,
    ) -> Result<Incidents> {
        let setup = Setup::new(options.respond.take(), None)?;
        setup.respond.webhooks(setup.respond.dry_run)?;
        Ok(Incidents {
            setup,
            db: db.to_path_buf(),
            actor,
            component,
            source,
            settling: RefCell::new(Vec::new()),
        })
    }

    /// The alerts into incidents (the logs `files` are read for triage volumes and
    /// evidence); whether any measure was written.
    pub fn ingest(&self, alerts: &[Alert], files: &[PathBuf]) -> Result<bool> {
        if alerts.is_empty() {
            return Ok(false);
        }
        let inputs: Vec<InputPath> = files.iter().cloned().map(InputPath::File).collect();
        let logs = Logs {
            inputs: &inputs,
            source: self.source,
            reader: &ReaderOptions::default(),
        };
        let docs = alerts.iter().map(Alert::to_json).collect();
        let dry_run = self.setup.respond.dry_run;
        let changes =
            self.setup
                .ingest(&self.db, dry_run, self.actor, BTreeMap::new(), docs, &logs)?;
        let deadline = now_ms() + SETTLE_MS;
        let mut written = false;
        for c in changes {
            let said = describe(&c, dry_run);
            say(
                Level::Info,
                self.component,
                said.trim_start_matches("modelward: "),
            );
            let enforced = c.actions.iter().any(|a| {
                a.executor == modelward_respond::action::enforcement::EXECUTOR
                    && a.outcome == modelward_respond::action::Outcome::Done
            });
            if enforced && !dry_run {
                written = true;
                self.settling
                    .borrow_mut()
                    .push((c.incident.id.clone(), deadline));
            }
        }
        Ok(written)
    }

    /// Analyses again the incidents whose measures a gateway now has in force (or that
    /// waited long enough), so that their containment steps read done, by the gateway, with
    /// the time it applied them. When `stopping`, every one still waiting is analysed.
    pub fn settle(&self, stopping: bool) {
        let mut settling = self.settling.borrow_mut();
        if settling.is_empty() {
            return;
        }
        let now = now_ms();
        let result = (|| -> Result<()> {
            let mut store = modelward_store::Store::open(&self.db)?;
            let mut left = Vec::new();
            for (id, deadline) in settling.drain(..) {
                let in_force = !store.applied(&id)?.is_empty();
                if !(in_force || stopping || now >= deadline) {
                    left.push((id, deadline));
                    continue;
                }
                let mut incident = modelward_respond::repo::load(&store, &id)?;
                let responder = self.setup.responder(self.actor, BTreeMap::new());
                match responder.reanalyse_recording(&mut store, &mut incident, now, &[]) {
                    Ok(()) => {}
                    // Changed meanwhile (a responder, or the next alerts): that write
                    // analysed it with what the gateway had.
                    Err(
                        modelward_respond::RespondError::Store(
                            modelward_store::StoreError::Conflict { .. },
                        )
                        | modelward_respond::RespondError::Repo(
                            modelward_respond::repo::RepoError::Store(
                                modelward_store::StoreError::Conflict { .. },
                            ),
                        ),
                    ) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            *settling = left;
            Ok(())
        })();
        if let Err(e) = result {
            settling.clear();
            say(
                Level::Error,
                self.component,
                &format!("analysing incidents again: {e:#}"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use modelward_event::input::Reader;
    use std::sync::Arc;

    /// The engine `hunt` builds with no configuration: the built-in pack.
    fn builtin_engine() -> Engine {
        engine(
            &mut Options::default(),
            Path::new("modelward.toml"),
            SourceKind::Auto,
        )
        .unwrap()
    }

    /// A hunt's alerts over `batches`: every record, then the end.
    fn hunt<'b>(engine: &Engine, batches: impl IntoIterator<Item = &'b Batch>) -> Vec<Alert> {
        let mut session = Session::new(engine);
        for b in batches {
            session.push(b, &mut |_| {});
        }
        let mut sink = modelward_engine::VecSink::default();
        session.finish(&mut sink, &mut |_| {}).unwrap();
        sink.alerts
    }

    fn ids(alerts: &[Alert]) -> std::collections::BTreeSet<String> {
        alerts.iter().map(|a| a.id.clone()).collect()
    }

    fn clocks(idle: i64) -> Clocks {
        Clocks {
            idle,
            ..Clocks::default()
        }
    }

    #[test]
    fn event_time_is_the_clock_of_the_source_furthest_behind() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("kafka:t/0"), Arc::from("kafka:t/1"));
        let mut c = clocks(1_000);
        // Nothing read yet: nothing is declared in (not even by the wall clock).
        assert_eq!(c.event_time(50), None);
        // Both partitions assigned; one delivered: the other holds event time back.
        c.expect(&[a.clone(), b.clone()], 100);
        c.delivered(&a, Some(9_000), 100);
        assert_eq!(c.event_time(100), None);
        c.delivered(&b, Some(2_000), 200);
        assert_eq!(c.event_time(200), Some(2_000));
        // A record without a time moves no clock.
        c.delivered(&b, None, 300);
        assert_eq!(c.event_time(300), Some(2_000));
        // b quiet for the idle time: it holds nothing back.
        c.delivered(&a, Some(9_500), 1_250);
        assert_eq!(c.event_time(1_300), Some(9_500));
        // Everything quiet: the wall clock.
        assert_eq!(c.event_time(2_300), Some(2_300));
        // An assigned partition that never delivers stops holding back once idle.
        let z: Arc<str> = Arc::from("kafka:t/2");
        c.expect(&[a.clone(), b.clone(), z.clone()], 3_000);
        c.delivered(&a, Some(10_000), 3_100);
        assert_eq!(c.event_time(3_500), None);
        assert_eq!(c.event_time(4_000), Some(10_000));
    }

    #[test]
    fn a_source_quiet_for_an_hour_is_forgotten_unless_assigned() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("spool/1"), Arc::from("kafka:t/0"));
        let mut c = clocks(1_000);
        c.delivered(&a, Some(5), 0);
        c.expect(std::slice::from_ref(&b), 0);
        c.event_time(FORGET_MS + 1);
        assert!(!c.sources.contains_key(&a));
        assert!(c.sources.contains_key(&b));
    }

    /// The example days as one source each, the later read first (as a consumer may read a
    /// partition ahead of another): with both partitions expected, nothing of the earlier
    /// one is late and the alerts are those of a hunt over both.
    #[test]
    fn a_partition_read_ahead_makes_no_other_partitions_events_late() {
        let engine = builtin_engine();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure_openai");
        let read = |name: &str, place: &str| -> Vec<Batch> {
            let data = std::fs::read(examples.join(name)).unwrap();
            let data = if name.ends_with(".gz") {
                let mut out = Vec::new();
                std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut out)
                    .unwrap();
                out
            } else {
                data
            };
            Reader::from_read(
                place,
                Box::new(std::io::Cursor::new(data)),
                ReaderOptions::default(),
            )
            .unwrap()
            .map(Result::unwrap)
            .collect()
        };
        let first = read("diagnostics-2025-03-01.ndjson", "kafka:logs/0");
        let second = read("diagnostics-2025-03-02.ndjson.gz", "kafka:logs/1");

        let hunted = hunt(&engine, first.iter().chain(&second));
        assert!(
            hunted
                .iter()
                .any(|a| a.rule.rule_type == modelward_rule::RuleType::Sigma),
            "the corpus has correlation bursts"
        );

        let mut live = Live::new(&engine, (60_000, 10_000), None, "test");
        let now = 1_000_000;
        live.expect(&[Arc::from("kafka:logs/0"), Arc::from("kafka:logs/1")], now);
        let mut alerts = live.step(&second, now);
        alerts.extend(live.step(&first, now + 10));
        assert_eq!(live.figures().0.late, 0);
        alerts.extend(live.finish());
        assert_eq!(ids(&alerts), ids(&hunted));
    }

    /// A reload keeps what a session does: stage one (per-event alerts) stays stage one.
    #[test]
    fn a_reload_keeps_the_scope() {
        let engine = Arc::new(builtin_engine());
        let examples = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/azure_openai/diagnostics-2025-03-01.ndjson");
        let batches: Vec<Batch> =
            Reader::open(&InputPath::File(examples), ReaderOptions::default())
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let mut live = Live::new(engine.clone(), (60_000, 10_000), None, "test");
        live.set_scope(Scope::PerEvent);
        live.reload(engine.clone()).unwrap();
        let mut alerts = live.step(&batches, 1_800_000_000_000);
        alerts.extend(live.finish());
        assert!(!alerts.is_empty());
        assert!(
            alerts
                .iter()
                .all(|a| a.window.is_none() && a.rule.rule_type != modelward_rule::RuleType::Esql),
            "stage one raised a windowed alert after a reload"
        );
    }

    /// `watch`'s scale-out in one process: stage one raises the per-event alerts and routes
    /// each record to the partitions of its windows' keys; a session per partition keeps
    /// only the windows whose key falls in it. Together: exactly one session's alerts, each
    /// once.
    #[test]
    fn sessions_per_partition_give_the_alerts_of_one() {
        let engine = builtin_engine();
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure_openai");
        let batches: Vec<Batch> = [
            "diagnostics-2025-03-01.ndjson",
            "diagnostics-2025-03-02.ndjson.gz",
        ]
        .iter()
        .flat_map(|name| {
            Reader::open(
                &InputPath::File(examples.join(name)),
                ReaderOptions {
                    batch_bytes: 256 << 10,
                    ..ReaderOptions::default()
                },
            )
            .unwrap()
            .map(Result::unwrap)
        })
        .collect();
        let hunted = hunt(&engine, &batches);
        assert!(
            hunted
                .iter()
                .any(|a| a.rule.rule_type != modelward_rule::RuleType::Detector),
            "windowed alerts in the corpus"
        );

        const COUNT: u32 = 5;
        let now = 1_800_000_000_000;
        let mut stage_one = Live::new(&engine, (60_000, 10_000), None, "test");
        stage_one.set_scope(Scope::PerEvent);
        let (mut alerts, routes) = stage_one.step_routed(&batches, now, COUNT);
        alerts.extend(stage_one.finish());
        // Each partition's records, in the order they were routed, with their places.
        let mut routed: Vec<Vec<Batch>> = (0..COUNT).map(|_| Vec::new()).collect();
        for (b, per_record) in batches.iter().zip(&routes) {
            assert_eq!(per_record.len(), b.records.len());
            for (span, partitions) in b.records.iter().zip(per_record) {
                for &p in partitions {
                    let mut one = Batch {
                        file: b.file.clone(),
                        data: Vec::new(),
                        records: Vec::new(),
                    };
                    one.data.extend_from_slice(b.bytes(span));
                    one.records.push(RecordSpan {
                        start: 0,
                        end: one.data.len(),
                        ..*span
                    });
                    routed[p as usize].push(one);
                }
            }
        }
        assert!(
            routed.iter().filter(|r| !r.is_empty()).count() >= 3,
            "the keys spread over the partitions"
        );
        for (p, records) in routed.iter().enumerate() {
            let mut live = Live::new(&engine, (60_000, 10_000), None, "test");
            live.set_scope(Scope::Partition {
                index: p as u32,
                count: COUNT,
            });
            alerts.extend(live.step(records, now));
            alerts.extend(live.finish());
        }
        let mut seen = std::collections::BTreeSet::new();
        for a in &alerts {
            assert!(seen.insert(a.id.clone()), "{} raised twice", a.rule.id);
        }
        assert_eq!(ids(&alerts), ids(&hunted));
    }

    /// A driver polls before anything arrives (as `watch` does when it starts): that must not
    /// declare every window closed by the wall clock, or a replay's records all come late and
    /// a burst read in two pieces is missed.
    #[test]
    fn polls_before_the_first_record_move_no_window() {
        let engine = builtin_engine();
        let day = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/azure_openai/diagnostics-2025-03-01.ndjson");
        let batches: Vec<Batch> = Reader::open(
            &InputPath::File(day),
            ReaderOptions {
                batch_bytes: 64 << 10,
                ..ReaderOptions::default()
            },
        )
        .unwrap()
        .map(Result::unwrap)
        .collect();
        assert!(batches.len() > 2);
        let hunted = hunt(&engine, &batches);

        let mut live = Live::new(&engine, (30_000, 10_000), None, "test");
        let now = 1_800_000_000_000;
        let mut alerts = live.step(&[], now);
        for (i, b) in batches.iter().enumerate() {
            alerts.extend(live.step(std::slice::from_ref(b), now + i as i64));
        }
        assert_eq!(live.figures().0.late, 0);
        alerts.extend(live.finish());
        assert_eq!(ids(&alerts), ids(&hunted));
    }
}
