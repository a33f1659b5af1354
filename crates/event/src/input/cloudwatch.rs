//! Amazon CloudWatch Logs as it hands log events over, unwrapped into the events its
//! messages hold, so that Bedrock model-invocation logs and CloudTrail records delivered
//! through CloudWatch read exactly as the native logs do.
//!
//! | shape | where it comes from | recognised by |
//! |---|---|---|
//! | `{"messageType":"DATA_MESSAGE","owner":…,"logGroup":…,"logStream":…,"subscriptionFilters":[…],"logEvents":[{"id","timestamp","message"}]}` | a subscription filter's payload, decompressed (Firehose with decompression off writes these gzipped and back to back, `{…}{…}`, which [`super::record`] splits) | `messageType` and `logEvents` |
//! | `{"messageType":"CONTROL_MESSAGE",…}` | the reachability check CloudWatch sends a destination | gives no event |
//! | `{"awslogs":{"data":"H4sI…"}}` | the event a Lambda subscriber receives: the payload gzipped and base64-encoded | `awslogs.data` as the only key |
//! | `{"events":[{"logStreamName","timestamp","message","ingestionTime","eventId"}],"searchedLogStreams":[…],"nextToken":…}` | `aws logs filter-log-events` (`FilterLogEvents`) | `events` beside only the paging keys |
//! | `{"events":[{"timestamp","message","ingestionTime"}],"nextForwardToken":…,"nextBackwardToken":…}` | `aws logs get-log-events` (`GetLogEvents`) | the same |
//! | `{"timestamp":…,"message":…}` (with `ingestionTime`, `eventId`, `id`, `logStreamName` or not) | one element of the above (`--query events`, a JSON array of them) | `message` and `timestamp` and no other key |
//! | `2025-03-01T10:15:00.000Z {…}` | a CreateExportTask export to S3 (`000000.gz` objects): each line the event's time, a space, its message | [`export_line`] |
//! | `{"Records":[{"kinesis":{"kinesisSchemaVersion","partitionKey","sequenceNumber","data":"H4sI…","approximateArrivalTimestamp"},"eventSource":"aws:kinesis",…}]}` | a subscription filter to a Kinesis data stream, as a Lambda consumer receives the stream's records (each `data` a payload gzipped and base64-encoded) | every element has `kinesis.data` |
//! | `{"Records":[{"SequenceNumber","ApproximateArrivalTimestamp","Data":"H4sI…","PartitionKey"}],"NextShardIterator":…,"MillisBehindLatest":…}` | the same stream read with `aws kinesis get-records` | every element has `Data` and `SequenceNumber`, beside only the paging keys |
//! | `{"invocationId","deliveryStreamArn","region","records":[{"recordId","approximateArrivalTimestamp","data":"H4sI…"}]}` | Firehose's data-transformation Lambda input (a subscription filter to Firehose) | `records` beside `invocationId` or `deliveryStreamArn` |
//!
//! Each log event's `message` that is a JSON object is the event, as it is (a Bedrock
//! invocation log record, a CloudTrail record; a `{"Records":[…]}` envelope in it stands for
//! its records). Any other message (a plain-text line) becomes
//! `{"@timestamp", "message", "aws.cloudwatch": {"log_group", "log_stream"}}`, the names of
//! Elastic's `aws.cloudwatch` integration. A message that starts like a JSON object but is
//! not one (CloudWatch cuts events over 256 KB) is reported with its place and skipped.
//!
//! A Kinesis record's `data` is base64; a gzip stream in it is inflated. A subscription
//! payload in it stands for its log events (a `CONTROL_MESSAGE`, CloudWatch's check that the
//! stream is reachable, for none); any other JSON object (a producer that puts its events on
//! the stream directly) is the event. A record that cannot be read (not base64, not JSON) is
//! reported with its index, and the others are read.

use std::io::Read;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::record::RecordError;

/// The most a compressed `awslogs.data` payload may inflate to (CloudWatch sends at most
/// 1 MB per payload; this leaves room and stops a bomb).
pub const MAX_INFLATED: u64 = 64 << 20;

/// What a record that wraps CloudWatch log events stands for.
#[derive(Debug)]
pub(crate) struct Unwrapped {
    pub objects: Vec<Map<String, Value>>,
    /// Log events that could not be read, each saying which and why.
    pub rejected: Vec<String>,
}

/// Keys `FilterLogEvents` / `GetLogEvents` answers hold beside `events`.
const PAGING: [&str; 4] = [
    "searchedLogStreams",
    "nextToken",
    "nextForwardToken",
    "nextBackwardToken",
];

