//! Numbers, sizes and times as people read them in answers, IoCs and reports.

/// `1500` → `1,500`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .map(|g| std::str::from_utf8(g).unwrap_or_default())
        .collect();
    groups.reverse();
    groups.join(",")
}

/// Decimal units, as the alert messages write them (`20.98 GB`).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KB", "MB", "GB", "TB", "PB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
        unit = u;
    }
    format!("{v:.2} {unit}")
}

/// `2025-03-04T22:10Z – 22:40Z` (the date again when the range crosses midnight).
pub fn time_range(from: i64, to: i64) -> String {
    let minute = |ms: i64| {
        let s = modelward_event::format_timestamp(ms);
        match s.get(..16) {
            Some(m) if s.as_bytes().get(10) == Some(&b'T') => format!("{m}Z"),
            _ => s,
        }
    };
    let (a, b) = (minute(from), minute(to));
    if a == b {
        return a;
    }
    match (a.get(..11), b.get(11..)) {
        (Some(day_a), Some(time_b)) if b.starts_with(day_a) => format!("{a} \u{2013} {time_b}"),
        _ => format!("{a} \u{2013} {b}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        modelward_event::parse_timestamp(s).unwrap()
    }

    #[test]
    fn numbers_bytes_and_ranges_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1500), "1,500");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(20_981_295_608), "20.98 GB");
        assert_eq!(
            time_range(ms("2025-03-04T22:10:25Z"), ms("2025-03-04T22:40:59Z")),
            "2025-03-04T22:10Z – 22:40Z"
        );
        assert_eq!(
            time_range(ms("2025-03-04T23:50:00Z"), ms("2025-03-05T00:10:00Z")),
            "2025-03-04T23:50Z – 2025-03-05T00:10Z"
        );
        assert_eq!(
            time_range(ms("2025-03-04T22:10:25Z"), ms("2025-03-04T22:10:59Z")),
            "2025-03-04T22:10Z"
        );
    }
}
