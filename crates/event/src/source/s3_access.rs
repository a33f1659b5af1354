//! Normalizer for Amazon S3 server access logs: the space-delimited text format S3 delivers
//! to a logging bucket.
//!
//! A log line is not JSON. The input reader hands a record that is not JSON but looks like
//! an access log line (`OWNER BUCKET [time] ...`) to [`parse_line`], which splits it into
//! the documented fields under `s3_access` (a bad line is a [`LineError`] with its column,
//! reported as `file:line:column` and skipped); [`normalize`] then maps that object. The same
//! object can come as JSON (`{"s3_access": {...}}`).
//!
//! # Fields of a line (in order; later fields are optional, `-` is empty)
//!
//! bucket owner, bucket, `[time]`, remote IP, requester, request ID, operation, key,
//! `"request-URI"`, HTTP status, error code, bytes sent, object size, total time,
//! turn-around time, `"referer"`, `"user agent"`, version ID, host ID, signature version,
//! cipher suite, authentication type, host header, TLS version, access point ARN,
//! ACL required, source region. Fields AWS adds at the end later are ignored.
//!
//! # Field mapping
//!
//! | Raw field | Normalized field | Notes |
//! |---|---|---|
//! | time | `@timestamp` | `06/Feb/2019:00:00:38 +0000` → `2019-02-06T00:00:38.000Z`. |
//! | every field | `aws.s3access.<name>` | Elastic's `aws.s3access` names (`bucket_owner`, `remote_ip`, `request_uri`, `bytes_sent`, ...); numbers as numbers; `-` left out. |
//! | bucket | `storage.bucket` | |
//! | key | `storage.object.key`, `file.path` (`s3://bucket/key`), `file.name`, `file.extension`, `file.directory` | URL-decoded. |
//! | operation | `event.action`, `storage.operation` | `REST.GET.OBJECT` → `read`, `REST.PUT.OBJECT`/`REST.POST.UPLOAD*`/`REST.PUT.PART` → `write`, `REST.COPY.*` → `copy`, `REST.GET.BUCKET` → `list`, `*.DELETE.*` → `delete`, `REST.PUT`/`DELETE` of `ACL`, `BUCKETPOLICY`, `PUBLIC_ACCESS_BLOCK` → `share`, other `REST.GET.*` → `config`, else `other`. |
//! | remote IP | `source.ip`, `client.ip` | |
//! | requester | `user.id`; `user.name` (last part of an IAM ARN) | `-` (unauthenticated) gives `storage.auth.method: anonymous`. |
//! | request ID | `event.id` | |
//! | request-URI | `url.original`, `url.path`, `url.query`, `http.request.method`, `http.version` | `GET /bucket/key?x HTTP/1.1`. |
//! | HTTP status | `http.response.status_code`, `event.outcome` | `< 400` success. |
//! | error code | `error.code` | |
//! | bytes sent | `http.response.bytes`, `storage.bytes` | |
//! | object size | `storage.object.size` | |
//! | total time | `event.duration` | Milliseconds → nanoseconds. |
//! | referer | `http.request.referrer` | |
//! | user agent | `user_agent.original` | |
//! | version ID | `storage.object.version_id` | |
//! | cipher suite, TLS version | `tls.cipher`, `tls.version` (`TLSv1.2` → `1.2`), `tls.version_protocol` | |
//! | authentication type | `storage.auth.method` | `AuthHeader` → `key`, `QueryString` → `presigned`. |
//! | access point ARN | `cloud.account.id` | Its account. |
//! | — | `cloud.provider: aws`, `cloud.service.name: s3`, `data_stream.dataset: aws.s3access`, `event.module: aws` | |

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::paths::put;
use super::storage::{self, AuthMethod, Operation, Storage};

/// `data_stream.dataset` of the normalized events (Elastic's name).
pub const DATASET: &str = "aws.s3access";

