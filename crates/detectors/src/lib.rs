//! Built-in detectors for AI workloads: what a rule language cannot say well (content
//! scanning, hidden characters, lists of known-bad addresses).
//!
//! One detector is one file in `detectors/`: its `CODE` row, a struct, its [`Detector`]
//! implementation, its `Builtin` implementation (its codes, and `build`: the detector the
//! settings ask for), and a doc comment with fixed headings (`## What it detects`,
//! `## Why it matters`, `## Example`, `## False positives`, `## Response`, `## References`)
//! that `modelward rules explain` prints. Its `pub mod` line and its line in the registry
//! (`detectors/mod.rs`) add it: [`Detectors::new`] builds the registry's detectors in order,
//! and [`CODES`], the sorted table of every detector, is their codes sorted.
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

pub use detector::{alert_name, inspect_alone, Code, Detector, Detectors, Finding, CODES, FAMILY};
pub use detectors::credential_theft::{
    AllowTarget, Allowlist, CredentialRule, CredentialTheft, Masked,
};
pub use gitleaks::{load_gitleaks, parse_gitleaks};
pub use go_regex::go_regex_to_rust;
pub use settings::{Settings, SettingsError};
pub use text::{LlmText, Role};
