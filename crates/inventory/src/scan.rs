//! `inventory scan`: walk the roots, identify model artifacts, hash them and record them in
//! the store. A scan accepts what it finds as the new reference: changed artifacts are
//! updated, and recorded artifacts under a scanned root that are gone are forgotten.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use modelward_store::inventory::ArtifactRecord;
use modelward_store::Store;

use crate::artifact::{hash_path, Artifact, Progress};
use crate::blob::FileBlob;
use crate::error::InventoryError;
use crate::format::{identify, Identified};
use crate::hash::HashAlgorithm;
use crate::walk::{walk, Item};

/// What a scan did with an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Not recorded before.
    New,
    /// Same size and hash as recorded.
    Unchanged,
    /// Size or hash differ from the record (now updated).
    Modified,
    /// Recorded with another hash algorithm; re-recorded with this one.
    Rehashed,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Unchanged => "unchanged",
            Change::Modified => "modified",
            Change::Rehashed => "rehashed",
        }
    }
}

/// One line of a scan's report.
pub enum ScanEvent<'a> {
    Recorded {
        artifact: &'a Artifact,
        change: Change,
    },
    /// Was recorded under a scanned root, is gone: forgotten.
    Removed { record: &'a ArtifactRecord },
    /// A path that could not be read or whose header is broken.
    Skipped { error: &'a InventoryError },
}

/// Counts of a scan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScanSummary {
    pub files: u64,
    pub artifacts: u64,
    pub new: u64,
    pub modified: u64,
    pub removed: u64,
    pub skipped: u64,
    pub bytes_hashed: u64,
}

/// A model artifact found by the walk, before hashing.
pub(crate) struct Candidate {
    pub path: PathBuf,
    pub root: String,
    pub size: u64,
    pub identified: Identified,
}

/// Absolute, symlink-free form of a root, as stored.
pub(crate) fn canonical(path: &Path) -> Result<(PathBuf, String), InventoryError> {
    let abs = std::fs::canonicalize(path).map_err(|e| InventoryError::io(path.display(), e))?;
    let text = abs
        .to_str()
        .ok_or_else(|| InventoryError::NonUtf8 {
            path: abs.display().to_string(),
        })?
        .to_string();
    Ok((abs, text))
}

/// Walks `root` and identifies what it holds, calling `found` for each model artifact and
/// `error` for each path that failed. Returns the number of files examined.
pub(crate) fn discover(
    root: &Path,
    found: &mut dyn FnMut(PathBuf, u64, Identified),
    error: &mut dyn FnMut(InventoryError),
) -> u64 {
    let mut files = 0;
    walk(root, &mut |item| match item {
        Item::File { path, size, .. } => {
            files += 1;
            let id = FileBlob::open(&path)
                .map_err(crate::error::FormatError::Io)
                .and_then(|blob| identify(&blob));
            match id {
                Ok(Some(identified)) => found(path, size, identified),
                Ok(None) => {}
                Err(e) => error(InventoryError::format(path.display(), e)),
            }
        }
        Item::SavedModel { path, identified } => {
            files += 1;
            let size = crate::artifact::size_of(&path).unwrap_or(0);
            found(path, size, identified);
        }
        Item::Error(e) => error(e),
    });
    files
}

