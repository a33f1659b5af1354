//! What the theft analyzers (MW-TH-…) share: the PB-53 vectors, probe calls, findings.

use serde_json::{json, Map, Value};

use crate::finding::Sample;
use crate::{Call, Finding, LogitSettings};

/// PB-53's vector "Model extraction via API".
pub const MODEL_EXTRACTION_API: &str = "model_extraction_api";
/// PB-53's vector "Weight/checkpoint theft".
pub const WEIGHT_CHECKPOINT_THEFT: &str = "weight_checkpoint_theft";
/// PB-53's vector "Training data exfiltration".
pub const TRAINING_DATA_EXFILTRATION: &str = "training_data_exfiltration";
/// PB-53's vector "Side-channel extraction".
pub const SIDE_CHANNEL: &str = "side_channel";

/// Whether a call is a logit probe: a tiny completion with log probabilities at their
/// maximum or a large logit bias.
pub fn is_probe(s: &LogitSettings, call: &Call) -> bool {
    let p = &call.params;
    p.max_tokens.is_some_and(|m| m <= s.max_tokens)
        && ((p.logprobs && p.top_logprobs.is_some_and(|t| t >= s.min_top_logprobs))
            || p.bias_max >= s.min_bias)
}

/// The token ids a call biases by at least `min_bias`.
pub fn biased<'a>(s: &LogitSettings, call: &'a Call) -> impl Iterator<Item = u32> + 'a {
    let min = s.min_bias;
    call.params
        .bias
        .iter()
        .filter(move |(_, b)| b.abs() >= min)
        .map(|(t, _)| *t)
}

/// A theft finding: the evidence gets `pb53_vector` and `score`.
#[allow(clippy::too_many_arguments)]
pub fn finding(
    code: &'static str,
    principal: &str,
    call: &Call,
    key: String,
    summary: String,
    first_seen: i64,
    vector: &str,
    score: f64,
    mut evidence: Map<String, Value>,
    samples: Vec<Sample>,
) -> Finding {
    evidence.insert("pb53_vector".into(), json!(vector));
    evidence.insert("score".into(), json!(super::round2(score)));
    Finding {
        code,
        principal: principal.to_string(),
        timestamp: call.ts,
        key,
        summary,
        first_seen,
        last_seen: call.ts,
        evidence,
        samples,
        source_ip: call.ip.as_deref().map(str::to_string),
        model: call.model.as_deref().map(str::to_string),
    }
}

/// Percentiles of values (nearest rank), for latency evidence.
pub fn latency_stats(values: &[f32]) -> Value {
    if values.is_empty() {
        return Value::Null;
    }
    let mut v: Vec<f64> = values.iter().map(|x| f64::from(*x)).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| v[((q * (v.len() - 1) as f64).round() as usize).min(v.len() - 1)];
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt();
    json!({
        "n": v.len(),
        "min_ms": super::round2(v[0]),
        "p10_ms": super::round2(at(0.1)),
        "median_ms": super::round2(at(0.5)),
        "p90_ms": super::round2(at(0.9)),
        "max_ms": super::round2(v[v.len() - 1]),
        "mean_ms": super::round2(mean),
        "sd_ms": super::round2(sd),
    })
}
