//! # Bulk download of training data against the principal's baseline
//!
//! ## What it detects
//! A principal whose object-storage reads in one window (an hour by default) are far above
//! its own: the bytes (`storage.bytes`) or the objects read (events with
//! `storage.operation: read`, failed ones skipped) at least `ratio` (10) times the median of
//! its previous active windows (up to `baseline_buckets`, 24), and at least `min_bytes`
//! (1 GB) or `min_objects` (1,000 objects). A principal needs `warmup_buckets` (6) active
//! windows before it may alert; windows without reads are not part of the baseline. One
//! alert per principal and window, saying how far it is from the baseline ("42× its median
//! of 120 MB over 24 windows") and which buckets the reads came from.
//!
//! ## Why it matters
//! PB-53's vector "training data exfiltration": the bulk download of proprietary training
//! datasets, rated critical by the playbook. Training data is read by the same jobs and
//! people in similar amounts day after day; a principal pulling a whole dataset in an hour
//! stands out against its own history even when each object is unremarkable.
//!
//! ## Example
//! The role `etl-reader` reads 80 to 150 MB an hour from `acme-training-data` for two days,
//! then 5.1 GB in 4,200 objects between 02:00 and 03:00: "5.1 GB and 4200 objects read in
//! the 1h window from 02:00, 42.5× its median of 120 MB over the last 24 active windows",
//! with the buckets, the baseline's medians and thresholds, and sample records.
//!
//! ## False positives
//! A backfill, a new training run or a migration under an existing identity; a job whose
//! monthly full read is its busiest hour by far (give it its own identity). The baseline is
//! the principal's own recent past, so a lasting change of use alerts once and becomes the
//! norm.
//!
//! ## Response
//! Ask the principal's owner whether the reads were expected. If not, revoke its sessions
//! and keys, block the client address, and look at where the data went: copies to other
//! accounts, presigned URLs or SAS issued, keys listed (the same principal's other
//! `storage.*` events); restrict the bucket to the roles that need it.
//!
//! ## References
//! - PB-53 "AI Model Theft / Exfiltration Response", vector "training data exfiltration"
//! - MITRE ATLAS AML.T0025 Exfiltration via Cyber Means: https://atlas.mitre.org/techniques/AML.T0025
//! - MITRE ATT&CK T1530 Data from Cloud Storage: https://attack.mitre.org/techniques/T1530/

use std::collections::{BTreeMap, VecDeque};

use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::theft::TRAINING_DATA_EXFILTRATION;
use super::weights_download::human_bytes;
use super::{iso, median_mad, round2, times};
use crate::finding::{keep_sample, Sample};
use crate::window::{Bucket, BucketedBaseline, Crossed, Report};
use crate::{Analyzer, BulkSettings, Call, Code, Finding, ProfileStore, Profiles, Span};

pub const CODE: Code = Code {
    code: "MW-TH-0008",
    name: "Bulk download of training data against the principal's baseline",
    defender: None,
    severity: Severity::High,
    tactics: &["Collection", "Exfiltration"],
    atlas: ("AML.T0025", "Exfiltration via Cyber Means"),
    doc: include_str!("bulk_download.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.bulk_download]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(BulkDownload::new(&s.theft.bulk, s.max_principals))
}

/// Buckets tracked per window (the largest are reported).
const BUCKETS: usize = 16;

/// A past active window.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Closed {
    pub start: i64,
    pub bytes: u64,
    pub objects: u64,
}

/// The baseline a window is judged against, fixed when the window opens.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Baseline {
    pub windows: usize,
    pub median_bytes: f64,
    pub median_objects: f64,
    pub byte_threshold: u64,
    pub object_threshold: u64,
}

/// What the window being filled counts (saved beside its start, times, baseline and
/// crossing: [`crate::window::Open`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    pub bytes: u64,
    pub objects: u64,
    /// Bytes and objects by bucket.
    pub buckets: BTreeMap<String, (u64, u64)>,
    /// Reads from the one that crossed on.
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
}

/// A principal's recent reads.
pub type Profile = BucketedBaseline<Counts>;

pub struct BulkDownload {
    settings: BulkSettings,
    profiles: Profiles<Profile>,
}

