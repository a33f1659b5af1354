//! Arbitrary text as the user's detector lists (phishing feeds in every format, Tor exit
//! lists): loading never panics, bad lines are skipped, and the index answers lookups on
//! text built from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_detectors::detectors::phishing_urls::PhishingIndex;
use modelward_detectors::detectors::tor_access::parse_exit_list;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut skipped = Vec::new();
    let _ = parse_exit_list(text, "fuzz.txt", &mut skipped);
    if let Ok(index) = PhishingIndex::from_texts(&[("fuzz.txt", text)], &mut skipped) {
        for found in index.extract(text) {
            let _ = index.lookup(&found.url);
        }
    }
});
