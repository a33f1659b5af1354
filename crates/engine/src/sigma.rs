//! Alerts of Sigma rules: one per matching event as soon as it is pushed, and the matches of
//! correlation rules over event time, evaluated as the watermark advances (dependencies
//! first, so a correlation may count another's matches).

use std::sync::Arc;

use modelward_esql::table::document_id;
use modelward_event::Event;
use modelward_rule::{Alert, AlertWindow};
use modelward_sigma::correlation::{group_key, CorrelationMatch, Correlator, Hit, Limits};
use modelward_sigma::{SigmaCorrelation, Source};
use serde_json::{json, Map};

use crate::alerting::{entity_of, lookup, on_event, over_events, stable_id, Kind, Order, Placed};
use crate::exceptions::Tally;
use crate::scope::Scope;
use crate::snapshot::SigmaState;
use crate::Engine;

/// What a push or an advance of the Sigma rules produced.
#[derive(Default)]
pub struct SigmaOutcome {
    pub alerts: Vec<Placed>,
    /// Matches without a timestamp, which no correlation can place (once per correlation
    /// that counts the rule).
    pub no_timestamp: u64,
    /// Matches exceptions left out: a rule's alerts, and the events of correlations.
    pub excluded: Tally,
    /// Matches a correlation counts that came at or before the watermark (still counted,
    /// out of order).
    pub late: u64,
}

/// The Sigma rules' state between calls: matches waiting for event time to reach them, and
/// each correlation's windows.
pub struct SigmaRun {
    /// Per rule, how many correlations count its matches.
    counted_by: Vec<u64>,
    /// Per rule, the timed matches correlations have not seen yet, in push order.
    pending: Vec<Vec<(i64, Arc<Event>)>>,
    correlators: Vec<Correlator>,
    /// Correlations another correlation counts without `generate` raise no alert of their own.
    quiet: Vec<bool>,
}

impl SigmaRun {
    pub fn new(engine: &Engine) -> SigmaRun {
        let set = engine.sigma();
        let mut counted_by = vec![0; set.rules.len()];
        let mut quiet = vec![false; set.correlations.len()];
        for c in &set.correlations {
            for s in &c.sources {
                match s {
                    Source::Rule(r) => counted_by[*r] += 1,
                    Source::Correlation(k) if !c.doc.generate => quiet[*k] = true,
                    Source::Correlation(_) => {}
                }
            }
        }
        SigmaRun {
            pending: vec![Vec::new(); set.rules.len()],
            counted_by,
            correlators: set
                .correlations
                .iter()
                .map(|_| Correlator::new(correlation_limits(set)))
                .collect(),
            quiet,
        }
    }

    /// Matches kept for correlations.
    pub fn pending(&self) -> usize {
        self.pending.iter().map(Vec::len).sum()
    }

    /// Matches the correlations dropped from full windows (bounded state).
    pub fn evicted(&self) -> u64 {
        self.correlators.iter().map(|c| c.stats().evicted).sum()
    }

    /// Groups the correlations evicted from full state (`max_correlation_groups`).
    pub fn groups_evicted(&self) -> u64 {
        self.correlators
            .iter()
            .map(|c| c.stats().groups_evicted)
            .sum()
    }

    /// A match `(rule, event time, event)`: its alert (unless an exception leaves it out)
    /// and, for the correlations that count it, a hit to place once event time reaches it.
    /// `clock` dates an alert on an event without a time; a hit at or before `watermark` is
    /// late.
    pub fn hit(
        &mut self,
        engine: &Engine,
        (r, ts, event): (usize, Option<i64>, Arc<Event>),
        (clock, watermark): (i64, Option<i64>),
        (seq, scope): (u64, Scope),
        out: &mut SigmaOutcome,
    ) {
        let rule = &engine.sigma().rules[r];
        if rule.emits && scope.per_event() {
            match engine
                .exceptions()
                .for_rule(&rule.meta)
                .excluding_event(&event, ts)
            {
                Some(x) => out.excluded.alert(x),
                None => {
                    let when = ts.unwrap_or(clock);
                    let id = stable_id(&[&rule.meta.id, &document_id(&event)]);
                    let mut alert = Alert::new(rule.meta.clone(), when, id);
                    let mut fields = Map::new();
                    for f in &rule.fields {
                        if let Some(v) = lookup(&event)(f) {
                            fields.insert(f.clone(), v);
                        }
                    }
                    alert.entity = entity_of(&fields, &lookup(&event));
                    alert.fields = fields;
                    on_event(&mut alert, &event, ts);
                    let order = Order {
                        ts: when,
                        kind: Kind::Sigma,
                        rule: r,
                        seq,
                    };
                    out.alerts.push((order, alert));
                }
            }
        }
        match ts {
            _ if self.counted_by[r] == 0 || !scope.windows() => {}
            Some(ts) => {
                out.late += u64::from(watermark.is_some_and(|w| ts <= w));
                self.pending[r].push((ts, event));
            }
            None => out.no_timestamp += self.counted_by[r],
        }
    }

    /// Its state as data.
    pub fn snapshot(&self, engine: &Engine) -> SigmaState {
        let set = engine.sigma();
        SigmaState {
            pending: set
                .rules
                .iter()
                .zip(&self.pending)
                .filter(|(_, hits)| !hits.is_empty())
                .map(|(r, hits)| (r.meta.id.clone(), hits.clone()))
                .collect(),
            correlators: set
                .correlations
                .iter()
                .zip(&self.correlators)
                .map(|(c, state)| (c.meta.id.clone(), state.clone()))
                .collect(),
        }
    }