/// The fields of a line, in order.
pub const FIELDS: [&str; 27] = [
    "bucket_owner",
    "bucket",
    "time",
    "remote_ip",
    "requester",
    "request_id",
    "operation",
    "key",
    "request_uri",
    "http_status",
    "error_code",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
    "referrer",
    "user_agent",
    "version_id",
    "host_id",
    "signature_version",
    "cipher_suite",
    "authentication_type",
    "host_header",
    "tls_version",
    "access_point_arn",
    "acl_required",
    "source_region",
];

/// Fields a line must have: through the HTTP status.
const MIN_FIELDS: usize = 10;

const NUMERIC: [&str; 5] = [
    "http_status",
    "bytes_sent",
    "object_size",
    "total_time",
    "turn_around_time",
];

const TIME_FORMAT: &str = "%d/%b/%Y:%H:%M:%S %z";

/// A line that is not a valid access log record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct LineError {
    /// 1-based byte column.
    pub column: u64,
    pub message: String,
}

/// Why a parsed record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("s3_access: expected an object under `s3_access`")]
    NotAnAccessLog,
    #[error("s3_access: field `{field}` must be {expected}, found {found:?}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
}

/// Whether a raw (non-JSON) record starts like an access log line: two plain tokens and a
/// bracketed time.
pub fn looks_like_line(bytes: &[u8]) -> bool {
    let Some(first) = memchr::memchr(b' ', bytes) else {
        return false;
    };
    if first == 0 || matches!(bytes[0], b'{' | b'[' | b'"') {
        return false;
    }
    let rest = &bytes[first + 1..];
    let Some(second) = memchr::memchr(b' ', rest) else {
        return false;
    };
    second > 0 && rest.get(second + 1) == Some(&b'[')
}

/// Splits one line into `{"s3_access": {field: text}}`; `-` fields are left out.
pub fn parse_line(bytes: &[u8]) -> Result<Map<String, Value>, LineError> {
    let text = String::from_utf8_lossy(bytes);
    let line = text.trim_end_matches(['\r', '\n']);
    let tokens = tokenize(line)?;
    if tokens.len() < MIN_FIELDS {
        return Err(LineError {
            column: line.len() as u64 + 1,
            message: format!(
                "expected at least {MIN_FIELDS} space-separated fields (through the HTTP status), found {}",
                tokens.len()
            ),
        });
    }
    let mut fields = Map::new();
    for (name, (column, value)) in FIELDS.iter().zip(tokens) {
        if value == "-" || value.is_empty() {
            continue;
        }
        let bad = |expected: &str| LineError {
            column: column as u64,
            message: format!("`{name}` must be {expected}, found {value:?}"),
        };
        if NUMERIC.contains(name) && !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("a number or `-`"));
        }
        if *name == "time" && DateTime::parse_from_str(value, TIME_FORMAT).is_err() {
            return Err(bad("a time like 06/Feb/2019:00:00:38 +0000"));
        }
        fields.insert((*name).to_string(), Value::String(value.to_string()));
    }
    let mut out = Map::new();
    out.insert("s3_access".into(), Value::Object(fields));
    Ok(out)
}

/// (1-based column, text) of each field: plain tokens end at a space, `"..."` at a quote
/// followed by a space or the end, `[...]` at `]`.
fn tokenize(line: &str) -> Result<Vec<(usize, &str)>, LineError> {
    let bytes = line.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        let (value, next) = match bytes[i] {
            b'"' => {
                let mut j = i + 1;
                loop {
                    match memchr::memchr(b'"', &bytes[j..]) {
                        Some(k) if matches!(bytes.get(j + k + 1), None | Some(b' ')) => {
                            break (&line[i + 1..j + k], j + k + 1);
                        }
                        Some(k) => j += k + 1,
                        None => {
                            return Err(LineError {
                                column: start as u64 + 1,
                                message: "unterminated quoted field".into(),
                            })
                        }
                    }
                }
            }
            b'[' => match memchr::memchr(b']', &bytes[i..]) {
                Some(k) => (&line[i + 1..i + k], i + k + 1),
                None => {
                    return Err(LineError {
                        column: start as u64 + 1,
                        message: "unterminated bracketed time".into(),
                    })
                }
            },
            _ => {
                let end = memchr::memchr(b' ', &bytes[i..]).map_or(bytes.len(), |k| i + k);
                (&line[i..end], end)
            }
        };
        if next < bytes.len() && bytes[next] != b' ' {
            return Err(LineError {
                column: next as u64 + 1,
                message: "expected a space between fields".into(),
            });
        }
        tokens.push((start + 1, value));
        i = next;
        while i < bytes.len() && bytes[i] == b' ' {
            i += 1;
        }
    }
    Ok(tokens)
}

