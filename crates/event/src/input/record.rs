use serde_json::{Map, Value};

use super::lossy::{repair, Repairs};
use super::reader::message_of;
use super::{cloudwatch, otlp};
use crate::source::s3_access;

/// Why a record is not an event, with the position inside the record (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub line: u64,
    pub column: u64,
    pub message: String,
}

/// Parses one raw record into its events.
///
/// A record is one JSON object, or an Amazon S3 server access log line (a record that is
/// not JSON but starts like one: `OWNER BUCKET [time] ...`), which becomes
/// `{"s3_access": {...}}` (see [`crate::source::s3_access`]). An envelope object whose only key is `records` (Azure
/// diagnostic settings, Event Hubs) or `Records` (CloudTrail) stands for the objects in that
/// array. Anything else — a scalar, an array, an envelope whose `records` is not an array of
/// objects — is an error that says what was expected.
///
/// Values strict JSON refuses but a record is not lost for (lone surrogates, invalid UTF-8,
/// raw control characters in strings, numbers out of range) are kept lossily (see
/// [`super::lossy`]); [`parse_record_noting`] also says what was.
///
/// Amazon CloudWatch Logs' shapes (subscription payloads, `awslogs.data`, `filter-log-events`
/// and `get-log-events` answers, lines of an export to S3, see [`super::cloudwatch`]) stand
/// for the events their messages hold, and JSON objects written back to back on one line
/// (`{…}{…}`, as Firehose writes subscription payloads) for each of them. An OpenTelemetry
/// OTLP/JSON export request stands for its spans or log records (see [`super::otlp`]), and
/// a page of OpenAI's organisation audit log for its objects.
pub fn parse_record(bytes: &[u8]) -> Result<Vec<Map<String, Value>>, RecordError> {
    parse_record_noting(bytes).map(|parsed| parsed.objects)
}

/// The events of one record, and what in it was kept lossily.
#[derive(Debug)]
pub struct Parsed {
    pub objects: Vec<Map<String, Value>>,
    /// Values rewritten so that the record parses (`None`: the record was valid as it is).
    pub repairs: Option<Repairs>,
    /// Parts of the record that are no event and were skipped (a CloudWatch log event whose
    /// message is cut off), each saying which and why.
    pub rejected: Vec<String>,
}

/// [`parse_record`], saying which values were kept lossily.
pub fn parse_record_noting(bytes: &[u8]) -> Result<Parsed, RecordError> {
    if s3_access::looks_like_line(bytes) {
        return s3_access::parse_line(bytes)
            .map(|event| Parsed {
                objects: vec![event],
                repairs: None,
                rejected: Vec::new(),
            })
            .map_err(|e| RecordError {
                line: 1,
                column: e.column,
                message: format!("S3 access log line: {}", e.message),
            });
    }
    if let Some((time, message)) = cloudwatch::export_line(bytes) {
        let unwrapped = cloudwatch::export_events(time, message)?;
        return Ok(Parsed {
            objects: unwrapped.objects,
            repairs: None,
            rejected: unwrapped.rejected,
        });
    }
    let (value, repairs) = match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => (value, None),
        Err(e) if e.is_syntax() && concatenated(bytes).is_some() => {
            let mut parsed = Parsed {
                objects: Vec::new(),
                repairs: None,
                rejected: Vec::new(),
            };
            for value in concatenated(bytes).unwrap_or_default() {
                let (objects, rejected) = objects_of(value)?;
                parsed.objects.extend(objects);
                parsed.rejected.extend(rejected);
            }
            return Ok(parsed);
        }
        Err(e) => {
            let repaired = repair(bytes).and_then(|(fixed, repairs)| {
                serde_json::from_slice::<Value>(&fixed)
                    .ok()
                    .map(|value| (value, Some(repairs)))
            });
            repaired.ok_or_else(|| RecordError {
                line: e.line() as u64,
                column: e.column() as u64,
                message: message_of(&e),
            })?
        }
    };
    let (objects, rejected) = objects_of(value)?;
    Ok(Parsed {
        objects,
        repairs,
        rejected,
    })
}

/// A record's events, and what of it was skipped (each saying which and why).
type Objects = (Vec<Map<String, Value>>, Vec<String>);

