//! Reading events: files, directories (recursive), `-` for stdin; NDJSON/JSONL, JSON arrays,
//! pretty-printed documents, Azure `{"records":[...]}` and CloudTrail `{"Records":[...]}`
//! envelopes; Amazon CloudWatch Logs' deliveries ([`cloudwatch`]); gzip recognised by its magic bytes, whatever the file is called.
//!
//! Reading is split from parsing so that a caller can look at a record's raw bytes (for a
//! literal prefilter) before paying for a parse, and can parse records in parallel:
//! [`Reader`] yields [`Batch`]es of raw records, [`parse_record`] turns one into events.
//! Nothing here aborts a run: a bad record is a [`ParseError`], a bad file an [`InputError`],
//! and the caller reports them and goes on.

mod body;
pub mod cloudwatch;
mod error;
pub mod lossy;
pub mod otlp;
mod paths;
mod reader;
mod record;

pub use body::{split_body, BodyRecords};
pub use error::{InputError, ParseError};
pub use paths::{expand_paths, same_file, InputPath, Walk};
pub use reader::{Batch, Reader, ReaderOptions, RecordSpan};
pub use record::{parse_record, parse_record_noting, Parsed, RecordError};