/// Keys of one log event as the API and subscription payloads give it.
const EVENT_KEYS: [&str; 6] = [
    "timestamp",
    "message",
    "ingestionTime",
    "eventId",
    "id",
    "logStreamName",
];

/// Whether a raw record's bytes do not show what it holds (a compressed `awslogs.data`
/// payload, Kinesis records' base64 `data`): a literal prefilter must let it through to every
/// rule.
pub fn hides_content(raw: &[u8]) -> bool {
    first_key(raw) == Some(b"\"awslogs\"".as_slice()) || kinesis_like(raw)
}

/// Whether a raw record starts like one of the CloudWatch shapes (its events must be counted
/// and checked even when no rule reads it).
pub fn is_wrapper(raw: &[u8]) -> bool {
    matches!(
        first_key(raw),
        Some(b"\"awslogs\"" | b"\"messageType\"" | b"\"events\"")
    ) || export_line(raw).is_some()
        || kinesis_like(raw)
}

/// Whether a raw record may hold Kinesis records (see [`kinesis_records`]): an envelope-like
/// first key and a key only Kinesis records have.
fn kinesis_like(raw: &[u8]) -> bool {
    use memchr::memmem::find;
    matches!(
        first_key(raw),
        Some(
            b"\"Records\""
                | b"\"records\""
                | b"\"invocationId\""
                | b"\"deliveryStreamArn\""
                | b"\"region\""
                | b"\"sourceKinesisStreamArn\""
                | b"\"NextShardIterator\""
                | b"\"MillisBehindLatest\""
        )
    ) && (find(raw, b"\"kinesis\"").is_some()
        || find(raw, b"\"SequenceNumber\"").is_some()
        || find(raw, b"\"recordId\"").is_some())
}

fn first_key(raw: &[u8]) -> Option<&[u8]> {
    let rest = raw
        .trim_ascii_start()
        .strip_prefix(b"{")?
        .trim_ascii_start();
    let end = rest.get(1..)?.iter().position(|&b| b == b'"')? + 2;
    Some(&rest[..end])
}

/// A line of a CloudWatch export to S3: its time (RFC 3339 in UTC, milliseconds) and the
/// message after the one space.
pub fn export_line(line: &[u8]) -> Option<(&str, &[u8])> {
    let space = memchr::memchr(b' ', line)?;
    let (time, message) = (&line[..space], &line[space + 1..]);
    // 2025-03-01T10:15:00Z .. 2025-03-01T10:15:00.123456789Z
    let shape = |b: &[u8]| {
        b.len() >= 20
            && b.len() <= 30
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b.last() == Some(&b'Z')
            && b[..4].iter().all(u8::is_ascii_digit)
    };
    if !shape(time) {
        return None;
    }
    let time = std::str::from_utf8(time).ok()?;
    crate::time::parse_timestamp(time)?;
    Some((time, message))
}

/// The events of an export line (see [`export_line`]).
pub(crate) fn export_events(time: &str, message: &[u8]) -> Result<Unwrapped, RecordError> {
    let column = time.len() as u64 + 2;
    let text = String::from_utf8_lossy(message);
    match message_events(&text, || Value::String(time.to_string()), None, None) {
        Ok(objects) => Ok(Unwrapped {
            objects,
            rejected: Vec::new(),
        }),
        Err(why) => Err(RecordError {
            line: 1,
            column,
            message: format!("CloudWatch export line: {why}"),
        }),
    }
}

