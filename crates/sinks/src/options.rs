//! An output as the configuration writes it (`[[outputs]]`, every key but `target`
//! optional, unknown keys refused) or as a bare target on the command line, resolved with the
//! environment into a running sink.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::delivery::{self, Delivery};
use crate::error::Error;
use crate::outputs::Output;
use crate::secret::{Env, Secret};
use crate::target::{shown, Destination, Target};
use crate::{elasticsearch, kafka, sentinel, splunk, webhook};
use modelward_respond::action::run::Budget;
use modelward_respond::action::webhook::WebhookConfig;

/// Environment variables read when the output names none.
pub mod env {
    pub const ELASTICSEARCH_API_KEY: &str = "MODELWARD_ELASTICSEARCH_API_KEY";
    pub const ELASTICSEARCH_USERNAME: &str = "MODELWARD_ELASTICSEARCH_USERNAME";
    pub const ELASTICSEARCH_PASSWORD: &str = "MODELWARD_ELASTICSEARCH_PASSWORD";
    pub const SPLUNK_HEC_TOKEN: &str = "MODELWARD_SPLUNK_HEC_TOKEN";
    /// The names Azure's own SDKs read.
    pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
    pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
    pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
}

/// `[[outputs]]`: one destination of alerts (docs/outputs.md).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputOptions {
    /// What `--output NAME` calls it; messages name it too.
    pub name: Option<String>,
    /// Where: a file, `-`, `csv:FILE`, `elasticsearch+https://…`, ... (see [`Target`]).
    pub target: String,

    // Delivery, for elasticsearch, splunk and sentinel.
    pub batch_max_events: Option<usize>,
    pub batch_max_bytes: Option<usize>,
    pub queue: Option<usize>,
    pub flush_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub retries: Option<u32>,
    pub backoff_ms: Option<u64>,
    pub max_backoff_ms: Option<u64>,
    pub deadline_ms: Option<u64>,
    /// Undelivered alerts are appended here, one per line (relative to the configuration file).
    pub spool: Option<PathBuf>,
    /// PEM certificates to trust instead of the Mozilla roots (relative to the configuration file).
    pub ca_file: Option<PathBuf>,

    // kafka
    /// librdkafka properties (`security.protocol`, `sasl.mechanism`, `sasl.username`, ...);
    /// `env:NAME` reads a value from the environment, and `sasl.password` must be given so.
    pub properties: Option<std::collections::BTreeMap<String, String>>,

    // webhook
    /// `env:NAME`: the HMAC key shared with the receiver.
    pub secret: Option<String>,
    /// Alerts failed in a row, between two flushes, after which the others are not attempted.
    pub circuit_breaker: Option<u32>,

    // elasticsearch
    /// `env:NAME`: an API key (the `encoded` value).
    pub api_key: Option<String>,
    pub username: Option<String>,
    /// `env:NAME`.
    pub password: Option<String>,
    pub pipeline: Option<String>,

    // splunk
    /// `env:NAME`: the HEC token.
    pub token: Option<String>,
    pub index: Option<String>,
    pub sourcetype: Option<String>,
    pub source: Option<String>,
    pub host: Option<String>,
    pub ack: Option<bool>,
    pub ack_timeout_ms: Option<u64>,
    pub ack_poll_ms: Option<u64>,

    // sentinel
    /// The Entra tenant (`env:NAME` or as written).
    pub tenant_id: Option<String>,
    /// The app registration's client id (`env:NAME` or as written).
    pub client_id: Option<String>,
    /// `env:NAME`: the app registration's client secret.
    pub client_secret: Option<String>,
    /// `https://login.microsoftonline.com` unless a sovereign cloud's.
    pub authority_host: Option<String>,
    /// The whole token URL, in place of `<authority_host>/<tenant>/oauth2/v2.0/token`.
    pub token_url: Option<String>,
    pub scope: Option<String>,
}

/// What [`OutputOptions::open`] gives: a sink, or a plain target whose format the command
/// line decides (a table on a terminal, NDJSON, a JSON array).
pub enum Opened {
    Plain { name: String, to: Destination },
    Sink(Output),
}

