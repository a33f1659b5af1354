//! An alert as the response side reads it: from its JSON document (what `hunt` writes), so
//! incidents can be built from a run or from a saved NDJSON file alike.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where one source record of an alert's evidence lies.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SampleRef {
    pub file: String,
    /// 1-based line of the record's first byte.
    pub line: u64,
    /// Byte offset in the (decompressed) input, when the alert had it.
    pub offset: Option<u64>,
    /// The record's hash as the hunt read it (`xxh3:…`), when the alert had it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// The parts of an alert the playbook uses, and the whole document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: String,
    pub rule_id: String,
    pub rule_name: String,
    /// `builtin:...` or the rule file.
    pub origin: String,
    pub severity: String,
    pub risk_score: i64,
    /// When it was raised, event time (ms).
    pub timestamp: i64,
    /// Earliest event time of its evidence (ms).
    pub first_seen: i64,
    /// Who or what it is about (`principal`, `source.ip`, `resource`, `model`).
    pub entity: Map<String, Value>,
    pub tags: Vec<String>,
    /// PB-53 vector named by the rule (`evidence.pb53_vector`).
    pub vector: Option<String>,
    pub message: Option<String>,
    pub samples: Vec<SampleRef>,
    /// The alert document as `hunt` wrote it.
    pub doc: Value,
}

/// Why an alert document cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("not a JSON object")]
    NotAnObject,
    #[error("missing `{0}`")]
    Missing(&'static str),
    #[error("`{0}` is not a valid timestamp")]
    Timestamp(String),
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = doc;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

fn time(s: &str) -> Result<i64, AlertError> {
    modelward_event::parse_timestamp(s).ok_or_else(|| AlertError::Timestamp(s.to_string()))
}

impl AlertView {
    /// Reads an alert document (see `schema/alert.schema.json`).
    pub fn from_json(doc: Value) -> Result<AlertView, AlertError> {
        if !doc.is_object() {
            return Err(AlertError::NotAnObject);
        }
        let id = str_at(&doc, &["alert", "id"])
            .ok_or(AlertError::Missing("alert.id"))?
            .to_string();
        let rule_id = str_at(&doc, &["rule", "id"])
            .ok_or(AlertError::Missing("rule.id"))?
            .to_string();
        let rule_name = str_at(&doc, &["rule", "name"])
            .unwrap_or(&rule_id)
            .to_string();
        let origin = str_at(&doc, &["rule", "origin"]).unwrap_or("").to_string();
        let severity = str_at(&doc, &["severity"]).unwrap_or("medium").to_string();
        let risk_score = doc.get("risk_score").and_then(Value::as_i64).unwrap_or(0);
        let timestamp =
            time(str_at(&doc, &["@timestamp"]).ok_or(AlertError::Missing("@timestamp"))?)?;
        let evidence = doc.get("evidence");
        let first_seen = [
            evidence
                .and_then(|e| e.get("first_seen"))
                .and_then(Value::as_str),
            str_at(&doc, &["window", "start"]),
            str_at(&doc, &["original_time"]),
        ]
        .into_iter()
        .flatten()
        .find_map(modelward_event::parse_timestamp)
        .unwrap_or(timestamp)
        .min(timestamp);
        let entity = doc
            .get("entity")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let tags = doc
            .pointer("/rule/tags")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        let vector = evidence
            .and_then(|e| e.get("pb53_vector"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let message = doc
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string);
        // Aggregating rules list `evidence.samples`; per-event rules name `evidence.source`.
        let mut samples: Vec<SampleRef> = evidence
            .and_then(|e| e.get("samples"))
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(sample).collect())
            .unwrap_or_default();
        samples.extend(evidence.and_then(|e| e.get("source")).and_then(sample));
        Ok(AlertView {
            id,
            rule_id,
            rule_name,
            origin,
            severity,
            risk_score,
            timestamp,
            first_seen,
            entity,
            tags,
            vector,
            message,
            samples,
            doc,
        })
    }

    /// An entity value (`principal`, `source.ip`, `resource`, `model`).
    pub fn entity(&self, kind: &str) -> Option<&str> {
        self.entity.get(kind).and_then(Value::as_str)
    }

    /// A field of the document by dotted name: a top-level key (`api_key.id`), else a path.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.doc.get(name).or_else(|| {
            let mut v = &self.doc;
            for part in name.split('.') {
                v = v.get(part)?;
            }
            Some(v)
        })
    }

    /// An evidence value.
    pub fn evidence(&self, key: &str) -> Option<&Value> {
        self.doc.get("evidence").and_then(|e| e.get(key))
    }

    /// The storage objects it names (`bucket/key`, or the path as logged): the object of a
    /// per-event storage alert, the objects an analyzer lists, the source of a copy.
    pub fn objects(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(p) = self.field("file.path").and_then(Value::as_str) {
            out.push(p.strip_prefix("s3://").unwrap_or(p).to_string());
        }
        if let Some(key) = self
            .field("storage.copy.source.key")
            .and_then(Value::as_str)
        {
            match self
                .field("storage.copy.source.bucket")
                .and_then(Value::as_str)
            {
                Some(b) => out.push(format!("{b}/{key}")),
                None => out.push(key.to_string()),
            }
        }
        if let Some(list) = self.evidence("objects").and_then(Value::as_array) {
            out.extend(list.iter().filter_map(Value::as_str).map(str::to_string));
        }
        out
    }

    /// The storage buckets it names (from objects, the evidence's `bucket`/`buckets`, the
    /// alert's `storage.bucket`).
    pub fn buckets(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |b: &str| {
            // `account/bucket` as the analyzers key it: the bucket is the last part.
            let b = b.rsplit('/').next().unwrap_or(b);
            if !b.is_empty() && !out.iter().any(|x| x == b) {
                out.push(b.to_string());
            }
        };
        if let Some(b) = self.field("storage.bucket").and_then(Value::as_str) {
            add(b);
        }
        if let Some(b) = self
            .field("storage.copy.source.bucket")
            .and_then(Value::as_str)
        {
            add(b);
        }
        if let Some(b) = self.evidence("bucket").and_then(Value::as_str) {
            add(b);
        }
        if let Some(list) = self.evidence("buckets").and_then(Value::as_array) {
            for b in list
                .iter()
                .filter_map(|b| b.get("bucket"))
                .filter_map(Value::as_str)
            {
                add(b);
            }
        }
        // A copy's `file.path` is its destination, often another account's bucket: not ours
        // to lock.
        let copy = self.field("storage.copy.source.bucket").is_some();
        if let Some(p) = self
            .field("file.path")
            .and_then(Value::as_str)
            .filter(|_| !copy)
        {
            if let Some(rest) = p.strip_prefix("s3://").or_else(|| p.strip_prefix("gs://")) {
                add(rest.split('/').next().unwrap_or(rest));
            }
        }
        out
    }

    /// The built-in detector or analyzer code in the rule id or name, if any (`MW-TH-0001`).
    pub fn code(&self) -> Option<&str> {
        [self.rule_id.as_str(), self.origin.as_str()]
            .into_iter()
            .find(|s| s.starts_with("MW-"))
            .or_else(|| {
                self.origin
                    .strip_prefix("builtin:")
                    .filter(|s| s.starts_with("MW-"))
            })
    }

    /// Whether this alert names `rule` by id, name, code or origin file name.
    pub fn is_rule(&self, rule: &str) -> bool {
        self.rule_id == rule
            || self.rule_name.eq_ignore_ascii_case(rule)
            || self.code() == Some(rule)
            || self.origin.rsplit('/').next() == Some(rule)
    }
}

