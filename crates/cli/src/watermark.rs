//! `modelward watermark verify`: the greenlist watermark's z-test over texts, each alone and
//! pooled (docs/watermark.md).
//!
//! Exit codes: 0 the texts (pooled, or the one text) are not found watermarked at the
//! threshold, 1 they are, 2 an error (an error wins; a text too short to test is reported and
//! left out).

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use modelward_event::terminal::printable;
use modelward_evidence::Report;
use modelward_watermark::{
    pooled, Detector, Params, Score, SeedingScheme, TiktokenEncoding, Tokenizer,
};
use serde_json::{json, Value};

use crate::evidence::{bytes_input, file_input, EvidenceArgs};
use crate::jsonout::JsonDocs;

#[derive(Subcommand)]
pub enum WatermarkCommand {
    /// Test texts for the greenlist watermark (Kirchenbauer et al.) as Hugging Face
    /// Transformers' WatermarkingConfig makes it: z-score and p-value per text and pooled.
    Verify(VerifyArgs),
    /// Test whether log probabilities carry a principal's seeded perturbation (the gateway's
    /// perturb_output): responses as observed against the same requests answered
    /// unperturbed, per candidate principal (exit 1 when one is found).
    Perturbation(PerturbationArgs),
}

#[derive(Args)]
pub struct PerturbationArgs {
    /// The responses to test (NDJSON, one JSON response a line: chat or legacy completions,
    /// or the Responses API, whole, with their logprobs).
    #[arg(long, value_name = "FILE")]
    pub observed: PathBuf,
    /// The same requests answered by the model without perturbation, line for line.
    #[arg(long, value_name = "FILE")]
    pub reference: PathBuf,
    /// A candidate principal (the gateway's api_key.id the answers may have been served to;
    /// repeatable).
    #[arg(long = "principal", value_name = "ID", required = true)]
    pub principals: Vec<String>,
    /// The environment variable holding the gateway's secret (its `secret_env`).
    #[arg(long, value_name = "VAR")]
    pub secret_env: String,
    /// The measure's noise (perturb_output's parameter).
    #[arg(long, value_name = "N", default_value_t = 0.01)]
    pub noise: f64,
    /// A principal is found at a p-value at most this.
    #[arg(long, value_name = "P", default_value_t = 1e-9)]
    pub threshold: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    Lefthash,
    Selfhash,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "snake_case")]
#[allow(clippy::enum_variant_names)] // the encodings' own names
pub enum Tiktoken {
    Cl100kBase,
    O200kBase,
    P50kBase,
    R50kBase,
}

