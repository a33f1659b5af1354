//! One raw record in, normalized events out: the one path from a record's bytes to
//! [`Event`]s, shared by the engine (every record it does not skip) and the response side
//! (its count of call volumes), so both read the logs alike.
//!
//! ```
//! use std::sync::Arc;
//! use modelward_event::ingest::{record_events, Ingested};
//! use modelward_event::input::RecordSpan;
//! use modelward_event::source::SourceKind;
//!
//! let raw = br#"{"@timestamp":"2025-03-01T00:00:00Z","user":{"id":"u1"}}"#;
//! let span = RecordSpan { start: 0, end: raw.len(), line: 7, offset: 420 };
//! let events = record_events(&Arc::from("app.ndjson"), &span, raw, SourceKind::Auto).unwrap();
//! let Ingested::Event(event, None) = &events[0] else { panic!() };
//! assert_eq!(event.get_str("user.id"), Some("u1"));
//! assert_eq!((event.origin.line, event.origin.offset), (7, 420));
//! ```

use std::sync::Arc;

use crate::input::{parse_record_noting, ParseError, RecordError, RecordSpan};
use crate::source::{normalizer_for, Normalized, SourceError, SourceKind};
use crate::{Event, Origin};

/// What became of one object of a record.
#[derive(Debug)]
pub enum Ingested {
    /// An event, and why it is only partly normalized when the source's pipeline would
    /// index it as it failed (`file:line: why`).
    Event(Event, Option<String>),
    /// The source's pipeline drops such records by design: not an event, not an error.
    Dropped,
    /// The normalizer rejected it: `file:line: why`.
    Rejected(String),
    /// Values of the record strict JSON refuses, kept lossily so that the record is not
    /// lost (`file:line:column: what`; see [`crate::input::lossy`]). It comes before the
    /// record's events, once per record, and is not an event.
    Lossy(String),
}

/// The events of one raw record (an envelope holds several), normalized for `source`, each
/// with its origin (file, line, offset, and the hash of the record's bytes). A record that is not valid JSON (or an S3 access
/// log line) is an error at its line and column.
pub fn record_events(
    file: &Arc<str>,
    span: &RecordSpan,
    raw: &[u8],
    source: SourceKind,
) -> Result<Vec<Ingested>, ParseError> {
    record_events_noting(file, span, raw, source).map(|r| r.items)
}

/// What [`record_events_noting`] made of a record.
#[derive(Debug)]
pub struct Record {
    pub items: Vec<Ingested>,
    /// Some normalizer wrote (or judged) one of its objects: its events may hold values the
    /// raw record does not. False when every event is an object of the record as it is.
    pub normalized: bool,
}

/// [`record_events`], noting whether a normalizer applied (the prefilter needs literals a
/// normalizer may write only then).
pub fn record_events_noting(
    file: &Arc<str>,
    span: &RecordSpan,
    raw: &[u8],
    source: SourceKind,
) -> Result<Record, ParseError> {
    let mut normalized = false;
    let parsed = parse_record_noting(raw).map_err(|e| located(file, span, e))?;
    let hash = crate::hash::record_hash(raw);
    let lossy = parsed.repairs.map(|r| {
        let line = span.line + r.line - 1;
        Ingested::Lossy(format!(
            "{file}:{line}:{}: {r}; the record is kept",
            r.column
        ))
    });
    let rejected = parsed
        .rejected
        .into_iter()
        .map(|why| Ingested::Rejected(format!("{file}:{}: {why}", span.line)));
    let items = lossy
        .into_iter()
        .chain(rejected)
        .chain(
            parsed
                .objects
                .into_iter()
                .enumerate()
                .map(|(index, object)| {
                    let origin = || Origin {
                        file: file.clone(),
                        line: span.line,
                        offset: span.offset,
                        hash,
                        index: u32::try_from(index).unwrap_or(u32::MAX),
                    };
                    // As `source::normalize`, noting whether a normalizer applied.
                    let normalizer = normalizer_for(&object, source);
                    normalized |= normalizer.is_some();
                    let result = match normalizer {
                        Some(n) => n.normalize(object),
                        None => Ok(Normalized::Event(object)),
                    };
                    match result {
                        Ok(Normalized::Event(fields)) => {
                            Ingested::Event(Event::new(fields, origin()), None)
                        }
                        Ok(Normalized::Partial(fields, why)) => Ingested::Event(
                            Event::new(fields, origin()),
                            Some(format!(
                                "{file}:{}: {why} (indexed as the pipeline leaves it)",
                                span.line
                            )),
                        ),
                        Err(SourceError::Dropped(_)) => Ingested::Dropped,
                        Err(e) => Ingested::Rejected(format!("{file}:{}: {e}", span.line)),
                    }
                }),
        )
        .collect();
    Ok(Record { items, normalized })
}

/// A record's error at its place in the input.
pub fn located(file: &str, span: &RecordSpan, e: RecordError) -> ParseError {
    ParseError {
        file: file.to_string(),
        line: span.line + e.line - 1,
        column: e.column,
        message: e.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(raw: &[u8]) -> RecordSpan {
        RecordSpan {
            start: 0,
            end: raw.len(),
            line: 3,
            offset: 100,
        }
    }

    #[test]
    fn envelopes_give_one_event_each_and_errors_their_place() {
        let file: Arc<str> = Arc::from("d.json");
        let raw = br#"{"records":[{"a":1},{"b":2}]}"#;
        let events = record_events(&file, &span(raw), raw, SourceKind::Json).unwrap();
        assert_eq!(events.len(), 2);
        assert!(events
            .iter()
            .all(|e| matches!(e, Ingested::Event(ev, None) if ev.origin.line == 3 && ev.origin.offset == 100)));
        let bad = b"{\"a\":\n1,}";
        let e = record_events(&file, &span(bad), bad, SourceKind::Json).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("d.json", 4));
    }
}
