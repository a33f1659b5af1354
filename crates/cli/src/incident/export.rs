//! Reports, IoC files and the evidence bundle of an incident.

use std::path::Path;

use anyhow::{Context, Result};
use modelward_respond::action::run::audit_of;
use modelward_respond::evidence::{self, verify_bundle, write_bundle, MANIFEST};
use modelward_respond::report::{self, ReportInput};
use modelward_respond::{ioc, stix, Incident, SampleRef};

use super::acts::Act;
use super::redact::Redactor;
use modelward_store::incidents::EvidenceRecord;
use modelward_store::Store;

use crate::args::{Format, ReportFormat};
use crate::jsonout::check;
use crate::respond::now_ms;

/// The incident's report.
pub fn render(store: &Store, incident: &Incident, format: ReportFormat) -> Result<String> {
    let audit = audit_of(store, &incident.id)?;
    let evidence = store.evidence(&incident.id)?;
    let now = now_ms();
    let input = ReportInput {
        incident,
        audit: &audit,
        evidence_records: evidence.len(),
        generated_at: now,
        now,
    };
    Ok(match format {
        ReportFormat::Markdown => report::markdown(&input),
        ReportFormat::Html => report::html(&input),
    })
}

pub fn iocs_csv(incident: &Incident) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    ioc::to_csv(&incident.analysis.iocs, &mut out)?;
    Ok(out)
}

pub fn iocs_stix(incident: &Incident, now: i64) -> Result<Vec<u8>> {
    let bundle = stix::to_stix(incident, &incident.analysis.iocs, now);
    Ok(serde_json::to_vec_pretty(&bundle)?)
}

/// Writes the bundle: the incident, its alerts, the raw records (as preserved, or read now
/// when they were not), the audit log, IoCs, reports and the manifest.
/// Without `redact` the incident, alerts, records and audit log keep their raw values (API key
/// ids included: the bundle is for legal); with it, key ids and secrets are masked in all of
/// them (and the index says so).
pub fn export(
    store: &mut Store,
    incident: &Incident,
    out: &Path,
    redact: bool,
    by: &str,
    attribution: Vec<(String, Vec<u8>)>,
) -> Result<u8> {
    let now = now_ms();
    // The preserved records, and those of alerts not yet preserved read now.
    const PRESERVED: &str = "preserved by the incident's preserve_evidence action";
    const AT_EXPORT: &str = "read from the log files at export (no preserved copy)";
    let mut records: Vec<(EvidenceRecord, &str)> = store
        .evidence(&incident.id)?
        .into_iter()
        .map(|r| (r, PRESERVED))
        .collect();
    let missing: Vec<SampleRef> = evidence::samples_of(incident)
        .into_iter()
        .filter(|s| {
            !records.iter().any(|(r, _)| {
                r.file == s.file && s.offset.map_or(r.line == s.line, |o| o == r.offset)
            })
        })
        .collect();
    let late = evidence::capture(&missing, now);
    records.extend(late.records.into_iter().map(|r| (r, AT_EXPORT)));
    for m in &late.missing {
        modelward_event::errln!("modelward: evidence not found: {m}");
    }
    let entries = audit_of(store, &incident.id)?;
    let redactor = redact.then(|| Redactor::new(incident, &entries));
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut doc = serde_json::to_value(incident)?;
    if let Some(r) = &redactor {
        r.json(&mut doc);
    }
    files.push(("incident.json".into(), serde_json::to_vec_pretty(&doc)?));
    let mut alerts = Vec::new();
    for a in &incident.alerts {
        let mut doc = a.doc.clone();
        if let Some(r) = &redactor {
            r.json(&mut doc);
        }
        serde_json::to_writer(&mut alerts, &doc)?;
        alerts.push(b'\n');
    }
    files.push(("alerts.ndjson".into(), alerts));
    let mut index = Vec::new();
    for (n, (r, note)) in records.iter().enumerate() {
        let (name, bytes) = if let Some(redactor) = &redactor {
            let text = String::from_utf8_lossy(&r.raw);
            (
                format!("evidence/{:04}.redacted", n + 1),
                redactor.text(&text).into_owned().into_bytes(),
            )
        } else {
            (format!("evidence/{:04}.raw", n + 1), r.raw.clone())
        };
        serde_json::to_writer(
            &mut index,
            &serde_json::json!({
                "bundle_file": name, "file": r.file, "line": r.line, "offset": r.offset,
                "bytes": r.raw.len(), "sha256": r.sha256,
                "read_at": modelward_event::format_timestamp(r.read_at), "how": note,
                "redacted": redact,
            }),
        )?;
        index.push(b'\n');
        files.push((name, bytes));
    }
    files.push(("evidence/records.ndjson".into(), index));
    let mut audit = Vec::new();
    for mut e in entries {
        if let Some(r) = &redactor {
            r.entry(&mut e);
        }
        serde_json::to_writer(&mut audit, &e)?;
        audit.push(b'\n');
    }
    files.push(("actions.ndjson".into(), audit));
    // IoCs and reports give API key ids whole (the id to revoke by): a redacted bundle masks
    // them there too.
    let redacted = |bytes: Vec<u8>| match &redactor {
        Some(r) => r
            .text(&String::from_utf8_lossy(&bytes))
            .into_owned()
            .into_bytes(),
        None => bytes,
    };
    files.push(("iocs.csv".into(), redacted(iocs_csv(incident)?)));
    files.push(("iocs.stix.json".into(), redacted(iocs_stix(incident, now)?)));
    files.push((
        "report.md".into(),
        redacted(render(store, incident, ReportFormat::Markdown)?.into_bytes()),
    ));
    files.push((
        "report.html".into(),
        redacted(render(store, incident, ReportFormat::Html)?.into_bytes()),
    ));
    files.extend(attribution);
    let manifest = write_bundle(out, &files).with_context(|| format!("{}", out.display()))?;
    record_export(store, incident, out, manifest.len(), by)?;
    modelward_event::outln!(
        "{}: {} file(s) written to {} ({} raw record(s)); check with `sha256sum -c {MANIFEST}` in that folder or `modelward incident verify {}`",
        incident.id,
        manifest.len(),
        out.display(),
        records.len(),
        out.display()
    );
    Ok(0)
}

