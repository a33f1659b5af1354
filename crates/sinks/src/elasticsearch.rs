//! Elasticsearch and OpenSearch: the `_bulk` API into a data stream, documents with ECS names.
//!
//! # What is sent
//!
//! ```text
//! POST <url>/<data stream>/_bulk?filter_path=errors,items.*.status,items.*.error[&pipeline=P]
//! Content-Type: application/x-ndjson
//! Authorization: ApiKey <key>  |  Basic <user:password>   (when configured)
//!
//! {"create":{"_id":"<alert id>"}}
//! {"@timestamp":…,"event":{"kind":"alert",…},"rule":{…},…}
//! …
//! ```
//!
//! Data streams take only `create`. The document id is the alert's stable id, so a replayed
//! alert is refused with 409 (`version_conflict_engine_exception`) and counted as already
//! there, not indexed twice (within one backing index: after a rollover the same id can be
//! written again).
//!
//! # Answers
//!
//! The request's status first: 413 splits the batch; 429, 408 and 5xx retry it whole; 401,
//! 403 and 404 (no such data stream and no template to create it) stop the output; any other
//! 4xx refuses the batch. A 200 carries one status per document (`errors: true` when any
//! failed): 2xx and 409 are delivered, 429 and 5xx are sent again (only those documents), and
//! any other status (a `mapper_parsing_exception`, a `document_parsing_exception`) is refused
//! for good, with its `error.type` and `error.reason`.
//!
//! # The document
//!
//! [`document`] maps the alert to ECS (docs/outputs.md has the table and the index template).

use std::time::Duration;

use modelward_http::{status_text, Scrubber};
use serde_json::{json, Map, Value};

use crate::delivery::{Outcome, Record, Transport};
use crate::doc::{severity_id, View};
use crate::secret::Secret;

/// The default bytes of one `_bulk` request (Elastic suggests a few MB to a few tens).
pub const DEFAULT_BATCH_MAX_BYTES: usize = 5 * 1024 * 1024;
/// How much of a `_bulk` answer is read.
const ANSWER_LIMIT: u64 = 64 * 1024 * 1024;

/// How requests are authenticated.
#[derive(Debug, Clone)]
pub enum Auth {
    None,
    /// `Authorization: ApiKey <encoded key>` (the `encoded` value Elasticsearch returns).
    ApiKey(Secret),
    Basic {
        username: String,
        password: Secret,
    },
}

/// One Elasticsearch or OpenSearch data stream.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `http(s)://host:port`, and a path prefix if the cluster is behind one.
    pub url: String,
    /// `logs-modelward-default`.
    pub data_stream: String,
    pub auth: Auth,
    /// An ingest pipeline to run the documents through.
    pub pipeline: Option<String>,
    pub timeout: Duration,
}

pub struct Elasticsearch {
    settings: Settings,
    agent: modelward_http::ureq::Agent,
    bulk_url: String,
    scrubber: Scrubber,
    /// `data_stream.{type,dataset,namespace}` from the name, when it has three parts.
    data_stream: Option<(String, String, String)>,
}

impl Elasticsearch {
    pub fn new(settings: Settings, agent: modelward_http::ureq::Agent) -> Elasticsearch {
        let mut bulk_url = format!(
            "{}/{}/_bulk?filter_path=errors,items.*.status,items.*.error",
            settings.url.trim_end_matches('/'),
            settings.data_stream
        );
        if let Some(p) = &settings.pipeline {
            bulk_url.push_str("&pipeline=");
            bulk_url.push_str(&crate::url::encode(p));
        }
        let mut scrubber = Scrubber::new().url(&settings.url).url(&bulk_url);
        match &settings.auth {
            Auth::None => {}
            Auth::ApiKey(k) => scrubber = scrubber.secret(k.expose()),
            Auth::Basic { password, .. } => scrubber = scrubber.secret(password.expose()),
        }
        let data_stream = data_stream_parts(&settings.data_stream);
        Elasticsearch {
            settings,
            agent,
            bulk_url,
            scrubber,
            data_stream,
        }
    }

    fn authorization(&self) -> Option<String> {
        match &self.settings.auth {
            Auth::None => None,
            Auth::ApiKey(k) => Some(format!("ApiKey {}", k.expose())),
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                crate::url::base64(format!("{username}:{}", password.expose()).as_bytes())
            )),
        }
    }
}

