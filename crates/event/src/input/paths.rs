use std::fs;
use std::path::{Path, PathBuf};

use super::InputError;

/// One input: standard input or a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    Stdin,
    File(PathBuf),
}

impl InputPath {
    pub fn display_name(&self) -> String {
        match self {
            InputPath::Stdin => "-".to_string(),
            InputPath::File(p) => p.display().to_string(),
        }
    }
}

/// Expands the command line's paths: `-` is stdin, a directory stands for every regular file
/// below it (recursively, sorted by path, hidden entries skipped), a file for itself. Paths
/// that cannot be read are returned as errors beside the inputs that can.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<InputPath>, Vec<InputError>) {
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(InputPath::Stdin);
            continue;
        }
        match fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk_dir(path, &mut inputs, &mut errors),
            Ok(meta) if meta.is_file() => inputs.push(InputPath::File(path.clone())),
            Ok(_) => errors.push(InputError::NotReadable {
                path: path.display().to_string(),
            }),
            Err(source) => errors.push(InputError::Open {
                path: path.display().to_string(),
                source,
            }),
        }
    }
    (inputs, errors)
}

fn walk_dir(dir: &Path, inputs: &mut Vec<InputPath>, errors: &mut Vec<InputError>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            errors.push(InputError::Open {
                path: dir.display().to_string(),
                source,
            });
            return;
        }
    };
    let mut children: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    children.sort();
    for child in children {
        let hidden = child
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        match fs::metadata(&child) {
            Ok(meta) if meta.is_dir() => walk_dir(&child, inputs, errors),
            Ok(meta) if meta.is_file() => inputs.push(InputPath::File(child)),
            Ok(_) => {}
            Err(source) => errors.push(InputError::Open {
                path: child.display().to_string(),
                source,
            }),
        }
    }
}
