//! The containment measures in force, as the gateway applies them: read from the store's
//! `enforcement` table (which `hunt --incidents` and `incident act` write), indexed by target,
//! and resolved per request into the strictest [`Decision`].
//!
//! | measure | what a request gets |
//! |---|---|
//! | `revoke_key` | 401, an OpenAI-shaped error |
//! | `block` | 403 |
//! | `rate_limit` | at most `requests_per_minute` (token bucket per target), else 429 with `Retry-After` |
//! | `reduce_output_detail` | `logprobs` and `top_logprobs` removed from the request and the response; `logit_bias` together with log probabilities refused (400); bias magnitudes capped |
//! | `proof_of_work` (`difficulty_bits`, `volume_step`) | each request must carry a solved challenge ([`crate::pow`]), else 428 with a new one; a bit more for each doubling of the caller's rate past `volume_step` a minute |
//! | `perturb_output` (`noise`) | returned log probabilities moved by seeded noise, deterministic per principal, and top candidates sorted again ([`crate::perturb`]); the most noise in force wins |
//!
//! Targets: `principal` (the caller's principal), `api_key` (its key id), `source_ip`,
//! `model` (the request's model), `team` (a virtual key's team). When several measures match, the strictest wins: revoked,
//! then blocked, then the lowest rate, with reduced detail on top.

use std::collections::HashMap;
use std::sync::Arc;

use modelward_store::enforcement::Measure;

/// Who a request is from and what it asks, as measures match it.
#[derive(Debug, Clone, Default)]
pub struct Subject<'a> {
    pub principal: Option<&'a str>,
    pub api_key: Option<&'a str>,
    pub source_ip: Option<&'a str>,
    pub model: Option<&'a str>,
    pub team: Option<&'a str>,
}

/// Which row of the `enforcement` table a measure is: what a gateway reports having in
/// force and applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Row {
    pub measure: String,
    pub target_kind: String,
    pub target: String,
    pub incident_id: String,
}

/// What applies to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decision {
    pub revoked: bool,
    pub blocked: bool,
    /// The lowest rate in force, with the target it is counted on (`kind:value`).
    pub rate_limit: Option<(u32, String)>,
    /// Log probabilities stripped (`reduce_output_detail` with `strip_logprobs`, the default).
    pub reduce_detail: bool,
    /// Top log probabilities capped at this many (`reduce_output_detail` with
    /// `strip_logprobs = false` and `max_top_logprobs`); the lowest cap wins.
    pub max_top_logprobs: Option<u32>,
    /// Proof of work of this many bits asked of each request (the most in force wins)...
    pub pow_bits: Option<u32>,
    /// ...and one bit more for each doubling of the caller's rate past this many requests a
    /// minute (the lowest in force wins).
    pub pow_step: Option<u32>,
    /// Log probabilities perturbed with this much noise (the most in force wins).
    pub perturb: Option<f64>,
    /// Every measure in force that matched the request (whether or not it was the strictest).
    pub matched: Vec<Arc<Row>>,
}

impl Decision {
    /// Whether output detail is reduced at all (stripped or capped).
    pub fn reduces_detail(&self) -> bool {
        self.reduce_detail || self.max_top_logprobs.is_some()
    }
}

/// A target kind and target.
type Target = (String, String);