/// `logs-modelward-default` → (`logs`, `modelward`, `default`).
pub fn data_stream_parts(name: &str) -> Option<(String, String, String)> {
    let mut parts = name.splitn(3, '-');
    let (t, d, n) = (parts.next()?, parts.next()?, parts.next()?);
    if t.is_empty() || d.is_empty() || n.is_empty() || n.contains('-') {
        return None;
    }
    Some((t.to_string(), d.to_string(), n.to_string()))
}

impl Transport for Elasticsearch {
    fn describe(&self) -> String {
        format!(
            "elasticsearch {} data stream {}",
            modelward_http::redact_url(&self.settings.url),
            self.settings.data_stream
        )
    }

    fn encode(&self, alert: &Value) -> Result<Vec<u8>, String> {
        let view = View(alert);
        let mut doc = document(alert);
        if let (Some((t, d, n)), Value::Object(o)) = (&self.data_stream, &mut doc) {
            o.insert(
                "data_stream".into(),
                json!({"type": t, "dataset": d, "namespace": n}),
            );
        }
        let mut out = serde_json::to_vec(&json!({"create": {"_id": view.id()}}))
            .map_err(|e| e.to_string())?;
        out.push(b'\n');
        serde_json::to_writer(&mut out, &doc).map_err(|e| e.to_string())?;
        out.push(b'\n');
        Ok(out)
    }

