//! Events for modelward: one JSON object per event, with field access by dotted path.
//!
//! A field path such as `azure.open_ai.category` resolves against nested objects
//! (`{"azure":{"open_ai":{"category":"Audit"}}}`), flattened keys
//! (`{"azure.open_ai.category":"Audit"}`) and any mix of the two, as Elasticsearch does.
//! Arrays are multi-valued fields: every element contributes a value.
//!
//! ```
//! use modelward_event::Event;
//! let event = Event::from_json(r#"{"azure":{"open_ai.category":"Audit"},"tags":["a","b"]}"#).unwrap();
//! assert_eq!(event.get("azure.open_ai.category")[0].as_str(), Some("Audit"));
//! assert_eq!(event.get("tags").len(), 2);
//! ```
//!
//! The crate also reads input ([`input`]): files, directories, stdin, NDJSON, JSON arrays,
//! Azure `{"records":[...]}` envelopes and gzip; and turns raw vendor records into one field
//! naming ([`source`]).
//!
//! And the vocabulary the crates above share, each defined once: the fields naming a
//! request's principal, address and model ([`fields`]), `*` globs ([`glob`]), IP addresses
//! and CIDR ranges ([`ip`]), FNV-1a hashes and stable ids ([`hash`]), and the file
//! extensions of models and datasets ([`objects`]).

pub mod csv;
mod event;
pub mod fields;
pub mod glob;
pub mod hash;
pub mod ingest;
pub mod input;
pub mod ip;
pub mod objects;
mod path;
pub mod secret;
pub mod source;
pub mod suggest;
pub mod terminal;
mod time;
mod types;

pub use event::{Event, Origin};
pub use path::{for_each_leaf, lookup};
pub use time::{format_timestamp, parse_timestamp};
pub use types::{FieldType, Schema};
