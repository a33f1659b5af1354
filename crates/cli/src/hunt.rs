//! `modelward hunt`: run the rules over log files.

use std::io::{self, IsTerminal};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modelward_behavior::Behavior;
use modelward_detectors::Detectors;
use modelward_engine::{
    ingest_inputs, Dedup, Diagnostic, EngineBuilder, EngineOptions, ExceptionStats, Progress,
    RunStats, Session,
};
use modelward_event::input::{expand_paths, Batch, InputError, InputPath, ReaderOptions};
use modelward_event::source::SourceKind;
use modelward_event::terminal::{printable, printable_text};

mod report;
pub mod triage;

use crate::args::{HuntArgs, RuleSource};
use crate::config::Options;
use crate::ruleset::RuleSet;

/// Diagnostics printed before the rest are only counted.
const SHOWN: u64 = 50;

#[derive(Default)]
struct Reporter {
    shown: u64,
    hidden: u64,
    progress: Option<ProgressBar>,
}

impl Reporter {
    fn say(&mut self, line: String) {
        if self.shown >= SHOWN {
            self.hidden += 1;
            return;
        }
        self.shown += 1;
        // Diagnostics quote file names, records and rules: escaped for the terminal.
        let line = printable_text(&line);
        match &self.progress {
            Some(p) => p.suspend(|| eprintln!("modelward: {line}")),
            None => eprintln!("modelward: {line}"),
        }
    }

    fn diagnostic(&mut self, d: Diagnostic) {
        self.say(d.to_string());
    }
}

struct Tracker<'a> {
    reporter: &'a mut Reporter,
    progress: Option<ProgressBar>,
    input_errors: &'a mut u64,
    /// Where alerts go once more than `hold` are ready ([`HOLD_ALERTS`]), and the first
    /// failure.
    hold: usize,
    sink: &'a mut dyn modelward_engine::AlertSink,
    sink_error: Option<modelward_engine::SinkError>,
    /// Past this many rows, matches and calls waiting for their windows, windows close as
    /// the records come, `lateness` (ms) behind the latest event read ([`HOLD_WINDOWS`]).
    window_hold: usize,
    lateness: i64,
    /// The event time windows were first closed at while reading, if they were.
    closed_early: Option<i64>,
}

/// How many rows (ES|QL), matches (Sigma correlations) and calls (analyzers) a hunt lets
/// wait for their windows. Until then every record is in before any window closes, whatever
/// the order of the inputs; past it, windows close while the records come, `[hunt] lateness`
/// behind the latest event read, so that memory stays flat however long the input (a month
/// of logs needs no more than a day). An event that then comes more than the lateness behind
/// is late: counted and said, still seen by per-event rules and detectors. An LLM call
/// waiting for the analyzers takes about 400 bytes, so the hold costs about 40 MB; at a
/// million (the first default) a hunt of under a million records held them all and a longer
/// one held a million before closing any window, 1 GB against 10 GB of logs.
pub const HOLD_WINDOWS: usize = 100_000;

/// How many ready alerts a hunt holds to write them in report order at the end (time, then
/// kind, rule, made). Past this many, the ready ones are written at once, in report order
/// among themselves, so that memory does not grow with the number of alerts: the output is
/// then in runs of report order (docs/outputs.md).
pub const HOLD_ALERTS: usize = 50_000;

impl Progress for Tracker<'_> {
    fn batch(&mut self, batch: &Batch) {
        if let Some(p) = &self.progress {
            p.inc(batch.data.len() as u64);
            p.set_message(batch.file.to_string());
        }
    }

    fn input_error(&mut self, error: InputError) {
        *self.input_errors += 1;
        self.reporter.say(error.to_string());
    }

    fn diagnostic(&mut self, diagnostic: Diagnostic) {
        self.reporter.diagnostic(diagnostic);
    }

    fn pushed(&mut self, session: &mut modelward_engine::Session) {
        let held = session.held();
        if held.rows + held.matches + held.calls > self.window_hold {
            if let Some(clock) = session.clock() {
                let to = clock.saturating_sub(self.lateness);
                if session.watermark().is_none_or(|w| to > w) {
                    session.advance(to, &mut |d| self.reporter.diagnostic(d));
                    self.closed_early.get_or_insert(to);
                }
            }
        }
        if session.ready_len() <= self.hold || self.sink_error.is_some() {
            return;
        }
        for alert in session.take_ready() {
            if let Err(e) = self.sink.alert(&alert) {
                self.sink_error = Some(e);
                return;
            }
        }
    }
}

