//! Alerts as CSV (RFC 4180) for spreadsheets and tickets: one row per alert, a fixed set of
//! columns ([`COLUMNS`]) whatever the rules, lines ending in CRLF.
//!
//! Values come from attacker-controlled logs, so every cell goes through
//! [`modelward_event::csv::field`]: a cell starting with `=`, `+`, `-`, `@`, a tab or CR gets
//! a leading `'` (formula injection defused), and cells with commas, quotes or line breaks
//! are quoted. Several values in one cell (tactics, techniques) are separated by `;`.

use std::io::Write;

use modelward_engine::{AlertSink, SinkError};
use modelward_event::csv::field;
use modelward_rule::Alert;
use serde_json::Value;

use crate::doc::View;

/// The columns, in order. Added columns go at the end, so a reader by position keeps working.
pub const COLUMNS: [&str; 22] = [
    "time",
    "alert_id",
    "severity",
    "risk_score",
    "rule_id",
    "rule_name",
    "rule_type",
    "principal",
    "source_ip",
    "resource",
    "model",
    "message",
    "tactics",
    "techniques",
    "window_start",
    "window_end",
    "original_time",
    "first_seen",
    "last_seen",
    "events",
    "evidence_file",
    "evidence_line",
];

/// The cells of one alert, in [`COLUMNS`] order (not yet escaped).
pub fn row(alert: &Value) -> Vec<String> {
    let v = View(alert);
    let s = |o: Option<&str>| o.unwrap_or("").to_string();
    let mut tactics: Vec<String> = Vec::new();
    for t in v.tactics() {
        let label = match (t.id.is_empty(), t.name.is_empty()) {
            (false, false) => format!("{} {}", t.id, t.name),
            (false, true) => t.id.to_string(),
            _ => t.name.to_string(),
        };
        if !tactics.contains(&label) {
            tactics.push(label);
        }
    }
    let mut techniques: Vec<&str> = Vec::new();
    for (_, t) in v.techniques() {
        let id = if t.id.is_empty() { t.name } else { t.id };
        if !techniques.contains(&id) {
            techniques.push(id);
        }
    }
    let (first, last) = v.first_last_seen().unzip();
    let (wstart, wend) = v.window().unzip();
    let source = v.source_record();
    vec![
        s(v.timestamp()),
        v.id().to_string(),
        v.severity().to_string(),
        v.risk_score().map_or(String::new(), |r| r.to_string()),
        s(v.rule("id")),
        s(v.rule("name")),
        s(v.rule("type")),
        s(v.entity("principal")),
        s(v.entity("source.ip")),
        s(v.entity("resource")),
        s(v.entity("model")),
        v.message().to_string(),
        tactics.join(";"),
        techniques.join(";"),
        s(wstart),
        s(wend),
        s(v.original_time()),
        s(first),
        s(last),
        v.event_count().map_or(String::new(), |n| n.to_string()),
        s(source.map(|(f, _, _)| f)),
        source
            .and_then(|(_, l, _)| l)
            .map_or(String::new(), |l| l.to_string()),
    ]
}

/// Writes the header, then one row per alert.
pub struct CsvSink<W: Write> {
    out: W,
    header: bool,
}

impl<W: Write> CsvSink<W> {
    pub fn new(out: W) -> Self {
        CsvSink { out, header: false }
    }

    fn line(&mut self, cells: &[&str]) -> std::io::Result<()> {
        let mut line = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&field(c));
        }
        line.push_str("\r\n");
        self.out.write_all(line.as_bytes())
    }

    fn header(&mut self) -> std::io::Result<()> {
        if !self.header {
            self.header = true;
            self.line(&COLUMNS)?;
        }
        Ok(())
    }
}

impl<W: Write> AlertSink for CsvSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.header()?;
        let cells = row(&alert.to_json());
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        self.line(&refs)?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.header()?;
        self.out.flush()?;
        Ok(())
    }
}