/// The bundle's folder of signed evidence reports (fingerprint matches, watermark
/// verifications) carried with `incident export --attribution FILE`.
pub const ATTRIBUTION: &str = "attribution";

/// Reads and checks the reports given with `--attribution`: each must be a signed evidence
/// report whose signature holds. Named `attribution/NN-KIND.json` in the bundle, their bytes
/// unchanged (a report's signature is over its bytes).
pub fn attribution(paths: &[std::path::PathBuf]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for (n, path) in paths.iter().enumerate() {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let verified = modelward_evidence::verify(&bytes)
            .with_context(|| format!("--attribution {}", path.display()))?;
        let kind: String = verified
            .report
            .kind
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        out.push((format!("{ATTRIBUTION}/{:02}-{kind}.json", n + 1), bytes));
    }
    Ok(out)
}

/// Checks the signatures of the bundle's attribution reports: one JSON document each
/// (`file`, `result` pass or fail, `kind`, `key_id`, `detail`) and its text line.
fn verify_attribution(dir: &Path) -> Result<Vec<(serde_json::Value, String)>> {
    let folder = dir.join(ATTRIBUTION);
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<_> = std::fs::read_dir(&folder)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let file = path
            .strip_prefix(dir)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        let shown = modelward_event::terminal::printable(&path.display().to_string()).to_string();
        out.push(match modelward_evidence::verify(&std::fs::read(&path)?) {
            Ok(v) => (
                serde_json::json!({"file": file, "result": "pass", "kind": v.report.kind,
                    "key_id": v.key_id, "detail": ""}),
                format!(
                    "{shown}: signed {} report, key {}",
                    modelward_event::terminal::printable(&v.report.kind),
                    v.key_id
                ),
            ),
            Err(e) => (
                serde_json::json!({"file": file, "result": "fail", "kind": null,
                    "key_id": null, "detail": e.to_string()}),
                format!("{shown}: {e}"),
            ),
        });
    }
    Ok(out)
}

