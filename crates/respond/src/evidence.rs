//! Evidence preservation (PB-53 2.3): the raw log records behind an incident's alerts, read
//! again from their files right after the hunt and kept in the store byte for byte with their
//! SHA-256; and the export bundle a responder hands to legal or HR, with a manifest that
//! `sha256sum -c` (or `modelward incident verify`) checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use modelward_event::hash::{record_hash, record_hash_text};
use modelward_event::input::{InputPath, Reader, ReaderOptions};
use modelward_store::incidents::EvidenceRecord;
use modelward_store::Store;
use sha2::{Digest, Sha256};

use crate::action::{Action, ExecError, Executed, Executor, PlannedAction};
use crate::alert_view::SampleRef;

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What reading the records back found.
#[derive(Debug, Default)]
pub struct Capture {
    pub records: Vec<EvidenceRecord>,
    /// Records not found (file gone, or shorter than the line): `file:line: why`.
    pub missing: Vec<String>,
}

/// Reads the records at `samples` from their files (gzip too), as the hunt's reader reads
/// them; `read_at` (ms) dates them. A record found at its offset but on another line than
/// the hunt saw is not taken: the file changed since (rotated, truncated, rewritten).
pub fn capture(samples: &[SampleRef], read_at: i64) -> Capture {
    /// Offset -> (the line the hunt saw the record on, its hash as read, if known).
    type Wanted<'a> = BTreeMap<u64, (u64, Option<&'a str>)>;
    // Per file: the offsets wanted (exact) with the line the hunt saw each on, and the lines
    // wanted without an offset (the first record starting on the line; a line may hold
    // several, as a JSON array does).
    let mut by_file: BTreeMap<&str, (Wanted, BTreeSet<u64>)> = BTreeMap::new();
    for s in samples {
        let (offsets, lines) = by_file.entry(s.file.as_str()).or_default();
        match s.offset {
            Some(o) => {
                offsets.insert(o, (s.line, s.hash.as_deref()));
            }
            None => {
                lines.insert(s.line);
            }
        }
    }
    let mut out = Capture::default();
    for (file, (mut offsets, mut lines)) in by_file {
        let missing = |why: &dyn std::fmt::Display, offsets: &Wanted, lines: &BTreeSet<u64>| {
            offsets
                .keys()
                .map(|o| format!("{file} at byte {o}: {why}"))
                .chain(lines.iter().map(|l| format!("{file}:{l}: {why}")))
                .collect::<Vec<_>>()
        };
        if file == "-" || file == "<stdin>" {
            out.missing
                .extend(missing(&"read from stdin, not kept", &offsets, &lines));
            continue;
        }
        let input = InputPath::File(PathBuf::from(file));
        let mut reader = match Reader::open(&input, ReaderOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                out.missing.extend(missing(&e, &offsets, &lines));
                continue;
            }
        };
        while let Some(batch) = reader.next_batch() {
            let Ok(batch) = batch else { continue };
            for span in &batch.records {
                let at_offset = offsets.remove(&span.offset);
                if let Some((line, _)) = at_offset.filter(|(l, _)| *l != span.line) {
                    out.missing.push(format!(
                        "{file} at byte {}: the file changed since the hunt read it (the record there is on line {}, was on line {line}): not taken",
                        span.offset, span.line
                    ));
                    continue;
                }
                let read = || record_hash_text(record_hash(batch.bytes(span)));
                if let Some((_, Some(hash))) =
                    at_offset.filter(|(_, h)| h.is_some_and(|h| h != read()))
                {
                    out.missing.push(format!(
                        "{file} at byte {}: the file changed since the hunt read it (the record there has another hash than {hash}): not taken",
                        span.offset
                    ));
                    continue;
                }
                if at_offset.is_some() || lines.remove(&span.line) {
                    let raw = batch.bytes(span).to_vec();
                    out.records.push(EvidenceRecord {
                        file: file.to_string(),
                        line: span.line,
                        offset: span.offset,
                        sha256: sha256_hex(&raw),
                        raw,
                        read_at,
                    });
                }
            }
            if offsets.is_empty() && lines.is_empty() {
                break;
            }
        }
        out.missing
            .extend(missing(&"no record starts there", &offsets, &lines));
    }
    out.records
        .dedup_by(|a, b| a.file == b.file && a.offset == b.offset);
    out
}

/// The executor of `preserve_evidence`: captures the records behind an incident's alerts
/// (as the store holds the incident) into the store.
pub struct EvidenceExecutor {
    store: Store,
    now: i64,
}

