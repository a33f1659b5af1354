//! Alert output for people: a table of the alerts grouped by rule and entity, sized to the
//! terminal and coloured by severity on one. NDJSON and JSON arrays for machines are the
//! engine's sinks.

use std::io::{IsTerminal, Write};

use modelward_engine::{AlertSink, SinkError};
use modelward_rule::{Alert, Severity};

pub use modelward_event::terminal::printable;

use crate::hunt::triage::{short_time, Digest, Group};

/// How the table is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStyle {
    /// The line width to fit the reason into; `None`: nothing is cut.
    pub width: Option<usize>,
    /// ANSI colours (severity, header).
    pub colour: bool,
}

impl TableStyle {
    /// For standard output (`stdout`) on a terminal: its width (or `COLUMNS`) and colour
    /// unless `NO_COLOR` is set to something; for a file or a pipe: plain text, nothing cut
    /// (unless `COLUMNS` gives a width).
    pub fn detect(stdout: bool) -> TableStyle {
        let terminal = stdout && std::io::stdout().is_terminal();
        let columns = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.trim().parse::<usize>().ok())
            .filter(|c| *c > 0);
        let width = columns.or_else(|| {
            terminal
                .then(|| console::Term::stdout().size_checked())
                .flatten()
                .map(|(_, cols)| usize::from(cols))
        });
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        TableStyle {
            width,
            colour: terminal && !no_color,
        }
    }
}

/// The alerts as a table, one row per rule and entity: severity, rule id, entity, how many
/// alerts and the last one's time, and a one-line reason. Rows are written when the sink is
/// flushed or finished (`hunt`: at the end of the run), most urgent first; the rule id,
/// severity, entity and count are never cut, the reason is cut to the width (or goes on a
/// line of its own when the row leaves it less than 20 columns).
pub struct TableSink<W: Write> {
    out: W,
    style: TableStyle,
    pending: Digest,
    header: bool,
    alerts: u64,
    rows: u64,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W, style: TableStyle) -> Self {
        TableSink {
            out,
            style,
            pending: Digest::default(),
            header: false,
            alerts: 0,
            rows: 0,
        }
    }

    fn write_pending(&mut self) -> Result<(), SinkError> {
        let digest = std::mem::take(&mut self.pending);
        let groups = digest.sorted();
        if groups.is_empty() {
            return Ok(());
        }
        let text = render(&groups, &self.style, !self.header);
        self.header = true;
        self.alerts += digest.total;
        self.rows += groups.len() as u64;
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }
}

impl<W: Write> AlertSink for TableSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.pending.add(alert);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.write_pending()?;
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.write_pending()?;
        if self.alerts > self.rows {
            writeln!(
                self.out,
                "{} alerts in {} rows: repeated alerts of one rule about one entity are one row (COUNT, LAST SEEN)",
                self.alerts, self.rows
            )?;
        }
        self.out.flush()?;
        Ok(())
    }
}

const HEADERS: [&str; 6] = [
    "SEVERITY",
    "RULE",
    "ENTITY",
    "COUNT",
    "LAST SEEN (UTC)",
    "REASON",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Row,
    ReasonBelow,
    Stacked,
}

/// Narrowest reason kept on the row; a narrower one goes on a line of its own.
const MIN_REASON: usize = 20;

fn width_of(s: &str) -> usize {
    s.chars().count()
}

