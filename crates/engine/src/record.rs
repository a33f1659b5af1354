//! Per-record work, stateless and parallel: prefilter, parse, normalize, timestamp, and the
//! streaming prefix of every candidate rule.

use std::sync::Arc;

use modelward_detectors::Finding;
use modelward_esql::eval::{Env, Warnings};
use modelward_esql::table::{index_name, Provenance, Row};
use modelward_event::ingest::{located, record_events_noting, Ingested};
use modelward_event::input::{parse_record, ParseError, RecordSpan};
use modelward_event::{parse_timestamp, Event};
use serde_json::Value as Json;

use crate::exceptions::Tally;
use crate::Engine;

/// A row a rule's streaming prefix produced, with the event time that places it in windows.
pub struct RuleRow {
    /// The event's own time was not plausible: the row is dated when merged, at the latest
    /// event time read.
    pub undated: bool,
    pub rule: usize,
    pub ts: i64,
    pub row: Row,
}

#[derive(Default)]
/// What a run of consecutive records produced, in record order.
pub struct RecordResult {
    pub events: u64,
    /// Records rejected by the prefilter.
    pub skipped: u64,
    pub errors: Vec<ParseError>,
    pub normalize_errors: Vec<String>,
    /// Records kept with values strict JSON refuses rewritten (`file:line:column: what`).
    pub lossy: Vec<String>,
    /// Records the source's own pipeline drops (e.g. Azure categories Elastic does not index).
    pub dropped: u64,
    /// Events a source normalizer recognised (or already in a data stream's form: they have
    /// `data_stream.dataset` or `event.dataset`), and events used as plain JSON.
    pub recognised: u64,
    pub unrecognised: u64,
    pub no_timestamp: u64,
    /// The latest event time among the events (`@timestamp`).
    pub latest: Option<i64>,
    pub rows: Vec<RuleRow>,
    /// (Sigma rule, event time, event) of every Sigma match.
    pub sigma_hits: Vec<(usize, Option<i64>, Arc<Event>)>,
    /// What the built-in detectors found, with the event.
    pub findings: Vec<(Finding, Option<i64>, Arc<Event>)>,
    /// The LLM calls, for the behavioural analyzers (when any is enabled).
    pub calls: Vec<modelward_behavior::Call>,
    /// Calls of events whose time is not plausible: dated when merged, at the latest event
    /// time read.
    pub undated_calls: Vec<modelward_behavior::Call>,
    /// Events whose time is not plausible (`file:line: the time`).
    pub implausible: Vec<String>,
    pub warnings: Vec<(usize, String)>,
    /// Events exceptions kept out of ES|QL aggregations.
    pub excluded: Tally,
    /// Per record, the partitions its windows' keys fall in (only when asked:
    /// [`crate::Session::push_routed`]).
    pub routes: Vec<Vec<u32>>,
}

/// The event time of an event for a rule: `timestamp_override` if the event has it, else
/// `@timestamp` (Kibana's fallback).
pub fn event_time(event: &Event, timestamp_override: Option<&str>) -> Option<i64> {
    timestamp_override
        .and_then(|f| time_at(event, f))
        .or_else(|| time_at(event, "@timestamp"))
}

/// The time `path` holds: a date string or epoch milliseconds.
fn time_at(event: &Event, path: &str) -> Option<i64> {
    event.get(path).into_iter().find_map(|v| match v {
        Json::String(s) => parse_timestamp(s),
        Json::Number(n) => n.as_i64(),
        _ => None,
    })
}

/// The event time of an event from the first of `fields` that holds a time (`@timestamp`
/// when `fields` is empty).
pub fn event_time_in(event: &Event, fields: &[String]) -> Option<i64> {
    if fields.is_empty() {
        return event_time(event, None);
    }
    fields.iter().find_map(|f| time_at(event, f))
}

/// The event times the engine believes: from the Unix epoch to the wall clock plus
/// `max_future_skew_ms`. One record dated 9999-12-31 would otherwise carry the clock, every
/// live watermark and the saved baselines' watermarks with it (the next run would take
/// every real call as already counted); one dated year 1 would hold a live source's clock
/// back. Such an event is still read by detectors, Sigma rules and analyzers, dated at the
/// latest plausible event time read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plausible {
    latest: i64,
}

