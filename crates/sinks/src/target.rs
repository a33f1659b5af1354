//! Output targets as written on the command line or as an `[[outputs]]` section's `target`:
//!
//! | target | where alerts go |
//! |---|---|
//! | `-` | standard output, in the command's `--format` |
//! | `FILE` | a file, in the command's `--format` (NDJSON unless told) |
//! | `ndjson:FILE`, `json:FILE`, `csv:FILE`, `ocsf:FILE` | a file (or `-`) in that format |
//! | `elasticsearch+https://HOST:9200/DATA_STREAM` (`opensearch+…` too) | `_bulk` into the data stream |
//! | `splunk+https://HOST:8088[/PATH][?index=…&sourcetype=…&source=…&host=…&ack=true]` | HTTP Event Collector |
//! | `sentinel+https://DCE/dataCollectionRules/DCR_ID/streams/STREAM` | the Logs Ingestion API |
//! | `webhook+https://HOST[:PORT]/PATH` | each alert POSTed, signed ([`crate::webhook`]) |
//!
//! Secrets never come from a target: a URL with `user:password@` or a query key such as
//! `token` or `password` is refused (they would be in the shell's history and in `ps`).

use std::path::PathBuf;

use crate::error::Error;

/// Where a file target writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Stdout,
    File(PathBuf),
}

impl Destination {
    fn of(text: &str) -> Destination {
        if text == "-" {
            Destination::Stdout
        } else {
            Destination::File(PathBuf::from(text))
        }
    }
}

/// A file format named by a target's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Ndjson,
    Json,
    Csv,
    Ocsf,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `-` or a path: in the format the command line chose.
    Plain(Destination),
    /// `ndjson:`, `json:`, `csv:` or `ocsf:` and a path or `-`.
    Formatted(FileFormat, Destination),
    Elasticsearch {
        /// `scheme://host:port` and any path before the data stream.
        url: String,
        data_stream: String,
        query: Vec<(String, String)>,
    },
    Splunk {
        /// `scheme://host:port`.
        url: String,
        /// The event endpoint (`/services/collector/event` unless the target has a path).
        endpoint: String,
        query: Vec<(String, String)>,
    },
    Sentinel {
        /// `scheme://host:port` of the data collection endpoint.
        endpoint: String,
        dcr: String,
        stream: String,
        query: Vec<(String, String)>,
    },
    /// `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`.
    Kafka { brokers: String, topic: String },
    /// `webhook+https://HOST[:PORT]/PATH[?QUERY]`: the URL after `webhook+`, as written.
    Webhook { url: String },
}

/// Query keys that would carry a secret.
const SECRET_KEYS: [&str; 11] = [
    "token",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "key",
    "secret",
    "client_secret",
    "access_token",
    "sig",
    "auth",
];

impl Target {
    pub fn parse(text: &str) -> Result<Target, Error> {
        for (prefix, format) in [
            ("ndjson:", FileFormat::Ndjson),
            ("json:", FileFormat::Json),
            ("csv:", FileFormat::Csv),
            ("ocsf:", FileFormat::Ocsf),
        ] {
            if let Some(rest) = text.strip_prefix(prefix) {
                if rest.is_empty() {
                    return Err(bad(text, "a file name (or `-`) must follow the prefix"));
                }
                return Ok(Target::Formatted(format, Destination::of(rest)));
            }
        }
        if let Some(rest) = text.strip_prefix("kafka://") {
            let (brokers, topic) = rest.split_once('/').unwrap_or((rest, ""));
            if brokers.is_empty() || topic.is_empty() || rest.contains('?') || rest.contains('@') {
                return Err(bad(
                    text,
                    "write kafka://HOST:PORT[,HOST:PORT...]/TOPIC (other settings in an [[outputs]] section's properties)",
                ));
            }
            if !topic
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
                || topic.len() > 249
            {
                return Err(bad(
                    text,
                    "a topic name is 1 to 249 of the characters a-z A-Z 0-9 . _ -",
                ));
            }
            return Ok(Target::Kafka {
                brokers: brokers.to_string(),
                topic: topic.to_string(),
            });
        }
        if let Some((kind, url)) = split_kind(text) {
            let parts = UrlParts::parse(text, url)?;
            return match kind {
                "elasticsearch" | "opensearch" => {
                    let path = parts.path.trim_end_matches('/');
                    let (prefix, stream) = path.rsplit_once('/').unwrap_or(("", ""));
                    if stream.is_empty() {
                        return Err(bad(
                            text,
                            "name the data stream as the URL's path: elasticsearch+https://HOST:9200/logs-modelward-default",
                        ));
                    }
                    check_stream_name(text, stream)?;
                    Ok(Target::Elasticsearch {
                        url: format!("{}{prefix}", parts.base),
                        data_stream: stream.to_string(),
                        query: parts.query,
                    })
                }
                "splunk" => {
                    let endpoint = match parts.path.trim_end_matches('/') {
                        "" => crate::splunk::DEFAULT_ENDPOINT.to_string(),
                        p => p.to_string(),
                    };
                    Ok(Target::Splunk {
                        url: parts.base,
                        endpoint,
                        query: parts.query,
                    })
                }
                "sentinel" => {
                    let segments: Vec<&str> = parts.path.split('/').collect();
                    let at = segments
                        .iter()
                        .position(|s| s.eq_ignore_ascii_case("dataCollectionRules"));
                    let shape = at.and_then(|i| {
                        let dcr = segments.get(i + 1)?;
                        let streams = segments.get(i + 2)?;
                        let stream = segments.get(i + 3)?;
                        (streams.eq_ignore_ascii_case("streams")
                            && !dcr.is_empty()
                            && !stream.is_empty()
                            && segments.len() == i + 4)
                            .then(|| (segments[..i].join("/"), dcr.to_string(), stream.to_string()))
                    });
                    let Some((prefix, dcr, stream)) = shape else {
                        return Err(bad(
                            text,
                            "expected sentinel+https://DCE/dataCollectionRules/DCR_IMMUTABLE_ID/streams/STREAM",
                        ));
                    };
                    let query: Vec<(String, String)> = parts
                        .query
                        .into_iter()
                        .filter(|(k, v)| !(k == "api-version" && v == crate::sentinel::API_VERSION))
                        .collect();
                    Ok(Target::Sentinel {
                        endpoint: format!("{}{prefix}", parts.base),
                        dcr,
                        stream,
                        query,
                    })
                }
                "webhook" => {
                    let url = url.split('#').next().unwrap_or(url);
                    Ok(Target::Webhook {
                        url: url.to_string(),
                    })
                }
                _ => unreachable!("split_kind returns known kinds"),
            };
        }
        if text.is_empty() {
            return Err(bad(text, "an empty target"));
        }
        Ok(Target::Plain(Destination::of(text)))
    }

