//! JSON documents for machines, as every command writes them: `--format ndjson`, one document a
//! line as it comes; `--format json`, one array of them at the end. Either way through
//! [`modelward_event::terminal::printable_json`]: the same JSON, nothing a terminal acts on;
//! and with every secret masked ([`modelward_event::secret::mask_json`]).

use std::io::{self, Write};

use serde_json::Value;

/// Writes documents as NDJSON lines or collects them into one array.
pub struct JsonDocs {
    array: Option<Vec<Value>>,
}

impl JsonDocs {
    /// One array (`json`) when `as_array`, else a line each (`ndjson`).
    pub fn new(as_array: bool) -> JsonDocs {
        JsonDocs {
            array: as_array.then(Vec::new),
        }
    }

    pub fn write(&mut self, out: &mut dyn Write, mut doc: Value) -> io::Result<()> {
        modelward_event::secret::mask_json(&mut doc);
        match &mut self.array {
            Some(array) => {
                array.push(doc);
                Ok(())
            }
            None => {
                let line = doc.to_string();
                writeln!(out, "{}", modelward_event::terminal::printable_json(&line))
            }
        }
    }

    /// Writes the array, if one was asked for.
    pub fn finish(self, out: &mut dyn Write) -> io::Result<()> {
        if let Some(array) = self.array {
            let text = serde_json::to_string_pretty(&array).map_err(io::Error::other)?;
            writeln!(out, "{}", modelward_event::terminal::printable_json(&text))?;
        }
        Ok(())
    }
}

/// One check of a `verify` command's document (`evidence verify`, `incident verify`): its
/// name, `pass`, `fail` or `skipped`, and why (empty on a plain pass).
pub fn check(name: &str, result: &str, detail: String) -> Value {
    serde_json::json!({"check": name, "result": result, "detail": detail})
}
