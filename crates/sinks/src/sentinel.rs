//! Microsoft Sentinel through the Azure Monitor Logs Ingestion API: rows into a custom table
//! of the Log Analytics workspace Sentinel runs on, through a data collection rule (DCR).
//! The retired HTTP Data Collector API (shared keys, `api/logs`) is not used.
//!
//! # A token
//!
//! OAuth 2.0 client credentials against Microsoft Entra ID, for an app registration that
//! holds the *Monitoring Metrics Publisher* role on the DCR:
//!
//! ```text
//! POST <authority>/<tenant>/oauth2/v2.0/token          (authority: https://login.microsoftonline.com)
//! Content-Type: application/x-www-form-urlencoded
//!
//! client_id=…&client_secret=…&scope=https%3A%2F%2Fmonitor.azure.com%2F%2F.default&grant_type=client_credentials
//! ```
//!
//! The answer's `access_token` is kept until five minutes before `expires_in` runs out. The
//! token URL is configurable (`token_url`, or `authority_host` / `AZURE_AUTHORITY_HOST` for a
//! sovereign cloud).
//!
//! # The rows
//!
//! ```text
//! POST <data collection endpoint>/dataCollectionRules/<DCR immutable id>/streams/<stream>?api-version=2023-01-01
//! Authorization: Bearer <token>
//! Content-Type: application/json
//! x-ms-client-request-id: <UUID>
//!
//! [{"TimeGenerated":"2025-03-01T00:42:27.918Z","AlertId":"…",…}, …]
//! ```
//!
//! The columns are [`row`]'s (docs/outputs.md has the DCR and the table). One call carries at
//! most 1 MB; a larger batch is never built, and a 413 splits it anyway.
//!
//! # Answers
//!
//! 204 (or any 2xx) is delivered. 413 splits the batch; 429 (with `Retry-After`), 408 and
//! 5xx retry it; 401 fetches a new token and retries once, then stops the output; 403 (no
//! role on the DCR) and 404 (no such DCR or stream) stop the output; any other 4xx (rows that
//! do not match the stream's declaration) refuses the batch. A token request answered 400 or
//! 401 (`invalid_client`, a wrong secret or tenant) stops the output, with the error's
//! description.

use std::time::{Duration, Instant};

use modelward_http::{status_text, Scrubber};
use serde_json::{json, Map, Value};

use crate::delivery::{Outcome, Record, Transport};
use crate::doc::{severity_caption, View};
use crate::secret::Secret;

/// The Logs Ingestion API takes at most 1 MB a call.
pub const MAX_REQUEST_BYTES: usize = 1_000_000;
pub const API_VERSION: &str = "2023-01-01";
pub const DEFAULT_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";
/// The scope of the Logs Ingestion API, as Microsoft's samples write it.
pub const DEFAULT_SCOPE: &str = "https://monitor.azure.com//.default";
/// A column holds at most 64 KB; long text is cut well before.
pub const MAX_TEXT_CHARS: usize = 32_000;
/// A token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
const ANSWER_LIMIT: u64 = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The data collection endpoint's logs ingestion URL, `https://<dce>.<region>.ingest.monitor.azure.com`.
    pub endpoint: String,
    /// The DCR's immutable id, `dcr-…`.
    pub dcr: String,
    /// The stream the DCR declares, `Custom-ModelwardAlerts_CL`.
    pub stream: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// `<authority>/<tenant>/oauth2/v2.0/token`.
    pub token_url: String,
    pub scope: String,
    pub timeout: Duration,
}

pub struct Sentinel {
    settings: Settings,
    agent: modelward_http::ureq::Agent,
    ingest_url: String,
    token: Option<(Secret, Instant)>,
    scrubber: Scrubber,
}

impl Sentinel {
    pub fn new(settings: Settings, agent: modelward_http::ureq::Agent) -> Sentinel {
        let ingest_url = format!(
            "{}/dataCollectionRules/{}/streams/{}?api-version={API_VERSION}",
            settings.endpoint.trim_end_matches('/'),
            crate::url::encode(&settings.dcr),
            crate::url::encode(&settings.stream)
        );
        let scrubber = Scrubber::new()
            .secret(settings.client_secret.expose())
            .url(&ingest_url)
            .url(&settings.token_url);
        Sentinel {
            settings,
            agent,
            ingest_url,
            token: None,
            scrubber,
        }
    }

