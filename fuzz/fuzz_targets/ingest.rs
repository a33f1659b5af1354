//! Any bytes as a body posted to `watch`'s HTTP ingest endpoint (NDJSON, a JSON array, an
//! Azure `{"records":[...]}` batch, pretty-printed documents): `split_body` must return,
//! never panic, and lose nothing a whole body holds: a body that is one JSON array gives its
//! elements, one JSON object gives itself (an envelope stays one record).
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::input::split_body;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // A small record limit, so that the too-long path is reached.
    let _ = split_body(data, 64);
    let body = split_body(data, data.len() + 1);
    match serde_json::from_slice::<Value>(data) {
        Ok(Value::Array(items)) if data.trim_ascii_start().starts_with(b"[") => {
            assert_eq!(
                body.records, items,
                "an array body lost or changed elements"
            );
            assert!(body.rejected.is_empty(), "{:?}", body.rejected);
        }
        Ok(whole @ Value::Object(_)) => {
            assert_eq!(body.records, [whole], "an object body is not one record");
            assert!(body.rejected.is_empty(), "{:?}", body.rejected);
        }
        _ => {}
    }
});
