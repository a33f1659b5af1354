//! modelward's LLM request log as the gateway writes it: one JSON line per call
//! (docs/llm-log.md), appended to a file that `modelward hunt` reads with `--source auto`.
//!
//! With [`Rotation`] the log is a series of segments beside the configured path, never
//! renamed once written: `llm.ndjson` configured, `llm.20261207T132900.123Z.ndjson`,
//! `llm.20261207T140112.004Z.ndjson`, ... (UTC start times, so they sort by age). A segment
//! that passes `max_bytes` is closed and a new one started; a restart appends to the newest;
//! past `keep` segments the oldest are deleted. Since a segment keeps its name, the file, line
//! and offset an alert names stay true after rotation (evidence is read back from them).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

/// When the log moves to a new segment, and how many are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// A segment that has reached this size is closed (the record that passes it stays whole).
    pub max_bytes: u64,
    /// Segments kept (the newest); `None`: all.
    pub keep: Option<usize>,
}

/// The log file, appended to a whole line at a time; each record written may also be passed
/// on (the tap) to in-path detection, with its place in the file.
#[derive(Debug)]
pub struct LlmLog {
    /// The configured path (the base of segment names when rotating).
    path: PathBuf,
    rotation: Option<Rotation>,
    inner: Mutex<Inner>,
    tap: Option<SyncSender<Record>>,
    /// Records the tap could not take (detection behind by more than its queue).
    untapped: AtomicU64,
}

#[derive(Debug)]
struct Inner {
    /// The file written now, as records name it.
    name: Arc<str>,
    file: File,
    /// The line and byte offset the next record starts at.
    line: u64,
    offset: u64,
}

/// One record as written, for detection: where it is in the log, and its bytes (no newline).
#[derive(Debug, Clone)]
pub struct Record {
    pub file: Arc<str>,
    pub line: u64,
    pub offset: u64,
    pub bytes: Vec<u8>,
}

/// Opens `path` for appending, with the line and offset its next record starts at.
fn open_file(path: &Path) -> io::Result<Inner> {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .open(path)?;
    let mut lines = 0u64;
    let mut offset = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    file.seek(SeekFrom::Start(0))?;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        offset += n as u64;
    }
    Ok(Inner {
        name: Arc::from(path.display().to_string()),
        file,
        line: lines + 1,
        offset,
    })
}

/// `llm.ndjson` → (`llm.`, `.ndjson`): what a segment's name starts and ends with.
fn segment_affixes(path: &Path) -> (String, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "llm.ndjson".into());
    match name.split_once('.') {
        Some((stem, ext)) => (format!("{stem}."), format!(".{ext}")),
        None => (format!("{name}."), String::new()),
    }
}

/// The segments of a rotating log at `path`, oldest first (none: it has not rotated).
pub fn segments(path: &Path) -> Vec<PathBuf> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (prefix, suffix) = segment_affixes(path);
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let stamp = name.strip_prefix(&prefix)?.strip_suffix(&suffix)?;
            // `20261207T132900.123Z`.
            let ok = stamp.len() == 20
                && stamp.as_bytes()[8] == b'T'
                && stamp.ends_with('Z')
                && stamp.bytes().filter(u8::is_ascii_digit).count() == 17;
            ok.then(|| e.path())
        })
        .collect();
    found.sort();
    found
}

/// The files a log at `path` has written: its segments, or the file itself.
pub fn files(path: &Path) -> Vec<PathBuf> {
    let mut all = segments(path);
    if path.exists() {
        all.insert(0, path.to_path_buf());
    }
    all
}

/// A new segment's path, named by `now_ms` (a later millisecond if that name is taken).
fn new_segment(path: &Path, mut now_ms: i64) -> PathBuf {
    let (prefix, suffix) = segment_affixes(path);
    loop {
        // 2026-12-07T13:29:00.123Z → 20261207T132900.123Z
        let stamp: String = modelward_event::format_timestamp(now_ms)
            .chars()
            .filter(|c| *c != '-' && *c != ':')
            .collect();
        let candidate = path.with_file_name(format!("{prefix}{stamp}{suffix}"));
        if !candidate.exists() {
            return candidate;
        }
        now_ms += 1;
    }
}

impl LlmLog {
    /// Opens (creates) the log for appending; the lines already there are counted so that
    /// records are placed by line and offset as `hunt` reads them.
    pub fn open(path: &Path) -> io::Result<LlmLog> {
        Ok(LlmLog {
            path: path.to_path_buf(),
            rotation: None,
            inner: Mutex::new(open_file(path)?),
            tap: None,
            untapped: AtomicU64::new(0),
        })
    }

