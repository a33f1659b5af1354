//! A principal's activity in fixed time buckets, each judged against the principal's own
//! previous active buckets: the skeleton of the volume (MW-AI-0013), sensitive-data
//! (MW-AI-0015) and bulk-download (MW-TH-0008) analyzers.
//!
//! A [`BucketedBaseline`] holds the bucket being filled and a history of closed buckets (at
//! most [`Bucket::kept`], oldest dropped first). An event in a later bucket closes the open
//! one first; buckets without events are never opened, so they are not part of the
//! baseline. When a bucket opens it takes its baseline from the history
//! ([`Bucket::baseline`]; none while the principal warms up) and keeps it until it closes.
//! After each event the bucket is checked against it ([`Bucket::crosses`]); the event that
//! crosses is the finding's time, and the finding is reported when the bucket closes (by a
//! later event, by eviction, or at the end of the run: [`Pending`]), with the bucket's start
//! as its key, so the alert id is the same whenever it is reported.
//!
//! What a bucket counts and how it is judged is the analyzer's: one [`Bucket`] impl.

use std::collections::VecDeque;
use std::fmt::Debug;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::analyzers::iso;
use crate::profiles::Pending;
use crate::{Finding, Sample, Span};

/// What one bucket of a [`BucketedBaseline`] counts, and how it is judged. The bucket's own
/// fields are saved flattened into the open bucket's JSON (beside `start`, `first`, `last`,
/// `baseline` and `crossed`).
pub trait Bucket: Default + Clone + Debug + Serialize + DeserializeOwned {
    /// The finding's code.
    const CODE: &'static str;
    /// The analyzer's settings.
    type Settings;
    /// What is counted (a call).
    type Event: ?Sized;
    /// What a closed bucket leaves in the history.
    type Closed: Clone + Debug + Serialize + DeserializeOwned;
    /// What a bucket is judged against: taken from the history when it opens.
    type Baseline: Clone + Debug + Serialize + DeserializeOwned;

    /// The width of a bucket.
    fn width(s: &Self::Settings) -> Span;
    /// Closed buckets the history keeps.
    fn kept(s: &Self::Settings) -> usize;
    /// The baseline of a bucket opening after `history`; `None` while the principal warms up
    /// (the bucket is then never reported).
    fn baseline(s: &Self::Settings, history: &VecDeque<Self::Closed>) -> Option<Self::Baseline>;
    /// Counts one event.
    fn add(&mut self, event: &Self::Event);
    /// Whether the counts so far cross the baseline (asked after each event until they do).
    fn crosses(&self, s: &Self::Settings, baseline: &Self::Baseline) -> bool;
    /// Sees the event that crossed and every later one of the bucket (to keep samples of
    /// the anomaly).
    fn add_crossed(&mut self, _event: &Self::Event) {}
    /// What the bucket leaves in the history when it closes.
    fn closed(&self, start: i64) -> Self::Closed;
    /// What the finding of a bucket that crossed says.
    fn report(self, s: &Self::Settings, principal: &str, c: &Crossed<Self::Baseline>) -> Report;
}

/// A bucket that crossed its baseline, as it closes.
#[derive(Debug, Clone)]
pub struct Crossed<B> {
    pub start: i64,
    pub width: Span,
    /// The first and the last event in it.
    pub first: i64,
    pub last: i64,
    /// The event that crossed.
    pub at: i64,
    pub baseline: B,
    /// Closed buckets in the history (those the baseline was taken from).
    pub buckets: usize,
}

impl<B> Crossed<B> {
    /// The bucket for the evidence: `{"start", "end", "size"}`.
    pub fn bucket(&self) -> Value {
        json!({
            "start": iso(self.start),
            "end": iso(self.start.saturating_add(self.width.0)),
            "size": self.width.to_string(),
        })
    }
}

/// The analyzer's part of a finding (the rest is the bucket's: code, principal, time, key).
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub summary: String,
    pub evidence: Map<String, Value>,
    pub samples: Vec<Sample>,
    pub source_ip: Option<String>,
    pub model: Option<String>,
}

/// The bucket being filled.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(bound(
    serialize = "B: Serialize, B::Baseline: Serialize",
    deserialize = "B: DeserializeOwned, B::Baseline: DeserializeOwned"
))]
pub struct Open<B: Bucket> {
    pub start: i64,
    #[serde(flatten)]
    pub counts: B,
    pub first: i64,
    pub last: i64,
    pub baseline: Option<B::Baseline>,
    /// When the bucket crossed its baseline.
    pub crossed: Option<i64>,
}

/// One principal's buckets: the open one and the closed ones its baseline is taken from.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "B: Serialize, B::Closed: Serialize, B::Baseline: Serialize",
    deserialize = "B: DeserializeOwned, B::Closed: DeserializeOwned, B::Baseline: DeserializeOwned"
))]
pub struct BucketedBaseline<B: Bucket> {
    pub history: VecDeque<B::Closed>,
    pub current: Option<Open<B>>,
}

