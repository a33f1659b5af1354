//! Alerts of the built-in detectors: one per finding (a detector, an event, and for content
//! detectors the side of the conversation).

use modelward_detectors::Finding;
use modelward_esql::table::document_id;
use modelward_event::Event;
use modelward_rule::Alert;
use serde_json::{json, Map};

use crate::alerting::{entity_of, lookup, on_event, stable_id};
use crate::exceptions::Tally;
use crate::Engine;

/// The alert of a finding on `event` (of time `ts`), unless an exception matches the event
/// (then it is counted in `excluded`). `clock` dates an event without a time.
pub fn finding_alert(
    engine: &Engine,
    finding: Finding,
    (ts, event): (Option<i64>, &Event),
    clock: i64,
    excluded: &mut Tally,
) -> Option<Alert> {
    let meta = engine.detectors().meta(finding.code)?;
    let role = finding.role.map_or("", |r| r.as_str());
    if let Some(x) = engine
        .exceptions()
        .for_rule(meta)
        .excluding_event(event, ts)
    {
        excluded.alert(x);
        return None;
    }
    // A name that says who judged is the judge's (a Bedrock guardrail's or modelward's own
    // verdict is not "detected by Azure AI Content Safety Prompt Shields").
    let meta = match modelward_detectors::alert_name(finding.code, &finding.evidence) {
        Some(name) => {
            let mut renamed = (**meta).clone();
            renamed.name = name;
            std::sync::Arc::new(renamed)
        }
        None => meta.clone(),
    };
    let mut alert = Alert::new(
        meta,
        ts.unwrap_or(clock),
        stable_id(&[finding.code, &document_id(event), role]),
    );
    let mut fields = Map::new();
    fields.insert("message".into(), json!(finding.summary));
    alert.entity = entity_of(&fields, &lookup(event));
    alert.fields = fields;
    alert.evidence = finding.evidence;
    alert.severity = finding.severity;
    on_event(&mut alert, event, ts);
    Some(alert)
}