    /// Opens a rotating log: the newest segment beside `path` if there is one, else a new
    /// one.
    pub fn open_rotating(path: &Path, rotation: Rotation) -> io::Result<LlmLog> {
        let current = segments(path)
            .pop()
            .unwrap_or_else(|| new_segment(path, crate::now_ms()));
        Ok(LlmLog {
            path: path.to_path_buf(),
            rotation: Some(rotation),
            inner: Mutex::new(open_file(&current)?),
            tap: None,
            untapped: AtomicU64::new(0),
        })
    }

    /// The files this log has written (for reading it back).
    pub fn files(&self) -> Vec<PathBuf> {
        match self.rotation {
            Some(_) => segments(&self.path),
            None => vec![self.path.clone()],
        }
    }

    /// Passes every record written to `tap` as well (never blocking: a full queue drops the
    /// record for detection, counted in [`LlmLog::untapped`]; it is still in the log).
    pub fn with_tap(mut self, tap: SyncSender<Record>) -> LlmLog {
        self.tap = Some(tap);
        self
    }

    pub fn untapped(&self) -> u64 {
        self.untapped.load(Ordering::Relaxed)
    }

    /// Appends one record (one `write` of the whole line, so concurrent calls never
    /// interleave), moving to a new segment first when the current one is full.
    pub fn write(&self, record: &Value) -> io::Result<()> {
        let line = serde_json::to_vec(record)?;
        self.write_lines(vec![line])
    }

