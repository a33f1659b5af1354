//! `hunt --report FILE.html`: one self-contained page (no script, no external resource)
//! summing up a hunt: the counts by severity and what was left out, a timeline of the
//! alerts by severity, the top rules and entities, and a table per rule of the entities it
//! alerted on. Every value from the alerts is escaped for HTML (after the terminal escaping
//! the digest already did).

use std::fmt::Write as _;

use modelward_respond::report::escape_html as esc;
use modelward_rule::Severity;

use super::triage::{short_time, Digest, Group, LeftOut, SEVERITIES, SUPPRESSED_MEANS};

/// Rows of the top-rules and top-entities tables.
const TOP: usize = 10;
/// Rows per rule table; the rest are counted.
const MAX_ROWS: usize = 500;
/// Most bars in the timeline: the bucket is the smallest of [`BUCKETS`] that keeps within.
const MAX_BARS: i64 = 60;
const BUCKETS: [(i64, &str); 9] = [
    (60_000, "1 minute"),
    (5 * 60_000, "5 minutes"),
    (15 * 60_000, "15 minutes"),
    (3_600_000, "1 hour"),
    (6 * 3_600_000, "6 hours"),
    (86_400_000, "1 day"),
    (7 * 86_400_000, "1 week"),
    (30 * 86_400_000, "30 days"),
    (365 * 86_400_000, "365 days"),
];

const CSS: &str = "
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --soft: #f9fafb; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: var(--fg);
  font: 14px/1.5 system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 20px 0 8px; }
.muted, .note { color: var(--muted); }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; background: var(--soft); }
.card .n { font-size: 26px; font-weight: 700; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
  overflow-wrap: anywhere; }
