//! The behavioural analyzers, one per file; each file's `//!` header is its documentation.
//!
//! Each analyzer's file exports its `CODE` (its row of the codes table) and
//! `build(&Settings) -> Box<dyn Analyzer>` (the analyzer, from the part of the `[behavior]`
//! settings it reads). `registry!` below has one line per analyzer: it declares the module
//! and puts its `CODE` in [`crate::CODES`] and its `build` in the list [`crate::Behavior`]
//! builds from, both in the registry's order, which is code order and the order the
//! analyzers run in.

/// Declares the analyzers' modules and builds, from one line each, the codes table and the
/// constructors, in the same order.
macro_rules! registry {
    ($($module:ident),* $(,)?) => {
        $(pub mod $module;)*

        /// Every analyzer's row of the codes table, in the registry's order.
        pub(crate) const CODES: &[crate::Code] = &[$($module::CODE),*];

        /// Every analyzer's `build`, in the registry's order (that of [`CODES`]).
        pub(crate) const BUILD: &[Build] = &[$($module::build),*];

        /// The registry's modules, for the test that every analyzer file has its line.
        #[cfg(test)]
        pub(crate) const MODULES: &[&str] = &[$(stringify!($module)),*];
    };
}

/// How an analyzer is built from the `[behavior]` settings.
pub(crate) type Build = fn(&crate::Settings) -> Box<dyn crate::Analyzer>;

// One line per analyzer, its module's name, sorted by code: the order of `CODES` and the
// order the analyzers run in.
registry! {
    recurring_requests,     // MW-AI-0012
    volume_anomaly,         // MW-AI-0013
    access_anomaly,         // MW-AI-0014
    sensitive_data_anomaly, // MW-AI-0015
    logit_extraction,       // MW-TH-0001
    distillation,           // MW-TH-0002
    prada,                  // MW-TH-0003
    query_flood,            // MW-TH-0004
    distributed_extraction, // MW-TH-0005
    side_channel,           // MW-TH-0006
    weights_download,       // MW-TH-0007
    bulk_download,          // MW-TH-0008
}

// Helpers that are not analyzers.
pub(crate) mod theft;

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
