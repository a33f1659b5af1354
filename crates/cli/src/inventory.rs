//! `modelward inventory scan|verify|find`: the model inventory.
//!
//! Exit codes: `scan` 0, or 2 if a path could not be read; `verify` 0 all intact, 1 any
//! modified, missing or new artifact, 2 an error (an error wins); `find` 0 found, 1 nothing
//! found, 2 an error; `find --copies` 0 no copy of a registered model, 1 a copy, 2 an error.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use modelward_detectors::detectors::model_copy;
use modelward_fingerprint::Registry;
use modelward_inventory::{
    find_copies, scan, verify, Artifact, Check, FindEvent, FindSummary, Found, HashAlgorithm,
    Progress, Recognize, ScanEvent,
};
use modelward_store::copy_scans::CopyScan;
use modelward_store::Store;
use serde_json::{json, Map, Value};

use crate::args::{HashChoice, InventoryCommand, ListFormat};

pub fn run(cmd: InventoryCommand) -> Result<u8> {
    match cmd {
        InventoryCommand::Scan {
            paths,
            db,
            hash,
            format,
            quiet,
        } => {
            let algorithm = match hash {
                HashChoice::Sha256 => HashAlgorithm::Sha256,
                HashChoice::Blake3 => HashAlgorithm::Blake3,
            };
            let mut store =
                Store::open(&db).with_context(|| format!("inventory database {}", db.display()))?;
            let mut out = Out::new(format);
            let mut bar = Bar::new(quiet);
            let say = bar.clone();
            let started = Instant::now();
            let mut alerts = 0u64;
            let summary = scan(
                &mut store,
                &paths,
                algorithm,
                now(),
                &mut bar,
                &mut |e| match e {
                    ScanEvent::Recorded { artifact, change } => {
                        out.artifact(change.name(), artifact);
                        // Code that runs on load (MW-AI-0020, AI.AIModelScan_MalwareDetected).
                        if let Some(alert) =
                            modelward_inventory::malware::alert(artifact, now() * 1000)
                        {
                            alerts += 1;
                            out.alert(&alert);
                        }
                    }
                    ScanEvent::Removed { record } => out.row(
                        json!({"change": "removed", "path": record.path, "format": record.format}),
                        [
                            "removed".into(),
                            record.format.clone(),
                            String::new(),
                            String::new(),
                            record.path.clone(),
                            "no longer under its root".into(),
                        ],
                    ),
                    ScanEvent::Skipped { error } => say.say(&format!("skipped {error}")),
                },
            )?;
            bar.finish();
            out.finish()?;
            if !quiet {
                let secs = started.elapsed().as_secs_f64();
                modelward_event::errln!(
                    "modelward: {} file(s), {} model artifact(s): {} new, {} modified, {} removed; {} skipped; {} alert(s); {:.1} MB hashed in {secs:.2}s ({:.0} MB/s); inventory {}",
                    summary.files,
                    summary.artifacts,
                    summary.new,
                    summary.modified,
                    summary.removed,
                    summary.skipped,
                    alerts,
                    summary.bytes_hashed as f64 / 1e6,
                    rate(summary.bytes_hashed, secs),
                    db.display()
                );
            }
            Ok(if summary.skipped > 0 { 2 } else { 0 })
        }
        InventoryCommand::Verify { db, format, quiet } => {
            let store = crate::db::open_existing(&db, crate::db::Purpose::Inventory)?;
            let mut out = Out::new(format);
            let mut bar = Bar::new(quiet);
            let summary = verify(&store, &mut bar, &mut |c| out.check(c))?;
            bar.finish();
            out.finish()?;
            if !quiet {
                modelward_event::errln!(
                    "modelward: {} intact, {} modified, {} missing, {} new, {} error(s)",
                    summary.intact,
                    summary.modified,
                    summary.missing,
                    summary.new,
                    summary.errors
                );
            }
            Ok(if summary.errors > 0 {
                2
            } else if summary.changes() > 0 {
                1
            } else {
                0
            })
        }
        InventoryCommand::Find {
            paths,
            copies,
            db,
            key_env,
            threshold,
            format,
            quiet,
        } => {
            let registry = if copies {
                Some(crate::copies::registry(&db, key_env, threshold, quiet)?)
            } else {
                None
            };
            let mut out = Out::new(format);
            out.copies = copies;
            let mut bar = Bar::new(quiet);
            let say = bar.clone();
            let now_ms = now() * 1000;
            let mut found_copies = Vec::new();
            let summary = find_copies(
                &paths,
                &mut bar,
                registry.as_ref().map(|r| r as &dyn Recognize),
                &mut |e| match e {
                    FindEvent::Found(f) => {
                        out.found(f);
                        // A copy of a registered model (MW-AI-0021).
                        for c in &f.copies {
                            if let Some(alert) = model_copy::alert(&f.location, c, now_ms) {
                                found_copies.push(json!({
                                    "location": f.location,
                                    "model": c.model,
                                    "log10_false_match_probability": c.log10_false_match_probability,
                                }));
                                out.alert(&alert);
                            }
                        }
                    }
                    FindEvent::Error { location, message } => {
                        if location.is_empty() {
                            say.say(message)
                        } else {
                            say.say(&format!("{location}: {message}"))
                        }
                    }
                },
            );
            bar.finish();
            out.finish()?;
            if let Some(registry) = &registry {
                record_scan(&db, &paths, registry, &summary, &found_copies)?;
            }
            if !quiet {
                let copies = match &registry {
                    Some(r) => format!(
                        "; {} compared with {} registered model(s): {} cop{} found",
                        summary.examined,
                        r.models().len(),
                        summary.copies,
                        if summary.copies == 1 { "y" } else { "ies" }
                    ),
                    None => String::new(),
                };
                modelward_event::errln!(
                    "modelward: {} model file(s) found in {} file(s){copies}; {} error(s)",
                    summary.found,
                    summary.files,
                    summary.errors
                );
            }
            Ok(if summary.errors > 0 {
                2
            } else if copies {
                u8::from(summary.copies > 0)
            } else if summary.found == 0 {
                1
            } else {
                0
            })
        }
    }
}