    /// Appends records, each a JSON document without its newline, in order: one `write` of
    /// all of them (or of those before and after a move to a new segment); each passed on to
    /// the tap with its place.
    pub fn write_lines(&self, lines: Vec<Vec<u8>>) -> io::Result<()> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let mut buf: Vec<u8> = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for mut line in lines {
            if let Some(r) = self.rotation {
                if inner.offset > 0 && inner.offset >= r.max_bytes {
                    inner.file.write_all(&buf)?;
                    buf.clear();
                    *inner = open_file(&new_segment(&self.path, crate::now_ms()))?;
                    if let Some(keep) = r.keep {
                        let all = segments(&self.path);
                        let excess = all.len().saturating_sub(keep.max(1));
                        for old in &all[..excess] {
                            let _ = std::fs::remove_file(old);
                        }
                    }
                }
            }
            buf.extend_from_slice(&line);
            buf.push(b'\n');
            let (at_line, at_offset) = (inner.line, inner.offset);
            inner.line += 1;
            inner.offset += line.len() as u64 + 1;
            if let Some(tap) = &self.tap {
                line.shrink_to_fit();
                let record = Record {
                    file: inner.name.clone(),
                    line: at_line,
                    offset: at_offset,
                    bytes: line,
                };
                if tap.try_send(record).is_err() {
                    self.untapped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        inner.file.write_all(&buf)
    }
}

/// The gateway's log writer: calls are handed to a thread of its own (a bounded queue of
/// [`WRITER_QUEUE`]; a full queue makes the request that logs wait), which builds each
/// record, and writes what is queued in one `write` (so the request path neither serializes
/// records nor waits for the disk). The file is never synced: records are in the operating
/// system's hands as soon as written. [`LogWriter::flush`] waits until what was handed over
/// is written (and tapped); dropping the writer does the same.
pub struct LogWriter {
    log: Arc<LlmLog>,
    tx: Option<SyncSender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Calls queued for the log writer at most.
pub const WRITER_QUEUE: usize = 16_384;
/// Records written in one `write` at most.
const WRITER_BATCH: usize = 512;

enum Job {
    Call(Box<(Call, Logged, Logged)>),
    Flush(SyncSender<()>),
}

impl LogWriter {
    pub fn new(log: LlmLog) -> LogWriter {
        let log = Arc::new(log);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Job>(WRITER_QUEUE);
        let writer = log.clone();
        let thread = std::thread::Builder::new()
            .name("llm-log".into())
            .spawn(move || {
                let mut lines = Vec::new();
                let mut flushed = Vec::new();
                while let Ok(first) = rx.recv() {
                    let mut job = Some(first);
                    while let Some(j) = job.take() {
                        match j {
                            Job::Call(c) => {
                                let (call, request, response) = *c;
                                match response.line(&call, &request) {
                                    Ok(line) => lines.push(line),
                                    Err(e) => say_error(&e),
                                }
                            }
                            Job::Flush(done) => flushed.push(done),
                        }
                        if lines.len() < WRITER_BATCH {
                            job = rx.try_recv().ok();
                        }
                    }
                    if !lines.is_empty() {
                        if let Err(e) = writer.write_lines(std::mem::take(&mut lines)) {
                            say_error(&e);
                        }
                    }
                    for done in flushed.drain(..) {
                        let _ = done.send(());
                    }
                }
            })
            .expect("starting the LLM log writer");
        LogWriter {
            log,
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Hands a call over to be logged: its request and response bodies as documents or as
    /// the bytes that came ([`Logged`]).
    pub fn call(&self, call: Call, request: Logged, response: Logged) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(Job::Call(Box::new((call, request, response))));
        }
    }

    /// Waits until every call handed over so far is written.
    pub fn flush(&self) {
        let (done, wait) = std::sync::mpsc::sync_channel(1);
        if let Some(tx) = &self.tx {
            if tx.send(Job::Flush(done)).is_ok() {
                let _ = wait.recv();
            }
        }
    }

    pub fn log(&self) -> &LlmLog {
        &self.log
    }
}

impl Drop for LogWriter {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn say_error(e: &dyn std::fmt::Display) {
    crate::say::say(
        crate::say::Level::Error,
        "",
        &format!("writing the LLM log: {e}"),
    );
}

/// A response body for the log: a document, or the bytes the upstream sent, which the log
/// writer's thread reads (so that an answer the gateway passes on unchanged is never parsed
/// on the request path, nor built into a document at all when it is JSON on one line).
#[derive(Debug)]
pub enum Logged {
    Value(Value),
    Bytes(bytes::Bytes),
    /// A Server-Sent Events stream as the caller got it: reassembled into the non-streamed
    /// shape ([`crate::sse::reassemble`]).
    Stream(Vec<u8>),
}

impl From<Value> for Logged {
    fn from(v: Value) -> Logged {
        Logged::Value(v)
    }
}

impl Logged {
    /// The record of `call` with this response and `request`, as one line (no newline).
    fn line(&self, call: &Call, request: &Logged) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(&call.record_with(&request.doc(), &self.doc()))
    }

    /// The body as it goes into the record: JSON on one line as it came (checked, not built),
    /// other JSON read and written on one line, anything else as a string; a stream
    /// reassembled.
    fn doc(&self) -> Doc<'_> {
        match self {
            Logged::Value(v) => Doc::Value(std::borrow::Cow::Borrowed(v)),
            Logged::Stream(events) => Doc::Value(std::borrow::Cow::Owned(
                crate::sse::reassemble_stream(events),
            )),
            Logged::Bytes(b) => {
                let one_line = !b.iter().any(|c| *c == b'\n' || *c == b'\r');
                let raw = one_line
                    .then(|| serde_json::from_slice::<&serde_json::value::RawValue>(b).ok())
                    .flatten();
                match raw {
                    Some(raw) => Doc::Raw(raw),
                    None => Doc::Value(std::borrow::Cow::Owned(
                        serde_json::from_slice(b).unwrap_or_else(|_| {
                            Value::String(String::from_utf8_lossy(b).into_owned())
                        }),
                    )),
                }
            }
        }
    }

    /// The body as a document, read from its bytes the first time (a request body the
    /// gateway must look into: measures, policy); bytes that are not JSON: `null`.
    pub fn value_mut(&mut self) -> &mut Value {
        if !matches!(self, Logged::Value(_)) {
            let v = match self {
                Logged::Bytes(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
                Logged::Stream(s) => crate::sse::reassemble_stream(s),
                Logged::Value(_) => Value::Null,
            };
            *self = Logged::Value(v);
        }
        match self {
            Logged::Value(v) => v,
            _ => unreachable!("made a document above"),
        }
    }

    /// The length of the body as JSON text (for an estimate of its tokens).
    pub fn json_len(&self) -> usize {
        match self {
            Logged::Value(v) => v.to_string().len(),
            Logged::Bytes(b) => b.len(),
            Logged::Stream(s) => s.len(),
        }
    }
}

/// A body as written into a record.
enum Doc<'a> {
    Raw(&'a serde_json::value::RawValue),
    Value(std::borrow::Cow<'a, Value>),
}

impl serde::Serialize for Doc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Raw(r) => r.serialize(s),
            Doc::Value(v) => v.serialize(s),
        }
    }
}

/// What the gateway knows of one call, for its log record.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// When the request arrived, ms since the epoch.
    pub at_ms: i64,
    pub duration_ms: u64,
    pub first_token_ms: Option<u64>,
    pub client_ip: String,
    pub client_port: u16,
    pub api_key_id: String,
    /// The principal when it is not the key's id (a virtual key's), and its team.
    pub user: Option<String>,
    pub team: Option<String>,
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Selected request headers (never credentials).
    pub headers: Map<String, Value>,
    pub upstream: String,
    pub upstream_url: String,
    pub model: Option<String>,
    pub stream: bool,
    /// Measures the gateway applied to the call (`block`, `rate_limit`, ...), and `limit` or
    /// `policy` when the configuration's own limits or policy refused it.
    pub applied: Vec<&'static str>,
    /// The measures in force that matched the call (not logged: what the gateway reports
    /// having applied).
    pub matched: Vec<std::sync::Arc<crate::measures::Row>>,
    /// Token buckets (target, tokens a minute) the call's tokens are charged to.
    pub token_buckets: Vec<(String, u64)>,
    /// Credentials masked in the completion (`[{kind, value}]`).
    pub masked: Option<Value>,
}

