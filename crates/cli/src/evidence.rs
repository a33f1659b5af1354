//! `modelward evidence keygen|verify`, and the `--evidence FILE` that `fingerprint match` and
//! `watermark verify` write (docs/watermark.md, docs/fingerprint.md).
//!
//! Exit codes: `verify` 0 when every report's signature holds (and, when pinned, is by the
//! pinned key) and every input still at its path hashes as recorded, 1 otherwise, 2 on an
//! error; `keygen` 0.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use modelward_event::terminal::printable;
use modelward_evidence::{Input, Report, SigningKey};
use modelward_inventory::hash::{hash_bytes, hash_reader, HashAlgorithm};

use crate::args::Format;
use crate::jsonout::check;

/// The variable naming the signing key's file when `--signing-key` is not given.
pub const KEY_ENV: &str = "MODELWARD_EVIDENCE_KEY";

#[derive(Subcommand)]
pub enum EvidenceCommand {
    /// Write a new Ed25519 signing key (PEM PKCS#8, mode 0600) and print its key id.
    Keygen {
        /// Where to write it (refused if it exists).
        #[arg(long, short, value_name = "FILE", required_unless_present = "out")]
        output: Option<PathBuf>,
        /// Deprecated spelling of --output.
        #[arg(long, value_name = "FILE", hide = true, conflicts_with = "output")]
        out: Option<PathBuf>,
        /// Output format: a line, or one JSON document `{"file", "key_id", "public_key"}`.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check signed evidence reports: the signature, the format, and that each input still
    /// found at its recorded path hashes as recorded (exit 1 when one does not).
    Verify {
        /// Reports written with --evidence.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The key that must have signed them: a key id, a public key (hex) or a signing key
        /// file [default: any key, whose id is printed].
        #[arg(long, value_name = "KEY")]
        public_key: Option<String>,
        /// Output format: a line a report, or JSON documents, one per report: what was
        /// checked, each check's result and the verdict (docs/fingerprint.md#evidence).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// `--evidence FILE` and the key that signs it, as `fingerprint match` and `watermark verify`
/// take them.
#[derive(Args, Clone, Default)]
pub struct EvidenceArgs {
    /// Write a signed evidence report (inputs' SHA-256, method, parameters, results, the
    /// command) to FILE.
    #[arg(long, value_name = "FILE")]
    pub evidence: Option<PathBuf>,
    /// The Ed25519 key that signs it (`modelward evidence keygen`) [default: the file named
    /// by MODELWARD_EVIDENCE_KEY].
    #[arg(long, value_name = "FILE")]
    pub signing_key: Option<PathBuf>,
}

impl EvidenceArgs {
    /// The signing key, read before the work so a missing key fails fast; None without
    /// `--evidence`.
    pub fn key(&self) -> Result<Option<SigningKey>> {
        if self.evidence.is_none() {
            return Ok(None);
        }
        let path = match &self.signing_key {
            Some(p) => p.clone(),
            None => match std::env::var_os(KEY_ENV) {
                Some(p) if !p.is_empty() => PathBuf::from(p),
                _ => bail!(
                    "--evidence needs a signing key: --signing-key FILE or {KEY_ENV} (`modelward evidence keygen --output FILE` makes one)"
                ),
            },
        };
        Ok(Some(read_key(&path)?))
    }
}

fn read_key(path: &Path) -> Result<SigningKey> {
    let pem = std::fs::read_to_string(path)
        .with_context(|| format!("reading the signing key {}", path.display()))?;
    SigningKey::from_pem(&pem).with_context(|| format!("{}", path.display()))
}

/// Signs `report` and writes it to `path`; says where on stderr.
pub fn write(report: &Report, key: &SigningKey, path: &Path, quiet: bool) -> Result<()> {
    let signed = report.sign(key)?;
    std::fs::write(path, signed)
        .with_context(|| format!("writing the evidence report {}", path.display()))?;
    if !quiet {
        modelward_event::errln!(
            "modelward: evidence report {} signed by key {}",
            printable(&path.display().to_string()),
            key.key_id()
        );
    }
    Ok(())
}

/// An input file, hashed.
pub fn file_input(role: &str, path: &Path) -> Result<Input> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (sha256, bytes) = hash_reader(&mut file, HashAlgorithm::Sha256, &mut |_| {})
        .with_context(|| format!("hashing {}", path.display()))?;
    Ok(Input {
        role: role.to_string(),
        source: path.display().to_string(),
        sha256,
        bytes,
    })
}

/// An input given as bytes (text on the command line).
pub fn bytes_input(role: &str, source: &str, bytes: &[u8]) -> Input {
    Input {
        role: role.to_string(),
        source: source.to_string(),
        sha256: hash_bytes(bytes, HashAlgorithm::Sha256),
        bytes: bytes.len() as u64,
    }
}

/// The command line as run, for the report, with the values of `secret` options replaced by
/// `<redacted>` (the method records their SHA-256 instead).
pub fn command_line(secret: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut hide_next = false;
    for arg in std::env::args() {
        if hide_next {
            out.push("<redacted>".to_string());
            hide_next = false;
            continue;
        }
        match arg.split_once('=') {
            Some((flag, _)) if secret.contains(&flag) => out.push(format!("{flag}=<redacted>")),
            _ => {
                hide_next = secret.contains(&arg.as_str());
                out.push(arg);
            }
        }
    }
    out
}

pub fn run(cmd: EvidenceCommand) -> Result<u8> {
    match cmd {
        EvidenceCommand::Keygen {
            output,
            out,
            format,
        } => {
            if out.is_some() {
                crate::args::deprecated("--out", "--output");
            }
            match output.or(out) {
                Some(path) => keygen(&path, format),
                None => Err(anyhow::anyhow!("--output FILE is required")),
            }
        }
        EvidenceCommand::Verify {
            files,
            public_key,
            format,
        } => verify(&files, public_key.as_deref(), format),
    }
}

fn keygen(out: &Path, format: Format) -> Result<u8> {
    let pem = modelward_evidence::generate_key_pem()?;
    let key = SigningKey::from_pem(&pem)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    file.write_all(pem.as_bytes())?;
    if format == Format::Table {
        println!(
            "key id {}  public key {}",
            key.key_id(),
            key.public_key_hex()
        );
        return Ok(0);
    }
    let doc = serde_json::json!({
        "file": out.display().to_string(),
        "key_id": key.key_id(),
        "public_key": key.public_key_hex(),
    });
    let mut stdout = std::io::stdout().lock();
    let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
    docs.write(&mut stdout, doc)?;
    docs.finish(&mut stdout)?;
    Ok(0)
}

/// The pin as given: a key id or public key in hex, or a signing key file.
fn pin(given: &str) -> Result<String> {
    let path = Path::new(given);
    if path.is_file() {
        return Ok(read_key(path)?.key_id());
    }
    Ok(given.to_string())
}

/// What `evidence verify` checks of each report, in order; a check after a failed one is
/// `skipped` (docs/fingerprint.md#evidence).
const CHECKS: [&str; 4] = ["report", "signature", "key", "inputs"];

/// The check an [`modelward_evidence::EvidenceError`] from verifying a report fails.
fn failed_check(e: &modelward_evidence::EvidenceError) -> &'static str {
    use modelward_evidence::EvidenceError as E;
    match e {
        E::BadSignature => "signature",
        E::WrongKey { .. } => "key",
        _ => "report",
    }
}

/// One report checked: the JSON document of `--format json|ndjson`, and the text line.
fn verify_one(file: &Path, pinned: Option<&str>) -> Result<(serde_json::Value, String, bool)> {
    let shown = printable(&file.display().to_string()).to_string();
    let bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    let checked = match pinned {
        Some(p) => modelward_evidence::verify_pinned(&bytes, p),
        None => modelward_evidence::verify(&bytes),
    };
    let mut doc = serde_json::json!({
        "file": file.display().to_string(),
        "verdict": "failed",
        "kind": null,
        "created": null,
        "key_id": null,
        "pinned": pinned.is_some(),
        "checks": [],
        "inputs": [],
    });
    let verified = match checked {
        Ok(v) => v,
        Err(e) => {
            let failed = failed_check(&e);
            let at = CHECKS.iter().position(|c| *c == failed).unwrap_or(0);
            let checks: Vec<_> = CHECKS
                .iter()
                .enumerate()
                .map(|(i, c)| match i.cmp(&at) {
                    std::cmp::Ordering::Less => check(c, "pass", String::new()),
                    std::cmp::Ordering::Equal => check(c, "fail", e.to_string()),
                    std::cmp::Ordering::Greater => {
                        check(c, "skipped", format!("the {failed} check failed"))
                    }
                })
                .collect();
            if let modelward_evidence::EvidenceError::WrongKey { found, .. } = &e {
                doc["key_id"] = found.clone().into();
            }
            doc["checks"] = checks.into();
            return Ok((doc, format!("FAILED  {shown}: {e}"), false));
        }
    };
    let report = &verified.report;
    let mut changed = Vec::new();
    let mut absent = 0;
    let mut inputs = Vec::new();
    for input in &report.inputs {
        let path = Path::new(&input.source);
        let result = if !path.is_file() {
            absent += 1;
            "absent"
        } else {
            let mut f = File::open(path)?;
            let (sha256, _) = hash_reader(&mut f, HashAlgorithm::Sha256, &mut |_| {})?;
            if sha256 == input.sha256 {
                "match"
            } else {
                changed.push(printable(&input.source).to_string());
                "changed"
            }
        };
        inputs.push(serde_json::json!({
            "role": input.role,
            "source": input.source,
            "sha256": input.sha256,
            "result": result,
        }));
    }
    let rehashed = report.inputs.len() - absent;
    let ok = changed.is_empty();
    doc["verdict"] = if ok { "ok" } else { "failed" }.into();
    doc["kind"] = report.kind.clone().into();
    doc["created"] = report.created.clone().into();
    doc["key_id"] = verified.key_id.clone().into();
    doc["inputs"] = inputs.into();
    doc["checks"] = serde_json::json!([
        check("report", "pass", String::new()),
        check("signature", "pass", String::new()),
        match pinned {
            Some(_) => check("key", "pass", String::new()),
            None => check("key", "skipped", "no --public-key".into()),
        },
        if ok {
            check(
                "inputs",
                "pass",
                format!("{rehashed} input(s) rehashed, {absent} not at their path"),
            )
        } else {
            check(
                "inputs",
                "fail",
                format!("changed since signing: {}", changed.join(", ")),
            )
        },
    ]);
    let line = if ok {
        format!(
            "OK      {shown}: {} of {}, signed by key {}{}; {rehashed} input(s) rehashed, {absent} not at their path",
            printable(&report.kind),
            printable(&report.created),
            verified.key_id,
            if pinned.is_some() { " (pinned)" } else { "" },
        )
    } else {
        format!(
            "FAILED  {shown}: signature good (key {}) but input(s) changed since: {}",
            verified.key_id,
            changed.join(", ")
        )
    };
    Ok((doc, line, ok))
}

fn verify(files: &[PathBuf], public_key: Option<&str>, format: Format) -> Result<u8> {
    let pinned = public_key.map(pin).transpose()?;
    let mut failed = 0;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
    for file in files {
        let (doc, line, ok) = verify_one(file, pinned.as_deref())?;
        failed += usize::from(!ok);
        match format {
            Format::Table => writeln!(out, "{line}")?,
            Format::Json | Format::Ndjson => docs.write(&mut out, doc)?,
        }
    }
    docs.finish(&mut out)?;
    out.flush()?;
    if pinned.is_none() {
        modelward_event::errln!(
            "modelward: no --public-key: the signatures hold, but say nothing of who signed; pin the key id"
        );
    }
    Ok(u8::from(failed > 0))
}

/// Reads a whole file as UTF-8 text for a report input (used by `watermark verify --file`).
pub fn read_text(path: &Path) -> Result<String> {
    let mut s = String::new();
    File::open(path)
        .and_then(|mut f| f.read_to_string(&mut s))
        .with_context(|| format!("reading {} as UTF-8 text", path.display()))?;
    Ok(s)
}
