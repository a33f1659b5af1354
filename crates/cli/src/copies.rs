//! Copies of registered models: the fingerprint registry as `fingerprint match`, `inventory
//! find --copies` and the storage detector (MW-AI-0021) load it, and the detector's examiner
//! of mirrored objects (docs/inventory.md, docs/detectors.md).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Result};
use modelward_detectors::detectors::model_copy::{ExamineFile, Located};
use modelward_fingerprint::matching::MODEL_MATCH_P;
use modelward_fingerprint::Registry;
use modelward_inventory::blob::FileBlob;
use modelward_inventory::find::{find_in_blob, FindEvent};

/// The registered models of `db` made with the key of `key_env` (see
/// `fingerprint::key`), matching at `threshold` (default 1e-9). Models made with another
/// key are named on stderr (unless `quiet`); none made with this key is an error.
pub fn registry(
    db: &Path,
    key_env: Option<String>,
    threshold: Option<f64>,
    quiet: bool,
) -> Result<Registry> {
    let threshold = threshold.unwrap_or(MODEL_MATCH_P);
    if !(threshold > 0.0 && threshold < 1.0) {
        bail!("--threshold must be between 0 and 1");
    }
    let key = crate::fingerprint::key(key_env, quiet)?;
    let store = crate::db::open_existing(db, crate::db::Purpose::Fingerprints)?;
    let (registry, other) = Registry::load(&store, &key)?;
    if !quiet {
        for (name, key_id) in &other {
            modelward_event::errln!(
                "modelward: {name}: fingerprinted with key {key_id}, not the key given ({}): not compared",
                key.id()
            );
        }
    }
    if registry.models().is_empty() {
        bail!(
            "no fingerprint made with key {} in {} (`modelward fingerprint build` records them)",
            key.id(),
            db.display()
        );
    }
    Ok(registry.with_threshold(threshold))
}

/// Files the examiner remembers (path, size and modification time → copies); past it, it
/// starts over.
pub const CACHE: usize = 4096;

type Stamp = (u64, Option<std::time::SystemTime>);

/// Compares mirrored objects with the registry, through the inventory's reader (an
/// archive's model members too). Each file is examined once while its size and
/// modification time stay the same; what cannot be read is said once on stderr.
pub struct MirrorExaminer {
    registry: Registry,
    seen: Mutex<HashMap<PathBuf, (Stamp, Vec<Located>)>>,
}

impl MirrorExaminer {
    pub fn new(registry: Registry) -> MirrorExaminer {
        MirrorExaminer {
            registry,
            seen: Mutex::new(HashMap::new()),
        }
    }

    fn examine(&self, path: &Path) -> Vec<Located> {
        let location = path.display().to_string();
        let blob = match FileBlob::open(path) {
            Ok(b) => b,
            Err(e) => {
                modelward_event::errln!("modelward: MW-AI-0021: {location}: {e}");
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        find_in_blob(&blob, &location, Some(&self.registry), &mut |e| match e {
            FindEvent::Found(f) => out.extend(f.copies.iter().map(|c| Located {
                location: f.location.clone(),
                copy: c.clone(),
            })),
            FindEvent::Error { location, message } => {
                modelward_event::errln!("modelward: MW-AI-0021: {location}: {message}")
            }
        });
        out
    }
}

impl ExamineFile for MirrorExaminer {
    fn copies(&self, path: &Path) -> Vec<Located> {
        let stamp: Stamp = match std::fs::metadata(path) {
            Ok(m) => (m.len(), m.modified().ok()),
            Err(_) => return Vec::new(),
        };
        if let Ok(seen) = self.seen.lock() {
            if let Some((s, found)) = seen.get(path) {
                if *s == stamp {
                    return found.clone();
                }
            }
        }
        let found = self.examine(path);
        if let Ok(mut seen) = self.seen.lock() {
            if seen.len() >= CACHE {
                seen.clear();
            }
            seen.insert(path.to_path_buf(), (stamp, found.clone()));
        }
        found
    }
}
