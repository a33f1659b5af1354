//! Correlation rules over event time, with sliding windows.
//!
//! For each group (the values of `group-by`, per referenced rule after aliases), the window
//! holds the matches of the last `timespan`: `[t − timespan, t]` at each new match `t`. The
//! condition is evaluated at every match; a group raises one correlation match when the
//! condition becomes true, and can raise another only after it has been false again (so a
//! burst of 500 failed logins is one alert, not 400). This is a sliding window, not fixed
//! buckets: ten events from 09:55 to 10:04 are within a 10-minute timespan.
//!
//! What is counted: `event_count` the matches; `value_count` the distinct values of `field`;
//! `value_sum`, `value_avg`, `value_min`, `value_max`, `value_median` and `value_percentile`
//! the numeric values of `field` (`percentile` defaults to 95, nearest rank); `temporal` the
//! distinct referenced rules present (default condition: all of them); `temporal_ordered`
//! the referenced rules present in the given order (greedy, first occurrences).
//!
//! State is bounded ([`Limits`]): a group's window keeps at most `per_group` matches, and a
//! correlation at most `max_groups` groups; when full, the least recently seen tenth of the
//! groups is evicted (and counted), as the behavioural analyzers evict principals. A field
//! with millions of distinct values thus costs at most `max_groups` windows.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use modelward_event::Event;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::collection::SigmaCorrelation;
use crate::rule::CorrelationType;

/// A match of a referenced rule (or correlation), fed to a correlation.
#[derive(Debug, Clone)]
pub struct Hit {
    pub ts: i64,
    /// Index into the correlation's `sources`.
    pub source: usize,
    pub event: Arc<Event>,
}

/// A correlation's match.
#[derive(Debug, Clone)]
pub struct CorrelationMatch {
    pub ts: i64,
    pub window_start: i64,
    /// (group-by field, value) of the group.
    pub group: Vec<(String, Json)>,
    /// The counted figure: events, distinct values, sum, rules present...
    pub value: f64,
    pub events: u64,
    pub first: i64,
    /// The first few matches in the window.
    pub samples: Vec<Arc<Event>>,
    /// The match that completed the condition.
    pub last: Arc<Event>,
}

/// Limits on the state of one correlation.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Limits {
    /// Matches kept per group window; the oldest are evicted (and counted) beyond it.
    pub per_group: usize,
    pub samples: usize,
    /// Groups kept; when full, the least recently seen tenth is evicted (and counted).
    #[serde(default = "default_max_groups")]
    pub max_groups: usize,
}