/// The CloudWatch shape `object` is, unwrapped; None when it is none of them.
pub(crate) fn unwrap(object: &mut Map<String, Value>) -> Option<Result<Unwrapped, RecordError>> {
    if let Some((list, data_key)) = kinesis_records(object) {
        let Some(Value::Array(records)) = object.remove(list) else {
            return None;
        };
        return Some(Ok(kinesis(records, list, data_key)));
    }
    if object.len() == 1 {
        if let Some(data) = object
            .get("awslogs")
            .and_then(|a| a.as_object())
            .filter(|a| a.len() == 1)
            .and_then(|a| a.get("data"))
            .and_then(Value::as_str)
        {
            return Some(inflate(data).and_then(|mut payload| {
                if payload.get("messageType").is_some_and(Value::is_string) {
                    subscription(&mut payload)
                } else {
                    Err(at_start(
                        "CloudWatch `awslogs.data`: the payload is not a subscription message (no `messageType`)"
                            .into(),
                    ))
                }
            }));
        }
    }
    if object.get("messageType").is_some_and(Value::is_string) && object.contains_key("logEvents")
        || object.get("messageType").and_then(Value::as_str) == Some("CONTROL_MESSAGE")
    {
        return Some(subscription(object));
    }
    if object.get("events").is_some_and(Value::is_array)
        && object
            .keys()
            .all(|k| k == "events" || PAGING.contains(&k.as_str()))
    {
        let Some(Value::Array(events)) = object.remove("events") else {
            return None;
        };
        return Some(Ok(log_events(events, None, "events")));
    }
    if object.get("message").is_some_and(Value::is_string)
        && object.get("timestamp").is_some_and(Value::is_number)
        && object.keys().all(|k| EVENT_KEYS.contains(&k.as_str()))
    {
        let event = std::mem::take(object);
        return Some(Ok(log_events(vec![Value::Object(event)], None, "event")));
    }
    None
}

/// Keys `aws kinesis get-records` prints beside `Records`.
const KINESIS_PAGING: [&str; 3] = ["NextShardIterator", "MillisBehindLatest", "ChildShards"];

/// The list of Kinesis records `object` holds and the key of their base64 data: a Lambda
/// consumer's event (`Records[].kinesis.data`), `aws kinesis get-records` output
/// (`Records[].Data`), Firehose's transformation input (`records[].data`); None otherwise.
fn kinesis_records(object: &Map<String, Value>) -> Option<(&'static str, &'static str)> {
    let all = |list: &str, test: &dyn Fn(&Map<String, Value>) -> bool| {
        object
            .get(list)
            .and_then(Value::as_array)
            .is_some_and(|items| {
                !items.is_empty() && items.iter().all(|i| i.as_object().is_some_and(test))
            })
    };
    let text = |m: &Map<String, Value>, k: &str| m.get(k).is_some_and(Value::is_string);
    if all("Records", &|r| {
        r.get("kinesis")
            .and_then(Value::as_object)
            .is_some_and(|k| text(k, "data"))
    }) {
        return Some(("Records", "kinesis.data"));
    }
    let paging_only = object
        .keys()
        .all(|k| k == "Records" || KINESIS_PAGING.contains(&k.as_str()));
    if paging_only
        && all("Records", &|r| {
            text(r, "Data") && r.contains_key("SequenceNumber")
        })
    {
        return Some(("Records", "Data"));
    }
    if (object.contains_key("invocationId") || object.contains_key("deliveryStreamArn"))
        && all("records", &|r| {
            text(r, "data") && r.contains_key("recordId")
        })
    {
        return Some(("records", "data"));
    }
    None
}

/// The events of a list of Kinesis records (see [`kinesis_records`]).
fn kinesis(records: Vec<Value>, list: &str, data_key: &str) -> Unwrapped {
    let mut out = Unwrapped {
        objects: Vec::new(),
        rejected: Vec::new(),
    };
    for (i, record) in records.iter().enumerate() {
        let data = data_key
            .split('.')
            .try_fold(record, |v, k| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("");
        let what = format!("Kinesis `{list}[{i}]`");
        let payload = match kinesis_data(data, &what) {
            Ok(payload) => payload,
            Err(why) => {
                out.rejected.push(format!("{why}; skipped"));
                continue;
            }
        };
        let mut payload = payload;
        if payload.get("messageType").is_some_and(Value::is_string) {
            match subscription(&mut payload) {
                Ok(u) => {
                    out.objects.extend(u.objects);
                    out.rejected
                        .extend(u.rejected.into_iter().map(|r| format!("{what}: {r}")));
                }
                Err(e) => out.rejected.push(format!("{what}: {}; skipped", e.message)),
            }
        } else {
            out.objects.extend(records_of(payload));
        }
    }
    out
}

/// A Kinesis record's base64 `data`, inflated when gzip, as a JSON object.
fn kinesis_data(data: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| format!("{what}: the data is not base64 ({e})"))?;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&bytes).map_err(|why| format!("{what}: the data {why}"))?
    } else {
        bytes
    };
    serde_json::from_slice(&text).map_err(|e| {
        format!(
            "{what}: the data is not a JSON object ({})",
            super::reader::message_of(&e)
        )
    })
}

fn at_start(message: String) -> RecordError {
    RecordError {
        line: 1,
        column: 1,
        message,
    }
}