/// Request headers worth keeping in the log.
pub const LOGGED_HEADERS: [&str; 4] = [
    "user-agent",
    "x-forwarded-for",
    "openai-organization",
    "openai-project",
];

impl Call {
    /// The log record (docs/llm-log.md), with the request and response bodies.
    pub fn record(&self, request: &Value, response: &Value) -> Value {
        serde_json::to_value(self.record_ref(request, response)).unwrap_or(Value::Null)
    }

    /// The log record as [`Call::record`] builds it, borrowing instead of copying: written
    /// with the same keys in the same (sorted) order.
    pub fn record_ref<'a>(
        &'a self,
        request: &'a Value,
        response: &'a Value,
    ) -> RecordRef<'a, Value, Value> {
        self.record_with(request, response)
    }

    /// The log record with request and response bodies of any serializable form.
    pub fn record_with<'a, Q: serde::Serialize + ?Sized, R: serde::Serialize + ?Sized>(
        &'a self,
        request: &'a Q,
        response: &'a R,
    ) -> RecordRef<'a, Q, R> {
        let auth = if self.user.is_some() {
            "virtual_key"
        } else {
            "api_key"
        };
        RecordRef {
            timestamp: modelward_event::format_timestamp(self.at_ms),
            client: ClientRef {
                ip: &self.client_ip,
                port: self.client_port,
            },
            duration_ms: self.duration_ms,
            http: HttpRef {
                method: &self.method,
                path: &self.path,
                request_headers: &self.headers,
                status: self.status,
            },
            modelward: ModelwardRef {
                log: "llm",
                masked: self.masked.as_ref(),
                measures: (!self.applied.is_empty()).then_some(&self.applied),
                version: 1,
            },
            principal: PrincipalRef {
                api_key_id: &self.api_key_id,
                auth,
                team: self.team.as_deref(),
                user: self.user.as_deref(),
            },
            request,
            response,
            stream: self.stream,
            timings: self
                .first_token_ms
                .map(|first_token_ms| TimingsRef { first_token_ms }),
            upstream: UpstreamRef {
                model: self.model.as_deref(),
                provider: &self.upstream,
                url: &self.upstream_url,
            },
        }
    }
}

/// A call's log record, borrowing from it (fields in the order `serde_json`'s maps sort
/// them, so that it is written exactly as the record as a `Value` would be).
#[derive(serde::Serialize)]
pub struct RecordRef<'a, Q: serde::Serialize + ?Sized, R: serde::Serialize + ?Sized> {
    #[serde(rename = "@timestamp")]
    timestamp: String,
    client: ClientRef<'a>,
    duration_ms: u64,
    http: HttpRef<'a>,
    modelward: ModelwardRef<'a>,
    principal: PrincipalRef<'a>,
    request: &'a Q,
    response: &'a R,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    timings: Option<TimingsRef>,
    upstream: UpstreamRef<'a>,
}

#[derive(serde::Serialize)]
struct ClientRef<'a> {
    ip: &'a str,
    port: u16,
}

#[derive(serde::Serialize)]
struct HttpRef<'a> {
    method: &'a str,
    path: &'a str,
    request_headers: &'a Map<String, Value>,
    status: u16,
}

#[derive(serde::Serialize)]
struct ModelwardRef<'a> {
    log: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    masked: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    measures: Option<&'a Vec<&'static str>>,
    version: u32,
}

