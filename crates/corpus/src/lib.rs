//! Deterministic generator of realistic raw Azure OpenAI diagnostic logs.
//!
//! [`generate`] writes NDJSON, one raw diagnostic record per line, in the
//! shape diagnostic settings write to a storage account:
//!
//! * mostly `RequestResponse` records of `Microsoft.CognitiveServices`
//!   accounts (`ChatCompletions_Create`, `Embeddings_Create`,
//!   `Completions_Create`) with `apiName`, `requestTime`/`responseTime`
//!   (.NET ticks), `requestLength`, `responseLength`, `objectId`,
//!   `streamType`, `modelDeploymentName`, `modelName`, `modelVersion`, and
//!   a masked caller IP; about one in ten has `properties` as a JSON string;
//! * about 12 % `GatewayLogs` records of API Management services in front
//!   of the accounts, with request and response bodies (prompt and
//!   completion text, a few hundred bytes to about 2 KB each);
//! * a small share of `Audit` `ListKey` records: every account gets a few
//!   (at most 40 over the whole corpus), and each of the first
//!   `attack_resources` accounts of a random draw also gets one burst of
//!   110 to 240 `ListKey` calls within 15 to 55 minutes, all by the same
//!   identity. The seed detection rule (`count >= 100` `ListKey` audits
//!   per resource) therefore fires for exactly those accounts.
//!
//! Timestamps never decrease from one line to the next and cover
//! `[start, start + span)`. The same spec always gives the same bytes.
//!
//! [`sim`] simulates labelled benign and attack LLM traffic in modelward's own LLM
//! request log format (`simulate-llm-traffic`).
//! Names, GUIDs and IP addresses are invented; client addresses come from
//! private and documentation ranges. A gateway call is not mirrored by a
//! `RequestResponse` record of its backend account.

use std::io::{self, BufWriter, Write};

pub mod cli_args;
pub mod mutate;
mod plan;
mod records;
mod rng;
pub mod sim;
mod text;
mod world;

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorpusSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of records (lines), attack bursts included.
    pub events: u64,
    /// Start of the time range, in milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
    /// Length of the time range, in milliseconds.
    pub span_ms: i64,
    /// Number of Azure OpenAI accounts.
    pub resources: usize,
    /// How many of them get an attack burst of `ListKey` calls.
    pub attack_resources: usize,
}

impl Default for CorpusSpec {
    /// 10 000 records over the day of 2025-03-01 (UTC), 12 accounts, 2 of
    /// them attacked.
    fn default() -> Self {
        CorpusSpec {
            seed: 42,
            events: 10_000,
            start_unix_ms: 1_740_787_200_000,
            span_ms: 86_400_000,
            resources: 12,
            attack_resources: 2,
        }
    }
}

/// Writes the corpus described by `spec` to `out` (buffered internally)
/// and returns the number of bytes written.
///
/// Fails with [`io::ErrorKind::InvalidInput`] when the spec is unusable:
/// a span that is not positive or not within years 1 to 9999, no
/// resources, more attack resources than resources, or fewer events than
/// the attack bursts need (up to 240 per attack resource).
pub fn generate(spec: &CorpusSpec, out: &mut impl Write) -> io::Result<u64> {
    let plan = plan::Plan::new(spec)?;
    let mut sink = CountingWriter {
        inner: BufWriter::with_capacity(1 << 16, out),
        bytes: 0,
    };
    plan.write_all(&mut sink)?;
    sink.flush()?;
    Ok(sink.bytes)
}

/// Number of events that makes a corpus of about `target_bytes` with this
/// spec's other settings, estimated from a sample (attack bursts are small
/// records, so the result is within a few percent). At least enough for
/// the attack bursts.
pub fn events_for_size(spec: &CorpusSpec, target_bytes: u64) -> io::Result<u64> {
    const SAMPLE_EVENTS: u64 = 20_000;
    let sample = CorpusSpec {
        events: SAMPLE_EVENTS,
        attack_resources: 0,
        ..spec.clone()
    };
    let sample_bytes = generate(&sample, &mut io::sink())?;
    let per_event = (sample_bytes / SAMPLE_EVENTS).max(1);
    let minimum = spec.attack_resources as u64 * plan::BURST_SIZE.1;
    Ok((target_bytes / per_event).max(minimum))
}

/// An unusable spec.
fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// A time range's span must be positive.
fn positive_span(span_ms: i64) -> io::Result<()> {
    if span_ms <= 0 {
        return Err(invalid(format!("span must be positive, got {span_ms} ms")));
    }
    Ok(())
}

/// A time range's start and end must be dates of years 1 to 9999.
fn representable_span(start_unix_ms: i64, span_ms: i64) -> io::Result<()> {
    let end = start_unix_ms.checked_add(span_ms);
    let representable = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).is_some_and(|t| {
            let year = chrono::Datelike::year(&t);
            (1..=9999).contains(&year)
        })
    };
    if !representable(start_unix_ms) || !end.is_some_and(representable) {
        return Err(invalid(
            "start and end of the span must be between years 1 and 9999".to_owned(),
        ));
    }
    Ok(())
}

/// Counts the bytes that go through it.
struct CountingWriter<W: Write> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.bytes += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