/// Scans `roots` into the store at time `now` (Unix seconds), reporting every artifact, every
/// forgotten record and every skipped path. Only a store error ends the scan early.
pub fn scan(
    store: &mut Store,
    roots: &[PathBuf],
    algorithm: HashAlgorithm,
    now: i64,
    progress: &mut dyn Progress,
    report: &mut dyn FnMut(ScanEvent<'_>),
) -> Result<ScanSummary, InventoryError> {
    let mut summary = ScanSummary::default();
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut walked_roots: Vec<String> = Vec::new();
    let mut failed: HashSet<String> = HashSet::new();
    for root in roots {
        let (abs, root_text) = match canonical(root) {
            Ok(r) => r,
            Err(e) => {
                summary.skipped += 1;
                report(ScanEvent::Skipped { error: &e });
                continue;
            }
        };
        summary.files += discover(
            &abs,
            &mut |path, size, identified| {
                candidates.push(Candidate {
                    path,
                    root: root_text.clone(),
                    size,
                    identified,
                })
            },
            &mut |e| {
                summary.skipped += 1;
                if let InventoryError::Io { path, .. } | InventoryError::Format { path, .. } = &e {
                    failed.insert(path.clone());
                }
                report(ScanEvent::Skipped { error: &e });
            },
        );
        walked_roots.push(root_text);
    }
    progress.total(candidates.iter().map(|c| c.size).sum());
    let mut seen: HashSet<String> = HashSet::new();
    let mut pending: Vec<(Artifact, Change, ArtifactRecord)> = Vec::new();
    for c in candidates {
        let Some(path) = c.path.to_str().map(String::from) else {
            let e = InventoryError::NonUtf8 {
                path: c.path.display().to_string(),
            };
            summary.skipped += 1;
            report(ScanEvent::Skipped { error: &e });
            continue;
        };
        if !seen.insert(path.clone()) {
            continue;
        }
        let (hash, size, mtime) = match hash_path(&c.path, algorithm, progress) {
            Ok(h) => h,
            Err(e) => {
                failed.insert(path.clone());
                summary.skipped += 1;
                report(ScanEvent::Skipped {
                    error: &InventoryError::io(&path, e),
                });
                continue;
            }
        };
        summary.bytes_hashed += size;
        let metadata = c.identified.metadata_json();
        let artifact = Artifact {
            path: path.clone(),
            format: c.identified.format,
            size,
            mtime,
            algorithm,
            hash,
            metadata,
            warnings: c.identified.warnings,
        };
        let previous = pending_record(&artifact, &c.root, now);
        pending.push((artifact, Change::New, previous));
    }
    // Compare with the records, then write them in one transaction.
    let mut changes = Vec::with_capacity(pending.len());
    for (artifact, _, mut record) in pending {
        let change = match store.artifact(&artifact.path)? {
            None => Change::New,
            Some(old) => {
                record.first_seen = old.first_seen;
                if old.hash_algorithm != artifact.algorithm.name() {
                    Change::Rehashed
                } else if old.hash == artifact.hash && old.size == artifact.size {
                    Change::Unchanged
                } else {
                    Change::Modified
                }
            }
        };
        changes.push((artifact, change, record));
    }
    let mut batch = store.batch()?;
    for (artifact, change, record) in &changes {
        batch.upsert_artifact(record)?;
        summary.artifacts += 1;
        match change {
            Change::New => summary.new += 1,
            Change::Modified => summary.modified += 1,
            _ => {}
        }
        report(ScanEvent::Recorded {
            artifact,
            change: *change,
        });
    }
    for root in &walked_roots {
        batch.touch_root(root, now)?;
    }
    batch.commit()?;
    // Forget what is gone from the scanned roots, or is no longer a model (not what merely
    // failed to read, nor what lies in a folder that could not be read).
    let gone: Vec<ArtifactRecord> = store
        .artifacts()?
        .into_iter()
        .filter(|r| {
            walked_roots
                .iter()
                .any(|root| Path::new(&r.path).starts_with(root))
                && !seen.contains(&r.path)
                && !failed.iter().any(|f| Path::new(&r.path).starts_with(f))
        })
        .collect();
    if !gone.is_empty() {
        let mut batch = store.batch()?;
        for r in &gone {
            batch.remove_artifact(&r.path)?;
            summary.removed += 1;
            report(ScanEvent::Removed { record: r });
        }
        batch.commit()?;
    }
    Ok(summary)
}

fn pending_record(a: &Artifact, root: &str, now: i64) -> ArtifactRecord {
    ArtifactRecord {
        path: a.path.clone(),
        root: root.to_string(),
        format: a.format.name().to_string(),
        size: a.size,
        mtime: a.mtime,
        hash_algorithm: a.algorithm.name().to_string(),
        hash: a.hash.clone(),
        metadata: a.metadata.to_string(),
        first_seen: now,
        last_seen: now,
    }
}