impl From<Tiktoken> for TiktokenEncoding {
    fn from(t: Tiktoken) -> Self {
        match t {
            Tiktoken::Cl100kBase => TiktokenEncoding::Cl100kBase,
            Tiktoken::O200kBase => TiktokenEncoding::O200kBase,
            Tiktoken::P50kBase => TiktokenEncoding::P50kBase,
            Tiktoken::R50kBase => TiktokenEncoding::R50kBase,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    /// One JSON document a line: each text, then the pooled test.
    Ndjson,
    /// The same documents in one array.
    Json,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Texts to test (each argument one text).
    #[arg(value_name = "TEXT")]
    pub texts: Vec<String>,
    /// A file holding one text (repeatable).
    #[arg(long = "file", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Each non-empty line of each --file is one text (many samples, one a line).
    #[arg(long)]
    pub lines: bool,
    /// The model's tokenizer.json.
    #[arg(long, value_name = "FILE", required_unless_present = "tiktoken")]
    pub tokenizer: Option<PathBuf>,
    /// Or one of OpenAI's tiktoken encodings (compiled in; nothing downloaded).
    #[arg(
        long,
        value_enum,
        value_name = "ENCODING",
        conflicts_with = "tokenizer"
    )]
    pub tiktoken: Option<Tiktoken>,
    /// The watermark's hashing key (WatermarkingConfig.hashing_key; Transformers' default is
    /// 15485863). Not written to reports or output: its SHA-256 is.
    #[arg(long, value_name = "K")]
    pub key: u64,
    /// The greenlist ratio γ (WatermarkingConfig.greenlist_ratio).
    #[arg(
        long,
        visible_alias = "greenlist-ratio",
        value_name = "G",
        default_value_t = 0.25
    )]
    pub gamma: f64,
    /// How the greenlist is seeded.
    #[arg(long, value_enum, default_value = "lefthash")]
    pub seeding_scheme: Scheme,
    /// Tokens of context that seed it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub context_width: usize,
    /// The model's vocab_size [default: the tokenizer's, added tokens included; a tiktoken
    /// encoding's n_vocab].
    #[arg(long, value_name = "N")]
    pub vocab_size: Option<u32>,
    /// The model's bos_token_id: dropped when a text's first token.
    #[arg(long, value_name = "ID")]
    pub bos_token_id: Option<u32>,
    /// Count each distinct n-gram once.
    #[arg(long)]
    pub ignore_repeated_ngrams: bool,
    /// Watermarked is a z-score above this (Kirchenbauer et al. use 4; Transformers' detector
    /// predicts at 3).
    #[arg(long, value_name = "Z", default_value_t = 4.0)]
    pub z_threshold: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    /// No summary.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(cmd: WatermarkCommand) -> Result<u8> {
    match cmd {
        WatermarkCommand::Verify(args) => verify(args),
        WatermarkCommand::Perturbation(args) => perturbation(args),
    }
}

struct Text {
    source: String,
    body: String,
}

