//! # Model weights downloaded by a principal outside its baseline
//!
//! ## What it detects
//! A read of a model-weight or checkpoint object from object storage (S3, Azure Blob, GCS)
//! by a principal that has never read model weights from that bucket or container before.
//! Weights are recognised by extension (`.safetensors`, `.gguf`, `.ggml`, `.pt`, `.pth`,
//! `.ckpt`, `.onnx`, `.h5`, `.keras`, `.tflite`, `.mlmodel`: `modelward_event::objects`), a
//! TensorFlow SavedModel (`saved_model.pb`, `variables/variables.data-*`), or a file whose
//! extension other files have too (`.bin`, `.pb`, `.hdf5`, `.npy`, `.npz`, `.pkl`,
//! `.pickle`, `.joblib`, `.msgpack`) under a model path (`model`, `checkpoint`, `weights`,
//! `llm`, `lora`, `adapter`). The Sigma rule `rules/sigma/model_weights_download.yml`
//! recognises the same files but `.mlmodel` and, of the ambiguous extensions, all but `.bin`.
//! The principal's baseline is every storage event it makes (`storage.operation` of any kind):
//! after a warm-up of `warmup_events` (50) storage events over at least `warmup` (7 days), a
//! weight download from a bucket outside the buckets it read weights from before alerts
//! (with `per_bucket = false`, only its first weight download ever). With
//! `allowed_principals` set, any principal not on the list alerts on its first weight
//! download from a bucket, warm or not, and those on it never do. One alert per principal
//! and bucket; the downloads of that bucket within `window` (1 hour) join it. A baseline
//! holds 256 buckets; a principal that read weights from more is too varied to judge. Failed reads
//! (`event.outcome: failure`) are neither learnt nor reported.
//!
//! ## Why it matters
//! PB-53's vector "weight/checkpoint theft": the most direct way to steal a model is to copy
//! its weights from the bucket they are stored in. The identities that load weights are few
//! and stable (serving roles, training jobs, the ML team); a developer role, a CI key or a
//! compromised user reading a checkpoint bucket for the first time is the moment to look.
//!
//! ## Example
//! The role `arn:aws:sts::123456789012:assumed-role/DataScientist/jdoe` has read datasets
//! and notebooks for weeks, and weights only from `acme-ml-experiments`. At 09:12 it reads
//! `llama-3-8b/model-00001-of-00004.safetensors` and three more shards from
//! `acme-ml-models`: "read model weights from a bucket outside its baseline: 4 objects,
//! 16.06 GB from acme-ml-models; before, weights only from acme-ml-experiments (since 2025-02-10)", with the
//! objects, the bytes and the baseline.
//!
//! ## False positives
//! A new serving deployment or training job under an existing role; a data scientist
//! starting work on another model; a migration between buckets. Allow-list the serving and
//! training roles, or give them their own; each principal alerts once per bucket, after which
//! the bucket is part of its baseline.
//!
//! ## Response
//! Ask the principal's owner whether the download was expected. If not, revoke its sessions
//! and keys, block the client address, check where the objects went (copies to other
//! accounts, presigned URLs issued, keys listed: the other `storage.*` events of the same
//! principal) and tighten the bucket policy to the roles that need the weights.
//!
//! ## References
//! - PB-53 "AI Model Theft / Exfiltration Response", vector "weight/checkpoint theft"
//! - MITRE ATLAS AML.T0025 Exfiltration via Cyber Means: https://atlas.mitre.org/techniques/AML.T0025
//! - MITRE ATT&CK T1530 Data from Cloud Storage: https://attack.mitre.org/techniques/T1530/
//! - OWASP Top 10 for LLM Applications, LLM10 Model Theft: https://genai.owasp.org/llmrisk2023-24/llm10-model-theft/

use std::collections::BTreeMap;

use modelward_event::glob::glob_match;
use modelward_event::objects;
use modelward_rule::Severity;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map};