const DELIVERY_KEYS: [&str; 11] = [
    "batch_max_events",
    "batch_max_bytes",
    "queue",
    "flush_ms",
    "timeout_ms",
    "retries",
    "backoff_ms",
    "max_backoff_ms",
    "deadline_ms",
    "spool",
    "ca_file",
];

impl OutputOptions {
    /// A bare target, as `--output` gives it.
    pub fn target(target: &str) -> OutputOptions {
        OutputOptions {
            target: target.to_string(),
            ..OutputOptions::default()
        }
    }

    /// The name messages use: the section's, else the target without query or credentials.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| shown(&self.target))
    }

    /// The keys this section sets, by name (for checking which apply to its kind).
    fn set_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        macro_rules! check {
            ($($k:ident),*) => { $( if self.$k.is_some() { keys.push(stringify!($k)); } )* };
        }
        check!(
            batch_max_events,
            batch_max_bytes,
            queue,
            flush_ms,
            timeout_ms,
            retries,
            backoff_ms,
            max_backoff_ms,
            deadline_ms,
            spool,
            ca_file,
            properties,
            api_key,
            username,
            password,
            pipeline,
            token,
            index,
            sourcetype,
            source,
            host,
            ack,
            ack_timeout_ms,
            ack_poll_ms,
            tenant_id,
            client_id,
            client_secret,
            authority_host,
            token_url,
            scope,
            secret,
            circuit_breaker
        );
        keys
    }

    fn bad(&self, key: &'static str, why: impl Into<String>) -> Error {
        Error::BadOption {
            output: self.display_name(),
            key,
            why: why.into(),
        }
    }

    /// Checks the section and makes its sink: files are created, HTTP outputs start their
    /// delivery thread, secrets are read from `env`. Nothing is sent yet.
    pub fn open(&self, env: &dyn Env) -> Result<Opened, Error> {
        let target = Target::parse(&self.target)?;
        let name = self.display_name();
        let kind = target.kind();
        let allowed: &[&str] = match &target {
            Target::Plain(_) | Target::Formatted(..) => &[],
            Target::Elasticsearch { .. } => &["api_key", "username", "password", "pipeline"],
            Target::Splunk { .. } => &[
                "token",
                "index",
                "sourcetype",
                "source",
                "host",
                "ack",
                "ack_timeout_ms",
                "ack_poll_ms",
            ],
            Target::Sentinel { .. } => &[
                "tenant_id",
                "client_id",
                "client_secret",
                "authority_host",
                "token_url",
                "scope",
            ],
            Target::Kafka { .. } => &["properties"],
            Target::Webhook { .. } => &[
                "secret",
                "circuit_breaker",
                "timeout_ms",
                "retries",
                "backoff_ms",
                "deadline_ms",
            ],
        };
        for key in self.set_keys() {
            let delivery = DELIVERY_KEYS.contains(&key);
            if !allowed.contains(&key) && (!delivery || !target.is_http()) {
                return Err(self.bad(key, format!("does not apply to a {kind} output")));
            }
        }
        let output = match target {
            Target::Plain(to) => return Ok(Opened::Plain { name, to }),
            Target::Formatted(format, to) => Output::file(name, format, &to)?,
            Target::Elasticsearch {
                url,
                data_stream,
                query,
            } => {
                let mut pipeline = self.pipeline.clone();
                for (k, v) in query {
                    match k.as_str() {
                        "pipeline" => self.take_query(&mut pipeline, "pipeline", v)?,
                        _ => return Err(self.unknown_query(&k, "pipeline")),
                    }
                }
                let timeout = self.timeout();
                let auth = match self.secret(
                    env,
                    "api_key",
                    &self.api_key,
                    env::ELASTICSEARCH_API_KEY,
                    "the API key",
                )? {
                    Some(key) => elasticsearch::Auth::ApiKey(key),
                    None => {
                        let username = match &self.username {
                            Some(u) => Some(self.plain(env, "username", u, "the user name")?),
                            None => env.var(env::ELASTICSEARCH_USERNAME),
                        };
                        match username {
                            Some(username) => {
                                let password = self
                                    .secret(
                                        env,
                                        "password",
                                        &self.password,
                                        env::ELASTICSEARCH_PASSWORD,
                                        "the password",
                                    )?
                                    .ok_or_else(|| Error::MissingSetting {
                                        output: name.clone(),
                                        what: "a password for the user name",
                                        hint: format!(
                                            "`password = \"env:NAME\"` or {}",
                                            env::ELASTICSEARCH_PASSWORD
                                        ),
                                    })?;
                                elasticsearch::Auth::Basic { username, password }
                            }
                            None => elasticsearch::Auth::None,
                        }
                    }
                };
                let transport = elasticsearch::Elasticsearch::new(
                    elasticsearch::Settings {
                        url,
                        data_stream,
                        auth,
                        pipeline,
                        timeout,
                    },
                    self.agent(&name, timeout)?,
                );
                self.delivery(
                    name,
                    Box::new(transport),
                    elasticsearch::DEFAULT_BATCH_MAX_BYTES,
                )?
            }
            Target::Splunk {
                url,
                endpoint,
                query,
            } => {
                let mut index = self.index.clone();
                let mut sourcetype = self.sourcetype.clone();
                let mut source = self.source.clone();
                let mut host = self.host.clone();
                let mut ack = self.ack.map(|a| a.to_string());
                for (k, v) in query {
                    match k.as_str() {
                        "index" => self.take_query(&mut index, "index", v)?,
                        "sourcetype" => self.take_query(&mut sourcetype, "sourcetype", v)?,
                        "source" => self.take_query(&mut source, "source", v)?,
                        "host" => self.take_query(&mut host, "host", v)?,
                        "ack" => self.take_query(&mut ack, "ack", v)?,
                        _ => {
                            return Err(
                                self.unknown_query(&k, "index, sourcetype, source, host, ack")
                            )
                        }
                    }
                }
                let ack = match ack.as_deref() {
                    None | Some("false") | Some("0") => false,
                    Some("true") | Some("1") => true,
                    Some(_) => return Err(self.bad("ack", "must be true or false")),
                };
                let token = self
                    .secret(
                        env,
                        "token",
                        &self.token,
                        env::SPLUNK_HEC_TOKEN,
                        "the HEC token",
                    )?
                    .ok_or_else(|| Error::MissingSetting {
                        output: name.clone(),
                        what: "the HEC token",
                        hint: format!(
                            "`token = \"env:NAME\"` in its [[outputs]] section, or {}",
                            env::SPLUNK_HEC_TOKEN
                        ),
                    })?;
                let timeout = self.timeout();
                let transport = splunk::Splunk::new(
                    splunk::Settings {
                        url,
                        endpoint,
                        token,
                        index,
                        sourcetype: sourcetype.unwrap_or_else(|| splunk::DEFAULT_SOURCETYPE.into()),
                        source: source.unwrap_or_else(|| splunk::DEFAULT_SOURCE.into()),
                        host,
                        ack,
                        ack_timeout: self
                            .ack_timeout_ms
                            .map_or(splunk::DEFAULT_ACK_TIMEOUT, Duration::from_millis),
                        ack_poll: self
                            .ack_poll_ms
                            .map_or(splunk::DEFAULT_ACK_POLL, Duration::from_millis),
                        channel: crate::url::uuid(),
                        timeout,
                    },
                    self.agent(&name, timeout)?,
                );
                self.delivery(name, Box::new(transport), splunk::DEFAULT_BATCH_MAX_BYTES)?
            }
            Target::Sentinel {
                endpoint,
                dcr,
                stream,
                query,
            } => {
                if let Some((k, _)) = query.first() {
                    return Err(self.unknown_query(k, "none"));
                }
                let tenant = match &self.tenant_id {
                    Some(t) => Some(self.plain(env, "tenant_id", t, "the tenant id")?),
                    None => env.var(env::AZURE_TENANT_ID),
                };
                let client_id = match &self.client_id {
                    Some(c) => self.plain(env, "client_id", c, "the client id")?,
                    None => env
                        .var(env::AZURE_CLIENT_ID)
                        .ok_or_else(|| Error::MissingSetting {
                            output: name.clone(),
                            what: "the app registration's client id",
                            hint: format!(
                                "`client_id` in its [[outputs]] section, or {}",
                                env::AZURE_CLIENT_ID
                            ),
                        })?,
                };
                let client_secret = self
                    .secret(
                        env,
                        "client_secret",
                        &self.client_secret,
                        env::AZURE_CLIENT_SECRET,
                        "the client secret",
                    )?
                    .ok_or_else(|| Error::MissingSetting {
                        output: name.clone(),
                        what: "the app registration's client secret",
                        hint: format!(
                            "`client_secret = \"env:NAME\"` in its [[outputs]] section, or {}",
                            env::AZURE_CLIENT_SECRET
                        ),
                    })?;
                let token_url = match &self.token_url {
                    Some(u) => u.clone(),
                    None => {
                        let tenant = tenant.ok_or_else(|| Error::MissingSetting {
                            output: name.clone(),
                            what: "the Entra tenant id",
                            hint: format!(
                                "`tenant_id` in its [[outputs]] section, or {}",
                                env::AZURE_TENANT_ID
                            ),
                        })?;
                        if tenant.is_empty()
                            || !tenant
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.'))
                        {
                            return Err(self.bad("tenant_id", "must be a tenant id or domain name"));
                        }
                        let authority = self
                            .authority_host
                            .clone()
                            .or_else(|| env.var(env::AZURE_AUTHORITY_HOST))
                            .unwrap_or_else(|| sentinel::DEFAULT_AUTHORITY_HOST.into());
                        format!(
                            "{}/{tenant}/oauth2/v2.0/token",
                            authority.trim_end_matches('/')
                        )
                    }
                };
                if !modelward_http::is_http_url(&token_url) {
                    return Err(self.bad("token_url", "must be an http:// or https:// URL"));
                }
                if let Some(b) = self.batch_max_bytes {
                    if b > sentinel::MAX_REQUEST_BYTES - 2 {
                        return Err(self.bad(
                            "batch_max_bytes",
                            format!(
                                "may be {} at most: the Logs Ingestion API takes 1 MB a call",
                                sentinel::MAX_REQUEST_BYTES - 2
                            ),
                        ));
                    }
                }
                let timeout = self.timeout();
                let transport = sentinel::Sentinel::new(
                    sentinel::Settings {
                        endpoint,
                        dcr,
                        stream,
                        client_id,
                        client_secret,
                        token_url,
                        scope: self
                            .scope
                            .clone()
                            .unwrap_or_else(|| sentinel::DEFAULT_SCOPE.into()),
                        timeout,
                    },
                    self.agent(&name, timeout)?,
                );
                self.delivery(name, Box::new(transport), sentinel::MAX_REQUEST_BYTES - 2)?
            }
            Target::Kafka { brokers, topic } => {
                let mut properties = Vec::new();
                for (k, v) in self.properties.iter().flatten() {
                    let value = if k.contains("password") || k.contains("secret") {
                        kafka::Property::Secret(self.env_secret(
                            env,
                            "properties",
                            v,
                            "a Kafka secret",
                        )?)
                    } else {
                        kafka::Property::Plain(self.plain(
                            env,
                            "properties",
                            v,
                            "a Kafka property",
                        )?)
                    };
                    properties.push((k.clone(), value));
                }
                let sink = kafka::Kafka::new(kafka::Settings {
                    brokers,
                    topic,
                    properties,
                })
                .map_err(|e| self.bad("properties", e.to_string()))?;
                Output::writer(name, Box::new(sink))
            }
            Target::Webhook { url } => {
                let secret = match &self.secret {
                    Some(v) => self.env_secret(env, "secret", v, "the webhook secret")?,
                    None => {
                        return Err(Error::MissingSetting {
                            output: name.clone(),
                            what: "the webhook secret",
                            hint: "`secret = \"env:NAME\"` in its [[outputs]] section".into(),
                        })
                    }
                };
                let mut config = WebhookConfig::new(name.clone(), url, secret.expose());
                config.timeout_ms = self.timeout_ms.unwrap_or(config.timeout_ms);
                config.retries = self.retries.unwrap_or(config.retries);
                config.backoff_ms = self.backoff_ms.unwrap_or(config.backoff_ms);
                if self.circuit_breaker == Some(0) {
                    return Err(self.bad("circuit_breaker", "must be 1 or more"));
                }
                let budget = Budget {
                    total: self
                        .deadline_ms
                        .map_or(webhook::DEFAULT_DEADLINE, Duration::from_millis),
                    failures_in_a_row: self
                        .circuit_breaker
                        .unwrap_or(Budget::default().failures_in_a_row),
                };
                let sink = webhook::Webhook::new(webhook::Settings {
                    webhook: config,
                    budget,
                })
                .map_err(|e| self.bad("target", e.to_string()))?;
                Output::writer(name, Box::new(sink))
            }
        };
        Ok(Opened::Sink(output))
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms.unwrap_or(10_000).max(1))
    }

    fn agent(&self, name: &str, timeout: Duration) -> Result<modelward_http::ureq::Agent, Error> {
        modelward_http::agent(&modelward_http::AgentOptions {
            timeout,
            ca_file: self.ca_file.clone(),
        })
        .map_err(|source| Error::Http {
            output: name.to_string(),
            source,
        })
    }

    fn take_query(
        &self,
        slot: &mut Option<String>,
        key: &'static str,
        value: String,
    ) -> Result<(), Error> {
        if slot.as_ref().is_some_and(|v| *v != value) {
            return Err(self.bad(key, "is set both in the target's query and in the section"));
        }
        *slot = Some(value);
        Ok(())
    }

    fn unknown_query(&self, key: &str, known: &str) -> Error {
        Error::BadTarget {
            target: shown(&self.target),
            why: format!("unknown query key `{key}` (known: {known})"),
        }
    }

    /// A secret: `env:NAME` read now, or the default variable's value, or none.
    fn secret(
        &self,
        env: &dyn Env,
        key: &'static str,
        value: &Option<String>,
        default_env: &str,
        what: &'static str,
    ) -> Result<Option<Secret>, Error> {
        match value {
            Some(v) => self.env_secret(env, key, v, what).map(Some),
            None => Ok(env.var(default_env).map(Secret::new)),
        }
    }

    /// A secret the section names: `env:NAME`, read now; anything else is refused.
    fn env_secret(
        &self,
        env: &dyn Env,
        key: &'static str,
        value: &str,
        what: &'static str,
    ) -> Result<Secret, Error> {
        match value.strip_prefix("env:") {
            Some(var) => env
                .var(var)
                .map(Secret::new)
                .ok_or_else(|| Error::MissingEnv {
                    output: self.display_name(),
                    what,
                    var: var.to_string(),
                }),
            None => Err(Error::SecretNotFromEnv {
                output: self.display_name(),
                key,
            }),
        }
    }

    /// A setting that is not secret but may come from the environment (`env:NAME`).
    fn plain(
        &self,
        env: &dyn Env,
        _key: &'static str,
        value: &str,
        what: &'static str,
    ) -> Result<String, Error> {
        match value.strip_prefix("env:") {
            Some(var) => env.var(var).ok_or_else(|| Error::MissingEnv {
                output: self.display_name(),
                what,
                var: var.to_string(),
            }),
            None => Ok(value.to_string()),
        }
    }

    fn delivery(
        &self,
        name: String,
        transport: Box<dyn delivery::Transport>,
        max_bytes: usize,
    ) -> Result<Output, Error> {
        let positive = |key: &'static str, v: Option<u64>| -> Result<(), Error> {
            if v == Some(0) {
                Err(self.bad(key, "must be above 0"))
            } else {
                Ok(())
            }
        };
        positive("batch_max_events", self.batch_max_events.map(|v| v as u64))?;
        positive("batch_max_bytes", self.batch_max_bytes.map(|v| v as u64))?;
        positive("queue", self.queue.map(|v| v as u64))?;
        positive("flush_ms", self.flush_ms)?;
        positive("timeout_ms", self.timeout_ms)?;
        positive("deadline_ms", self.deadline_ms)?;
        let d = delivery::Settings::with_max_bytes(max_bytes);
        let settings = delivery::Settings {
            batch_max_events: self.batch_max_events.unwrap_or(d.batch_max_events),
            batch_max_bytes: self.batch_max_bytes.unwrap_or(d.batch_max_bytes),
            queue: self.queue.unwrap_or(d.queue),
            flush_interval: self
                .flush_ms
                .map_or(d.flush_interval, Duration::from_millis),
            retries: self.retries.unwrap_or(d.retries),
            backoff: self.backoff_ms.map_or(d.backoff, Duration::from_millis),
            max_backoff: self
                .max_backoff_ms
                .map_or(d.max_backoff, Duration::from_millis),
            deadline: self.deadline_ms.map_or(d.deadline, Duration::from_millis),
            spool: self.spool.clone(),
        };
        Ok(Output::delivery(Delivery::start(
            name,
            transport,
            settings,
            Box::new(modelward_http::SystemClock),
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |name: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    fn open_err(o: OutputOptions, e: &dyn Env) -> String {
        match o.open(e) {
            Ok(_) => panic!("opened"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn options_that_do_not_apply_are_refused() {
        let o = OutputOptions {
            index: Some("ai".into()),
            ..OutputOptions::target("csv:/dev/null")
        };
        let e = open_err(o, &env(&[]));
        assert!(e.contains("`index` does not apply to a csv output"), "{e}");
        let o = OutputOptions {
            api_key: Some("env:K".into()),
            ..OutputOptions::target("splunk+http://127.0.0.1:9")
        };
        assert!(open_err(o, &env(&[])).contains("`api_key` does not apply to a splunk output"));
    }

    #[test]
    fn secrets_come_from_the_environment_only() {
        let o = OutputOptions {
            token: Some("abc-literal-token".into()),
            ..OutputOptions::target("splunk+http://127.0.0.1:9")
        };
        let e = open_err(o, &env(&[]));
        assert!(e.contains("must name an environment variable"), "{e}");
        assert!(!e.contains("abc-literal-token"), "{e}");
        let o = OutputOptions {
            token: Some("env:MY_HEC".into()),
            ..OutputOptions::target("splunk+http://127.0.0.1:9")
        };
        let e = open_err(o, &env(&[]));
        assert!(
            e.contains("environment variable MY_HEC, which is not set"),
            "{e}"
        );
        let e = open_err(
            OutputOptions::target("splunk+http://127.0.0.1:9"),
            &env(&[]),
        );
        assert!(e.contains(env::SPLUNK_HEC_TOKEN), "{e}");
        let e = open_err(
            OutputOptions::target(
                "sentinel+https://dce.example/dataCollectionRules/dcr-1/streams/Custom-X_CL",
            ),
            &env(&[
                (env::AZURE_CLIENT_ID, "c"),
                (env::AZURE_CLIENT_SECRET, "s3cret"),
            ]),
        );
        assert!(e.contains("tenant id"), "{e}");
    }

    #[test]
    fn query_and_section_must_agree() {
        let o = OutputOptions {
            index: Some("main".into()),
            ..OutputOptions::target("splunk+http://127.0.0.1:9?index=ai")
        };
        let e = open_err(o, &env(&[(env::SPLUNK_HEC_TOKEN, "t0k3n")]));
        assert!(e.contains("`index` is set both"), "{e}");
        let e = open_err(
            OutputOptions::target("splunk+http://127.0.0.1:9?colour=red"),
            &env(&[(env::SPLUNK_HEC_TOKEN, "t0k3n")]),
        );
        assert!(e.contains("unknown query key `colour`"), "{e}");
    }

    #[test]
    fn sentinel_requests_stay_within_a_megabyte() {
        let o = OutputOptions {
            batch_max_bytes: Some(2_000_000),
            tenant_id: Some("contoso.onmicrosoft.com".into()),
            client_id: Some("c".into()),
            client_secret: Some("env:S".into()),
            ..OutputOptions::target(
                "sentinel+https://dce.example/dataCollectionRules/dcr-1/streams/Custom-X_CL",
            )
        };
        let e = open_err(o, &env(&[("S", "s3cret")]));
        assert!(e.contains("`batch_max_bytes` may be 999998 at most"), "{e}");
    }
}