pub fn run(args: HuntArgs) -> Result<u8> {
    let options = match &args.config {
        Some(path) => Options::load(path)?,
        None => Options::default(),
    };
    let rules_opts = options.rules.unwrap_or_default();
    let limits = rules_opts.limits();
    let input_opts = options.input.unwrap_or_default();
    let incidents = match &args.incidents {
        Some(db) => {
            let setup = crate::respond::Setup::new(options.respond, args.playbook.as_deref())?;
            // The run acts at its end: an unset webhook secret is said now, not after the logs
            // (a dry run sends nothing and needs none).
            setup
                .respond
                .webhooks(args.dry_run || setup.respond.dry_run)?;
            Some((db.clone(), setup))
        }
        None => None,
    };
    let hunt_opts = options.hunt.unwrap_or_default();
    let detector_settings = options.detectors.unwrap_or_default().settings()?;
    let behavior_settings = options
        .behavior
        .unwrap_or_default()
        .settings(&detector_settings.disabled);
    let exceptions = crate::config::resolve_exceptions(options.exceptions, args.config.as_deref())?;
    let mut rule_paths = rules_opts.paths.unwrap_or_default();
    rule_paths.extend(args.rules.rules.iter().cloned());
    let mut pipelines = rules_opts.pipelines.unwrap_or_default();
    pipelines.extend(args.rules.pipelines.iter().cloned());
    let source_rules = RuleSource {
        rules: rule_paths,
        no_builtin: args.rules.no_builtin || rules_opts.builtin == Some(false),
        pipelines,
    };
    let source: SourceKind = match args.source.as_deref().or(input_opts.source.as_deref()) {
        Some(s) => s.parse().map_err(anyhow::Error::msg)?,
        None => SourceKind::Auto,
    };
    let threads = args.threads.or(hunt_opts.threads).unwrap_or(0);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("starting worker threads")?;
    let every = args.every_execution || hunt_opts.every_execution == Some(true);
    let lateness = match hunt_opts.lateness.as_deref() {
        None => 3_600_000,
        Some(text) => modelward_gateway::settings::parse_duration(text)
            .with_context(|| {
                format!(
                    "[hunt] lateness: {text:?} is not a duration (e.g. \"30m\", \"1h\", \"1d\")"
                )
            })?
            .as_millis() as i64,
    };
    let (engine, rules_failed) = build_engine_within(
        &source_rules,
        limits,
        detector_settings,
        behavior_settings,
        exceptions,
        EngineOptions {
            dedup: if every {
                Dedup::EveryExecution
            } else {
                Dedup::PerLookback
            },
            source,
            timestamp_fields: if args.timestamp_fields.is_empty() {
                input_opts.timestamp_fields.clone().unwrap_or_default()
            } else {
                args.timestamp_fields.clone()
            },
            max_future_skew_ms: input_opts.max_future_skew_ms(),
            validate: args.validate,
            ..EngineOptions::default()
        },
        args.quiet,
    )?;
    let mut had_error = rules_failed;
    let (inputs, path_errors) = expand_paths(&args.paths);
    // An output that is one of the inputs would be truncated before it is read.
    crate::outputs::refuse_inputs(
        &args.output,
        options.outputs.as_deref().unwrap_or_default(),
        &inputs,
    )?;
    // Opened now, before the logs are read: a bad target or an unset secret is said at once.
    let mut outputs = crate::outputs::open(
        &args.output,
        options.outputs.as_deref().unwrap_or_default(),
        args.format,
    )?;
    let mut reader_opts = ReaderOptions::default();
    if let Some(max) = input_opts.max_record_bytes {
        reader_opts.max_record_bytes = max;
    }

    // Every diagnostic of the inputs, from their paths to their records, goes through one
    // cap.
    let mut reporter = Reporter {
        shown: 0,
        hidden: 0,
        progress: None,
    };
    had_error |= !path_errors.is_empty();
    for e in path_errors {
        reporter.say(e.to_string());
    }
    let show_progress = !args.quiet && io::stderr().is_terminal();
    let progress = show_progress.then(|| progress_bar(&inputs));
    reporter.progress = progress.clone();

    let started = Instant::now();
    let mut session = Session::new(&engine);
    let codes: Vec<&str> = modelward_behavior::CODES.iter().map(|c| c.code).collect();
    // A baselines database that cannot be used (damaged, locked, too new) costs the
    // baselines, not the run: the alerts still go out, with the error, as with --incidents.
    let mut store = match &args.state {
        Some(path) => match crate::baselines::load(path, &codes, input_opts.max_future_skew_ms()) {
            Ok((store, saved)) => {
                session.resume(saved);
                Some((store, path))
            }
            Err(e) => {
                had_error = true;
                eprintln!(
                    "modelward: error: --state {}: {}; the analyzers start from empty baselines and this run's are not saved",
                    printable(&path.display().to_string()),
                    printable(&format!("{e:#}"))
                );
                None
            }
        },
        None => None,
    };
    let files = inputs.len();
    let mut input_errors = 0u64;
    let mut collect = crate::respond::Collect {
        inner: &mut outputs,
        docs: incidents.is_some().then(Vec::new),
    };
    let filter = triage::Filter {
        min_severity: args.min_severity,
        since: args.since,
        until: args.until,
        rules: args.only_rules.clone(),
    };
    let mut triaged = triage::Triaged {
        inner: &mut collect,
        filter: &filter,
        digest: triage::Digest::default(),
        filtered: 0,
    };
    let mut tracker = Tracker {
        reporter: &mut reporter,
        progress: progress.clone(),
        input_errors: &mut input_errors,
        hold: HOLD_ALERTS,
        sink: &mut triaged,
        sink_error: None,
        window_hold: hunt_opts.hold.unwrap_or(HOLD_WINDOWS),
        lateness,
        closed_early: None,
    };
    ingest_inputs(&mut session, &inputs, &reader_opts, &mut tracker);
    if let Some(e) = tracker.sink_error.take() {
        return Err(e.into());
    }
    let closed_early = tracker.closed_early;
    had_error |= input_errors > 0;
    if let Some(p) = &progress {
        p.finish_and_clear();
    }

    reporter.progress = None;
    // Every record is in: every execution and window runs; the baselines to keep are the
    // analyzers' profiles before the end-of-input reports.
    session.advance(i64::MAX, &mut |d| reporter.diagnostic(d));
    if source == SourceKind::Auto {
        for line in unrecognised_warnings(&session) {
            eprintln!("{line}");
        }
    }
    let baselines = store.as_ref().map(|_| session.baselines());
    let stats = session.finish(&mut triaged, &mut |d| reporter.diagnostic(d))?;
    if let Some(at) = closed_early.filter(|_| stats.late > 0) {
        eprintln!(
            "modelward: warning: more than {} rows, matches and calls waited for their windows, so windows were closed while reading (from {}, [hunt] lateness behind the latest event read); {} event(s) came later than that and their windows had closed: sort the inputs by time, or raise [hunt] hold or lateness",
            hunt_opts.hold.unwrap_or(HOLD_WINDOWS),
            modelward_event::format_timestamp(at),
            stats.late
        );
    }
    let (digest, filtered) = (triaged.digest, triaged.filtered);
    let alert_docs = collect.docs.unwrap_or_default();
    let left_out = triage::LeftOut {
        suppressed: stats.suppressed,
        excepted: stats
            .exceptions
            .iter()
            .map(|e| (e.name.clone(), e.alerts))
            .collect(),
        filtered,
        filters: filter_flags(&args),
    };
    // Every output had every alert it took; one that failed is said after the summary.
    if let (Some((store, path)), Some(baselines)) = (&mut store, &baselines) {
        if let Err(e) = crate::baselines::save(store, baselines, path) {
            had_error = true;
            eprintln!("modelward: error: {}", printable(&format!("{e:#}")));
        }
    }
    if reporter.hidden > 0 {
        eprintln!(
            "modelward: … and {} more diagnostics not shown",
            reporter.hidden
        );
    }
    if !args.quiet {
        eprintln!(
            "{}",
            summary(files, &stats, input_errors, started.elapsed().as_secs_f64())
        );
        eprint!("{}", triage::summary(&digest, &left_out));
    }
    if let Some(path) = &args.report {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        std::fs::write(path, report::html(&digest, &left_out, now))
            .with_context(|| format!("writing the report {}", path.display()))?;
        if !args.quiet {
            eprintln!(
                "modelward: report written to {}",
                crate::output::printable(&path.display().to_string())
            );
        }
    }
    let (output_failed, broken_pipe) = crate::outputs::report(&outputs, args.quiet);
    had_error |= output_failed;
    if let Some((db, setup)) = &incidents {
        let run = crate::respond::HuntIncidents {
            db,
            dry_run: args.dry_run || setup.respond.dry_run,
            baselines_kept: args.state.is_some(),
            quiet: args.quiet,
        };
        let logs = modelward_respond::Logs {
            inputs: &inputs,
            source,
            reader: &reader_opts,
        };
        run.run(setup, alert_docs, &logs)
            .with_context(|| format!("incidents in {}", db.display()))?;
    }
    if let Some(e) = broken_pipe {
        // A closed stdout ends the run quietly, once the other outputs are done.
        return Err(e);
    }
    Ok(if had_error {
        2
    } else if digest.total > 0 {
        1
    } else {
        0
    })
}

