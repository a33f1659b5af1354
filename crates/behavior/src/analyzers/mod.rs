//! The behavioural analyzers, one per file; each file's `//!` header is its documentation.

pub mod access_anomaly;
pub mod bulk_download;
pub mod distillation;
pub mod distributed_extraction;
pub mod logit_extraction;
pub mod prada;
pub mod query_flood;
pub mod recurring_requests;
pub mod sensitive_data_anomaly;
pub mod side_channel;
pub(crate) mod theft;
pub mod volume_anomaly;
pub mod weights_download;

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
