//! What an analyzer reports about one principal.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Call;

/// A source record that shows the behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub file: String,
    pub line: u64,
    /// Byte offset of the record (absent from baselines saved before it was kept).
    #[serde(default)]
    pub offset: u64,
    /// Hash of the record as read (0: unknown, or saved before it was kept).
    #[serde(default)]
    pub hash: u64,
}

impl Sample {
    pub fn of(call: &Call) -> Sample {
        Sample {
            file: call.file.to_string(),
            line: call.line,
            offset: call.offset,
            hash: call.hash,
        }
    }
}

/// Samples kept per finding.
pub const SAMPLES: usize = 3;

/// Adds a sample while fewer than [`SAMPLES`] are kept.
pub fn keep_sample(samples: &mut Vec<Sample>, call: &Call) {
    if samples.len() < SAMPLES {
        samples.push(Sample::of(call));
    }
}

/// One behavioural finding about one principal.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub code: &'static str,
    pub principal: String,
    /// When it was raised (event time): the call that crossed the threshold.
    pub timestamp: i64,
    /// Tells apart findings of one code about one principal (a bucket, a prompt
    /// fingerprint, a new value); with the code and principal it makes the alert id.
    pub key: String,
    /// One line for people.
    pub summary: String,
    pub first_seen: i64,
    pub last_seen: i64,
    /// Counts and baseline figures.
    pub evidence: Map<String, Value>,
    pub samples: Vec<Sample>,
    /// The client address of the last call seen, for the alert's entity.
    pub source_ip: Option<String>,
    pub model: Option<String>,
}
