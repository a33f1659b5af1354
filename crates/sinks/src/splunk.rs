//! Splunk HTTP Event Collector (HEC): JSON events, batched, with indexer acknowledgement.
//!
//! # What is sent
//!
//! ```text
//! POST <url>/services/collector/event
//! Authorization: Splunk <token>
//! X-Splunk-Request-Channel: <a UUID, one per output>
//! Content-Type: application/json
//!
//! {"time":1740789747.918,"source":"modelward","sourcetype":"modelward:alert","index":"ai",
//!  "fields":{"alert_id":"…","rule_id":"…","severity":"medium"},"event":{<the alert document>}}
//! {"time":…}
//! ```
//!
//! A batch is the events one after another in one body, as HEC takes them. `time` is the
//! alert's `@timestamp` in epoch seconds with milliseconds; `event` is the alert document as
//! `--output FILE` writes it; `fields` are indexed fields (the alert id, to find repeats; the
//! rule id and severity, to filter fast). `index` and `host` are sent when configured; without
//! `index` the token's default index is used.
//!
//! # Acknowledgements
//!
//! With `ack = true` (the token must have indexer acknowledgement on), the answer carries an
//! `ackId`, and the events count as delivered only once
//! `POST <url>/services/collector/ack?channel=<channel>` with `{"acks":[id]}` answers
//! `{"acks":{"<id>":true}}`. Polled every `ack_poll` until `ack_timeout`; a batch not
//! acknowledged by then is sent again (so at least once: search with `dedup alert_id`).
//!
//! # Answers
//!
//! HEC answers `{"text":…,"code":N}`. 200 with code 0 is success. 413 splits the batch; 429,
//! 503 (code 9, server busy) and other 5xx retry it; 401 and 403 (codes 1–4: token missing,
//! disabled or invalid), 404, and 400 with code 7 (incorrect index), 10 or 11 (channel) stop
//! the output; any other 400 (code 6, invalid data format; 12, 13: event field) refuses the
//! batch.

use std::time::{Duration, Instant};

use modelward_http::{status_text, Scrubber};
use serde_json::{json, Value};

use crate::delivery::{Outcome, Record, Transport};
use crate::doc::View;
use crate::secret::Secret;

/// The default bytes of one HEC request (Splunk's own `max_content_length` is far larger;
/// a megabyte keeps each retry cheap).
pub const DEFAULT_BATCH_MAX_BYTES: usize = 1024 * 1024;
pub const DEFAULT_SOURCETYPE: &str = "modelward:alert";
pub const DEFAULT_SOURCE: &str = "modelward";
pub const DEFAULT_ENDPOINT: &str = "/services/collector/event";
pub const ACK_ENDPOINT: &str = "/services/collector/ack";
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(60);
pub const DEFAULT_ACK_POLL: Duration = Duration::from_secs(1);
const ANSWER_LIMIT: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// `https://host:8088`.
    pub url: String,
    /// The event endpoint's path (`/services/collector/event`).
    pub endpoint: String,
    pub token: Secret,
    pub index: Option<String>,
    pub sourcetype: String,
    pub source: String,
    pub host: Option<String>,
    /// Wait for indexer acknowledgement.
    pub ack: bool,
    pub ack_timeout: Duration,
    pub ack_poll: Duration,
    /// The channel's id (a UUID).
    pub channel: String,
    pub timeout: Duration,
}

pub struct Splunk {
    settings: Settings,
    agent: modelward_http::ureq::Agent,
    event_url: String,
    ack_url: String,
    scrubber: Scrubber,
}

impl Splunk {
    pub fn new(settings: Settings, agent: modelward_http::ureq::Agent) -> Splunk {
        let base = settings.url.trim_end_matches('/').to_string();
        let event_url = format!("{base}{}", settings.endpoint);
        let ack_url = format!(
            "{base}{ACK_ENDPOINT}?channel={}",
            crate::url::encode(&settings.channel)
        );
        let scrubber = Scrubber::new()
            .secret(settings.token.expose())
            .url(&event_url)
            .url(&ack_url)
            .url(&settings.url);
        Splunk {
            settings,
            agent,
            event_url,
            ack_url,
            scrubber,
        }
    }

