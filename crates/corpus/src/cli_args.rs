//! The command line the generator binaries share: flags (`--name value` or `--name=value`),
//! option values (`--start`, `--span`, whole numbers) and the output (a file or stdout).

use std::fs::File;
use std::io::{self, Write};

/// Goes through `args` flag by flag: `handle` gets each flag's name (`--name` of
/// `--name=value`) and a function that takes its value, the text after `=` or the next
/// argument (an error naming the flag when there is none). The first error stops it.
pub fn each_flag(
    args: &[String],
    mut handle: impl FnMut(&str, &mut dyn FnMut() -> Result<String, String>) -> Result<(), String>,
) -> Result<(), String> {
    let mut rest = args.iter();
    while let Some(flag) = rest.next() {
        let (name, inline_value) = match flag.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name, Some(value.to_owned())),
            _ => (flag.as_str(), None),
        };
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| rest.next().cloned())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        handle(name, &mut value)?;
    }
    Ok(())
}

/// A whole number, `_` allowed between digits (`--seed`, `--events`).
pub fn parse_number(name: &str, text: &str) -> Result<u64, String> {
    text.replace('_', "")
        .parse()
        .map_err(|_| format!("{name}: {text:?} is not a non-negative whole number"))
}

/// RFC 3339 date-time, or milliseconds since the Unix epoch (`--start`).
pub fn parse_start(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|e| format!("--start: {text:?} is neither RFC 3339 nor Unix milliseconds ({e})"))
}

/// `90s`, `30m`, `24h`, `7d`, or plain milliseconds (`--span`).
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let (digits, unit_ms) = match text.chars().last() {
        Some('s') if !text.ends_with("ms") => (&text[..text.len() - 1], 1_000),
        Some('m') => (&text[..text.len() - 1], 60_000),
        Some('h') => (&text[..text.len() - 1], 3_600_000),
        Some('d') => (&text[..text.len() - 1], 86_400_000),
        _ => (text.strip_suffix("ms").unwrap_or(text), 1),
    };
    let number: i64 = digits
        .parse()
        .map_err(|_| format!("--span: {text:?} is not a duration such as 30m, 24h or 7d"))?;
    number
        .checked_mul(unit_ms)
        .ok_or_else(|| format!("--span: {text} is too long"))
}

/// Creates the file at `path`; the error names it.
pub fn create(path: &str) -> io::Result<File> {
    File::create(path).map_err(|e| io::Error::new(e.kind(), format!("cannot create {path}: {e}")))
}

/// What `write` returns, having written to the file at `out` (synced) or to stdout
/// (flushed).
pub fn write_out<T>(
    out: Option<&str>,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    match out {
        Some(path) => {
            let mut file = create(path)?;
            let done = write(&mut file)?;
            file.sync_all()?;
            Ok(done)
        }
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            let done = write(&mut lock)?;
            lock.flush()?;
            Ok(done)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_and_spans() {
        assert_eq!(parse_start("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_start("2025-03-03T00:00:00Z"), Ok(1_740_960_000_000));
        assert!(parse_start("yesterday").is_err());
        assert_eq!(parse_duration_ms("90s"), Ok(90_000));
        assert_eq!(parse_duration_ms("30m"), Ok(1_800_000));
        assert_eq!(parse_duration_ms("7d"), Ok(604_800_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("1500"), Ok(1500));
        assert!(parse_duration_ms("soon").is_err());
        assert!(parse_duration_ms("99999999999999999d").is_err());
    }
}
