//! `inventory scan`: walk the roots, identify model artifacts, hash them and record them in
//! the store. A scan accepts what it finds as the new reference: changed artifacts are
//! updated, and recorded artifacts under a scanned root that are gone are forgotten.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use modelward_store::inventory::ArtifactRecord;
use modelward_store::Store;

use crate::artifact::{hash_path, Artifact, Progress};
use crate::blob::{Blob, FileBlob};
use crate::error::InventoryError;
use crate::find::FindEvent;
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
    /// A member of an archive (`archive!member`, as `inventory find` names it): hashed as it
    /// was read, its hash or why it could not be.
    pub member: Option<Result<String, String>>,
}

/// Whether a file's first bytes are an archive `inventory find` looks into.
fn is_archive(blob: &FileBlob) -> bool {
    crate::blob::read_upto(blob, 0, 512).is_ok_and(|p| {
        crate::zip::matches(&p) || crate::tar::matches(&p) || p.starts_with(&[0x1f, 0x8b])
    })
}

/// The hash of a member's bytes (all of them: a compressed member larger than
/// [`crate::find::MEMBER_LIMIT`] cannot be read whole and fails).
pub(crate) fn hash_blob(blob: &dyn Blob, algorithm: HashAlgorithm) -> Result<String, String> {
    let mut reader = crate::blob::BlobReader::new(blob, 0, blob.size());
    crate::hash::hash_reader(&mut reader, algorithm, &mut |_| {})
        .map(|(hash, _)| hash)
        .map_err(|e| e.to_string())
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

/// Walks `root` and identifies what it holds, calling `found` for each model artifact,
/// `member` for each model file inside an archive (tar, tar.gz, zip: what `inventory find`
/// lists) with its bytes, and `error` for each path that failed. Returns the number of files
/// examined.
pub(crate) fn discover(
    root: &Path,
    found: &mut dyn FnMut(PathBuf, u64, Identified),
    member: &mut dyn FnMut(&str, &dyn Blob, &Identified),
    error: &mut dyn FnMut(InventoryError),
) -> u64 {
    let mut files = 0;
    walk(root, &mut |item| match item {
        Item::File { path, size, .. } => {
            files += 1;
            let blob = match FileBlob::open(&path) {
                Ok(b) => b,
                Err(e) => return error(InventoryError::io(path.display(), e)),
            };
            match identify(&blob) {
                Ok(Some(identified)) => found(path, size, identified),
                Ok(None) if is_archive(&blob) => {
                    let location = path.display().to_string();
                    let mut failed: Vec<InventoryError> = Vec::new();
                    crate::find::members_of(&blob, &location, &mut *member, &mut |e| {
                        if let FindEvent::Error { location, message } = e {
                            failed.push(InventoryError::io(
                                location,
                                std::io::Error::other(message.to_string()),
                            ));
                        }
                    });
                    failed.into_iter().for_each(&mut *error);
                }
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
    let mut members: Vec<Candidate> = Vec::new();
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
                    member: None,
                })
            },
            &mut |location, blob, identified| {
                members.push(Candidate {
                    path: PathBuf::from(location),
                    root: root_text.clone(),
                    size: blob.size(),
                    identified: identified.clone(),
                    member: Some(hash_blob(blob, algorithm)),
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
    candidates.append(&mut members);
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
        let hashed = match c.member {
            // Read (and hashed) with its archive; its time is the archive's.
            Some(Ok(hash)) => Ok((hash, c.size, None)),
            Some(Err(e)) => Err(std::io::Error::other(e)),
            None => hash_path(&c.path, algorithm, progress),
        };
        let (hash, size, mtime) = match hashed {
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
                && !failed.iter().any(|f| {
                    Path::new(&r.path).starts_with(f) || r.path.starts_with(&format!("{f}!"))
                })
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
