//! Where `hunt` sends alerts: `--output` targets and `[[outputs]]` sections
//! (docs/outputs.md), opened before the logs are read so that a bad target or a missing
//! secret is said at once, and reported on after the run.

use std::io::{self, IsTerminal};

use anyhow::{bail, Result};
use modelward_engine::{AlertSink, JsonArraySink, NdjsonSink, SinkError};
use modelward_sinks::{Destination, Opened, Output, OutputOptions, Outputs, ProcessEnv};

use crate::args::Format;
use crate::output::TableSink;

/// The outputs of a run:
///
/// - without `--output`: standard output (a table on a terminal, else NDJSON, or
///   `--format`), and every `[[outputs]]` section;
/// - with `--output` (repeatable): each value, the `[[outputs]]` section of that name or a
///   target (`-`, a file, `csv:FILE`, `elasticsearch+https://…`, ...).
///
/// `--format` is the format of standard output and of plain files.
pub fn open(
    requested: &[String],
    configured: &[OutputOptions],
    format: Option<Format>,
) -> Result<Outputs> {
    let mut names = std::collections::BTreeSet::new();
    for c in configured {
        if let Some(n) = &c.name {
            if !names.insert(n.as_str()) {
                bail!("[[outputs]]: two sections are named `{n}`");
            }
        }
    }
    let chosen: Vec<OutputOptions> = if requested.is_empty() {
        std::iter::once(OutputOptions::target("-"))
            .chain(configured.iter().cloned())
            .collect()
    } else {
        requested
            .iter()
            .map(|r| {
                configured
                    .iter()
                    .find(|c| c.name.as_deref() == Some(r.as_str()))
                    .cloned()
                    .unwrap_or_else(|| OutputOptions::target(r))
            })
            .collect()
    };
    let mut stdout_taken = false;
    let mut outputs = Vec::new();
    for options in &chosen {
        let output = match options.open(&ProcessEnv)? {
            Opened::Sink(output) => output,
            Opened::Plain { name, to } => {
                let format = format.unwrap_or(match to {
                    Destination::Stdout if io::stdout().is_terminal() => Format::Table,
                    _ => Format::Ndjson,
                });
                let out = modelward_sinks::open(&name, &to)?;
                let sink: Box<dyn AlertSink> = match format {
                    Format::Table => Box::new(TableSink::new(out)),
                    Format::Ndjson => Box::new(NdjsonSink::new(out)),
                    Format::Json => Box::new(JsonArraySink::new(out)),
                };
                Output::writer(name, sink)
            }
        };
        let to_stdout = options.target == "-" || options.target.ends_with(":-");
        if to_stdout && std::mem::replace(&mut stdout_taken, true) {
            bail!("two outputs write to standard output");
        }
        outputs.push(output);
    }
    Ok(Outputs::new(outputs))
}

/// After the run: a line per HTTP output (unless quiet), each failure said. Returns whether
/// any output failed, and a broken pipe on standard output to end the run quietly with.
pub fn report(outputs: &Outputs, quiet: bool) -> (bool, Option<anyhow::Error>) {
    let mut failed = false;
    let mut broken_pipe = None;
    for (output, error) in outputs.failures() {
        let kind = match error {
            SinkError::Io(e) => Some(e.kind()),
            SinkError::Json(e) => e.io_error_kind(),
            SinkError::Output(_) => None,
        };
        if kind == Some(io::ErrorKind::BrokenPipe) {
            broken_pipe = Some(anyhow::anyhow!(io::Error::from(io::ErrorKind::BrokenPipe)));
            continue;
        }
        failed = true;
        match error {
            SinkError::Output(_) => eprintln!("modelward: error: {error}"),
            other => eprintln!("modelward: error: output `{}`: {other}", output.name()),
        }
    }
    if !quiet {
        for output in outputs.outputs() {
            if let Some(r) = output.report().filter(|r| r.complete()) {
                eprintln!(
                    "modelward: output `{}` ({}): {}",
                    output.name(),
                    r.destination,
                    r.summary()
                );
            }
        }
    }
    (failed, broken_pipe)
}
