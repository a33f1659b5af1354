//! The modelward engine: rules compiled once into an immutable, `Send + Sync` [`Engine`];
//! a [`Session`] keeps the state of one stream of records through it: push records, advance
//! event time, take the alerts that are ready, finish at the end of input. `hunt` pushes
//! every record of its files and finishes; `watch` and the gateway push as records come.
//!
//! ```
//! use modelward_engine::{EngineBuilder, Session, VecSink};
//! use modelward_event::input::{Reader, ReaderOptions};
//!
//! let rule = modelward_esql::parse_esql_file(
//!     "// interval: 10m\n// from: now-60m\nfrom logs-* | where event.action == \"ListKey\" | stats c = count(*)",
//!     "demo.esql",
//! ).unwrap();
//! let engine = EngineBuilder::new().esql_rule(rule).build();
//! let logs = "{\"@timestamp\":\"2024-05-01T12:00:00Z\",\"event\":{\"action\":\"ListKey\"}}\n";
//! let mut session = Session::new(&engine);
//! let reader = Reader::from_read("demo.ndjson", Box::new(logs.as_bytes()), ReaderOptions::default()).unwrap();
//! for batch in reader {
//!     session.push(&batch.unwrap(), &mut |_diagnostic| {});
//! }
//! // The 12:00 execution's window [11:00, 12:00] holds the event: it runs once event time
//! // reaches 12:00.
//! session.advance(modelward_event::parse_timestamp("2024-05-01T11:59:59Z").unwrap(), &mut |_| {});
//! assert!(session.take_ready().is_empty());
//! session.advance(modelward_event::parse_timestamp("2024-05-01T12:00:00Z").unwrap(), &mut |_| {});
//! assert_eq!(session.take_ready().len(), 1);
//! let mut sink = VecSink::default();
//! // At the end of input the last execution that sees it, at 13:00 (the group alerts again
//! // once a look-back has passed), reports to the sink.
//! let stats = session.finish(&mut sink, &mut |_| {}).unwrap();
//! assert_eq!((stats.alerts, sink.alerts.len()), (2, 1));
//! ```

mod alerting;
mod behavior;
mod exceptions;
mod findings;
mod pipeline;
mod prefilter;
mod record;
mod routing;
mod schedule;
mod scope;
mod session;
mod sigma;
mod sink;
mod snapshot;

use modelward_behavior::Behavior;
use modelward_detectors::Detectors;
use modelward_esql::EsqlRule;
use modelward_event::source::SourceKind;
use modelward_event::Schema;
use modelward_sigma::SigmaSet;

pub use exceptions::{
    Applicable, Days, Exception, ExceptionError, Exceptions, IpRange, TimeOfDay, Timestamp,
    Weekday, Window,
};
pub use pipeline::{ingest_inputs, Progress};
pub use prefilter::{Candidates, Prefilter};
pub use scope::Scope;
pub use session::{Diagnostic, EngineRef, ExceptionStats, Held, RunStats, Session};
pub use sink::{AlertSink, JsonArraySink, NdjsonSink, SinkError, VecSink};
pub use snapshot::{Snapshot, SnapshotError, SNAPSHOT_VERSION};

/// How alerts of overlapping executions are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dedup {
    /// A group (the BY values of an aggregating rule) alerts once per rule per look-back
    /// window; a source event alerts once per rule (as Kibana deduplicates by `_id`).
    #[default]
    PerLookback,
    /// Every execution's alerts, as Kibana writes them for aggregating rules.
    EveryExecution,
}

#[derive(Debug, Clone, Default)]
pub struct EngineOptions {
    pub dedup: Dedup,
    /// Which normalizer to apply; `Auto` detects the format per event.
    pub source: SourceKind,
    /// The fields an event's time is read from, the first that holds a time (empty:
    /// `@timestamp`): the clock, Sigma matches and correlations, detector findings (the
    /// behavioural analyzers read `@timestamp`, which every LLM normalizer writes). A
    /// Sigma rule's pipeline may name its own, tried first; ES|QL rules read
    /// `timestamp_override`, else `@timestamp`, as Kibana does.
    pub timestamp_fields: Vec<String>,
    /// Check the JSON syntax of records the prefilter rejects (by default only their outer
    /// shape is checked: `{` ... `}`).
    pub validate: bool,
    /// Give every rule every event (the literal prefilter off): the reference the prefilter
    /// equivalence test compares with.
    pub no_prefilter: bool,
    /// How far past the wall clock an event's time may be (`None`: [`FUTURE_SKEW_MS`]). An
    /// event dated later, or before the Unix epoch, would carry the clock, watermarks and
    /// saved baselines with it: its time is not believed (see `record::Plausible`).
    pub max_future_skew_ms: Option<i64>,
}

/// The default of [`EngineOptions::max_future_skew_ms`]: a day (time zones written as UTC
/// are off by at most 14 hours).
pub const FUTURE_SKEW_MS: i64 = 86_400_000;

/// The detector codes the engine may write into `modelward.detections`, lower case.
fn detection_codes() -> Vec<String> {
    modelward_detectors::CODES
        .iter()
        .map(|c| c.code.to_ascii_lowercase())
        .collect()
}

/// Whether any event may hold `literal` although its raw record does not: it is part of a
/// detector code the engine writes into `modelward.detections` (`codes`, lower case).
fn engine_writes(literal: &modelward_event::source::Literal, codes: &[String]) -> bool {
    use modelward_event::source::contract::DETECTIONS_FIELD;
    let engine_field = literal
        .field
        .as_deref()
        .is_none_or(|f| f.eq_ignore_ascii_case(DETECTIONS_FIELD));
    let lower = literal.text.to_ascii_lowercase();
    engine_field && codes.iter().any(|c| c.contains(&lower))
}

