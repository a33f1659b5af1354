//! The webhook executor: POSTs the action [document](super::document) as signed JSON to a
//! SOAR, a ticketing system, a chat bridge or the owner's own automation.
//!
//! # What a receiver gets
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! Idempotency-Key: <key>                  (the document's "id")
//! X-Modelward-Timestamp: <unix seconds>
//! X-Modelward-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//! <extra headers from the config>
//!
//! {"type":"modelward.action","version":1,"id":…}
//! ```
//!
//! # Verifying it
//!
//! 1. Take the raw body bytes as received (before any JSON parsing) and the timestamp header.
//! 2. Compute HMAC-SHA256 with the shared secret over the timestamp's decimal digits, one `.`,
//!    and the body; hex-encode it (lowercase) and compare with the part of the signature header
//!    after `sha256=`, in constant time.
//! 3. Reject a timestamp more than a few minutes from your clock (replay), and do not repeat an
//!    `Idempotency-Key` you have already carried out: answer 2xx again.
//!
//! [`verify_signature`] does all three checks but the last; [`signature`] computes the header.
//!
//! # Retries
//!
//! Connection errors, timeouts, HTTP 429 and 5xx are retried `retries` times, waiting
//! `backoff_ms`, then twice that, and so on up to [`MAX_BACKOFF`] (or the `Retry-After` seconds
//! of the answer, up to the same cap). Each attempt is signed anew with its own timestamp; the
//! body and the idempotency key stay the same. Any other status fails at once. Redirects are
//! not followed. No wait starts that would end past the run's budget for actions
//! ([`super::run::Budget`]): the action fails there, to be tried again on the next run.
//!
//! The secret is never printed: not by `Debug`, not in errors. Neither are the URL's path and
//! query (chat webhooks carry a token there) nor the values of the extra headers.

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use modelward_http::{redact_url, status_text};
pub use modelward_http::{Clock, SystemClock};
use serde::Deserialize;
use sha2::Sha256;

use super::document::{self, Document};
use super::{ExecError, Executed, Executor, PlannedAction};

/// Header with the signature, `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "X-Modelward-Signature";
/// Header with the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Modelward-Timestamp";
/// Header with the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The longest wait between two attempts, whatever the backoff or `Retry-After` say.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A receiver's usual tolerance for the timestamp, for [`verify_signature`].
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_RETRIES: u32 = 3;
/// The most retries a webhook may ask for: with the backoff capped at [`MAX_BACKOFF`], one
/// unreachable receiver holds a run up for minutes, not hours.
pub const MAX_RETRIES: u32 = 10;
pub const DEFAULT_BACKOFF_MS: u64 = 500;

/// How much of an answer's body is read at all.
const BODY_READ_LIMIT: u64 = 16 * 1024;
/// Headers the executor sets itself; the config may not set them.
const RESERVED_HEADERS: [&str; 5] = [
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    IDEMPOTENCY_HEADER,
    "content-type",
    "content-length",
];

/// One webhook, as configured.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Names the executor: `webhook:<name>` in the audit log.
    pub name: String,
    /// `https://…` (or `http://…`).
    pub url: String,
    /// The HMAC key shared with the receiver.
    pub secret: String,
    /// The action kinds it carries out (`lock_storage`, `notify`, ...); empty: all.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Per attempt, connection to end of answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Attempts after the first.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The first wait between attempts; doubled after each, up to [`MAX_BACKOFF`].
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// Extra headers (an `Authorization` for the receiver's gateway, ...).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}
fn default_retries() -> u32 {
    DEFAULT_RETRIES
}
fn default_backoff_ms() -> u64 {
    DEFAULT_BACKOFF_MS
}

impl WebhookConfig {
    /// A webhook for every action kind, with the default timeout, retries and backoff.
    pub fn new(
        name: impl Into<String>,
        url: impl Into<String>,
        secret: impl Into<String>,
    ) -> WebhookConfig {
        WebhookConfig {
            name: name.into(),
            url: url.into(),
            secret: secret.into(),
            actions: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            retries: DEFAULT_RETRIES,
            backoff_ms: DEFAULT_BACKOFF_MS,
            headers: Vec::new(),
        }
    }
}

impl fmt::Debug for WebhookConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("WebhookConfig")
            .field("name", &self.name)
            .field("url", &redact_url(&self.url))
            .field("secret", &"<redacted>")
            .field("actions", &self.actions)
            .field("timeout_ms", &self.timeout_ms)
            .field("retries", &self.retries)
            .field("backoff_ms", &self.backoff_ms)
            .field("headers", &header_names)
            .finish()
    }
}