fn verify(args: VerifyArgs) -> Result<u8> {
    let signing_key = args.evidence.key()?;
    let (tokenizer, mut inputs) = match (&args.tokenizer, args.tiktoken) {
        (_, Some(encoding)) => (Tokenizer::tiktoken(encoding.into())?, Vec::new()),
        (Some(path), None) => (
            Tokenizer::from_file(path)?,
            vec![file_input("tokenizer", path)?],
        ),
        (None, None) => bail!("give --tokenizer FILE or --tiktoken ENCODING"),
    };
    let mut params = Params::new(args.vocab_size.unwrap_or_else(|| tokenizer.vocab_size()));
    params.greenlist_ratio = args.gamma;
    params.hashing_key = args.key;
    params.seeding_scheme = match args.seeding_scheme {
        Scheme::Lefthash => SeedingScheme::LeftHash,
        Scheme::Selfhash => SeedingScheme::SelfHash,
    };
    params.context_width = args.context_width;
    params.bos_token_id = args.bos_token_id;
    params.ignore_repeated_ngrams = args.ignore_repeated_ngrams;
    let mut detector = Detector::new(params.clone())?;

    let mut texts = Vec::new();
    for (i, t) in args.texts.iter().enumerate() {
        let source = format!("argument {}", i + 1);
        inputs.push(bytes_input("text", &source, t.as_bytes()));
        texts.push(Text {
            source,
            body: t.clone(),
        });
    }
    for path in &args.files {
        let body = crate::evidence::read_text(path)?;
        inputs.push(file_input("texts", path)?);
        if args.lines {
            for (n, line) in body.lines().enumerate() {
                if !line.trim().is_empty() {
                    texts.push(Text {
                        source: format!("{}:{}", path.display(), n + 1),
                        body: line.to_string(),
                    });
                }
            }
        } else {
            texts.push(Text {
                source: path.display().to_string(),
                body,
            });
        }
    }
    if texts.is_empty() {
        bail!("no text to test: give TEXT arguments or --file FILE");
    }

    let mut scores: Vec<(usize, Score)> = Vec::new();
    let mut errors = 0usize;
    for (i, text) in texts.iter().enumerate() {
        let result = tokenizer
            .encode(&text.body)
            .and_then(|ids| detector.score(&ids));
        match result {
            Ok(score) => scores.push((i, score)),
            Err(e) => {
                errors += 1;
                modelward_event::errln!("modelward: {}: {e}", printable(&text.source));
            }
        }
    }
    let gamma = params.greenlist_ratio;
    let all: Vec<Score> = scores.iter().map(|(_, s)| *s).collect();
    let pooled_score = pooled(&all, gamma);
    let threshold = args.z_threshold;

    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut docs = Vec::new();
    for (i, s) in &scores {
        docs.push(json!({"text": texts[*i].source, "score": score_json(s, threshold)}));
    }
    let pooled_doc = pooled_score
        .map(|p| json!({"pooled": {"texts": scores.len(), "score": score_json(&p, threshold)}}));
    match args.format {
        Format::Table => {
            writeln!(
                out,
                "{:<32} {:>7} {:>6} {:>6} {:>8} {:>11}  WATERMARKED",
                "TEXT", "SCORED", "GREEN", "FRAC", "Z", "P"
            )?;
            for (i, s) in &scores {
                row(&mut out, &texts[*i].source, s, threshold)?;
            }
            if let (Some(p), true) = (&pooled_score, scores.len() > 1) {
                row(
                    &mut out,
                    &format!("pooled ({} texts)", scores.len()),
                    p,
                    threshold,
                )?;
            }
        }
        Format::Ndjson | Format::Json => {
            let mut writer = JsonDocs::new(args.format == Format::Json);
            for d in docs.iter().chain(pooled_doc.iter()) {
                writer.write(&mut out, d.clone())?;
            }
            writer.finish(&mut out)?;
        }
    }
    out.flush()?;
    let detected = pooled_score.is_some_and(|p| p.z_score > threshold);
    if !args.quiet {
        modelward_event::errln!(
            "modelward: {} text(s) tested, {errors} too short or unreadable; {}",
            scores.len(),
            match &pooled_score {
                Some(p) => format!(
                    "pooled z {:.2}, p {:.3e}: {}",
                    p.z_score,
                    p.p_value,
                    if detected {
                        "watermarked"
                    } else {
                        "not found watermarked"
                    }
                ),
                None => "nothing to pool".to_string(),
            }
        );
    }

    if let (Some(key), Some(path)) = (&signing_key, &args.evidence.evidence) {
        let mut report = Report::new(
            "watermark-verify",
            crate::evidence::command_line(&["--key"]),
        );
        report.inputs = inputs;
        report.method = json!({
            "name": "greenlist watermark z-test (Kirchenbauer et al. 2023), as Hugging Face Transformers' WatermarkDetector",
            "test": "one-sided z-test of the green token count against greenlist_ratio, normal approximation; pooled: the sums of green and scored tokens over the texts",
            "parameters": {
                "tiktoken_encoding": tokenizer.tiktoken_encoding().map(TiktokenEncoding::name),
                "vocab_size": params.vocab_size,
                "greenlist_ratio": params.greenlist_ratio,
                "greenlist_size": params.greenlist_size(),
                "seeding_scheme": params.seeding_scheme.name(),
                "context_width": params.context_width,
                "ignore_repeated_ngrams": params.ignore_repeated_ngrams,
                "bos_token_id": params.bos_token_id,
                "hashing_key_sha256": modelward_inventory::hash::hash_bytes(
                    params.hashing_key.to_string().as_bytes(),
                    modelward_inventory::hash::HashAlgorithm::Sha256,
                ),
                "z_threshold": threshold,
            },
        });
        report.results = json!({
            "texts": docs,
            "pooled": pooled_doc.map(|d| d["pooled"].clone()),
            "too_short_or_unreadable": errors,
            "watermarked": detected,
        });
        crate::evidence::write(&report, key, path, args.quiet)?;
    }
    if scores.is_empty() {
        bail!("no text could be tested");
    }
    Ok(u8::from(detected))
}

