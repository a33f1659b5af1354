//! The records of a body a sender posts (`watch`'s HTTP ingest endpoint): NDJSON, a JSON
//! array, one JSON document (an Azure diagnostic setting's `{"records":[...]}` batch stays
//! one record: the engine unwraps it), or pretty-printed documents one after another, read
//! as a file is ([`Reader`]): one bad line or element is rejected alone, the records around
//! it kept, and values strict JSON refuses (a lone surrogate, an invalid UTF-8 byte, `1e400`)
//! are kept lossily ([`super::lossy`]) rather than losing their record.

use serde_json::Value;

use super::lossy::repair;
use super::reader::message_of;
use super::{InputError, Reader, ReaderOptions};

/// What a body held: its records, and the parts rejected (the 1-based line where each
/// starts, and why).
#[derive(Debug, Default)]
pub struct BodyRecords {
    pub records: Vec<Value>,
    pub rejected: Vec<(u64, String)>,
    /// Records kept with values rewritten lossily.
    pub lossy: usize,
}

/// Splits `body` into records; `max_record_bytes` bounds one record as for files.
pub fn split_body(body: &[u8], max_record_bytes: usize) -> BodyRecords {
    let mut out = BodyRecords::default();
    let options = ReaderOptions {
        max_record_bytes,
        ..ReaderOptions::default()
    };
    let reader = match Reader::from_read(
        "body",
        Box::new(std::io::Cursor::new(body.to_vec())),
        options,
    ) {
        Ok(r) => r,
        Err(e) => {
            out.rejected.push((1, e.to_string()));
            return out;
        }
    };
    for item in reader {
        match item {
            Ok(batch) => {
                for span in &batch.records {
                    let bytes = batch.bytes(span);
                    match serde_json::from_slice::<Value>(bytes) {
                        Ok(v) => out.records.push(v),
                        Err(e) => {
                            let fixed = repair(bytes).and_then(|(fixed, _)| {
                                serde_json::from_slice::<Value>(&fixed).ok()
                            });
                            match fixed {
                                Some(v) => {
                                    out.records.push(v);
                                    out.lossy += 1;
                                }
                                None => out.rejected.push((
                                    span.line + e.line() as u64 - 1,
                                    format!("column {}: {}", e.column(), message_of(&e)),
                                )),
                            }
                        }
                    }
                }
            }
            Err(InputError::Malformed(p)) => out
                .rejected
                .push((p.line, format!("column {}: {}", p.column, p.message))),
            Err(InputError::RecordTooLong { line, limit, .. }) => out.rejected.push((
                line,
                format!("record longer than the {limit}-byte limit for one event"),
            )),
            Err(e) => out.rejected.push((0, e.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &[u8]) -> (Vec<String>, Vec<u64>, usize) {
        let b = split_body(text, 1 << 20);
        (
            b.records.iter().map(Value::to_string).collect(),
            b.rejected.iter().map(|(l, _)| *l).collect(),
            b.lossy,
        )
    }

    #[test]
    fn bodies_are_split_as_senders_send_them() {
        let (r, bad, _) = split(b"[{\"a\":1},{\"b\":2}]");
        assert_eq!((r.len(), bad.len()), (2, 0));
        let (r, _, _) = split(b"{\n  \"records\": [{\"a\": 1}, {\"b\": 2}]\n}\n");
        assert_eq!(
            r,
            [r#"{"records":[{"a":1},{"b":2}]}"#],
            "an envelope is one record"
        );
        let (r, bad, _) = split(b"{\"a\":1}\nnot json\n\n{\"b\":2}\n");
        assert_eq!(r, [r#"{"a":1}"#, r#"{"b":2}"#]);
        assert_eq!(bad, [2]);
    }

    #[test]
    fn one_bad_element_or_value_loses_no_other_record() {
        // A JSON array with one bad element: the whole body was refused line by line.
        let (r, bad, _) = split(b"[\n  {\"a\": 1},\n  {\"a\": tru},\n  {\"a\": 3}\n]\n");
        assert_eq!(r, [r#"{"a":1}"#, r#"{"a":3}"#]);
        assert_eq!(bad, [3]);
        // Pretty-printed documents one after another: every line was rejected.
        let (r, bad, _) = split(b"{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n");
        assert_eq!((r.len(), bad.len()), (2, 0));
        // A lone surrogate, an invalid UTF-8 byte, a number out of range: kept lossily.
        let (r, bad, lossy) = split(b"{\"p\": \"\\ud800\"}\n{\"p\": \"\xff\"}\n{\"n\": 1e400}\n");
        assert_eq!(r.len(), 3, "{r:?} {bad:?}");
        assert_eq!(lossy, 3);
        // One record too long: rejected alone.
        let long = format!(
            "{{\"a\": 1}}\n{{\"x\": \"{}\"}}\n{{\"a\": 2}}\n",
            "y".repeat(2000)
        );
        let b = split_body(long.as_bytes(), 1000);
        assert_eq!((b.records.len(), b.rejected.len()), (2, 1));
        assert_eq!(b.rejected[0].0, 2);
    }
}