/// Whether an object is a parsed access log record (`s3_access` with an operation, a bucket
/// or a time).
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    obj.get("s3_access")
        .and_then(Value::as_object)
        .is_some_and(|f| {
            ["operation", "bucket", "time"]
                .iter()
                .any(|k| f.contains_key(*k))
        })
}

/// The storage class of an access log operation.
pub fn operation_class(operation: &str) -> Operation {
    let op = operation.to_ascii_uppercase();
    let mut parts = op.splitn(3, '.');
    let (_api, verb, resource) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let shared = ["ACL", "BUCKETPOLICY", "PUBLIC_ACCESS_BLOCK", "OBJECT_ACL"];
    match (verb, resource) {
        ("COPY", _) => Operation::Copy,
        ("GET", "OBJECT") => Operation::Read,
        ("GET", "BUCKET" | "BUCKETVERSIONS" | "UPLOADS") => Operation::List,
        ("PUT" | "DELETE", r) if shared.contains(&r) => Operation::Share,
        ("PUT", "OBJECT" | "PART") | ("POST", "UPLOAD" | "UPLOADS" | "OBJECT") => Operation::Write,
        ("DELETE", "OBJECT" | "UPLOAD") | ("POST", "MULTI_OBJECT_DELETE") => Operation::Delete,
        ("GET", _) => Operation::Config,
        _ => Operation::Other,
    }
}

