//! Any JSON object through every source normalizer, forced and auto-detected: each must
//! return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::source::{self, SourceKind};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    for name in SourceKind::NAMES {
        let kind: SourceKind = name.parse().expect("listed names parse");
        let _ = source::normalize(raw.clone(), kind);
    }
});