/// A subscription payload: a DATA_MESSAGE's log events; nothing for a CONTROL_MESSAGE.
fn subscription(payload: &mut Map<String, Value>) -> Result<Unwrapped, RecordError> {
    let kind = payload.get("messageType").and_then(Value::as_str);
    match kind {
        Some("DATA_MESSAGE") => {}
        Some("CONTROL_MESSAGE") => {
            return Ok(Unwrapped {
                objects: Vec::new(),
                rejected: Vec::new(),
            })
        }
        other => {
            return Err(at_start(format!(
                "CloudWatch subscription message of unknown `messageType` {:?}",
                other.unwrap_or("")
            )))
        }
    }
    let group = payload.get("logGroup").cloned();
    let stream = payload.get("logStream").cloned();
    let Some(Value::Array(events)) = payload.remove("logEvents") else {
        return Err(at_start(
            "CloudWatch DATA_MESSAGE: `logEvents` must be an array of log events".into(),
        ));
    };
    Ok(log_events(events, Some((group, stream)), "logEvents"))
}

/// Inflates gzip data, at most [`MAX_INFLATED`] bytes; why not, as the end of a sentence.
fn gunzip(compressed: &[u8]) -> Result<Vec<u8>, String> {
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(compressed)
        .take(MAX_INFLATED + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("is not gzip data: {e}"))?;
    if text.len() as u64 > MAX_INFLATED {
        return Err(format!("inflates past {MAX_INFLATED} bytes"));
    }
    Ok(text)
}

/// Decodes and inflates `awslogs.data` into the subscription payload.
fn inflate(data: &str) -> Result<Map<String, Value>, RecordError> {
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|e| at_start(format!("CloudWatch `awslogs.data` is not base64: {e}")))?;
    let text =
        gunzip(&compressed).map_err(|why| at_start(format!("CloudWatch `awslogs.data` {why}")))?;
    serde_json::from_slice(&text).map_err(|e| {
        at_start(format!(
            "CloudWatch `awslogs.data`: the payload is not a JSON object: {}",
            super::reader::message_of(&e)
        ))
    })
}

/// The events of a list of log events; `stream` the payload's log group and stream.
fn log_events(
    events: Vec<Value>,
    payload: Option<(Option<Value>, Option<Value>)>,
    list: &str,
) -> Unwrapped {
    let mut out = Unwrapped {
        objects: Vec::with_capacity(events.len()),
        rejected: Vec::new(),
    };
    let (group, stream) = payload.unwrap_or((None, None));
    for (i, event) in events.into_iter().enumerate() {
        let Value::Object(event) = event else {
            out.rejected.push(format!(
                "CloudWatch `{list}[{i}]` is not a log event object; skipped"
            ));
            continue;
        };
        let Some(message) = event.get("message").and_then(Value::as_str) else {
            out.rejected.push(format!(
                "CloudWatch `{list}[{i}]` has no `message` string; skipped"
            ));
            continue;
        };
        let time = || {
            event
                .get("timestamp")
                .and_then(Value::as_i64)
                .map_or(Value::Null, |ms| {
                    Value::String(crate::time::format_timestamp(ms))
                })
        };
        let stream = stream
            .clone()
            .or_else(|| event.get("logStreamName").cloned());
        match message_events(message, time, group.clone(), stream) {
            Ok(objects) => out.objects.extend(objects),
            Err(why) => out
                .rejected
                .push(format!("CloudWatch `{list}[{i}]`: {why}; skipped")),
        }
    }
    out
}

/// The events one log event's message stands for.
fn message_events(
    message: &str,
    time: impl Fn() -> Value,
    group: Option<Value>,
    stream: Option<Value>,
) -> Result<Vec<Map<String, Value>>, String> {
    let trimmed = message.trim();
    if trimmed.starts_with('{') {
        let value: Map<String, Value> = serde_json::from_str(trimmed).map_err(|e| {
            format!(
                "a message that starts as a JSON object is not one ({})",
                super::reader::message_of(&e)
            )
        })?;
        return Ok(records_of(value));
    }
    let mut plain = Map::new();
    let ts = time();
    if !ts.is_null() {
        plain.insert("@timestamp".into(), ts);
    }
    plain.insert("message".into(), Value::String(message.to_string()));
    let mut cloudwatch = Map::new();
    if let Some(group) = group.filter(|g| !g.is_null()) {
        cloudwatch.insert("log_group".into(), group);
    }
    if let Some(stream) = stream.filter(|s| !s.is_null()) {
        cloudwatch.insert("log_stream".into(), stream);
    }
    if !cloudwatch.is_empty() {
        let mut aws = Map::new();
        aws.insert("cloudwatch".into(), Value::Object(cloudwatch));
        plain.insert("aws".into(), Value::Object(aws));
    }
    Ok(vec![plain])
}

