//! Arbitrary text as the user's detector lists and configuration (phishing feeds in every
//! format, Tor exit lists, IP/CIDR lists, gitleaks.toml): loading never panics, bad lines are skipped, and the index answers lookups on
//! text built from the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_detectors::detectors::phishing_urls::PhishingIndex;
use modelward_detectors::detectors::suspicious_ip::SuspiciousIp;
use modelward_detectors::detectors::tor_access::parse_exit_list;
use modelward_detectors::{inspect_alone, parse_gitleaks, CredentialTheft, LlmText};
use modelward_event::Event;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut skipped = Vec::new();
    let _ = parse_exit_list(text, "fuzz.txt", &mut skipped);
    let _ = SuspiciousIp::from_texts(&[("fuzz.txt", text)], &mut skipped);
    if let Ok((rules, _)) = parse_gitleaks(text, "fuzz.toml") {
        let detector = CredentialTheft::with_rules(rules);
        let completion = LlmText {
            prompt: Vec::new(),
            completion: vec![text],
        };
        let _ = inspect_alone(&detector, &Event::default(), &completion);
        let _ = detector.redact(text);
    }
    if let Ok(index) = PhishingIndex::from_texts(&[("fuzz.txt", text)], &mut skipped) {
        for found in index.extract(text) {
            let _ = index.lookup(&found.url);
        }
    }
});
