//! `modelward fingerprint build|match|list`: weight fingerprints (docs/fingerprint.md).
//!
//! Exit codes: `build` 0, or 2 when a path could not be read; `match` 0 no suspect matches a
//! registered model, 1 one does, 2 an error (an error wins); `list` 0.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use modelward_event::terminal::printable;
use modelward_fingerprint::store::{self as fpstore, Source};
use modelward_fingerprint::{read, Key, ModelMatch, ModelPrint, Plans, View};
use modelward_inventory::blob::FileBlob;
use modelward_inventory::walk::{walk, Item};
use modelward_store::Store;
use serde_json::{json, Value};

use crate::args::{FingerprintCommand, FingerprintFormat};

const DEFAULT_KEY_ENV: &str = "MODELWARD_FINGERPRINT_KEY";

pub fn run(cmd: FingerprintCommand) -> Result<u8> {
    match cmd {
        FingerprintCommand::Build {
            paths,
            db,
            name,
            key_env,
            format,
            quiet,
        } => build(&paths, &db, name, key_env, format, quiet),
        FingerprintCommand::Match {
            suspects,
            db,
            key_env,
            threshold,
            format,
            evidence,
            quiet,
        } => matching(&suspects, &db, key_env, threshold, format, &evidence, quiet),
        FingerprintCommand::List { db, format } => list(&db, format),
    }
}

/// The key from `VAR` (by default `MODELWARD_FINGERPRINT_KEY`); the public key, with a
/// warning, when the default variable is unset.
pub(crate) fn key(var: Option<String>, quiet: bool) -> Result<Key> {
    let named = var.is_some();
    let var = var.unwrap_or_else(|| DEFAULT_KEY_ENV.to_string());
    match std::env::var_os(&var) {
        Some(v) if !v.is_empty() => Ok(Key::new(v.as_encoded_bytes())),
        _ if named => bail!("--key-env {var}: the variable is not set"),
        _ => {
            if !quiet {
                modelward_event::errln!(
                    "modelward: warning: {var} is not set: the public key is used (anyone can compute where it samples; set a secret in {var})"
                );
            }
            Ok(Key::public())
        }
    }
}

