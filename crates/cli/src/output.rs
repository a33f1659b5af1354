//! Alert output: a table for people, NDJSON or a JSON array for machines.

use std::io::Write;

use modelward_engine::{AlertSink, SinkError};
use modelward_rule::Alert;
use serde_json::Value;

/// One line per alert: time, severity, rule, entity and the key figures.
pub struct TableSink<W: Write> {
    out: W,
    header: bool,
}

impl<W: Write> TableSink<W> {
    pub fn new(out: W) -> Self {
        TableSink { out, header: false }
    }
}

impl<W: Write> AlertSink for TableSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        if !self.header {
            writeln!(
                self.out,
                "{:<24}  {:<8}  {:<40}  {:<48}  DETAILS",
                "TIME", "SEVERITY", "RULE", "ENTITY"
            )?;
            self.header = true;
        }
        let entity: Vec<String> = alert
            .entity
            .iter()
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        let details: Vec<String> = alert
            .fields
            .iter()
            .take(6)
            .map(|(k, v)| format!("{k}={}", text(v)))
            .collect();
        writeln!(
            self.out,
            "{:<24}  {:<8}  {:<40}  {:<48}  {}",
            modelward_event::format_timestamp(alert.timestamp),
            alert.rule.severity.as_str(),
            truncate(&printable(&alert.rule.name), 40),
            truncate(&entity.join(" "), 48),
            details.join(" ")
        )?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => printable(s).into_owned(),
        other => printable(&other.to_string()).into_owned(),
    }
}

pub use modelward_event::terminal::printable;

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