#[derive(serde::Serialize)]
struct PrincipalRef<'a> {
    api_key_id: &'a str,
    auth: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct TimingsRef {
    first_token_ms: u64,
}

#[derive(serde::Serialize)]
struct UpstreamRef<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<&'a str>,
    provider: &'a str,
    url: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The record as it was first built, a `Value` made with `json!`: the writer's borrowed
    /// form must write the same bytes.
    fn reference(call: &Call, request: &Value, response: &Value) -> Value {
        let mut doc = json!({
            "modelward": {"log": "llm", "version": 1},
            "@timestamp": modelward_event::format_timestamp(call.at_ms),
            "duration_ms": call.duration_ms,
            "client": {"ip": call.client_ip, "port": call.client_port},
            "principal": {"api_key_id": call.api_key_id, "auth": "api_key"},
            "http": {"method": call.method, "path": call.path, "status": call.status,
                "request_headers": call.headers},
            "upstream": {"provider": call.upstream, "url": call.upstream_url},
            "stream": call.stream,
            "request": request,
            "response": response,
        });
        if let Some(u) = &call.user {
            doc["principal"]["user"] = json!(u);
            doc["principal"]["auth"] = json!("virtual_key");
        }
        if let Some(t) = &call.team {
            doc["principal"]["team"] = json!(t);
        }
        if let Some(m) = &call.model {
            doc["upstream"]["model"] = json!(m);
        }
        if let Some(t) = call.first_token_ms {
            doc["timings"] = json!({"first_token_ms": t});
        }
        if !call.applied.is_empty() {
            doc["modelward"]["measures"] = json!(call.applied);
        }
        if let Some(m) = &call.masked {
            doc["modelward"]["masked"] = m.clone();
        }
        doc
    }

    /// An empty folder of this test process's own.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn a_call(full: bool) -> Call {
        let mut call = Call {
            at_ms: 1_765_000_000_123,
            duration_ms: 12,
            client_ip: "10.0.0.7".into(),
            client_port: 50_000,
            api_key_id: "key-0123456789abcdef".into(),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            status: 200,
            upstream: "vllm".into(),
            upstream_url: "http://127.0.0.1:8000/v1/chat/completions".into(),
            ..Call::default()
        };
        call.headers
            .insert("user-agent".into(), json!("OpenAI/Python 1.109.1"));
        if full {
            call.user = Some("alice".into());
            call.team = Some("research".into());
            call.model = Some("gpt-4o".into());
            call.stream = true;
            call.first_token_ms = Some(3);
            call.applied = vec!["reduce_output_detail", "perturb_output"];
            call.masked = Some(json!([{"kind": "aws_access_key", "value": "AKIA…M2 (20 chars)"}]));
        }
        call
    }

    #[test]
    fn the_borrowed_record_is_written_as_the_value_was() {
        let request =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi \u{1b}"}]});
        let response =
            json!({"choices": [{"message": {"content": "Hello"}}], "usage": {"total_tokens": 3}});
        for full in [false, true] {
            let call = a_call(full);
            let want = serde_json::to_string(&reference(&call, &request, &response)).unwrap();
            let got = serde_json::to_string(&call.record_ref(&request, &response)).unwrap();
            assert_eq!(got, want);
            assert_eq!(
                call.record(&request, &response),
                reference(&call, &request, &response)
            );
        }
    }

    #[test]
    fn a_response_handed_over_as_bytes_is_logged_as_its_document() {
        let call = a_call(true);
        let request = json!({"model": "gpt-4o"});
        let doc = json!({"id": "c1", "choices": [{"message": {"content": "a\nb"}}], "usage": {"total_tokens": 3}});
        let as_value = Logged::Value(request.clone());
        let line = |body: Logged| -> Value {
            serde_json::from_slice(&body.line(&call, &as_value).unwrap()).unwrap()
        };
        let want = call.record(&request, &doc);
        // On one line: written as it came; pretty-printed: read, then written on one line.
        let compact = bytes::Bytes::from(doc.to_string());
        let pretty = bytes::Bytes::from(serde_json::to_string_pretty(&doc).unwrap());
        assert_eq!(line(Logged::Bytes(compact.clone())), want);
        assert_eq!(line(Logged::Bytes(pretty)), want);
        let raw = Logged::Bytes(compact.clone())
            .line(&call, &as_value)
            .unwrap();
        assert!(!raw.contains(&b'\n'));
        // The request too: as it came on one line, read when pretty-printed.
        for sent in [r#"{"model": "gpt-4o"}"#, "{\n  \"model\": \"gpt-4o\"\n}"] {
            let by_bytes = Logged::Bytes(bytes::Bytes::from(sent));
            let got: Value = serde_json::from_slice(
                &Logged::Bytes(compact.clone())
                    .line(&call, &by_bytes)
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(got, want, "{sent}");
        }
        // A stream: reassembled.
        let stream = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
        let streamed = line(Logged::Stream(stream.as_bytes().to_vec()));
        assert_eq!(
            streamed["response"],
            crate::sse::reassemble(&crate::sse::events(stream.as_bytes()))
        );
        assert_eq!(
            streamed["response"]["choices"][0]["message"]["content"],
            "Hi"
        );
        // Not JSON: the text, as a string.
        let text = line(Logged::Bytes(bytes::Bytes::from_static(
            b"upstream says <b>no</b>",
        )));
        assert_eq!(text["response"], "upstream says <b>no</b>");
    }

    #[test]
    fn the_writer_writes_and_taps_every_call_in_order_off_the_callers_thread() {
        let dir = scratch("mw-llmwriter");
        let path = dir.join("llm.ndjson");
        let (tx, rx) = std::sync::mpsc::sync_channel(10_000);
        let writer = LogWriter::new(LlmLog::open(&path).unwrap().with_tap(tx));
        for i in 0..2_000u64 {
            let mut call = a_call(i % 2 == 0);
            call.duration_ms = i;
            writer.call(call, json!({"n": i}).into(), json!(null).into());
        }
        writer.flush();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2_000);
        assert!(lines
            .iter()
            .enumerate()
            .all(|(i, l)| l["request"]["n"] == i as u64));
        let taps: Vec<Record> = rx.try_iter().collect();
        assert_eq!(taps.len(), 2_000);
        for (i, r) in taps.iter().enumerate() {
            assert_eq!(r.line, i as u64 + 1);
            let at = r.offset as usize;
            assert_eq!(text.as_bytes()[at..at + r.bytes.len()], r.bytes[..]);
        }
        // Dropped, the writer writes what it was given first.
        writer.call(
            a_call(false),
            json!({"n": "last"}).into(),
            json!(null).into(),
        );
        drop(writer);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2_001);
        assert!(text.lines().last().unwrap().contains("\"last\""));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn records_are_placed_as_hunt_reads_them_and_tapped() {
        let dir = scratch("mw-llmlog");
        let path = dir.join("llm.ndjson");
        std::fs::write(&path, "{\"old\":1}\n").unwrap();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let log = LlmLog::open(&path).unwrap().with_tap(tx);
        log.write(&json!({"a": 1})).unwrap();
        log.write(&json!({"b": 2})).unwrap();
        let first = rx.try_recv().unwrap();
        assert_eq!((first.line, first.offset), (2, 10));
        assert_eq!(first.bytes, b"{\"a\":1}");
        // The queue held one: the second is in the log, not tapped.
        assert_eq!(log.untapped(), 1);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"old\":1}\n{\"a\":1}\n{\"b\":2}\n");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_rotating_log_moves_to_new_segments_that_keep_their_names() {
        let dir = scratch("mw-llmrot");
        let path = dir.join("llm.ndjson");
        std::fs::write(dir.join("llm.notes.ndjson"), "not a segment").unwrap();
        let rotation = Rotation {
            max_bytes: 20,
            keep: Some(3),
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(100);
        let log = LlmLog::open_rotating(&path, rotation).unwrap().with_tap(tx);
        for i in 0..10 {
            log.write(&json!({"call": i, "pad": "xxxxxxxx"})).unwrap();
        }
        let segs = segments(&path);
        assert_eq!(segs.len(), 3, "{segs:?}");
        assert_eq!(log.files(), segs);
        assert!(!path.exists(), "the configured path itself is not written");
        // Every record tapped names the segment that holds it, at its line and offset.
        let taps: Vec<Record> = rx.try_iter().collect();
        for r in taps
            .iter()
            .filter(|r| std::path::Path::new(&*r.file).exists())
        {
            let text = std::fs::read(&*r.file).unwrap();
            let at = r.offset as usize;
            assert_eq!(&text[at..at + r.bytes.len()], &r.bytes[..]);
            let line = text[..at].iter().filter(|b| **b == b'\n').count() as u64 + 1;
            assert_eq!(line, r.line);
        }
        // A restart appends to the newest segment.
        drop(log);
        let again = LlmLog::open_rotating(&path, rotation).unwrap();
        assert_eq!(again.files().last(), segs.last());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