/// The filter flags given, as the summary names them (empty: none).
fn filter_flags(args: &HuntArgs) -> String {
    let mut flags = Vec::new();
    if let Some(s) = args.min_severity {
        flags.push(format!("--min-severity {}", s.as_str()));
    }
    if let Some(t) = args.since {
        flags.push(format!("--since {}", modelward_event::format_timestamp(t)));
    }
    if let Some(t) = args.until {
        flags.push(format!("--until {}", modelward_event::format_timestamp(t)));
    }
    for r in &args.only_rules {
        flags.push(format!("--rule {}", crate::output::printable(r)));
    }
    flags.join(" ")
}

/// The engine `hunt`, the gateway and `watch` run: the rules (the built-in pack unless
/// `no_builtin`, and the user's) loaded within `limits` (`[rules]` in the configuration), the
/// detectors and analyzers (none without the built-in pack), the exceptions. Rules that fail
/// to load are reported (and returned as `true`: the run goes on with the others); no rule at
/// all is an error.
pub fn build_engine_within(
    source_rules: &RuleSource,
    limits: modelward_rule::Limits,
    detector_settings: modelward_detectors::Settings,
    behavior_settings: modelward_behavior::Settings,
    exceptions: modelward_engine::Exceptions,
    options: EngineOptions,
    quiet: bool,
) -> Result<(modelward_engine::Engine, bool)> {
    let ruleset = RuleSet::load_within(source_rules, limits);
    let warnings: &[String] = if quiet { &[] } else { &ruleset.sigma.warnings };
    ruleset.report_errors_capped(SHOWN as usize, warnings);
    let failed = !ruleset.errors.is_empty();
    if ruleset.loaded() == 0 {
        bail!("no rules to run ({} failed to load)", ruleset.errors.len());
    }
    let detectors = if source_rules.no_builtin {
        Detectors::none()
    } else {
        Detectors::new(&detector_settings).context("loading detector lists")?
    };
    for e in detectors.skipped() {
        modelward_event::errln!("modelward: {e} (skipped)");
    }
    let behavior = if source_rules.no_builtin {
        Behavior::none()
    } else {
        Behavior::new(&behavior_settings).context("[behavior] settings")?
    };
    let engine = EngineBuilder::new()
        .detectors(detectors)
        .behavior(behavior)
        .esql_rules(ruleset.esql)
        .sigma(ruleset.sigma)
        .exceptions(exceptions)
        .options(options)
        .build();
    for (name, rule) in engine.exceptions().unknown_rules() {
        modelward_event::errln!("modelward: warning: exception \"{name}\": no rule loaded has the id, name or code \"{rule}\"");
    }
    Ok((engine, failed))
}

