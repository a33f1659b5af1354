//! Live detection, shared by `modelward gateway` (in-path detection over the calls it logs)
//! and `modelward watch` (over files, HTTP ingest and stdin): the engine `hunt` builds, fed
//! batches as they come ([`Live`]), and the playbook over its alerts ([`Incidents`]).
//!
//! Time: per-event rules alert when their record is pushed; windows (Sigma correlations,
//! ES|QL executions, the analyzers) close as event time passes. Event time is the latest
//! event read less the allowed lateness; when nothing comes, the wall clock less the lateness,
//! so that a quiet source still closes its windows.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use modelward_engine::{Dedup, Engine, EngineOptions, EngineRef, Session};
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
    let detector_settings = options.detectors.take().unwrap_or_default().settings();
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
            validate: false,
        },
        false,
    )?;
    Ok(engine)
}

/// The engine over batches as they come.
pub struct Live<'e> {
    session: Session<'e>,
    lateness: i64,
    component: &'static str,
}

impl<'e> Live<'e> {
    /// A session restored from `saved` (a snapshot's JSON) when there is one that can be
    /// read, else a new one (and why, said).
    pub fn new(
        engine: impl Into<EngineRef<'e>>,
        lateness_ms: i64,
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
            component,
        }
    }

    /// Goes on with `engine` (rules or exceptions reloaded): the state carries over by rule
    /// (a rule kept keeps its windows, a new one starts empty, a removed one's state is
    /// dropped and counted). On an error the running engine is kept.
    pub fn reload(&mut self, engine: impl Into<EngineRef<'e>>) -> Result<()> {
        let snapshot = self.session.snapshot();
        let session = Session::restore(engine, snapshot)?;
        self.session = session;
        Ok(())
    }

    fn report(component: &'static str) -> impl FnMut(modelward_engine::Diagnostic) {
        move |d| say(Level::Warn, component, &format!("{d:?}"))
    }

    /// Pushes `batches`, advances event time (the latest event read, or `now` when
    /// nothing came, less the lateness) and returns the alerts that are ready.
    pub fn step(&mut self, batches: &[Batch], now: i64) -> Vec<Alert> {
        let mut report = Self::report(self.component);
        for b in batches {
            self.session.push(b, &mut report);
        }
        let at = match (batches.is_empty(), self.session.clock()) {
            (false, Some(latest)) => latest,
            _ => now,
        };
        self.session
            .advance(at.saturating_sub(self.lateness), &mut report);
        self.session.take_ready()
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
