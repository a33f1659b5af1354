//! `simulate-llm-traffic`: write labelled benign and attack LLM traffic in modelward's own
//! LLM request log format (NDJSON), and its labels.

use std::io::{self, Write};
use std::process::ExitCode;

use modelward_corpus::cli_args::{
    create, each_flag, parse_duration_ms, parse_number, parse_start, write_out,
};
use modelward_corpus::sim::{simulate, Profile, SimSpec};

const USAGE: &str = "\
Usage: simulate-llm-traffic [OPTIONS]

Writes modelward LLM request log records (docs/llm-log.md), one call per line with
timestamps in increasing order, from benign and attack traffic profiles (the
storage profiles write AWS CloudTrail S3 data events in the same stream), and a
labels file with one JSON object per log line (docs/simulator.md).

Options:
  --seed N              random seed (default 42)
  --start TIME          start, RFC 3339 (2025-03-03T00:00:00Z) or Unix ms
                        (default 2025-03-03T00:00:00Z, a Monday)
  --span DURATION       length of the time range: 90s, 30m, 24h, 7d or ms (default 24h)
  --scale F             multiplier of every profile's volume (default 1.0)
  --profiles LIST       comma-separated profile names, or all, benign, attack (the
                        LLM profiles), storage (the storage profiles), everything
                        (default all)
  --out FILE            write the log to FILE instead of stdout
  --labels FILE         write the labels to FILE (default: none)
  --list-profiles       print the profiles and exit
  -h, --help            show this help
";

struct Options {
    spec: SimSpec,
    out: Option<String>,
    labels: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.iter().any(|a| a == "--list-profiles") {
        for p in Profile::ALL {
            println!(
                "{:26} {:7} {}",
                p.name(),
                p.class().name(),
                p.attack().unwrap_or("-")
            );
        }
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("simulate-llm-traffic: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("simulate-llm-traffic: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> io::Result<()> {
    let mut labels: Box<dyn Write> = match &options.labels {
        Some(path) => Box::new(create(path)?),
        None => Box::new(io::sink()),
    };
    let stats = write_out(options.out.as_deref(), |mut log| {
        simulate(&options.spec, &mut log, &mut labels)
    })?;
    labels.flush()?;
    eprintln!(
        "simulate-llm-traffic: wrote {} calls, {} bytes ({} rate limited)",
        stats.calls, stats.bytes, stats.rate_limited
    );
    for (profile, calls) in &stats.per_profile {
        eprintln!("  {profile:26} {calls:>8}");
    }
    Ok(())
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        spec: SimSpec::default(),
        out: None,
        labels: None,
    };
    each_flag(args, |name, value| {
        match name {
            "--seed" => options.spec.seed = parse_number(name, &value()?)?,
            "--start" => options.spec.start_unix_ms = parse_start(&value()?)?,
            "--span" => options.spec.span_ms = parse_duration_ms(&value()?)?,
            "--scale" => {
                let text = value()?;
                options.spec.scale = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s > 0.0)
                    .ok_or_else(|| format!("--scale: {text:?} is not a positive number"))?;
            }
            "--profiles" => options.spec.profiles = parse_profiles(&value()?)?,
            "--out" => options.out = Some(value()?),
            "--labels" => options.labels = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    Ok(options)
}

/// Names, `all`, `benign`, `attack` (the LLM profiles), `storage` (the storage profiles)
/// or `everything`, comma-separated.
fn parse_profiles(text: &str) -> Result<Vec<Profile>, String> {
    let mut profiles = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match name {
            "all" => profiles.extend(Profile::llm()),
            "everything" => profiles.extend(Profile::ALL),
            "storage" => profiles.extend(Profile::storage()),
            "benign" | "attack" => profiles.extend(
                Profile::llm()
                    .into_iter()
                    .filter(|p| p.class().name() == name),
            ),
            _ => profiles.push(Profile::parse(name).ok_or_else(|| {
                format!("--profiles: unknown profile {name:?} (see --list-profiles)")
            })?),
        }
    }
    if profiles.is_empty() {
        return Err("--profiles: no profile given".to_owned());
    }
    Ok(profiles)
}
