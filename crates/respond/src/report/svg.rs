//! The principals' call volume as an SVG chart: bars per time bucket, one per principal (the
//! five busiest) side by side,
//! UTC time on the x axis, the alert window shaded; storage bytes read, when there are any,
//! as a second, smaller panel on the same time axis.
//!
//! Every coordinate is finite whatever the data: no bucket, one bucket, one huge spike, a
//! zero bucket width, times far apart (buckets are merged to at most [`MAX_POINTS`]).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::volume::VolumeSeries;

use super::escape;
use super::time;

/// Line colours, in rank order (the first is the busiest principal's).
pub(crate) const PALETTE: [&str; 8] = [
    "#2563eb", "#dc2626", "#059669", "#9333ea", "#d97706", "#0891b2", "#db2777", "#4b5563",
];
/// At most this many principals get a line in each panel.
const MAX_LINES: usize = 5;
/// At most this many bars per principal: finer buckets are merged.
const MAX_POINTS: i128 = 120;
const WIDTH: f64 = 960.0;
const LEFT: f64 = 76.0;
const RIGHT: f64 = 24.0;
const PLOT_W: f64 = WIDTH - LEFT - RIGHT;
const CALLS_H: f64 = 220.0;
const BYTES_H: f64 = 100.0;
const HIGHLIGHT: &str = "#f59e0b";

/// The chart of `series`; `highlight` (the first and last alert time, ms) is shaded.
pub fn volume_svg(series: &VolumeSeries, highlight: Option<(i64, i64)>) -> String {
    let Some(axis) = Axis::new(series, highlight) else {
        return empty();
    };
    let calls = Ranked::of(&series.series);
    let bytes = Ranked::of(&series.bytes);
    let colours = colours(&calls, &bytes);
    let width = time::width(i64::try_from(axis.step).unwrap_or(i64::MAX));

    let mut body = String::new();
    let mut y = 26.0;
    let title = format!("Calls per principal per {width} (UTC)");
    let _ = write!(
        body,
        r##"<text x="{}" y="{}" font-size="15" font-weight="600" fill="#111827">{}</text>"##,
        num(LEFT),
        num(y),
        escape::html(&title)
    );
    y += 22.0;
    panel(
        &mut body,
        &axis,
        &calls,
        &colours,
        y,
        CALLS_H,
        highlight,
        Unit::Calls,
    );
    y += CALLS_H;
    x_labels(&mut body, &axis, y);
    y += 44.0;
    if !bytes.shown.is_empty() {
        let _ = write!(
            body,
            r##"<text x="{}" y="{}" font-size="13" font-weight="600" fill="#111827">Bytes read from object storage per {}</text>"##,
            num(LEFT),
            num(y),
            escape::html(&width)
        );
        y += 14.0;
        panel(
            &mut body,
            &axis,
            &bytes,
            &colours,
            y,
            BYTES_H,
            highlight,
            Unit::Bytes,
        );
        y += BYTES_H;
        x_labels(&mut body, &axis, y);
        y += 44.0;
    }
    y = legend(&mut body, &colours, &calls, &bytes, y);
    let height = y + 8.0;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif" font-size="12"><title>{t}</title><rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>{body}</svg>"##,
        w = num(WIDTH),
        h = num(height),
        t = escape::html(&title),
    )
}

fn empty() -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} 72" width="{w}" height="72" role="img" aria-label="Call volume" font-family="system-ui, sans-serif" font-size="13"><title>Call volume</title><rect x="0" y="0" width="{w}" height="72" fill="#ffffff"/><text x="{c}" y="40" text-anchor="middle" fill="#6b7280">No call volume recorded for this incident</text></svg>"##,
        w = num(WIDTH),
        c = num(WIDTH / 2.0)
    )
}

/// A coordinate: one decimal, and never NaN or infinite.
fn num(v: f64) -> String {
    if v.is_finite() {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    } else {
        "0".to_string()
    }
}

/// The time axis: `n` display buckets of `step` ms from `t0`.
struct Axis {
    t0: i128,
    step: i128,
    n: usize,
}