th { font-size: 12px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code, .id { font-family: ui-monospace, \"DejaVu Sans Mono\", monospace; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge.critical { background: #7f1d1d; color: #fff; }
.badge.high { background: #dc2626; color: #fff; }
.badge.medium { background: #fbbf24; color: #422006; }
.badge.low { background: #dbeafe; color: #1e3a8a; }
dl.left dt { font-weight: 600; margin-top: 8px; }
dl.left dd { margin: 0 0 0 16px; }
svg { max-width: 100%; height: auto; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
@media print { body { background: #fff; } main { padding: 0; } }
";

fn colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "#7f1d1d",
        Severity::High => "#dc2626",
        Severity::Medium => "#f59e0b",
        Severity::Low => "#60a5fa",
    }
}

fn badge(s: Severity) -> String {
    format!("<span class=\"badge {0}\">{0}</span>", s.as_str())
}

/// The page for a hunt's `digest`, written at `generated_at` (ms).
pub fn html(d: &Digest, left: &LeftOut, generated_at: i64) -> String {
    let mut o = String::new();
    let range = d
        .range()
        .map(|(a, b)| format!("{} – {} UTC", short_time(a), short_time(b)))
        .unwrap_or_else(|| "no alerts".into());
    let _ = writeln!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>modelward hunt: {} alerts</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n\
         <h1>Hunt summary</h1>\n<p class=\"muted\">{} alerts · {} · generated {} UTC</p>",
        d.total,
        d.total,
        esc(&range),
        short_time(generated_at)
    );

    o.push_str("<section id=\"summary\">\n<div class=\"cards\">\n");
    for s in SEVERITIES {
        let _ = writeln!(
            o,
            "<div class=\"card\"><div class=\"k\">{}</div><div class=\"n\" style=\"color:{}\">{}</div></div>",
            s.as_str(),
            colour(s),
            d.by_severity(s)
        );
    }
    let (excepted, names) = left.excepted(esc);
    let _ = writeln!(
        o,
        "</div>\n<dl class=\"left\">\n<dt>Suppressed: {}</dt><dd>{}.</dd>\n\
         <dt>Excepted: {excepted}</dt><dd>Alerts left out by exceptions{names}.</dd>",
        left.suppressed,
        esc(&capitalised(SUPPRESSED_MEANS)),
    );
    if !left.filters.is_empty() {
        let _ = writeln!(
            o,
            "<dt>Filtered: {}</dt><dd>Alerts left out by {}.</dd>",
            left.filtered,
            esc(&left.filters)
        );
    }
    o.push_str("</dl>\n</section>\n");

    o.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n");
    o.push_str(&timeline(d));
    o.push_str("</section>\n");

    o.push_str("<section id=\"top-rules\">\n<h2>Top rules</h2>\n");
    let rules = d.by_rule();
    o.push_str("<table>\n<tr><th>Rule</th><th>Name</th><th>Alerts</th></tr>\n");
    for (i, (id, name, n)) in rules.iter().take(TOP).enumerate() {
        let _ = writeln!(
            o,
            "<tr><td class=\"id\"><a href=\"#rule-{i}\">{}</a></td><td>{}</td><td class=\"n\">{n}</td></tr>",
            esc(id),
            esc(name)
        );
    }
    o.push_str("</table>\n");
    more(&mut o, rules.len(), TOP, "rules");
    o.push_str("</section>\n<section id=\"top-entities\">\n<h2>Top entities</h2>\n");
    let entities = d.by_entity();
    o.push_str("<table>\n<tr><th>Entity</th><th>Alerts</th></tr>\n");
    for (e, n) in entities.iter().take(TOP) {
        let _ = writeln!(o, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", esc(e));
    }
    o.push_str("</table>\n");
    more(&mut o, entities.len(), TOP, "entities");
    o.push_str("</section>\n<section id=\"rules\">\n<h2>Alerts by rule</h2>\n");
    let sorted = d.sorted();
    for (i, (id, name, n)) in rules.iter().enumerate() {
        let groups: Vec<&&Group> = sorted.iter().filter(|g| &g.rule_id == id).collect();
        let severity = groups
            .iter()
            .map(|g| g.severity)
            .max()
            .unwrap_or(Severity::Low);
        let _ = writeln!(
            o,
            "<h3 id=\"rule-{i}\"><span class=\"id\">{}</span> {} {} <span class=\"muted\">({n} alerts)</span></h3>\n\
             <table>\n<tr><th>Severity</th><th>Entity</th><th>Alerts</th><th>First</th><th>Last</th><th>Reason</th></tr>",
            esc(id),
            esc(name),
            badge(severity)
        );
        for g in groups.iter().take(MAX_ROWS) {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
                badge(g.severity),
                esc(&g.entity),
                g.count,
                short_time(g.first),
                short_time(g.last),
                esc(&g.reason)
            );
        }
        o.push_str("</table>\n");
        more(&mut o, groups.len(), MAX_ROWS, "entities");
    }
    o.push_str(
        "</section>\n<footer>Times are UTC (event time). Generated by modelward.</footer>\n</main>\n</body>\n</html>\n",
    );
    o
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn more(o: &mut String, len: usize, shown: usize, what: &str) {
    if len > shown {
        let _ = writeln!(
            o,
            "<p class=\"note\">… and {} more {what}.</p>",
            len - shown
        );
    }
}

/// Stacked bars of the alerts per time bucket, by severity.
fn timeline(d: &Digest) -> String {
    let Some((first, last)) = d.range() else {
        return "<p class=\"note\">No alerts.</p>\n".into();
    };
    let span = last - first;
    let (step, label) = BUCKETS
        .iter()
        .copied()
        .find(|(step, _)| span / step < MAX_BARS)
        .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
    let start = first - first.rem_euclid(step);
    let bars = usize::try_from((last - start) / step + 1).unwrap_or(1);
    let mut counts = vec![[0u64; 4]; bars];
    for (t, s) in &d.times {
        let i = usize::try_from((t - start) / step)
            .unwrap_or(0)
            .min(bars - 1);
        let k = SEVERITIES.iter().position(|x| x == s).unwrap_or(3);
        counts[i][k] += 1;
    }
    let peak = counts
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(1)
        .max(1);
    let (w, h, left, bottom, top) = (960.0, 240.0, 56.0, 36.0, 12.0);
    let plot_w = w - left - 16.0;
    let plot_h = h - bottom - top;
    let bar_w = plot_w / bars as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"Alerts per {label}\">\n"
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" y1=\"{y}\" x2=\"{x2}\" y2=\"{y}\" stroke=\"#9ca3af\"/>",
        y = top + plot_h,
        x2 = left + plot_w
    );
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#6b7280\">{peak}</text>",
        left - 6.0,
        top + 10.0
    );
    for (i, c) in counts.iter().enumerate() {
        let x = left + i as f64 * bar_w;
        let mut y = top + plot_h;
        // Least urgent at the bottom.
        for k in (0..4).rev() {
            if c[k] == 0 {
                continue;
            }
            let bh = plot_h * c[k] as f64 / peak as f64;
            y -= bh;
            let _ = writeln!(
                svg,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {}: {}</title></rect>",
                (bar_w - 1.0).max(1.0),
                colour(SEVERITIES[k]),
                short_time(start + i as i64 * step),
                SEVERITIES[k].as_str(),
                c[k]
            );
        }
    }
    for (i, t) in [(0, start), (bars, start + bars as i64 * step)] {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"12\" text-anchor=\"{}\" fill=\"#6b7280\">{}</text>",
            left + i as f64 * bar_w,
            h - 12.0,
            if i == 0 { "start" } else { "end" },
            short_time(t)
        );
    }
    svg.push_str("</svg>\n");
    let legend: Vec<String> = SEVERITIES
        .iter()
        .map(|s| {
            format!(
                "<span style=\"color:{}\">■</span> {}",
                colour(*s),
                s.as_str()
            )
        })
        .collect();
    format!(
        "{svg}<p class=\"note\">Alerts per {label} (UTC), by severity: {}.</p>\n",
        legend.join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::triage::tests::{digest, T0};

    fn page() -> String {
        let left = LeftOut {
            suppressed: 7,
            excepted: vec![("ci <runners>".into(), 2)],
            filtered: 1,
            filters: "--min-severity low".into(),
        };
        html(&digest(), &left, T0 + 3_600_000)
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let html = page();
        assert!(html.starts_with("<!DOCTYPE html>"));
        for banned in ["<script", "<link", "src=", "@import", "url(", "<iframe"] {
            assert!(!html.contains(banned), "{banned}");
        }
        assert_eq!(
            html.matches("://").count(),
            html.matches("http://www.w3.org/2000/svg").count()
        );
        assert!(html.contains("eve\\u{1b}[2J&lt;script&gt;"));
        assert!(html.contains("ci &lt;runners&gt; 2"));
        for section in [
            "id=\"summary\"",
            "id=\"timeline\"",
            "<svg",
            "id=\"top-rules\"",
            "id=\"top-entities\"",
            "id=\"rule-0\"",
            "<footer>",
        ] {
            assert!(html.contains(section), "{section}");
        }
        // Every element is closed.
        for tag in [
            "div", "dl", "dt", "dd", "tr", "td", "th", "table", "section", "p", "h3", "span",
            "svg", "rect", "title",
        ] {
            let open = html.matches(&format!("<{tag}>")).count()
                + html.matches(&format!("<{tag} ")).count();
            assert_eq!(open, html.matches(&format!("</{tag}>")).count(), "<{tag}>");
        }
        // The burst: 4 alerts in one row of its rule's table.
        assert!(html.contains("mallory@example.com</td><td class=\"n\">4</td>"));
        // 45 minutes of alerts: one-minute bars, each severity drawn.
        assert!(html.contains("aria-label=\"Alerts per 1 minute\""));
        for s in ["#7f1d1d", "#dc2626", "#f59e0b"] {
            assert!(html.contains(&format!("fill=\"{s}\"")), "{s}");
        }
    }
}