use super::iso;
use super::theft::WEIGHT_CHECKPOINT_THEFT;
use crate::finding::{keep_sample, Sample};
use crate::{Analyzer, Call, Code, Finding, ProfileStore, Profiles, Storage, WeightsSettings};

pub const CODE: Code = Code {
    code: "MW-TH-0007",
    name: "Model weights downloaded by a principal outside its baseline",
    defender: None,
    severity: Severity::High,
    tactics: &["Collection", "Exfiltration"],
    atlas: ("AML.T0025", "Exfiltration via Cyber Means"),
    doc: include_str!("weights_download.rs"),
};

/// The registry's constructor (`analyzers/mod.rs`): the analyzer, from
/// `[behavior.weights_download]` and `max_principals`.
pub fn build(s: &crate::Settings) -> Box<dyn Analyzer> {
    Box::new(WeightsDownload::new(&s.theft.weights, s.max_principals))
}

/// Objects listed in an alert's evidence.
const OBJECTS: usize = 20;
/// Weight buckets a baseline holds; a principal reading weights from more is too varied to
/// judge by bucket.
const MAX_BUCKETS: usize = 256;

/// Words of a key that make a file with an ambiguous extension (`.bin`, `.pb`, an array or
/// a pickle) a model's.
const MODEL_PATHS: [&str; 6] = ["model", "checkpoint", "weights", "llm", "lora", "adapter"];

/// Whether an object is model weights or a checkpoint, by its name and layout: a TensorFlow
/// SavedModel's graph or variables, or an extension of [`objects::MODEL_EXTENSIONS`], those
/// other files have too ([`objects::AMBIGUOUS_MODEL_EXTENSIONS`]) only under a model path.
pub fn is_weights(s: &Storage) -> bool {
    let key = s.key.as_deref().unwrap_or("");
    let ext = s.extension.as_deref().unwrap_or("");
    let name = key.rsplit('/').next().unwrap_or("");
    if name == "saved_model.pb"
        || (name.starts_with("variables.data-") && key.contains("variables/variables.data-"))
    {
        return true;
    }
    if !objects::is_ambiguous_model_extension(ext) {
        return objects::is_model_extension(ext);
    }
    let lower = key.to_ascii_lowercase();
    MODEL_PATHS.iter().any(|m| lower.contains(m))
}

/// Whether a principal is on the allow-list (globs: `*` any run of characters).
fn allowed(list: &[String], principal: &str) -> bool {
    list.iter().any(|a| glob_match(a, principal))
}

/// Downloads of one bucket outside the baseline, being gathered into one alert.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Pending {
    pub bucket: String,
    pub first: i64,
    pub last: i64,
    pub objects: Vec<String>,
    pub count: u64,
    pub bytes: u64,
    pub reason: String,
    /// The baseline when the first download came: bucket → first weight read.
    pub known: BTreeMap<String, i64>,
    pub events: u64,
    pub first_seen: i64,
    pub samples: Vec<Sample>,
    pub ip: Option<String>,
}

/// A principal's storage baseline.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Profile {
    /// Storage events seen.
    pub events: u64,
    pub first_seen: i64,
    /// Buckets it read weights from, with the time of the first read.
    pub buckets: BTreeMap<String, i64>,
    pub pending: Vec<Pending>,
}

pub struct WeightsDownload {
    settings: WeightsSettings,
    profiles: Profiles<Profile>,
}

impl WeightsDownload {
    pub fn new(settings: &WeightsSettings, max_principals: usize) -> WeightsDownload {
        WeightsDownload {
            settings: settings.clone(),
            profiles: Profiles::new(max_principals),
        }
    }
}

/// Bytes for people (decimal units).
pub(crate) fn human_bytes(b: f64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut x = b;
    let mut i = 0;
    while x >= 1000.0 && i < units.len() - 1 {
        x /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{} B", b as u64)
    } else {
        format!("{} {}", super::round2(x), units[i])
    }
}

