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
//! let event = Event::from_json(r#"{"gen_ai":{"prompt":"hi\u{e0041}\u{e0042}"}}"#).unwrap();
//! let findings = detectors.inspect(&event);
//! assert_eq!(findings[0].code, "MW-AI-0009");
//! ```

mod detector;
pub mod detectors;
mod settings;
mod text;

pub use detector::{Detector, Detectors, Finding, CODES};
pub use settings::{Settings, SettingsError};
pub use text::{LlmText, Role};