/// Maps one parsed record (see the module documentation).
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    let Some(Value::Object(f)) = raw.get("s3_access") else {
        return Err(NormalizeError::NotAnAccessLog);
    };
    let text = |name: &str| {
        f.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && *s != "-")
    };
    let number = |name: &'static str| -> Result<Option<u64>, NormalizeError> {
        match f.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => Ok(n.as_u64()),
            Some(Value::String(s)) if s == "-" || s.is_empty() => Ok(None),
            Some(Value::String(s)) => s.parse().map(Some).map_err(|_| NormalizeError::Invalid {
                field: name,
                expected: "a number",
                found: s.clone(),
            }),
            Some(other) => Err(NormalizeError::Invalid {
                field: name,
                expected: "a number",
                found: other.to_string(),
            }),
        }
    };
    let mut out = Map::new();
    for name in FIELDS {
        let value = if NUMERIC.contains(&name) {
            number(name)?.map(Value::from)
        } else if name == "request_uri" {
            text(name).map(|u| storage::redact_signatures(u).into())
        } else {
            text(name).map(Value::from)
        };
        put(&mut out, &format!("aws.s3access.{name}"), value);
    }
    if let Some(time) = text("time") {
        let parsed =
            DateTime::parse_from_str(time, TIME_FORMAT).map_err(|_| NormalizeError::Invalid {
                field: "time",
                expected: "a time like 06/Feb/2019:00:00:38 +0000",
                found: time.to_string(),
            })?;
        let utc = parsed.with_timezone(&Utc);
        put(
            &mut out,
            "@timestamp",
            Some(utc.to_rfc3339_opts(SecondsFormat::Millis, true).into()),
        );
    }
    let operation = text("operation");
    put(&mut out, "event.action", operation.map(Value::from));
    put(&mut out, "event.id", text("request_id").map(Value::from));
    let status = number("http_status")?;
    put(
        &mut out,
        "http.response.status_code",
        status.map(Value::from),
    );
    put(
        &mut out,
        "event.outcome",
        storage::outcome_of_status(status),
    );
    put(&mut out, "error.code", text("error_code").map(Value::from));
    let bytes_sent = number("bytes_sent")?;
    put(&mut out, "http.response.bytes", bytes_sent.map(Value::from));
    put(
        &mut out,
        "event.duration",
        number("total_time")?.map(|ms| Value::from(ms.saturating_mul(1_000_000))),
    );
    if let Some(ip) = text("remote_ip").and_then(storage::ip_of) {
        put(&mut out, "source.ip", Some(ip.clone().into()));
        put(&mut out, "client.ip", Some(ip.into()));
    }
    let requester = text("requester");
    put(&mut out, "user.id", requester.map(Value::from));
    put(
        &mut out,
        "user.name",
        requester.and_then(storage::arn_name).map(Value::from),
    );
    put(
        &mut out,
        "user_agent.original",
        text("user_agent").map(Value::from),
    );
    put(
        &mut out,
        "http.request.referrer",
        text("referrer").map(Value::from),
    );
    if let Some(uri) = text("request_uri") {
        request_uri_fields(&mut out, &storage::redact_signatures(uri));
    }
    put(
        &mut out,
        "tls.cipher",
        text("cipher_suite").map(Value::from),
    );
    if let Some(version) = text("tls_version") {
        let lower = version.to_ascii_lowercase();
        if let Some(number) = lower.strip_prefix("tlsv") {
            put(&mut out, "tls.version", Some(number.into()));
            put(&mut out, "tls.version_protocol", Some("tls".into()));
        }
    }
    put(&mut out, "cloud.provider", Some("aws".into()));
    put(&mut out, "cloud.service.name", Some("s3".into()));
    let account = text("access_point_arn").and_then(storage::arn_account);
    put(
        &mut out,
        "cloud.account.id",
        account.clone().map(Value::from),
    );
    let auth = match (text("authentication_type"), requester) {
        (_, None) => Some(AuthMethod::Anonymous),
        (Some("QueryString"), _) => Some(AuthMethod::Presigned),
        (Some("AuthHeader"), _) => Some(AuthMethod::Key),
        _ => None,
    };
    let store = Storage {
        path_prefix: "s3://".into(),
        bucket: text("bucket").map(str::to_string),
        account,
        key: text("key").map(storage::percent_decode),
        size: number("object_size")?,
        version_id: text("version_id").map(str::to_string),
        operation: operation.map(operation_class),
        bytes_out: bytes_sent,
        auth,
        caller_account: requester.and_then(storage::arn_account),
        ..Storage::default()
    };
    store.write(&mut out);
    storage::data_stream(&mut out, DATASET, "aws");
    Ok(out)
}

