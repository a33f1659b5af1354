//! OCSF: each alert as a Detection Finding (class 2004, category Findings), one JSON document
//! per line.
//!
//! The finding follows OCSF [`VERSION`] (<https://schema.ocsf.io>); the tests validate every
//! finding of the example hunt against a JSON Schema generated from the OCSF schema sources
//! (`tools/ocsf-json-schema.py`). The mapping is in [`finding`] and in docs/outputs.md.

use std::io::Write;

use modelward_engine::{AlertSink, SinkError};
use modelward_rule::Alert;
use serde_json::{json, Map, Value};

use crate::doc::{severity_caption, severity_id, View};

/// The OCSF version the findings declare (`metadata.version`).
pub const VERSION: &str = "1.8.0";
pub const CLASS_UID: u32 = 2004;
pub const CATEGORY_UID: u32 = 2;
/// Activity 1, Create: a finding is reported once, when it is made.
pub const ACTIVITY_CREATE: u32 = 1;

/// The alert as an OCSF Detection Finding:
///
/// | OCSF | from the alert |
/// |---|---|
/// | `class_uid` 2004, `category_uid` 2, `activity_id` 1, `type_uid` 200401 | fixed: a finding created |
/// | `time` (ms) | `@timestamp` |
/// | `severity_id`, `severity` | `severity`: low 2, medium 3, high 4, critical 5 |
/// | `risk_score`, `risk_level_id` | `risk_score`; the severity (low 1 … critical 4) |
/// | `message` | the rule field `message`, else the rule's name |
/// | `status_id` 1 (New), `is_alert` true | fixed |
/// | `start_time`, `end_time` | `window`, else `evidence.first_seen`/`last_seen` |
/// | `count` | `evidence.events` |
/// | `metadata.uid` | `alert.id` |
/// | `metadata.product` | modelward and its version |
/// | `metadata.labels` | the rule's tags |
/// | `finding_info.uid`, `title`, `desc` | `alert.id`, the rule's name, its description |
/// | `finding_info.analytic` | the rule: `uid`, `name`, `version`, `category` (esql, sigma, detector), `type_id` 1 (Rule) |
/// | `finding_info.attacks[]` | each threat mapping: `tactic`, `technique`, `sub_technique` (ATT&CK and ATLAS told apart by their ids) |
/// | `finding_info.first_seen_time`, `last_seen_time`, `created_time` | `evidence.first_seen`, `last_seen`; `@timestamp` |
/// | `finding_info.data_sources` | the source files of the evidence |
/// | `finding_info.src_url` | the rule's first reference |
/// | `resources[]` | `entity.resource` (type `resource`), `entity.model` (type `ai_model`) |
/// | `evidences[0]` | `entity.principal` as `user.name`, `entity.source.ip` as `src_endpoint.ip`, the evidence as `data` |
/// | `observables[]` | the principal (type 4, User Name), the source IP (2, IP Address), the resource (10, Resource UID) |
/// | `unmapped` | what OCSF has no place for: the rule's type, origin and investigation guide, the window, the original time, the rule fields, the suppression |
pub fn finding(alert: &Value) -> Value {
    let v = View(alert);
    let severity = v.severity();
    let time = v.timestamp_ms().unwrap_or(0);
    let mut f = Map::new();
    f.insert("class_uid".into(), json!(CLASS_UID));
    f.insert("class_name".into(), json!("Detection Finding"));
    f.insert("category_uid".into(), json!(CATEGORY_UID));
    f.insert("category_name".into(), json!("Findings"));
    f.insert("activity_id".into(), json!(ACTIVITY_CREATE));
    f.insert("activity_name".into(), json!("Create"));
    f.insert("type_uid".into(), json!(CLASS_UID * 100 + ACTIVITY_CREATE));
    f.insert("type_name".into(), json!("Detection Finding: Create"));
    f.insert("time".into(), json!(time));
    f.insert("severity_id".into(), json!(severity_id(severity)));
    f.insert("severity".into(), json!(severity_caption(severity)));
    if let Some(r) = v.risk_score() {
        f.insert("risk_score".into(), json!(r));
    }
    let (risk_level_id, risk_level) = match severity {
        "low" => (1, "Low"),
        "high" => (3, "High"),
        "critical" => (4, "Critical"),
        _ => (2, "Medium"),
    };
    f.insert("risk_level_id".into(), json!(risk_level_id));
    f.insert("risk_level".into(), json!(risk_level));
    f.insert("message".into(), json!(v.message()));
    f.insert("status_id".into(), json!(1));
    f.insert("status".into(), json!("New"));
    f.insert("is_alert".into(), json!(true));
    let ms = |s: &str| modelward_event::parse_timestamp(s);
    if let Some((a, b)) = v.window().or_else(|| v.first_last_seen()) {
        if let (Some(a), Some(b)) = (ms(a), ms(b)) {
            f.insert("start_time".into(), json!(a));
            f.insert("end_time".into(), json!(b));
        }
    }
    if let Some(n) = v.event_count() {
        f.insert("count".into(), json!(n));
    }

    let mut metadata = Map::new();
    metadata.insert("version".into(), json!(VERSION));
    metadata.insert("uid".into(), json!(v.id()));
    metadata.insert(
        "product".into(),
        json!({
            "name": "modelward",
            "vendor_name": "modelward",
            "version": env!("CARGO_PKG_VERSION"),
        }),
    );
    let tags = v.rule_strings("tags");
    if !tags.is_empty() {
        metadata.insert("labels".into(), json!(tags));
    }
    f.insert("metadata".into(), Value::Object(metadata));

    let mut info = Map::new();
    info.insert("uid".into(), json!(v.id()));
    info.insert("title".into(), json!(v.rule("name").unwrap_or("")));
    if let Some(d) = v.rule("description") {
        info.insert("desc".into(), json!(d));
    }
    let mut analytic = Map::new();
    analytic.insert("uid".into(), json!(v.rule("id").unwrap_or("")));
    analytic.insert("name".into(), json!(v.rule("name").unwrap_or("")));
    analytic.insert("type_id".into(), json!(1));
    analytic.insert("type".into(), json!("Rule"));
    if let Some(t) = v.rule("type") {
        analytic.insert("category".into(), json!(t));
    }
    if let Some(ver) = v.rule("version") {
        analytic.insert("version".into(), json!(ver));
    }
    info.insert("analytic".into(), Value::Object(analytic));
    let attacks = attacks(&v);
    if !attacks.is_empty() {
        info.insert("attacks".into(), json!(attacks));
    }
    if let Some((a, b)) = v.first_last_seen() {
        if let (Some(a), Some(b)) = (ms(a), ms(b)) {
            info.insert("first_seen_time".into(), json!(a));
            info.insert("last_seen_time".into(), json!(b));
        }
    }
    info.insert("created_time".into(), json!(time));
    let files = v.source_files();
    if !files.is_empty() {
        info.insert("data_sources".into(), json!(files));
    }
    if let Some(r) = v.rule_strings("reference").first() {
        info.insert("src_url".into(), json!(r));
    }
    f.insert("finding_info".into(), Value::Object(info));

    let mut resources = Vec::new();
    if let Some(r) = v.entity("resource") {
        resources.push(json!({"name": r, "uid": r, "type": "resource"}));
    }
    if let Some(m) = v.entity("model") {
        resources.push(json!({"name": m, "type": "ai_model"}));
    }
    if !resources.is_empty() {
        f.insert("resources".into(), json!(resources));
    }

    let mut evidence = Map::new();
    if let Some(p) = v.entity("principal") {
        evidence.insert("user".into(), json!({"name": p}));
    }
    if let Some(ip) = v.entity("source.ip") {
        evidence.insert("src_endpoint".into(), json!({"ip": ip}));
    }
    if let Some(e) = v.evidence() {
        evidence.insert("data".into(), e.clone());
    }
    if !evidence.is_empty() {
        f.insert("evidences".into(), json!([Value::Object(evidence)]));
    }

    let mut observables = Vec::new();
    if let Some(p) = v.entity("principal") {
        observables.push(
            json!({"name": "evidences[0].user.name", "type_id": 4, "type": "User Name", "value": p}),
        );
    }
    if let Some(ip) = v.entity("source.ip") {
        observables.push(json!({"name": "evidences[0].src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": ip}));
    }
    if let Some(r) = v.entity("resource") {
        observables.push(
            json!({"name": "resources[0].uid", "type_id": 10, "type": "Resource UID", "value": r}),
        );
    }
    if !observables.is_empty() {
        f.insert("observables".into(), json!(observables));
    }

    let mut unmapped = Map::new();
    for key in ["type", "origin", "investigation_guide"] {
        if let Some(s) = v.rule(key) {
            unmapped.insert(format!("rule.{key}"), json!(s));
        }
    }
    if let Some((a, b)) = v.window() {
        unmapped.insert("window".into(), json!({"start": a, "end": b}));
    }
    if let Some(t) = v.original_time() {
        unmapped.insert("original_time".into(), json!(t));
    }
    let fields = v.fields();
    if !fields.is_empty() {
        unmapped.insert("fields".into(), Value::Object(fields));
    }
    if let Some(s) = alert.get("suppression") {
        unmapped.insert("suppression".into(), s.clone());
    }
    if !unmapped.is_empty() {
        f.insert("unmapped".into(), Value::Object(unmapped));
    }
    Value::Object(f)
}

