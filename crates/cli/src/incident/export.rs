//! Reports, IoC files and the evidence bundle of an incident.

use std::path::Path;

use anyhow::{Context, Result};
use modelward_respond::action::run::audit_of;
use modelward_respond::evidence::{self, verify_bundle, write_bundle, MANIFEST};
use modelward_respond::report::{self, ReportInput};
use modelward_respond::{ioc, stix, Incident};
use modelward_store::Store;

use crate::args::ReportFormat;
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
/// With `redact`, secrets in the records are masked (and the index says so).
pub fn export(store: &Store, incident: &Incident, out: &Path, redact: bool) -> Result<u8> {
    let now = now_ms();
    let mut records = store.evidence(&incident.id)?;
    let mut note = "preserved by the incident's preserve_evidence action";
    if records.is_empty() {
        records = evidence::capture(&evidence::samples_of(incident), now).records;
        note = "read from the log files at export (no preserved copy)";
    }
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    files.push(("incident.json".into(), serde_json::to_vec_pretty(incident)?));
    let mut alerts = Vec::new();
    for a in &incident.alerts {
        serde_json::to_writer(&mut alerts, &a.doc)?;
        alerts.push(b'\n');
    }
    files.push(("alerts.ndjson".into(), alerts));
    let mut index = Vec::new();
    for (n, r) in records.iter().enumerate() {
        let (name, bytes) = if redact {
            let text = String::from_utf8_lossy(&r.raw);
            (
                format!("evidence/{:04}.redacted", n + 1),
                ioc::mask_secrets(&text).into_owned().into_bytes(),
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
    for e in audit_of(store, &incident.id)? {
        serde_json::to_writer(&mut audit, &e)?;
        audit.push(b'\n');
    }
    files.push(("actions.ndjson".into(), audit));
    files.push(("iocs.csv".into(), iocs_csv(incident)?));
    files.push(("iocs.stix.json".into(), iocs_stix(incident, now)?));
    files.push((
        "report.md".into(),
        render(store, incident, ReportFormat::Markdown)?.into_bytes(),
    ));
    files.push((
        "report.html".into(),
        render(store, incident, ReportFormat::Html)?.into_bytes(),
    ));
    let manifest = write_bundle(out, &files).with_context(|| format!("{}", out.display()))?;
    println!(
        "{}: {} file(s) written to {} ({} raw record(s), {note}); check with `sha256sum -c {MANIFEST}` in that folder or `modelward incident verify {}`",
        incident.id,
        manifest.len(),
        out.display(),
        records.len(),
        out.display()
    );
    Ok(0)
}

/// `incident verify DIR`: exit 1 on any difference.
pub fn verify(dir: &Path) -> Result<u8> {
    let (n, bad) = verify_bundle(dir).with_context(|| format!("{}", dir.display()))?;
    if bad.is_empty() {
        println!("{}: all {n} file(s) match {MANIFEST}", dir.display());
        return Ok(0);
    }
    for m in &bad {
        println!("{}: {}", m.file, m.why);
    }
    println!(
        "{}: {} of the bundle's files differ from {MANIFEST}",
        dir.display(),
        bad.len()
    );
    Ok(1)
}
