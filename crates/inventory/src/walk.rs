//! Walking the paths given to a scan: files, and folders recursively (sorted, symlinks not
//! followed inside folders); a folder that is a TensorFlow SavedModel is one item and is not
//! descended into.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use crate::error::InventoryError;
use crate::format::{savedmodel, Identified};

/// How deep folders are descended.
const MAX_DEPTH: usize = 64;

/// One thing found by the walk.
pub enum Item {
    File {
        path: PathBuf,
        size: u64,
        mtime: Option<i64>,
    },
    SavedModel {
        path: PathBuf,
        identified: Identified,
    },
    Error(InventoryError),
}

pub(crate) fn mtime(meta: &std::fs::Metadata) -> Option<i64> {
    let t = meta.modified().ok()?;
    Some(match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    })
}

/// Walks `root`, calling `visit` for every file, SavedModel folder and error.
pub fn walk(root: &Path, visit: &mut dyn FnMut(Item)) {
    match std::fs::metadata(root) {
        Ok(meta) if meta.is_dir() => dir(root, 0, visit),
        Ok(meta) => visit(Item::File {
            path: root.to_path_buf(),
            size: meta.len(),
            mtime: mtime(&meta),
        }),
        Err(e) => visit(Item::Error(InventoryError::io(root.display(), e))),
    }
}

fn dir(path: &Path, depth: usize, visit: &mut dyn FnMut(Item)) {
    match savedmodel::read_dir(path) {
        Ok(Some(identified)) => {
            visit(Item::SavedModel {
                path: path.to_path_buf(),
                identified,
            });
            return;
        }
        Ok(None) => {}
        Err(e) => visit(Item::Error(InventoryError::format(
            path.join(savedmodel::FILE).display(),
            e,
        ))),
    }
    if depth >= MAX_DEPTH {
        return;
    }
    let entries = match std::fs::read_dir(path) {
        Ok(rd) => rd,
        Err(e) => return visit(Item::Error(InventoryError::io(path.display(), e))),
    };
    let mut children: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    for entry in entries {
        match entry.and_then(|e| {
            let meta = e.metadata()?;
            Ok((e.path(), meta))
        }) {
            Ok(child) => children.push(child),
            Err(e) => visit(Item::Error(InventoryError::io(path.display(), e))),
        }
    }
    children.sort_by(|a, b| a.0.cmp(&b.0));
    for (child, meta) in children {
        if meta.file_type().is_symlink() {
            continue;
        }
        if meta.is_dir() {
            dir(&child, depth + 1, visit);
        } else if meta.is_file() {
            visit(Item::File {
                size: meta.len(),
                mtime: mtime(&meta),
                path: child,
            });
        }
    }
}

/// Every regular file under `dir` (recursively, sorted, no symlinks), with its path relative to
/// `dir` using `/`.
pub(crate) fn files_under(
    dir: &Path,
) -> std::io::Result<Vec<(String, PathBuf, std::fs::Metadata)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new(), 0usize)];
    while let Some((path, rel, depth)) = stack.pop() {
        let mut children: Vec<_> = std::fs::read_dir(&path)?
            .map(|e| e.and_then(|e| Ok((e.file_name(), e.path(), e.metadata()?))))
            .collect::<Result<_, _>>()?;
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, child, meta) in children {
            let name = name.to_string_lossy();
            let child_rel = if rel.is_empty() {
                name.into_owned()
            } else {
                format!("{rel}/{name}")
            };
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.is_dir() && depth < MAX_DEPTH {
                stack.push((child, child_rel, depth + 1));
            } else if meta.is_file() {
                out.push((child_rel, child, meta));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
