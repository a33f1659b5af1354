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
}

impl VolumeSeries {
    /// Total calls of `principal` in `[from, to]`.
    pub fn calls_between(&self, principal: &str, from: i64, to: i64) -> u64 {
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
        VolumeSeries {
            bucket_ms: self.bucket_ms,
            series: self
                .series
                .iter()
                .filter(|(k, _)| who.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            bytes: self
                .bytes
                .iter()
                .filter(|(k, _)| who.contains(*k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            storage_records: self.storage_records,
        }
    }
}
