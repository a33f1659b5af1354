//! Where alerts go. Every output is an [`AlertSink`](modelward_engine::AlertSink), the one
//! sink trait `hunt` (and the live `watch`) write alerts to:
//!
//! - files and standard output: NDJSON and JSON (the engine's sinks), [CSV](csv) with a
//!   fixed column set, [OCSF](ocsf) Detection Findings (class 2004);
//! - over HTTP, through the shared [delivery] layer (bounded queue, batches, retries with
//!   backoff and jitter, a deadline, a spool, a report of anything not delivered):
//!   [Elasticsearch/OpenSearch](elasticsearch) `_bulk` into a data stream with ECS names,
//!   [Splunk](splunk) HTTP Event Collector with indexer acknowledgement, and
//!   [Microsoft Sentinel](sentinel) through the Logs Ingestion API;
//! - [Kafka](kafka) topics (and Azure Event Hubs), with librdkafka's idempotent producer;
//! - a [webhook]: each alert POSTed, signed, through the webhook executor of `modelward-respond`.
//!
//! An output is written as a [`Target`] (`csv:alerts.csv`,
//! `splunk+https://splunk.example:8088?index=ai`, ...) or as an `[[outputs]]` section of the
//! configuration ([`OutputOptions`]), whose secrets are read from the environment
//! (`token = "env:SPLUNK_HEC_TOKEN"`) and never shown. docs/outputs.md documents each
//! target, its keys, the field mappings, and the index template and table to create.
//!
//! ```no_run
//! use modelward_sinks::{OutputOptions, Opened, Outputs, ProcessEnv};
//!
//! let options = OutputOptions::target("elasticsearch+https://es.example:9200/logs-modelward-default");
//! let Opened::Sink(output) = options.open(&ProcessEnv)? else { unreachable!() };
//! let mut outputs = Outputs::new(vec![output]);
//! // session.finish(&mut outputs, ...) sends every alert; then:
//! for (output, error) in outputs.failures() {
//!     eprintln!("{}: {error}", output.name());
//! }
//! # Ok::<(), modelward_sinks::Error>(())
//! ```

pub mod csv;
pub mod delivery;
pub mod doc;
pub mod elasticsearch;
mod error;
pub mod kafka;
pub mod ocsf;
mod options;
mod outputs;
mod secret;
pub mod sentinel;
pub mod splunk;
mod target;
mod url;
pub mod webhook;

pub use delivery::{Delivery, Report};
pub use error::Error;
pub use options::{env, Opened, OutputOptions};
pub use outputs::{open, Output, Outputs};
pub use secret::{Env, ProcessEnv, Secret};
pub use target::{shown, Destination, FileFormat, Target};