    fn send(&mut self, batch: &[Record]) -> Outcome {
        let body: Vec<u8> = batch.iter().flat_map(|r| r.body.iter().copied()).collect();
        let mut request = self
            .agent
            .post(&self.bulk_url)
            .header("Content-Type", "application/x-ndjson");
        if let Some(a) = self.authorization() {
            request = request.header("Authorization", a);
        }
        let mut response = match request.send(&body[..]) {
            Ok(r) => r,
            Err(e) => {
                let f = modelward_http::classify(&e, self.settings.timeout);
                let why = self.scrubber.scrub(&f.why);
                return if f.retry {
                    Outcome::Retry {
                        why,
                        retry_after: None,
                    }
                } else {
                    Outcome::Fatal { why }
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = modelward_http::retry_after(response.headers());
        let text = modelward_http::read_text(&mut response, ANSWER_LIMIT);
        let why = || self.scrubber.scrub(&status_text(status, &text));
        match status {
            200..=299 => bulk_outcome(&text, batch.len()),
            413 => Outcome::TooLarge { why: why() },
            s if modelward_http::retryable_status(s) => Outcome::Retry {
                why: why(),
                retry_after,
            },
            401 | 403 | 404 => Outcome::Fatal { why: why() },
            _ => Outcome::Rejected { why: why() },
        }
    }
}

/// What a `_bulk` answer says of each document.
pub fn bulk_outcome(text: &str, count: usize) -> Outcome {
    let answer: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            return Outcome::Retry {
                why: format!("the _bulk answer is not JSON ({e})"),
                retry_after: None,
            }
        }
    };
    let items = answer
        .get("items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if answer.get("errors") == Some(&Value::Bool(false)) && items.is_empty() {
        // filter_path leaves no items when none failed on some versions.
        return Outcome::Delivered { duplicates: 0 };
    }
    if items.len() != count {
        return Outcome::Retry {
            why: format!(
                "the _bulk answer has {} item(s) for {count} document(s)",
                items.len()
            ),
            retry_after: None,
        };
    }
    let mut retry = Vec::new();
    let mut rejected = Vec::new();
    let mut duplicates = 0;
    let mut first_retry = None;
    for (i, item) in items.iter().enumerate() {
        let result = item
            .as_object()
            .and_then(|o| o.values().next())
            .cloned()
            .unwrap_or(Value::Null);
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(0) as u16;
        let error = || {
            let e = result.get("error");
            let kind = e
                .and_then(|e| e.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("error");
            let reason = e
                .and_then(|e| e.get("reason"))
                .and_then(Value::as_str)
                .unwrap_or("");
            let reason: String = reason.chars().take(300).collect();
            format!("HTTP {status} {kind}: {reason}")
        };
        match status {
            200..=299 => {}
            409 => duplicates += 1,
            s if modelward_http::retryable_status(s) || s == 0 => {
                first_retry.get_or_insert_with(error);
                retry.push(i);
            }
            _ => rejected.push((i, error())),
        }
    }
    if retry.is_empty() && rejected.is_empty() {
        return Outcome::Delivered { duplicates };
    }
    Outcome::Partial {
        why: first_retry.unwrap_or_else(|| "documents refused".into()),
        retry,
        rejected,
        duplicates,
    }
}

/// The alert as an ECS document (docs/outputs.md):
///
/// - ECS: `@timestamp`, `message`, `event.{kind,category,type,id,severity,risk_score,start,
///   end,dataset,module}`, `rule.{id,name,description,reference,version,category,ruleset}`,
///   `tags`, `threat.{framework,tactic.*,technique.*,technique.subtechnique.*}` (the values of
///   every mapping), `user.name` (the principal), `source.ip` (when it is an IP address),
///   `gen_ai.request.model`, `log.file.path` and `log.offset` (the source record of an alert
///   on one event), `observer.{vendor,product,type}`;
/// - `modelward.*` for what ECS has no name for: `severity` (the word), `rule.type`,
///   `rule.origin`, `rule.investigation_guide`, `entity`, `window`, `original_time`,
///   `evidence`, `fields` (the rule's own fields: ES|QL columns), `threat` (the mappings as
///   they are), `suppression`.
pub fn document(alert: &Value) -> Value {
    let v = View(alert);
    let mut event = Map::new();
    event.insert("kind".into(), json!("alert"));
    event.insert("category".into(), json!(["intrusion_detection"]));
    event.insert("type".into(), json!(["info"]));
    event.insert("id".into(), json!(v.id()));
    event.insert("severity".into(), json!(severity_id(v.severity())));
    if let Some(r) = v.risk_score() {
        event.insert("risk_score".into(), json!(r));
    }
    if let Some((start, end)) = v.window().or_else(|| v.first_last_seen()) {
        event.insert("start".into(), json!(start));
        event.insert("end".into(), json!(end));
    }
    event.insert("dataset".into(), json!("modelward.alerts"));
    event.insert("module".into(), json!("modelward"));

    let mut rule = Map::new();
    for key in ["id", "name", "description", "version"] {
        if let Some(s) = v.rule(key) {
            rule.insert(key.into(), json!(s));
        }
    }
    let refs = v.rule_strings("reference");
    if !refs.is_empty() {
        rule.insert("reference".into(), json!(refs));
    }
    if let Some(t) = v.rule("type") {
        rule.insert("category".into(), json!(t));
    }
    rule.insert("ruleset".into(), json!("modelward"));

    let mut doc = Map::new();
    if let Some(t) = v.timestamp() {
        doc.insert("@timestamp".into(), json!(t));
    }
    doc.insert("message".into(), json!(v.message()));
    doc.insert("event".into(), Value::Object(event));
    doc.insert("rule".into(), Value::Object(rule));
    let tags = v.rule_strings("tags");
    if !tags.is_empty() {
        doc.insert("tags".into(), json!(tags));
    }
    if let Some(threat) = ecs_threat(&v) {
        doc.insert("threat".into(), threat);
    }
    if let Some(p) = v.entity("principal") {
        doc.insert("user".into(), json!({"name": p}));
    }
    if let Some(ip) = v.entity("source.ip") {
        if ip.parse::<std::net::IpAddr>().is_ok() {
            doc.insert("source".into(), json!({"ip": ip}));
        }
    }
    if let Some(m) = v.entity("model") {
        doc.insert("gen_ai".into(), json!({"request": {"model": m}}));
    }
    if let Some((file, _line, offset)) = v.source_record() {
        let mut log = json!({"file": {"path": file}});
        if let Some(o) = offset {
            log["offset"] = json!(o);
        }
        doc.insert("log".into(), log);
    }
    doc.insert(
        "observer".into(),
        json!({"vendor": "modelward", "product": "modelward", "type": "ids"}),
    );

    let mut mw = Map::new();
    mw.insert("severity".into(), json!(v.severity()));
    let mut mw_rule = Map::new();
    for (from, to) in [
        ("type", "type"),
        ("origin", "origin"),
        ("investigation_guide", "investigation_guide"),
    ] {
        if let Some(s) = v.rule(from) {
            mw_rule.insert(to.into(), json!(s));
        }
    }
    mw.insert("rule".into(), Value::Object(mw_rule));
    if let Some(e) = v.entity_map() {
        mw.insert("entity".into(), Value::Object(e.clone()));
    }
    if let Some((start, end)) = v.window() {
        mw.insert("window".into(), json!({"start": start, "end": end}));
    }
    if let Some(t) = v.original_time() {
        mw.insert("original_time".into(), json!(t));
    }
    if let Some(e) = v.evidence() {
        mw.insert("evidence".into(), e.clone());
    }
    let fields = v.fields();
    if !fields.is_empty() {
        mw.insert("fields".into(), Value::Object(fields));
    }
    if !v.threat().is_empty() {
        mw.insert("threat".into(), json!(v.threat()));
    }
    if let Some(s) = alert.get("suppression") {
        mw.insert("suppression".into(), s.clone());
    }
    doc.insert("modelward".into(), Value::Object(mw));
    Value::Object(doc)
}

/// ECS `threat.*`: each field holds the values of every mapping (ECS threat fields are
/// arrays of keywords), in order, once each.
fn ecs_threat(v: &View<'_>) -> Option<Value> {
    fn push<'a>(list: &mut Vec<&'a str>, s: &'a str) {
        if !s.is_empty() && !list.contains(&s) {
            list.push(s);
        }
    }
    let mut frameworks = Vec::new();
    let (mut tid, mut tname, mut tref) = (Vec::new(), Vec::new(), Vec::new());
    for t in v.tactics() {
        push(&mut frameworks, t.framework);
        push(&mut tid, t.id);
        push(&mut tname, t.name);
        push(&mut tref, t.reference.unwrap_or(""));
    }
    let (mut qid, mut qname, mut qref) = (Vec::new(), Vec::new(), Vec::new());
    let (mut sid, mut sname, mut sref) = (Vec::new(), Vec::new(), Vec::new());
    for (_, t) in v.techniques() {
        push(&mut frameworks, t.framework);
        if t.parent.is_some() {
            push(&mut sid, t.id);
            push(&mut sname, t.name);
            push(&mut sref, t.reference.unwrap_or(""));
        } else {
            push(&mut qid, t.id);
            push(&mut qname, t.name);
            push(&mut qref, t.reference.unwrap_or(""));
        }
    }
    if frameworks.is_empty() {
        return None;
    }
    let mut threat = Map::new();
    threat.insert("framework".into(), json!(frameworks));
    let obj = |id: Vec<&str>, name: Vec<&str>, reference: Vec<&str>| {
        let mut m = Map::new();
        if !id.is_empty() {
            m.insert("id".into(), json!(id));
        }
        if !name.is_empty() {
            m.insert("name".into(), json!(name));
        }
        if !reference.is_empty() {
            m.insert("reference".into(), json!(reference));
        }
        m
    };
    let tactic = obj(tid, tname, tref);
    if !tactic.is_empty() {
        threat.insert("tactic".into(), Value::Object(tactic));
    }
    let mut technique = obj(qid, qname, qref);
    let sub = obj(sid, sname, sref);
    if !sub.is_empty() {
        technique.insert("subtechnique".into(), Value::Object(sub));
    }
    if !technique.is_empty() {
        threat.insert("technique".into(), Value::Object(technique));
    }
    Some(Value::Object(threat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_items_are_told_apart() {
        let answer = r#"{"errors":true,"items":[
            {"create":{"status":201}},
            {"create":{"status":409,"error":{"type":"version_conflict_engine_exception","reason":"exists"}}},
            {"create":{"status":429,"error":{"type":"es_rejected_execution_exception","reason":"queue full"}}},
            {"create":{"status":400,"error":{"type":"document_parsing_exception","reason":"failed to parse field [source.ip]"}}},
            {"create":{"status":503,"error":{"type":"unavailable_shards_exception","reason":"primary not active"}}}]}"#;
        match bulk_outcome(answer, 5) {
            Outcome::Partial {
                retry,
                rejected,
                duplicates,
                why,
            } => {
                assert_eq!(retry, vec![2, 4]);
                assert_eq!(duplicates, 1);
                assert_eq!(rejected.len(), 1);
                assert_eq!(rejected[0].0, 3);
                assert!(rejected[0].1.contains("document_parsing_exception"));
                assert!(why.contains("es_rejected_execution_exception"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            bulk_outcome(r#"{"errors":false}"#, 3),
            Outcome::Delivered { duplicates: 0 }
        );
        assert!(matches!(
            bulk_outcome(r#"{"errors":false,"items":[{"create":{"status":201}}]}"#, 2),
            Outcome::Retry { .. }
        ));
        assert!(matches!(bulk_outcome("<html>", 1), Outcome::Retry { .. }));
    }

    #[test]
    fn data_stream_names() {
        assert_eq!(
            data_stream_parts("logs-modelward-default"),
            Some(("logs".into(), "modelward".into(), "default".into()))
        );
        assert_eq!(data_stream_parts("alerts"), None);
        assert_eq!(data_stream_parts("logs-a-b-c"), None);
    }
}