fn report(principal: &str, p: Pending, out: &mut Vec<Finding>) {
    let before = if p.known.is_empty() {
        "it had never read model weights before".to_string()
    } else {
        let list: Vec<String> = p
            .known
            .iter()
            .take(5)
            .map(|(b, t)| format!("{b} (since {})", iso(*t)))
            .collect();
        format!("before, weights only from {}", list.join(", "))
    };
    let summary = format!(
        "{}: {} object{}, {} from {}; {before}",
        p.reason,
        p.count,
        if p.count == 1 { "" } else { "s" },
        human_bytes(p.bytes as f64),
        p.bucket
    );
    let mut evidence = Map::new();
    evidence.insert("bucket".into(), json!(p.bucket));
    evidence.insert("objects".into(), json!(p.objects));
    evidence.insert("object_count".into(), json!(p.count));
    evidence.insert("bytes".into(), json!(p.bytes));
    evidence.insert("reason".into(), json!(p.reason));
    evidence.insert(
        "baseline".into(),
        json!({
            "storage_events": p.events,
            "first_seen": iso(p.first_seen),
            "weight_buckets": p.known.iter().map(|(b, t)| json!({"bucket": b, "since": iso(*t)})).collect::<Vec<_>>(),
        }),
    );
    evidence.insert("pb53_vector".into(), json!(WEIGHT_CHECKPOINT_THEFT));
    evidence.insert("score".into(), json!(1.0));
    out.push(Finding {
        code: CODE.code,
        principal: principal.to_string(),
        timestamp: p.first,
        key: p.bucket.clone(),
        summary,
        first_seen: p.first,
        last_seen: p.last,
        evidence,
        samples: p.samples,
        source_ip: p.ip,
        model: None,
    });
}

/// Reports the pending alerts whose window ended before `now` (all with `i64::MAX`).
fn flush(s: &WeightsSettings, principal: &str, p: &mut Profile, now: i64, out: &mut Vec<Finding>) {
    let (done, open): (Vec<Pending>, Vec<Pending>) = std::mem::take(&mut p.pending)
        .into_iter()
        .partition(|x| now == i64::MAX || now.saturating_sub(x.first) > s.window.0);
    p.pending = open;
    for x in done {
        report(principal, x, out);
    }
}

impl crate::profiles::Pending for Profile {
    type Settings = WeightsSettings;
    fn flush(mut self, s: &WeightsSettings, principal: &str, out: &mut Vec<Finding>) {
        flush(s, principal, &mut self, i64::MAX, out);
    }
}