impl<B: Bucket> Default for BucketedBaseline<B> {
    fn default() -> Self {
        BucketedBaseline {
            history: VecDeque::new(),
            current: None,
        }
    }
}

impl<B: Bucket> BucketedBaseline<B> {
    /// Counts `event` at `ts` (never earlier than the previous one) in its bucket: the open
    /// bucket is closed first when `ts` is past its end, and reported if it crossed.
    pub fn observe(
        &mut self,
        s: &B::Settings,
        principal: &str,
        ts: i64,
        event: &B::Event,
        out: &mut Vec<Finding>,
    ) {
        let width = B::width(s).0;
        let start = ts.div_euclid(width).saturating_mul(width);
        if self.current.as_ref().is_some_and(|c| c.start != start) {
            self.close(s, principal, out);
        }
        let history = &self.history;
        let c = self.current.get_or_insert_with(|| Open {
            start,
            counts: B::default(),
            first: ts,
            last: ts,
            baseline: B::baseline(s, history),
            crossed: None,
        });
        c.counts.add(event);
        c.last = ts;
        if let (None, Some(b)) = (c.crossed, &c.baseline) {
            if c.counts.crosses(s, b) {
                c.crossed = Some(ts);
            }
        }
        if c.crossed.is_some() {
            c.counts.add_crossed(event);
        }
    }

    /// Ends the open bucket: reports it if it crossed its baseline, and adds it to the
    /// history.
    pub fn close(&mut self, s: &B::Settings, principal: &str, out: &mut Vec<Finding>) {
        let Some(c) = self.current.take() else {
            return;
        };
        let closed = c.counts.closed(c.start);
        if let (Some(at), Some(baseline)) = (c.crossed, c.baseline) {
            let crossed = Crossed {
                start: c.start,
                width: B::width(s),
                first: c.first,
                last: c.last,
                at,
                baseline,
                buckets: self.history.len(),
            };
            let r = c.counts.report(s, principal, &crossed);
            out.push(Finding {
                code: B::CODE,
                principal: principal.to_string(),
                timestamp: at,
                key: c.start.to_string(),
                summary: r.summary,
                first_seen: c.first,
                last_seen: c.last,
                evidence: r.evidence,
                samples: r.samples,
                source_ip: r.source_ip,
                model: r.model,
            });
        }
        self.history.push_back(closed);
        while self.history.len() > B::kept(s) {
            self.history.pop_front();
        }
    }
}

impl<B: Bucket> Pending for BucketedBaseline<B> {
    type Settings = B::Settings;

