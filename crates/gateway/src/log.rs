//! modelward's LLM request log as the gateway writes it: one JSON line per call
//! (docs/llm-log.md), appended to a file that `modelward hunt` reads with `--source auto`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

use serde_json::{json, Map, Value};

/// The log file, appended to a whole line at a time.
#[derive(Debug)]
pub struct LlmLog {
    file: Mutex<File>,
}

impl LlmLog {
    pub fn open(path: &Path) -> io::Result<LlmLog> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(LlmLog {
            file: Mutex::new(file),
        })
    }

    /// Appends one record (one `write` of the whole line, so concurrent calls never
    /// interleave).
    pub fn write(&self, record: &Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(record)?;
        line.push(b'\n');
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        file.write_all(&line)
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
    pub method: String,
    pub path: String,
    pub status: u16,
    /// Selected request headers (never credentials).
    pub headers: Map<String, Value>,
    pub upstream: String,
    pub upstream_url: String,
    pub model: Option<String>,
    pub stream: bool,
    /// Measures the gateway applied to the call (`block`, `rate_limit`, ...).
    pub applied: Vec<&'static str>,
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
        if let Some(m) = &self.model {
            doc["upstream"]["model"] = json!(m);
        }
        if let Some(t) = self.first_token_ms {
            doc["timings"] = json!({"first_token_ms": t});
        }
        if !self.applied.is_empty() {
            doc["modelward"]["measures"] = json!(self.applied);
        }
        doc
    }
}
