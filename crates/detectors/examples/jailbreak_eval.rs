//! Measures the jailbreak heuristic (`detectors::jailbreak_score`) and the classifier
//! (`detectors::jailbreak_model`) on corpora of attacks and of benign prompts: per corpus,
//! the share flagged by the heuristic at the threshold, by the classifier and by either;
//! per threshold of the heuristic, the
//! detection rate on all attacks and the false-positive rate on all benign texts; the
//! detection rate on obfuscated forms (base64, hex, rot13, leetspeak, spaced letters,
//! homoglyphs, zero-width splits) of the short attacks caught in plain form; and the
//! scorer's throughput on the benign texts.
//!
//! ```text
//! tools/jailbreak-eval.sh            # downloads the public corpora, then runs this
//! cargo run --release -p modelward-detectors --example jailbreak_eval -- \
//!     --attacks DIR --benign DIR [--threshold N] [--show-fp N] [--show-fn N]
//! ```
//!
//! Each file of a directory is one corpus: `.jsonl` (a JSON string, or an object with
//! `text` or `prompt`, per line), `.json` (every string in it) or anything else (one text per
//! line; blank lines and lines starting with `#` are skipped).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use modelward_detectors::detectors::jailbreak_score::{
    JailbreakScore, JailbreakScorer, DEFAULT_THRESHOLD,
};
use serde_json::Value;

/// The false-positive rate the default threshold must keep to.
const TARGET_FPR: f64 = 0.005;
const MAX_THRESHOLD: u32 = 20;

struct Args {
    attacks: PathBuf,
    benign: PathBuf,
    threshold: u32,
    show_fp: usize,
    show_fn: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut attacks, mut benign) = (None, None);
    let (mut threshold, mut show_fp, mut show_fn) = (DEFAULT_THRESHOLD, 0, 0);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--attacks" => attacks = Some(PathBuf::from(value()?)),
            "--benign" => benign = Some(PathBuf::from(value()?)),
            "--threshold" => threshold = value()?.parse().map_err(|e| format!("{e}"))?,
            "--show-fp" => show_fp = value()?.parse().map_err(|e| format!("{e}"))?,
            "--show-fn" => show_fn = value()?.parse().map_err(|e| format!("{e}"))?,
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(Args {
        attacks: attacks.ok_or("--attacks DIR is required")?,
        benign: benign.ok_or("--benign DIR is required")?,
        threshold,
        show_fp,
        show_fn,
    })
}

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn read_corpus(path: &Path) -> Result<Vec<String>, String> {
    let raw = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let mut texts = Vec::new();
    match ext {
        "jsonl" => {
            for (n, line) in raw.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(line)
                    .map_err(|e| format!("{}:{}: {e}", path.display(), n + 1))?;
                match &v {
                    Value::Object(o) => {
                        if let Some(t) = o.get("text").or_else(|| o.get("prompt")) {
                            strings(t, &mut texts);
                        }
                    }
                    v => strings(v, &mut texts),
                }
            }
        }
        "json" => {
            let v: Value =
                serde_json::from_str(&raw).map_err(|e| format!("{}: {e}", path.display()))?;
            strings(&v, &mut texts);
        }
        _ => texts.extend(
            raw.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(String::from),
        ),
    }
    texts.retain(|t| !t.trim().is_empty());
    Ok(texts)
}

struct Corpus {
    name: String,
    texts: Vec<String>,
    scores: Vec<JailbreakScore>,
}

fn load_dir(dir: &Path, scorer: &JailbreakScorer) -> Result<Vec<Corpus>, String> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let texts = read_corpus(&path)?;
        let scores = texts.iter().map(|t| scorer.score(t)).collect();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Corpus {
            name,
            texts,
            scores,
        });
    }
    Ok(out)
}

fn flagged(scores: &[JailbreakScore], t: u32) -> usize {
    scores.iter().filter(|s| s.total >= t).count()
}

fn pct(n: usize, of: usize) -> f64 {
    if of == 0 {
        0.0
    } else {
        100.0 * n as f64 / of as f64
    }
}

