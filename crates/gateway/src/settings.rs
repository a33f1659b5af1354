//! The gateway's configuration: `[gateway]` of the configuration file as written
//! ([`Options`], every key optional, unknown keys refused) resolved into [`Settings`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use modelward_event::ip::IpRange;
use serde::Deserialize;

use crate::keys::{KeyMode, Limits};

/// What kind of API an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamKind {
    /// OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp, LiteLLM): the key
    /// goes in `Authorization: Bearer`.
    #[default]
    Openai,
    /// Azure OpenAI: the key goes in the `api-key` header; paths are
    /// `/openai/deployments/{deployment}/...?api-version=`.
    Azure,
}

/// One upstream as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamOptions {
    /// A name for logs and metrics.
    pub name: String,
    /// Base URL (`http://127.0.0.1:8000`, `https://api.openai.com`); the request's path is
    /// appended to it.
    pub url: String,
    #[serde(default)]
    pub kind: UpstreamKind,
    /// The environment variable holding the key the gateway sends upstream in place of the
    /// caller's; without it the caller's own key is passed through.
    pub api_key_env: Option<String>,
    /// Models routed here (`*` globs); the first upstream whose list matches the request's
    /// model takes it, and an upstream without a list takes any model.
    #[serde(default)]
    pub models: Vec<String>,
    /// For an `https://` upstream: the CA certificates (PEM) to trust instead of the Mozilla
    /// roots built in (a private CA).
    pub ca_file: Option<PathBuf>,
}

/// `[gateway.policy]`: what applies to every caller, whatever the measures in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Requests a minute for each principal (token bucket).
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt and completion, from the answer's `usage`) a minute for each principal.
    pub tokens_per_minute: Option<u64>,
    /// Models served (`*` globs); empty: any.
    #[serde(default)]
    pub models: Vec<String>,
    /// Request parameters refused (400), e.g. `["logit_bias"]`.
    #[serde(default)]
    pub denied_parameters: Vec<String>,
}

impl Policy {
    /// The limits it sets for each principal.
    pub fn limits(&self) -> Limits {
        Limits {
            requests_per_minute: self.requests_per_minute,
            tokens_per_minute: self.tokens_per_minute,
            models: self.models.clone(),
        }
    }
}