    /// The state a snapshot kept, matched to the rules and correlations by id; returns how
    /// many pieces of it matched nothing loaded now.
    pub fn restore(&mut self, engine: &Engine, state: SigmaState) -> u64 {
        let set = engine.sigma();
        let mut dropped = 0;
        for (id, hits) in state.pending {
            match set.rules.iter().position(|r| r.meta.id == id) {
                Some(r) if self.counted_by[r] > 0 => self.pending[r] = hits,
                _ => dropped += 1,
            }
        }
        for (id, correlator) in state.correlators {
            match set.correlations.iter().position(|c| c.meta.id == id) {
                Some(k) => {
                    self.correlators[k] = correlator;
                    self.correlators[k].set_limits(correlation_limits(set));
                }
                None => dropped += 1,
            }
        }
        dropped
    }

    /// Feeds the correlations the matches up to `to` (event time), in time order; `seq`
    /// numbers the alerts made.
    pub fn advance(
        &mut self,
        engine: &Engine,
        to: i64,
        seq: &mut u64,
        scope: Scope,
    ) -> SigmaOutcome {
        let set = engine.sigma();
        let mut out = SigmaOutcome::default();
        if set.correlations.is_empty() {
            return out;
        }
        // The matches event time has reached; the rest wait (order kept).
        let released: Vec<Vec<(i64, Arc<Event>)>> = self
            .pending
            .iter_mut()
            .map(|hits| {
                let (now, later): (Vec<_>, Vec<_>) = std::mem::take(hits)
                    .into_iter()
                    .partition(|(ts, _)| *ts <= to);
                *hits = later;
                now
            })
            .collect();
        // The exceptions of each rule; a correlation counts the events of a rule that
        // neither its own nor the rule's exceptions match.
        let own: Vec<_> = set
            .rules
            .iter()
            .map(|r| engine.exceptions().for_rule(&r.meta))
            .collect();
        let mut matches: Vec<Vec<CorrelationMatch>> = Vec::with_capacity(set.correlations.len());
        for (k, c) in set.correlations.iter().enumerate() {
            let mut input = Vec::new();
            let mine = engine.exceptions().for_rule(&c.meta);
            for (source, s) in c.sources.iter().enumerate() {
                match s {
                    Source::Rule(r) => {
                        let exceptions = mine.union(&own[*r]);
                        for (ts, event) in &released[*r] {
                            // A group whose key another partition owns is counted there.
                            if scope != Scope::All && !scope.owns(group_key(c, source, event)) {
                                continue;
                            }
                            if let Some(x) = exceptions.excluding_event(event, Some(*ts)) {
                                out.excluded.event(x);
                                continue;
                            }
                            input.push(Hit {
                                ts: *ts,
                                source,
                                event: event.clone(),
                            });
                        }
                    }
                    Source::Correlation(j) => {
                        for m in matches.get(*j).into_iter().flatten() {
                            input.push(Hit {
                                ts: m.ts,
                                source,
                                event: m.last.clone(),
                            });
                        }
                    }
                }
            }
            input.sort_by_key(|h| h.ts);
            let correlator = &mut self.correlators[k];
            let mut found: Vec<CorrelationMatch> = Vec::new();
            for (n, hit) in input.into_iter().enumerate() {
                let ts = hit.ts;
                found.extend(correlator.push(c, hit));
                // What no later window can hold goes as the hits pass, not only when the
                // watermark moves: the end of a hunt feeds every match at once.
                if n % EVICT_EVERY == EVICT_EVERY - 1 {
                    correlator.evict(c, ts);
                }
            }
            if to != i64::MAX {
                correlator.evict(c, to);
            }
            if !self.quiet[k] {
                for m in &found {
                    let order = Order {
                        ts: m.ts,
                        kind: Kind::Correlation,
                        rule: k,
                        seq: *seq,
                    };
                    *seq += 1;
                    out.alerts.push((order, correlation_alert(c, m)));
                }
            }
            matches.push(found);
        }
        out
    }
}

/// Hits a correlation takes between two evictions of what its windows no longer hold.
const EVICT_EVERY: usize = 4096;

/// The state limits of each correlation: the defaults, with the rule set's group bound.
fn correlation_limits(set: &modelward_sigma::SigmaSet) -> Limits {
    Limits {
        max_groups: set.limits().max_correlation_groups,
        ..Limits::default()
    }
}

fn figure_name(c: &SigmaCorrelation) -> &'static str {
    use modelward_sigma::rule::CorrelationType::*;
    match c.doc.kind {
        EventCount => "event_count",
        ValueCount => "value_count",
        Temporal | TemporalOrdered => "rules_matched",
        ValueSum => "value_sum",
        ValueAvg => "value_avg",
        ValuePercentile => "value_percentile",
        ValueMedian => "value_median",
        ValueMin => "value_min",
        ValueMax => "value_max",
    }
}

fn correlation_alert(c: &SigmaCorrelation, m: &CorrelationMatch) -> Alert {
    let group_key: Vec<String> = m.group.iter().map(|(_, v)| v.to_string()).collect();
    let id = stable_id(&[&c.meta.id, &group_key.join("\u{1f}"), &m.ts.to_string()]);
    let mut alert = Alert::new(c.meta.clone(), m.ts, id);
    alert.window = Some(AlertWindow {
        start: m.window_start,
        end: m.ts,
    });
    let mut fields = Map::new();
    for (name, value) in &m.group {
        fields.insert(name.clone(), value.clone());
    }
    let value = if m.value.fract() == 0.0 {
        json!(m.value as i64)
    } else {
        json!(m.value)
    };
    fields.insert(figure_name(c).into(), value);
    alert.entity = entity_of(&fields, &lookup(&m.last));
    alert.fields = fields;
    over_events(
        &mut alert,
        Some(m.events),
        m.first,
        m.ts,
        crate::alerting::origins_json(m.samples.iter().map(|e| &e.origin)),
    );
    alert
}