impl Axis {
    fn new(series: &VolumeSeries, highlight: Option<(i64, i64)>) -> Option<Axis> {
        let bucket = i128::from(series.bucket_ms.max(1));
        let times = series
            .series
            .values()
            .chain(series.bytes.values())
            .flat_map(|m| m.keys().copied());
        let (mut lo, mut hi) = times.fold(None, |acc: Option<(i64, i64)>, t| match acc {
            None => Some((t, t)),
            Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
        })?;
        if let Some((a, b)) = highlight {
            lo = lo.min(a.min(b));
            hi = hi.max(a.max(b));
        }
        let floor = |t: i64| i128::from(t) - i128::from(t).rem_euclid(bucket);
        let t0 = floor(lo);
        let end = floor(hi) + bucket;
        let buckets = (end - t0 + bucket - 1) / bucket;
        let factor = ((buckets + MAX_POINTS - 1) / MAX_POINTS).max(1);
        let step = bucket * factor;
        let n = usize::try_from((end - t0 + step - 1) / step)
            .unwrap_or(1)
            .max(1);
        Some(Axis { t0, step, n })
    }

    fn span(&self) -> f64 {
        (self.step * self.n as i128) as f64
    }

    /// The x of a time, clamped to the plot.
    fn x(&self, t: i128) -> f64 {
        let f = (t - self.t0) as f64 / self.span();
        LEFT + f.clamp(0.0, 1.0) * PLOT_W
    }

    /// The display buckets' values of one principal.
    fn values(&self, points: &BTreeMap<i64, u64>) -> Vec<u64> {
        let mut out = vec![0u64; self.n];
        for (t, v) in points {
            let i = (i128::from(*t) - self.t0).div_euclid(self.step).max(0);
            let i = usize::try_from(i).unwrap_or(usize::MAX).min(self.n - 1);
            if let Some(slot) = out.get_mut(i) {
                *slot = slot.saturating_add(*v);
            }
        }
        out
    }

    /// The start of display bucket `i`, ms (for labels).
    fn start(&self, i: usize) -> i64 {
        i64::try_from(self.t0 + self.step * i as i128).unwrap_or(i64::MAX)
    }
}

/// The principals of one panel by total, busiest first: the shown ones and the rest.
struct Ranked<'a> {
    shown: Vec<(&'a str, &'a BTreeMap<i64, u64>, u64)>,
    hidden: usize,
    hidden_total: u64,
}

impl<'a> Ranked<'a> {
    fn of(series: &'a BTreeMap<String, BTreeMap<i64, u64>>) -> Ranked<'a> {
        let mut all: Vec<(&str, &BTreeMap<i64, u64>, u64)> = series
            .iter()
            .filter(|(_, points)| !points.is_empty())
            .map(|(name, points)| {
                let total = points.values().fold(0u64, |a, b| a.saturating_add(*b));
                (name.as_str(), points, total)
            })
            .collect();
        all.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        let rest = all.split_off(all.len().min(MAX_LINES));
        Ranked {
            shown: all,
            hidden: rest.len(),
            hidden_total: rest.iter().fold(0u64, |a, r| a.saturating_add(r.2)),
        }
    }

    fn total(&self, name: &str) -> Option<u64> {
        self.shown.iter().find(|s| s.0 == name).map(|s| s.2)
    }
}

/// One colour per principal shown in either panel: the calls' ranking first.
fn colours<'a>(calls: &Ranked<'a>, bytes: &Ranked<'a>) -> Vec<(&'a str, &'static str)> {
    let mut out: Vec<(&str, &str)> = Vec::new();
    for (name, _, _) in calls.shown.iter().chain(bytes.shown.iter()) {
        if !out.iter().any(|(n, _)| n == name) {
            let colour = PALETTE
                .get(out.len() % PALETTE.len())
                .copied()
                .unwrap_or("#000000");
            out.push((*name, colour));
        }
    }
    out
}

