//! What every kind of alert is built with: where it stands among others ([`Order`]), its
//! fields, entity and id, and the one evidence writer (the source record of an alert on
//! one event; the count, time span and sample records of an alert on many).

use serde_json::{json, Map, Value as Json};

use modelward_esql::Value;
use modelward_event::fields::{MODEL, PRINCIPAL, SOURCE_IP};
use modelward_event::hash::record_hash_text;
pub(crate) use modelward_event::hash::stable_id;
use modelward_event::{format_timestamp, Event, Origin};
use modelward_rule::Alert;

/// The kind of rule an alert comes from, in the order alerts of one time are reported.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(crate) enum Kind {
    Esql,
    Sigma,
    Correlation,
    Detector,
    Analyzer,
}

/// Where an alert stands among the others of a run: by time, then kind of rule, rule (load
/// order), and the order it was made in. Alerts are reported in this order whatever order
/// they become ready in, so a batch and a stream give the same sequence.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(crate) struct Order {
    pub ts: i64,
    pub kind: Kind,
    pub rule: usize,
    pub seq: u64,
}

/// An alert with its place.
pub(crate) type Placed = (Order, Alert);

/// The JSON of one source record: where to find it again (file, line, byte offset) and, when
/// known, the hash of its bytes as read, to tell it is the same record.
pub(crate) fn record_json(file: &str, line: u64, offset: u64, hash: u64) -> Json {
    let mut doc = json!({"file": file, "line": line, "offset": offset});
    if hash != 0 {
        doc["hash"] = json!(record_hash_text(hash));
    }
    doc
}

/// A record's place, and which of its events (`index`, from 0) when the record holds
/// several (an envelope, a CloudWatch or Kinesis delivery, an OTLP request): said when not
/// the first, as the document id counts it.
fn origin_json(origin: &Origin) -> Json {
    let mut doc = record_json(&origin.file, origin.line, origin.offset, origin.hash);
    if origin.index > 0 {
        doc["index"] = json!(origin.index);
    }
    doc
}

/// Evidence of an alert on one event: its time and its source record.
pub(crate) fn on_event(alert: &mut Alert, event: &Event, ts: Option<i64>) {
    alert.original_time = ts;
    alert
        .evidence
        .insert("source".into(), origin_json(&event.origin));
}

/// Evidence of an alert on many events: how many (when the rule counts them), the first and
/// last event time, and a few of their source records.
pub(crate) fn over_events(
    alert: &mut Alert,
    events: Option<u64>,
    first: i64,
    last: i64,
    samples: impl IntoIterator<Item = Json>,
) {
    let e = &mut alert.evidence;
    if let Some(n) = events {
        e.insert("events".into(), json!(n));
    }
    e.insert("first_seen".into(), json!(format_timestamp(first)));
    e.insert("last_seen".into(), json!(format_timestamp(last)));
    e.insert("samples".into(), Json::Array(samples.into_iter().collect()));
}

/// The sample records of an aggregate, as evidence.
pub(crate) fn origins_json<'a>(origins: impl IntoIterator<Item = &'a Origin>) -> Vec<Json> {
    origins.into_iter().map(origin_json).collect()
}

/// The first value of a field of an event, for alert fields and entities.
pub(crate) fn lookup(event: &Event) -> impl Fn(&str) -> Option<Json> + '_ {
    move |name| event.get(name).into_iter().next().cloned()
}

/// The result row's columns as alert fields; null columns are left out, as Kibana asks
/// ES|QL with `drop_null_columns`.
pub fn row_fields(columns: &[String], values: &[Value]) -> Map<String, Json> {
    let mut fields = Map::new();
    for (c, v) in columns.iter().zip(values) {
        if !v.is_null() {
            fields.insert(c.clone(), v.to_json());
        }
    }
    fields
}

/// Who or what an alert is about, from well-known field names among its fields.
pub fn entity_of(
    fields: &Map<String, Json>,
    lookup: &dyn Fn(&str) -> Option<Json>,
) -> Map<String, Json> {
    let get = |name: &str| {
        fields
            .get(name)
            .cloned()
            .or_else(|| lookup(name))
            .filter(|v| !v.is_null())
    };
    let first = |names: &[&str]| names.iter().find_map(|n| get(n));
    let mut entity = Map::new();
    if let Some(v) = first(&PRINCIPAL) {
        entity.insert("principal".into(), scalar_text(v));
    }
    if let Some(v) = first(&SOURCE_IP) {
        entity.insert("source.ip".into(), scalar_text(v));
    }
    let resource = match (get("azure.resource.group"), get("azure.resource.name")) {
        (Some(g), Some(n)) => Some(Json::String(format!("{}/{}", text(&g), text(&n)))),
        (None, Some(n)) => Some(scalar_text(n)),
        _ => first(&["cloud.resource.name", "url.domain", "bucket.name"]),
    };
    if let Some(v) = resource {
        entity.insert("resource".into(), scalar_text(v));
    }
    // A model named by an object (Bedrock's `gen_ai.request.model` is `{id, type,
    // version}`) is named by the next field (`gen_ai.request.model.id`).
    if let Some(v) = MODEL.iter().find_map(|n| get(n).filter(|v| !v.is_object())) {
        entity.insert("model".into(), scalar_text(v));
    }
    entity
}

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn scalar_text(v: Json) -> Json {
    match v {
        Json::String(_) => v,
        Json::Array(items) => Json::String(items.iter().map(text).collect::<Vec<_>>().join(",")),
        other => Json::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bedrock_model_is_named_by_its_id() {
        let event = modelward_event::Event::from_json(
            r#"{"gen_ai":{"request":{"model":{"id":"anthropic.claude-3-sonnet-20240229-v1:0","type":"anthropic"}}}}"#,
        )
        .unwrap();
        let entity = entity_of(&Map::new(), &lookup(&event));
        assert_eq!(
            entity["model"],
            json!("anthropic.claude-3-sonnet-20240229-v1:0")
        );
    }

    #[test]
    fn entity_from_fields() {
        let Json::Object(fields) = json!({"azure.resource.group": "rg", "azure.resource.name": "oai", "source.ip": "10.0.0.1"})
        else {
            unreachable!()
        };
        let e = entity_of(&fields, &|_| None);
        assert_eq!(
            Json::Object(e),
            json!({"resource": "rg/oai", "source.ip": "10.0.0.1"})
        );
    }
}