fn score_json(s: &Score, threshold: f64) -> Value {
    json!({
        "tokens_scored": s.tokens_scored,
        "green_tokens": s.green_tokens,
        "green_fraction": s.green_fraction,
        "z_score": s.z_score,
        "p_value": s.p_value,
        "log10_p_value": s.log10_p_value,
        "watermarked": s.z_score > threshold,
    })
}

fn row(out: &mut dyn Write, source: &str, s: &Score, threshold: f64) -> io::Result<()> {
    writeln!(
        out,
        "{:<32} {:>7} {:>6} {:>6.3} {:>8.3} {:>11.3e}  {}",
        printable(source),
        s.tokens_scored,
        s.green_tokens,
        s.green_fraction,
        s.z_score,
        s.p_value,
        if s.z_score > threshold { "yes" } else { "no" }
    )
}

/// Numbers inside `logprobs` that are not log probabilities.
const NOT_LOGPROBS: [&str; 3] = ["bytes", "text_offset", "index"];

/// Every log probability of a response, keyed by where it stands: array positions by index,
/// except the top candidates, which perturbation sorts again, by their token. Byte arrays are
/// left out.
fn logprob_values(v: &Value) -> std::collections::BTreeMap<String, f64> {
    fn walk(
        v: &Value,
        path: &mut String,
        inside: bool,
        out: &mut std::collections::BTreeMap<String, f64>,
    ) {
        let len = path.len();
        match v {
            Value::Number(n) if inside => {
                if let Some(f) = n.as_f64() {
                    out.insert(path.clone(), f);
                }
            }
            Value::Object(map) => {
                for (k, child) in map {
                    if NOT_LOGPROBS.contains(&k.as_str()) {
                        continue;
                    }
                    path.push('/');
                    path.push_str(k);
                    walk(child, path, inside || k.contains("logprob"), out);
                    path.truncate(len);
                }
            }
            Value::Array(items) => {
                let by_token = path.ends_with("/top_logprobs");
                for (i, child) in items.iter().enumerate() {
                    match child
                        .get("token")
                        .and_then(Value::as_str)
                        .filter(|_| by_token)
                    {
                        Some(token) => {
                            path.push_str("/=");
                            path.push_str(token);
                        }
                        None => {
                            path.push('/');
                            path.push_str(&i.to_string());
                        }
                    }
                    walk(child, path, inside, out);
                    path.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(v, &mut String::new(), false, &mut out);
    out
}

fn read_ndjson(path: &std::path::Path) -> Result<Vec<Value>> {
    let text = crate::evidence::read_text(path)?;
    let mut docs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str(line) {
            Ok(v) => docs.push(v),
            Err(e) => bail!("{}:{}:{}: {e}", path.display(), n + 1, e.column()),
        }
    }
    Ok(docs)
}

fn perturbation(args: PerturbationArgs) -> Result<u8> {
    let signing_key = args.evidence.key()?;
    let secret = match std::env::var_os(&args.secret_env) {
        Some(v) if !v.is_empty() => v.as_encoded_bytes().to_vec(),
        _ => bail!("--secret-env {}: the variable is not set", args.secret_env),
    };
    if !(args.noise > 0.0 && args.noise <= 1.0) {
        bail!("--noise must be in (0, 1]");
    }
    let observed = read_ndjson(&args.observed)?;
    let reference = read_ndjson(&args.reference)?;
    if observed.len() != reference.len() {
        bail!(
            "{} holds {} responses and {} holds {}: they must be the same requests, line for line",
            args.observed.display(),
            observed.len(),
            args.reference.display(),
            reference.len()
        );
    }
    let observed: Vec<_> = observed.iter().map(logprob_values).collect();
    let references: Vec<_> = reference.iter().map(logprob_values).collect();
    let mut docs = Vec::new();
    let mut found = 0usize;
    for principal in &args.principals {
        // The noise is a function of (choice, position, token): the same key in many answers
        // has the same noise, so the unit of the test is a distinct noise value, with the
        // residuals of its entries averaged (entries counted apart would not be independent).
        let mut units: std::collections::BTreeMap<i64, (f64, f64, u32)> =
            std::collections::BTreeMap::new();
        let mut entries = 0u64;
        for ((obs, refs), doc) in observed.iter().zip(&references).zip(&reference) {
            let mut expected = doc.clone();
            modelward_gateway::perturb::Perturber::new(&secret, principal, args.noise)
                .apply(&mut expected);
            let expected = logprob_values(&expected);
            for (k, r) in refs {
                if let (Some(o), Some(e)) = (obs.get(k), expected.get(k)) {
                    // (r + d) − r is d to rounding: grouped at 1e-12 nats.
                    let unit = units
                        .entry(((e - r) * 1e12).round() as i64)
                        .or_insert((0.0, 0.0, 0));
                    unit.0 += o - r;
                    unit.1 += e - r;
                    unit.2 += 1;
                    entries += 1;
                }
            }
        }
        let pairs: Vec<(f64, f64)> = units
            .iter()
            .map(|(_, (residual, noise, n))| (residual / f64::from(*n), noise / f64::from(*n)))
            .collect();
        let c = modelward_watermark::perturbation::correlate(&pairs);
        let hit = c.p_value <= args.threshold;
        found += usize::from(hit);
        docs.push(json!({
            "principal": principal,
            "entries": entries,
            "units": c.entries,
            "correlation": c.r,
            "z_score": c.z_score,
            "p_value": c.p_value,
            "log10_p_value": c.log10_p_value,
            "found": hit,
        }));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Table => {
            writeln!(
                out,
                "{:<32} {:>8} {:>8} {:>9} {:>11}  FOUND",
                "PRINCIPAL", "ENTRIES", "R", "Z", "P"
            )?;
            for d in &docs {
                writeln!(
                    out,
                    "{:<32} {:>8} {:>6} {:>8.4} {:>9.2} {:>11.3e}  {}",
                    printable(d["principal"].as_str().unwrap_or_default()),
                    d["entries"],
                    d["units"],
                    d["correlation"].as_f64().unwrap_or(0.0),
                    d["z_score"].as_f64().unwrap_or(0.0),
                    d["p_value"].as_f64().unwrap_or(1.0),
                    if d["found"] == true { "yes" } else { "no" }
                )?;
            }
        }
        Format::Ndjson | Format::Json => {
            let mut writer = JsonDocs::new(args.format == Format::Json);
            for d in &docs {
                writer.write(&mut out, d.clone())?;
            }
            writer.finish(&mut out)?;
        }
    }
    out.flush()?;
    if !args.quiet {
        modelward_event::errln!(
            "modelward: {} response(s), {} candidate principal(s): {found} found at p ≤ {:e}",
            observed.len(),
            args.principals.len(),
            args.threshold
        );
    }
    if let (Some(key), Some(path)) = (&signing_key, &args.evidence.evidence) {
        let mut report = Report::new("watermark-perturbation", crate::evidence::command_line(&[]));
        report.inputs = vec![
            file_input("observed", &args.observed)?,
            file_input("reference", &args.reference)?,
        ];
        report.method = json!({
            "name": "the gateway's perturb_output noise (modelward_gateway::perturb), recomputed per candidate principal",
            "test": "Pearson correlation, over the candidate's distinct noise values, of the mean observed minus reference log probability with that noise; Fisher z = atanh(r)·sqrt(n−3), one-sided normal tail",
            "parameters": {
                "noise": args.noise,
                "threshold": args.threshold,
                "secret_env": args.secret_env,
            },
        });
        report.results = json!({"principals": docs, "found": found});
        crate::evidence::write(&report, key, path, args.quiet)?;
    }
    Ok(u8::from(found > 0))
}
