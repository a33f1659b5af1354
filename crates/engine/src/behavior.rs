//! Alerts of the behavioural analyzers: one per finding (an analyzer, a principal, and what
//! the finding is about: a bucket, a prompt, a new value).

use modelward_behavior::Finding;
use modelward_rule::{Alert, AlertWindow};
use serde_json::{json, Map};

use crate::alerting::{over_events, record_json, stable_id};
use crate::Engine;

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
