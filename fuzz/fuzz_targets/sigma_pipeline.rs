//! Arbitrary text as a processing pipeline: parsing never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = modelward_sigma::pipeline::parse_pipeline(text);
    }
});