/// One OCSF `attack` per technique (with its mapping's tactic), and one per mapping that has
/// a tactic and no technique.
fn attacks(v: &View<'_>) -> Vec<Value> {
    let entity = |id: &str, name: &str, reference: Option<&str>| {
        let mut m = Map::new();
        if !id.is_empty() {
            m.insert("uid".into(), json!(id));
        }
        if !name.is_empty() {
            m.insert("name".into(), json!(name));
        }
        if let Some(r) = reference.filter(|r| !r.is_empty()) {
            m.insert("src_url".into(), json!(r));
        }
        Value::Object(m)
    };
    let mut out = Vec::new();
    let techniques = v.techniques();
    for (tactic, t) in &techniques {
        let mut a = Map::new();
        if let Some(tac) = tactic {
            a.insert("tactic".into(), entity(tac.id, tac.name, tac.reference));
        }
        let tech = entity(t.id, t.name, t.reference);
        match t.parent {
            Some(parent) => {
                a.insert("technique".into(), entity(parent, "", None));
                a.insert("sub_technique".into(), tech);
            }
            None => {
                a.insert("technique".into(), tech);
            }
        }
        out.push(Value::Object(a));
    }
    for tac in v.tactics() {
        if techniques
            .iter()
            .any(|(t, _)| t.is_some_and(|t| t.id == tac.id && t.name == tac.name))
        {
            continue;
        }
        out.push(json!({"tactic": entity(tac.id, tac.name, tac.reference)}));
    }
    out
}

/// Writes one OCSF Detection Finding per line.
pub struct OcsfSink<W: Write> {
    out: W,
}

impl<W: Write> OcsfSink<W> {
    pub fn new(out: W) -> Self {
        OcsfSink { out }
    }
}

impl<W: Write> AlertSink for OcsfSink<W> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        serde_json::to_writer(&mut self.out, &finding(&alert.to_json()))?;
        self.out.write_all(b"\n")?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.out.flush()?;
        Ok(())
    }
}