fn default_max_groups() -> usize {
    modelward_rule::Limits::default().max_correlation_groups
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            per_group: 100_000,
            samples: 5,
            max_groups: default_max_groups(),
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CorrelationStats {
    pub groups: u64,
    /// Matches evicted from full group windows.
    pub evicted: u64,
    /// Groups evicted from a full correlation (the least recently seen).
    #[serde(default)]
    pub groups_evicted: u64,
    /// Hits without a group value for a `value_*` field, ignored for the figure.
    pub missing_values: u64,
}

#[derive(Clone, Serialize, Deserialize)]
struct Entry {
    ts: i64,
    source: usize,
    value: Option<Json>,
    event: Arc<Event>,
}

/// The first value of the first of `fields` the event has.
/// The partition key of the group a hit of `source` goes to: its `group-by` values (a
/// correlation without `group-by` has one group, the hash of no bytes). `watch`'s
/// scale-out routes the hit's record by it, so each group's window lives on one instance.
pub fn group_key(c: &SigmaCorrelation, source: usize, event: &Event) -> u64 {
    use modelward_event::hash::{fnv1a_extend, FNV_OFFSET};
    let Some(fields) = c.group_fields.get(source) else {
        return FNV_OFFSET;
    };
    fields
        .iter()
        .take(c.doc.group_by.len())
        .fold(FNV_OFFSET, |h, field| {
            let value = first_value(event, field).unwrap_or(Json::Null);
            fnv1a_extend(fnv1a_extend(h, value.to_string().as_bytes()), &[0xff])
        })
}

fn first_value(event: &Event, fields: &[String]) -> Option<Json> {
    fields
        .iter()
        .find_map(|field| event.get(field).into_iter().next().cloned())
}

fn number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The figure the condition compares, over the window.
fn figure(c: &SigmaCorrelation, window: &VecDeque<Entry>) -> Option<f64> {
    let numbers = || -> Vec<f64> {
        window
            .iter()
            .filter_map(|e| e.value.as_ref().and_then(number))
            .collect()
    };
    Some(match c.doc.kind {
        CorrelationType::EventCount => window.len() as f64,
        CorrelationType::ValueCount => {
            let mut seen: Vec<String> = window
                .iter()
                .filter_map(|e| e.value.as_ref())
                .map(|v| v.to_string())
                .collect();
            seen.sort();
            seen.dedup();
            seen.len() as f64
        }
        CorrelationType::ValueSum => numbers().iter().sum(),
        CorrelationType::ValueAvg => {
            let xs = numbers();
            if xs.is_empty() {
                return None;
            }
            xs.iter().sum::<f64>() / xs.len() as f64
        }
        CorrelationType::ValueMin => numbers().into_iter().reduce(f64::min)?,
        CorrelationType::ValueMax => numbers().into_iter().reduce(f64::max)?,
        CorrelationType::ValueMedian | CorrelationType::ValuePercentile => {
            let mut xs = numbers();
            if xs.is_empty() {
                return None;
            }
            xs.sort_by(f64::total_cmp);
            let p = if c.doc.kind == CorrelationType::ValueMedian {
                50.0
            } else {
                c.doc.percentile.unwrap_or(95.0)
            };
            let rank = ((p / 100.0) * xs.len() as f64).ceil() as usize;
            xs[rank.clamp(1, xs.len()) - 1]
        }
        CorrelationType::Temporal => {
            let mut present = vec![false; c.sources.len()];
            window.iter().for_each(|e| present[e.source] = true);
            present.iter().filter(|p| **p).count() as f64
        }
        CorrelationType::TemporalOrdered => {
            let mut next = 0;
            for e in window {
                if next < c.sources.len() && e.source == next {
                    next += 1;
                }
            }
            next as f64
        }
    })
}

/// Evaluates a correlation over its hits (any order); matches come back in time order.
pub fn evaluate(
    c: &SigmaCorrelation,
    mut hits: Vec<Hit>,
    limits: Limits,
) -> (Vec<CorrelationMatch>, CorrelationStats) {
    hits.sort_by_key(|h| h.ts);
    let mut correlator = Correlator::new(limits);
    let out = hits
        .into_iter()
        .filter_map(|hit| correlator.push(c, hit))
        .collect();
    (out, correlator.stats())
}

/// The state of one correlation fed hits one at a time, in event-time order: the window of
/// every group and whether its condition held at its last hit. [`evaluate`] is this over a
/// whole set of hits; a live engine keeps one per correlation and calls [`Correlator::evict`]
/// as event time advances, so state stays bounded by the groups of the last `timespan`.
/// It is plain data: a live engine's checkpoint serializes it.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Correlator {
    limits: Limits,
    groups: HashMap<String, Group>,
    stats: CorrelationStats,
}

#[derive(Clone, Default, Serialize, Deserialize)]
struct Group {
    window: VecDeque<Entry>,
    /// The condition held at the group's last hit: it alerts again only after being false.
    active: bool,
    /// The time of its latest hit: the least recently seen groups are evicted first.
    #[serde(default)]
    last: i64,
}

impl Correlator {
    pub fn new(limits: Limits) -> Correlator {
        Correlator {
            limits,
            ..Correlator::default()
        }
    }