/// The measures in force at one time, by target.
#[derive(Debug, Clone, Default)]
pub struct Measures {
    /// (target kind, target) → measures.
    by_target: HashMap<Target, Vec<(Parsed, Arc<Row>)>>,
    unapplied: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Parsed {
    Revoke,
    Block,
    RateLimit(u32),
    /// Strip, or cap at this many.
    ReduceDetail(Option<u32>),
    /// Base bits, requests a minute per added bit's doubling.
    ProofOfWork(u32, u32),
    Perturb(f64),
}

impl Measures {
    /// Indexes the measures read from the store.
    pub fn new(measures: &[Measure]) -> Measures {
        let mut out = Measures::default();
        for m in measures {
            let parsed = match m.measure.as_str() {
                "revoke_key" => Parsed::Revoke,
                "block" => Parsed::Block,
                "rate_limit" => {
                    let rpm = serde_json::from_str::<serde_json::Value>(&m.params)
                        .ok()
                        .and_then(|p| p.get("requests_per_minute")?.as_u64())
                        .map_or(1, |n| n.clamp(1, u64::from(u32::MAX)) as u32);
                    Parsed::RateLimit(rpm)
                }
                "proof_of_work" => {
                    let p =
                        serde_json::from_str::<serde_json::Value>(&m.params).unwrap_or_default();
                    let bits = p
                        .get("difficulty_bits")
                        .and_then(|v| v.as_u64())
                        .map_or(20, |n| n.min(u64::from(crate::pow::MAX_BITS)) as u32);
                    let step = p
                        .get("volume_step")
                        .and_then(|v| v.as_u64())
                        .map_or(crate::pow::VOLUME_STEP, |n| {
                            n.clamp(1, u64::from(u32::MAX)) as u32
                        });
                    Parsed::ProofOfWork(bits, step)
                }
                "perturb_output" => {
                    let noise = serde_json::from_str::<serde_json::Value>(&m.params)
                        .ok()
                        .and_then(|p| p.get("noise")?.as_f64())
                        .filter(|n| n.is_finite() && *n > 0.0)
                        .map_or(0.01, |n| n.min(1.0));
                    Parsed::Perturb(noise)
                }
                "reduce_output_detail" => {
                    let p =
                        serde_json::from_str::<serde_json::Value>(&m.params).unwrap_or_default();
                    let strip = p.get("strip_logprobs").and_then(|v| v.as_bool()) != Some(false);
                    let cap = p
                        .get("max_top_logprobs")
                        .and_then(|v| v.as_u64())
                        .map(|n| n.min(u64::from(u32::MAX)) as u32);
                    // Not stripping and no cap says nothing: strip (the strictest reading).
                    Parsed::ReduceDetail(if strip { None } else { cap.or(Some(0)) })
                }
                _ => {
                    out.unapplied += 1;
                    continue;
                }
            };
            let row = Arc::new(Row {
                measure: m.measure.clone(),
                target_kind: m.target_kind.clone(),
                target: m.target.clone(),
                incident_id: m.incident_id.clone(),
            });
            out.by_target
                .entry((m.target_kind.clone(), m.target.clone()))
                .or_default()
                .push((parsed, row));
        }
        out
    }

