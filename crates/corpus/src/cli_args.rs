//! Option values the generator binaries share (`--start`, `--span`).

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
