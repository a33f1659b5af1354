use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::{RuleMeta, Severity};

/// The JSON Schema every alert document validates against (draft 2020-12).
pub const ALERT_SCHEMA: &str = include_str!("../../../schema/alert.schema.json");

/// The execution window an alert was raised in (event time, epoch milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertWindow {
    pub start: i64,
    pub end: i64,
}

/// Alerts folded into this one by alert suppression.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// (field, value) of the suppression group.
    pub terms: Vec<(String, Value)>,
    pub start: i64,
    pub end: i64,
    /// How many further alerts were suppressed into this one.
    pub docs_count: u64,
}

/// One alert: rule metadata, when and where, and the evidence.
#[derive(Debug, Clone)]
pub struct Alert {
    pub rule: Arc<RuleMeta>,
    /// When the alert was raised: the rule execution time (event time).
    pub timestamp: i64,
    /// A stable id: the same finding gets the same id in every run.
    pub id: String,
    pub window: Option<AlertWindow>,
    /// The time of the source event, for alerts on single events.
    pub original_time: Option<i64>,
    /// Who or what the alert is about: `principal`, `source.ip`, `resource`, `model`.
    pub entity: Map<String, Value>,
    /// Rule-specific fields at the top level (for ES|QL, the result row's columns).
    pub fields: Map<String, Value>,
    /// Where the evidence is: sample source records (file, line, offset) and statistics.
    pub evidence: Map<String, Value>,
    pub suppression: Option<Suppression>,
    /// The severity of this alert when it differs from its rule's (a detector's match of a
    /// given severity); the risk score follows it.
    pub severity: Option<Severity>,
    /// The risk score of this alert when it differs from its severity's: a finding far past
    /// its threshold ranks above one at it, within the same severity's band.
    pub risk_score: Option<u8>,
}

fn iso(ms: i64) -> Value {
    Value::String(modelward_event::format_timestamp(ms))
}

impl Alert {
    pub fn new(rule: Arc<RuleMeta>, timestamp: i64, id: String) -> Alert {
        Alert {
            rule,
            timestamp,
            id,
            window: None,
            original_time: None,
            entity: Map::new(),
            fields: Map::new(),
            evidence: Map::new(),
            suppression: None,
            severity: None,
            risk_score: None,
        }
    }

    /// The alert as one JSON document (ECS names where ECS has them). Rule-specific fields
    /// come first and are overridden by the alert's own fields, as Kibana merges them.
    pub fn to_json(&self) -> Value {
        let mut doc = self.fields.clone();
        let rule = &self.rule;
        let mut rule_obj = json!({
            "id": rule.id,
            "name": rule.name,
            "type": rule.rule_type.as_str(),
            "description": rule.description,
            "origin": rule.origin,
        });
        if let Value::Object(r) = &mut rule_obj {
            if !rule.references.is_empty() {
                r.insert("reference".into(), json!(rule.references));
            }
            if !rule.tags.is_empty() {
                r.insert("tags".into(), json!(rule.tags));
            }
            if let Some(v) = &rule.version {
                r.insert("version".into(), json!(v));
            }
            if let Some(note) = &rule.note {
                r.insert("investigation_guide".into(), json!(note));
            }
        }
        doc.insert("@timestamp".into(), iso(self.timestamp));
        doc.insert("event".into(), json!({"kind": "alert"}));
        doc.insert("rule".into(), rule_obj);
        let risk = match self.severity.filter(|s| *s != rule.severity) {
            Some(severity) => {
                doc.insert("severity".into(), json!(severity.as_str()));
                severity.default_risk_score()
            }
            None => {
                doc.insert("severity".into(), json!(rule.severity.as_str()));
                rule.risk_score
            }
        };
        doc.insert(
            "risk_score".into(),
            json!(self.risk_score.unwrap_or(risk).min(100)),
        );
        doc.insert(
            "threat".into(),
            serde_json::to_value(&rule.threat).unwrap_or(Value::Null),
        );
        doc.insert("alert".into(), json!({"id": self.id}));
        doc.insert("entity".into(), Value::Object(self.entity.clone()));
        if let Some(w) = self.window {
            doc.insert(
                "window".into(),
                json!({"start": iso(w.start), "end": iso(w.end)}),
            );
        }
        if let Some(t) = self.original_time {
            doc.insert("original_time".into(), iso(t));
        }
        if !self.evidence.is_empty() {
            doc.insert("evidence".into(), Value::Object(self.evidence.clone()));
        }
        if let Some(s) = &self.suppression {
            let terms: Vec<Value> = s
                .terms
                .iter()
                .map(|(f, v)| json!({"field": f, "value": v}))
                .collect();
            doc.insert(
                "suppression".into(),
                json!({"terms": terms, "start": iso(s.start), "end": iso(s.end), "docs_count": s.docs_count}),
            );
        }
        Value::Object(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RuleType;

    #[test]
    fn an_alert_of_its_own_severity_carries_its_risk_score() {
        let rule = Arc::new(RuleMeta::new(
            "r",
            "R",
            RuleType::Detector,
            Severity::Medium,
            47,
        ));
        let mut alert = Alert::new(rule, 0, "a".into());
        assert_eq!(alert.to_json()["severity"], json!("medium"));
        alert.severity = Some(Severity::Critical);
        assert_eq!(alert.to_json()["severity"], json!("critical"));
        assert_eq!(alert.to_json()["risk_score"], json!(99));
    }
}
