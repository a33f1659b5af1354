//! ## What it detects
//! A copy of a registered model, recognised by its weights rather than its name or hash: a
//! file whose tensors match the weight fingerprints of a model registered with
//! `modelward fingerprint build` at a false-match probability of at most 1e-9, whatever it
//! was renamed to, converted to (safetensors → GGUF, PyTorch, ONNX, NumPy), cast to (F16,
//! BF16) or quantized to (int8, 4-bit). Two places raise it:
//! - `modelward inventory find --copies` (crates/inventory, crates/fingerprint): a model file
//!   in a scanned folder or inside a zip or tar archive there;
//! - in `hunt` and `watch`, an object-storage access log's object (`storage.operation`
//!   `read`, `copy` or `write`, not failed, from the S3 access log, CloudTrail, Azure Blob or
//!   GCS audit normalizers) whose bucket has a local mirror configured
//!   (`[[detectors.storage_mirrors]]`: `bucket` glob → `path`, the object key appended):
//!   the mirrored file, or a model file inside it when it is an archive, is compared. An
//!   object with no mirror, or absent from it, is not examined.
//!
//! The files a model was registered from are the model itself, not copies, and raise
//! nothing.
//!
//! ## Why it matters
//! A stolen model rarely surfaces as the file that was taken: it is converted, quantized and
//! renamed, so its hash is new and a checksum inventory no longer knows it. PB-53 asks to
//! "verify no unauthorized model copies exist" and to "deploy DLP rules for model file
//! formats"; a copy found on a share, in an export archive or moving through a bucket is
//! the evidence that weights left their home, and the false-match probability is the number
//! legal asks for ("is this ours, and how sure are you?").
//!
//! ## Example
//! `/srv/share/tmp/notes.bin` is a Q4_0 GGUF of the registered `llama-ft-v3` (its tensors
//! renamed to llama.cpp's): "copy of registered model llama-ft-v3 (false-match probability
//! 2.5e-391, 16/16 tensors matched): /srv/share/tmp/notes.bin". An S3 `REST.GET.OBJECT` of
//! `s3://acme-exports/q3/archive.zip`, mirrored at `/mnt/mirror/acme-exports`, whose member
//! `weights/model.gguf` is such a copy, raises it with the principal and address of the
//! read.
//!
//! ## False positives
//! Copies the organisation made on purpose: a serving replica, a quantized release, a
//! backup (scan folders that hold only what should not hold weights, or add an exception
//! for the path or bucket). Two fine-tunes of the same public base model match each other
//! and the base: register models trained from scratch, or read a match against a fine-tune
//! of a public base as "derived from that base". With M registered models, the chance that
//! any matches an unrelated file is at most M times the probability shown.
//!
//! ## Response
//! Treat it as PB-53's weight/checkpoint theft until shown authorised: find who wrote the
//! file or read the object (the storage access logs, the share's audit), preserve it (its
//! hash, the `fingerprint match --format json` report), lock the storage it came from and
//! remove the copy. `incident` task 6.6 ("verify no unauthorized model copies exist") reads
//! the latest `inventory find --copies` scan.
//!
//! ## References
//! - PB-53 "AI Model Theft / Exfiltration Response", 6.6 "Verify no unauthorized model copies exist"
//! - docs/fingerprint.md (the fingerprints and their test), docs/inventory.md (`find --copies`)
//! - MITRE ATLAS AML.T0025 Exfiltration via Cyber Means: https://atlas.mitre.org/techniques/AML.T0025
//! - OWASP Top 10 for LLM Applications, LLM10 Model Theft: https://genai.owasp.org/llmrisk2023-24/llm10-model-theft/

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use modelward_event::glob::glob_match;
use modelward_event::objects::ModelCopy;
use modelward_event::Event;
use modelward_rule::{Alert, Severity};
use serde_json::{json, Map};

use crate::detector::{BuildContext, Builtin, Code, Detector, Finding, FAMILY};
use crate::keywords::Scan;
use crate::settings::{Settings, SettingsError};

