//! OpenTelemetry's OTLP/JSON, as the Collector's `file` exporter and the SDKs' OTLP/HTTP JSON
//! exporters write it: one `ExportTraceServiceRequest` (`{"resourceSpans":[…]}`) or
//! `ExportLogsServiceRequest` (`{"resourceLogs":[…]}`) per record, each span or log record
//! becoming one object:
//!
//! ```text
//! {"otlp": {"resource": {attributes as a map},
//!           "scope": {"name", "version", "attributes"},
//!           "span": {the span, its attributes and its events' attributes as maps}}}
//! {"otlp": {"resource": …, "scope": …,
//!           "log_records": [the log records of one span, in order, attributes and bodies as values]}}
//! ```
//!
//! Attribute lists (`[{"key": k, "value": {"stringValue": …}}]`) become maps `{k: value}`
//! whose keys keep their dots (`gen_ai.request.model`), and `AnyValue`s plain JSON
//! (`stringValue`, `boolValue`, `intValue` as a number whether written as a number or a
//! string, `doubleValue`, `arrayValue.values` a list, `kvlistValue.values` an object,
//! `bytesValue` its base64 text). Log records of one span (the same `traceId` and `spanId`)
//! in one request are one object, since GenAI instrumentations write a call's messages as
//! separate log records (`gen_ai.user.message`, `gen_ai.choice`, …); a log record outside any
//! span is one alone. The `source::otel_genai` normalizer reads these objects.

use serde_json::{Map, Value};

use super::record::RecordError;

/// Whether a raw record starts like an OTLP/JSON export request (its spans or log records
/// must be counted and checked even when no rule reads it).
pub fn is_export_raw(raw: &[u8]) -> bool {
    let rest = raw
        .trim_ascii_start()
        .strip_prefix(b"{")
        .unwrap_or(b"")
        .trim_ascii_start();
    rest.starts_with(b"\"resourceSpans\"") || rest.starts_with(b"\"resourceLogs\"")
}

/// Whether a top-level object is an OTLP/JSON export request.
pub(crate) fn is_export(object: &Map<String, Value>) -> bool {
    object.len() == 1
        && (object.get("resourceSpans").is_some_and(Value::is_array)
            || object.get("resourceLogs").is_some_and(Value::is_array))
}

/// The spans or log records of an export request, one object each (see the module).
pub(crate) fn expand(
    mut object: Map<String, Value>,
) -> Result<Vec<Map<String, Value>>, RecordError> {
    let (list, scopes, items) = if let Some(v) = object.remove("resourceSpans") {
        (v, "scopeSpans", "spans")
    } else if let Some(v) = object.remove("resourceLogs") {
        (v, "scopeLogs", "logRecords")
    } else {
        return Ok(vec![object]);
    };
    let mut out = Vec::new();
    let Value::Array(resources) = list else {
        return Ok(out);
    };
    for (r, resource) in resources.into_iter().enumerate() {
        let Value::Object(mut resource) = resource else {
            return Err(bad(format!("OTLP: resource {r} is not an object")));
        };
        let attributes = resource
            .get_mut("resource")
            .and_then(|res| res.get_mut("attributes"))
            .map(Value::take)
            .map(attributes_map)
            .unwrap_or_default();
        let Some(Value::Array(scope_list)) = resource.remove(scopes) else {
            continue;
        };
        for (s, scope_entry) in scope_list.into_iter().enumerate() {
            let Value::Object(mut scope_entry) = scope_entry else {
                return Err(bad(format!(
                    "OTLP: resource {r} `{scopes}[{s}]` is not an object"
                )));
            };
            let mut scope = match scope_entry.remove("scope") {
                Some(Value::Object(scope)) => scope,
                _ => Map::new(),
            };
            if let Some(attrs) = scope.get_mut("attributes") {
                *attrs = Value::Object(attributes_map(attrs.take()));
            }
            let Some(Value::Array(list)) = scope_entry.remove(items) else {
                continue;
            };
            let head = |body: (&str, Value)| {
                let mut otlp = Map::new();
                otlp.insert("resource".into(), Value::Object(attributes.clone()));
                otlp.insert("scope".into(), Value::Object(scope.clone()));
                otlp.insert(body.0.into(), body.1);
                let mut top = Map::new();
                top.insert("otlp".into(), Value::Object(otlp));
                top
            };
            if items == "spans" {
                for span in list {
                    let Value::Object(mut span) = span else {
                        return Err(bad(format!(
                            "OTLP: a span of resource {r} is not an object"
                        )));
                    };
                    convert_item(&mut span);
                    if let Some(Value::Array(events)) = span.get_mut("events") {
                        for event in events.iter_mut().filter_map(Value::as_object_mut) {
                            convert_item(event);
                        }
                    }
                    out.push(head(("span", Value::Object(span))));
                }
            } else {
                // Log records of one span together, in the order of their first record.
                let mut groups: Vec<(SpanKey, Vec<Value>)> = Vec::new();
                for record in list {
                    let Value::Object(mut record) = record else {
                        return Err(bad(format!(
                            "OTLP: a log record of resource {r} is not an object"
                        )));
                    };
                    convert_item(&mut record);
                    if let Some(body) = record.get_mut("body") {
                        *body = any_value(body.take());
                    }
                    let id = |k: &str| {
                        record
                            .get(k)
                            .and_then(Value::as_str)
                            .filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0'))
                            .map(str::to_string)
                    };
                    let key = id("traceId").zip(id("spanId"));
                    match groups.iter_mut().find(|g| key.is_some() && g.0 == key) {
                        Some(group) => group.1.push(Value::Object(record)),
                        None => groups.push((key, vec![Value::Object(record)])),
                    }
                }
                for (_, records) in groups {
                    out.push(head(("log_records", Value::Array(records))));
                }
            }
        }
    }
    Ok(out)
}