impl EvidenceExecutor {
    /// Works on its own connection to the incident database.
    pub fn new(store: Store, now: i64) -> Self {
        EvidenceExecutor { store, now }
    }
}

/// The records behind an incident's alerts.
pub fn samples_of(incident: &crate::Incident) -> Vec<SampleRef> {
    let mut out: Vec<SampleRef> = incident
        .alerts
        .iter()
        .flat_map(|a| a.samples.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

impl Executor for EvidenceExecutor {
    fn name(&self) -> String {
        "evidence".into()
    }

    fn handles(&self, action: &PlannedAction) -> bool {
        matches!(action.action, Action::PreserveEvidence { .. })
    }

    fn execute(&mut self, action: &PlannedAction) -> Result<Executed, ExecError> {
        let incident = crate::repo::load(&self.store, &action.incident)
            .map_err(|e| ExecError::Failed(e.to_string()))?;
        let captured = capture(&samples_of(&incident), self.now);
        if captured.records.is_empty() && !captured.missing.is_empty() {
            return Err(ExecError::Failed(format!(
                "no record could be read back: {}",
                captured.missing.join("; ")
            )));
        }
        let mut batch = self.store.batch()?;
        let mut new = 0;
        for r in &captured.records {
            new += usize::from(batch.put_evidence(&action.incident, r)?);
        }
        batch.commit()?;
        let mut detail = format!(
            "{} raw record(s) preserved with their SHA-256 ({new} new)",
            captured.records.len()
        );
        if !captured.missing.is_empty() {
            detail.push_str(&format!(
                "; {} not found: {}",
                captured.missing.len(),
                captured.missing.join("; ")
            ));
        }
        Ok(Executed { detail })
    }
}

/// The name of the manifest in a bundle (`sha256sum -c SHA256SUMS` checks it).
pub const MANIFEST: &str = "SHA256SUMS";

/// Writes `files` (relative path → bytes) into `dir` (created; must not exist or be empty)
/// and the manifest over them; returns the manifest's lines.
pub fn write_bundle(dir: &Path, files: &[(String, Vec<u8>)]) -> io::Result<Vec<String>> {
    ensure_empty(dir)?;
    fs::create_dir_all(dir)?;
    let mut manifest = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, bytes)?;
        manifest.push(format!("{}  {name}", sha256_hex(bytes)));
    }
    fs::write(dir.join(MANIFEST), manifest.join("\n") + "\n")?;
    Ok(manifest)
}

/// Refuses a bundle folder that exists and holds anything (a bundle is never written over
/// another, nor mixed with other files).
pub fn ensure_empty(dir: &Path) -> io::Result<()> {
    if dir.exists() && fs::read_dir(dir)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not empty", dir.display()),
        ));
    }
    Ok(())
}

/// A bundle file whose content no longer matches the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub file: String,
    /// `changed`, `missing`, or `not in the manifest`.
    pub why: String,
}

/// What checking a bundle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Files the manifest lists.
    pub files: usize,
    pub mismatches: Vec<Mismatch>,
    /// SHA-256 of the manifest itself (the export records it in the audit log).
    pub manifest_sha256: String,
}

/// Checks a bundle against its manifest: every listed file present with its hash, no file or
/// symbolic link the manifest does not list, and each raw record still hashing to the
/// SHA-256 recorded when it was read (`evidence/records.ndjson`).
pub fn verify_bundle(dir: &Path) -> io::Result<Verified> {
    let manifest = fs::read(dir.join(MANIFEST))?;
    let text = String::from_utf8_lossy(&manifest);
    let mut listed = BTreeSet::new();
    let mut bad = Vec::new();
    let mismatch = |file: &str, why: &str| Mismatch {
        file: file.into(),
        why: why.into(),
    };
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let Some((hash, name)) = line.split_once("  ") else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{MANIFEST}:{}: expected `<sha256>  <file>`", n + 1),
            ));
        };
        if leaves_bundle(name) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{MANIFEST}:{}: `{name}` leaves the bundle", n + 1),
            ));
        }
        listed.insert(name.to_string());
        match read_inside(dir, name) {
            Ok(bytes) if sha256_hex(&bytes) == hash => {}
            Ok(_) => bad.push(mismatch(name, "changed")),
            Err(why) => bad.push(mismatch(name, why)),
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if kind.is_dir() {
                stack.push(path);
            } else if rel != MANIFEST && !listed.contains(&rel) {
                let why = if kind.is_symlink() {
                    "a symbolic link, not in the manifest"
                } else {
                    "not in the manifest"
                };
                bad.push(mismatch(&rel, why));
            }
        }
    }
    bad.extend(recorded_hashes(dir));
    bad.sort_by(|a, b| a.file.cmp(&b.file));
    bad.dedup();
    Ok(Verified {
        files: listed.len(),
        mismatches: bad,
        manifest_sha256: sha256_hex(&manifest),
    })
}