/// A bar with the total when every input is an uncompressed file (its size is what will be
/// read), else a spinner with the bytes read so far.
fn progress_bar(inputs: &[InputPath]) -> ProgressBar {
    let sizes: Option<u64> = inputs
        .iter()
        .map(|input| match input {
            InputPath::File(path) if path.extension().is_none_or(|e| e != "gz") => {
                std::fs::metadata(path).ok().map(|m| m.len())
            }
            _ => None,
        })
        .sum();
    let (bar, template) = match sizes {
        Some(total) => (
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {msg}",
        ),
        None => (
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
            "{spinner} [{elapsed_precise}] {bytes} read ({bytes_per_sec}) {msg}",
        ),
    };
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

/// A loud warning for each file most of whose events no source normalizer recognised:
/// such events are used as plain JSON, and the built-in rules, detectors and analyzers,
/// which read the normalized fields, may find nothing in them.
fn unrecognised_warnings(session: &modelward_engine::Session) -> Vec<String> {
    session
        .recognition()
        .filter(|(_, r)| r.mostly_unrecognised())
        .map(|(file, r)| {
            let all = r.recognised + r.unrecognised;
            format!(
                "modelward: WARNING: {}: {} of {all} events ({}%) are of no source modelward recognises and are used as plain JSON; the built-in rules, detectors and analyzers read the fields source normalizers write and may find nothing here. The formats read are in docs/input.md; --source NAME forces one, --source json says the events are already in your rules' fields (and silences this)",
                printable(file),
                r.unrecognised,
                r.unrecognised * 100 / all
            )
        })
        .collect()
}

fn summary(files: usize, s: &RunStats, input_errors: u64, secs: f64) -> String {
    let mb = s.bytes as f64 / 1e6;
    let mut line = format!(
        "modelward: {files} file(s), {} events, {} malformed, {} alert(s) in {secs:.2}s ({:.1} MB/s)",
        s.events,
        s.malformed,
        s.alerts,
        if secs > 0.0 { mb / secs } else { 0.0 }
    );
    let counts = [
        (s.prefiltered, "records rejected by the prefilter"),
        (s.dropped, "records dropped by their source pipeline"),
        (s.normalize_errors, "normalizer errors"),
        (
            s.lossy,
            "records with values kept lossily (lone surrogates, invalid UTF-8, numbers out of range)",
        ),
        (
            s.implausible_time,
            "events dated before 1970 or past the wall clock (read as of the latest event time)",
        ),
        (
            s.no_timestamp,
            "events without a timestamp (outside every window)",
        ),
        (s.suppressed, "repeated alerts suppressed"),
        (s.truncated, "executions reached max_signals"),
        (s.query_warnings, "query warnings"),
        (
            s.correlation_evicted,
            "correlation matches evicted from full windows",
        ),
        (
            s.correlation_groups_evicted,
            "correlation groups evicted from full correlation state",
        ),
        (
            s.behavior_evicted,
            "principal profiles evicted from full behaviour state",
        ),
        (
            s.behavior_already_counted,
            "calls already in the saved baselines (per analyzer)",
        ),
        (
            s.baselines_not_restored,
            "saved baseline profiles not restored",
        ),
        (input_errors, "input errors"),
    ];
    let mut extra: Vec<String> = counts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    extra.extend(exception_notes(s));
    if !extra.is_empty() {
        line.push_str(&format!("; {}", extra.join(", ")));
    }
    line
}

/// What exceptions left out, by name, and which had expired.
fn exception_notes(s: &RunStats) -> Vec<String> {
    let by_name = |count: fn(&ExceptionStats) -> u64| {
        let parts: Vec<String> = s
            .exceptions
            .iter()
            .filter(|e| count(e) > 0)
            .map(|e| format!("{}: {}", e.name, count(e)))
            .collect();
        parts.join(", ")
    };
    let mut notes = Vec::new();
    if s.excluded > 0 {
        notes.push(format!(
            "{} alerts excluded by exceptions ({})",
            s.excluded,
            by_name(|e| e.alerts)
        ));
    }
    if s.excluded_events > 0 {
        notes.push(format!(
            "{} events kept out of correlations and aggregations by exceptions ({})",
            s.excluded_events,
            by_name(|e| e.events)
        ));
    }
    for e in &s.exceptions {
        if let Some(t) = e.expired {
            notes.push(format!(
                "exception \"{}\" expired at {} and was not applied",
                e.name,
                modelward_event::format_timestamp(t)
            ));
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The built-in pack's engine, and the folder of the example Azure OpenAI logs.
    fn built_in_and_examples() -> (modelward_engine::Engine, std::path::PathBuf) {
        let engine = crate::live::engine(
            &mut Options::default(),
            std::path::Path::new("modelward.toml"),
            modelward_event::source::SourceKind::Auto,
        )
        .unwrap();
        let examples =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure_openai");
        (engine, examples)
    }

    /// Past the hold, ready alerts are written as the records come, each run in report order,
    /// and together they are every alert of the run.
    #[test]
    fn past_the_hold_alerts_are_written_as_they_come() {
        let (engine, examples) = built_in_and_examples();
        let inputs = vec![InputPath::File(
            examples.join("diagnostics-2025-03-01.ndjson"),
        )];
        let options = ReaderOptions {
            batch_bytes: 4 << 10,
            ..ReaderOptions::default()
        };
        let run = |hold: usize| -> (Vec<modelward_rule::Alert>, usize) {
            let mut session = modelward_engine::Session::new(&engine);
            let mut reporter = Reporter::default();
            let mut errors = 0;
            let mut early = modelward_engine::VecSink::default();
            let mut tracker = Tracker {
                reporter: &mut reporter,
                progress: None,
                input_errors: &mut errors,
                hold,
                sink: &mut early,
                sink_error: None,
                window_hold: HOLD_WINDOWS,
                lateness: 3_600_000,
                closed_early: None,
            };
            ingest_inputs(&mut session, &inputs, &options, &mut tracker);
            assert!(tracker.sink_error.is_none());
            assert!(session.ready_len() <= hold.saturating_add(64));
            let taken_early = early.alerts.len();
            session.finish(&mut early, &mut |_| {}).unwrap();
            (early.alerts, taken_early)
        };
        let (all, none_early) = run(usize::MAX);
        assert_eq!(none_early, 0);
        assert!(all.len() >= 10, "{}", all.len());
        let (streamed, taken_early) = run(2);
        assert!(taken_early > 0 && taken_early < streamed.len());
        let ids = |a: &[modelward_rule::Alert]| -> std::collections::BTreeSet<String> {
            a.iter().map(|a| a.id.clone()).collect()
        };
        assert_eq!(ids(&streamed), ids(&all));
        assert_eq!(streamed.len(), all.len());
    }

    /// The hold is a few tens of megabytes: an LLM call waiting for the analyzers (most of
    /// what waits in a hunt of LLM logs) takes its size plus its strings, about 100 bytes
    /// in the generated Azure logs. At the first default (a million) a hunt of a 1 GB file
    /// held all of its 760,000 calls and one of 10 GB a million: 330 MB against 1.1 GB.
    #[test]
    fn the_window_hold_is_tens_of_megabytes() {
        let call = std::mem::size_of::<modelward_behavior::Call>() + 100;
        assert!(
            HOLD_WINDOWS * call <= 64 << 20,
            "{HOLD_WINDOWS} calls of about {call} bytes"
        );
    }

    /// Past `[hunt] hold`, windows close while the records come: what waits stays bounded,
    /// and over inputs in time order the alerts are those of a hunt that held everything;
    /// inputs out of order make late events, which are counted (and said by `run`).
    #[test]
    fn past_the_window_hold_windows_close_as_records_come() {
        let (engine, examples) = built_in_and_examples();
        let days = [
            InputPath::File(examples.join("diagnostics-2025-03-01.ndjson")),
            InputPath::File(examples.join("diagnostics-2025-03-02.ndjson.gz")),
        ];
        let options = ReaderOptions {
            batch_bytes: 16 << 10,
            ..ReaderOptions::default()
        };
        // (alert ids, most held at once, late events, closed early)
        let run = |window_hold: usize, inputs: &[InputPath]| {
            let mut session = modelward_engine::Session::new(&engine);
            let mut reporter = Reporter::default();
            let mut errors = 0;
            let mut sink = modelward_engine::VecSink::default();
            let mut tracker = Tracker {
                reporter: &mut reporter,
                progress: None,
                input_errors: &mut errors,
                hold: HOLD_ALERTS,
                sink: &mut sink,
                sink_error: None,
                window_hold,
                lateness: 3_600_000,
                closed_early: None,
            };
            let mut most = 0;
            struct Watch<'t, 'a>(&'t mut Tracker<'a>, &'t mut usize);
            impl Progress for Watch<'_, '_> {
                fn input_error(&mut self, error: InputError) {
                    self.0.input_error(error)
                }
                fn diagnostic(&mut self, diagnostic: Diagnostic) {
                    self.0.diagnostic(diagnostic)
                }
                fn pushed(&mut self, session: &mut modelward_engine::Session) {
                    self.0.pushed(session);
                    let h = session.held();
                    *self.1 = (*self.1).max(h.rows + h.matches + h.calls);
                }
            }
            ingest_inputs(
                &mut session,
                inputs,
                &options,
                &mut Watch(&mut tracker, &mut most),
            );
            let closed_early = tracker.closed_early;
            let stats = session.finish(&mut sink, &mut |_| {}).unwrap();
            let ids: std::collections::BTreeSet<String> =
                sink.alerts.iter().map(|a| a.id.clone()).collect();
            (ids, most, stats.late, closed_early)
        };
        let (all, held_all, late, early) = run(usize::MAX, &days);
        assert_eq!((late, early), (0, None));
        let (bounded, held, late, early) = run(300, &days);
        assert!(early.is_some());
        assert_eq!(late, 0);
        assert!(held < held_all / 2, "{held} of {held_all} held at most");
        assert_eq!(bounded, all);
        // The second day first: the first day's events come a day late.
        let reversed = [days[1].clone(), days[0].clone()];
        let (_, _, late, early) = run(300, &reversed);
        assert!(early.is_some() && late > 1_000, "{late} late");
    }
}
