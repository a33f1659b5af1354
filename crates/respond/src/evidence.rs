//! Evidence preservation (PB-53 2.3): the raw log records behind an incident's alerts, read
//! again from their files right after the hunt and kept in the store byte for byte with their
//! SHA-256; and the export bundle a responder hands to legal or HR, with a manifest that
//! `sha256sum -c` (or `modelward incident verify`) checks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

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
/// them; `read_at` (ms) dates them.
pub fn capture(samples: &[SampleRef], read_at: i64) -> Capture {
    let mut by_file: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for s in samples {
        by_file.entry(s.file.as_str()).or_default().insert(s.line);
    }
    let mut out = Capture::default();
    for (file, lines) in by_file {
        if file == "-" || file == "<stdin>" {
            for l in &lines {
                out.missing
                    .push(format!("{file}:{l}: read from stdin, not kept"));
            }
            continue;
        }
        let input = InputPath::File(PathBuf::from(file));
        let mut reader = match Reader::open(&input, ReaderOptions::default()) {
            Ok(r) => r,
            Err(e) => {
                for l in &lines {
                    out.missing.push(format!("{file}:{l}: {e}"));
                }
                continue;
            }
        };
        let mut wanted = lines.clone();
        while let Some(batch) = reader.next_batch() {
            let Ok(batch) = batch else { continue };
            for span in &batch.records {
                if wanted.remove(&span.line) {
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
            if wanted.is_empty() {
                break;
            }
        }
        for l in wanted {
            out.missing
                .push(format!("{file}:{l}: no record starts on this line"));
        }
    }
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
    out.dedup_by(|a, b| a.file == b.file && a.line == b.line);
    out
}

impl Executor for EvidenceExecutor {
    fn name(&self) -> String {
        "evidence".into()
    }

    fn handles(&self, action: &PlannedAction) -> bool {
        matches!(action.action, Action::PreserveEvidence)
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
    if dir.exists() && fs::read_dir(dir)?.next().is_some() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists and is not empty", dir.display()),
        ));
    }
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

/// A bundle file whose content no longer matches the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub file: String,
    /// `changed`, `missing`, or `not in the manifest`.
    pub why: String,
}

/// Checks a bundle against its manifest: every listed file present with its hash, and no
/// file that the manifest does not list.
pub fn verify_bundle(dir: &Path) -> io::Result<(usize, Vec<Mismatch>)> {
    let text = fs::read_to_string(dir.join(MANIFEST))?;
    let mut listed = BTreeSet::new();
    let mut bad = Vec::new();
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
        if name.starts_with('/') || name.split('/').any(|p| p == "..") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{MANIFEST}:{}: `{name}` leaves the bundle", n + 1),
            ));
        }
        listed.insert(name.to_string());
        match fs::read(dir.join(name)) {
            Ok(bytes) if sha256_hex(&bytes) == hash => {}
            Ok(_) => bad.push(Mismatch {
                file: name.into(),
                why: "changed".into(),
            }),
            Err(_) => bad.push(Mismatch {
                file: name.into(),
                why: "missing".into(),
            }),
        }
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            if rel != MANIFEST && !listed.contains(&rel) {
                bad.push(Mismatch {
                    file: rel,
                    why: "not in the manifest".into(),
                });
            }
        }
    }
    bad.sort_by(|a, b| a.file.cmp(&b.file));
    Ok((listed.len(), bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("mw-evidence-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn records_are_read_back_exactly_with_offsets() {
        let dir = temp("capture");
        fs::create_dir_all(&dir).unwrap();
        let log = dir.join("a.ndjson");
        fs::write(&log, "{\"a\":1}\n{\"b\": 2}\r\n{\"c\":3}\n").unwrap();
        let file = log.display().to_string();
        let samples = [
            SampleRef {
                file: file.clone(),
                line: 2,
                offset: None,
            },
            SampleRef {
                file: file.clone(),
                line: 9,
                offset: None,
            },
            SampleRef {
                file: "/nonexistent/x.log".into(),
                line: 1,
                offset: None,
            },
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

    #[test]
    fn a_bundle_verifies_and_tampering_is_found() {
        let dir = temp("bundle");
        let files = vec![
            ("incident.json".to_string(), b"{}".to_vec()),
            ("evidence/0001.raw".to_string(), b"raw line".to_vec()),
        ];
        write_bundle(&dir, &files).unwrap();
        assert_eq!(verify_bundle(&dir).unwrap(), (2, vec![]));
        fs::write(dir.join("evidence/0001.raw"), b"raw lime").unwrap();
        fs::write(dir.join("extra.txt"), b"x").unwrap();
        let (_, bad) = verify_bundle(&dir).unwrap();
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
}
