//! `gen-azure-logs`: write a synthetic corpus of raw Azure OpenAI
//! diagnostic logs (NDJSON) to stdout or a file.

use std::io;
use std::process::ExitCode;

use modelward_corpus::cli_args::{
    each_flag, parse_duration_ms, parse_number, parse_start, write_out,
};
use modelward_corpus::{events_for_size, generate, CorpusSpec};

const USAGE: &str = "\
Usage: gen-azure-logs [OPTIONS]

Writes raw Azure OpenAI diagnostic records (RequestResponse, GatewayLogs and
Audit), one JSON object per line, with timestamps in increasing order.

Options:
  --events N              number of records (default 10000)
  --bytes SIZE            aim for about SIZE bytes instead, e.g. 500M or 1G
                          (K, M, G, T are powers of 1024; KB, MB, GB too)
  --seed N                random seed (default 42)
  --resources N           Azure OpenAI accounts (default 12)
  --attack-resources N    accounts that get a burst of >= 100 ListKey calls
                          within an hour (default 2)
  --start TIME            start, RFC 3339 (2025-03-01T00:00:00Z) or Unix ms
                          (default 2025-03-01T00:00:00Z)
  --span DURATION         length of the time range: 90s, 30m, 24h, 7d or ms
                          (default 24h)
  --out FILE              write to FILE instead of stdout
  -h, --help              show this help
";

/// How many records to write.
enum Amount {
    Events(u64),
    Bytes(u64),
}

struct Options {
    spec: CorpusSpec,
    amount: Amount,
    out: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(&args) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("gen-azure-logs: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(options) {
        Ok(bytes) => {
            eprintln!("gen-azure-logs: wrote {bytes} bytes");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("gen-azure-logs: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(options: Options) -> io::Result<u64> {
    let mut spec = options.spec;
    spec.events = match options.amount {
        Amount::Events(events) => events,
        Amount::Bytes(bytes) => events_for_size(&spec, bytes)?,
    };
    write_out(options.out.as_deref(), |mut out| generate(&spec, &mut out))
}

fn parse_args(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        spec: CorpusSpec::default(),
        amount: Amount::Events(CorpusSpec::default().events),
        out: None,
    };
    let mut amount_given = false;
    each_flag(args, |name, value| {
        match name {
            "--events" | "--bytes" => {
                if amount_given {
                    return Err("give --events or --bytes, not both".to_owned());
                }
                amount_given = true;
                options.amount = if name == "--events" {
                    Amount::Events(parse_number(name, &value()?)?)
                } else {
                    Amount::Bytes(parse_size(&value()?)?)
                };
            }
            "--seed" => options.spec.seed = parse_number(name, &value()?)?,
            "--resources" => options.spec.resources = parse_count(name, &value()?)?,
            "--attack-resources" => {
                options.spec.attack_resources = parse_count(name, &value()?)?;
            }
            "--start" => options.spec.start_unix_ms = parse_start(&value()?)?,
            "--span" => options.spec.span_ms = parse_duration_ms(&value()?)?,
            "--out" => options.out = Some(value()?),
            other => return Err(format!("unknown argument {other}")),
        }
        Ok(())
    })?;
    Ok(options)
}

fn parse_count(name: &str, text: &str) -> Result<usize, String> {
    let number = parse_number(name, text)?;
    usize::try_from(number).map_err(|_| format!("{name}: {text} is too large"))
}

/// `1234`, `10K`, `500M`, `1G`, `2T`, optionally followed by `B` or `iB`;
/// the multipliers are powers of 1024.
fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let upper = trimmed.to_ascii_uppercase();
    let without_b = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match without_b.chars().last() {
        Some('K') => (&without_b[..without_b.len() - 1], 10),
        Some('M') => (&without_b[..without_b.len() - 1], 20),
        Some('G') => (&without_b[..without_b.len() - 1], 30),
        Some('T') => (&without_b[..without_b.len() - 1], 40),
        _ => (without_b, 0),
    };
    let number: u64 = digits
        .trim()
        .parse()
        .map_err(|_| format!("--bytes: {text:?} is not a size such as 500M or 1G"))?;
    number
        .checked_mul(1u64 << shift)
        .ok_or_else(|| format!("--bytes: {text} is too large"))
}
