//! `score-simulation`: how a hunt did on simulated LLM traffic. Reads the simulated log, its
//! labels and the hunt's NDJSON alerts, and prints per profile the calls until the first
//! alert (attacks) or the alerts raised (benign profiles: false positives).

use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

use modelward_corpus::sim::score::{score, ProfileScore};

const USAGE: &str = "\
Usage: score-simulation LOG LABELS ALERTS

LOG      the log simulate-llm-traffic wrote (--out)
LABELS   its labels (--labels)
ALERTS   modelward hunt --format ndjson over LOG

Prints a Markdown table per profile; exits 1 when an attack went undetected or a benign
profile raised an alert, 2 on bad input.
";

fn open(path: &str) -> Result<BufReader<File>, String> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|e| format!("{path}: {e}"))
}

fn row(s: &ProfileScore) -> String {
    let verdict = match (s.class.as_str(), s.calls_until_alert) {
        ("attack", Some(_)) => "detected",
        ("attack", None) => "missed",
        (_, None) => "quiet",
        _ => "false positive",
    };
    let delay = match (s.calls_until_alert, s.ms_until_alert) {
        (Some(c), Some(ms)) => format!("{c} calls, {:.1} min", ms as f64 / 60_000.0),
        (Some(c), None) => format!("{c} calls"),
        _ => "–".to_string(),
    };
    let rules: Vec<&str> = s.rules.iter().map(String::as_str).collect();
    format!(
        "| {} | {} | {} | {} | {verdict} | {delay} | {} | {} |",
        s.profile,
        s.class,
        s.principals,
        s.calls,
        s.alerts,
        rules.join(", ")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 || args.iter().any(|a| a == "-h" || a == "--help") {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    }
    let inputs = (open(&args[0]), open(&args[1]), open(&args[2]));
    let (Ok(log), Ok(labels), Ok(alerts)) = inputs else {
        let (a, b, c) = inputs;
        for e in [a.err(), b.err(), c.err()].into_iter().flatten() {
            eprintln!("score-simulation: {e}");
        }
        return ExitCode::from(2);
    };
    let scores = match score(log, labels, alerts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("score-simulation: {e}");
            return ExitCode::from(2);
        }
    };
    println!("| profile | class | principals | calls | verdict | until the first alert | alerts | rules |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut failed = false;
    for s in &scores {
        println!("{}", row(s));
        failed |= match s.class.as_str() {
            "attack" => s.calls_until_alert.is_none(),
            _ => s.alerts > 0,
        };
    }
    match failed {
        true => ExitCode::from(1),
        false => ExitCode::SUCCESS,
    }
}
