//! Alerts of the behavioural analyzers: one per finding (an analyzer, a principal, and what
//! the finding is about: a bucket, a prompt, a new value).

use modelward_behavior::Finding;
use modelward_event::format_timestamp;
use modelward_rule::{Alert, AlertWindow};
use serde_json::{json, Map, Value};

use crate::alerting::stable_id;
use crate::Engine;

pub fn behavior_alerts(engine: &Engine, findings: Vec<Finding>) -> Vec<Alert> {
    let mut out = Vec::new();
    for f in findings {
        let Some(meta) = engine.behavior().meta(f.code) else {
            continue;
        };
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
        let mut evidence = f.evidence;
        evidence.insert("first_seen".into(), json!(format_timestamp(f.first_seen)));
        evidence.insert("last_seen".into(), json!(format_timestamp(f.last_seen)));
        evidence.insert(
            "samples".into(),
            Value::Array(
                f.samples
                    .iter()
                    .map(|s| json!({"file": s.file, "line": s.line}))
                    .collect(),
            ),
        );
        alert.evidence = evidence;
        out.push(alert);
    }
    out
}
