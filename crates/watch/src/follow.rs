//! Files and directories followed as they grow, like `tail -F`: every poll reads the whole
//! lines appended since the last one.
//!
//! A file is known by its device and inode, not its name, so that:
//! - a file renamed away by a log rotator is read to its end under its new name (the handle
//!   stays open) and then dropped, while the new file at the old name is read from its start;
//! - a file that shrinks (truncated, `copytruncate` rotation) is read again from its start;
//! - a checkpoint names the position of each file read, which a restart resumes even if the
//!   file was renamed meanwhile.
//!
//! Only whole lines are taken: an unfinished last line waits for its newline (a writer in the
//! middle of a record). A line longer than the limit is skipped, with an error naming the file
//! and line, and reading goes on after it. At most `budget` bytes are read a poll (the rest
//! waits for the next), so memory stays bounded whatever a writer does.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use modelward_event::input::{Batch, RecordSpan};
use modelward_store::watch::Position;

/// What to follow, and how.
#[derive(Debug, Clone)]
pub struct FollowOptions {
    /// Files, and directories whose files (not subdirectories) are followed.
    pub paths: Vec<PathBuf>,
    /// File names followed in directories (`*` globs); empty: all.
    pub include: Vec<String>,
    /// Files already there at the first start (with no checkpoint) are read from their end,
    /// not their beginning; files that appear later are read whole.
    pub start_at_end: bool,
    /// The longest line taken (longer ones are skipped with an error).
    pub max_line: usize,
    /// Bytes read at most per poll, over all files.
    pub budget: usize,
}

impl Default for FollowOptions {
    fn default() -> FollowOptions {
        FollowOptions {
            paths: Vec::new(),
            include: Vec::new(),
            start_at_end: false,
            max_line: 64 << 20,
            budget: 8 << 20,
        }
    }
}

/// Something that went wrong with one file; the others go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FollowError {
    #[error("{path}: {error}")]
    Io { path: String, error: String },
    #[error("{path}:{line}: a line longer than {max} bytes, skipped")]
    LongLine { path: String, line: u64, max: usize },
    #[error("{path}: the file shrank (truncated): read again from its start")]
    Truncated { path: String },
}

/// One file followed.
#[derive(Debug)]
struct Followed {
    path: PathBuf,
    file: File,
    /// Bytes consumed: through the end of the last whole line taken.
    offset: u64,
    /// The line the next record starts on.
    line: u64,
    /// Whether its name still leads to it (else it is read to its end and dropped).
    current: bool,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

/// The files followed and where each was read to.
#[derive(Debug)]
pub struct Follower {
    options: FollowOptions,
    files: HashMap<(u64, u64), Followed>,
    /// Positions from a checkpoint, for files not opened yet.
    resume: HashMap<(u64, u64), Position>,
    first: bool,
}

impl Follower {
    /// A follower starting from a checkpoint's positions (empty: a first start).
    pub fn new(options: FollowOptions, checkpoint: &[Position]) -> Follower {
        Follower {
            first: checkpoint.is_empty(),
            resume: checkpoint
                .iter()
                .map(|p| ((p.dev, p.ino), p.clone()))
                .collect(),
            options,
            files: HashMap::new(),
        }
    }

