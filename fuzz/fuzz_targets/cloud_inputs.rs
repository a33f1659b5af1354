//! Inputs as clouds deliver them: the bytes as a record, and wrapped in each CloudWatch Logs
//! delivery (a subscription payload's log event, a Lambda's `awslogs.data`, an S3 export
//! line, a `get-log-events` answer) and as an OTLP/JSON span's and log record's attribute
//! and body, and as an OpenAI audit log page's object; every object through
//! `source::normalize` (auto, and forced `otel_genai` and `openai_audit`). Each must return,
//! never panic.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use modelward_event::input::parse_record;
use modelward_event::source::{self, SourceKind};
use serde_json::{json, Value};

fn gzip_base64(data: &[u8]) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = gz.write_all(data);
    let bytes = gz.finish().unwrap_or_default();
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

fn run(record: &[u8]) {
    let Ok(objects) = parse_record(record) else {
        return;
    };
    for object in objects {
        let _ = source::normalize(object.clone(), SourceKind::Auto);
        let _ = source::normalize(object.clone(), SourceKind::OtelGenAi);
        let _ = source::normalize(object, SourceKind::OpenAiAudit);
    }
}

fuzz_target!(|data: &[u8]| {
    run(data);
    let text = String::from_utf8_lossy(data).to_string();
    let value: Value = serde_json::from_slice(data).unwrap_or(Value::String(text.clone()));
    let payload = json!({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s",
        "subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":text}]});
    let wrapped = [
        payload.clone(),
        json!({"awslogs":{"data": gzip_base64(payload.to_string().as_bytes())}}),
        json!({"awslogs":{"data": gzip_base64(data)}}),
        json!({"events":[{"timestamp":1,"message":text,"ingestionTime":2}],"nextForwardToken":"f"}),
        json!({"resourceSpans":[{"resource":{"attributes":[]},"scopeSpans":[{"scope":{"name":"s"},"spans":[
            {"traceId":"a","spanId":"b","startTimeUnixNano":"1","attributes":[
                {"key":"gen_ai.input.messages","value":{"stringValue":text}},
                {"key":"gen_ai.prompt.0.content","value":value.clone()}],
             "events":[{"name":"gen_ai.user.message","attributes":[{"key":"gen_ai.event.content","value":{"stringValue":text}}]}]}]}]}]}),
        json!({"resourceLogs":[{"resource":{},"scopeLogs":[{"logRecords":[
            {"eventName":"gen_ai.choice","body":value.clone(),"traceId":"a","spanId":"b"},
            {"eventName":"gen_ai.user.message","body":{"kvlistValue":{"values":[{"key":"content","value":value}]}},"traceId":"a","spanId":"b"}]}]}]}),
        json!({"object":"list","data":[{"id":"audit_log-1","type":text,"effective_at":1,"actor":value.clone(),text.clone():value.clone()}],"has_more":false}),
    ];
    for w in wrapped {
        run(w.to_string().as_bytes());
    }
    let mut line = b"2025-03-01T10:15:00.000Z ".to_vec();
    line.extend_from_slice(data);
    run(&line);
});
