//! Outputs by name, and [`Outputs`]: every alert to each of them.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use modelward_engine::{AlertSink, JsonArraySink, NdjsonSink, SinkError};
use modelward_rule::Alert;

use crate::csv::CsvSink;
use crate::delivery::{Delivery, Report};
use crate::error::Error;
use crate::ocsf::OcsfSink;
use crate::target::{Destination, FileFormat};

/// One named output: a writer (a file, stdout) or a delivery over HTTP.
pub struct Output {
    name: String,
    sink: Kind,
}

enum Kind {
    Writer(Box<dyn AlertSink>),
    Delivery(Delivery),
}

impl Output {
    /// An output writing through `sink`.
    pub fn writer(name: impl Into<String>, sink: Box<dyn AlertSink>) -> Output {
        Output {
            name: name.into(),
            sink: Kind::Writer(sink),
        }
    }

    pub fn delivery(delivery: Delivery) -> Output {
        Output {
            name: delivery.name().to_string(),
            sink: Kind::Delivery(delivery),
        }
    }

    /// A file (created now) or stdout in one of the file formats.
    pub fn file(name: String, format: FileFormat, to: &Destination) -> Result<Output, Error> {
        let out = open(&name, to)?;
        let sink: Box<dyn AlertSink> = match format {
            FileFormat::Ndjson => Box::new(NdjsonSink::new(out)),
            FileFormat::Json => Box::new(JsonArraySink::new(out)),
            FileFormat::Csv => Box::new(CsvSink::new(out)),
            FileFormat::Ocsf => Box::new(OcsfSink::new(out)),
        };
        Ok(Output::writer(name, sink))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The delivery of an HTTP output.
    pub fn into_delivery(self) -> Option<Delivery> {
        match self.sink {
            Kind::Delivery(d) => Some(d),
            Kind::Writer(_) => None,
        }
    }

    /// What an HTTP output's delivery came to, once finished.
    pub fn report(&self) -> Option<&Report> {
        match &self.sink {
            Kind::Delivery(d) => d.report(),
            Kind::Writer(_) => None,
        }
    }
}

/// A buffered writer on the destination: the file created (truncated), or stdout.
pub fn open(name: &str, to: &Destination) -> Result<Box<dyn Write>, Error> {
    Ok(match to {
        Destination::Stdout => Box::new(BufWriter::new(io::stdout().lock())),
        Destination::File(path) => {
            Box::new(BufWriter::new(File::create(path).map_err(|source| {
                Error::File {
                    output: name.to_string(),
                    path: path.clone(),
                    source,
                }
            })?))
        }
    })
}

impl AlertSink for Output {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        match &mut self.sink {
            Kind::Writer(w) => w.alert(alert),
            Kind::Delivery(d) => d.alert(alert),
        }
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        match &mut self.sink {
            Kind::Writer(w) => w.flush(),
            Kind::Delivery(d) => d.flush(),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        match &mut self.sink {
            Kind::Writer(w) => w.finish(),
            Kind::Delivery(d) => d.finish(),
        }
    }
}

/// Every alert to each output, in order. One output failing does not stop the others: its
/// first error is kept, it gets no more alerts, and the rest go on. `finish` finishes them
/// all and returns `Ok`; [`Outputs::failures`] says which failed and why, so that the run
/// can finish (its counters, its baselines, its incidents) and then report them.
#[derive(Default)]
pub struct Outputs {
    outputs: Vec<(Output, Option<SinkError>)>,
}

impl Outputs {
    pub fn new(outputs: Vec<Output>) -> Outputs {
        Outputs {
            outputs: outputs.into_iter().map(|o| (o, None)).collect(),
        }
    }

    pub fn outputs(&self) -> impl Iterator<Item = &Output> {
        self.outputs.iter().map(|(o, _)| o)
    }

    /// The outputs that failed, with their errors.
    pub fn failures(&self) -> impl Iterator<Item = (&Output, &SinkError)> {
        self.outputs
            .iter()
            .filter_map(|(o, e)| e.as_ref().map(|e| (o, e)))
    }

    pub fn is_empty(&self) -> bool {
        self.outputs.is_empty()
    }
}

impl AlertSink for Outputs {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        for (output, error) in &mut self.outputs {
            if error.is_none() {
                if let Err(e) = output.alert(alert) {
                    *error = Some(e);
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        for (output, error) in &mut self.outputs {
            if error.is_none() {
                if let Err(e) = output.flush() {
                    *error = Some(e);
                }
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        for (output, error) in &mut self.outputs {
            if error.is_none() {
                if let Err(e) = output.finish() {
                    *error = Some(e);
                }
            }
        }
        Ok(())
    }
}
