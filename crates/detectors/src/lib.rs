//! Built-in detectors for AI workloads: what a rule language cannot say well (content
//! scanning, hidden characters, lists of known-bad addresses).
//!
//! One detector is one file in `detectors/`: a struct, its [`Detector`] implementation, and
//! a doc comment with fixed headings (`## What it detects`, `## Why it matters`, `## Example`,
//! `## False positives`, `## Response`, `## References`) that `modelward rules explain`
//! prints. [`CODES`] is the sorted table of every detector.
//!
//! ```
//! use modelward_detectors::{Detectors, Settings};
//! use modelward_event::Event;
//! let detectors = Detectors::new(&Settings::default()).unwrap();
//! let prompt = "hi\u{E0041}\u{E0042}"; // "AB" in Unicode tag characters
//! let event = Event::from_json(&serde_json::json!({"gen_ai": {"prompt": prompt}}).to_string()).unwrap();
//! let findings = detectors.inspect(&event);
//! assert_eq!(findings[0].code, "MW-AI-0009");
//! ```

mod address;
mod detector;
pub mod detectors;
mod gitleaks;
mod go_regex;
pub mod keywords;
mod punycode;
mod settings;
mod text;

pub use detector::{inspect_alone, Code, Detector, Detectors, Finding, CODES, FAMILY};
pub use detectors::credential_theft::{AllowTarget, Allowlist, CredentialRule, CredentialTheft};
pub use gitleaks::{load_gitleaks, parse_gitleaks};
pub use go_regex::go_regex_to_rust;
pub use settings::{Settings, SettingsError};
pub use text::{LlmText, Role};
