//! `inventory verify`: re-hash every recorded artifact and compare with the record; walk the
//! scanned roots for model files not recorded. Nothing is written: a scan accepts changes.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use modelward_store::inventory::ArtifactRecord;
use modelward_store::Store;

use crate::artifact::{hash_path, Progress};
use crate::blob::FileBlob;
use crate::error::InventoryError;
use crate::hash::HashAlgorithm;
use crate::scan::{discover, hash_blob};

/// The state of one artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Same size and hash as recorded.
    Intact,
    /// Size or hash differ.
    Modified,
    /// Recorded, not on disk.
    Missing,
    /// A model file under a scanned root that is not recorded.
    New,
    /// Could not be read.
    Error,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Intact => "intact",
            Status::Modified => "modified",
            Status::Missing => "missing",
            Status::New => "new",
            Status::Error => "error",
        }
    }

    /// Whether this status is a change from the record.
    pub fn is_change(self) -> bool {
        matches!(self, Status::Modified | Status::Missing | Status::New)
    }
}

/// One line of a verification report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    pub path: String,
    pub format: String,
    pub status: Status,
    /// What changed, or the error.
    pub detail: String,
    pub recorded_hash: Option<String>,
    pub actual_hash: Option<String>,
}

/// Counts of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifySummary {
    pub intact: u64,
    pub modified: u64,
    pub missing: u64,
    pub new: u64,
    pub errors: u64,
}

impl VerifySummary {
    pub fn changes(&self) -> u64 {
        self.modified + self.missing + self.new
    }

    fn count(&mut self, s: Status) {
        match s {
            Status::Intact => self.intact += 1,
            Status::Modified => self.modified += 1,
            Status::Missing => self.missing += 1,
            Status::New => self.new += 1,
            Status::Error => self.errors += 1,
        }
    }
}

/// The members of every archive that recorded artifacts are in (`archive!member`), each with
/// its size and its hash in its record's algorithm (or why it could not be read).
fn archive_members(records: &[ArtifactRecord]) -> HashMap<String, (u64, Result<String, String>)> {
    let mut algorithms: HashMap<&str, HashMap<&str, HashAlgorithm>> = HashMap::new();
    for r in records {
        if let (Some((archive, _)), Ok(a)) = (r.path.split_once('!'), r.hash_algorithm.parse()) {
            algorithms
                .entry(archive)
                .or_default()
                .insert(r.path.as_str(), a);
        }
    }
    let mut members = HashMap::new();
    for (archive, wanted) in algorithms {
        let Ok(blob) = FileBlob::open(Path::new(archive)) else {
            continue;
        };
        crate::find::members_of(
            &blob,
            archive,
            &mut |location, member, _| {
                if let Some(algorithm) = wanted.get(location) {
                    let hash = hash_blob(member, *algorithm);
                    members.insert(location.to_string(), (member.size(), hash));
                }
            },
            &mut |_| {},
        );
    }
    members
}