/// JSON objects written back to back (`{…}{…}`, with or without whitespace between them),
/// when there are at least two and all of the record is such objects.
fn concatenated(bytes: &[u8]) -> Option<Vec<Value>> {
    let mut values = Vec::new();
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
        match value {
            Ok(v @ Value::Object(_)) => values.push(v),
            _ => return None,
        }
    }
    (values.len() >= 2).then_some(values)
}

/// The events a record's value stands for: itself, an envelope's elements, or the log
/// events of a CloudWatch shape; and what of it was skipped.
fn objects_of(value: Value) -> Result<Objects, RecordError> {
    let at_start = |message: String| RecordError {
        line: 1,
        column: 1,
        message,
    };
    let mut object = match value {
        Value::Object(object) => object,
        other => {
            return Err(at_start(format!(
                "expected a JSON object (one event), found {}",
                kind_of(&other)
            )))
        }
    };
    if let Some(unwrapped) = cloudwatch::unwrap(&mut object) {
        let unwrapped = unwrapped?;
        return Ok((unwrapped.objects, unwrapped.rejected));
    }
    if otlp::is_export(&object) {
        return Ok((otlp::expand(object)?, Vec::new()));
    }
    if let Some(items) = crate::source::openai_audit::list_items(&mut object) {
        return Ok((items, Vec::new()));
    }
    let envelope_key = ["records", "Records"]
        .into_iter()
        .find(|k| object.len() == 1 && object.contains_key(*k));
    let Some(key) = envelope_key else {
        return Ok((vec![object], Vec::new()));
    };
    let records = object.remove(key).unwrap_or(Value::Null);
    let Value::Array(items) = records else {
        return Err(at_start(format!(
            "envelope `{key}` must be an array of events, found {}",
            kind_of(&records)
        )));
    };
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::Object(event) => events.push(event),
            other => {
                return Err(at_start(format!(
                    "envelope `{key}`: element {i} must be an object, found {}",
                    kind_of(&other)
                )))
            }
        }
    }
    Ok((events, Vec::new()))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_object_is_one_event() {
        assert_eq!(parse_record(br#"{"a":1}"#).unwrap().len(), 1);
    }

    #[test]
    fn envelopes_expand() {
        let events = parse_record(br#"{"records":[{"a":1},{"a":2}]}"#).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(parse_record(br#"{"Records":[{"a":1}]}"#).unwrap().len(), 1);
        // `records` beside other keys is an ordinary field.
        assert_eq!(parse_record(br#"{"records":[1],"b":2}"#).unwrap().len(), 1);
    }

    #[test]
    fn wrong_envelopes_are_errors() {
        let e = parse_record(br#"{"records":"x"}"#).unwrap_err();
        assert!(e.message.contains("must be an array"), "{}", e.message);
        let e = parse_record(br#"{"records":[{"a":1},3]}"#).unwrap_err();
        assert!(e.message.contains("element 1"), "{}", e.message);
    }

    #[test]
    fn positions_of_syntax_errors() {
        let e = parse_record(b"{\"a\":\n tru}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 5));
        assert!(!e.message.contains("at line"));
        let e = parse_record(b"42").unwrap_err();
        assert!(e.message.contains("found a number"));
        let e = parse_record(b"\x00\xff\xfe garbage").unwrap_err();
        assert_eq!(e.line, 1);
    }

    #[test]
    fn s3_access_lines_are_records() {
        let line = br#"owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57 REST.GET.OBJECT k "GET /bucket/k HTTP/1.1" 200 - 10 10 1 1 "-" "curl/8" -"#;
        let events = parse_record(line).unwrap();
        assert_eq!(events[0]["s3_access"]["operation"], "REST.GET.OBJECT");
        let bad = br#"owner bucket [06/Feb/2019:00:00:38 +0000] 192.0.2.3 - 3E57 REST.GET.OBJECT k "GET /bucket/k HTTP/1.1" 2xx"#;
        let e = parse_record(bad).unwrap_err();
        assert_eq!((e.line, e.column), (1, 103), "{}", e.message);
        assert!(e.message.contains("http_status"), "{}", e.message);
    }
}