    /// A token still good, or a new one.
    fn token(&mut self) -> Result<(Secret, bool), Outcome> {
        if let Some((t, until)) = &self.token {
            if Instant::now() < *until {
                return Ok((t.clone(), false));
            }
        }
        let form = format!(
            "client_id={}&client_secret={}&scope={}&grant_type=client_credentials",
            crate::url::encode(&self.settings.client_id),
            crate::url::encode(self.settings.client_secret.expose()),
            crate::url::encode(&self.settings.scope)
        );
        let response = self
            .agent
            .post(&self.settings.token_url)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send(form.as_bytes());
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                let f = modelward_http::classify(&e, self.settings.timeout);
                let why = format!("token request: {}", self.scrubber.scrub(&f.why));
                return Err(if f.retry {
                    Outcome::Retry {
                        why,
                        retry_after: None,
                    }
                } else {
                    Outcome::Fatal { why }
                });
            }
        };
        let status = response.status().as_u16();
        let retry_after = modelward_http::retry_after(response.headers());
        let text = modelward_http::read_text(&mut response, ANSWER_LIMIT);
        let answer: Option<Value> = serde_json::from_str(&text).ok();
        if !(200..=299).contains(&status) {
            let why = match answer.as_ref().and_then(|a| a.get("error")) {
                Some(e) => format!(
                    "HTTP {status}: {} {}",
                    e.as_str().unwrap_or(""),
                    answer
                        .as_ref()
                        .and_then(|a| a.get("error_description"))
                        .and_then(Value::as_str)
                        .map(|d| d.lines().next().unwrap_or(""))
                        .unwrap_or("")
                ),
                None => status_text(status, &text),
            };
            let why = format!("token request: {}", self.scrubber.scrub(&why));
            return Err(if modelward_http::retryable_status(status) {
                Outcome::Retry { why, retry_after }
            } else {
                Outcome::Fatal { why }
            });
        }
        let token = answer
            .as_ref()
            .and_then(|a| a.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Outcome::Fatal {
                why: "token request: the answer has no access_token".into(),
            });
        };
        // `expires_in` is a number, or a string of one in older answers.
        let expires_in = answer
            .as_ref()
            .and_then(|a| a.get("expires_in"))
            .and_then(|e| e.as_u64().or_else(|| e.as_str()?.parse().ok()))
            .unwrap_or(3600);
        let secret = Secret::new(token);
        self.scrubber = self.scrubber.clone().secret(token);
        let until = Instant::now()
            + Duration::from_secs(expires_in)
                .saturating_sub(TOKEN_MARGIN.min(Duration::from_secs(expires_in / 2)));
        self.token = Some((secret.clone(), until));
        Ok((secret, true))
    }

    fn post_rows(&mut self, body: &[u8]) -> Outcome {
        let (token, fresh) = match self.token() {
            Ok(t) => t,
            Err(outcome) => return outcome,
        };
        let response = self
            .agent
            .post(&self.ingest_url)
            .header("Authorization", format!("Bearer {}", token.expose()))
            .header("Content-Type", "application/json")
            .header("x-ms-client-request-id", crate::url::uuid())
            .send(body);
        let mut response = match response {
            Ok(r) => r,
            Err(e) => {
                let f = modelward_http::classify(&e, self.settings.timeout);
                let why = self.scrubber.scrub(&f.why);
                return if f.retry {
                    Outcome::Retry {
                        why,
                        retry_after: None,
                    }
                } else {
                    Outcome::Fatal { why }
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = modelward_http::retry_after(response.headers());
        let error_code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let text = modelward_http::read_text(&mut response, ANSWER_LIMIT);
        let why = || {
            let mut w = status_text(status, &text);
            if let Some(c) = &error_code {
                w.push_str(&format!(" [{c}]"));
            }
            self.scrubber.scrub(&w)
        };
        match status {
            200..=299 => Outcome::Delivered { duplicates: 0 },
            413 => Outcome::TooLarge { why: why() },
            401 if !fresh => {
                // The token may have been revoked or expired early: a new one, once.
                self.token = None;
                Outcome::Retry {
                    why: why(),
                    retry_after: Some(Duration::ZERO),
                }
            }
            s if modelward_http::retryable_status(s) => Outcome::Retry {
                why: why(),
                retry_after,
            },
            401 | 403 | 404 => Outcome::Fatal { why: why() },
            _ => Outcome::Rejected { why: why() },
        }
    }
}

impl Transport for Sentinel {
    fn describe(&self) -> String {
        format!(
            "sentinel {} stream {}",
            modelward_http::redact_url(&self.settings.endpoint),
            self.settings.stream
        )
    }

    fn encode(&self, alert: &Value) -> Result<Vec<u8>, String> {
        serde_json::to_vec(&row(alert)).map_err(|e| e.to_string())
    }

    /// The `,` between rows (and the brackets, counted once in the first row's share).
    fn framing(&self) -> usize {
        1
    }

    fn send(&mut self, batch: &[Record]) -> Outcome {
        let mut body =
            Vec::with_capacity(batch.iter().map(|r| r.body.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, r) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(&r.body);
        }
        body.push(b']');
        self.post_rows(&body)
    }
}

/// The columns of the stream `Custom-ModelwardAlerts_CL`, in the order the DCR declares them
/// (docs/outputs.md), with their Log Analytics types.
pub const COLUMNS: [(&str, &str); 30] = [
    ("TimeGenerated", "datetime"),
    ("AlertId", "string"),
    ("RuleId", "string"),
    ("RuleName", "string"),
    ("RuleType", "string"),
    ("RuleDescription", "string"),
    ("RuleOrigin", "string"),
    ("RuleVersion", "string"),
    ("Severity", "string"),
    ("RiskScore", "int"),
    ("Message", "string"),
    ("Principal", "string"),
    ("SourceIp", "string"),
    ("Resource", "string"),
    ("Model", "string"),
    ("Tactics", "dynamic"),
    ("Techniques", "dynamic"),
    ("Threat", "dynamic"),
    ("WindowStart", "datetime"),
    ("WindowEnd", "datetime"),
    ("OriginalTime", "datetime"),
    ("FirstSeen", "datetime"),
    ("LastSeen", "datetime"),
    ("EventCount", "long"),
    ("Entity", "dynamic"),
    ("Evidence", "dynamic"),
    ("Fields", "dynamic"),
    ("Tags", "dynamic"),
    ("References", "dynamic"),
    ("InvestigationGuide", "string"),
];

/// The alert as one row of the stream (see [`COLUMNS`]). Absent values are left out (null
/// in the table). `Severity` is capitalised as Sentinel's own alerts write it; `Tactics` are
/// the tactic names, `Techniques` the technique ids; long text is cut at
/// [`MAX_TEXT_CHARS`].
pub fn row(alert: &Value) -> Value {
    let v = View(alert);
    let mut r = Map::new();
    let mut put = |k: &str, val: Value| {
        if !val.is_null() {
            r.insert(k.to_string(), val);
        }
    };
    let s = |o: Option<&str>| o.map_or(Value::Null, |s| json!(s));
    put("TimeGenerated", s(v.timestamp()));
    put("AlertId", json!(v.id()));
    put("RuleId", s(v.rule("id")));
    put("RuleName", s(v.rule("name")));
    put("RuleType", s(v.rule("type")));
    put("RuleDescription", s(v.rule("description").map(cut)));
    put("RuleOrigin", s(v.rule("origin")));
    put("RuleVersion", s(v.rule("version")));
    put("Severity", json!(severity_caption(v.severity())));
    put(
        "RiskScore",
        v.risk_score().map_or(Value::Null, |r| json!(r)),
    );
    put("Message", json!(cut(v.message())));
    put("Principal", s(v.entity("principal")));
    put("SourceIp", s(v.entity("source.ip")));
    put("Resource", s(v.entity("resource")));
    put("Model", s(v.entity("model")));
    let mut tactics: Vec<&str> = Vec::new();
    for t in v.tactics() {
        let name = if t.name.is_empty() { t.id } else { t.name };
        if !tactics.contains(&name) {
            tactics.push(name);
        }
    }
    put("Tactics", json!(tactics));
    let mut techniques: Vec<&str> = Vec::new();
    for (_, t) in v.techniques() {
        let id = if t.id.is_empty() { t.name } else { t.id };
        if !techniques.contains(&id) {
            techniques.push(id);
        }
    }
    put("Techniques", json!(techniques));
    put("Threat", json!(v.threat()));
    if let Some((a, b)) = v.window() {
        put("WindowStart", json!(a));
        put("WindowEnd", json!(b));
    }
    put("OriginalTime", s(v.original_time()));
    if let Some((a, b)) = v.first_last_seen() {
        put("FirstSeen", json!(a));
        put("LastSeen", json!(b));
    }
    put(
        "EventCount",
        v.event_count().map_or(Value::Null, |n| json!(n)),
    );
    put(
        "Entity",
        v.entity_map()
            .map_or(Value::Null, |e| Value::Object(e.clone())),
    );
    put("Evidence", v.evidence().cloned().unwrap_or(Value::Null));
    let fields = v.fields();
    if !fields.is_empty() {
        put("Fields", Value::Object(fields));
    }
    put("Tags", json!(v.rule_strings("tags")));
    put("References", json!(v.rule_strings("reference")));
    put(
        "InvestigationGuide",
        s(v.rule("investigation_guide").map(cut)),
    );
    Value::Object(r)
}

fn cut(s: &str) -> &str {
    match s.char_indices().nth(MAX_TEXT_CHARS) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