pub const CODE: Code = Code {
    code: "MW-AI-0021",
    name: "Copy of a registered model found",
    defender: None,
    severity: Severity::High,
    tactics: &["Exfiltration"],
    atlas: ("AML.T0025", "Exfiltration via Cyber Means"),
    doc: include_str!("model_copy.rs"),
};

/// The storage operations whose object is examined.
const OPERATIONS: [&str; 3] = ["read", "copy", "write"];

/// A model file found (a file, or `archive!member` inside one) and a registered model it
/// copies.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub location: String,
    pub copy: ModelCopy,
}

/// What compares a local file with the registered models' fingerprints. The binary gives
/// one (the fingerprint registry, through the inventory's archive reader); this crate does
/// not read weights.
pub trait ExamineFile: Send + Sync {
    /// The registered models the file at `path` (or a model file inside it, when it is an
    /// archive) copies. An error is the examiner's to report; the detector skips the object.
    fn copies(&self, path: &Path) -> Vec<Located>;
}

/// A bucket's local mirror: objects of buckets matching `bucket` (a `*` glob, on the bucket
/// or `account/bucket`) are read at `path` joined with the object key; `{bucket}` in `path`
/// is the bucket's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageMirror {
    pub bucket: String,
    pub path: PathBuf,
}

/// The examiner as the settings carry it.
#[derive(Clone)]
pub struct Examiner(pub Arc<dyn ExamineFile>);

impl std::fmt::Debug for Examiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Examiner")
    }
}

pub struct ModelCopyDetector {
    mirrors: Vec<StorageMirror>,
    examiner: Examiner,
}

impl Builtin for ModelCopyDetector {
    const CODES: &'static [Code] = &[CODE];

    /// None without mirrors or without an examiner (no fingerprints to compare with).
    fn build(
        settings: &Settings,
        _ctx: &mut BuildContext<'_>,
    ) -> Result<Option<Self>, SettingsError> {
        Ok(
            match (&settings.storage_mirrors[..], &settings.copy_examiner) {
                ([], _) | (_, None) => None,
                (mirrors, Some(examiner)) => Some(ModelCopyDetector {
                    mirrors: mirrors.to_vec(),
                    examiner: examiner.clone(),
                }),
            },
        )
    }
}

/// The object key of a storage event: `storage.object.key`, else the path of `file.path`
/// after `scheme://bucket/`.
fn object_key<'a>(event: &'a Event, bucket: &str) -> Option<&'a str> {
    if let Some(k) = event.get_str("storage.object.key") {
        return Some(k);
    }
    let path = event.get_str("file.path")?;
    let (_, rest) = path.split_once("://")?;
    let (host, key) = rest.split_once('/')?;
    // `s3://bucket/key`, `gs://bucket/key`; Azure `https://account.blob…/container/key`
    if host == bucket {
        Some(key)
    } else {
        key.strip_prefix(bucket)?.strip_prefix('/')
    }
}

/// The local path of `key` under `root`: None when the key would leave it (`..`, an
/// absolute path) or names nothing.
pub fn mirrored(root: &Path, key: &str) -> Option<PathBuf> {
    let mut out = root.to_path_buf();
    let mut any = false;
    for part in key.split('/') {
        match Path::new(part).components().next() {
            _ if part.is_empty() || part == "." => continue,
            Some(Component::Normal(_)) if Path::new(part).components().count() == 1 => {
                out.push(part);
                any = true;
            }
            _ => return None,
        }
    }
    any.then_some(out)
}

impl ModelCopyDetector {
    /// The local file of the event's object, when its bucket is mirrored.
    fn local(&self, event: &Event) -> Option<(String, PathBuf)> {
        let bucket = event.get_str("storage.bucket")?;
        let account = event.get_str("storage.account");
        let key = object_key(event, bucket)?;
        let qualified = account.map(|a| format!("{a}/{bucket}"));
        let mirror = self.mirrors.iter().find(|m| {
            glob_match(&m.bucket, bucket)
                || qualified
                    .as_deref()
                    .is_some_and(|q| glob_match(&m.bucket, q))
        })?;
        let root = mirror.path.to_string_lossy().replace("{bucket}", bucket);
        let path = mirrored(Path::new(&root), key)?;
        Some((key.to_string(), path))
    }
}