/// Tensor files under `path` (itself, when a file), in path order.
fn files(path: &Path, errors: &mut Vec<String>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(path, &mut |item| match item {
        Item::File { path, .. } => out.push(path),
        Item::SavedModel { .. } => {}
        Item::Error(e) => errors.push(e.to_string()),
    });
    out
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn default_name(path: &Path) -> String {
    let p = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let name = if p.is_dir() {
        p.file_name()
    } else {
        p.file_stem()
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn build(
    paths: &[PathBuf],
    db: &Path,
    name: Option<String>,
    key_env: Option<String>,
    format: FingerprintFormat,
    quiet: bool,
) -> Result<u8> {
    if name.is_some() && paths.len() > 1 {
        bail!("--name names one model: give one PATH (a file, or a folder of its shards)");
    }
    let key = key(key_env, quiet)?;
    let mut store =
        Store::open(db).with_context(|| format!("fingerprint database {}", db.display()))?;
    let mut plans = Plans::default();
    let mut out = BufWriter::new(io::stdout().lock());
    let mut docs = crate::jsonout::JsonDocs::new(format == FingerprintFormat::Json);
    let mut failed = false;
    for path in paths {
        let name = name.clone().unwrap_or_else(|| default_name(path));
        let mut print = ModelPrint::new(&name, &key);
        let mut sources = Vec::new();
        let mut errors = Vec::new();
        for file in files(path, &mut errors) {
            let shown = file.display().to_string();
            let blob = match FileBlob::open(&file) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let tensors = match read::tensors(&blob) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    if file == *path {
                        errors.push(format!("{shown}: not a tensor file modelward reads (safetensors, GGUF, PyTorch zip, ONNX, npy, npz)"));
                    }
                    continue;
                }
                Err(e) => {
                    errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            if let Err(e) = print.add(&key, &mut plans, &blob, &tensors) {
                errors.push(format!("{shown}: {e}"));
                continue;
            }
            sources.push(Source {
                path: std::fs::canonicalize(&file)
                    .unwrap_or(file.clone())
                    .display()
                    .to_string(),
                format: tensors.format.clone(),
                size: blob_size(&file),
            });
        }
        for e in &errors {
            modelward_event::errln!("modelward: {e}");
        }
        failed |= !errors.is_empty();
        if print.tensors.is_empty() {
            modelward_event::errln!(
                "modelward: {}: no tensor large enough to fingerprint (nothing recorded)",
                path.display()
            );
            failed = true;
            continue;
        }
        fpstore::save(&mut store, &print, &sources, now())?;
        match format {
            FingerprintFormat::Json | FingerprintFormat::Ndjson => docs.write(
                &mut out,
                json!({
                    "model": print.name,
                    "key_id": print.key_id,
                    "method": print.method,
                    "tensors": print.tensors.len(),
                    "skipped": print.skipped.len(),
                    "files": sources.iter().map(|s| json!({"path": s.path, "format": s.format, "size": s.size})).collect::<Vec<_>>(),
                }),
            )?,
            FingerprintFormat::Table => writeln!(
                out,
                "recorded {}: {} tensor(s) fingerprinted, {} skipped, from {} file(s); key {}",
                printable(&print.name),
                print.tensors.len(),
                print.skipped.len(),
                sources.len(),
                print.key_id
            )?,
        }
    }
    docs.finish(&mut out)?;
    out.flush()?;
    Ok(if failed { 2 } else { 0 })
}

fn blob_size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// A probability as `3.2e-57`, also far below what an f64 holds (from its log₁₀).
fn show_p(log10: f64) -> String {
    if log10 > -4.0 {
        return format!("{:.3}", 10f64.powf(log10));
    }
    let e = log10.floor();
    format!("{:.1}e{}", 10f64.powf(log10 - e), e as i64)
}

fn match_json(m: &ModelMatch, threshold: f64) -> Value {
    json!({
        "model": m.model,
        "match": m.is_match(threshold),
        "false_match_probability": m.p(),
        "log10_false_match_probability": m.log10_p(),
        "log10_p_pooled": m.ln_p_pooled / std::f64::consts::LN_10,
        "log10_p_best_pair": m.ln_p_best / std::f64::consts::LN_10,
        "agreement": m.agreement,
        "matched_tensors": m.matched,
        "paired_tensors": m.pairs.len(),
        "reference_tensors": m.reference_tensors,
        "pairs": m.pairs.iter().map(|p| json!({
            "suspect": p.suspect,
            "reference": p.reference,
            "shape": p.shape,
            "view": p.view.name(),
            "select_agreement": p.select_agree,
            "test_agreement": p.test_agree,
            "bits": 128,
            "log10_p": p.ln_p / std::f64::consts::LN_10,
            "matched": p.matched(),
        })).collect::<Vec<_>>(),
    })
}

fn matching(
    suspects: &[PathBuf],
    db: &Path,
    key_env: Option<String>,
    threshold: Option<f64>,
    format: FingerprintFormat,
    evidence: &crate::evidence::EvidenceArgs,
    quiet: bool,
) -> Result<u8> {
    let signing_key = evidence.key()?;
    let mut evidence_docs = Vec::new();
    let mut evidence_inputs = Vec::new();
    let registry = crate::copies::registry(db, key_env, threshold, quiet)?;
    let (key, threshold) = (registry.key().clone(), registry.threshold());
    let mut out = BufWriter::new(io::stdout().lock());
    let mut docs = crate::jsonout::JsonDocs::new(format == FingerprintFormat::Json);
    let (mut errors, mut matches, mut compared) = (0usize, 0usize, 0usize);
    let mut header = false;
    for path in suspects {
        let mut walk_errors = Vec::new();
        for file in files(path, &mut walk_errors) {
            let shown = file.display().to_string();
            let blob = match FileBlob::open(&file) {
                Ok(b) => b,
                Err(e) => {
                    walk_errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let examined = match registry.examine(&blob) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    if file == *path {
                        walk_errors.push(format!("{shown}: not a tensor file modelward reads (safetensors, GGUF, PyTorch zip, ONNX, npy, npz)"));
                    }
                    continue;
                }
                Err(e) => {
                    walk_errors.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            compared += 1;
            let results = examined.results;
            matches += results.iter().filter(|m| m.is_match(threshold)).count();
            let doc = || {
                json!({
                    "suspect": shown,
                    "format": examined.format,
                    "tensors": suspect_count(&examined.skipped, &results),
                    "key_id": key.id(),
                    "threshold": threshold,
                    "models": results.iter().map(|m| match_json(m, threshold)).collect::<Vec<_>>(),
                })
            };
            if signing_key.is_some() {
                evidence_docs.push(doc());
                evidence_inputs.push(crate::evidence::file_input("suspect", &file)?);
            }
            match format {
                FingerprintFormat::Json | FingerprintFormat::Ndjson => {
                    docs.write(&mut out, doc())?
                }
                FingerprintFormat::Table => {
                    if !header {
                        header = true;
                        writeln!(
                            out,
                            "{:<9} {:<24} {:>16} {:>9} {:>9}  SUSPECT",
                            "VERDICT", "MODEL", "FALSE-MATCH P", "AGREEMENT", "TENSORS"
                        )?;
                    }
                    for m in &results {
                        let verdict = if m.is_match(threshold) {
                            "match"
                        } else {
                            "no match"
                        };
                        writeln!(
                            out,
                            "{:<9} {:<24} {:>16} {:>9} {:>9}  {}",
                            verdict,
                            printable(&m.model),
                            show_p(m.log10_p()),
                            m.agreement.map(|a| format!("{a:.3}")).unwrap_or("-".into()),
                            format!("{}/{}", m.matched, m.reference_tensors),
                            printable(&shown)
                        )?;
                        if m.is_match(threshold) {
                            for p in m.pairs.iter().filter(|p| p.matched()) {
                                writeln!(
                                    out,
                                    "    {} ~ {} {:?}{} {}/128 p={}",
                                    printable(&p.suspect),
                                    printable(&p.reference),
                                    p.shape,
                                    match p.view {
                                        View::Identity => String::new(),
                                        v => format!(" ({})", v.name()),
                                    },
                                    p.test_agree,
                                    show_p(p.ln_p / std::f64::consts::LN_10)
                                )?;
                            }
                        }
                    }
                }
            }
        }
        for e in &walk_errors {
            modelward_event::errln!("modelward: {e}");
        }
        errors += walk_errors.len();
    }
    docs.finish(&mut out)?;
    out.flush()?;
    if !quiet {
        modelward_event::errln!(
            "modelward: {compared} suspect file(s) against {} model(s): {matches} match(es) at false-match p ≤ {threshold:e}; {errors} error(s)",
            registry.models().len()
        );
    }
    if let (Some(signing_key), Some(path)) = (&signing_key, &evidence.evidence) {
        let mut report = modelward_evidence::Report::new(
            "fingerprint-match",
            crate::evidence::command_line(&[]),
        );
        report.inputs = evidence_inputs;
        report
            .inputs
            .push(crate::evidence::file_input("fingerprint-db", db)?);
        report.method = json!({
            "name": modelward_fingerprint::print::METHOD,
            "test": "per tensor pair, the agreeing test bits of keyed SimHash fingerprints against Binomial(128, 1/2) with the variance of the projections' shared angle; per model the smaller of the pooled and best-pair tails, doubled (Bonferroni) and capped at 1: the false-match probability (docs/fingerprint.md, The statistical test)",
            "parameters": {
                "key_id": key.id(),
                "threshold": threshold,
                "models": registry.models().iter().map(|m| m.print.name.clone()).collect::<Vec<_>>(),
            },
        });
        report.results = json!({
            "suspects": evidence_docs,
            "matches": matches,
            "errors": errors,
        });
        crate::evidence::write(&report, signing_key, path, quiet)?;
    }
    Ok(if errors > 0 {
        2
    } else if matches > 0 {
        1
    } else {
        0
    })
}

fn suspect_count(skipped: &[(String, String)], results: &[ModelMatch]) -> Value {
    json!({
        "skipped": skipped.len(),
        "paired_best": results.iter().map(|m| m.pairs.len()).max().unwrap_or(0),
    })
}

fn list(db: &Path, format: FingerprintFormat) -> Result<u8> {
    let store = crate::db::open_existing(db, crate::db::Purpose::Fingerprints)?;
    let mut out = BufWriter::new(io::stdout().lock());
    let mut docs = crate::jsonout::JsonDocs::new(format == FingerprintFormat::Json);
    for s in fpstore::load(&store)? {
        match format {
            FingerprintFormat::Json | FingerprintFormat::Ndjson => docs.write(
                &mut out,
                json!({
                    "model": s.print.name,
                    "key_id": s.print.key_id,
                    "method": s.print.method,
                    "tensors": s.print.tensors.len(),
                    "skipped": s.print.skipped.len(),
                    "created_at": s.created_at,
                    "files": s.sources,
                }),
            )?,
            FingerprintFormat::Table => writeln!(
                out,
                "{:<24} {:>4} tensor(s)  key {}  {}",
                printable(&s.print.name),
                s.print.tensors.len(),
                s.print.key_id,
                s.sources
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|f| f["path"].as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .map(|paths| printable(&paths).into_owned())
                    .unwrap_or_default()
            )?,
        }
    }
    docs.finish(&mut out)?;
    out.flush()?;
    Ok(0)
}