/// Records a scan for copies in the database (PB-53's "verify no unauthorized model copies
/// exist" reads the latest).
fn record_scan(
    db: &std::path::Path,
    paths: &[std::path::PathBuf],
    registry: &Registry,
    summary: &FindSummary,
    copies: &[Value],
) -> Result<()> {
    let roots: Vec<String> = paths
        .iter()
        .map(|p| {
            std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string()
        })
        .collect();
    let models: Vec<&str> = registry
        .models()
        .iter()
        .map(|m| m.print.name.as_str())
        .collect();
    let mut store =
        Store::open(db).with_context(|| format!("fingerprint database {}", db.display()))?;
    let mut batch = store.batch()?;
    batch.put_copy_scan(&CopyScan {
        id: 0,
        scanned_at: now(),
        roots: json!(roots).to_string(),
        key_id: registry.key().id(),
        models: json!(models).to_string(),
        files: summary.files,
        examined: summary.examined,
        errors: summary.errors,
        copies: Value::Array(copies.to_vec()).to_string(),
    })?;
    batch.commit()?;
    Ok(())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn rate(bytes: u64, secs: f64) -> f64 {
    if secs > 0.0 {
        bytes as f64 / 1e6 / secs
    } else {
        0.0
    }
}

/// Rows to stdout, as a table or JSON (names from disks and archives escaped for terminals).
/// The first write error (a closed pipe) stops the output and is returned at the end.
struct Out {
    format: ListFormat,
    docs: crate::jsonout::JsonDocs,
    w: BufWriter<io::StdoutLock<'static>>,
    header: bool,
    error: Option<io::Error>,
    /// Found files carry what the fingerprints made of them (`find --copies`).
    copies: bool,
}

const HEADERS: [&str; 6] = ["STATUS", "FORMAT", "SIZE", "HASH", "PATH", "DETAILS"];

impl Out {
    fn new(format: ListFormat) -> Out {
        Out {
            format,
            docs: crate::jsonout::JsonDocs::new(format == ListFormat::Json),
            w: BufWriter::new(io::stdout().lock()),
            header: false,
            error: None,
            copies: false,
        }
    }

    fn row(&mut self, json: Value, cells: [String; 6]) {
        if self.error.is_some() {
            return;
        }
        let result = match self.format {
            ListFormat::Ndjson | ListFormat::Json => self.docs.write(&mut self.w, json),
            ListFormat::Table => {
                let mut r = Ok(());
                if !self.header {
                    self.header = true;
                    r = writeln!(
                        self.w,
                        "{:<10}  {:<14}  {:>9}  {:<16}  {}  {}",
                        HEADERS[0], HEADERS[1], HEADERS[2], HEADERS[3], HEADERS[4], HEADERS[5]
                    );
                }
                r.and_then(|_| {
                    writeln!(
                        self.w,
                        "{:<10}  {:<14}  {:>9}  {:<16}  {}  {}",
                        cells[0],
                        cells[1],
                        cells[2],
                        cells[3],
                        crate::output::printable(&cells[4]),
                        crate::output::printable(&cells[5])
                    )
                })
            }
        };
        if let Err(e) = result {
            self.error = Some(e);
        }
    }

    fn artifact(&mut self, change: &str, a: &Artifact) {
        self.row(
            json!({
                "change": change,
                "path": a.path,
                "format": a.format.name(),
                "size": a.size,
                "mtime": a.mtime,
                "hash_algorithm": a.algorithm.name(),
                "hash": a.hash,
                "metadata": a.metadata,
            }),
            [
                change.into(),
                a.format.name().into(),
                human(a.size),
                a.hash.chars().take(16).collect(),
                a.path.clone(),
                details(&a.metadata),
            ],
        );
    }

    /// An alert on an artifact: its JSON as `{"change": "alert", "alert": ...}`, or a table
    /// row with its code and message.
    fn alert(&mut self, alert: &modelward_rule::Alert) {
        let message = alert
            .fields
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = alert
            .evidence
            .get("path")
            .and_then(Value::as_str)
            .unwrap_or_default();
        self.row(
            json!({"change": "alert", "alert": alert.to_json()}),
            [
                "ALERT".into(),
                alert.rule.id.clone(),
                String::new(),
                String::new(),
                path.to_string(),
                format!("{}: {message}", alert.rule.name),
            ],
        );
    }

    fn check(&mut self, c: &Check) {
        self.row(
            json!({
                "status": c.status.name(),
                "path": c.path,
                "format": c.format,
                "detail": c.detail,
                "recorded_hash": c.recorded_hash,
                "actual_hash": c.actual_hash,
            }),
            [
                c.status.name().into(),
                c.format.clone(),
                String::new(),
                c.actual_hash
                    .as_ref()
                    .or(c.recorded_hash.as_ref())
                    .map(|h| h.chars().take(16).collect())
                    .unwrap_or_default(),
                c.path.clone(),
                c.detail.clone(),
            ],
        );
    }

    fn found(&mut self, f: &Found) {
        let mut doc = json!({
            "location": f.location,
            "format": f.format.name(),
            "size": f.size,
            "metadata": f.metadata,
        });
        let mut status = "found";
        let mut detail = details(&f.metadata);
        if self.copies {
            doc["examined"] = json!(f.examined);
            doc["copies"] = Value::Array(
                f.copies
                    .iter()
                    .map(|c| {
                        json!({
                            "model": c.model,
                            "registered_file": c.source,
                            "false_match_probability": 10f64.powf(c.log10_false_match_probability),
                            "log10_false_match_probability": c.log10_false_match_probability,
                            "agreement": c.agreement,
                            "matched_tensors": c.matched_tensors,
                            "reference_tensors": c.reference_tensors,
                        })
                    })
                    .collect(),
            );
            let said: Vec<String> = f
                .copies
                .iter()
                .map(|c| {
                    if c.source {
                        format!(
                            "registered model {} (the file it was fingerprinted from)",
                            c.model
                        )
                    } else {
                        format!(
                            "copy of {} (false-match p {}, {}/{} tensors)",
                            c.model,
                            c.probability(),
                            c.matched_tensors,
                            c.reference_tensors
                        )
                    }
                })
                .collect();
            if f.copies.iter().any(|c| !c.source) {
                status = "copy";
            }
            if !said.is_empty() {
                detail = [said.join("; "), detail]
                    .into_iter()
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
            }
        }
        self.row(
            doc,
            [
                status.into(),
                f.format.name().into(),
                human(f.size),
                String::new(),
                f.location.clone(),
                detail,
            ],
        );
    }

    fn finish(mut self) -> Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        self.docs.finish(&mut self.w)?;
        self.w.flush()?;
        Ok(())
    }
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// The few metadata fields worth a glance, as `key=value`.
fn details(metadata: &Value) -> String {
    const KEYS: [&str; 14] = [
        "architecture",
        "name",
        "class_name",
        "tensors",
        "parameters",
        "storages",
        "dtype",
        "shape",
        "ir_version",
        "producer_name",
        "keras_version",
        "tags",
        "subgraphs",
        "dangerous_imports",
    ];
    let empty = Map::new();
    let m = metadata.as_object().unwrap_or(&empty);
    let mut parts: Vec<String> = KEYS
        .iter()
        .filter_map(|k| {
            m.get(*k).map(|v| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
        })
        .collect();
    if let Some(Value::Array(w)) = m.get("warnings") {
        if !w.is_empty() {
            parts.push("⚠ pickle: loading runs code".into());
        }
    }
    parts.join(" ")
}

/// A progress bar on stderr when it is a terminal (bytes hashed or read), through which
/// messages are printed.
#[derive(Clone)]
struct Bar {
    bar: Option<ProgressBar>,
}

impl Bar {
    fn new(quiet: bool) -> Bar {
        let bar = (!quiet && io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template(
                    "[{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left) {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        Bar { bar }
    }

    fn say(&self, line: &str) {
        match &self.bar {
            Some(b) => b.suspend(|| modelward_event::errln!("modelward: {line}")),
            None => modelward_event::errln!("modelward: {line}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn total(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.set_length(bytes);
        }
    }

    fn file(&mut self, path: &str) {
        if let Some(b) = &self.bar {
            let name = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            b.set_message(name);
        }
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(b) = &self.bar {
            b.inc(bytes);
        }
    }
}
