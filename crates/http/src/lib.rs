//! How modelward talks HTTP as a client, shared by everything that sends: the webhook executor
//! (`modelward-respond`) and the alert sinks (`modelward-sinks`).
//!
//! - [`agent`]: one [`ureq::Agent`] configuration: a deadline per request (connection to end
//!   of answer), redirects not followed (a redirect could carry a token to another host),
//!   statuses returned rather than raised, modelward's user agent, the Mozilla roots or the
//!   certificates of a CA file (an Elasticsearch or Splunk with its own CA).
//! - [`classify`]: whether a failed request is worth sending again (connection errors,
//!   timeouts; [`retryable_status`]: 408, 429 and 5xx answers) and why it failed, in words.
//! - [`read_text`]: an answer's body read within a limit; [`status_text`]: a status with an
//!   excerpt of its body; [`retry_after`]: the seconds of a `Retry-After` header.
//! - [`redact_url`] and [`Scrubber`]: what may be shown of a URL (scheme, host and port) and
//!   a message with the secrets it may carry replaced.
//! - [`Clock`]: the time and the waits between attempts, which tests replace.
//!
//! ```
//! let agent = modelward_http::agent(&modelward_http::AgentOptions::default()).unwrap();
//! # let _ = agent;
//! assert_eq!(
//!     modelward_http::redact_url("https://hooks.example/T0/B0/token?x=1"),
//!     "https://hooks.example/…"
//! );
//! ```

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

pub use ureq;

/// The `User-Agent` of every request modelward sends.
pub const USER_AGENT: &str = concat!("modelward/", env!("CARGO_PKG_VERSION"));

/// How much of an error answer's body goes into a message.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// How an [`agent`] is made.
#[derive(Debug, Clone)]
pub struct AgentOptions {
    /// Per request, connection to end of answer.
    pub timeout: Duration,
    /// PEM certificates to trust instead of the Mozilla roots.
    pub ca_file: Option<PathBuf>,
}

impl Default for AgentOptions {
    fn default() -> Self {
        AgentOptions {
            timeout: Duration::from_secs(10),
            ca_file: None,
        }
    }
}

/// Why an agent cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("reading the CA file {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the CA file {path} holds no PEM certificate ({why})")]
    NoCertificate { path: PathBuf, why: String },
}

/// An agent as every modelward client uses one (see the crate's overview).
pub fn agent(options: &AgentOptions) -> Result<ureq::Agent, AgentError> {
    let mut config = config(options.timeout);
    if let Some(path) = &options.ca_file {
        let pem = std::fs::read(path).map_err(|source| AgentError::CaFile {
            path: path.clone(),
            source,
        })?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(AgentError::NoCertificate {
                        path: path.clone(),
                        why: e.to_string(),
                    })
                }
            }
        }
        if certs.is_empty() {
            return Err(AgentError::NoCertificate {
                path: path.clone(),
                why: "no CERTIFICATE block".into(),
            });
        }
        config = config.tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
                .build(),
        );
    }
    Ok(config.build().into())
}

/// [`agent`] trusting the Mozilla roots, which cannot fail.
pub fn plain_agent(timeout: Duration) -> ureq::Agent {
    config(timeout).build().into()
}

fn config(timeout: Duration) -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(USER_AGENT)
}

/// A request that did not get an answer, or got one that is not a success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// Worth sending again: the next attempt may work.
    pub retry: bool,
    /// What happened, without the URL's path or query.
    pub why: String,
}

/// What a transport error comes to: timeouts and connection failures are retried, anything
/// else (a bad URL, a TLS failure) is not.
pub fn classify(error: &ureq::Error, timeout: Duration) -> Failure {
    use ureq::Error as E;
    match error {
        E::Timeout(_) => Failure {
            retry: true,
            why: format!("no answer within {} ms", timeout.as_millis()),
        },
        E::Io(_) | E::ConnectionFailed | E::HostNotFound | E::Protocol(_) => Failure {
            retry: true,
            why: format!("connection: {error}"),
        },
        other => Failure {
            retry: false,
            why: format!("request: {other}"),
        },
    }
}

/// Whether an answer with this status is worth waiting for and sending again: 408 (request
/// timeout), 429 (too many requests) and the 5xx server errors.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// `HTTP <status>` with an excerpt of the answer's body, control characters blanked.
pub fn status_text(status: u16, body: &str) -> String {
    let excerpt: String = body
        .trim()
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if excerpt.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {excerpt}")
    }
}