/// `incident verify DIR`: exit 1 on any difference, and, when the database exists, exit 1 if
/// its audit log has no export with this manifest (a bundle rewritten together with its
/// manifest). The database is opened read-only: verifying writes nothing to it. Text, or with
/// `--format json|ndjson` one document: the checks `manifest`, `attribution` and
/// `export_recorded`, each `pass`, `fail` or `skipped`, and the verdict (docs/incidents.md).
pub fn verify(dir: &Path, db: &Path, format: Format) -> Result<u8> {
    let v = verify_bundle(dir).with_context(|| format!("{}", dir.display()))?;
    let mut lines: Vec<String> = v
        .mismatches
        .iter()
        .map(|m| format!("{}: {}", m.file, m.why))
        .collect();
    let manifest = if v.mismatches.is_empty() {
        let said = format!("all {} file(s) match {MANIFEST}", v.files);
        lines.push(format!("{}: {said}", dir.display()));
        check("manifest", "pass", said)
    } else {
        let said = format!(
            "{} of the bundle's files differ from {MANIFEST}",
            v.mismatches.len()
        );
        lines.push(format!("{}: {said}", dir.display()));
        check("manifest", "fail", said)
    };
    let reports = verify_attribution(dir)?;
    let unsigned = reports
        .iter()
        .filter(|(d, _)| d["result"] == "fail")
        .count();
    let attribution = if reports.is_empty() {
        check(
            "attribution",
            "skipped",
            format!("no {ATTRIBUTION}/ reports"),
        )
    } else if unsigned == 0 {
        let said = format!("{} signed report(s) verify", reports.len());
        check("attribution", "pass", said)
    } else {
        let said = format!("{unsigned} of {} report(s) do not verify", reports.len());
        check("attribution", "fail", said)
    };
    lines.extend(reports.iter().map(|(_, l)| l.clone()));
    let mut export = serde_json::Value::Null;
    let (recorded, export_check) = if db.exists() {
        let found = recorded_export(db, &v.manifest_sha256)?;
        match found {
            Some(r) => {
                lines.push(format!(
                    "{}: the manifest is the one exported for {} (audit #{} at {})",
                    dir.display(),
                    r.incident_id,
                    r.seq,
                    modelward_event::format_timestamp(r.at)
                ));
                export = serde_json::json!({"incident": r.incident_id, "audit_seq": r.seq,
                    "at": modelward_event::format_timestamp(r.at)});
                let said = format!("the audit log of {} has this export", db.display());
                (true, check("export_recorded", "pass", said))
            }
            None => {
                let said = format!(
                    "{MANIFEST} was not exported from {}: its audit log has no export with this manifest's SHA-256 ({}); the files may match their manifest, but the manifest is not the one recorded",
                    db.display(),
                    v.manifest_sha256
                );
                lines.push(format!("{}: {said}", dir.display()));
                (false, check("export_recorded", "fail", said))
            }
        }
    } else {
        modelward_event::errln!(
            "modelward: {} does not exist: whether this manifest is the one exported was not checked (--db FILE)",
            db.display()
        );
        let said = format!("{} does not exist", db.display());
        (true, check("export_recorded", "skipped", said))
    };
    let ok = v.mismatches.is_empty() && recorded && unsigned == 0;
    match format {
        Format::Table => {
            for line in lines {
                modelward_event::outln!("{line}");
            }
        }
        Format::Json | Format::Ndjson => {
            let mismatches: Vec<_> = v
                .mismatches
                .iter()
                .map(|m| serde_json::json!({"file": m.file, "why": m.why}))
                .collect();
            let doc = serde_json::json!({
                "bundle": dir.display().to_string(),
                "verdict": if ok { "ok" } else { "failed" },
                "files": v.files,
                "manifest_sha256": v.manifest_sha256,
                "checks": [manifest, attribution, export_check],
                "mismatches": mismatches,
                "attribution": reports.into_iter().map(|(d, _)| d).collect::<Vec<_>>(),
                "export": export,
            });
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
            docs.write(&mut out, doc)?;
            docs.finish(&mut out)?;
            std::io::Write::flush(&mut out)?;
        }
    }
    Ok(if ok { 0 } else { 1 })
}

/// The export `db`'s audit log recorded with this manifest, if any.
fn recorded_export(
    db: &Path,
    manifest_sha256: &str,
) -> Result<Option<modelward_store::audit::AuditRecord>> {
    let store = Store::open_read_only(db).with_context(|| format!("{}", db.display()))?;
    Ok(store
        .audit_log(None)
        .with_context(|| format!("reading {}'s audit log", db.display()))?
        .into_iter()
        .find(|r| r.action == EXPORT_ACTION && r.idempotency_key == manifest_sha256))
}

/// The audit log's name for an evidence export.
const EXPORT_ACTION: &str = "export_evidence";

/// Records an export in the append-only audit log, with the manifest's SHA-256 as its key.
fn record_export(
    store: &mut Store,
    incident: &Incident,
    out: &Path,
    files: usize,
    by: &str,
) -> Result<()> {
    let manifest = std::fs::read(out.join(MANIFEST))?;
    let hash = evidence::sha256_hex(&manifest);
    let mut record = Act {
        incident: &incident.id,
        action: EXPORT_ACTION.into(),
        target_kind: "incident",
        target: &incident.id,
        params: serde_json::json!({ "dir": out.display().to_string() }).to_string(),
        reason: "evidence bundle (PB-53 2.3)",
        detail: format!("{MANIFEST} sha256 {hash}, {files} file(s)"),
        executor: "evidence",
        by,
        at: now_ms(),
    }
    .record();
    // `verify` finds the export by its manifest's hash.
    record.idempotency_key = hash;
    let mut batch = store.batch()?;
    batch.append_audit(&record)?;
    batch.commit()?;
    Ok(())
}