    /// The kind, for messages and for which options apply.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Plain(_) => "file",
            Target::Formatted(FileFormat::Ndjson, _) => "ndjson",
            Target::Formatted(FileFormat::Json, _) => "json",
            Target::Formatted(FileFormat::Csv, _) => "csv",
            Target::Formatted(FileFormat::Ocsf, _) => "ocsf",
            Target::Elasticsearch { .. } => "elasticsearch",
            Target::Splunk { .. } => "splunk",
            Target::Sentinel { .. } => "sentinel",
            Target::Kafka { .. } => "kafka",
            Target::Webhook { .. } => "webhook",
        }
    }

    /// Whether alerts go over HTTP (and the delivery options apply).
    pub fn is_http(&self) -> bool {
        matches!(
            self,
            Target::Elasticsearch { .. } | Target::Splunk { .. } | Target::Sentinel { .. }
        )
    }

    pub fn query(&self) -> &[(String, String)] {
        match self {
            Target::Elasticsearch { query, .. }
            | Target::Splunk { query, .. }
            | Target::Sentinel { query, .. } => query,
            _ => &[],
        }
    }
}

fn bad(target: &str, why: &str) -> Error {
    Error::BadTarget {
        target: shown(target),
        why: why.to_string(),
    }
}

/// A target as messages show it: a URL without its query or credentials.
pub fn shown(target: &str) -> String {
    match split_kind(target) {
        // A webhook's path may be its credential (chat webhooks): only scheme and host.
        Some(("webhook", url)) => format!("webhook+{}", modelward_http::redact_url(url)),
        Some((kind, url)) => {
            let no_query = url.split(['?', '#']).next().unwrap_or("");
            match no_query.split_once("://") {
                Some((scheme, rest)) => {
                    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
                    format!("{kind}+{scheme}://{rest}")
                }
                None => format!("{kind}+{no_query}"),
            }
        }
        None => target.to_string(),
    }
}

fn split_kind(text: &str) -> Option<(&'static str, &str)> {
    for kind in [
        "elasticsearch",
        "opensearch",
        "splunk",
        "sentinel",
        "webhook",
    ] {
        if let Some(rest) = text.strip_prefix(kind).and_then(|r| r.strip_prefix('+')) {
            return Some((kind, rest));
        }
    }
    None
}

struct UrlParts {
    /// `scheme://host[:port]`.
    base: String,
    path: String,
    query: Vec<(String, String)>,
}

impl UrlParts {
    fn parse(text: &str, url: &str) -> Result<UrlParts, Error> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad(text, "expected http:// or https:// after the kind"))?;
        if scheme != "http" && scheme != "https" {
            return Err(bad(text, "the scheme must be http or https"));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.find('/') {
            Some(i) => (&before_query[..i], &before_query[i..]),
            None => (before_query, ""),
        };
        if authority.contains('@') {
            return Err(Error::SecretInTarget {
                output: shown(text),
                what: "credentials in the URL".into(),
                key: "password",
                default_env: "the variable the output's documentation names".into(),
            });
        }
        if authority.is_empty() {
            return Err(bad(text, "the URL has no host"));
        }
        let base = format!("{scheme}://{authority}");
        if !modelward_http::is_http_url(&format!("{base}/")) {
            return Err(bad(text, "not a valid URL"));
        }
        let mut pairs = Vec::new();
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let k = crate::url::decode(k);
            if SECRET_KEYS.contains(&k.to_ascii_lowercase().as_str()) {
                return Err(Error::SecretInTarget {
                    output: shown(text),
                    what: format!("query key `{k}`"),
                    key: "token",
                    default_env: "the variable the output's documentation names".into(),
                });
            }
            pairs.push((k, crate::url::decode(v)));
        }
        Ok(UrlParts {
            base,
            path: path.to_string(),
            query: pairs,
        })
    }
}

