use std::collections::HashSet;
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
///
/// Each real file is one input however many paths reach it (symbolic links, a path given
/// twice, hard links): its first path in that order names it. A directory is walked once;
/// a symbolic link back to a directory being walked (a cycle) is an error for that link.
pub fn expand_paths(paths: &[PathBuf]) -> (Vec<InputPath>, Vec<InputError>) {
    let mut walk = Walk::default();
    let mut inputs = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            inputs.push(InputPath::Stdin);
            continue;
        }
        let (files, errs) = walk.files(path, &|_| true);
        inputs.extend(files.into_iter().map(InputPath::File));
        errors.extend(errs);
    }
    (inputs, errors)
}

/// Whether `a` and `b` are the same file, whatever paths reach it (links, `..`): its device
/// and inode (elsewhere, the canonical path). False when either does not exist.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(ma), Ok(mb)) => identity(a, &ma) == identity(b, &mb),
        _ => false,
    }
}

/// What makes a file or directory itself, whatever path reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    #[cfg_attr(not(unix), allow(dead_code))]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &fs::Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &fs::Metadata) -> Identity {
    Identity::Path(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// Walks directories, following symbolic links, each real directory and file once: what a
/// walk has seen stays seen across calls, so several roots that overlap give each file once.
#[derive(Debug, Default)]
pub struct Walk {
    dirs: HashSet<Identity>,
    files: HashSet<Identity>,
}

enum Step {
    Visit(PathBuf),
    /// The end of a directory's entries: it is no longer being walked.
    Leave(Identity),
}

impl Walk {
    /// The regular files at or below `root` that `keep` accepts and this walk has not given
    /// yet, sorted by path within each directory (depth first), hidden entries below `root`
    /// skipped; and what could not be read. `keep` is asked about files found in directories;
    /// `root` itself, when it is a file, is always given (once).
    pub fn files(
        &mut self,
        root: &Path,
        keep: &dyn Fn(&Path) -> bool,
    ) -> (Vec<PathBuf>, Vec<InputError>) {
        let mut files = Vec::new();
        let mut errors = Vec::new();
        // Directories being walked: a link to one of them is a cycle.
        let mut open: HashSet<Identity> = HashSet::new();
        let mut stack = vec![Step::Visit(root.to_path_buf())];
        while let Some(step) = stack.pop() {
            let path = match step {
                Step::Visit(path) => path,
                Step::Leave(id) => {
                    open.remove(&id);
                    continue;
                }
            };
            let is_root = path == root;
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                // (A dangling link among files `keep` would not take is no one's concern.)
                Err(source) if is_root || keep(&path) => {
                    errors.push(InputError::Open {
                        path: path.display().to_string(),
                        source,
                    });
                    continue;
                }
                Err(_) => continue,
            };
            let id = identity(&path, &meta);
            if meta.is_file() {
                if (is_root || keep(&path)) && self.files.insert(id) {
                    files.push(path);
                }
                continue;
            }
            if !meta.is_dir() {
                if is_root {
                    errors.push(InputError::NotReadable {
                        path: path.display().to_string(),
                    });
                }
                continue;
            }
            if open.contains(&id) {
                errors.push(InputError::Cycle {
                    path: path.display().to_string(),
                });
                continue;
            }
            if !self.dirs.insert(id.clone()) {
                // Walked already, through another path: its files were given then.
                continue;
            }
            let entries = match fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(source) => {
                    errors.push(InputError::Open {
                        path: path.display().to_string(),
                        source,
                    });
                    continue;
                }
            };
            let mut children: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|child| {
                    !child
                        .file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with('.'))
                })
                .collect();
            children.sort();
            open.insert(id.clone());
            stack.push(Step::Leave(id));
            stack.extend(children.into_iter().rev().map(Step::Visit));
        }
        (files, errors)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_file_is_itself_through_links() {
        let dir = std::env::temp_dir().join(format!("mw-same-{}", std::process::id()));
        fs::create_dir_all(dir.join("sub")).unwrap();
        let a = dir.join("a.ndjson");
        fs::write(&a, "{}\n").unwrap();
        std::os::unix::fs::symlink(&a, dir.join("link")).unwrap();
        fs::hard_link(&a, dir.join("hard")).unwrap();
        assert!(same_file(&a, &dir.join("link")));
        assert!(same_file(&a, &dir.join("hard")));
        assert!(same_file(&a, &dir.join("sub/../a.ndjson")));
        assert!(!same_file(&a, &dir.join("sub")));
        assert!(!same_file(&a, &dir.join("missing")));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn each_real_file_once_and_cycles_reported() {
        let root = std::env::temp_dir().join(format!("mw-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("d/sub")).unwrap();
        fs::write(root.join("d/a.log"), "x").unwrap();
        fs::write(root.join("d/sub/b.log"), "x").unwrap();
        std::os::unix::fs::symlink("a.log", root.join("d/c.log")).unwrap();
        std::os::unix::fs::symlink("..", root.join("d/sub/back")).unwrap();
        std::os::unix::fs::symlink("sub", root.join("d/sub2")).unwrap();
        let (inputs, errors) = expand_paths(&[root.join("d"), root.join("d/a.log")]);
        let names: Vec<String> = inputs.iter().map(InputPath::display_name).collect();
        let d = root.join("d");
        assert_eq!(
            names,
            [d.join("a.log"), d.join("sub/b.log")].map(|p| p.display().to_string())
        );
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            matches!(&errors[0], InputError::Cycle { path } if path.ends_with("sub/back")),
            "{errors:?}"
        );
        fs::remove_dir_all(&root).unwrap();
    }
}