/// A log record's span: its trace and span ids (None: outside any span).
type SpanKey = Option<(String, String)>;

fn bad(message: String) -> RecordError {
    RecordError {
        line: 1,
        column: 1,
        message,
    }
}

/// A span's, event's or log record's `attributes` list as a map.
fn convert_item(item: &mut Map<String, Value>) {
    if let Some(attrs) = item.get_mut("attributes") {
        *attrs = Value::Object(attributes_map(attrs.take()));
    }
}

/// `[{"key": k, "value": AnyValue}]` as `{k: value}` (entries without a string key skipped).
pub fn attributes_map(list: Value) -> Map<String, Value> {
    let mut out = Map::new();
    match list {
        Value::Array(items) => {
            for item in items {
                let Value::Object(mut kv) = item else {
                    continue;
                };
                let Some(Value::String(key)) = kv.remove("key") else {
                    continue;
                };
                let value = kv.remove("value").map(any_value).unwrap_or(Value::Null);
                out.insert(key, value);
            }
        }
        // Already a map (a converted record read again).
        Value::Object(map) => return map,
        _ => {}
    }
    out
}

/// An OTLP `AnyValue` as plain JSON.
pub fn any_value(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    if map.len() != 1 {
        return Value::Object(map);
    }
    let Some((kind, inner)) = map.iter_mut().next().map(|(k, v)| (k.clone(), v.take())) else {
        return Value::Null;
    };
    match (kind.as_str(), inner) {
        ("stringValue" | "boolValue" | "doubleValue" | "bytesValue", v) => v,
        ("intValue", Value::String(s)) => s
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(s)),
        ("intValue", v) => v,
        ("arrayValue", Value::Object(mut a)) => match a.remove("values") {
            Some(Value::Array(values)) => Value::Array(values.into_iter().map(any_value).collect()),
            _ => Value::Array(Vec::new()),
        },
        ("kvlistValue", Value::Object(mut kv)) => {
            Value::Object(attributes_map(kv.remove("values").unwrap_or(Value::Null)))
        }
        (kind, v) => {
            let mut back = Map::new();
            back.insert(kind.to_string(), v);
            Value::Object(back)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn any_values_become_plain_json() {
        assert_eq!(any_value(json!({"stringValue":"a"})), json!("a"));
        assert_eq!(any_value(json!({"intValue":"42"})), json!(42));
        assert_eq!(any_value(json!({"intValue":7})), json!(7));
        assert_eq!(
            any_value(json!({"arrayValue":{"values":[{"stringValue":"stop"}]}})),
            json!(["stop"])
        );
        assert_eq!(
            any_value(
                json!({"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hi"}}]}})
            ),
            json!({"content":"hi"})
        );
        assert_eq!(any_value(json!({})), json!({}));
    }

    #[test]
    fn log_records_of_one_span_are_one_object() {
        let Value::Object(req) = json!({"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"chat"}}]},"scopeLogs":[{"scope":{"name":"s"},"logRecords":[
            {"traceId":"aa","spanId":"bb","body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hi"}}]}}},
            {"traceId":"","spanId":"","body":{"stringValue":"alone"}},
            {"traceId":"aa","spanId":"bb","body":{"stringValue":"second"}}
        ]}]}]}) else {
            unreachable!()
        };
        let out = expand(req).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(out[0]["otlp"]["log_records"][1]["body"], "second");
        assert_eq!(out[0]["otlp"]["resource"]["service.name"], "chat");
        assert_eq!(out[1]["otlp"]["log_records"][0]["body"], "alone");
    }
}