/// Whether a bundle file name (as the manifest or the record index gives it) would lead out of
/// the bundle folder: absolute, `..`, or an empty part.
fn leaves_bundle(name: &str) -> bool {
    name.starts_with('/') || name.split('/').any(|p| p == ".." || p.is_empty())
}

/// The bytes of the bundle file `name`: only a regular file inside `dir`, reached through no
/// symbolic link (a link in a hostile bundle could name a file outside it, a device or a
/// FIFO that never ends); otherwise why not.
fn read_inside(dir: &Path, name: &str) -> Result<Vec<u8>, &'static str> {
    if leaves_bundle(name) {
        return Err("leaves the bundle");
    }
    let mut path = dir.to_path_buf();
    let mut meta = None;
    for part in name.split('/') {
        path.push(part);
        match fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => return Err("a symbolic link"),
            Ok(m) => meta = Some(m),
            Err(_) => return Err("missing"),
        }
    }
    if !meta.is_some_and(|m| m.is_file()) {
        return Err("not a regular file");
    }
    fs::read(&path).map_err(|_| "missing")
}

/// Raw records whose bytes no longer hash to the SHA-256 recorded when they were read.
fn recorded_hashes(dir: &Path) -> Vec<Mismatch> {
    let Ok(index) = fs::read_to_string(dir.join("evidence/records.ndjson")) else {
        return Vec::new();
    };
    let mut bad = Vec::new();
    for line in index.lines() {
        let Ok(r) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(file), Some(hash)) = (r["bundle_file"].as_str(), r["sha256"].as_str()) else {
            continue;
        };
        if r["redacted"].as_bool() == Some(true) {
            continue;
        }
        let why = match read_inside(dir, file) {
            Ok(bytes) if sha256_hex(&bytes) == hash => continue,
            Ok(_) | Err("missing") => "differs from the SHA-256 recorded when it was read",
            Err(why) => why,
        };
        bad.push(Mismatch {
            file: file.to_string(),
            why: why.into(),
        });
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mw-evidence-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    /// A fresh folder for the test `name`, holding the log `file` with these contents.
    fn log_in(name: &str, file: &str, contents: &str) -> (PathBuf, PathBuf) {
        let dir = temp(name);
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join(file);
        fs::write(&log, contents).unwrap();
        (dir, log)
    }

    fn sample(file: &str, line: u64, offset: Option<u64>, hash: Option<String>) -> SampleRef {
        SampleRef {
            file: file.to_string(),
            line,
            offset,
            hash,
        }
    }

    #[test]
    fn records_are_read_back_exactly_with_offsets() {
        let (dir, log) = log_in(
            "capture",
            "a.ndjson",
            "{\"a\":1}\n{\"b\": 2}\r\n{\"c\":3}\n",
        );
        let file = log.display().to_string();
        let samples = [
            sample(&file, 2, None, None),
            sample(&file, 9, None, None),
            sample("/nonexistent/x.log", 1, None, None),
        ];
        let c = capture(&samples, 5);
        assert_eq!(c.records.len(), 1);
        let r = &c.records[0];
        assert_eq!((r.line, r.offset), (2, 8));
        assert_eq!(r.sha256, sha256_hex(&r.raw));
        assert!(String::from_utf8_lossy(&r.raw).starts_with("{\"b\": 2}"));
        assert_eq!(c.missing.len(), 2, "{:?}", c.missing);
        let _ = fs::remove_dir_all(&dir);
    }

    /// The record the hunt saw on line 2 at byte 8 of `{"a":1}\n{"b":2}\n` (with this hash),
    /// captured; then, the file rewritten as `after`, not captured: what `missing` says.
    fn missing_once_rewritten(name: &str, hash: Option<String>, after: &str) -> String {
        let (dir, log) = log_in(name, "a.ndjson", "{\"a\":1}\n{\"b\":2}\n");
        let sample = sample(&log.display().to_string(), 2, Some(8), hash);
        assert_eq!(capture(std::slice::from_ref(&sample), 1).records.len(), 1);
        fs::write(&log, after).unwrap();
        let c = capture(&[sample], 2);
        assert!(c.records.is_empty(), "{:?}", c.records);
        let _ = fs::remove_dir_all(&dir);
        c.missing[0].clone()
    }

    #[test]
    fn a_record_at_its_offset_on_another_line_is_not_taken() {
        // Rotated and rewritten: another record starts at byte 8, on line 3.
        let missing = missing_once_rewritten("changed", None, "{}\n{  }\n{\"x\":9}\n");
        assert!(
            missing.contains("the file changed since the hunt read it"),
            "{missing}"
        );
    }

    #[test]
    fn a_record_at_its_offset_with_another_hash_is_not_taken() {
        // Rewritten in place: same line, same offset, another record.
        let hash = record_hash_text(record_hash(b"{\"b\":2}"));
        let missing = missing_once_rewritten("rehashed", Some(hash), "{\"a\":1}\n{\"b\":3}\n");
        assert!(missing.contains("another hash"), "{missing}");
    }

    #[test]
    fn records_sharing_a_line_are_told_apart_by_offset() {
        let (dir, log) = log_in("array", "a.json", "[{\"a\":1},{\"b\":2}]\n");
        // Where the reader puts the second record.
        let mut reader =
            Reader::open(&InputPath::File(log.clone()), ReaderOptions::default()).unwrap();
        let batch = reader.next_batch().unwrap().unwrap();
        assert_eq!(batch.records.len(), 2);
        let second = batch.records[1];
        let file = log.display().to_string();
        let c = capture(&[sample(&file, second.line, Some(second.offset), None)], 1);
        assert_eq!(c.records.len(), 1);
        assert_eq!(c.records[0].raw, batch.bytes(&second).to_vec());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bundle_verifies_and_tampering_is_found() {
        let dir = temp("bundle");
        let files = vec![
            ("incident.json".to_string(), b"{}".to_vec()),
            ("evidence/0001.raw".to_string(), b"raw line".to_vec()),
        ];
        write_bundle(&dir, &files).unwrap();
        let ok = verify_bundle(&dir).unwrap();
        assert_eq!((ok.files, ok.mismatches.len()), (2, 0));
        assert_eq!(ok.manifest_sha256.len(), 64);
        fs::write(dir.join("evidence/0001.raw"), b"raw lime").unwrap();
        fs::write(dir.join("extra.txt"), b"x").unwrap();
        let bad = verify_bundle(&dir).unwrap().mismatches;
        assert_eq!(
            bad,
            vec![
                Mismatch {
                    file: "evidence/0001.raw".into(),
                    why: "changed".into()
                },
                Mismatch {
                    file: "extra.txt".into(),
                    why: "not in the manifest".into()
                },
            ]
        );
        assert!(
            write_bundle(&dir, &files).is_err(),
            "a non-empty folder is not overwritten"
        );
        let _ = fs::remove_dir_all(&dir);
    }

    /// A hostile bundle's files are read only inside it: its record index naming an absolute
    /// path, or a manifest entry under a symbolic link to a folder outside, were read
    /// (`/dev/zero` or a FIFO there held `incident verify` for good).
    #[test]
    fn a_bundle_is_read_only_inside_itself() {
        let outside = temp("outside");
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), b"kept outside").unwrap();
        let secret_hash = sha256_hex(b"kept outside");
        let absolute = outside.join("secret").to_string_lossy().into_owned();
        let index = format!("{{\"bundle_file\": {absolute:?}, \"sha256\": \"{secret_hash}\"}}\n");
        let dir = temp("hostile-bundle");
        let files = vec![
            ("evidence/records.ndjson".to_string(), index.into_bytes()),
            ("link/secret".to_string(), b"kept outside".to_vec()),
        ];
        write_bundle(&dir, &files).unwrap();
        fs::remove_dir_all(dir.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, dir.join("link")).unwrap();
        let bad = verify_bundle(&dir).unwrap().mismatches;
        let why = |file: &str| {
            bad.iter()
                .find(|m| m.file == file)
                .map(|m| m.why.clone())
                .unwrap_or_default()
        };
        assert_eq!(why(&absolute), "leaves the bundle", "{bad:?}");
        assert_eq!(why("link/secret"), "a symbolic link", "{bad:?}");
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&outside);
    }
}