/// A message object, or the records of a `{"Records": [...]}` / `{"records": [...]}`
/// envelope in it.
fn records_of(mut value: Map<String, Value>) -> Vec<Map<String, Value>> {
    for key in ["records", "Records"] {
        if value.len() == 1 {
            if let Some(Value::Array(items)) = value.get(key) {
                if items.iter().all(Value::is_object) {
                    let Some(Value::Array(items)) = value.remove(key) else {
                        unreachable!("checked above")
                    };
                    return items
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::Object(m) => Some(m),
                            _ => None,
                        })
                        .collect();
                }
            }
        }
    }
    vec![value]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn export_lines_need_a_utc_time_and_a_space() {
        let (t, m) = export_line(b"2025-03-01T10:15:00.000Z {\"a\":1}").unwrap();
        assert_eq!(
            (t, m),
            ("2025-03-01T10:15:00.000Z", b"{\"a\":1}".as_slice())
        );
        assert!(export_line(b"2025-03-01 10:15:00 x").is_none());
        assert!(export_line(b"{\"a\":1}").is_none());
        assert!(export_line(b"2025-13-41T10:15:00.000Z x").is_none());
    }

    #[test]
    fn control_messages_give_nothing_and_unknown_kinds_are_errors() {
        let mut c = obj(
            json!({"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}),
        );
        assert!(unwrap(&mut c).unwrap().unwrap().objects.is_empty());
        let mut odd = obj(json!({"messageType":"OTHER","logEvents":[]}));
        assert!(unwrap(&mut odd).unwrap().is_err());
    }

    #[test]
    fn plain_messages_and_bad_ones() {
        let mut p = obj(
            json!({"messageType":"DATA_MESSAGE","logGroup":"/app","logStream":"s1","logEvents":[
                {"id":"1","timestamp":1740824100000_i64,"message":"START RequestId: 1"},
                {"id":"2","timestamp":1740824100001_i64,"message":"{\"cut\":"},
                {"id":"3","timestamp":1740824100002_i64,"message":"{\"Records\":[{\"a\":1},{\"a\":2}]}"},
                7
            ]}),
        );
        let u = unwrap(&mut p).unwrap().unwrap();
        assert_eq!(u.objects.len(), 3);
        assert_eq!(u.objects[0]["@timestamp"], "2025-03-01T10:15:00.000Z");
        assert_eq!(u.objects[0]["aws"]["cloudwatch"]["log_group"], "/app");
        assert_eq!(u.objects[2]["a"], 2);
        assert_eq!(u.rejected.len(), 2, "{:?}", u.rejected);
        assert!(u.rejected[0].contains("logEvents[1]"), "{}", u.rejected[0]);
    }

    #[test]
    fn bad_awslogs_data_is_an_error() {
        let mut b = obj(json!({"awslogs":{"data":"not base64!"}}));
        let e = unwrap(&mut b).unwrap().unwrap_err();
        assert!(e.message.contains("base64"), "{}", e.message);
        let mut g = obj(json!({"awslogs":{"data":"aGVsbG8="}}));
        let e = unwrap(&mut g).unwrap().unwrap_err();
        assert!(e.message.contains("gzip"), "{}", e.message);
    }

    #[test]
    fn wrappers_are_told_from_their_first_key() {
        assert!(hides_content(b"{ \"awslogs\": {\"data\":\"H4sI\"}}"));
        assert!(!hides_content(b"{\"events\":[]}"));
        assert!(is_wrapper(b"{\"messageType\":\"DATA_MESSAGE\"}"));
        assert!(is_wrapper(b"2025-03-01T10:15:00.000Z x"));
        assert!(!is_wrapper(b"{\"eventName\":\"x\"}"));
        let kinesis = b"{\"Records\":[{\"kinesis\":{\"data\":\"H4sI\"}}]}";
        assert!(hides_content(kinesis) && is_wrapper(kinesis));
        let get_records = b"{\n    \"Records\": [{\"SequenceNumber\": \"1\", \"Data\": \"H4sI\"}]}";
        assert!(hides_content(get_records));
        assert!(!hides_content(
            b"{\"Records\":[{\"eventName\":\"GetObject\"}]}"
        ));
        assert!(!is_wrapper(b"{"));
    }
}
