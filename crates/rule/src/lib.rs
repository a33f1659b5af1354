//! Rule metadata and alerts, shared by every kind of rule (ES|QL, Sigma, built-in detectors).
//!
//! ```
//! use modelward_rule::{RuleMeta, RuleType, Severity};
//! let meta = RuleMeta::new("demo-1", "Demo rule", RuleType::Esql, Severity::Medium, 47);
//! assert_eq!(meta.severity.as_str(), "medium");
//! ```

mod alert;
mod builtin;
mod limits;
mod meta;
mod regex_budget;

pub mod mitre;

pub use alert::{Alert, AlertWindow, Suppression, ALERT_SCHEMA};
pub use builtin::{documentation, BuiltinCode, DOC_HEADINGS};
pub use limits::{Limits, YAML_NODE_BYTES};
pub use meta::{RuleMeta, RuleType, Severity, Tactic, Technique, Threat};
pub use regex_budget::{
    check_syntax, RegexBudget, RegexError, REGEX_DFA_SIZE_LIMIT, REGEX_SIZE_LIMIT,
};
