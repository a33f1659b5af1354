//! The codes table of the behavioural analyzers, and their rule metadata.
//!
//! The same shape as the content detectors' table (`modelward_detectors::CODES`), whose row
//! type that crate does not export; the CLI lists both tables.

use modelward_rule::RuleMeta;

use crate::analyzers;

/// One row of the codes table (the same type as the content detectors' table).
pub use modelward_rule::BuiltinCode as Code;

/// The family of the analyzers' rule metadata (`builtin:behavior/MW-AI-…`).
pub const FAMILY: &str = "behavior";

/// Every behavioural analyzer, sorted by code.
pub static CODES: &[Code] = &[
    analyzers::recurring_requests::CODE,
    analyzers::volume_anomaly::CODE,
    analyzers::access_anomaly::CODE,
    analyzers::sensitive_data_anomaly::CODE,
    analyzers::logit_extraction::CODE,
    analyzers::distillation::CODE,
    analyzers::prada::CODE,
    analyzers::query_flood::CODE,
    analyzers::distributed_extraction::CODE,
    analyzers::side_channel::CODE,
    analyzers::weights_download::CODE,
    analyzers::bulk_download::CODE,
];

/// The rule metadata of an analyzer: its row's, tagged `behavioural`.
pub fn meta(code: &Code) -> RuleMeta {
    let mut meta = code.meta(FAMILY);
    meta.tags.push("behavioural".to_string());
    meta
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_unique_documented_and_mapped() {
        let codes: Vec<&str> = CODES.iter().map(|c| c.code).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
        for c in CODES {
            assert_eq!(c.problems(), Vec::<String>::new());
            let meta = meta(c);
            assert!(!meta.description.is_empty(), "{}", c.code);
            assert_eq!(meta.origin, format!("builtin:behavior/{}", c.code));
            assert!(meta.tags.iter().any(|t| t == "behavioural"));
        }
    }
}