/// Elasticsearch's rules for a data stream's name: lower case, no `\ / * ? " < > | , # :`
/// or space, not starting with `-`, `_` or `+`, not `.` or `..`, at most 255 bytes.
fn check_stream_name(text: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && !name.starts_with(['-', '_', '+'])
        && !name.chars().any(|c| {
            c.is_ascii_uppercase()
                || matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ',' | '#' | ':' | ' '
                )
        });
    if ok {
        Ok(())
    } else {
        Err(bad(text, &format!("`{name}` is not a valid data stream name (lower case, none of \\/*?\"<>|,#: or spaces)")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_prefixes() {
        assert_eq!(
            Target::parse("-").unwrap(),
            Target::Plain(Destination::Stdout)
        );
        assert_eq!(
            Target::parse("alerts.ndjson").unwrap(),
            Target::Plain(Destination::File("alerts.ndjson".into()))
        );
        assert_eq!(
            Target::parse("csv:out/a.csv").unwrap(),
            Target::Formatted(FileFormat::Csv, Destination::File("out/a.csv".into()))
        );
        assert_eq!(
            Target::parse("ocsf:-").unwrap(),
            Target::Formatted(FileFormat::Ocsf, Destination::Stdout)
        );
        assert!(Target::parse("json:").is_err());
    }

    #[test]
    fn elasticsearch() {
        let t =
            Target::parse("elasticsearch+https://es.example:9200/logs-modelward-default").unwrap();
        assert_eq!(
            t,
            Target::Elasticsearch {
                url: "https://es.example:9200".into(),
                data_stream: "logs-modelward-default".into(),
                query: vec![]
            }
        );
        let t =
            Target::parse("opensearch+http://127.0.0.1:9200/proxy/logs-modelward-prod?pipeline=p1")
                .unwrap();
        assert_eq!(
            t,
            Target::Elasticsearch {
                url: "http://127.0.0.1:9200/proxy".into(),
                data_stream: "logs-modelward-prod".into(),
                query: vec![("pipeline".into(), "p1".into())]
            }
        );
        assert!(Target::parse("elasticsearch+https://es.example:9200").is_err());
        assert!(Target::parse("elasticsearch+https://es.example:9200/Logs").is_err());
        assert!(Target::parse("elasticsearch+ftp://es.example/x").is_err());
    }

    #[test]
    fn splunk_and_sentinel() {
        assert_eq!(
            Target::parse("splunk+https://splunk.example:8088?index=ai&ack=true").unwrap(),
            Target::Splunk {
                url: "https://splunk.example:8088".into(),
                endpoint: "/services/collector/event".into(),
                query: vec![("index".into(), "ai".into()), ("ack".into(), "true".into())]
            }
        );
        assert_eq!(
            Target::parse("sentinel+https://dce-1.westeurope-1.ingest.monitor.azure.com/dataCollectionRules/dcr-0123/streams/Custom-ModelwardAlerts_CL").unwrap(),
            Target::Sentinel {
                endpoint: "https://dce-1.westeurope-1.ingest.monitor.azure.com".into(),
                dcr: "dcr-0123".into(),
                stream: "Custom-ModelwardAlerts_CL".into(),
                query: vec![]
            }
        );
        assert!(Target::parse("sentinel+https://dce.example/dataCollectionRules/dcr-1").is_err());
    }

    #[test]
    fn kafka() {
        assert_eq!(
            Target::parse("kafka://b1:9092,b2:9092/mw-alerts").unwrap(),
            Target::Kafka {
                brokers: "b1:9092,b2:9092".into(),
                topic: "mw-alerts".into()
            }
        );
        for bad in [
            "kafka://b1:9092",
            "kafka:///t",
            "kafka://b1:9092/t?acks=1",
            "kafka://user:pw@b1:9092/t",
            "kafka://b1:9092/bad topic",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_refused_and_not_shown() {
        let e = Target::parse("splunk+https://splunk.example:8088?token=abc123")
            .unwrap_err()
            .to_string();
        assert!(e.contains("query key `token`"), "{e}");
        assert!(!e.contains("abc123"), "{e}");
        let e = Target::parse("elasticsearch+https://elastic:hunter2@es.example:9200/logs-a-b")
            .unwrap_err()
            .to_string();
        assert!(e.contains("credentials in the URL"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
        assert_eq!(
            shown("elasticsearch+https://elastic:hunter2@es.example:9200/logs-a-b?x=1"),
            "elasticsearch+https://es.example:9200/logs-a-b"
        );
    }
}