/// Why a webhook config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookConfigError {
    #[error("a webhook needs a name")]
    NoName,
    #[error("webhook {0}: the url must be an absolute http:// or https:// URL with a host")]
    BadUrl(String),
    #[error("webhook {0}: the secret is empty")]
    NoSecret(String),
    #[error("webhook {name}: unknown action kind {kind:?} (one of {})", super::Action::KINDS.join(", "))]
    UnknownAction { name: String, kind: String },
    #[error("webhook {0}: timeout_ms must be above 0")]
    NoTimeout(String),
    #[error("webhook {0}: retries may be {MAX_RETRIES} at most")]
    TooManyRetries(String),
    #[error("webhook {name}: header {header:?}: {why}")]
    BadHeader {
        name: String,
        header: String,
        why: &'static str,
    },
}

/// Carries out actions by POSTing the signed action document to one URL.
pub struct WebhookExecutor {
    config: WebhookConfig,
    agent: ureq::Agent,
    clock: Box<dyn Clock>,
    /// When the run's budget for actions ends.
    deadline: Option<Instant>,
}

impl fmt::Debug for WebhookExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookExecutor")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebhookExecutor {
    /// Checks the config (URL, secret, action kinds, headers) and makes the HTTP agent.
    pub fn new(config: WebhookConfig) -> Result<WebhookExecutor, WebhookConfigError> {
        check(&config)?;
        let agent = modelward_http::plain_agent(Duration::from_millis(config.timeout_ms));
        Ok(WebhookExecutor {
            config,
            agent,
            clock: Box::new(SystemClock),
            deadline: None,
        })
    }

    /// The same executor with another clock (tests: no real waits, fixed timestamps).
    pub fn with_clock(mut self, clock: Box<dyn Clock>) -> WebhookExecutor {
        self.clock = clock;
        self
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// One POST: what came of it.
    fn attempt(&self, key: &str, body: &[u8]) -> Attempt {
        let timestamp = unix_seconds(self.clock.now());
        let mut request = self
            .agent
            .post(&self.config.url)
            .header("Content-Type", "application/json")
            .header(
                SIGNATURE_HEADER,
                signature(self.config.secret.as_bytes(), timestamp, body),
            )
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(IDEMPOTENCY_HEADER, key);
        for (name, value) in &self.config.headers {
            request = request.header(name, value);
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            Err(error) => {
                let failure =
                    modelward_http::classify(&error, Duration::from_millis(self.config.timeout_ms));
                return if failure.retry {
                    Attempt::Retry {
                        why: failure.why,
                        retry_after: None,
                    }
                } else {
                    Attempt::Fatal(failure.why)
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = modelward_http::retry_after(response.headers());
        let text = modelward_http::read_text(&mut response, BODY_READ_LIMIT);
        match status {
            200..=299 => Attempt::Done(status),
            429 | 500..=599 => Attempt::Retry {
                why: status_text(status, &text),
                retry_after,
            },
            _ => Attempt::Fatal(status_text(status, &text)),
        }
    }

    /// Removes the secret, the configured header values (an `Authorization` token a server
    /// echoes in its error), the URL and anything secret-looking from a message that will be
    /// stored or shown.
    fn scrub(&self, message: String) -> String {
        let mut message = message;
        let values = std::iter::once(&self.config.secret)
            .chain(self.config.headers.iter().map(|(_, v)| v))
            .filter(|v| v.len() >= 4);
        for v in values {
            message = message.replace(v.as_str(), "<redacted>");
        }
        let message = message.replace(&self.config.url, &redact_url(&self.config.url));
        crate::ioc::mask_secrets(&message).into_owned()
    }
}

impl Executor for WebhookExecutor {
    fn name(&self) -> String {
        format!("webhook:{}", self.config.name)
    }

    fn handles(&self, action: &PlannedAction) -> bool {
        document::handles_kind(&self.config.actions, action)
    }

    fn set_deadline(&mut self, deadline: Instant) {
        self.deadline = Some(deadline);
    }

    fn execute(&mut self, action: &PlannedAction) -> Result<Executed, ExecError> {
        let document = Document::new(action, self.clock.now());
        let body = document
            .to_json()
            .map_err(|e| ExecError::Failed(format!("cannot write the action document: {e}")))?;
        self.post(&document.id, &body)
            .map(|detail| Executed { detail })
            .map_err(ExecError::Failed)
    }
}

impl WebhookExecutor {
    /// POSTs `body` (JSON) under the idempotency key `key`, signed, retried as the module
    /// says, within the deadline given by [`Executor::set_deadline`] if any: `Ok` with what
    /// came of it (`HTTP 200 after 1 attempt`), or `Err` with why not, scrubbed of the secret,
    /// the URL's path and the header values. The alert sink of `modelward-sinks` sends each
    /// alert through it.
    pub fn post(&mut self, key: &str, body: &[u8]) -> Result<String, String> {
        let mut backoff = Duration::from_millis(self.config.backoff_ms).min(MAX_BACKOFF);
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            match self.attempt(key, body) {
                Attempt::Done(status) => {
                    return Ok(format!("HTTP {status} after {}", count(attempts)))
                }
                Attempt::Fatal(why) => {
                    return Err(self.scrub(format!("{why} (not retried; {})", count(attempts))))
                }
                Attempt::Retry { why, retry_after } => {
                    if attempts > self.config.retries {
                        return Err(
                            self.scrub(format!("{why} (gave up after {})", count(attempts)))
                        );
                    }
                    let wait = retry_after.unwrap_or(backoff).min(MAX_BACKOFF);
                    if self.deadline.is_some_and(|d| Instant::now() + wait >= d) {
                        return Err(self.scrub(format!(
                            "{why} (gave up after {}: this run's budget for actions ends before the next; tried again on the next run)",
                            count(attempts)
                        )));
                    }
                    self.clock.sleep(wait);
                    backoff = backoff.saturating_mul(2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// What one attempt came to.
enum Attempt {
    Done(u16),
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    Fatal(String),
}

fn count(attempts: u32) -> String {
    if attempts == 1 {
        "1 attempt".to_string()
    } else {
        format!("{attempts} attempts")
    }
}

fn unix_seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn check(config: &WebhookConfig) -> Result<(), WebhookConfigError> {
    let name = &config.name;
    if name.trim().is_empty() {
        return Err(WebhookConfigError::NoName);
    }
    if !modelward_http::is_http_url(&config.url) {
        return Err(WebhookConfigError::BadUrl(name.clone()));
    }
    if config.secret.is_empty() {
        return Err(WebhookConfigError::NoSecret(name.clone()));
    }
    if let Some(kind) = document::unknown_kinds(&config.actions).into_iter().next() {
        return Err(WebhookConfigError::UnknownAction {
            name: name.clone(),
            kind,
        });
    }
    if config.timeout_ms == 0 {
        return Err(WebhookConfigError::NoTimeout(name.clone()));
    }
    if config.retries > MAX_RETRIES {
        return Err(WebhookConfigError::TooManyRetries(name.clone()));
    }
    for (header, value) in &config.headers {
        let bad = |why| WebhookConfigError::BadHeader {
            name: name.clone(),
            header: header.clone(),
            why,
        };
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(header))
        {
            return Err(bad("set by modelward itself"));
        }
        if ureq::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            return Err(bad("not a valid header name"));
        }
        if ureq::http::HeaderValue::from_str(value).is_err() {
            return Err(bad("the value is not a valid header value"));
        }
    }
    Ok(())
}

/// The `X-Modelward-Signature` value for `body` signed at `timestamp` (Unix seconds):
/// `sha256=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn signature(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp, body).finalize().into_bytes();
    format!("sha256={}", modelward_event::hash::hex(&tag))
}

/// Why a received request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the timestamp header is not Unix seconds")]
    BadTimestamp,
    #[error("the signature header is not sha256=<64 hex digits>")]
    Malformed,
    #[error("the timestamp is {0} s away from now (replay?)")]
    Stale(u64),
    #[error("the signature does not match")]
    Mismatch,
}

/// What a receiver does with a request: checks `signature_header` against `body` and
/// `timestamp_header` under `secret` (in constant time), and refuses a timestamp more than
/// `tolerance` away from `now`.
pub fn verify_signature(
    secret: &[u8],
    timestamp_header: &str,
    signature_header: &str,
    body: &[u8],
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let timestamp: u64 = timestamp_header
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let hex = signature_header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(SignatureError::Malformed)?;
    let tag = decode_hex(hex).ok_or(SignatureError::Malformed)?;
    let skew = unix_seconds(now).abs_diff(timestamp);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::Stale(skew));
    }
    mac(secret, timestamp, body)
        .verify_slice(&tag)
        .map_err(|_| SignatureError::Mismatch)
}

fn mac(secret: &[u8], timestamp: u64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

fn decode_hex(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let digit = |c: u8| (c as char).to_digit(16);
        out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_over_timestamp_dot_body() {
        let expected = {
            let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"key").unwrap();
            m.update(b"1700000000.{\"a\":1}");
            let tag = m.finalize().into_bytes();
            tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
        };
        let sig = signature(b"key", 1_700_000_000, b"{\"a\":1}");
        assert_eq!(sig, format!("sha256={expected}"));
        assert_eq!(sig.len(), 7 + 64);
    }

    #[test]
    fn rfc4231_vector() {
        // HMAC-SHA256("Jefe", "what do ya want for nothing?"), RFC 4231 4.3.
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        let hex: String = m
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_refuses_others() {
        let at = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = br#"{"type":"modelward.action"}"#;
        let sig = signature(b"s3cret", 1_700_000_000, body);
        let check = |secret: &[u8], ts: &str, sig: &str, body: &[u8], now| {
            verify_signature(secret, ts, sig, body, now, DEFAULT_TOLERANCE)
        };
        assert_eq!(check(b"s3cret", "1700000000", &sig, body, at), Ok(()));
        assert_eq!(
            check(b"other", "1700000000", &sig, body, at),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"s3cret", "1700000001", &sig, body, at),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            check(b"s3cret", "1700000000", &sig, b"{}", at),
            Err(SignatureError::Mismatch)
        );
        let later = at + Duration::from_secs(301);
        assert_eq!(
            check(b"s3cret", "1700000000", &sig, body, later),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            check(b"s3cret", "soon", &sig, body, at),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            check(b"s3cret", "1700000000", &sig[7..], body, at),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            check(b"s3cret", "1700000000", "sha256=zz", body, at),
            Err(SignatureError::Malformed)
        );
        let upper = format!("sha256={}", sig[7..].to_uppercase());
        assert_eq!(check(b"s3cret", "1700000000", &upper, body, at), Ok(()));
    }

    #[test]
    fn config_checks() {
        let ok = WebhookConfig::new("soar", "https://soar.example/hooks/abc?token=t", "k");
        assert!(WebhookExecutor::new(ok.clone()).is_ok());
        let bad = |f: fn(&mut WebhookConfig)| {
            let mut c = ok.clone();
            f(&mut c);
            WebhookExecutor::new(c).unwrap_err()
        };
        assert_eq!(bad(|c| c.name.clear()), WebhookConfigError::NoName);
        assert!(matches!(
            bad(|c| c.url = "ftp://x/".into()),
            WebhookConfigError::BadUrl(_)
        ));
        assert!(matches!(
            bad(|c| c.url = "/relative".into()),
            WebhookConfigError::BadUrl(_)
        ));
        assert!(matches!(
            bad(|c| c.secret.clear()),
            WebhookConfigError::NoSecret(_)
        ));
        assert!(matches!(
            bad(|c| c.actions = vec!["nuke".into()]),
            WebhookConfigError::UnknownAction { .. }
        ));
        assert!(matches!(
            bad(|c| c.timeout_ms = 0),
            WebhookConfigError::NoTimeout(_)
        ));
        assert!(matches!(
            bad(|c| c.headers = vec![("x-modelward-signature".into(), "v".into())]),
            WebhookConfigError::BadHeader { .. }
        ));
        assert!(matches!(
            bad(|c| c.headers = vec![("X-Ok".into(), "a\r\nb".into())]),
            WebhookConfigError::BadHeader { .. }
        ));
    }

    #[test]
    fn debug_hides_secret_url_path_and_header_values() {
        let mut config = WebhookConfig::new("chat", "https://chat.example/hooks/T0/B0/tok", "k3y");
        config.headers = vec![("Authorization".into(), "Bearer hunter2".into())];
        let shown = format!("{:?}", WebhookExecutor::new(config).unwrap());
        assert!(shown.contains("https://chat.example/…"), "{shown}");
        assert!(shown.contains("Authorization"), "{shown}");
        for hidden in ["k3y", "hunter2", "/hooks", "tok"] {
            assert!(!shown.contains(hidden), "{hidden} in {shown}");
        }
    }

    #[test]
    fn deserializes_with_defaults() {
        let config: WebhookConfig = serde_json::from_str(
            r#"{"name":"soar","url":"https://soar.example/h","secret":"k","actions":["notify"]}"#,
        )
        .unwrap();
        assert_eq!(config.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(config.retries, DEFAULT_RETRIES);
        assert_eq!(config.backoff_ms, DEFAULT_BACKOFF_MS);
        assert!(config.headers.is_empty());
    }
}