/// `[gateway]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Address to listen on (default `127.0.0.1:8080`).
    pub listen: Option<SocketAddr>,
    pub upstreams: Option<Vec<UpstreamOptions>>,
    /// The SQLite database whose `enforcement` table holds the measures in force (the one
    /// `hunt --incidents` writes).
    pub database: Option<PathBuf>,
    /// modelward's LLM request log, one JSON line per call (docs/llm-log.md).
    pub log: Option<PathBuf>,
    /// Rotate the log: a segment that reaches this many bytes is closed and a new one
    /// started beside `log` (docs/gateway.md, "The log"); default: one file, never rotated.
    pub log_max_bytes: Option<u64>,
    /// Segments of a rotating log kept, the newest (default: all).
    pub log_keep: Option<usize>,
    /// Largest request body accepted, bytes (default 16 MiB).
    pub max_body_bytes: Option<usize>,
    /// Time to read a request's headers before the connection is closed (default "10s").
    pub header_timeout: Option<String>,
    /// Time allowed for an upstream's answer to start (default "300s").
    pub upstream_timeout: Option<String>,
    /// Time to read a request's body once its headers are in (default "60s"; a client
    /// trickling its body gets 408).
    pub body_timeout: Option<String>,
    /// How often the measures in force are read again (default "1s").
    pub refresh: Option<String>,
    /// In-path detection: every call logged is run through the rules, detectors and
    /// analyzers as `hunt` runs them, and their alerts through the playbook into `database`
    /// (default false; needs `log` and `database`).
    pub detect: Option<bool>,
    /// How late a call may be logged after calls that arrived after it (a long stream is
    /// logged when it ends) and still be analysed in order (default "30s").
    pub detect_lateness: Option<String>,
    /// A file where detection keeps its state across restarts (the engine's snapshot: open
    /// windows, analyzers' profiles); without it a restart starts afresh and a shutdown
    /// closes every window as at the end of a hunt.
    pub detect_state: Option<PathBuf>,
    /// The nice value of detection's threads (0 to 19, default 0: they compete with the
    /// threads answering requests as equals): above 0 they give way to them when both want
    /// the CPU and catch up when it is free, and to any other work on the machine at a lower
    /// nice value too (detection, and so containment, then waits for it).
    pub detect_nice: Option<u8>,
    /// The environment variable holding the gateway's secret (any text of 16 bytes or
    /// more): the key of `perturb_output`'s noise, so that it can be recomputed later as
    /// evidence, and of proof-of-work challenges. Without it the gateway keeps one in
    /// `database` (made at the first start), or, with no database, makes one per start.
    pub secret_env: Option<String>,
    /// This gateway's name in the database's record of what enforces the measures (default
    /// `gateway@` and the listen address).
    pub name: Option<String>,
    /// Keys the gateway did not issue: `passthrough` (default: served as the caller's own)
    /// or `virtual` (refused) (docs/gateway.md, "Callers").
    pub keys: Option<KeyMode>,
    pub policy: Option<Policy>,
    /// `[gateway.teams.NAME]`: limits of each team, shared by its keys.
    pub teams: Option<BTreeMap<String, Limits>>,
    /// Proxies (addresses or CIDR ranges) whose `X-Forwarded-For` is believed: the caller's
    /// address is the last one in it not of a trusted proxy. From anyone else the header is
    /// ignored.
    pub trusted_proxies: Option<Vec<IpRange>>,
    /// The listener's certificate chain (PEM): with `tls_key`, the gateway serves HTTPS
    /// (HTTP/2 and HTTP/1.1 by ALPN) instead of plain HTTP.
    pub tls_cert: Option<PathBuf>,
    /// The listener's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub tls_key: Option<PathBuf>,
    /// Credentials in completions masked before the caller gets them, and named in the log
    /// for the credential-theft detector (default false; streamed text then goes out a line
    /// at a time).
    pub mask_credentials: Option<bool>,
    /// The gateway's own messages on stderr: `text` (default) or `json` (one object a line).
    pub log_format: Option<crate::say::LogFormat>,
}

/// An upstream, resolved.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub name: String,
    /// Without a trailing `/`.
    pub url: String,
    pub kind: UpstreamKind,
    /// The key sent upstream in place of the caller's.
    pub api_key: Option<String>,
    pub models: Vec<String>,
    /// TLS for an `https://` upstream.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// The gateway's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub upstreams: Vec<Upstream>,
    pub database: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub log_rotation: Option<crate::log::Rotation>,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub upstream_timeout: Duration,
    pub body_timeout: Duration,
    pub refresh: Duration,
    pub detect: bool,
    pub detect_lateness: Duration,
    pub detect_state: Option<PathBuf>,
    pub detect_nice: u8,
    /// The gateway's secret (`secret_env`); `None`: the caller finds one.
    pub secret: Option<Vec<u8>>,
    pub name: String,
    pub keys: KeyMode,
    pub policy: Policy,
    /// The policy's limits for each principal.
    pub default_limits: Limits,
    pub teams: BTreeMap<String, Limits>,
    pub trusted_proxies: Vec<IpRange>,
    /// The listener's TLS, when it serves HTTPS.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub mask_credentials: bool,
    pub log_format: crate::say::LogFormat,
}

/// Detection's nice value unless `detect_nice` says otherwise.
pub const DETECT_NICE: u8 = 0;

/// A configuration the gateway cannot run with.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("no upstream configured: add [[gateway.upstreams]] with a name and url")]
    NoUpstream,
    #[error("upstream {name:?}: url {url:?} is not http:// or https://")]
    BadUrl { name: String, url: String },
    #[error("upstream {name:?}: ca_file is for https:// upstreams")]
    CaForHttp { name: String },
    #[error("TLS: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("tls_cert and tls_key go together: set both or neither")]
    TlsPair,
    #[error("upstream {name:?}: the environment variable {var} is not set")]
    MissingKey { name: String, var: String },
    #[error("secret_env: the environment variable {var} is not set")]
    MissingSecret { var: String },
    #[error("secret_env: the secret in {var} is shorter than 16 bytes")]
    ShortSecret { var: String },
    #[error("keys = {mode:?} needs every upstream to have api_key_env (a virtual key is never sent upstream); {name:?} has none")]
    VirtualKeysNeedUpstreamKey { mode: KeyMode, name: String },
    #[error("detect = true needs `log` (the calls detection reads) and `database` (where incidents and measures go)")]
    DetectNeeds,
    #[error("detect_nice: {0} is not a nice value from 0 to 19")]
    DetectNice(u8),
    #[error("{key}: {value:?} is not a duration (e.g. \"500ms\", \"10s\", \"5m\")")]
    Duration { key: &'static str, value: String },
}

