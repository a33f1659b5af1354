//! Any JSON object as a raw Azure OpenAI record: the normalizer must return, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::source::{self, azure_openai, SourceKind};
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<Map<String, Value>>(data) else {
        return;
    };
    let _ = azure_openai::looks_like(&raw);
    let _ = source::normalize(raw.clone(), SourceKind::Auto);
    let _ = azure_openai::normalize(raw);
});
