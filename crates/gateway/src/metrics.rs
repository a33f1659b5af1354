//! `/metrics`: the gateway's counters in Prometheus' text format — calls by route and status,
//! their duration (a histogram), measures applied by kind, upstream failures and retries, and
//! the calls logged but not analysed.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::log::Call;

/// Upper bounds of the duration histogram, ms.
const BUCKETS_MS: [u64; 12] = [1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10_000, 60_000];

#[derive(Default)]
struct Counts {
    /// (route, status) → calls.
    calls: BTreeMap<(&'static str, u16), u64>,
    /// Calls at or under each bucket's bound, then all, and the sum of durations.
    duration: [u64; BUCKETS_MS.len()],
    duration_count: u64,
    duration_sum_ms: u64,
    /// Measure → calls it was applied to.
    applied: BTreeMap<&'static str, u64>,
    upstream_failures: u64,
    upstream_retries: u64,
}

/// The counters, updated once per logged call.
#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

/// A route's label: the API path, the Azure form with its deployment left out (bounded
/// cardinality).
fn route(path: &str) -> &'static str {
    const KNOWN: [&str; 5] = [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/responses",
        "/v1/models",
    ];
    if let Some(k) = KNOWN.iter().find(|k| **k == path) {
        return k;
    }
    if path.starts_with("/v1/models/") {
        "/v1/models/{id}"
    } else if path.starts_with("/openai/deployments/") {
        "/openai/deployments/{deployment}"
    } else {
        "other"
    }
}

impl Metrics {
    /// Counts one call as logged.
    pub fn call(&self, call: &Call) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.calls.entry((route(&call.path), call.status)).or_default() += 1;
        for (i, bound) in BUCKETS_MS.iter().enumerate() {
            if call.duration_ms <= *bound {
                c.duration[i] += 1;
            }
        }
        c.duration_count += 1;
        c.duration_sum_ms += call.duration_ms;
        for m in &call.applied {
            *c.applied.entry(m).or_default() += 1;
        }
        if call.status == 502 {
            c.upstream_failures += 1;
        }
    }

    /// Counts a request sent upstream again (its connection could not be made).
    pub fn upstream_retry(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .upstream_retries += 1;
    }

    /// The exposition, with the gauges given (measures in force, those not applied, calls
    /// logged but not analysed).
    pub fn render(&self, measures: usize, unapplied: usize, not_detected: u64) -> String {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP modelward_gateway_calls_total Calls answered, by route and status."
        );
        let _ = writeln!(out, "# TYPE modelward_gateway_calls_total counter");
        for ((route, status), n) in &c.calls {
            let _ = writeln!(
                out,
                "modelward_gateway_calls_total{{route=\"{route}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP modelward_gateway_call_duration_seconds From the request's arrival to the response's last byte.");
        let _ = writeln!(
            out,
            "# TYPE modelward_gateway_call_duration_seconds histogram"
        );
        for (bound, n) in BUCKETS_MS.iter().zip(c.duration) {
            let _ = writeln!(
                out,
                "modelward_gateway_call_duration_seconds_bucket{{le=\"{}\"}} {n}",
                *bound as f64 / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "modelward_gateway_call_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            c.duration_count
        );
        let _ = writeln!(
            out,
            "modelward_gateway_call_duration_seconds_sum {}",
            c.duration_sum_ms as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "modelward_gateway_call_duration_seconds_count {}",
            c.duration_count
        );
        let _ = writeln!(out, "# HELP modelward_gateway_measures_applied_total Calls a containment measure was applied to, by measure.");
        let _ = writeln!(
            out,
            "# TYPE modelward_gateway_measures_applied_total counter"
        );
        for (m, n) in &c.applied {
            let _ = writeln!(
                out,
                "modelward_gateway_measures_applied_total{{measure=\"{m}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP modelward_gateway_upstream_failures_total Calls whose upstream did not answer (502).");
        let _ = writeln!(
            out,
            "# TYPE modelward_gateway_upstream_failures_total counter"
        );
        let _ = writeln!(
            out,
            "modelward_gateway_upstream_failures_total {}",
            c.upstream_failures
        );
        let _ = writeln!(out, "# HELP modelward_gateway_upstream_retries_total Requests sent upstream again after a failed connection.");
        let _ = writeln!(
            out,
            "# TYPE modelward_gateway_upstream_retries_total counter"
        );
        let _ = writeln!(
            out,
            "modelward_gateway_upstream_retries_total {}",
            c.upstream_retries
        );
        let _ = writeln!(
            out,
            "# HELP modelward_gateway_measures_in_force Measures read from the database."
        );
        let _ = writeln!(out, "# TYPE modelward_gateway_measures_in_force gauge");
        let _ = writeln!(out, "modelward_gateway_measures_in_force {measures}");
        let _ = writeln!(out, "# HELP modelward_gateway_measures_unapplied Measures in force this gateway does not apply.");
        let _ = writeln!(out, "# TYPE modelward_gateway_measures_unapplied gauge");
        let _ = writeln!(out, "modelward_gateway_measures_unapplied {unapplied}");
        let _ = writeln!(out, "# HELP modelward_gateway_calls_not_detected_total Calls logged that in-path detection could not take (its queue full).");
        let _ = writeln!(
            out,
            "# TYPE modelward_gateway_calls_not_detected_total counter"
        );
        let _ = writeln!(
            out,
            "modelward_gateway_calls_not_detected_total {not_detected}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_counted_by_route_status_duration_and_measure() {
        let m = Metrics::default();
        let call = |path: &str, status: u16, ms: u64, applied: Vec<&'static str>| Call {
            path: path.into(),
            status,
            duration_ms: ms,
            applied,
            ..Call::default()
        };
        m.call(&call("/v1/chat/completions", 200, 3, vec![]));
        m.call(&call(
            "/openai/deployments/secret-name/chat/completions",
            200,
            30,
            vec![],
        ));
        m.call(&call("/v1/chat/completions", 429, 0, vec!["rate_limit"]));
        m.call(&call("/v1/completions", 502, 70_000, vec![]));
        let text = m.render(2, 1, 0);
        for line in [
            "modelward_gateway_calls_total{route=\"/v1/chat/completions\",status=\"200\"} 1",
            "modelward_gateway_calls_total{route=\"/v1/chat/completions\",status=\"429\"} 1",
            "modelward_gateway_calls_total{route=\"/openai/deployments/{deployment}\",status=\"200\"} 1",
            "modelward_gateway_call_duration_seconds_bucket{le=\"0.005\"} 2",
            "modelward_gateway_call_duration_seconds_bucket{le=\"60\"} 3",
            "modelward_gateway_call_duration_seconds_bucket{le=\"+Inf\"} 4",
            "modelward_gateway_measures_applied_total{measure=\"rate_limit\"} 1",
            "modelward_gateway_upstream_failures_total 1",
            "modelward_gateway_measures_in_force 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(!text.contains("secret-name"));
    }
}