/// The wait a `Retry-After: <seconds>` header asks for.
pub fn retry_after(headers: &ureq::http::HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// An answer's body as text (invalid UTF-8 replaced), at most `limit` bytes of it; a body
/// that cannot be read is empty.
pub fn read_text(response: &mut ureq::http::Response<ureq::Body>, limit: u64) -> String {
    response
        .body_mut()
        .with_config()
        .limit(limit)
        .lossy_utf8(true)
        .read_to_string()
        .unwrap_or_default()
}

/// The scheme, host and port of a URL, without path, query or credentials.
pub fn redact_url(url: &str) -> String {
    match url.parse::<ureq::http::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => match uri.port_u16() {
                Some(port) => format!("{scheme}://{host}:{port}/…"),
                None => format!("{scheme}://{host}/…"),
            },
            _ => "<url>".to_string(),
        },
        Err(_) => "<url>".to_string(),
    }
}

/// Whether `url` is an absolute `http://` or `https://` URL with a host.
pub fn is_http_url(url: &str) -> bool {
    url.parse::<ureq::http::Uri>().ok().is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|h| !h.is_empty())
    })
}

/// Replaces the secrets a message may carry (tokens, keys, an `Authorization` value a server
/// echoes) and the URLs whose path or query may hold one, before it is shown or stored.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<String>,
    urls: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("secrets", &self.secrets.len())
            .field("urls", &self.urls.len())
            .finish()
    }
}

impl Scrubber {
    pub fn new() -> Scrubber {
        Scrubber::default()
    }

    /// A value never to show; values shorter than four characters are not replaced (they
    /// would blank ordinary words).
    pub fn secret(mut self, value: &str) -> Scrubber {
        if value.len() >= 4 {
            self.secrets.push(value.to_string());
        }
        self
    }

    /// A URL shown as [`redact_url`] shows it.
    pub fn url(mut self, url: &str) -> Scrubber {
        self.urls.push(url.to_string());
        self
    }

    pub fn scrub(&self, message: &str) -> String {
        let mut message = message.to_string();
        for secret in &self.secrets {
            message = message.replace(secret.as_str(), "<redacted>");
        }
        for url in &self.urls {
            message = message.replace(url.as_str(), &redact_url(url));
        }
        message
    }
}

/// Where a client gets the time and how it waits between attempts: the system clock, or a
/// test's recording stand-in.
pub trait Clock: Send {
    fn now(&self) -> SystemTime;
    fn sleep(&mut self, wait: Duration);
}

/// The system clock; waits with [`std::thread::sleep`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
    fn sleep(&mut self, wait: Duration) {
        std::thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_path_query_and_credentials() {
        assert_eq!(
            redact_url("https://user:pw@es.example:9200/logs-x/_bulk?x=1"),
            "https://es.example:9200/…"
        );
        assert_eq!(redact_url("not a url"), "<url>");
        assert!(is_http_url("http://127.0.0.1:9/"));
        assert!(!is_http_url("ftp://x/"));
        assert!(!is_http_url("/relative"));
    }

    #[test]
    fn scrubber_replaces_secrets_and_urls() {
        let s = Scrubber::new()
            .secret("hec-token-123")
            .secret("ab")
            .url("https://h.example:8088/services/collector/event?token=t");
        let m = s.scrub(
            "HTTP 403: bad token hec-token-123 at https://h.example:8088/services/collector/event?token=t (ab)",
        );
        assert_eq!(
            m,
            "HTTP 403: bad token <redacted> at https://h.example:8088/… (ab)"
        );
    }

    #[test]
    fn statuses() {
        assert!(retryable_status(429) && retryable_status(503) && retryable_status(408));
        assert!(!retryable_status(400) && !retryable_status(413) && !retryable_status(401));
        assert_eq!(status_text(500, " boom\n"), "HTTP 500: boom");
        assert_eq!(status_text(204, ""), "HTTP 204");
    }

    #[test]
    fn a_ca_file_without_certificates_is_an_error() {
        let dir = std::env::temp_dir().join(format!("mw-http-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("empty.pem");
        std::fs::write(&path, "nothing here\n").unwrap();
        let e = agent(&AgentOptions {
            ca_file: Some(path),
            ..AgentOptions::default()
        })
        .unwrap_err();
        assert!(matches!(e, AgentError::NoCertificate { .. }), "{e}");
        let e = agent(&AgentOptions {
            ca_file: Some(dir.join("missing.pem")),
            ..AgentOptions::default()
        })
        .unwrap_err();
        assert!(matches!(e, AgentError::CaFile { .. }), "{e}");
    }
}