impl Detector for ModelCopyDetector {
    fn codes(&self) -> Vec<&'static str> {
        vec![CODE.code]
    }

    fn inspect(&self, event: &Event, _scan: &Scan<'_>, out: &mut Vec<Finding>) {
        let Some(op) = event.get_str("storage.operation") else {
            return;
        };
        if !OPERATIONS.iter().any(|o| o.eq_ignore_ascii_case(op))
            || event.get_str("event.outcome") == Some("failure")
        {
            return;
        }
        let Some((key, path)) = self.local(event) else {
            return;
        };
        if !path.is_file() {
            return;
        }
        for found in self.examiner.0.copies(&path) {
            if found.copy.source {
                continue;
            }
            let mut evidence = evidence(&found.location, &found.copy);
            evidence.insert("storage.object.key".into(), json!(key));
            evidence.insert("mirror".into(), json!(path.display().to_string()));
            out.push(Finding {
                code: CODE.code,
                role: None,
                summary: summary(&found.location, &found.copy),
                evidence,
                severity: None,
            });
        }
    }
}

/// One line for people: `copy of registered model M (false-match probability P, a/b
/// tensors matched): LOCATION`.
pub fn summary(location: &str, c: &ModelCopy) -> String {
    format!(
        "copy of registered model {} (false-match probability {}, {}/{} tensors matched): {location}",
        c.model,
        c.probability(),
        c.matched_tensors,
        c.reference_tensors
    )
}

/// The evidence of a copy: the location, the model and the test's figures.
pub fn evidence(location: &str, c: &ModelCopy) -> Map<String, serde_json::Value> {
    let mut e = Map::new();
    e.insert("path".into(), json!(location));
    e.insert("model".into(), json!(c.model));
    e.insert(
        "false_match_probability".into(),
        json!(10f64.powf(c.log10_false_match_probability)),
    );
    e.insert(
        "log10_false_match_probability".into(),
        json!(c.log10_false_match_probability),
    );
    e.insert("agreement".into(), json!(c.agreement));
    e.insert("matched_tensors".into(), json!(c.matched_tensors));
    e.insert("reference_tensors".into(), json!(c.reference_tensors));
    e.insert("pb53_vector".into(), json!("weight_checkpoint_theft"));
    e
}