/// `GET /bucket/key?x HTTP/1.1` into method, URL and HTTP version.
fn request_uri_fields(out: &mut Map<String, Value>, uri: &str) {
    let mut parts = uri.split(' ');
    let (method, target, version) = (parts.next(), parts.next(), parts.next());
    let Some(target) = target else {
        put(out, "url.original", Some(uri.into()));
        return;
    };
    if let Some(method) = method.filter(|m| m.bytes().all(|b| b.is_ascii_uppercase())) {
        put(out, "http.request.method", Some(method.into()));
    }
    put(out, "url.original", Some(target.into()));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    put(out, "url.path", Some(path.into()));
    put(
        out,
        "url.query",
        query.filter(|q| !q.is_empty()).map(Value::from),
    );
    if let Some(v) = version.and_then(|v| v.strip_prefix("HTTP/")) {
        put(out, "http.version", Some(v.into()));
    }
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::S3Access,
    name: "s3_access",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::storage::SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    super::partial_or_invalid(
        "s3_access",
        normalize(raw).map_err(|e| (e.to_string(), None)),
    )
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    // Signatures in the URL are masked.
    Synthesized::new("aws.s3access.request_uri", Domain::Any),
];

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be ml-models [06/Feb/2019:00:00:38 +0000] 192.0.2.3 arn:aws:iam::123456789012:user/alice 3E57427F3EXAMPLE REST.GET.OBJECT llama%203/model.safetensors "GET /ml-models/llama%203/model.safetensors HTTP/1.1" 200 - 1048576 1048576 70 10 "-" "aws-cli/2.15.0 Python/3.11" - s9lzHYrFp76ZVxRcpX9= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader ml-models.s3.us-west-1.amazonaws.com TLSv1.2 - -"#;

    #[test]
    fn a_line_parses_and_normalizes() {
        assert!(looks_like_line(LINE.as_bytes()));
        let raw = parse_line(LINE.as_bytes()).unwrap();
        assert!(looks_like(&raw));
        let doc = Value::Object(normalize(raw).unwrap());
        assert_eq!(doc["@timestamp"], "2019-02-06T00:00:38.000Z");
        assert_eq!(doc["storage"]["operation"], "read");
        assert_eq!(doc["storage"]["object"]["key"], "llama 3/model.safetensors");
        assert_eq!(doc["file"]["extension"], "safetensors");
        assert_eq!(doc["user"]["name"], "alice");
        assert_eq!(doc["http"]["request"]["method"], "GET");
        assert_eq!(doc["event"]["duration"], 70_000_000);
    }

    #[test]
    fn bad_lines_have_columns() {
        let e = parse_line(b"owner bucket [06/Feb/2019:00:00:38 +0000] 1.2.3.4").unwrap_err();
        assert!(e.message.contains("at least 10"), "{e}");
        let e = parse_line(b"o b [06/Feb/2019:00:00:38 +0000 x").unwrap_err();
        assert_eq!(e.column, 5);
        let e = parse_line(b"o b [x] 1.2.3.4 - id REST.GET.OBJECT k \"GET / HTTP/1.1\" 200")
            .unwrap_err();
        assert_eq!(e.column, 5, "{e}");
        let e = parse_line(
            b"o b [06/Feb/2019:00:00:38 +0000] 1.2.3.4 - id REST.GET.OBJECT k \"GET / HTTP/1.1\" OK",
        )
        .unwrap_err();
        assert!(e.message.contains("http_status"), "{e}");
        let e = parse_line(b"o b [06/Feb/2019:00:00:38 +0000] 1 - i op k \"GET / HTTP/1.1")
            .unwrap_err();
        assert!(e.message.contains("unterminated"), "{e}");
    }

    #[test]
    fn not_a_line() {
        assert!(!looks_like_line(b"{\"a\":1}"));
        assert!(!looks_like_line(b"hello world"));
        assert!(!looks_like_line(b"a b c"));
    }

    #[test]
    fn quoted_fields_may_hold_quotes_and_spaces() {
        let line = r#"o b [06/Feb/2019:00:00:38 +0000] 1.2.3.4 - id REST.GET.OBJECT k "GET /b/k HTTP/1.1" 200 - - - - - "-" "curl "quoted"ua""#;
        let raw = parse_line(line.as_bytes()).unwrap();
        assert_eq!(raw["s3_access"]["user_agent"], "curl \"quoted\"ua");
    }

    #[test]
    fn operation_classes() {
        for (op, class) in [
            ("REST.GET.OBJECT", "read"),
            ("REST.PUT.OBJECT", "write"),
            ("REST.POST.UPLOADS", "write"),
            ("REST.COPY.OBJECT", "copy"),
            ("REST.COPY.OBJECT_GET", "copy"),
            ("REST.GET.BUCKET", "list"),
            ("REST.DELETE.OBJECT", "delete"),
            ("BATCH.DELETE.OBJECT", "delete"),
            ("REST.PUT.BUCKETPOLICY", "share"),
            ("REST.GET.BUCKETPOLICY", "config"),
            ("REST.HEAD.OBJECT", "other"),
        ] {
            assert_eq!(operation_class(op).as_str(), class, "{op}");
        }
    }
}
