//! modelward's LLM request log as the gateway writes it: one JSON line per call
//! (docs/llm-log.md), appended to a file that `modelward hunt` reads with `--source auto`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex};

use serde_json::{json, Map, Value};

/// The log file, appended to a whole line at a time; each record written may also be passed
/// on (the tap) to in-path detection, with its place in the file.
#[derive(Debug)]
pub struct LlmLog {
    name: Arc<str>,
    inner: Mutex<Inner>,
    tap: Option<SyncSender<Record>>,
    /// Records the tap could not take (detection behind by more than its queue).
    untapped: AtomicU64,
}

#[derive(Debug)]
struct Inner {
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

impl LlmLog {
    /// Opens (creates) the log for appending; the lines already there are counted so that
    /// records are placed by line and offset as `hunt` reads them.
    pub fn open(path: &Path) -> io::Result<LlmLog> {
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
        Ok(LlmLog {
            name: Arc::from(path.display().to_string()),
            inner: Mutex::new(Inner {
                file,
                line: lines + 1,
                offset,
            }),
            tap: None,
            untapped: AtomicU64::new(0),
        })
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
    /// interleave).
    pub fn write(&self, record: &Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.file.write_all(&line)?;
        let (at_line, at_offset) = (inner.line, inner.offset);
        inner.line += 1;
        inner.offset += line.len() as u64;
        if let Some(tap) = &self.tap {
            line.pop();
            let record = Record {
                file: self.name.clone(),
                line: at_line,
                offset: at_offset,
                bytes: line,
            };
            if tap.try_send(record).is_err() {
                self.untapped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
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
        let mut doc = json!({
            "modelward": {"log": "llm", "version": 1},
            "@timestamp": modelward_event::format_timestamp(self.at_ms),
            "duration_ms": self.duration_ms,
            "client": {"ip": self.client_ip, "port": self.client_port},
            "principal": {"api_key_id": self.api_key_id, "auth": "api_key"},
            "http": {
                "method": self.method,
                "path": self.path,
                "status": self.status,
                "request_headers": self.headers,
            },
            "upstream": {"provider": self.upstream, "url": self.upstream_url},
            "stream": self.stream,
            "request": request,
            "response": response,
        });
        if let Some(u) = &self.user {
            doc["principal"]["user"] = json!(u);
            doc["principal"]["auth"] = json!("virtual_key");
        }
        if let Some(t) = &self.team {
            doc["principal"]["team"] = json!(t);
        }
        if let Some(m) = &self.model {
            doc["upstream"]["model"] = json!(m);
        }
        if let Some(t) = self.first_token_ms {
            doc["timings"] = json!({"first_token_ms": t});
        }
        if !self.applied.is_empty() {
            doc["modelward"]["measures"] = json!(self.applied);
        }
        if let Some(m) = &self.masked {
            doc["modelward"]["masked"] = m.clone();
        }
        doc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_placed_as_hunt_reads_them_and_tapped() {
        let dir = std::env::temp_dir().join(format!("mw-llmlog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
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
}
