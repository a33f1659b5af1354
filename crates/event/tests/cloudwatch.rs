//! CloudWatch Logs deliveries (`input::cloudwatch`): the Bedrock invocation log records and
//! CloudTrail records of `fixtures/cloudwatch/native.ndjson`, as a subscription payload, a
//! Lambda's `awslogs.data`, Firehose's gzipped payloads back to back, `aws logs
//! filter-log-events` and `get-log-events` answers and an S3 export (made by
//! `fixtures/cloudwatch/generate.py`), read as `hunt` reads them, give the native events
//! normalized alike, each with its own place in the record.

use std::path::PathBuf;
use std::sync::Arc;

use modelward_event::ingest::{record_events, Ingested};
use modelward_event::input::{InputPath, Reader, ReaderOptions};
use modelward_event::source::SourceKind;
use modelward_event::Event;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cloudwatch")
        .join(name)
}

/// Every event of a file and every message about it, as `hunt --source auto` reads it.
fn read(path: &std::path::Path) -> (Vec<Event>, Vec<String>) {
    let reader = Reader::open(
        &InputPath::File(path.to_path_buf()),
        ReaderOptions::default(),
    )
    .unwrap();
    let name: Arc<str> = Arc::from(path.file_name().unwrap().to_string_lossy().as_ref());
    let (mut events, mut messages) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for span in &batch.records {
            match record_events(&name, span, batch.bytes(span), SourceKind::Auto) {
                Ok(items) => {
                    for item in items {
                        match item {
                            Ingested::Event(event, None) => events.push(event),
                            Ingested::Event(_, Some(why)) | Ingested::Rejected(why) => {
                                messages.push(why)
                            }
                            Ingested::Lossy(why) => messages.push(why),
                            Ingested::Dropped => messages.push("dropped".into()),
                        }
                    }
                }
                Err(e) => messages.push(e.to_string()),
            }
        }
    }
    (events, messages)
}

fn sorted_fields(events: &[Event]) -> Vec<String> {
    let mut out: Vec<String> = events
        .iter()
        .map(|e| serde_json::to_string(&e.fields).unwrap())
        .collect();
    out.sort();
    out
}

#[test]
fn every_delivery_gives_the_native_events() {
    let (native, messages) = read(&fixture("native.ndjson"));
    assert!(messages.is_empty(), "{messages:?}");
    assert_eq!(native.len(), 9);
    let want = sorted_fields(&native);
    for name in [
        "subscription.ndjson",
        "lambda_awslogs.ndjson",
        "firehose.gz",
        "filter_log_events.json",
        "get_log_events.json",
        "export_000000.gz",
        "kinesis_lambda_event.json",
        "kinesis_get_records.json",
        "firehose_transform_event.json",
        "firehose_decompressed.json",
    ] {
        let (events, messages) = read(&fixture(name));
        assert!(messages.is_empty(), "{name}: {messages:?}");
        assert_eq!(sorted_fields(&events), want, "{name}");
        // Bedrock calls and CloudTrail records were recognised as such.
        let datasets: std::collections::BTreeSet<_> = events
            .iter()
            .filter_map(|e| e.get_str("data_stream.dataset"))
            .collect();
        assert_eq!(
            datasets.into_iter().collect::<Vec<_>>(),
            ["aws.cloudtrail", "aws_bedrock.invocation"],
            "{name}"
        );
        // Events of one record are told apart by their index in it.
        let mut places: Vec<_> = events
            .iter()
            .map(|e| (e.origin.line, e.origin.offset, e.origin.index))
            .collect();
        places.sort_unstable();
        places.dedup();
        assert_eq!(places.len(), events.len(), "{name}");
    }
}

#[test]
fn plain_messages_cut_messages_and_bad_payloads() {
    let dir = std::env::temp_dir().join(format!("mw-cloudwatch-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mixed.ndjson");
    std::fs::write(
        &path,
        concat!(
            r#"{"messageType":"DATA_MESSAGE","owner":"333333333333","logGroup":"/aws/lambda/chat","logStream":"2025/03/01/[$LATEST]0a1b","subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1740824100000,"message":"START RequestId: 8f1c Version: $LATEST"},{"id":"2","timestamp":1740824100001,"message":"{\"schemaType\":\"ModelInvocationLog\",\"modelId\":"}]}"#,
            "\n",
            r#"{"awslogs":{"data":"bm90IGd6aXA="}}"#,
            "\n",
            "2025-03-01T10:15:00.000Z REPORT RequestId: 8f1c Duration: 12.5 ms\n",
        ),
    )
    .unwrap();
    let (events, messages) = read(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    insta::assert_json_snapshot!(
        "cloudwatch_plain_messages",
        events.iter().map(|e| &e.fields).collect::<Vec<_>>()
    );
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("mixed.ndjson:1: CloudWatch `logEvents[1]`: a message that starts as a JSON object is not one"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].starts_with("mixed.ndjson:2:1: CloudWatch `awslogs.data` is not gzip data"),
        "{}",
        messages[1]
    );
}

/// Kinesis records that cannot be read are said with their index and the others are read;
/// a producer's own events on the stream (not subscription payloads) are the events.
#[test]
fn kinesis_records_bad_and_direct() {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let direct = br#"{"eventName":"CreateAccessKey","eventSource":"iam.amazonaws.com","eventTime":"2025-03-01T10:15:00Z"}"#;
    let dir = std::env::temp_dir().join(format!("mw-kinesis-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("kinesis.json");
    let record = |data: &str| {
        serde_json::json!({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "p",
            "sequenceNumber": "1", "data": data, "approximateArrivalTimestamp": 1.7e9},
            "eventSource": "aws:kinesis", "eventName": "aws:kinesis:record"})
    };
    let event = serde_json::json!({"Records": [
        record("not base64!"),
        record(&b64(direct)),
        record(&b64(b"\x1f\x8b\x08\x00garbage")),
    ]});
    std::fs::write(&path, event.to_string()).unwrap();
    let (events, messages) = read(&path);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(events.len(), 1, "{messages:?}");
    assert_eq!(events[0].get_str("event.action"), Some("CreateAccessKey"));
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].contains("Kinesis `Records[0]`: the data is not base64"),
        "{}",
        messages[0]
    );
    assert!(
        messages[1].contains("Kinesis `Records[2]`: the data is not gzip data"),
        "{}",
        messages[1]
    );
}