/// The alert `inventory find --copies` raises for a model file at `location` that copies a
/// registered model (None for the file the model was registered from). `now` is ms since
/// the epoch; the id is stable for the location and model.
pub fn alert(location: &str, c: &ModelCopy, now: i64) -> Option<Alert> {
    if c.source {
        return None;
    }
    let id = format!(
        "{}-{}",
        CODE.code,
        modelward_event::hash::stable_id(&[location, &c.model])
    );
    let mut alert = Alert::new(Arc::new(CODE.meta(FAMILY)), now, id);
    let mut entity = Map::new();
    entity.insert("resource".into(), json!(location));
    entity.insert("model".into(), json!(c.model));
    alert.entity = entity;
    alert.evidence = evidence(location, c);
    alert
        .fields
        .insert("message".into(), json!(summary(location, c)));
    Some(alert)
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::text::LlmText;

    struct Fake {
        asked: Mutex<Vec<PathBuf>>,
    }

    impl ExamineFile for Fake {
        fn copies(&self, path: &Path) -> Vec<Located> {
            self.asked.lock().unwrap().push(path.to_path_buf());
            let copy = |source| ModelCopy {
                model: "llama-ft-v3".into(),
                log10_false_match_probability: -120.3,
                agreement: 0.97,
                matched_tensors: 16,
                reference_tensors: 16,
                source,
            };
            vec![
                Located {
                    location: format!("{}!weights/model.gguf", path.display()),
                    copy: copy(false),
                },
                Located {
                    location: path.display().to_string(),
                    copy: copy(true),
                },
            ]
        }
    }

    fn event(v: serde_json::Value) -> Event {
        Event::from_json(&v.to_string()).unwrap()
    }

    #[test]
    fn a_mirrored_object_that_copies_a_model_is_reported() {
        let dir = std::env::temp_dir().join(format!("mw-model-copy-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("acme-exports/q3")).unwrap();
        std::fs::write(dir.join("acme-exports/q3/archive.zip"), b"x").unwrap();
        let fake = Arc::new(Fake {
            asked: Mutex::new(Vec::new()),
        });
        let settings = Settings {
            storage_mirrors: vec![StorageMirror {
                bucket: "acme-*".into(),
                path: dir.join("{bucket}"),
            }],
            copy_examiner: Some(Examiner(fake.clone())),
            ..Settings::default()
        };
        let mut ctx = BuildContext::new(&settings).unwrap();
        let d = ModelCopyDetector::build(&settings, &mut ctx)
            .unwrap()
            .unwrap();
        let run = |e: &Event| crate::detector::inspect_alone(&d, e, &LlmText::default());
        let get = event(
            json!({"storage": {"operation": "read", "bucket": "acme-exports",
            "object": {"key": "q3/archive.zip"}}, "user": {"id": "mallory"}}),
        );
        let found = run(&get);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].code, "MW-AI-0021");
        assert_eq!(found[0].evidence["model"], "llama-ft-v3");
        assert!(
            found[0].summary.contains("5.0e-121"),
            "{}",
            found[0].summary
        );
        assert!(found[0].evidence["path"]
            .as_str()
            .unwrap()
            .ends_with("archive.zip!weights/model.gguf"));
        // the key from file.path; a failed read, a listing, another bucket, a key leaving
        // the mirror and an object not mirrored are not examined
        let by_path = event(
            json!({"storage": {"operation": "read", "bucket": "acme-exports"},
            "file": {"path": "s3://acme-exports/q3/archive.zip"}}),
        );
        assert_eq!(run(&by_path).len(), 1);
        for quiet in [
            json!({"storage": {"operation": "read", "bucket": "acme-exports", "object": {"key": "q3/archive.zip"}}, "event": {"outcome": "failure"}}),
            json!({"storage": {"operation": "list", "bucket": "acme-exports", "object": {"key": "q3/archive.zip"}}}),
            json!({"storage": {"operation": "read", "bucket": "other", "object": {"key": "q3/archive.zip"}}}),
            json!({"storage": {"operation": "read", "bucket": "acme-exports", "object": {"key": "../acme-exports/q3/archive.zip"}}}),
            json!({"storage": {"operation": "read", "bucket": "acme-exports", "object": {"key": "q3/absent.zip"}}}),
        ] {
            assert!(run(&event(quiet.clone())).is_empty(), "{quiet}");
        }
        assert_eq!(fake.asked.lock().unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn without_mirrors_or_fingerprints_it_does_not_run() {
        let settings = Settings::default();
        let mut ctx = BuildContext::new(&settings).unwrap();
        assert!(ModelCopyDetector::build(&settings, &mut ctx)
            .unwrap()
            .is_none());
        assert!(mirrored(Path::new("/m"), "a/../b").is_none());
        assert!(mirrored(Path::new("/m"), "/etc/passwd")
            .is_some_and(|p| p == Path::new("/m/etc/passwd")));
        assert!(mirrored(Path::new("/m"), "").is_none());
    }

    #[test]
    fn the_inventory_alert_names_the_copy_and_not_the_source() {
        let c = ModelCopy {
            model: "ours".into(),
            log10_false_match_probability: -40.0,
            agreement: 0.99,
            matched_tensors: 3,
            reference_tensors: 4,
            source: false,
        };
        let a = alert("/srv/share/x.bin", &c, 1_700_000_000_000).unwrap();
        assert_eq!(a.rule.id, "MW-AI-0021");
        assert_eq!(a.evidence["model"], "ours");
        assert_eq!(
            a.id,
            alert("/srv/share/x.bin", &c, 0).unwrap().id,
            "stable ids"
        );
        assert!(CODE.problems().is_empty(), "{:?}", CODE.problems());
        assert!(alert("/srv/share/x.bin", &ModelCopy { source: true, ..c }, 0).is_none());
    }
}