impl Plausible {
    pub(crate) fn now(skew: Option<i64>) -> Plausible {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Plausible {
            latest: now.saturating_add(skew.unwrap_or(crate::FUTURE_SKEW_MS).max(0)),
        }
    }

    pub(crate) fn admits(self, ts: i64) -> bool {
        (0..=self.latest).contains(&ts)
    }
}

impl Engine {
    /// Processes one record, adding what it produced to `out`.
    pub(crate) fn process_record(
        &self,
        file: &Arc<str>,
        span: &RecordSpan,
        raw: &[u8],
        out: &mut RecordResult,
    ) {
        let candidates = self.prefilter.candidates(raw);
        // Detectors and behavioural analyzers look at every event: nothing can be skipped
        // unparsed while they run.
        if candidates.is_empty() && self.detectors.is_empty() && self.behavior.is_empty() {
            out.skipped += 1;
            // A record no rule can match is not parsed, but it must still look like an
            // object (or be checked fully with `validate`), and an envelope is always
            // checked, so that bad input is reported.
            let looks_whole = raw.first() == Some(&b'{') && raw.last() == Some(&b'}');
            let check = !looks_whole || self.options.validate || is_envelope(raw);
            if check {
                match parse_record(raw) {
                    Ok(objects) => out.events += objects.len() as u64,
                    Err(e) => out.errors.push(located(file, span, e)),
                }
            }
            return;
        }
        let ingested = match record_events_noting(file, span, raw, self.options.source) {
            Ok(ingested) => ingested,
            Err(e) => {
                out.errors.push(e);
                return;
            }
        };
        // Events that are the record as it is hold only what its bytes hold.
        let candidates = if ingested.normalized {
            candidates
        } else {
            candidates.unnormalized()
        };
        for item in ingested.items {
            if let Ingested::Lossy(note) = item {
                out.lossy.push(note);
                continue;
            }
            out.events += 1;
            let mut event = match item {
                Ingested::Event(event, partial) => {
                    out.normalize_errors.extend(partial);
                    if event.has("data_stream.dataset") || event.has("event.dataset") {
                        out.recognised += 1;
                    } else {
                        out.unrecognised += 1;
                    }
                    event
                }
                Ingested::Dropped => {
                    out.dropped += 1;
                    continue;
                }
                Ingested::Rejected(why) => {
                    out.normalize_errors.push(why);
                    continue;
                }
                Ingested::Lossy(_) => continue,
            };
            // The event's time (`@timestamp` or the configured fields), read once for the
            // clock, Sigma and detectors; one not plausible is not believed.
            let plausible = Plausible::now(self.options.max_future_skew_ms);
            let ts = event_time_in(&event, &self.options.timestamp_fields);
            let undated = ts.is_some_and(|t| !plausible.admits(t));
            if undated {
                out.implausible.push(format!(
                    "{file}:{}: event time {} is not plausible (before 1970 or past the wall clock by more than max_future_skew); read as of the latest event time",
                    span.line,
                    ts.map_or_else(String::new, modelward_event::format_timestamp)
                ));
            }
            let ts = ts.filter(|_| !undated);
            if let Some(ts) = ts {
                out.latest = Some(out.latest.map_or(ts, |l| l.max(ts)));
            }
            let found = self.detectors.inspect(&event);
            if !found.is_empty() {
                // Rules can build on detections: `modelward.detections` lists their codes.
                let codes: Vec<serde_json::Value> = found
                    .iter()
                    .map(|f| serde_json::Value::from(f.code))
                    .collect();
                event.fields.insert(
                    "modelward.detections".into(),
                    serde_json::Value::Array(codes),
                );
            }
            if !self.behavior.is_empty() {
                let sensitive = found
                    .iter()
                    .filter(|f| f.code == modelward_behavior::SENSITIVE_DATA_CODE)
                    .count();
                let sensitive = u32::try_from(sensitive).unwrap_or(u32::MAX);
                let call = modelward_behavior::Call::from_event(&event, sensitive);
                match call {
                    Some(call) if !plausible.admits(call.ts) => out.undated_calls.push(call),
                    call => out.calls.extend(call),
                }
            }
            let event = Arc::new(event);
            out.findings
                .extend(found.into_iter().map(|f| (f, ts, event.clone())));
            self.run_prefixes(&event, &candidates, plausible, out);
            self.run_sigma(&event, ts, &candidates, plausible, out);
        }
    }