fn short(text: &str, n: usize) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    one_line.chars().take(n).collect()
}

fn describe(score: &JailbreakScore) -> String {
    score
        .signals
        .iter()
        .map(|s| format!("{}({}) \"{}\"", s.name, s.weight, short(&s.excerpt, 40)))
        .collect::<Vec<_>>()
        .join(", ")
}

// -- obfuscated forms of attacks, to see whether obfuscation defeats the heuristic --

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A name and a way to hide a text.
type Obfuscation = (&'static str, fn(&str) -> String);

fn obfuscations() -> Vec<Obfuscation> {
    vec![
        ("base64", |t| base64(t.as_bytes())),
        ("hex", |t| t.bytes().map(|b| format!("{b:02x}")).collect()),
        ("rot13", |t| {
            t.chars()
                .map(|c| match c {
                    'a'..='m' | 'A'..='M' => char::from(c as u8 + 13),
                    'n'..='z' | 'N'..='Z' => char::from(c as u8 - 13),
                    c => c,
                })
                .collect()
        }),
        ("leetspeak", |t| {
            t.chars()
                .map(|c| match c.to_ascii_lowercase() {
                    'o' => '0',
                    'i' => '1',
                    'e' => '3',
                    'a' => '4',
                    's' => '5',
                    't' => '7',
                    _ => c,
                })
                .collect()
        }),
        ("spaced letters", |t| {
            t.split_whitespace()
                .map(|w| w.chars().map(String::from).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join("   ")
        }),
        ("homoglyphs", |t| {
            t.chars()
                .map(|c| match c {
                    'a' => 'а',
                    'e' => 'е',
                    'o' => 'о',
                    'i' => 'і',
                    'p' => 'р',
                    'c' => 'с',
                    _ => c,
                })
                .collect()
        }),
        ("zero-width split", |t| {
            t.chars().flat_map(|c| [c, '\u{200B}']).collect()
        }),
    ]
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("jailbreak_eval: {e}");
            return ExitCode::from(2);
        }
    };
    let built = Instant::now();
    let scorer = JailbreakScorer::new();
    let build_time = built.elapsed();
    let (attacks, benign) = match (
        load_dir(&args.attacks, &scorer),
        load_dir(&args.benign, &scorer),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("jailbreak_eval: {e}");
            return ExitCode::from(2);
        }
    };
    let t = args.threshold;
    println!(
        "Per corpus: the heuristic at threshold {t}, the classifier at its threshold, either:"
    );
    println!(
        "{:<42} {:>8} {:>17} {:>17} {:>17}",
        "corpus", "texts", "heuristic", "classifier", "either"
    );
    let mut totals = [[0usize; 4]; 2];
    for (k, (kind, corpora)) in [("attacks", &attacks), ("benign", &benign)]
        .into_iter()
        .enumerate()
    {
        for c in corpora {
            let n = c.texts.len();
            let f = flagged(&c.scores, t);
            let m = c.scores.iter().filter(|s| s.model_says()).count();
            let e = c.scores.iter().filter(|s| s.reaches(t)).count();
            for (total, v) in totals[k].iter_mut().zip([n, f, m, e]) {
                *total += v;
            }
            let name = format!("{kind}/{}", c.name);
            println!(
                "{name:<42} {n:>8} {f:>8} {:>7.2}% {m:>8} {:>7.2}% {e:>8} {:>7.2}%",
                pct(f, n),
                pct(m, n),
                pct(e, n)
            );
        }
    }
    for (kind, [n, f, m, e]) in ["attacks", "benign"].into_iter().zip(totals) {
        println!(
            "{:<42} {n:>8} {f:>8} {:>7.2}% {m:>8} {:>7.2}% {e:>8} {:>7.2}%",
            format!("all {kind}"),
            pct(f, n),
            pct(m, n),
            pct(e, n)
        );
    }

    let all = |cs: &[Corpus]| -> Vec<JailbreakScore> {
        cs.iter().flat_map(|c| c.scores.iter().cloned()).collect()
    };
    let (attack_scores, benign_scores) = (all(&attacks), all(&benign));
    println!(
        "\nPer threshold: detection on all {} attack texts, false positives on each benign corpus and on all {} benign texts:",
        attack_scores.len(),
        benign_scores.len()
    );
    print!("{:>9} {:>10}", "threshold", "detection");
    for c in &benign {
        print!(" {:>14}", short(&c.name, 14));
    }
    println!(" {:>8}", "all");
    let mut chosen = None;
    for th in 1..=MAX_THRESHOLD {
        let d = pct(flagged(&attack_scores, th), attack_scores.len());
        print!("{th:>9} {d:>9.2}%");
        let mut worst = 0.0f64;
        for c in &benign {
            let fp = pct(flagged(&c.scores, th), c.scores.len());
            worst = worst.max(fp);
            print!(" {fp:>13.3}%");
        }
        println!(
            " {:>7.3}%",
            pct(flagged(&benign_scores, th), benign_scores.len())
        );
        if chosen.is_none() && worst / 100.0 <= TARGET_FPR {
            chosen = Some(th);
        }
    }
    match chosen {
        Some(c) => println!(
            "Lowest threshold with FPR <= {:.1}% on every benign corpus: {c} (DEFAULT_THRESHOLD is {DEFAULT_THRESHOLD})",
            TARGET_FPR * 100.0
        ),
        None => println!("No threshold up to {MAX_THRESHOLD} keeps FPR <= {TARGET_FPR} on every benign corpus"),
    }

    // Obfuscated forms of the short attacks caught in plain form.
    let seeds: Vec<&str> = attacks
        .iter()
        .flat_map(|c| c.texts.iter().zip(&c.scores))
        .filter(|(text, s)| s.total >= t && text.len() <= 400)
        .map(|(text, _)| text.as_str())
        .collect();
    println!(
        "\nObfuscated forms of the {} attacks of at most 400 bytes caught in plain form:",
        seeds.len()
    );
    for (name, f) in obfuscations() {
        let caught = seeds
            .iter()
            .filter(|s| scorer.score(&f(s)).total >= t)
            .count();
        println!(
            "{name:<18} {caught:>5}/{:<5} {:>7.2}%",
            seeds.len(),
            pct(caught, seeds.len())
        );
    }

    // Throughput on the benign texts (one core).
    let bytes: usize = benign.iter().flat_map(|c| &c.texts).map(String::len).sum();
    let passes = 3;
    let start = Instant::now();
    let mut sink = 0u64;
    for _ in 0..passes {
        for text in benign.iter().flat_map(|c| &c.texts) {
            sink += u64::from(scorer.score(text).total);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "\nThroughput on the benign texts: {:.0} MB/s, {:.0} k texts/s ({} bytes x {passes}; built in {:.1} ms; checksum {sink})",
        (bytes * passes) as f64 / secs / 1e6,
        (benign_scores.len() * passes) as f64 / secs / 1e3,
        bytes,
        build_time.as_secs_f64() * 1e3
    );

    if args.show_fp > 0 {
        println!(
            "\nBenign texts flagged at {t} (first {} per corpus):",
            args.show_fp
        );
        for c in &benign {
            let hits = c.texts.iter().zip(&c.scores).filter(|(_, s)| s.total >= t);
            for (text, s) in hits.take(args.show_fp) {
                {
                    println!(
                        "[{}] {} | {} | {}",
                        s.total,
                        c.name,
                        short(text, 160),
                        describe(s)
                    );
                }
            }
        }
    }
    if args.show_fn > 0 {
        println!(
            "\nAttacks missed at {t} (first {} per corpus):",
            args.show_fn
        );
        for c in &attacks {
            let missed = c.texts.iter().zip(&c.scores).filter(|(_, s)| s.total < t);
            for (text, s) in missed.take(args.show_fn) {
                println!(
                    "[{}] {} | {} | {}",
                    s.total,
                    c.name,
                    short(text, 200),
                    describe(s)
                );
            }
        }
    }
    ExitCode::SUCCESS
}
