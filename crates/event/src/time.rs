//! Timestamps: parsing the forms logs use, formatting as Elasticsearch does.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};

/// Parses a timestamp into milliseconds since the Unix epoch (UTC).
///
/// Accepts RFC 3339 / ISO 8601 with any fraction and offset (`2024-05-01T12:00:00.1234567Z`,
/// `2024-05-01T12:00:00+02:00`), the same without an offset or with a space instead of `T`
/// (taken as UTC), and a bare date. Fractions below a millisecond are truncated, as
/// Elasticsearch's `date` type does.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    // Azure writes a 7-digit fraction and sometimes a lowercase `z`/space separator.
    let normalized: String;
    let text = if text.contains(' ') || text.ends_with('z') {
        normalized = text.replacen(' ', "T", 1).replace('z', "Z");
        if let Ok(dt) = DateTime::parse_from_rfc3339(&normalized) {
            return Some(dt.timestamp_millis());
        }
        normalized.as_str()
    } else {
        text
    };
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, format) {
            return Some(naive.and_utc().timestamp_millis());
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc().timestamp_millis())
}

/// Formats epoch milliseconds as Elasticsearch renders a `date`: `2024-05-01T12:00:00.000Z`.
pub fn format_timestamp(millis: i64) -> String {
    match DateTime::<Utc>::from_timestamp_millis(millis) {
        Some(dt) => dt.to_rfc3339_opts(SecondsFormat::Millis, true),
        None => millis.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        let base = 1_714_564_800_000; // 2024-05-01T12:00:00Z
        assert_eq!(parse_timestamp("2024-05-01T12:00:00Z"), Some(base));
        assert_eq!(
            parse_timestamp("2024-05-01T12:00:00.1234567Z"),
            Some(base + 123)
        );
        assert_eq!(parse_timestamp("2024-05-01T14:00:00+02:00"), Some(base));
        assert_eq!(parse_timestamp("2024-05-01 12:00:00"), Some(base));
        assert_eq!(parse_timestamp("2024-05-01T12:00:00.5"), Some(base + 500));
        assert_eq!(parse_timestamp("2024-05-01"), Some(base - 12 * 3_600_000));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp(""), None);
    }

    #[test]
    fn formats_with_millis() {
        assert_eq!(
            format_timestamp(1_714_564_800_123),
            "2024-05-01T12:00:00.123Z"
        );
    }
}