    fn run_sigma(
        &self,
        event: &Arc<Event>,
        ts: Option<i64>,
        candidates: &crate::Candidates,
        plausible: Plausible,
        out: &mut RecordResult,
    ) {
        let offset = self.rules.len();
        // The fields the candidate rules read, each looked up once for all of them.
        let fields = modelward_sigma::detection::FieldCache::new(event, self.sigma_fields);
        let rules = &self.sigma.rules;
        // The second tier: a candidate's literals must be in the values of their fields.
        let gates = &self.sigma.gates;
        let scratch = gates.scratch();
        let gated = !self.options.no_prefilter;
        for r in candidates.iter().filter_map(|i| i.checked_sub(offset)) {
            let Some(rule) = rules.get(r) else { break };
            if gated && !gates.admits(r, &fields, &scratch) {
                continue;
            }
            if rule.matches_cached(&fields) {
                // A pipeline's timestamp fields come first, then the source's.
                let ts = event_time_in(event, &rule.timestamp_fields)
                    .filter(|t| plausible.admits(*t))
                    .or(ts);
                out.sigma_hits.push((r, ts, event.clone()));
            }
        }
    }

    fn run_prefixes(
        &self,
        event: &Arc<Event>,
        candidates: &crate::Candidates,
        plausible: Plausible,
        out: &mut RecordResult,
    ) {
        let index = if event.get_str("data_stream.dataset").is_some()
            || event.get_str("event.dataset").is_some()
        {
            Some(index_name(event))
        } else {
            None
        };
        let mut counted_no_ts = false;
        for (r, rule) in self.rules.iter().enumerate() {
            if !candidates.contains(r) {
                continue;
            }
            // Events of unknown origin are selected by every pattern, so plain JSON works.
            if let Some(index) = &index {
                if !rule.plan.selects_index(index) {
                    continue;
                }
            }
            let Some(ts) = event_time(event, rule.timestamp_override.as_deref()) else {
                if !counted_no_ts {
                    out.no_timestamp += 1;
                    counted_no_ts = true;
                }
                continue;
            };
            // An aggregation does not count the events an exception matches (they may be
            // gone from its rows after KEEP, so they are judged here).
            let exceptions = &self.esql_exceptions[r];
            if !exceptions.is_empty() {
                if let Some(x) = self
                    .exceptions
                    .excluding_event_among(exceptions, event, Some(ts))
                {
                    out.excluded.event(x);
                    continue;
                }
            }
            let mut warnings = Warnings::default();
            let mut env = Env {
                query: rule.plan.text(),
                schema: &self.schema,
                now: ts,
                warnings: &mut warnings,
            };
            let mut start = rule.plan.start_row(event.clone(), &self.schema);
            start.provenance = Some(Box::new(Provenance::of(event.origin.clone(), ts)));
            for row in rule.plan.run_prefix(vec![start], &mut env) {
                out.rows.push(RuleRow {
                    rule: r,
                    ts,
                    row,
                    undated: !plausible.admits(ts),
                });
            }
            out.warnings
                .extend(warnings.messages.into_iter().map(|w| (r, w)));
        }
    }
}

/// Whether a raw record starts like an Azure or CloudTrail envelope, a CloudWatch shape or an
/// OTLP export request.
fn is_envelope(raw: &[u8]) -> bool {
    let rest = raw[1..].trim_ascii_start();
    rest.starts_with(b"\"records\"")
        || rest.starts_with(b"\"Records\"")
        || modelward_event::input::cloudwatch::is_wrapper(raw)
        || modelward_event::input::otlp::is_export_raw(raw)
}
