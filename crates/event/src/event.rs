use std::sync::Arc;

use serde_json::{Map, Value};

use crate::path;

/// Where an event was read from: the file (or `-` for stdin), the 1-based line and the byte
/// offset of the record in the decompressed stream, the record's hash as read
/// ([`crate::hash::record_hash`]; 0 when unknown), and which of the record's events it is
/// (0 for the first; an envelope or a CloudWatch payload holds several).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Origin {
    pub file: Arc<str>,
    pub line: u64,
    pub offset: u64,
    pub hash: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub index: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// One event: a JSON object, in the normalized field naming once a source normalizer ran.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Event {
    pub fields: Map<String, Value>,
    pub origin: Origin,
}

impl Event {
    pub fn new(fields: Map<String, Value>, origin: Origin) -> Event {
        Event { fields, origin }
    }

    /// Parses one JSON object. Mainly for tests and examples.
    pub fn from_json(text: &str) -> Result<Event, serde_json::Error> {
        let fields: Map<String, Value> = serde_json::from_str(text)?;
        Ok(Event {
            fields,
            origin: Origin::default(),
        })
    }

    /// Every value at `path` (nested or flattened keys; array elements flattened).
    pub fn get(&self, path: &str) -> Vec<&Value> {
        let mut out = Vec::new();
        path::lookup(&self.fields, path, &mut out);
        out
    }

    /// Whether the field is present, even with a `null` value.
    pub fn has(&self, path: &str) -> bool {
        path::exists(&self.fields, path)
    }

    /// The first string value at `path`.
    pub fn get_str(&self, path: &str) -> Option<&str> {
        self.get(path).into_iter().find_map(Value::as_str)
    }
}