/// `500ms`, `10s`, `5m`, `1h`, `7d`.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit())
        .map_or((text, ""), |i| text.split_at(i));
    let n: u64 = number.parse().ok()?;
    let secs = |unit: u64| n.checked_mul(unit).map(Duration::from_secs);
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => secs(1),
        "m" => secs(60),
        "h" => secs(3600),
        "d" => secs(86_400),
        _ => None,
    }
}

fn duration(
    key: &'static str,
    value: Option<&str>,
    default: Duration,
) -> Result<Duration, SettingsError> {
    match value {
        None => Ok(default),
        Some(text) => parse_duration(text).ok_or_else(|| SettingsError::Duration {
            key,
            value: text.to_string(),
        }),
    }
}

impl Options {
    /// Resolves the options; `env` reads an environment variable (the upstream keys).
    pub fn resolve(self, env: &dyn Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut upstreams = Vec::new();
        for u in self.upstreams.unwrap_or_default() {
            let url = u.url.trim_end_matches('/').to_string();
            let tls = if url.starts_with("https://") {
                Some(Arc::new(crate::tls::client(u.ca_file.as_ref())?))
            } else if !url.starts_with("http://") {
                return Err(SettingsError::BadUrl { name: u.name, url });
            } else if u.ca_file.is_some() {
                return Err(SettingsError::CaForHttp { name: u.name });
            } else {
                None
            };
            let api_key = match &u.api_key_env {
                Some(var) => Some(env(var).ok_or_else(|| SettingsError::MissingKey {
                    name: u.name.clone(),
                    var: var.clone(),
                })?),
                None => None,
            };
            upstreams.push(Upstream {
                name: u.name,
                url,
                kind: u.kind,
                api_key,
                models: u.models,
                tls,
            });
        }
        if upstreams.is_empty() {
            return Err(SettingsError::NoUpstream);
        }
        let detect = self.detect.unwrap_or(false);
        if detect && (self.log.is_none() || self.database.is_none()) {
            return Err(SettingsError::DetectNeeds);
        }
        let detect_nice = self.detect_nice.unwrap_or(DETECT_NICE);
        if detect_nice > 19 {
            return Err(SettingsError::DetectNice(detect_nice));
        }
        let secret = match &self.secret_env {
            Some(var) => {
                let value =
                    env(var).ok_or_else(|| SettingsError::MissingSecret { var: var.clone() })?;
                if value.len() < 16 {
                    return Err(SettingsError::ShortSecret { var: var.clone() });
                }
                Some(value.into_bytes())
            }
            None => None,
        };
        let keys = self.keys.unwrap_or_default();
        if keys != KeyMode::Passthrough {
            if let Some(u) = upstreams.iter().find(|u| u.api_key.is_none()) {
                return Err(SettingsError::VirtualKeysNeedUpstreamKey {
                    mode: keys,
                    name: u.name.clone(),
                });
            }
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Some(crate::tls::server(cert, key)?),
            (None, None) => None,
            _ => return Err(SettingsError::TlsPair),
        };
        let listen = self
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        Ok(Settings {
            secret,
            name: self.name.unwrap_or_else(|| format!("gateway@{listen}")),
            keys,
            default_limits: self.policy.as_ref().map(Policy::limits).unwrap_or_default(),
            policy: self.policy.unwrap_or_default(),
            teams: self.teams.unwrap_or_default(),
            trusted_proxies: self.trusted_proxies.unwrap_or_default(),
            tls,
            mask_credentials: self.mask_credentials.unwrap_or(false),
            log_format: self.log_format.unwrap_or_default(),
            listen,
            upstreams,
            database: self.database,
            log: self.log,
            log_rotation: self.log_max_bytes.map(|max_bytes| crate::log::Rotation {
                max_bytes: max_bytes.max(1),
                keep: self.log_keep,
            }),
            max_body_bytes: self.max_body_bytes.unwrap_or(16 << 20),
            header_timeout: duration(
                "header_timeout",
                self.header_timeout.as_deref(),
                Duration::from_secs(10),
            )?,
            upstream_timeout: duration(
                "upstream_timeout",
                self.upstream_timeout.as_deref(),
                Duration::from_secs(300),
            )?,
            body_timeout: duration(
                "body_timeout",
                self.body_timeout.as_deref(),
                Duration::from_secs(60),
            )?,
            refresh: duration("refresh", self.refresh.as_deref(), Duration::from_secs(1))?,
            detect,
            detect_state: self.detect_state,
            detect_nice,
            detect_lateness: duration(
                "detect_lateness",
                self.detect_lateness.as_deref(),
                Duration::from_secs(30),
            )?,
        })
    }
}