impl Analyzer for WeightsDownload {
    fn code(&self) -> &'static str {
        CODE.code
    }

    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>) {
        let Some(st) = call.storage.as_deref() else {
            return;
        };
        let s = &self.settings;
        let p = self
            .profiles
            .touch_reporting(&call.principal, call.ts, s, out);
        if p.events == 0 {
            p.first_seen = call.ts;
        }
        flush(s, &call.principal, p, call.ts, out);
        let warm =
            p.events >= s.warmup_events && call.ts.saturating_sub(p.first_seen) >= s.warmup.0;
        p.events += 1;
        if !st.is_read() || !is_weights(st) {
            return;
        }
        let bucket = if s.per_bucket {
            st.container()
        } else {
            "*".to_string()
        };
        let object = st
            .key
            .as_deref()
            .map(|k| format!("{}/{k}", st.container()))
            .unwrap_or_default();
        if let Some(x) = p.pending.iter_mut().find(|x| x.bucket == bucket) {
            if x.objects.len() < OBJECTS && !x.objects.contains(&object) {
                x.objects.push(object);
            }
            x.count += 1;
            x.bytes = x.bytes.saturating_add(st.bytes);
            x.last = call.ts;
            keep_sample(&mut x.samples, call);
            return;
        }
        let known = p.buckets.contains_key(&bucket);
        let reason = if !s.allowed_principals.is_empty() {
            (!allowed(&s.allowed_principals, &call.principal) && !known)
                .then(|| "read model weights and is not on allowed_principals".to_string())
        } else if warm && !known && p.buckets.len() < MAX_BUCKETS {
            Some(if p.buckets.is_empty() {
                "read model weights for the first time".to_string()
            } else {
                "read model weights from a bucket outside its baseline".to_string()
            })
        } else {
            None
        };
        if let Some(reason) = reason {
            let mut samples = Vec::new();
            keep_sample(&mut samples, call);
            p.pending.push(Pending {
                bucket: bucket.clone(),
                first: call.ts,
                last: call.ts,
                objects: vec![object],
                count: 1,
                bytes: st.bytes,
                reason,
                known: p.buckets.clone(),
                events: p.events,
                first_seen: p.first_seen,
                samples,
                ip: call.ip.as_deref().map(str::to_string),
            });
        }
        if p.buckets.len() < MAX_BUCKETS {
            p.buckets.entry(bucket).or_insert(call.ts);
        }
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
    const DAY: i64 = 24 * HOUR;

    fn run(settings: &WeightsSettings, calls: &[Call]) -> Vec<Finding> {
        crate::analyzer::feed::finished(&mut WeightsDownload::new(settings, 100), calls)
    }

    fn defaults() -> WeightsSettings {
        Settings::default().theft.weights
    }

    /// Ten days of a data scientist's ordinary storage use, weights from one bucket.
    fn history(who: &str) -> Vec<Call> {
        let mut calls = Vec::new();
        for d in 0..10 {
            for i in 0..10 {
                let ts = d * DAY + i * HOUR;
                calls.push(Call::test(who, ts).with_storage(
                    "read",
                    "datasets",
                    &format!("tables/part-{i}.parquet"),
                    50_000_000,
                ));
            }
            calls.push(Call::test(who, d * DAY + 11 * HOUR).with_storage(
                "read",
                "experiments",
                "runs/7/checkpoint-100.pt",
                400_000_000,
            ));
        }
        calls
    }

    #[test]
    fn recognises_weights() {
        let w = |key: &str| {
            is_weights(
                Call::test("x", 0)
                    .with_storage("read", "b", key, 0)
                    .storage
                    .as_deref()
                    .unwrap(),
            )
        };
        for yes in [
            "llama/model-00001-of-00004.safetensors",
            "x/model.GGUF",
            "exported/resnet/saved_model/saved_model.pb",
            "exported/resnet/saved_model/variables/variables.data-00000-of-00001",
            "hf/llama/pytorch_model-00001-of-00002.bin",
            "ckpt/Epoch3.CKPT",
            "coreml/Resnet50.mlmodel",
            "hf/bert/flax_model.msgpack",
            "sklearn/churn-model.joblib",
            "checkpoints/step-900/optimizer.pkl",
            "exported/frozen/weights.pb",
        ] {
            assert!(w(yes), "{yes}");
        }
        for no in [
            "reports/q3.pdf",
            "firmware/images/router.bin",
            "data/train.jsonl",
            ".pt",
            "schemas/events.pb",
            "data/embeddings.npy",
            "cache/session.pkl",
        ] {
            assert!(!w(no), "{no}");
        }
    }

    #[test]
    fn a_new_weights_bucket_alerts_once_with_its_baseline() {
        let mut calls = history("jdoe");
        let t = 10 * DAY + 9 * HOUR;
        for i in 0..4 {
            calls.push(
                Call::test("jdoe", t + i * 60_000)
                    .with_ip("198.51.100.23")
                    .with_storage(
                        "read",
                        "acme-ml-models",
                        &format!("llama-3-8b/model-0000{}-of-00004.safetensors", i + 1),
                        4_000_000_000,
                    ),
            );
        }
        // Again the next day: the bucket is now in the baseline.
        calls.push(Call::test("jdoe", t + DAY).with_storage(
            "read",
            "acme-ml-models",
            "llama-3-8b/model-00001-of-00004.safetensors",
            4_000_000_000,
        ));
        let f = run(&defaults(), &calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].key, "acme-ml-models");
        assert_eq!(f[0].evidence["object_count"], json!(4));
        assert_eq!(f[0].evidence["bytes"], json!(16_000_000_000u64));
        assert_eq!(
            f[0].evidence["pb53_vector"],
            json!("weight_checkpoint_theft")
        );
        assert_eq!(
            f[0].evidence["baseline"]["weight_buckets"][0]["bucket"],
            json!("experiments")
        );
        assert!(f[0].summary.contains("16 GB"), "{}", f[0].summary);
        assert!(
            f[0].summary
                .contains("before, weights only from experiments"),
            "{}",
            f[0].summary
        );
        assert_eq!(f[0].source_ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(f[0].timestamp, t);
    }

    #[test]
    fn steady_use_warm_up_and_failures_are_quiet() {
        // The same buckets as always.
        assert!(run(&defaults(), &history("jdoe")).is_empty());
        // A new principal reading weights at once: still warming up.
        let mut fresh = vec![Call::test("new", 0).with_storage("read", "m", "a.gguf", 1)];
        fresh
            .extend((1..100).map(|i| Call::test("new", i * HOUR).with_storage("list", "m", "", 0)));
        fresh.push(Call::test("new", 2 * DAY).with_storage("read", "other", "b.onnx", 1));
        assert!(run(&defaults(), &fresh).is_empty());
        // A failed read is no download; LLM calls are not storage events.
        let mut calls = history("jdoe");
        let mut failed = Call::test("jdoe", 11 * DAY).with_storage("read", "models", "m.pt", 0);
        failed.storage.as_mut().unwrap().failed = true;
        calls.push(failed);
        calls.push(Call::test("jdoe", 11 * DAY).with_prompt("hello"));
        assert!(run(&defaults(), &calls).is_empty());
        // Writes of weights are not reads.
        let mut calls = history("jdoe");
        calls.push(Call::test("jdoe", 11 * DAY).with_storage("write", "models", "m.pt", 9));
        assert!(run(&defaults(), &calls).is_empty());
    }

    #[test]
    fn the_baseline_lasts_between_runs() {
        let mut first = WeightsDownload::new(&defaults(), 100);
        let mut out = Vec::new();
        for c in history("jdoe") {
            first.observe(&c, &mut out);
        }
        let saved = first.save();
        assert_eq!(saved.len(), 1);
        let mut second = WeightsDownload::new(&defaults(), 100);
        assert_eq!(second.load(saved), 0);
        let t = 12 * DAY;
        second.observe(
            &Call::test("jdoe", t).with_storage("read", "experiments", "runs/8/c.pt", 1),
            &mut out,
        );
        second.observe(
            &Call::test("jdoe", t + 1).with_storage("read", "models", "m.safetensors", 1),
            &mut out,
        );
        second.finish(&mut out);
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].key, "models");
    }

    #[test]
    fn allow_list_and_any_bucket() {
        let s = WeightsSettings {
            allowed_principals: vec!["serving-*".into()],
            ..defaults()
        };
        let calls = vec![
            Call::test("serving-eu", 0).with_storage("read", "models", "m.safetensors", 5),
            Call::test("intern", 10).with_storage("read", "models", "m.safetensors", 5),
            Call::test("intern", 20).with_storage("read", "models", "n.safetensors", 5),
        ];
        let f = run(&s, &calls);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].principal, "intern");
        assert_eq!(f[0].evidence["object_count"], json!(2));
        // Per principal only: a second weights bucket is no news.
        let any = WeightsSettings {
            per_bucket: false,
            ..defaults()
        };
        assert!(run(&any, &history("jdoe")).is_empty());
        let mut calls = history("jdoe");
        calls.push(Call::test("jdoe", 11 * DAY).with_storage("read", "models", "m.pt", 9));
        assert!(run(&any, &calls).is_empty());
    }
}