/// Builds an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    rules: Vec<EsqlRule>,
    sigma: SigmaSet,
    detectors: Option<Detectors>,
    behavior: Option<Behavior>,
    schema: Option<Schema>,
    options: EngineOptions,
    exceptions: Exceptions,
}

impl EngineBuilder {
    pub fn new() -> EngineBuilder {
        EngineBuilder::default()
    }

    pub fn esql_rule(mut self, rule: EsqlRule) -> EngineBuilder {
        self.rules.push(rule);
        self
    }

    pub fn esql_rules(mut self, rules: impl IntoIterator<Item = EsqlRule>) -> EngineBuilder {
        self.rules.extend(rules);
        self
    }

    /// Sigma rules and correlations (references already resolved).
    pub fn sigma(mut self, set: SigmaSet) -> EngineBuilder {
        self.sigma = set;
        self
    }

    /// Built-in detectors, run on every event before the rules.
    pub fn detectors(mut self, detectors: Detectors) -> EngineBuilder {
        self.detectors = Some(detectors);
        self
    }

    /// Behavioural analyzers, run over every LLM call in event-time order at the end.
    pub fn behavior(mut self, behavior: Behavior) -> EngineBuilder {
        self.behavior = Some(behavior);
        self
    }

    pub fn schema(mut self, schema: Schema) -> EngineBuilder {
        self.schema = Some(schema);
        self
    }

    pub fn options(mut self, options: EngineOptions) -> EngineBuilder {
        self.options = options;
        self
    }

    /// Exceptions and allow-lists: alerts they match are left out (see [`Exceptions`]).
    pub fn exceptions(mut self, exceptions: Exceptions) -> EngineBuilder {
        self.exceptions = exceptions;
        self
    }

    pub fn build(self) -> Engine {
        // The prefilter's rule indices: ES|QL rules first, then Sigma rules.
        let requirements: Vec<_> = self
            .rules
            .iter()
            .map(|r| r.requirement.clone())
            .chain(self.sigma.rules.iter().map(|r| r.requirement.clone()))
            .collect();
        // Values written after reading need not be in the raw record: what normalizers
        // declare they write (`source::contract`), and detector codes in
        // `modelward.detections`. Without the prefilter every rule sees every event.
        let requirements = if self.options.no_prefilter {
            vec![Vec::new(); requirements.len()]
        } else {
            requirements
        };
        // A literal a normalizer may write ([`modelward_event::source::Literal::synthesizable`])
        // needs to be in the raw record only when no normalizer wrote the event.
        let codes = detection_codes();
        let prefilter = Prefilter::new(
            &requirements,
            |l| engine_writes(l, &codes),
            modelward_event::source::Literal::synthesizable,
        );
        let mut exceptions = self.exceptions;
        exceptions.check_rules(&known_rules(&self.rules, &self.sigma));
        // Aggregations leave out the events an exception matches as they are read; rules
        // on single events judge their alerts (see `schedule`).
        let esql_exceptions = self
            .rules
            .iter()
            .map(|r| {
                if r.aggregating {
                    exceptions.indices_for(&r.meta)
                } else {
                    Vec::new()
                }
            })
            .collect();
        let mut sigma = self.sigma;
        let sigma_fields = sigma.index_fields();
        Engine {
            rules: self.rules,
            sigma,
            sigma_fields,
            detectors: self.detectors.unwrap_or_else(Detectors::none),
            behavior: self.behavior.unwrap_or_else(Behavior::none),
            prefilter,
            schema: self.schema.unwrap_or_default(),
            options: self.options,
            exceptions,
            esql_exceptions,
        }
    }
}

/// (id, name) of every rule an exception could name: the rules given and every built-in
/// code, enabled or not.
fn known_rules<'a>(rules: &'a [EsqlRule], sigma: &'a SigmaSet) -> Vec<(&'a str, &'a str)> {
    let metas = rules
        .iter()
        .map(|r| &r.meta)
        .chain(sigma.rules.iter().map(|r| &r.meta))
        .chain(sigma.correlations.iter().map(|c| &c.meta));
    metas
        .map(|m| (m.id.as_str(), m.name.as_str()))
        .chain(
            modelward_detectors::CODES
                .iter()
                .chain(modelward_behavior::CODES)
                .map(|c| (c.code, c.name)),
        )
        .collect()
}

/// Compiled rules; immutable and shareable across threads.
pub struct Engine {
    rules: Vec<EsqlRule>,
    sigma: SigmaSet,
    detectors: Detectors,
    behavior: Behavior,
    prefilter: Prefilter,
    schema: Schema,
    options: EngineOptions,
    exceptions: Exceptions,
    /// Per ES|QL aggregation, the indices of the exceptions whose events it does not count.
    esql_exceptions: Vec<Vec<usize>>,
    /// The fields the Sigma rules read, each looked up once per event
    /// (`SigmaSet::index_fields`: the size of a `FieldCache`).
    sigma_fields: usize,
}

impl Engine {
    pub fn rules(&self) -> &[EsqlRule] {
        &self.rules
    }

    pub fn detectors(&self) -> &Detectors {
        &self.detectors
    }

    pub fn behavior(&self) -> &Behavior {
        &self.behavior
    }

    pub fn sigma(&self) -> &SigmaSet {
        &self.sigma
    }

    pub fn prefilter(&self) -> &Prefilter {
        &self.prefilter
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    pub fn exceptions(&self) -> &Exceptions {
        &self.exceptions
    }
}
