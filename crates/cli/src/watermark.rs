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
use modelward_watermark::{pooled, Detector, Params, Score, SeedingScheme, Tokenizer};
use serde_json::{json, Value};

use crate::evidence::{bytes_input, file_input, EvidenceArgs};
use crate::jsonout::JsonDocs;

#[derive(Subcommand)]
pub enum WatermarkCommand {
    /// Test texts for the greenlist watermark (Kirchenbauer et al.) as Hugging Face
    /// Transformers' WatermarkingConfig makes it: z-score and p-value per text and pooled.
    Verify(VerifyArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    Lefthash,
    Selfhash,
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
    #[arg(long, value_name = "FILE")]
    pub tokenizer: PathBuf,
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
    /// The model's vocab_size [default: the tokenizer's, added tokens included].
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
    }
}

struct Text {
    source: String,
    body: String,
}

fn verify(args: VerifyArgs) -> Result<u8> {
    let signing_key = args.evidence.key()?;
    let tokenizer = Tokenizer::from_file(&args.tokenizer)?;
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

    let mut inputs = vec![file_input("tokenizer", &args.tokenizer)?];
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
