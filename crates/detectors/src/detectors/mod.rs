//! The built-in detectors, one per file, and their registry.
//!
//! A detector's file holds its code (`CODE`, a row of the codes table, with its `//!`
//! documentation), its type implementing `Detector` and `Builtin` (its codes and how the
//! settings build it), and its tests. Its `pub mod` line below declares the file, and its
//! line in `REGISTRY` runs it. The other modules are helpers (`jailbreak_score`,
//! `jailbreak_model`, `phishing_urls`, `shield_verdict`) and the phishing alerts' code files
//! (`phishing_in_*`), which the one `phishing` detector raises.
//!
//! The `pub mod` lines are not generated from the registry by a macro: rustfmt does not see
//! modules declared inside a macro, so `cargo fmt` would stop formatting the detectors.

use crate::detector::Entry;

pub mod ascii_smuggling;
pub mod ascii_smuggling_in_tool_output;
pub mod credential_theft;
pub mod jailbreak_blocked;
pub mod jailbreak_detected;
pub mod jailbreak_model;
pub mod jailbreak_score;
pub mod llm_reconnaissance;
pub mod model_copy;
pub mod phishing;
pub mod phishing_in_application;
pub mod phishing_in_prompt;
pub mod phishing_in_response;
pub mod phishing_in_tool_output;
pub mod phishing_urls;
pub mod sensitive_data;
mod shield_verdict;
pub mod suspicious_ip;
pub mod suspicious_user_agent;
pub mod tor_access;

/// Every built-in detector, one line each, in the order they run: the order of an event's
/// findings. `Detectors::new` builds them in this order; `CODES` is their codes, sorted.
pub(crate) const REGISTRY: &[Entry] = &[
    Entry::of::<credential_theft::CredentialTheft>(),
    Entry::of::<jailbreak_blocked::JailbreakBlocked>(),
    Entry::of::<jailbreak_detected::JailbreakDetected>(),
    Entry::of::<sensitive_data::SensitiveData>(),
    Entry::of::<phishing::Phishing>(),
    Entry::of::<ascii_smuggling::AsciiSmuggling>(),
    Entry::of::<llm_reconnaissance::LlmReconnaissance>(),
    Entry::of::<suspicious_user_agent::SuspiciousUserAgent>(),
    Entry::of::<tor_access::TorAccess>(),
    Entry::of::<suspicious_ip::SuspiciousIp>(),
    Entry::of::<model_copy::ModelCopyDetector>(),
];
