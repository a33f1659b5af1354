//! Times and durations as the reports write them (UTC).

/// `2025-03-04 22:14:26 UTC`.
pub(super) fn utc(ms: i64) -> String {
    let iso = modelward_event::format_timestamp(ms);
    match (iso.get(..10), iso.get(11..19)) {
        (Some(date), Some(time)) if iso.ends_with('Z') => format!("{date} {time} UTC"),
        _ => iso,
    }
}

/// `2025-03-04 22:14` (for tables whose header says UTC).
pub(super) fn utc_minutes(ms: i64) -> String {
    let iso = modelward_event::format_timestamp(ms);
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(time)) if iso.ends_with('Z') => format!("{date} {time}"),
        _ => iso,
    }
}

/// The parts of a time an axis label uses: (`YYYY-MM-DD`, `HH:MM`).
pub(super) fn date_and_clock(ms: i64) -> (String, String) {
    let iso = modelward_event::format_timestamp(ms);
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(clock)) if iso.ends_with('Z') => (date.to_string(), clock.to_string()),
        _ => (iso, String::new()),
    }
}

/// A duration in its two largest units: `45s`, `12m`, `6h 28m`, `2d 3h`.
pub(super) fn duration(ms: i64) -> String {
    let s = ms.unsigned_abs() / 1000;
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if d > 0 {
        if h > 0 {
            format!("{d}d {h}h")
        } else {
            format!("{d}d")
        }
    } else if h > 0 {
        if m > 0 {
            format!("{h}h {m:02}m")
        } else {
            format!("{h}h")
        }
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{sec}s")
    }
}

/// A bucket width: `1h`, `5m`, `1d`, `250ms`.
pub(super) fn width(ms: i64) -> String {
    if ms > 0 && ms < 1000 {
        format!("{ms}ms")
    } else if ms % 86_400_000 == 0 && ms > 0 {
        format!("{}d", ms / 86_400_000)
    } else if ms % 3_600_000 == 0 && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms % 60_000 == 0 && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// An integer with thousands separators: `12,345`.
pub(super) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        // (`is_multiple_of` is newer than the workspace's minimum Rust.)
        if i > 0 && matches!((digits.len() - i) % 3, 0) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A byte count: `512 B`, `14.2 KB`, `3.1 GB` (powers of 1000).
pub(super) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["KB", "MB", "GB", "TB", "PB", "EB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut unit = "KB";
    for u in UNITS {
        unit = u;
        if v < 1000.0 {
            break;
        }
        v /= 1000.0;
    }
    let tenths = (v * 10.0).round();
    if v < 10.0 && tenths % 10.0 != 0.0 {
        format!("{:.1} {unit}", tenths / 10.0)
    } else {
        format!("{v:.0} {unit}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: i64 = 1_741_126_466_121; // 2025-03-04T22:14:26.121Z

    #[test]
    fn formats() {
        assert_eq!(utc(T), "2025-03-04 22:14:26 UTC");
        assert_eq!(utc_minutes(T), "2025-03-04 22:14");
        assert_eq!(
            date_and_clock(T),
            ("2025-03-04".to_string(), "22:14".to_string())
        );
        assert_eq!(duration(23_280_000), "6h 28m");
        assert_eq!(duration(-45_000), "45s");
        assert_eq!(duration(2 * 86_400_000 + 3 * 3_600_000), "2d 3h");
        assert_eq!(width(3_600_000), "1h");
        assert_eq!(width(300_000), "5m");
        assert_eq!(width(0), "0s");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(bytes(14_200), "14 KB");
        assert_eq!(bytes(3_100_000_000), "3.1 GB");
        assert_eq!(bytes(u64::MAX), "18 EB");
        assert_eq!(bytes(5_000), "5 KB");
        assert_eq!(bytes(2_100), "2.1 KB");
    }

    #[test]
    fn out_of_range_times_do_not_panic() {
        assert!(!utc(i64::MAX).is_empty());
        assert!(!utc_minutes(i64::MIN).is_empty());
    }
}
