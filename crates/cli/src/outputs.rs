//! Where `hunt` sends alerts: `--output` targets and `[[outputs]]` sections
//! (docs/outputs.md), opened before the logs are read so that a bad target or a missing
//! secret is said at once, and reported on after the run.

use std::io::{self, IsTerminal};

use anyhow::{bail, Result};
use modelward_engine::{AlertSink, JsonArraySink, NdjsonSink, SinkError};
use modelward_event::input::{same_file, InputPath};
use modelward_event::terminal::printable;
use modelward_sinks::{Destination, Opened, Output, OutputOptions, Outputs, ProcessEnv, Target};

use crate::args::Format;
use crate::output::{TableSink, TableStyle};

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
    let chosen = chosen(requested, configured)?;
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
                    Format::Table => Box::new(TableSink::new(
                        out,
                        TableStyle::detect(matches!(to, Destination::Stdout)),
                    )),
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

/// The outputs `requested` (or, without any, standard output and every `[[outputs]]`
/// section).
fn chosen(requested: &[String], configured: &[OutputOptions]) -> Result<Vec<OutputOptions>> {
    let mut names = std::collections::BTreeSet::new();
    for c in configured {
        if let Some(n) = &c.name {
            if !names.insert(n.as_str()) {
                bail!("[[outputs]]: two sections are named `{n}`");
            }
        }
    }
    Ok(if requested.is_empty() {
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
    })
}

/// Refuses outputs that would write over one of the `inputs` (the same file by another
/// path or a link: its device and inode): opening one truncates it before it is read.
pub fn refuse_inputs(
    requested: &[String],
    configured: &[OutputOptions],
    inputs: &[InputPath],
) -> Result<()> {
    for options in chosen(requested, configured)? {
        let (Ok(Target::Plain(Destination::File(path)))
        | Ok(Target::Formatted(_, Destination::File(path)))) = Target::parse(&options.target)
        else {
            continue;
        };
        for input in inputs {
            if let InputPath::File(input) = input {
                if same_file(&path, input) {
                    bail!(
                        "output {} is the input {}: writing it would destroy the logs being read; choose another file",
                        printable(&path.display().to_string()),
                        printable(&input.display().to_string())
                    );
                }
            }
        }
    }
    Ok(())
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
            SinkError::Output(_) => modelward_event::errln!("modelward: error: {error}"),
            other => {
                modelward_event::errln!("modelward: error: output `{}`: {other}", output.name())
            }
        }
    }
    if !quiet {
        for output in outputs.outputs() {
            if let Some(r) = output.report().filter(|r| r.complete()) {
                modelward_event::errln!(
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