/// Verifies every recorded artifact, then looks for new ones under the scanned roots.
pub fn verify(
    store: &Store,
    progress: &mut dyn Progress,
    report: &mut dyn FnMut(&Check),
) -> Result<VerifySummary, InventoryError> {
    let records = store.artifacts()?;
    let mut summary = VerifySummary::default();
    progress.total(records.iter().map(|r| r.size).sum());
    let members = archive_members(&records);
    let mut emit = |summary: &mut VerifySummary, check: Check| {
        summary.count(check.status);
        report(&check);
    };
    for r in &records {
        let path = Path::new(&r.path);
        let mut check = Check {
            path: r.path.clone(),
            format: r.format.clone(),
            status: Status::Intact,
            detail: String::new(),
            recorded_hash: Some(r.hash.clone()),
            actual_hash: None,
        };
        if let Some((archive, _)) = r.path.split_once('!') {
            progress.advance(r.size);
            match members.get(&r.path) {
                None if Path::new(archive).exists() => {
                    check.status = Status::Missing;
                    check.detail = "no longer in its archive".into();
                }
                None => {
                    check.status = Status::Missing;
                    check.detail = "its archive is no longer on disk".into();
                }
                Some((_, Err(e))) => {
                    check.status = Status::Error;
                    check.detail = e.clone();
                }
                Some((size, Ok(hash))) => {
                    if *size != r.size {
                        check.status = Status::Modified;
                        check.detail = format!("size {} → {size} bytes", r.size);
                    } else if *hash != r.hash {
                        check.status = Status::Modified;
                        check.detail = format!("{} changed", r.hash_algorithm);
                    }
                    check.actual_hash = Some(hash.clone());
                }
            }
            emit(&mut summary, check);
            continue;
        }
        if !path.exists() {
            check.status = Status::Missing;
            check.detail = "no longer on disk".into();
            emit(&mut summary, check);
            continue;
        }
        let algorithm: HashAlgorithm = match r.hash_algorithm.parse() {
            Ok(a) => a,
            Err(e) => {
                check.status = Status::Error;
                check.detail = e;
                emit(&mut summary, check);
                continue;
            }
        };
        match crate::artifact::size_of(path) {
            Ok(size) if size != r.size => {
                progress.advance(r.size);
                check.status = Status::Modified;
                check.detail = format!("size {} → {size} bytes", r.size);
                emit(&mut summary, check);
                continue;
            }
            Ok(_) => {}
            Err(e) => {
                check.status = Status::Error;
                check.detail = e.to_string();
                emit(&mut summary, check);
                continue;
            }
        }
        match hash_path(path, algorithm, progress) {
            Ok((hash, _, _)) => {
                if hash != r.hash {
                    check.status = Status::Modified;
                    check.detail = format!("{} changed", algorithm.name());
                }
                check.actual_hash = Some(hash);
            }
            Err(e) => {
                check.status = Status::Error;
                check.detail = e.to_string();
            }
        }
        emit(&mut summary, check);
    }
    let recorded: HashSet<&str> = records.iter().map(|r| r.path.as_str()).collect();
    // Roots may overlap (a folder and a file in it): report each path once.
    let mut reported: HashSet<String> = HashSet::new();
    for root in store.roots()? {
        let root_path = PathBuf::from(&root.path);
        if !root_path.exists() {
            continue;
        }
        let mut new: Vec<(String, String)> = Vec::new();
        let mut errors: Vec<InventoryError> = Vec::new();
        let (mut files, mut members) = (Vec::new(), Vec::new());
        discover(
            &root_path,
            &mut |path, _, identified| {
                files.push((path.display().to_string(), identified.format.name()));
            },
            &mut |location, _, identified| {
                members.push((location.to_string(), identified.format.name()));
            },
            &mut |e| errors.push(e),
        );
        for (p, format) in files.into_iter().chain(members) {
            if !recorded.contains(p.as_str()) && reported.insert(p.clone()) {
                new.push((p, format.to_string()));
            }
        }
        for (path, format) in new {
            emit(
                &mut summary,
                Check {
                    path,
                    format,
                    status: Status::New,
                    detail: "model file not in the inventory".into(),
                    recorded_hash: None,
                    actual_hash: None,
                },
            );
        }
        for e in errors {
            let path = match &e {
                InventoryError::Io { path, .. } | InventoryError::Format { path, .. } => {
                    path.clone()
                }
                _ => root.path.clone(),
            };
            // A recorded file that cannot be read was reported above already.
            if recorded.contains(path.as_str()) || !reported.insert(path.clone()) {
                continue;
            }
            emit(
                &mut summary,
                Check {
                    path,
                    format: String::new(),
                    status: Status::Error,
                    detail: e.to_string(),
                    recorded_hash: None,
                    actual_hash: None,
                },
            );
        }
    }
    Ok(summary)
}