    fn flush(mut self, s: &B::Settings, principal: &str, out: &mut Vec<Finding>) {
        self.close(s, principal, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyzers::median_mad;
    use crate::Profiles;

    const HOUR: i64 = 3_600_000;

    struct Toy {
        kept: usize,
        warmup: usize,
        ratio: f64,
    }

    const TOY: Toy = Toy {
        kept: 4,
        warmup: 2,
        ratio: 3.0,
    };

    /// Counts units; crosses at `ratio` times the median of the closed buckets.
    #[derive(Debug, Clone, Default, Serialize, Deserialize)]
    struct Units {
        units: u64,
        /// Units seen from the crossing on.
        after: u64,
    }

    impl Bucket for Units {
        const CODE: &'static str = "MW-TEST";
        type Settings = Toy;
        type Event = u64;
        type Closed = (i64, u64);
        type Baseline = f64;

        fn width(_: &Toy) -> Span {
            Span(HOUR)
        }
        fn kept(s: &Toy) -> usize {
            s.kept
        }
        fn baseline(s: &Toy, history: &VecDeque<(i64, u64)>) -> Option<f64> {
            let v: Vec<f64> = history.iter().map(|(_, n)| *n as f64).collect();
            (history.len() >= s.warmup).then(|| median_mad(&v).0)
        }
        fn add(&mut self, n: &u64) {
            self.units += n;
        }
        fn crosses(&self, s: &Toy, median: &f64) -> bool {
            self.units as f64 >= s.ratio * median
        }
        fn add_crossed(&mut self, n: &u64) {
            self.after += n;
        }
        fn closed(&self, start: i64) -> (i64, u64) {
            (start, self.units)
        }
        fn report(self, _: &Toy, principal: &str, c: &Crossed<f64>) -> Report {
            let mut evidence = Map::new();
            evidence.insert("bucket".into(), c.bucket());
            evidence.insert("after".into(), json!(self.after));
            evidence.insert("buckets".into(), json!(c.buckets));
            Report {
                summary: format!("{principal}: {} units, median {}", self.units, c.baseline),
                evidence,
                ..Report::default()
            }
        }
    }

    /// `(ts, units)` through one principal's window; the findings, then those of the end.
    fn run(w: &mut BucketedBaseline<Units>, events: &[(i64, u64)]) -> (Vec<Finding>, Vec<Finding>) {
        let mut out = Vec::new();
        for (ts, n) in events {
            w.observe(&TOY, "p", *ts, n, &mut out);
        }
        let mut end = Vec::new();
        std::mem::take(w).flush(&TOY, "p", &mut end);
        (out, end)
    }

    #[test]
    fn buckets_close_when_time_passes_their_end_and_judge_against_the_history() {
        let mut w = BucketedBaseline::<Units>::default();
        // Two warm-up hours of 10, an hour with nothing, then 30 within the next hour.
        let mut events = vec![(0, 10), (HOUR + 5, 10)];
        events.extend((0..6).map(|i| (3 * HOUR + i * 1000, 5)));
        events.push((4 * HOUR, 1));
        let (out, end) = run(&mut w, &events);
        assert_eq!(out.len(), 1, "{out:?}");
        let f = &out[0];
        assert_eq!(f.code, "MW-TEST");
        // The bucket's start is the key; the event that crossed (the sixth, 30 = 3 × 10) is
        // the time; first and last are the bucket's.
        assert_eq!(f.key, (3 * HOUR).to_string());
        assert_eq!(f.timestamp, 3 * HOUR + 5000);
        assert_eq!((f.first_seen, f.last_seen), (3 * HOUR, 3 * HOUR + 5000));
        assert_eq!(f.summary, "p: 30 units, median 10");
        assert_eq!(f.evidence["after"], json!(5));
        // The empty hour is not part of the history.
        assert_eq!(f.evidence["buckets"], json!(2));
        assert_eq!(
            f.evidence["bucket"],
            json!({"start": "1970-01-01T03:00:00.000Z", "end": "1970-01-01T04:00:00.000Z", "size": "1h"})
        );
        // The last bucket (1 unit) did not cross: nothing at the end.
        assert!(end.is_empty());
    }

    #[test]
    fn warm_up_history_bound_and_negative_times() {
        let mut w = BucketedBaseline::<Units>::default();
        let mut out = Vec::new();
        // One bucket is not enough to judge: its successor never alerts.
        w.observe(&TOY, "p", -1, &1, &mut out);
        w.observe(&TOY, "p", 0, &100, &mut out);
        assert_eq!(w.history.iter().map(|b| b.0).collect::<Vec<_>>(), [-HOUR]);
        assert!(w.current.as_ref().unwrap().baseline.is_none());
        for h in 1..10 {
            w.observe(&TOY, "p", h * HOUR, &1, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(w.history.len(), TOY.kept);
        assert_eq!(w.history.back(), Some(&(8 * HOUR, 1)));
        // The baseline is fixed when the bucket opens.
        assert_eq!(w.current.as_ref().unwrap().baseline, Some(1.0));
    }

    #[test]
    fn a_crossed_bucket_open_at_the_end_is_reported_by_the_flush_and_by_eviction() {
        let mut events: Vec<(i64, u64)> = (0..3).map(|h| (h * HOUR, 2)).collect();
        events.push((3 * HOUR, 50));
        let (out, end) = run(&mut BucketedBaseline::default(), &events);
        assert!(out.is_empty());
        assert_eq!(end.len(), 1);
        assert_eq!(end[0].key, (3 * HOUR).to_string());
        // Evicted from a full map of profiles: reported then, with the same key.
        let mut profiles: Profiles<BucketedBaseline<Units>> = Profiles::new(1);
        let mut evicted = Vec::new();
        for (ts, n) in &events {
            profiles
                .touch_reporting("p", *ts, &TOY, &mut evicted)
                .observe(&TOY, "p", *ts, n, &mut evicted);
        }
        profiles.touch_reporting("q", 4 * HOUR, &TOY, &mut evicted);
        assert_eq!(evicted.len(), 1, "{evicted:?}");
        assert_eq!(evicted[0].key, end[0].key);
        assert_eq!(profiles.evicted(), 1);
    }

    #[test]
    fn saved_as_history_and_current_with_the_bucket_fields_flattened() {
        let mut w = BucketedBaseline::<Units>::default();
        let mut out = Vec::new();
        for h in 0..3 {
            w.observe(&TOY, "p", h * HOUR, &4, &mut out);
        }
        w.observe(&TOY, "p", 3 * HOUR, &20, &mut out);
        let v = serde_json::to_value(&w).unwrap();
        assert_eq!(
            v,
            json!({
                "history": [[0, 4], [HOUR, 4], [2 * HOUR, 4]],
                "current": {"start": 3 * HOUR, "units": 20, "after": 20, "first": 3 * HOUR,
                            "last": 3 * HOUR, "baseline": 4.0, "crossed": 3 * HOUR},
            })
        );
        let back: BucketedBaseline<Units> = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), v);
        let mut back = back;
        let (_, end) = run(&mut back, &[]);
        assert_eq!(end[0].summary, "p: 20 units, median 4");
    }
}
