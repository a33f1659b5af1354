//! Alerts of Sigma rules: one per matching event, and the matches of correlation rules,
//! evaluated over event time once every event is in (dependencies first, so a correlation
//! may count another's matches).

use std::sync::Arc;

use modelward_esql::table::document_id;
use modelward_event::{format_timestamp, Event};
use modelward_rule::{Alert, AlertWindow};
use modelward_sigma::correlation::{evaluate, CorrelationMatch, Hit, Limits};
use modelward_sigma::{SigmaCorrelation, Source};
use serde_json::{json, Map, Value as Json};

use crate::alerting::{entity_of, stable_id};
use crate::exceptions::Tally;
use crate::Engine;

#[derive(Default)]
pub struct SigmaOutcome {
    pub alerts: Vec<Alert>,
    pub evicted: u64,
    /// Matches without a timestamp, which no correlation can place.
    pub no_timestamp: u64,
    /// Matches exceptions left out: a rule's alerts, and the events of correlations.
    pub excluded: Tally,
}

fn origin_json(event: &Event) -> Json {
    json!({"file": &*event.origin.file, "line": event.origin.line, "offset": event.origin.offset})
}

fn lookup(event: &Event) -> impl Fn(&str) -> Option<Json> + '_ {
    move |name| event.get(name).into_iter().next().cloned()
}

/// Correlations another correlation counts without `generate` raise no alert of their own.
fn silenced(correlations: &[SigmaCorrelation]) -> Vec<bool> {
    let mut quiet = vec![false; correlations.len()];
    for c in correlations.iter().filter(|c| !c.doc.generate) {
        for s in &c.sources {
            if let Source::Correlation(k) = s {
                quiet[*k] = true;
            }
        }
    }
    quiet
}

pub fn sigma_alerts(engine: &Engine, hits: Vec<Vec<(Option<i64>, Arc<Event>)>>) -> SigmaOutcome {
    let set = engine.sigma();
    let mut out = SigmaOutcome::default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // The exceptions of each rule; a correlation counts the events of a rule that neither
    // its own nor the rule's exceptions match.
    let own: Vec<_> = set
        .rules
        .iter()
        .map(|r| engine.exceptions().for_rule(&r.meta))
        .collect();
    for (r, rule) in set.rules.iter().enumerate() {
        if !rule.emits {
            continue;
        }
        for (ts, event) in &hits[r] {
            if let Some(x) = own[r].excluding_event(event, *ts) {
                out.excluded.alert(x);
                continue;
            }
            let id = stable_id(&[&rule.meta.id, &document_id(event)]);
            let mut alert = Alert::new(rule.meta.clone(), ts.unwrap_or(now), id);
            alert.original_time = *ts;
            let mut fields = Map::new();
            for f in &rule.fields {
                if let Some(v) = lookup(event)(f) {
                    fields.insert(f.clone(), v);
                }
            }
            alert.entity = entity_of(&fields, &lookup(event));
            alert.fields = fields;
            alert.evidence.insert("source".into(), origin_json(event));
            out.alerts.push(alert);
        }
    }
    let quiet = silenced(&set.correlations);
    let mut matches: Vec<Vec<CorrelationMatch>> = Vec::with_capacity(set.correlations.len());
    for (k, c) in set.correlations.iter().enumerate() {
        let mut input = Vec::new();
        let mine = engine.exceptions().for_rule(&c.meta);
        for (source, s) in c.sources.iter().enumerate() {
            match s {
                Source::Rule(r) => {
                    let exceptions = mine.union(&own[*r]);
                    for (ts, event) in &hits[*r] {
                        let Some(ts) = ts else {
                            out.no_timestamp += 1;
                            continue;
                        };
                        if let Some(x) = exceptions.excluding_event(event, Some(*ts)) {
                            out.excluded.event(x);
                            continue;
                        }
                        input.push(Hit {
                            ts: *ts,
                            source,
                            event: event.clone(),
                        });
                    }
                }
                Source::Correlation(j) => {
                    for m in matches.get(*j).into_iter().flatten() {
                        input.push(Hit {
                            ts: m.ts,
                            source,
                            event: m.last.clone(),
                        });
                    }
                }
            }
        }
        let (found, stats) = evaluate(c, input, Limits::default());
        out.evicted += stats.evicted;
        if !quiet[k] {
            out.alerts
                .extend(found.iter().map(|m| correlation_alert(c, m)));
        }
        matches.push(found);
    }
    out
}

fn figure_name(c: &SigmaCorrelation) -> &'static str {
    use modelward_sigma::rule::CorrelationType::*;
    match c.doc.kind {
        EventCount => "event_count",
        ValueCount => "value_count",
        Temporal | TemporalOrdered => "rules_matched",
        ValueSum => "value_sum",
        ValueAvg => "value_avg",
        ValuePercentile => "value_percentile",
        ValueMedian => "value_median",
        ValueMin => "value_min",
        ValueMax => "value_max",
    }
}

fn correlation_alert(c: &SigmaCorrelation, m: &CorrelationMatch) -> Alert {
    let group_key: Vec<String> = m.group.iter().map(|(_, v)| v.to_string()).collect();
    let id = stable_id(&[&c.meta.id, &group_key.join("\u{1f}"), &m.ts.to_string()]);
    let mut alert = Alert::new(c.meta.clone(), m.ts, id);
    alert.window = Some(AlertWindow {
        start: m.window_start,
        end: m.ts,
    });
    let mut fields = Map::new();
    for (name, value) in &m.group {
        fields.insert(name.clone(), value.clone());
    }
    let value = if m.value.fract() == 0.0 {
        json!(m.value as i64)
    } else {
        json!(m.value)
    };
    fields.insert(figure_name(c).into(), value);
    alert.entity = entity_of(&fields, &lookup(&m.last));
    alert.fields = fields;
    alert.evidence.insert("events".into(), json!(m.events));
    alert
        .evidence
        .insert("first_seen".into(), json!(format_timestamp(m.first)));
    alert
        .evidence
        .insert("last_seen".into(), json!(format_timestamp(m.ts)));
    alert.evidence.insert(
        "samples".into(),
        Json::Array(m.samples.iter().map(|e| origin_json(e)).collect()),
    );
    alert
}
