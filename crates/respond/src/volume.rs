//! The principals' call volume over time, counted from the logs: the baseline comparison of
//! triage check 1.1 and the report's chart.

use std::collections::{BTreeMap, HashSet};

use modelward_behavior::Call;

use crate::Logs;
use modelward_event::ingest::{record_events, Ingested};
use modelward_event::input::Reader;
use serde::{Deserialize, Serialize};

/// Calls per time bucket for each principal of an incident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeSeries {
    /// Bucket width, ms.
    pub bucket_ms: i64,
    /// Per principal: bucket start (ms) → calls.
    pub series: BTreeMap<String, BTreeMap<i64, u64>>,
    /// Bytes read from object storage per principal and bucket (storage events).
    pub bytes: BTreeMap<String, BTreeMap<i64, u64>>,
    /// Object-storage access records among all the inputs (any principal): whether the logs
    /// read can answer questions about downloads at all.
    #[serde(default)]
    pub storage_records: u64,
    /// Per principal: the time of each call counted, in order, so that a time frame shorter
    /// than a bucket (a four-minute attack in an hourly bucket) is counted call by call. Not
    /// saved with the analysis (the buckets are); at most [`MAX_TIMES`] a principal, beyond
    /// which the buckets count.
    #[serde(skip)]
    pub times: BTreeMap<String, Vec<i64>>,
}

/// Call times kept per principal for exact counts.
pub const MAX_TIMES: usize = 1_000_000;

/// At most this many bars in the report's chart of an incident ([`VolumeSeries::for_chart`]).
pub const CHART_BARS: i64 = 60;

/// The chart's bucket widths, ms: 1, 5, 15, 30 s; 1, 5, 15, 30 min; 1, 3, 6, 12 h; 1, 7 d.
pub const CHART_STEPS: [i64; 14] = [
    1_000,
    5_000,
    15_000,
    30_000,
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    604_800_000,
];

