//! The behavioural analyzers, one per file, and their registry; each file's `//!` header is
//! its documentation.
//!
//! Each analyzer's file exports its `CODE` (its row of the codes table) and
//! `build(&Settings) -> Box<dyn Analyzer>` (the analyzer, from the part of the `[behavior]`
//! settings it reads). Its `pub mod` line below declares the file, and its line in
//! `REGISTRY` puts its `CODE` in [`crate::CODES`] and its `build` in the list
//! [`crate::Behavior`] builds from, both in the registry's order, which is code order and
//! the order the analyzers run in.
//!
//! The `pub mod` lines are not generated from the registry by a macro: rustfmt does not see
//! modules declared inside a macro, so `cargo fmt` would stop formatting the analyzers.

pub mod access_anomaly;
pub mod anomalous_operation;
pub mod bulk_download;
pub mod distillation;
pub mod distributed_extraction;
pub mod logit_extraction;
pub mod prada;
pub mod query_flood;
pub mod recurring_requests;
pub mod sensitive_data_anomaly;
pub mod side_channel;
pub mod tool_invocation;
pub mod volume_anomaly;
pub mod weights_download;

// Helpers that are not analyzers.
pub(crate) mod theft;

/// How an analyzer is built from the `[behavior]` settings.
pub(crate) type Build = fn(&crate::Settings) -> Box<dyn crate::Analyzer>;

/// An analyzer's line in the registry: its row of the codes table and its `build`.
pub(crate) struct Entry {
    pub code: crate::Code,
    pub build: Build,
    /// The analyzer's module, for the test that every analyzer file has its line.
    #[cfg(test)]
    pub module: &'static str,
}

/// The registry line of the analyzer in `module`: its `CODE` and its `build`. It only
/// names the module; the module is declared by its `pub mod` line above.
macro_rules! entry {
    ($module:ident) => {
        Entry {
            code: $module::CODE,
            build: $module::build,
            #[cfg(test)]
            module: stringify!($module),
        }
    };
}

/// Every analyzer, one line each, sorted by code: the order of [`crate::CODES`] (checked at
/// compile time) and the order the analyzers run in.
pub(crate) const REGISTRY: &[Entry] = &[
    entry!(recurring_requests),     // MW-AI-0012
    entry!(volume_anomaly),         // MW-AI-0013
    entry!(access_anomaly),         // MW-AI-0014
    entry!(sensitive_data_anomaly), // MW-AI-0015
    entry!(tool_invocation),        // MW-AI-0019
    entry!(anomalous_operation),    // MW-AI-0022
    entry!(logit_extraction),       // MW-TH-0001
    entry!(distillation),           // MW-TH-0002
    entry!(prada),                  // MW-TH-0003
    entry!(query_flood),            // MW-TH-0004
    entry!(distributed_extraction), // MW-TH-0005
    entry!(side_channel),           // MW-TH-0006
    entry!(weights_download),       // MW-TH-0007
    entry!(bulk_download),          // MW-TH-0008
];

use modelward_event::format_timestamp;

/// A time for people.
pub(crate) fn iso(ms: i64) -> String {
    format_timestamp(ms)
}

/// The median of values (0 for none).
pub(crate) fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The median and the median absolute deviation of values.
pub(crate) fn median_mad(values: &[f64]) -> (f64, f64) {
    let mut v = values.to_vec();
    let m = median(&mut v);
    let mut dev: Vec<f64> = values.iter().map(|x| (x - m).abs()).collect();
    (m, median(&mut dev))
}

/// `x` as a multiple of `median`, for evidence (0 when the median is 0).
pub(crate) fn times(x: f64, median: f64) -> f64 {
    if median > 0.0 {
        round2(x / median)
    } else {
        0.0
    }
}

/// Rounds for evidence (two decimals).
pub(crate) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
