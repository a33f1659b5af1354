//! An artifact on disk: hashing a file or a SavedModel folder, and the progress callbacks.

use std::fs::File;
use std::path::Path;

use serde_json::Value;

use crate::format::Format;
use crate::hash::{hash_reader, HashAlgorithm};
use crate::walk::{files_under, mtime};

/// Progress of a long run (bytes hashed), for a progress bar.
pub trait Progress {
    /// The bytes the run expects to read in all.
    fn total(&mut self, _bytes: u64) {}
    /// A file is being read.
    fn file(&mut self, _path: &str) {}
    /// Bytes were read.
    fn advance(&mut self, _bytes: u64) {}
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {}

/// A model artifact as found on disk now.
#[derive(Clone, Debug, PartialEq)]
pub struct Artifact {
    /// Absolute path of the file or SavedModel folder.
    pub path: String,
    pub format: Format,
    /// Bytes (of every file, for a folder).
    pub size: u64,
    /// Unix seconds (the newest file's, for a folder).
    pub mtime: Option<i64>,
    pub algorithm: HashAlgorithm,
    /// Lower-case hex.
    pub hash: String,
    /// Header metadata, warnings included under `"warnings"`.
    pub metadata: Value,
    pub warnings: Vec<String>,
}

/// The content hash of a file, or of a folder: the hash over its files in path order, each
/// as its relative path, a NUL, its size (u64 LE) and its own hex digest. Returns the hash,
/// the bytes hashed and the modification time (the newest, for a folder).
pub fn hash_path(
    path: &Path,
    algorithm: HashAlgorithm,
    progress: &mut dyn Progress,
) -> std::io::Result<(String, u64, Option<i64>)> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        progress.file(&path.display().to_string());
        let mut file = File::open(path)?;
        let (hash, n) = hash_reader(&mut file, algorithm, &mut |n| progress.advance(n))?;
        return Ok((hash, n, mtime(&meta)));
    }
    let mut manifest = algorithm.hasher();
    let mut total = 0u64;
    let mut newest: Option<i64> = None;
    for (rel, child, meta) in files_under(path)? {
        progress.file(&child.display().to_string());
        let mut file = File::open(&child)?;
        let (hash, n) = hash_reader(&mut file, algorithm, &mut |n| progress.advance(n))?;
        manifest.update(rel.as_bytes());
        manifest.update(&[0]);
        manifest.update(&n.to_le_bytes());
        manifest.update(hash.as_bytes());
        total += n;
        newest = newest.max(mtime(&meta));
    }
    Ok((manifest.finish_hex(), total, newest))
}

/// The size on disk of a file or of every file in a folder.
pub fn size_of(path: &Path) -> std::io::Result<u64> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    Ok(files_under(path)?.iter().map(|(_, _, m)| m.len()).sum())
}