impl VolumeSeries {
    /// Total calls of `principal` in `[from, to]`: counted call by call when the times are
    /// known, else the buckets that overlap the frame.
    pub fn calls_between(&self, principal: &str, from: i64, to: i64) -> u64 {
        if let Some(times) = self.times.get(principal) {
            let complete = times.len() < MAX_TIMES
                || self
                    .series
                    .get(principal)
                    .map_or(0, |s| s.values().sum::<u64>())
                    == times.len() as u64;
            if complete {
                let lo = times.partition_point(|t| *t < from);
                let hi = times.partition_point(|t| *t <= to);
                return hi.saturating_sub(lo) as u64;
            }
        }
        self.series
            .get(principal)
            .map(|s| {
                s.range(from - from.rem_euclid(self.bucket_ms.max(1))..=to)
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Adds `newer`'s counts: its buckets replace these (the same logs read again count the
    /// same), other buckets stay.
    pub fn merge(&mut self, newer: VolumeSeries) {
        if self.bucket_ms != newer.bucket_ms && !newer.is_empty() {
            *self = VolumeSeries {
                storage_records: self.storage_records.max(newer.storage_records),
                ..newer
            };
            return;
        }
        for (who, buckets) in newer.series {
            self.series.entry(who).or_default().extend(buckets);
        }
        for (who, buckets) in newer.bytes {
            self.bytes.entry(who).or_default().extend(buckets);
        }
        for (who, times) in newer.times {
            // The newer read counts the same calls again: its times replace these in its
            // frame.
            let (Some(lo), Some(hi)) = (times.first().copied(), times.last().copied()) else {
                continue;
            };
            let mine = self.times.entry(who).or_default();
            mine.retain(|t| *t < lo || *t > hi);
            mine.extend(times);
            mine.sort_unstable();
        }
        self.storage_records = self.storage_records.max(newer.storage_records);
        if self.bucket_ms == 0 {
            self.bucket_ms = newer.bucket_ms;
        }
    }

    /// No calls and no bytes counted.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty() && self.bytes.is_empty()
    }

    /// Mean calls per bucket of `principal` over the buckets before `before` in which it
    /// called at all, and how many such buckets there were.
    pub fn baseline(&self, principal: &str, before: i64) -> (f64, usize) {
        let Some(s) = self.series.get(principal) else {
            return (0.0, 0);
        };
        let start = before - before.rem_euclid(self.bucket_ms.max(1));
        let earlier: Vec<u64> = s.range(..start).map(|(_, n)| *n).collect();
        if earlier.is_empty() {
            return (0.0, 0);
        }
        (
            earlier.iter().sum::<u64>() as f64 / earlier.len() as f64,
            earlier.len(),
        )
    }
}

/// Counts the calls of `principals` (matched as principal, API key id or client address) in
/// the logs, per `bucket_ms`, reading them as the hunt did. Records that cannot be read are
/// skipped: the hunt has already reported them.
pub fn count(logs: &Logs, principals: &HashSet<String>, bucket_ms: i64) -> VolumeSeries {
    let mut out = VolumeSeries {
        bucket_ms,
        ..VolumeSeries::default()
    };
    // One automaton over every subject: a record is parsed only when it names one.
    let needles: Vec<&str> = principals.iter().map(String::as_str).collect();
    let finder = aho_corasick::AhoCorasick::new(&needles).ok();
    for input in logs.inputs {
        let Ok(mut reader) = Reader::open(input, logs.reader.clone()) else {
            continue;
        };
        let file = reader.name().clone();
        while let Some(batch) = reader.next_batch() {
            let Ok(batch) = batch else { continue };
            for span in &batch.records {
                let bytes = batch.bytes(span);
                out.storage_records += u64::from(is_storage_record(bytes));
                if !finder.as_ref().is_some_and(|f| f.is_match(bytes)) {
                    continue;
                }
                let Ok(events) = record_events(&file, span, bytes, logs.source) else {
                    continue;
                };
                for item in events {
                    if let Ingested::Event(event, _) = item {
                        if let Some(call) = Call::without_text(&event) {
                            out.add(&call, principals);
                        }
                    }
                }
            }
        }
    }
    for times in out.times.values_mut() {
        times.sort_unstable();
    }
    out
}

impl VolumeSeries {
    fn add(&mut self, call: &Call, principals: &HashSet<String>) {
        let who = [
            Some(&call.principal),
            call.api_key.as_ref(),
            call.ip.as_ref(),
        ]
        .into_iter()
        .flatten()
        .find(|p| principals.contains(p.as_ref()));
        let Some(who) = who else { return };
        let times = self.times.entry(who.to_string()).or_default();
        if times.len() < MAX_TIMES {
            times.push(call.ts);
        }
        let bucket = call.ts - call.ts.rem_euclid(self.bucket_ms.max(1));
        *self
            .series
            .entry(who.to_string())
            .or_default()
            .entry(bucket)
            .or_default() += 1;
        if let Some(storage) = &call.storage {
            if storage.is_read() {
                *self
                    .bytes
                    .entry(who.to_string())
                    .or_default()
                    .entry(bucket)
                    .or_default() += storage.bytes;
            }
        }
    }
}

/// Literals that object-storage access records carry (S3 server access lines, CloudTrail S3
/// events, Azure StorageBlobLogs, GCS audit logs, normalized events).
const STORAGE_MARKERS: [&str; 6] = [
    "REST.GET.OBJECT",
    "\"s3.amazonaws.com\"",
    "StorageBlobLogs",
    "storage.googleapis.com",
    "\"storage.operation\"",
    "REST.PUT.OBJECT",
];

fn is_storage_record(bytes: &[u8]) -> bool {
    STORAGE_MARKERS
        .iter()
        .any(|m| memchr::memmem::find(bytes, m.as_bytes()).is_some())
}

impl VolumeSeries {
    /// The part of the series about `who`.
    pub fn only(&self, who: &HashSet<String>) -> VolumeSeries {
        fn part<V: Clone>(m: &BTreeMap<String, V>, who: &HashSet<String>) -> BTreeMap<String, V> {
            m.iter()
                .filter(|(k, _)| who.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
        VolumeSeries {
            bucket_ms: self.bucket_ms,
            series: part(&self.series, who),
            bytes: part(&self.bytes, who),
            storage_records: self.storage_records,
            times: part(&self.times, who),
        }
    }

    /// The series as the report's chart shows it: where every call's time is known and no
    /// object-storage bytes are counted, the calls from one frame length before `from` to one
    /// after `to` (at least a minute each side) in buckets of the smallest of [`CHART_STEPS`]
    /// that gives at most [`CHART_BARS`] bars (a four-minute extraction: 15-second bars over
    /// twelve minutes; a day: 3-hour bars over three days); else the series as counted.
    pub fn for_chart(&self, from: i64, to: i64) -> VolumeSeries {
        let complete = !self.series.is_empty()
            && self.bytes.is_empty()
            && self.series.iter().all(|(who, s)| {
                self.times
                    .get(who)
                    .is_some_and(|t| t.len() as u64 == s.values().sum::<u64>())
            });
        if !complete || to < from {
            return self.clone();
        }
        let frame = (to - from).max(60_000);
        let (lo, hi) = (from.saturating_sub(frame), to.saturating_add(frame));
        let span = hi - lo;
        let step = CHART_STEPS
            .iter()
            .copied()
            .find(|s| span / s < CHART_BARS)
            .unwrap_or(span / CHART_BARS + 1);
        let mut out = VolumeSeries {
            bucket_ms: step,
            storage_records: self.storage_records,
            ..VolumeSeries::default()
        };
        for (who, times) in &self.times {
            let mut buckets: BTreeMap<i64, u64> = BTreeMap::new();
            for t in times.iter().filter(|t| (lo..=hi).contains(*t)) {
                *buckets.entry(t - t.rem_euclid(step)).or_default() += 1;
            }
            if !buckets.is_empty() {
                out.series.insert(who.clone(), buckets);
            }
        }
        out
    }

    /// The latest call of `principal` at or after `from` that continues the activity: no
    /// silence longer than `gap` between `from` and it. What an incident's last seen moves
    /// to while the attack goes on after its alerts.
    pub fn active_until(&self, principal: &str, from: i64, gap: i64) -> Option<i64> {
        let times = self.times.get(principal)?;
        let mut last = None;
        let mut prev = from;
        for t in &times[times.partition_point(|t| *t < from)..] {
            if t - prev > gap {
                break;
            }
            last = Some(*t);
            prev = *t;
        }
        last
    }
}
