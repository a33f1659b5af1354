//! Where alerts go: a push-model sink.

use std::io::Write;

use modelward_rule::Alert;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing alerts: {0}")]
    Io(#[from] std::io::Error),
    #[error("serializing an alert: {0}")]
    Json(#[from] serde_json::Error),
    /// A sink of another crate failed (a SIEM that did not take every alert, ...): its own
    /// typed error.
    #[error(transparent)]
    Output(Box<dyn std::error::Error + Send + Sync>),
}

pub trait AlertSink {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError>;
    /// Everything given so far is written or delivered (or given up on and reported) when
    /// this returns: a live driver calls it before a checkpoint, so that a restart repeats
    /// rather than loses. The sink stays open.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
    fn finish(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// Keeps alerts in memory.
#[derive(Default)]
pub struct VecSink {
    pub alerts: Vec<Alert>,
}

impl AlertSink for VecSink {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.alerts.push(alert.clone());
        Ok(())
    }
}

/// One JSON document per line.
pub struct NdjsonSink<W: Write> {
    out: W,
}

impl<W: Write> NdjsonSink<W> {
    pub fn new(out: W) -> Self {
        NdjsonSink { out }
    }
}

impl<W: Write> AlertSink for NdjsonSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        // The same JSON with nothing raw that could drive a terminal (bidi overrides, C1
        // controls: JSON itself escapes only C0), wherever the line goes.
        let line = serde_json::to_string(&alert.to_json())?;
        self.out
            .write_all(modelward_event::terminal::printable_json(&line).as_bytes())?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}

/// One pretty-printed JSON array.
pub struct JsonArraySink<W: Write> {
    out: W,
    count: usize,
}

impl<W: Write> JsonArraySink<W> {
    pub fn new(out: W) -> Self {
        JsonArraySink { out, count: 0 }
    }
}

impl<W: Write> AlertSink for JsonArraySink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.out
            .write_all(if self.count == 0 { b"[\n" } else { b",\n" })?;
        let text = serde_json::to_string_pretty(&alert.to_json())?;
        self.out
            .write_all(modelward_event::terminal::printable_json(&text).as_bytes())?;
        self.count += 1;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out
            .write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        self.out.flush()?;
        Ok(())
    }
}