    /// Where each file followed was read to.
    pub fn positions(&self) -> Vec<Position> {
        let mut out: Vec<Position> = self
            .files
            .iter()
            .map(|(&(dev, ino), f)| Position {
                dev,
                ino,
                path: f.path.display().to_string(),
                offset: f.offset,
                line: f.line,
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// Files followed, and the bytes written to them not read yet.
    pub fn lag(&self) -> (u64, u64) {
        let behind = self
            .files
            .values()
            .map(|f| {
                f.file
                    .metadata()
                    .map_or(0, |m| m.len().saturating_sub(f.offset))
            })
            .sum();
        (self.files.len() as u64, behind)
    }

    /// The files the paths name now.
    fn discover(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for p in &self.options.paths {
            if p.is_dir() {
                let Ok(entries) = std::fs::read_dir(p) else {
                    continue;
                };
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().to_string();
                    let wanted = self.options.include.is_empty()
                        || self
                            .options
                            .include
                            .iter()
                            .any(|g| modelward_event::glob::glob_match(g, &name));
                    if wanted && e.path().is_file() {
                        out.push(e.path());
                    }
                }
            } else if p.is_file() {
                out.push(p.clone());
            }
        }
        out.sort();
        out
    }

    /// Reads what was appended since the last poll: a batch of whole lines per file that grew.
    pub fn poll(&mut self, errors: &mut Vec<FollowError>) -> Vec<Batch> {
        let mut seen = Vec::new();
        for path in self.discover() {
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let key = (meta.dev(), meta.ino());
            seen.push(key);
            if let Some(f) = self.files.get_mut(&key) {
                f.path = path;
                f.current = true;
                continue;
            }
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    errors.push(FollowError::Io {
                        path: path.display().to_string(),
                        error: e.to_string(),
                    });
                    continue;
                }
            };
            let (offset, line) = match self.resume.remove(&key) {
                Some(p) => (p.offset, p.line),
                None if self.first && self.options.start_at_end => {
                    (meta.len(), 1 + count_lines(&path, meta.len()))
                }
                None => (0, 1),
            };
            self.files.insert(
                key,
                Followed {
                    path,
                    file,
                    offset,
                    line,
                    current: true,
                    skipping: false,
                },
            );
        }
        self.first = false;
        for (key, f) in self.files.iter_mut() {
            if !seen.contains(key) {
                f.current = false;
            }
        }
        let mut batches = Vec::new();
        let mut budget = self.options.budget;
        let mut done = Vec::new();
        let mut keys: Vec<(u64, u64)> = self.files.keys().copied().collect();
        keys.sort_by(|a, b| self.files[a].path.cmp(&self.files[b].path));
        for key in keys {
            let f = self.files.get_mut(&key).expect("listed");
            let (batch, at_end) = read_lines(f, &mut budget, self.options.max_line, errors);
            if let Some(b) = batch {
                batches.push(b);
            }
            // A file no longer under its name, read to its end: done with.
            if !f.current && at_end {
                done.push(key);
            }
        }
        for key in done {
            self.files.remove(&key);
        }
        batches
    }
}

/// Lines in the first `len` bytes of `path` (for a file first read from its end, so its
/// records keep their line numbers).
fn count_lines(path: &Path, len: u64) -> u64 {
    let Ok(mut file) = File::open(path) else {
        return 0;
    };
    let mut left = len;
    let mut buf = vec![0u8; 1 << 20];
    let mut lines = 0;
    while left > 0 {
        let want = buf.len().min(left as usize);
        match file.read(&mut buf[..want]) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
                left -= n as u64;
            }
        }
    }
    lines
}

/// Up to `n` bytes of `file` from `at`.
fn read_at(file: &mut File, at: u64, n: usize) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(n);
    file.seek(SeekFrom::Start(at))?;
    file.take(n as u64).read_to_end(&mut data)?;
    Ok(data)
}