impl Settings {
    /// The upstream for a model: the first whose `models` match it, else the first without
    /// a list.
    pub fn upstream_for(&self, model: Option<&str>) -> Option<&Upstream> {
        self.upstream_index(model).map(|i| &self.upstreams[i])
    }

    /// The place of [`Settings::upstream_for`]'s upstream in `upstreams`.
    pub fn upstream_index(&self, model: Option<&str>) -> Option<usize> {
        let listed = model.and_then(|m| {
            self.upstreams.iter().position(|u| {
                u.models
                    .iter()
                    .any(|g| modelward_event::glob::glob_match(g, m))
            })
        });
        listed.or_else(|| self.upstreams.iter().position(|u| u.models.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(text: &str) -> Options {
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn resolves_routes_and_refuses_what_cannot_run() {
        let o = opts(
            r#"{"upstreams": [
                {"name": "local", "url": "http://127.0.0.1:9000/", "models": ["llama-*"]},
                {"name": "azure", "url": "http://10.0.0.1", "kind": "azure", "api_key_env": "K"}
            ]}"#,
        );
        let s = o
            .clone()
            .resolve(&|v| (v == "K").then(|| "secret".into()))
            .unwrap();
        assert_eq!(s.upstream_for(Some("llama-3")).unwrap().name, "local");
        assert_eq!(s.upstream_for(Some("gpt-4o")).unwrap().name, "azure");
        assert_eq!(s.upstreams[0].url, "http://127.0.0.1:9000");
        assert_eq!(s.upstreams[1].api_key.as_deref(), Some("secret"));
        assert_eq!(s.refresh, Duration::from_secs(1));
        assert!(matches!(
            o.resolve(&|_| None),
            Err(SettingsError::MissingKey { .. })
        ));
        assert_eq!(
            opts("{}").resolve(&|_| None).unwrap_err(),
            SettingsError::NoUpstream
        );
        let bad = opts(r#"{"upstreams": [{"name": "x", "url": "http://a"}], "refresh": "soon"}"#);
        assert!(bad
            .resolve(&|_| None)
            .unwrap_err()
            .to_string()
            .contains("refresh"));
        assert!(serde_json::from_str::<Options>(r#"{"listn": "1"}"#).is_err());
        // Virtual keys are never sent upstream: each upstream needs its own key.
        let virtual_keys =
            opts(r#"{"upstreams": [{"name": "x", "url": "http://a"}], "keys": "virtual"}"#);
        assert!(matches!(
            virtual_keys.resolve(&|_| None),
            Err(SettingsError::VirtualKeysNeedUpstreamKey { .. })
        ));
    }

    #[test]
    fn detection_gives_way_when_asked_within_nice_values() {
        let up = r#""upstreams": [{"name": "x", "url": "http://a"}]"#;
        let s = opts(&format!("{{{up}}}")).resolve(&|_| None).unwrap();
        assert_eq!(s.detect_nice, DETECT_NICE);
        let s = opts(&format!(r#"{{{up}, "detect_nice": 10}}"#))
            .resolve(&|_| None)
            .unwrap();
        assert_eq!(s.detect_nice, 10);
        let e = opts(&format!(r#"{{{up}, "detect_nice": 20}}"#)).resolve(&|_| None);
        assert_eq!(e.unwrap_err(), SettingsError::DetectNice(20));
    }
}
