//! Alerts of the built-in detectors: one per finding (a detector, an event, and for content
//! detectors the side of the conversation).

use std::sync::Arc;

use modelward_detectors::Finding;
use modelward_esql::table::document_id;
use modelward_event::Event;
use modelward_rule::Alert;
use serde_json::{json, Map};

use crate::alerting::{entity_of, stable_id};
use crate::exceptions::Tally;
use crate::record::event_time;
use crate::Engine;

/// The alerts of the findings no exception matches (judged on the finding's event); those
/// it matches are counted in `excluded`.
pub fn finding_alerts(
    engine: &Engine,
    findings: Vec<(Finding, Arc<Event>)>,
    excluded: &mut Tally,
) -> Vec<Alert> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut out = Vec::new();
    for (finding, event) in findings {
        let Some(meta) = engine.detectors().meta(finding.code) else {
            continue;
        };
        let role = finding.role.map_or("", |r| r.as_str());
        let ts = event_time(&event, None);
        if let Some(x) = engine
            .exceptions()
            .for_rule(meta)
            .excluding_event(&event, ts)
        {
            excluded.alert(x);
            continue;
        }
        let mut alert = Alert::new(
            meta.clone(),
            ts.unwrap_or(now),
            stable_id(&[finding.code, &document_id(&event), role]),
        );
        alert.original_time = ts;
        let lookup = |name: &str| event.get(name).into_iter().next().cloned();
        let mut fields = Map::new();
        fields.insert("message".into(), json!(finding.summary));
        alert.entity = entity_of(&fields, &lookup);
        alert.fields = fields;
        alert.evidence = finding.evidence;
        alert.severity = finding.severity;
        alert.evidence.insert(
            "source".into(),
            json!({"file": &*event.origin.file, "line": event.origin.line, "offset": event.origin.offset}),
        );
        out.push(alert);
    }
    out
}