    /// How many measures are in force.
    pub fn len(&self) -> usize {
        self.by_target.values().map(Vec::len).sum::<usize>() + self.unapplied
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Measures in force that this gateway does not apply (kinds it does not know).
    pub fn unapplied(&self) -> usize {
        self.unapplied
    }

    /// Every measure this gateway applies.
    pub fn rows(&self) -> impl Iterator<Item = &Arc<Row>> {
        self.by_target.values().flatten().map(|(_, row)| row)
    }

    /// The strictest of what applies to a request.
    pub fn decide(&self, s: &Subject<'_>) -> Decision {
        let mut d = Decision::default();
        if self.by_target.is_empty() {
            return d;
        }
        let targets = [
            ("principal", s.principal),
            ("api_key", s.api_key),
            ("source_ip", s.source_ip),
            ("model", s.model),
            ("team", s.team),
        ];
        for (kind, value) in targets {
            let Some(value) = value else { continue };
            let Some(list) = self.by_target.get(&(kind.to_string(), value.to_string())) else {
                continue;
            };
            for (m, row) in list {
                d.matched.push(row.clone());
                match m {
                    Parsed::Revoke => d.revoked = true,
                    Parsed::Block => d.blocked = true,
                    Parsed::ReduceDetail(None) => d.reduce_detail = true,
                    Parsed::ProofOfWork(bits, step) => {
                        d.pow_bits = Some(d.pow_bits.map_or(*bits, |b| b.max(*bits)));
                        d.pow_step = Some(d.pow_step.map_or(*step, |s| s.min(*step)));
                    }
                    Parsed::Perturb(noise) => {
                        d.perturb = Some(d.perturb.map_or(*noise, |n| n.max(*noise)));
                    }
                    Parsed::ReduceDetail(Some(n)) => {
                        d.max_top_logprobs = Some(d.max_top_logprobs.map_or(*n, |m| m.min(*n)));
                    }
                    Parsed::RateLimit(rpm) => {
                        if d.rate_limit.as_ref().is_none_or(|(r, _)| rpm < r) {
                            d.rate_limit = Some((*rpm, format!("{kind}:{value}")));
                        }
                    }
                }
            }
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(measure: &str, kind: &str, target: &str, params: &str) -> Measure {
        Measure {
            measure: measure.into(),
            target_kind: kind.into(),
            target: target.into(),
            params: params.into(),
            incident_id: "INC-1".into(),
            reason: String::new(),
            created_at: 0,
            expires_at: None,
        }
    }

    #[test]
    fn the_strictest_measure_on_any_target_wins() {
        let measures = Measures::new(&[
            m(
                "rate_limit",
                "principal",
                "p1",
                r#"{"requests_per_minute":10}"#,
            ),
            m(
                "rate_limit",
                "source_ip",
                "203.0.113.9",
                r#"{"requests_per_minute":3}"#,
            ),
            m("reduce_output_detail", "model", "gpt-4o", "{}"),
            m("block", "api_key", "k2", "{}"),
            m("perturb_output", "principal", "p1", r#"{"noise":0.05}"#),
            m("perturb_output", "model", "gpt-4o", "{}"),
            m("lock_storage", "principal", "p1", "{}"),
            m(
                "proof_of_work",
                "principal",
                "p1",
                r#"{"kind":"proof_of_work","difficulty_bits":12}"#,
            ),
            m(
                "proof_of_work",
                "model",
                "gpt-4o",
                r#"{"kind":"proof_of_work","difficulty_bits":16}"#,
            ),
        ]);
        assert_eq!((measures.len(), measures.unapplied()), (9, 1));
        let d = measures.decide(&Subject {
            principal: Some("p1"),
            api_key: Some("k1"),
            source_ip: Some("203.0.113.9"),
            model: Some("gpt-4o"),
            team: None,
        });
        assert_eq!(d.matched.len(), 7);
        assert_eq!(
            Decision {
                matched: Vec::new(),
                ..d
            },
            Decision {
                revoked: false,
                blocked: false,
                rate_limit: Some((3, "source_ip:203.0.113.9".into())),
                reduce_detail: true,
                max_top_logprobs: None,
                pow_bits: Some(16),
                pow_step: Some(crate::pow::VOLUME_STEP),
                perturb: Some(0.05),
                matched: Vec::new(),
            }
        );
        let blocked = measures.decide(&Subject {
            api_key: Some("k2"),
            ..Subject::default()
        });
        assert!(blocked.blocked && blocked.rate_limit.is_none());
        assert_eq!(measures.decide(&Subject::default()), Decision::default());
    }

    #[test]
    fn reduced_detail_strips_or_caps_as_decided() {
        let capped = Measures::new(&[
            m(
                "reduce_output_detail",
                "principal",
                "p1",
                r#"{"kind":"reduce_output_detail","strip_logprobs":false,"max_top_logprobs":5}"#,
            ),
            m(
                "reduce_output_detail",
                "model",
                "m",
                r#"{"kind":"reduce_output_detail","strip_logprobs":false,"max_top_logprobs":2}"#,
            ),
        ]);
        let one = capped.decide(&Subject {
            principal: Some("p1"),
            ..Subject::default()
        });
        assert_eq!((one.reduce_detail, one.max_top_logprobs), (false, Some(5)));
        let both = capped.decide(&Subject {
            principal: Some("p1"),
            model: Some("m"),
            ..Subject::default()
        });
        assert_eq!(both.max_top_logprobs, Some(2));
        // PB-53's own: strip_logprobs = true.
        let strip = Measures::new(&[m(
            "reduce_output_detail",
            "principal",
            "p1",
            r#"{"kind":"reduce_output_detail","strip_logprobs":true,"max_top_logprobs":null}"#,
        )]);
        let d = strip.decide(&Subject {
            principal: Some("p1"),
            ..Subject::default()
        });
        assert!(d.reduce_detail && d.reduces_detail());
    }
}