fn colour_of(colours: &[(&str, &'static str)], name: &str) -> &'static str {
    colours
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("#000000", |(_, c)| c)
}

#[derive(Clone, Copy)]
enum Unit {
    Calls,
    Bytes,
}

impl Unit {
    fn label(self, v: u64) -> String {
        match self {
            Unit::Calls if v >= 1_000_000 => format!("{:.1}M", v as f64 / 1e6),
            Unit::Calls => time::count(v),
            Unit::Bytes => time::bytes(v),
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Unit::Calls => "calls",
            Unit::Bytes => "read",
        }
    }
}

/// A tick step of 1, 2 or 5 × 10^k giving about four ticks up to `max`, and the top.
fn y_scale(max: u64) -> (u64, u64) {
    let max = max.max(1);
    let raw = max as f64 / 4.0;
    let exp = 10f64.powf(raw.log10().floor());
    let f = if exp > 0.0 { raw / exp } else { 1.0 };
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    let step = (nice * exp).max(1.0);
    let step = if step.is_finite() && step < u64::MAX as f64 {
        step as u64
    } else {
        max
    };
    let step = step.max(1);
    let top = max.div_ceil(step).saturating_mul(step).max(step);
    (step, top)
}

#[allow(clippy::too_many_arguments)]
fn panel(
    out: &mut String,
    axis: &Axis,
    ranked: &Ranked,
    colours: &[(&str, &'static str)],
    top: f64,
    height: f64,
    highlight: Option<(i64, i64)>,
    unit: Unit,
) {
    let bottom = top + height;
    let lines: Vec<(&str, Vec<u64>)> = ranked
        .shown
        .iter()
        .map(|(name, points, _)| (*name, axis.values(points)))
        .collect();
    let max = lines
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(0);
    let (step, top_value) = y_scale(max);
    let y_of = |v: u64| bottom - (v as f64 / top_value as f64) * height;

    // The plot area and the alert window under everything else.
    let _ = write!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f9fafb" stroke="#e5e7eb"/>"##,
        num(LEFT),
        num(top),
        num(PLOT_W),
        num(height)
    );
    if let Some((a, b)) = highlight {
        let x1 = axis.x(i128::from(a.min(b)));
        let x2 = axis.x(i128::from(a.max(b)));
        let w = (x2 - x1).max(3.0);
        let x1 = x1.min(LEFT + PLOT_W - w);
        let _ = write!(
            out,
            r##"<rect class="alert-window" x="{}" y="{}" width="{}" height="{}" fill="{HIGHLIGHT}" fill-opacity="0.18" stroke="{HIGHLIGHT}" stroke-opacity="0.6"><title>alert window</title></rect>"##,
            num(x1),
            num(top),
            num(w),
            num(height)
        );
        if matches!(unit, Unit::Calls) {
            let (anchor, x) = if x1 > LEFT + PLOT_W * 0.8 {
                ("end", x1 + w - 4.0)
            } else {
                ("start", x1 + 4.0)
            };
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" font-size="11" fill="#92400e" text-anchor="{anchor}">alert window</text>"##,
                num(x),
                num(top + 13.0)
            );
        }
    }

    // Y grid and labels.
    let mut v = 0u64;
    loop {
        let y = y_of(v);
        let _ = write!(
            out,
            r##"<line x1="{l}" y1="{y}" x2="{r}" y2="{y}" stroke="#e5e7eb"/><text x="{tx}" y="{ty}" text-anchor="end" fill="#4b5563">{label}</text>"##,
            l = num(LEFT),
            r = num(LEFT + PLOT_W),
            y = num(y),
            tx = num(LEFT - 8.0),
            ty = num(y + 4.0),
            label = escape::html(&unit.label(v)),
        );
        match v.checked_add(step) {
            Some(next) if next <= top_value => v = next,
            _ => break,
        }
    }

    // The bars: per display bucket, one bar per principal side by side, in rank order.
    let slot = PLOT_W / axis.n as f64;
    let group = slot * 0.8;
    let bar = group / lines.len().max(1) as f64;
    for (k, (name, values)) in lines.iter().enumerate() {
        let colour = colour_of(colours, name);
        for (i, value) in values.iter().enumerate().filter(|(_, v)| **v > 0) {
            let x = LEFT + i as f64 * slot + (slot - group) / 2.0 + k as f64 * bar;
            let y = y_of(*value);
            // A bucket with calls is at least a pixel high.
            let h = (bottom - y).max(1.0);
            let (date, clock) = time::date_and_clock(axis.start(i));
            let _ = write!(
                out,
                r##"<rect class="bar" x="{}" y="{}" width="{}" height="{}" fill="{colour}"><title>{}: {} {} at {date} {clock} UTC</title></rect>"##,
                num(x),
                num(bottom - h),
                num(bar.max(0.5)),
                num(h),
                escape::html(name),
                escape::html(&unit.label(*value)),
                unit.noun(),
            );
        }
    }
    let _ = write!(
        out,
        r##"<line x1="{}" y1="{b}" x2="{}" y2="{b}" stroke="#6b7280"/>"##,
        num(LEFT),
        num(LEFT + PLOT_W),
        b = num(bottom)
    );
}

/// Tick steps for the time axis, ms.
const TICKS: [i128; 19] = [
    1_000,
    5_000,
    15_000,
    60_000,
    300_000,
    900_000,
    1_800_000,
    3_600_000,
    7_200_000,
    10_800_000,
    21_600_000,
    43_200_000,
    86_400_000,
    172_800_000,
    604_800_000,
    1_209_600_000,
    2_592_000_000,
    7_776_000_000,
    31_536_000_000,
];

/// Ticks and UTC labels under a panel whose bottom is at `y`.
fn x_labels(out: &mut String, axis: &Axis, y: f64) {
    let span = axis.step * axis.n as i128;
    let tick = TICKS
        .iter()
        .copied()
        .find(|t| span / t <= 8)
        .unwrap_or_else(|| (span / 8).max(1));
    let daily = tick >= 86_400_000;
    let long = span > 300 * 86_400_000;
    let mut t = axis.t0 + (tick - axis.t0.rem_euclid(tick)) % tick;
    let end = axis.t0 + span;
    let mut last_date = String::new();
    while t <= end {
        let x = axis.x(t);
        let ms = i64::try_from(t).unwrap_or(i64::MAX);
        let (date, clock) = time::date_and_clock(ms);
        let short_date = if long {
            date.clone()
        } else {
            date.get(5..).unwrap_or(&date).to_string()
        };
        let _ = write!(
            out,
            r##"<line x1="{x}" y1="{y}" x2="{x}" y2="{y2}" stroke="#6b7280"/>"##,
            x = num(x),
            y = num(y),
            y2 = num(y + 5.0)
        );
        let (first, second) = if daily {
            (short_date, String::new())
        } else if date != last_date {
            (clock, short_date)
        } else {
            (clock, String::new())
        };
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#374151">{}</text>"##,
            num(x),
            num(y + 18.0),
            escape::html(&first)
        );
        if !second.is_empty() {
            let _ = write!(
                out,
                r##"<text x="{}" y="{}" text-anchor="middle" fill="#6b7280" font-size="11">{}</text>"##,
                num(x),
                num(y + 32.0),
                escape::html(&second)
            );
        }
        last_date = date;
        t += tick;
    }
}

/// The legend (and a note on principals left out) from `y`; returns the y below it.
fn legend(
    out: &mut String,
    colours: &[(&str, &'static str)],
    calls: &Ranked,
    bytes: &Ranked,
    mut y: f64,
) -> f64 {
    let mut x = LEFT;
    let row = 20.0;
    for (name, colour) in colours {
        let shown_name: String = if name.chars().count() > 40 {
            name.chars().take(39).chain(['…']).collect()
        } else {
            name.to_string()
        };
        let mut label = shown_name;
        if let Some(total) = calls.total(name) {
            label.push_str(&format!(" ({} calls", time::count(total)));
            if let Some(b) = bytes.total(name) {
                label.push_str(&format!(", {} read", time::bytes(b)));
            }
            label.push(')');
        } else if let Some(b) = bytes.total(name) {
            label.push_str(&format!(" ({} read)", time::bytes(b)));
        }
        let w = 22.0 + label.chars().count() as f64 * 6.6 + 18.0;
        if x + w > WIDTH - RIGHT && x > LEFT {
            x = LEFT;
            y += row;
        }
        let _ = write!(
            out,
            r##"<rect class="legend-swatch" x="{}" y="{}" width="14" height="14" rx="2" fill="{colour}"/><text x="{}" y="{}" fill="#111827">{}</text>"##,
            num(x),
            num(y - 11.0),
            num(x + 20.0),
            num(y),
            escape::html(&label)
        );
        x += w;
    }
    let mut notes = Vec::new();
    if calls.hidden > 0 {
        notes.push(format!(
            "+{} more principal{} not shown ({} calls)",
            calls.hidden,
            if calls.hidden == 1 { "" } else { "s" },
            time::count(calls.hidden_total)
        ));
    }
    if bytes.hidden > 0 {
        notes.push(format!(
            "+{} more principal{} reading storage not shown ({})",
            bytes.hidden,
            if bytes.hidden == 1 { "" } else { "s" },
            time::bytes(bytes.hidden_total)
        ));
    }
    for note in notes {
        y += row;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" fill="#6b7280">{}</text>"##,
            num(LEFT),
            num(y),
            escape::html(&note)
        );
    }
    y
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const T0: i64 = 1_740_960_000_000; // 2025-03-03T00:00:00Z

    fn series(points: &[(&str, i64, u64)]) -> VolumeSeries {
        let mut s = VolumeSeries {
            bucket_ms: H,
            ..VolumeSeries::default()
        };
        for (who, t, n) in points {
            s.series.entry(who.to_string()).or_default().insert(*t, *n);
        }
        s
    }

    /// Every number in the chart is finite.
    fn assert_finite(svg: &str) {
        for token in svg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')) {
            let bare = token.trim_start_matches('-').to_ascii_lowercase();
            assert!(
                bare != "nan" && bare != "inf" && bare != "infinity",
                "{token} in {svg}"
            );
            if let Ok(v) = token.parse::<f64>() {
                assert!(v.is_finite(), "{token}");
            }
        }
    }

    #[test]
    fn no_bucket_is_a_note() {
        let svg = volume_svg(&VolumeSeries::default(), Some((T0, T0 + H)));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("No call volume recorded"));
        assert_finite(&svg);
    }

    #[test]
    fn one_bucket_is_a_bar() {
        let svg = volume_svg(&series(&[("key-1", T0, 12)]), None);
        assert_eq!(svg.matches(r#"<rect class="bar""#).count(), 1, "{svg}");
        assert!(svg.contains("key-1 (12 calls)"));
        assert!(svg.contains(">00:00<"));
        assert_finite(&svg);
    }

    #[test]
    fn one_huge_spike_and_a_zero_bucket_width() {
        let mut s = series(&[("a", T0, 1), ("a", T0 + 5 * H, u64::MAX), ("b", T0, 0)]);
        assert_finite(&volume_svg(&s, Some((T0 + 5 * H, T0 + 5 * H))));
        s.bucket_ms = 0;
        assert_finite(&volume_svg(&s, Some((T0, T0))));
        let far = series(&[("a", i64::MIN, 3), ("a", i64::MAX, 4)]);
        assert_finite(&volume_svg(&far, Some((i64::MIN, i64::MAX))));
    }

    #[test]
    fn many_buckets_are_merged_and_labelled_in_utc() {
        let points: Vec<(&str, i64, u64)> = (0..48)
            .map(|i| ("dev-7731@example.net", T0 + i * H, 40 + (i as u64 % 7)))
            .collect();
        let svg = volume_svg(&series(&points), Some((T0 + 45 * H, T0 + 46 * H)));
        assert!(svg.contains("Calls per principal per 1h (UTC)"));
        assert!(svg.contains(">03-03<") && svg.contains(">03-04<"));
        assert!(svg.contains("alert window"));
        assert_finite(&svg);

        let mut fine = series(&[]);
        fine.bucket_ms = 1000;
        for i in 0..10_000 {
            fine.series
                .entry("k".into())
                .or_default()
                .insert(T0 + i * 1000, 1);
        }
        let svg = volume_svg(&fine, None);
        let bars = svg.matches(r#"class="bar""#).count();
        assert!(bars <= 120, "{bars} bars");
        assert_finite(&svg);
    }

    #[test]
    fn top_five_principals_and_escaped_names() {
        let names = ["a", "b", "c", "d", "e", "f", "<script>x</script>"];
        let points: Vec<(&str, i64, u64)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, T0, 100 - i as u64))
            .collect();
        let mut s = series(&points);
        if let Some(m) = s.series.get_mut("<script>x</script>") {
            m.insert(T0, 1000);
        }
        let svg = volume_svg(&s, None);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;x&lt;/script&gt; (1,000 calls)"));
        assert!(
            svg.contains("+2 more principals not shown (191 calls)"),
            "{svg}"
        );
        assert_eq!(svg.matches(r#"class="bar""#).count(), 5);
        for c in &PALETTE[..5] {
            assert!(svg.contains(c));
        }
    }

    #[test]
    fn storage_bytes_get_their_own_panel() {
        let mut s = series(&[("a", T0, 5)]);
        s.bytes.entry("a".into()).or_default().insert(T0, 14_200);
        let svg = volume_svg(&s, None);
        assert!(svg.contains("Bytes read from object storage per 1h"));
        assert!(svg.contains("a (5 calls, 14 KB read)"));
        assert_eq!(svg.matches(r#"class="bar""#).count(), 2);
        assert_finite(&svg);
    }

    #[test]
    fn y_scales_are_nice() {
        assert_eq!(y_scale(0), (1, 1));
        assert_eq!(y_scale(7), (2, 8));
        assert_eq!(y_scale(2960), (1000, 3000));
        let (step, top) = y_scale(u64::MAX);
        assert!(step > 0 && top >= step);
    }
}