fn truncate(s: &str, n: usize) -> String {
    if width_of(s) <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn pad(s: &str, n: usize) -> String {
    format!("{s}{}", " ".repeat(n.saturating_sub(width_of(s))))
}

fn paint(s: &str, code: &str, style: &TableStyle) -> String {
    if style.colour {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn severity_colour(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Medium => "33",
        Severity::Low => "36",
    }
}

/// The rows (already escaped for the terminal by the digest), with the header when `header`.
pub fn render(groups: &[&Group], style: &TableStyle, header: bool) -> String {
    let counts: Vec<String> = groups.iter().map(|g| g.count.to_string()).collect();
    let col = |i: usize, cells: &mut dyn Iterator<Item = usize>| {
        cells.chain([width_of(HEADERS[i])]).max().unwrap_or(0)
    };
    let widths = [
        col(0, &mut groups.iter().map(|g| g.severity.as_str().len())),
        col(1, &mut groups.iter().map(|g| width_of(&g.rule_id))),
        col(2, &mut groups.iter().map(|g| width_of(&g.entity))),
        col(3, &mut counts.iter().map(|c| c.len())),
        col(4, &mut std::iter::once(19)),
    ];
    let fixed: usize = widths.iter().sum::<usize>() + 2 * widths.len();
    // The layout: everything on the row; the reason below it; or, when the entity does not
    // fit beside the others, the entity and the reason each on a line below.
    let layout = match style.width {
        None => Layout::Row,
        Some(w) if w >= fixed + MIN_REASON => Layout::Row,
        Some(w) if w >= fixed => Layout::ReasonBelow,
        Some(_) => Layout::Stacked,
    };
    let reason_width = style.width.map(|w| match layout {
        Layout::Row => w - fixed,
        _ => w.saturating_sub(4).max(MIN_REASON),
    });
    let columns: &[usize] = match layout {
        Layout::Stacked => &[0, 1, 3, 4],
        _ => &[0, 1, 2, 3, 4],
    };
    let mut out = String::new();
    if header {
        let mut line: Vec<String> = columns
            .iter()
            .map(|&i| pad(HEADERS[i], widths[i]))
            .collect();
        let below: &[&str] = match layout {
            Layout::Row => {
                line.push(HEADERS[5].to_string());
                &[]
            }
            Layout::ReasonBelow => &[HEADERS[5]],
            Layout::Stacked => &[HEADERS[2], HEADERS[5]],
        };
        out.push_str(&paint(line.join("  ").trim_end(), "1", style));
        out.push('\n');
        for h in below {
            out.push_str(&paint(&format!("    {h}"), "1", style));
            out.push('\n');
        }
    }
    for (g, count) in groups.iter().zip(&counts) {
        let severity = paint(
            &pad(g.severity.as_str(), widths[0]),
            severity_colour(g.severity),
            style,
        );
        let reason = match reason_width {
            Some(w) => truncate(&g.reason, w),
            None => g.reason.clone(),
        };
        let mut cells = vec![severity, pad(&g.rule_id, widths[1])];
        if layout != Layout::Stacked {
            cells.push(pad(&g.entity, widths[2]));
        }
        cells.push(format!("{count:>w$}", w = widths[3]));
        cells.push(pad(&short_time(g.last), widths[4]));
        let row = cells.join("  ");
        match layout {
            Layout::Row => out.push_str(&format!("{row}  {reason}\n")),
            Layout::ReasonBelow => out.push_str(&format!("{}\n    {reason}\n", row.trim_end())),
            Layout::Stacked => out.push_str(&format!(
                "{}\n    {}\n    {reason}\n",
                row.trim_end(),
                g.entity
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hunt::triage::tests::digest;

    fn table(width: Option<usize>, colour: bool) -> String {
        let d = digest();
        render(&d.sorted(), &TableStyle { width, colour }, true)
    }

    #[test]
    fn table_snapshots() {
        insta::assert_snapshot!("table_full_width", table(None, false));
        // The reason cut to the width.
        insta::assert_snapshot!("table_150_columns", table(Some(150), false));
        // Too narrow for the reason on the row: it goes below.
        insta::assert_snapshot!("table_120_columns", table(Some(120), false));
        // Too narrow for the entity beside the rest: entity and reason each on a line;
        // nothing but the reason is ever cut.
        insta::assert_snapshot!("table_80_columns", table(Some(80), false));
    }

    #[test]
    fn the_table_fits_its_width_and_keeps_what_matters() {
        let d = digest();
        for width in [150, 120, 80] {
            let text = table(Some(width), false);
            for line in text.lines() {
                assert!(width_of(line) <= width, "{width}: {line}");
            }
            for g in d.sorted() {
                assert!(text.contains(&g.rule_id) && text.contains(&g.entity));
            }
            // No raw escape from the logs reaches the terminal.
            assert!(!text.contains('\u{1b}'));
        }
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = table(Some(100), false);
        let coloured = table(Some(100), true);
        assert!(!plain.contains("\x1b["));
        assert!(coloured.contains("\x1b[1;31mcritical"));
        assert!(coloured.contains("\x1b[31mhigh    \x1b[0m"));
        // The only escapes are ours: the entity's ESC is still escaped.
        assert!(coloured.contains("eve\\u{1b}[2J"));
    }

    #[test]
    fn the_sink_groups_and_counts() {
        let mut out = Vec::new();
        {
            let mut sink = TableSink::new(
                &mut out,
                TableStyle {
                    width: None,
                    colour: false,
                },
            );
            for a in crate::hunt::triage::tests::alerts() {
                sink.alert(&a).unwrap();
            }
            sink.finish().unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
        assert!(text.ends_with("6 alerts in 3 rows: repeated alerts of one rule about one entity are one row (COUNT, LAST SEEN)\n"));
    }
}