    pub fn stats(&self) -> CorrelationStats {
        self.stats
    }

    /// Applies `limits` from now on (a correlator restored from a checkpoint takes the
    /// limits of the run that restores it); a smaller `max_groups` evicts at the next new
    /// group.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// Evicts the least recently seen tenth of the groups (at least one).
    fn evict_idle(&mut self) {
        let mut by_age: Vec<(i64, &String)> =
            self.groups.iter().map(|(k, g)| (g.last, k)).collect();
        by_age.sort_unstable();
        let n = (self.limits.max_groups / 10).max(1);
        let keys: Vec<String> = by_age.into_iter().take(n).map(|(_, k)| k.clone()).collect();
        for key in keys {
            if self.groups.remove(&key).is_some() {
                self.stats.groups_evicted += 1;
            }
        }
    }

    /// Groups kept now.
    pub fn groups(&self) -> usize {
        self.groups.len()
    }

    /// Takes one hit (not earlier than the previous one for exact sliding windows); returns
    /// the match it completes, if the group's condition became true.
    pub fn push(&mut self, c: &SigmaCorrelation, hit: Hit) -> Option<CorrelationMatch> {
        let limits = self.limits;
        let span = c.doc.timespan_ms;
        let fields = &c.group_fields[hit.source];
        let group: Vec<(String, Json)> = c
            .doc
            .group_by
            .iter()
            .zip(fields)
            .map(|(name, field)| {
                (
                    name.clone(),
                    first_value(&hit.event, field).unwrap_or(Json::Null),
                )
            })
            .collect();
        let key = serde_json::to_string(&group.iter().map(|(_, v)| v).collect::<Vec<_>>())
            .unwrap_or_default();
        let value = c.value_field[hit.source]
            .as_deref()
            .and_then(|f| first_value(&hit.event, f));
        if c.doc.kind.needs_field() && value.is_none() {
            self.stats.missing_values += 1;
        }
        if !self.groups.contains_key(&key) && self.groups.len() >= limits.max_groups.max(1) {
            self.evict_idle();
        }
        let stats = &mut self.stats;
        let Group {
            window,
            active,
            last,
        } = self.groups.entry(key).or_insert_with(|| {
            stats.groups += 1;
            Group::default()
        });
        *last = (*last).max(hit.ts);
        window.push_back(Entry {
            ts: hit.ts,
            source: hit.source,
            value,
            event: hit.event.clone(),
        });
        while window.front().is_some_and(|e| e.ts < hit.ts - span) {
            window.pop_front();
        }
        while window.len() > limits.per_group {
            window.pop_front();
            stats.evicted += 1;
        }
        let holds = figure(c, window).is_some_and(|v| {
            c.doc
                .condition
                .iter()
                .all(|(op, bound)| op.holds(v, *bound))
        });
        let found = (holds && !*active).then(|| CorrelationMatch {
            ts: hit.ts,
            window_start: hit.ts - span,
            group,
            value: figure(c, window).unwrap_or(0.0),
            events: window.len() as u64,
            first: window.front().map_or(hit.ts, |e| e.ts),
            samples: window
                .iter()
                .take(limits.samples)
                .map(|e| e.event.clone())
                .collect(),
            last: hit.event,
        });
        *active = holds;
        found
    }

    /// Forgets the matches no window at or after `now` can hold (older than `now −
    /// timespan`), and the groups left with nothing to remember: an empty window whose
    /// condition was false. (A group whose condition held keeps its flag, so that it does
    /// not alert again before the condition has been false, as [`evaluate`] would.)
    pub fn evict(&mut self, c: &SigmaCorrelation, now: i64) {
        let horizon = now.saturating_sub(c.doc.timespan_ms);
        self.groups.retain(|_, g| {
            while g.window.front().is_some_and(|e| e.ts < horizon) {
                g.window.pop_front();
            }
            !g.window.is_empty() || g.active
        });
    }
}