    fn post(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<(u16, Option<Duration>, String), modelward_http::Failure> {
        let request = self
            .agent
            .post(url)
            .header(
                "Authorization",
                format!("Splunk {}", self.settings.token.expose()),
            )
            .header("X-Splunk-Request-Channel", &self.settings.channel)
            .header("Content-Type", "application/json");
        match request.send(body) {
            Ok(mut r) => {
                let status = r.status().as_u16();
                let retry_after = modelward_http::retry_after(r.headers());
                Ok((
                    status,
                    retry_after,
                    modelward_http::read_text(&mut r, ANSWER_LIMIT),
                ))
            }
            Err(e) => {
                let mut f = modelward_http::classify(&e, self.settings.timeout);
                f.why = self.scrubber.scrub(&f.why);
                Err(f)
            }
        }
    }

    /// Polls the ack endpoint until `id` is acknowledged or the time is up.
    fn wait_for_ack(&self, id: u64) -> Outcome {
        let started = Instant::now();
        let body = json!({"acks": [id]}).to_string();
        loop {
            let last;
            match self.post(&self.ack_url, body.as_bytes()) {
                Ok((200, _, text)) => {
                    let acked = serde_json::from_str::<Value>(&text)
                        .ok()
                        .and_then(|v| v.get("acks")?.get(id.to_string())?.as_bool());
                    if acked == Some(true) {
                        return Outcome::Delivered { duplicates: 0 };
                    }
                    last = format!("ackId {id} not acknowledged");
                }
                Ok((status, _, text)) => {
                    let why = self.scrubber.scrub(&hec_text(status, &text));
                    match status {
                        400 | 401 | 403 | 404 => {
                            return Outcome::Fatal {
                                why: format!("acknowledgement: {why}"),
                            }
                        }
                        _ => last = why,
                    }
                }
                Err(f) => last = f.why,
            }
            if started.elapsed() + self.settings.ack_poll > self.settings.ack_timeout {
                return Outcome::Retry {
                    why: format!(
                        "no indexer acknowledgement within {} s ({last}); sending again",
                        self.settings.ack_timeout.as_secs_f64()
                    ),
                    retry_after: None,
                };
            }
            std::thread::sleep(self.settings.ack_poll);
        }
    }
}

/// `HTTP <status>: <text> (code N)` from a HEC answer, or the status and body excerpt.
fn hec_text(status: u16, body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(v) if v.get("text").is_some() => format!(
            "HTTP {status}: {} (code {})",
            v.get("text").and_then(Value::as_str).unwrap_or(""),
            v.get("code").map_or("?".to_string(), |c| c.to_string())
        ),
        _ => status_text(status, body),
    }
}

impl Transport for Splunk {
    fn describe(&self) -> String {
        format!("splunk {}", modelward_http::redact_url(&self.settings.url))
    }

    fn encode(&self, alert: &Value) -> Result<Vec<u8>, String> {
        let v = View(alert);
        let mut event = serde_json::Map::new();
        if let Some(ms) = v.timestamp_ms() {
            // Seconds with milliseconds, as a decimal number.
            let text = format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000));
            let n: serde_json::Number = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            event.insert("time".into(), Value::Number(n));
        }
        if let Some(h) = &self.settings.host {
            event.insert("host".into(), json!(h));
        }
        event.insert("source".into(), json!(self.settings.source));
        event.insert("sourcetype".into(), json!(self.settings.sourcetype));
        if let Some(i) = &self.settings.index {
            event.insert("index".into(), json!(i));
        }
        event.insert(
            "fields".into(),
            json!({
                "alert_id": v.id(),
                "rule_id": v.rule("id").unwrap_or(""),
                "severity": v.severity(),
            }),
        );
        event.insert("event".into(), alert.clone());
        let mut out = serde_json::to_vec(&Value::Object(event)).map_err(|e| e.to_string())?;
        out.push(b'\n');
        Ok(out)
    }

    fn send(&mut self, batch: &[Record]) -> Outcome {
        let body: Vec<u8> = batch.iter().flat_map(|r| r.body.iter().copied()).collect();
        let (status, retry_after, text) = match self.post(&self.event_url, &body) {
            Ok(answer) => answer,
            Err(f) if f.retry => {
                return Outcome::Retry {
                    why: f.why,
                    retry_after: None,
                }
            }
            Err(f) => return Outcome::Fatal { why: f.why },
        };
        let answer: Option<Value> = serde_json::from_str(&text).ok();
        let code = answer
            .as_ref()
            .and_then(|a| a.get("code"))
            .and_then(Value::as_i64);
        let why = || self.scrubber.scrub(&hec_text(status, &text));
        match status {
            200..=299 => {
                if !self.settings.ack {
                    return Outcome::Delivered { duplicates: 0 };
                }
                match answer
                    .as_ref()
                    .and_then(|a| a.get("ackId"))
                    .and_then(Value::as_u64)
                {
                    Some(id) => self.wait_for_ack(id),
                    None => Outcome::Fatal {
                        why: format!(
                            "acknowledgements are on but HEC gave no ackId ({}): turn on indexer acknowledgement for the token, or set ack = false",
                            why()
                        ),
                    },
                }
            }
            413 => Outcome::TooLarge { why: why() },
            s if modelward_http::retryable_status(s) => Outcome::Retry {
                why: why(),
                retry_after,
            },
            401 | 403 | 404 => Outcome::Fatal { why: why() },
            400 if matches!(code, Some(7 | 10 | 11 | 14)) => Outcome::Fatal { why: why() },
            _ => Outcome::Rejected { why: why() },
        }
    }
}