/// Reads the whole lines `f` has past its offset, within `budget`; whether it reached the
/// file's end.
fn read_lines(
    f: &mut Followed,
    budget: &mut usize,
    max_line: usize,
    errors: &mut Vec<FollowError>,
) -> (Option<Batch>, bool) {
    let name = || f.path.display().to_string();
    let len = match f.file.metadata() {
        Ok(m) => m.len(),
        Err(e) => {
            errors.push(FollowError::Io {
                path: name(),
                error: e.to_string(),
            });
            return (None, true);
        }
    };
    if len < f.offset {
        errors.push(FollowError::Truncated { path: name() });
        f.offset = 0;
        f.line = 1;
        f.skipping = false;
    }
    if len == f.offset || *budget == 0 {
        return (None, len == f.offset);
    }
    let left = (len - f.offset) as usize;
    // The budget's worth; more only to finish a line (at most a line's worth).
    let mut data = match read_at(&mut f.file, f.offset, left.min(*budget)) {
        Ok(d) => d,
        Err(e) => {
            errors.push(FollowError::Io {
                path: name(),
                error: e.to_string(),
            });
            return (None, true);
        }
    };
    let most = left.min(max_line + 1);
    if data.len() < most && memchr::memrchr(b'\n', &data).is_none() {
        match read_at(&mut f.file, f.offset, most) {
            Ok(d) => data = d,
            Err(e) => {
                errors.push(FollowError::Io {
                    path: name(),
                    error: e.to_string(),
                });
                return (None, true);
            }
        }
    }
    // Whole lines only: up to the last newline.
    let Some(last) = memchr::memrchr(b'\n', &data) else {
        if data.len() > max_line {
            // No newline in more than a line's worth: skip to the next one.
            if !f.skipping {
                errors.push(FollowError::LongLine {
                    path: name(),
                    line: f.line,
                    max: max_line,
                });
            }
            f.skipping = true;
            f.offset += data.len() as u64;
            *budget = budget.saturating_sub(data.len());
        }
        return (None, false);
    };
    data.truncate(last + 1);
    *budget = budget.saturating_sub(data.len());
    let base = f.offset;
    let mut records = Vec::new();
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', &data) {
        let line = f.line;
        f.line += 1;
        if std::mem::take(&mut f.skipping) {
            start = end + 1;
            continue;
        }
        let text_end = if end > start && data[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        if end - start > max_line {
            errors.push(FollowError::LongLine {
                path: name(),
                line,
                max: max_line,
            });
        } else if data[start..text_end]
            .iter()
            .any(|b| !b.is_ascii_whitespace())
        {
            records.push(RecordSpan {
                start,
                end: text_end,
                line,
                offset: base + start as u64,
            });
        }
        start = end + 1;
    }
    f.offset += data.len() as u64;
    let at_end = f.offset >= len;
    if records.is_empty() {
        return (None, at_end);
    }
    (
        Some(Batch {
            file: Arc::from(f.path.display().to_string()),
            data,
            records,
        }),
        at_end,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("mw-follow-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn append(path: &Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// (file name, line, offset, text) of every record.
    fn records(batches: &[Batch]) -> Vec<(String, u64, u64, String)> {
        batches
            .iter()
            .flat_map(|b| {
                b.records.iter().map(move |r| {
                    let name = Path::new(&*b.file)
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .to_string();
                    (
                        name,
                        r.line,
                        r.offset,
                        String::from_utf8_lossy(b.bytes(r)).to_string(),
                    )
                })
            })
            .collect()
    }

    #[test]
    fn whole_lines_as_they_come_with_their_places() {
        let dir = scratch("grow");
        let log = dir.join("a.ndjson");
        append(&log, "{\"n\":1}\n\n{\"n\":2}\n{\"n\"");
        let mut f = Follower::new(
            FollowOptions {
                paths: vec![dir.clone()],
                ..FollowOptions::default()
            },
            &[],
        );
        let mut errors = Vec::new();
        let got = records(&f.poll(&mut errors));
        assert_eq!(
            got,
            vec![
                ("a.ndjson".into(), 1, 0, "{\"n\":1}".into()),
                ("a.ndjson".into(), 3, 9, "{\"n\":2}".into()),
            ]
        );
        // The unfinished line waits for its end.
        assert!(f.poll(&mut errors).is_empty());
        append(&log, ":3}\r\n");
        assert_eq!(
            records(&f.poll(&mut errors)),
            vec![("a.ndjson".into(), 4, 17, "{\"n\":3}".into())]
        );
        assert!(errors.is_empty(), "{errors:?}");
        // A new file in the directory is read whole.
        append(&dir.join("b.ndjson"), "{\"b\":1}\n");
        assert_eq!(records(&f.poll(&mut errors)).len(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rotation_truncation_and_a_restart_from_positions() {
        let dir = scratch("rotate");
        let log = dir.join("app.log");
        append(&log, "one\ntwo\n");
        let options = FollowOptions {
            paths: vec![dir.clone()],
            include: vec!["app.log*".into()],
            start_at_end: true,
            ..FollowOptions::default()
        };
        let mut f = Follower::new(options.clone(), &[]);
        let mut errors = Vec::new();
        // First start at the end: nothing old, but later lines keep their numbers.
        assert!(f.poll(&mut errors).is_empty());
        append(&log, "three\n");
        assert_eq!(
            records(&f.poll(&mut errors)),
            vec![("app.log".into(), 3, 8, "three".into())]
        );
        // Rotated: the old file gets one more line under its new name, a new file starts.
        append(&log, "four\n");
        std::fs::rename(&log, dir.join("app.log.1")).unwrap();
        append(&log, "new-one\n");
        let mut got = records(&f.poll(&mut errors));
        got.sort();
        assert_eq!(
            got,
            vec![
                ("app.log".into(), 1, 0, "new-one".into()),
                ("app.log.1".into(), 4, 14, "four".into()),
            ]
        );
        // A restart from the checkpoint reads only what came after.
        let positions = f.positions();
        append(&log, "new-two\n");
        let mut g = Follower::new(options, &positions);
        assert_eq!(
            records(&g.poll(&mut errors)),
            vec![("app.log".into(), 2, 8, "new-two".into())]
        );
        // Truncated: read again from the start, and said.
        std::fs::write(&log, "again\n").unwrap();
        assert_eq!(
            records(&g.poll(&mut errors)),
            vec![("app.log".into(), 1, 0, "again".into())]
        );
        assert!(
            matches!(errors.as_slice(), [FollowError::Truncated { .. }]),
            "{errors:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_and_reading_goes_on() {
        let dir = scratch("long");
        let log = dir.join("x.ndjson");
        append(&log, &format!("ok1\n{}\nok2\n", "y".repeat(100)));
        let mut f = Follower::new(
            FollowOptions {
                paths: vec![log.clone()],
                max_line: 50,
                ..FollowOptions::default()
            },
            &[],
        );
        let mut errors = Vec::new();
        let mut got = Vec::new();
        for _ in 0..4 {
            got.extend(records(&f.poll(&mut errors)));
        }
        let texts: Vec<&str> = got.iter().map(|r| r.3.as_str()).collect();
        assert_eq!(texts, ["ok1", "ok2"]);
        assert_eq!(got[1].1, 3, "line numbers stay true");
        assert!(
            matches!(errors.as_slice(), [FollowError::LongLine { line: 2, .. }]),
            "{errors:?}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