impl BulkDownload {
    pub fn new(settings: &BulkSettings, max_principals: usize) -> BulkDownload {
        BulkDownload {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

fn threshold(ratio: f64, median: f64, floor: u64) -> u64 {
    let t = (ratio * median).ceil().max(floor as f64);
    if t >= u64::MAX as f64 {
        u64::MAX
    } else {
        t as u64
    }
}

impl Counts {
    /// Whether the bytes, and the objects, cross the baseline.
    fn crossed(&self, b: &Baseline) -> (bool, bool) {
        (
            self.bytes >= b.byte_threshold && self.bytes > 0,
            self.objects >= b.object_threshold,
        )
    }
}

impl Bucket for Counts {
    const CODE: &'static str = CODE.code;
    type Settings = BulkSettings;
    type Event = Call;
    type Closed = Closed;
    type Baseline = Baseline;

    fn width(s: &BulkSettings) -> Span {
        s.bucket
    }

    fn kept(s: &BulkSettings) -> usize {
        s.baseline_buckets
    }

    fn baseline(s: &BulkSettings, history: &VecDeque<Closed>) -> Option<Baseline> {
        if history.len() < s.warmup_buckets.max(1) {
            return None;
        }
        let bytes: Vec<f64> = history.iter().map(|w| w.bytes as f64).collect();
        let objects: Vec<f64> = history.iter().map(|w| w.objects as f64).collect();
        let (median_bytes, _) = median_mad(&bytes);
        let (median_objects, _) = median_mad(&objects);
        Some(Baseline {
            windows: history.len(),
            median_bytes,
            median_objects,
            byte_threshold: threshold(s.ratio, median_bytes, s.min_bytes),
            object_threshold: threshold(s.ratio, median_objects, s.min_objects),
        })
    }

    /// A successful read (the analyzer passes no other call).
    fn add(&mut self, call: &Call) {
        let Some(st) = call.storage.as_deref() else {
            return;
        };
        self.bytes = self.bytes.saturating_add(st.bytes);
        self.objects += 1;
        let container = st.container();
        if self.buckets.len() < BUCKETS || self.buckets.contains_key(&container) {
            let e = self.buckets.entry(container).or_default();
            e.0 = e.0.saturating_add(st.bytes);
            e.1 += 1;
        }
        if let Some(ip) = &call.ip {
            self.ip = Some(ip.to_string());
        }
    }

    fn crosses(&self, _: &BulkSettings, b: &Baseline) -> bool {
        let (bytes, objects) = self.crossed(b);
        bytes || objects
    }

    fn add_crossed(&mut self, call: &Call) {
        keep_sample(&mut self.samples, call);
    }

    fn closed(&self, start: i64) -> Closed {
        Closed {
            start,
            bytes: self.bytes,
            objects: self.objects,
        }
    }

    fn report(self, s: &BulkSettings, _: &str, c: &Crossed<Baseline>) -> Report {
        let b = &c.baseline;
        let byte_ratio = times(self.bytes as f64, b.median_bytes);
        let object_ratio = times(self.objects as f64, b.median_objects);
        let (by_bytes, _) = self.crossed(b);
        let vs = if by_bytes {
            format!(
                "{byte_ratio}× its median of {}",
                human_bytes(b.median_bytes)
            )
        } else {
            format!(
                "{object_ratio}× its median of {} objects",
                round2(b.median_objects)
            )
        };
        let summary = format!(
            "{} and {} objects read in the {} window from {}, {vs} over the last {} active windows",
            human_bytes(self.bytes as f64),
            self.objects,
            s.bucket,
            iso(c.start),
            b.windows
        );
        let mut buckets: Vec<(&String, &(u64, u64))> = self.buckets.iter().collect();
        buckets.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let buckets: Vec<_> = buckets
            .into_iter()
            .take(5)
            .map(|(k, (bytes, objects))| json!({"bucket": k, "bytes": bytes, "objects": objects}))
            .collect();
        let mut evidence = Map::new();
        evidence.insert("bytes".into(), json!(self.bytes));
        evidence.insert("objects".into(), json!(self.objects));
        evidence.insert("buckets".into(), json!(buckets));
        evidence.insert("window".into(), c.bucket());
        evidence.insert(
            "baseline".into(),
            json!({
                "windows": b.windows,
                "median_bytes": round2(b.median_bytes),
                "median_objects": round2(b.median_objects),
                "byte_threshold": b.byte_threshold,
                "object_threshold": b.object_threshold,
            }),
        );
        evidence.insert("bytes_vs_median".into(), json!(byte_ratio));
        evidence.insert("objects_vs_median".into(), json!(object_ratio));
        evidence.insert("pb53_vector".into(), json!(TRAINING_DATA_EXFILTRATION));
        evidence.insert("score".into(), json!(byte_ratio.max(object_ratio)));
        Report {
            summary,
            evidence,
            samples: self.samples,
            source_ip: self.ip,
            model: None,
        }
    }
}

impl Analyzer for BulkDownload {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        if !call.storage.as_deref().is_some_and(|st| st.is_read()) {
            return;
        }
        let s = &self.settings;
        self.profiles
            .touch_reporting(&call.principal, call.ts, s, out)
            .observe(s, &call.principal, call.ts, call, out);
    }

    fn finish(&mut self, out: &mut Vec<Finding>) {
        self.profiles.flush(&self.settings, out);
    }

    fn profiles(&self) -> Option<&dyn ProfileStore> {
        Some(&self.profiles)
    }

    fn profiles_mut(&mut self) -> Option<&mut dyn ProfileStore> {
        Some(&mut self.profiles)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Settings;

    const HOUR: i64 = 3_600_000;
    const MB: u64 = 1_000_000;

    fn run(calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(
            &mut BulkDownload::new(&Settings::default().theft.bulk, 100),
            calls,
        )
    }

    /// `per_hour[h]` = (objects, bytes each) read in hour `h`.
    fn reads(who: &str, per_hour: &[(u64, u64)]) -> Vec<Call> {
        let mut calls = Vec::new();
        for (h, (n, each)) in per_hour.iter().enumerate() {
            for i in 0..*n {
                let ts = h as i64 * HOUR + (i as i64 * HOUR) / (*n as i64);
                calls.push(Call::test(who, ts).with_storage(
                    "read",
                    "acme-training-data",
                    &format!("shards/{h}/{i}.parquet"),
                    *each,
                ));
            }
        }
        calls
    }

    #[test]
    fn a_bulk_read_alerts_with_its_distance_from_the_baseline() {
        let mut hours: Vec<(u64, u64)> = (0..48).map(|h| (10 + h % 5, 12 * MB)).collect();
        hours.push((4200, 1_214_286));
        let f = run(&reads("etl-reader", &hours));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].evidence["objects"], json!(4200));
        assert_eq!(
            f[0].evidence["pb53_vector"],
            json!("training_data_exfiltration")
        );
        assert_eq!(f[0].evidence["baseline"]["windows"], json!(24));
        assert!(
            f[0].summary
                .contains("× its median of 144 MB over the last 24 active windows"),
            "{}",
            f[0].summary
        );
        assert_eq!(
            f[0].evidence["buckets"][0]["bucket"],
            json!("acme-training-data")
        );
        assert_eq!(f[0].key, (48 * HOUR).to_string());
    }

    #[test]
    fn steady_readers_warm_up_and_other_operations_are_quiet() {
        // A nightly job reading 20 GB from its first night.
        let nightly: Vec<(u64, u64)> = (0..72)
            .map(|h| if h % 24 == 2 { (2000, 10 * MB) } else { (0, 0) })
            .collect();
        assert!(run(&reads("nightly", &nightly)).is_empty());
        // A ×10 jump below the floors.
        let mut small: Vec<(u64, u64)> = vec![(5, MB); 30];
        small.push((60, 10 * MB));
        assert!(run(&reads("small", &small)).is_empty());
        // No alert during warm-up, however high.
        assert!(run(&reads("new", &[(3, MB), (3, MB), (5000, 10 * MB)])).is_empty());
        // Lists, writes and failed reads do not count; nor do LLM calls.
        let mut calls = reads("k", &[(10, MB); 30]);
        let t = 30 * HOUR;
        for i in 0..3000 {
            calls.push(Call::test("k", t + i).with_storage("list", "b", "", 10 * MB));
            calls.push(Call::test("k", t + i).with_storage("write", "b", "x", 10 * MB));
            let mut failed = Call::test("k", t + i).with_storage("read", "b", "x", 10 * MB);
            failed.storage.as_mut().unwrap().failed = true;
            calls.push(failed);
            calls.push(Call::test("k", t + i).with_tokens(1_000, 1_000));
        }
        assert!(run(&calls).is_empty());
    }

    #[test]
    fn llm_analyzers_ignore_storage_calls() {
        use crate::analyzers::{
            access_anomaly::AccessAnomaly, distillation::Distillation,
            sensitive_data_anomaly::SensitiveDataAnomaly, volume_anomaly::VolumeAnomaly,
        };
        let s = Settings::default();
        let mut hours: Vec<(u64, u64)> = vec![(40, MB); 48];
        hours.push((6000, 10 * MB));
        let mut calls = reads("etl", &hours);
        // From a new address and client after the warm-up.
        for c in calls.iter_mut().skip(1500) {
            *c = c
                .clone()
                .with_ip("203.0.113.7")
                .with_user_agent("curl/8.0")
                .with_sensitive(3);
        }
        assert_eq!(run(&calls).len(), 1);
        let mut all: Vec<Box<dyn Analyzer>> = vec![
            Box::new(VolumeAnomaly::new(&s.volume, 100)),
            Box::new(AccessAnomaly::new(&s.access, 100)),
            Box::new(SensitiveDataAnomaly::new(&s.sensitive, 100)),
            Box::new(Distillation::new(&s.theft.distillation, 100)),
        ];
        let mut out = Vec::new();
        for a in all.iter_mut() {
            for c in &calls {
                a.observe(c, &mut out);
            }
            a.finish(&mut out);
        }
        assert!(out.is_empty(), "{out:?}");
        // The same volume as LLM calls does alert (the test traffic is anomalous).
        let mut v = VolumeAnomaly::new(&s.volume, 100);
        for c in &calls {
            let mut llm = c.clone();
            llm.storage = None;
            v.observe(&llm, &mut out);
        }
        v.finish(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
    }

    #[test]
    fn objects_alone_can_alert() {
        let mut hours: Vec<(u64, u64)> = vec![(20, 0); 30];
        hours.push((2500, 0));
        let f = run(&reads("gcs-reader", &hours));
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(
            f[0].summary.contains("125× its median of 20 objects"),
            "{}",
            f[0].summary
        );
    }
}
