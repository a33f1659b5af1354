//! Alerts of the behavioural analyzers: one per finding (an analyzer, a principal, and what
//! the finding is about: a bucket, a prompt, a new value).

use modelward_behavior::Finding;
use modelward_rule::{Alert, AlertWindow};
use serde_json::{json, Map};

use crate::alerting::{over_events, record_json, stable_id};
use crate::Engine;

/// Risk points a finding gets above its severity's score: 8 for each doubling of its
/// `score` (the statistic over its threshold; 1 at the threshold), at most 25, so that a
/// finding ten times past its threshold ranks above one at it and stays below the next
/// severity (medium 47–72, high 73–98).
const RISK_PER_DOUBLING: f64 = 8.0;
const RISK_BAND: f64 = 25.0;

/// The risk score of a finding whose evidence has a `score` (the theft analyzers'): its
/// severity's, raised by how far past its threshold it is. None: the severity's.
fn risk_of(
    severity: &modelward_rule::Severity,
    evidence: &Map<String, serde_json::Value>,
) -> Option<u8> {
    let score = evidence
        .get("score")?
        .as_f64()
        .filter(|s| s.is_finite() && *s > 1.0)?;
    let bonus = (score.log2() * RISK_PER_DOUBLING)
        .round()
        .clamp(0.0, RISK_BAND);
    Some(severity.default_risk_score().saturating_add(bonus as u8))
}

pub fn behavior_alert(engine: &Engine, f: Finding) -> Option<Alert> {
    let meta = engine.behavior().meta(f.code)?;
    let mut alert = Alert::new(
        meta.clone(),
        f.timestamp,
        stable_id(&[f.code, &f.principal, &f.key]),
    );
    alert.window = Some(AlertWindow {
        start: f.first_seen.min(f.timestamp),
        end: f.last_seen.max(f.timestamp),
    });
    let mut entity = Map::new();
    entity.insert("principal".into(), json!(f.principal));
    if let Some(ip) = &f.source_ip {
        entity.insert("source.ip".into(), json!(ip));
    }
    if let Some(model) = &f.model {
        entity.insert("model".into(), json!(model));
    }
    alert.entity = entity;
    alert.fields.insert("message".into(), json!(f.summary));
    alert.risk_score = risk_of(&meta.severity, &f.evidence);
    alert.evidence = f.evidence;
    over_events(
        &mut alert,
        None,
        f.first_seen,
        f.last_seen,
        f.samples
            .iter()
            .map(|s| record_json(&s.file, s.line, s.offset, s.hash)),
    );
    Some(alert)
}

#[cfg(test)]
mod risk_tests {
    use super::*;
    use modelward_rule::Severity;

    /// Issue 14, item 8: within a severity, a finding far past its threshold ranks above one
    /// at it, and never reaches the next severity's score.
    #[test]
    fn risk_rises_with_the_score_within_the_band() {
        let e = |score: f64| {
            let mut m = Map::new();
            m.insert("score".into(), json!(score));
            m
        };
        let m = Severity::Medium;
        assert_eq!(risk_of(&m, &Map::new()), None);
        assert_eq!(risk_of(&m, &e(1.0)), None);
        assert_eq!(risk_of(&m, &e(2.0)), Some(55));
        assert_eq!(risk_of(&m, &e(10.0)), Some(47 + 25));
        assert_eq!(risk_of(&Severity::High, &e(1e9)), Some(98));
        assert_eq!(risk_of(&m, &e(f64::NAN)), None);
        let mut alert = Alert::new(
            std::sync::Arc::new(modelward_rule::RuleMeta::new(
                "MW-TH-0004",
                "flood",
                modelward_rule::RuleType::Detector,
                m,
                47,
            )),
            0,
            "x".into(),
        );
        alert.risk_score = risk_of(&m, &e(4.0));
        assert_eq!(alert.to_json()["risk_score"], json!(63));
    }
}