fn sample(v: &Value) -> Option<SampleRef> {
    Some(SampleRef {
        file: v.get("file")?.as_str()?.to_string(),
        line: v.get("line")?.as_u64()?,
        offset: v.get("offset").and_then(Value::as_u64),
        hash: v.get("hash").and_then(Value::as_str).map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_an_analyzer_alert() {
        let doc = json!({
            "@timestamp": "2025-03-04T22:14:26.121Z",
            "alert": {"id": "a4c8"},
            "entity": {"principal": "dev-7731@example.net", "source.ip": "203.0.113.66"},
            "evidence": {"first_seen": "2025-03-04T22:10:25.111Z", "pb53_vector": "model_extraction_api",
                          "samples": [{"file": "x.ndjson", "line": 3}, {"file": "x.ndjson", "line": 9, "offset": 77}]},
            "rule": {"id": "MW-TH-0001", "name": "Logit extraction", "origin": "builtin:behavior", "tags": ["atlas.aml.t0024"]},
            "severity": "high", "risk_score": 73
        });
        let a = AlertView::from_json(doc).unwrap();
        assert_eq!(
            a.first_seen,
            modelward_event::parse_timestamp("2025-03-04T22:10:25.111Z").unwrap()
        );
        assert_eq!(a.vector.as_deref(), Some("model_extraction_api"));
        assert_eq!(a.samples.len(), 2);
        assert_eq!(a.samples[1].offset, Some(77));
        assert_eq!(a.code(), Some("MW-TH-0001"));
        assert!(a.is_rule("logit extraction"));
        assert_eq!(a.entity("principal"), Some("dev-7731@example.net"));
    }

    #[test]
    fn a_document_without_an_id_is_refused() {
        let err = AlertView::from_json(json!({"rule": {"id": "x"}})).unwrap_err();
        assert!(matches!(err, AlertError::Missing("alert.id")));
    }
}
