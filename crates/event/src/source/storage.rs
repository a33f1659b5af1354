//! The `storage.*` group the object-storage normalizers share (S3 server access logs,
//! CloudTrail, Azure StorageBlobLogs, GCS audit logs), and the `file.*` fields derived from
//! an object key, so that one rule serves every store.
//!
//! | Field | Meaning |
//! |---|---|
//! | `storage.bucket` | S3 / GCS bucket, Azure container. |
//! | `storage.account` | Azure storage account; the AWS account that owns the bucket when known. |
//! | `storage.object.key` | Object key inside the bucket (URL-decoded), Azure blob name. |
//! | `storage.object.size` | Object size in bytes, where logged. |
//! | `storage.object.version_id` | Object version, where logged. |
//! | `storage.operation` | [`Operation`] class: `read`, `write`, `list`, `delete`, `copy`, `share`, `keys`, `config`, `other`. |
//! | `storage.bytes` | Bytes the request moved: sent to the caller for reads and lists, received for writes, the larger of the two for copies. |
//! | `storage.auth.method` | [`AuthMethod`]: `key`, `sas`, `presigned`, `oauth`, `anonymous`. |
//! | `storage.copy.source.bucket`, `.key`, `.account` | The source of a copy. |
//! | `storage.copy.target.account` | The account that owns the copy's destination. |
//! | `storage.cross_account` | `true` when a copy's source and destination (or the caller) belong to different accounts. |

use super::contract::{Domain, Synthesized};
use serde_json::{Map, Value};

use super::paths::put;

/// What kind of thing a storage request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Object contents sent to the caller (GetObject, GetBlob, objects.get).
    Read,
    /// Object contents written (PutObject, PutBlob, uploads).
    Write,
    /// Listing a bucket or container.
    List,
    Delete,
    /// Server-side copy.
    Copy,
    /// Access handed to others: SAS / signed-URL issuance, user-delegation keys, ACLs or
    /// policies written.
    Share,
    /// Access keys listed, created or regenerated (storage account keys, IAM access keys,
    /// HMAC keys, service-account keys).
    Keys,
    /// Configuration or policy read.
    Config,
    Other,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Read => "read",
            Operation::Write => "write",
            Operation::List => "list",
            Operation::Delete => "delete",
            Operation::Copy => "copy",
            Operation::Share => "share",
            Operation::Keys => "keys",
            Operation::Config => "config",
            Operation::Other => "other",
        }
    }

    /// Whether bytes flow to the caller (reads, lists, and everything not a write).
    fn outbound(self) -> bool {
        !matches!(self, Operation::Write | Operation::Copy)
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A long-lived key: AWS access key signature in the header, Azure account key.
    Key,
    /// Azure shared access signature (service, account or user-delegation SAS).
    Sas,
    /// A presigned / signed URL (S3 query-string authentication, GCS signed URL).
    Presigned,
    /// An OAuth / Entra ID / Google identity token.
    OAuth,
    Anonymous,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Key => "key",
            AuthMethod::Sas => "sas",
            AuthMethod::Presigned => "presigned",
            AuthMethod::OAuth => "oauth",
            AuthMethod::Anonymous => "anonymous",
        }
    }
}

/// Fields the storage normalizers write themselves (see [`super::contract`]): the classes
/// and methods they name, and the object's path, name and URL, which they decode.
pub const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new(
        "storage.operation",
        Domain::Consts(&[
            "read", "write", "list", "delete", "copy", "share", "keys", "config", "other",
        ]),
    ),
    Synthesized::new(
        "storage.auth.method",
        Domain::Consts(&["key", "sas", "presigned", "oauth", "anonymous"]),
    ),
    Synthesized::new("storage.cross_account", super::contract::BOOL),
    Synthesized::new("storage.object", Domain::Any),
    Synthesized::new("storage.bytes", super::contract::NUMBER),
    Synthesized::new("file", Domain::Any),
    Synthesized::new("url", Domain::Any),
];

/// The storage facts of one request, written by [`Storage::write`].
#[derive(Debug, Default)]
pub struct Storage {
    /// URL scheme and host part of `file.path`: `s3://`, `gs://`,
    /// `https://acct.blob.core.windows.net/`.
    pub path_prefix: String,
    pub bucket: Option<String>,
    pub account: Option<String>,
    pub key: Option<String>,
    pub size: Option<u64>,
    pub version_id: Option<String>,
    pub operation: Option<Operation>,
    pub bytes_out: Option<u64>,
    pub bytes_in: Option<u64>,
    pub auth: Option<AuthMethod>,
    pub copy_source_bucket: Option<String>,
    pub copy_source_key: Option<String>,
    pub copy_source_account: Option<String>,
    pub copy_target_account: Option<String>,
    /// The caller's own account, to compare with a copy's accounts.
    pub caller_account: Option<String>,
}

fn s(v: &Option<String>) -> Option<Value> {
    v.as_ref()
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.clone()))
}

impl Storage {
    /// Writes `storage.*` and the `file.*` of the object into `out`.
    pub fn write(&self, out: &mut Map<String, Value>) {
        put(out, "storage.bucket", s(&self.bucket));
        put(out, "storage.account", s(&self.account));
        put(out, "storage.object.key", s(&self.key));
        put(out, "storage.object.size", self.size.map(Value::from));
        put(out, "storage.object.version_id", s(&self.version_id));
        if let Some(op) = self.operation {
            put(out, "storage.operation", Some(op.as_str().into()));
            let bytes = if op == Operation::Copy {
                self.bytes_out.max(self.bytes_in)
            } else if op.outbound() {
                self.bytes_out.or(self.bytes_in)
            } else {
                self.bytes_in.or(self.bytes_out)
            };
            put(out, "storage.bytes", bytes.map(Value::from));
        }
        put(
            out,
            "storage.auth.method",
            self.auth.map(|a| a.as_str().into()),
        );
        put(
            out,
            "storage.copy.source.bucket",
            s(&self.copy_source_bucket),
        );
        put(out, "storage.copy.source.key", s(&self.copy_source_key));
        put(
            out,
            "storage.copy.source.account",
            s(&self.copy_source_account),
        );
        put(
            out,
            "storage.copy.target.account",
            s(&self.copy_target_account),
        );
        if let Some(cross) = self.cross_account() {
            put(out, "storage.cross_account", Some(Value::Bool(cross)));
        }
        if let Some(key) = self.key.as_deref().filter(|k| !k.is_empty()) {
            let bucket = self.bucket.as_deref().unwrap_or_default();
            let path = if bucket.is_empty() {
                format!("{}{key}", self.path_prefix)
            } else {
                format!("{}{bucket}/{key}", self.path_prefix)
            };
            put(out, "file.path", Some(path.into()));
            file_name_fields(out, key);
        }
    }

    /// Whether a copy crosses accounts: some two of the source account, the target account
    /// and the caller's account are known and differ. None when this is not a copy or no
    /// two accounts are known.
    fn cross_account(&self) -> Option<bool> {
        if self.operation != Some(Operation::Copy) {
            return None;
        }
        let known: Vec<&str> = [
            &self.copy_source_account,
            &self.copy_target_account,
            &self.caller_account,
        ]
        .into_iter()
        .filter_map(|a| a.as_deref().filter(|a| !a.is_empty()))
        .collect();
        if known.len() < 2 {
            return None;
        }
        Some(known.iter().any(|a| *a != known[0]))
    }
}

/// `file.name`, `file.extension` (lowercased, without the dot) and `file.directory` of an
/// object key. A key ending in `/` (a folder marker) has no name.
pub fn file_name_fields(out: &mut Map<String, Value>, key: &str) {
    let (dir, name) = match key.rsplit_once('/') {
        Some((dir, name)) => (Some(dir), name),
        None => (None, key),
    };
    if let Some(dir) = dir.filter(|d| !d.is_empty()) {
        put(out, "file.directory", Some(dir.into()));
    }
    if name.is_empty() {
        return;
    }
    put(out, "file.name", Some(name.into()));
    if let Some((stem, ext)) = name.rsplit_once('.') {
        if !stem.is_empty() && !ext.is_empty() && ext.len() <= 16 {
            put(out, "file.extension", Some(ext.to_ascii_lowercase().into()));
        }
    }
}

/// Percent-decodes `text` (`%2F` -> `/`); malformed escapes stay as they are, invalid
/// UTF-8 is replaced.
pub fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_string();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters that carry a signature (SAS `sig`, S3 `X-Amz-Signature` and
/// `Signature`, GCS `X-Goog-Signature`): their values are replaced by `REDACTED` so that a
/// working link never reaches an alert.
const SIGNATURE_PARAMS: [&str; 4] = ["sig", "x-amz-signature", "signature", "x-goog-signature"];

/// `text` (a URL or request line) with the values of signature query parameters redacted.
pub fn redact_signatures(text: &str) -> String {
    let Some(q) = text.find('?') else {
        return text.to_string();
    };
    let (head, query) = text.split_at(q + 1);
    // A request line ends with ` HTTP/1.1` after the query.
    let (query, tail) = match query.find(' ') {
        Some(i) => query.split_at(i),
        None => (query, ""),
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if SIGNATURE_PARAMS.contains(&name.to_ascii_lowercase().as_str()) => {
                format!("{name}=REDACTED")
            }
            _ => pair.to_string(),
        })
        .collect();
    format!("{head}{}{tail}", parts.join("&"))
}

/// `url.original`, `url.scheme`, `url.domain`, `url.port`, `url.path` and `url.query` of an
/// absolute URL (signatures redacted).
pub fn url_fields(out: &mut Map<String, Value>, url: &str) {
    let url = redact_signatures(url);
    put(out, "url.original", Some(url.clone().into()));
    let Some((scheme, rest)) = url.split_once("://") else {
        return;
    };
    put(out, "url.scheme", Some(scheme.into()));
    let (authority, path_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !p.is_empty() => {
            (h, p.parse::<u16>().ok())
        }
        _ => (authority, None),
    };
    put(out, "url.domain", (!host.is_empty()).then(|| host.into()));
    put(out, "url.port", port.map(Value::from));
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    put(out, "url.path", (!path.is_empty()).then(|| path.into()));
    put(
        out,
        "url.query",
        query.filter(|q| !q.is_empty()).map(Value::from),
    );
}

/// `@timestamp` (UTC, milliseconds) from an RFC 3339 time; false when it does not parse.
pub fn timestamp(out: &mut Map<String, Value>, time: &str) -> bool {
    match chrono::DateTime::parse_from_rfc3339(time) {
        Ok(t) => {
            let utc = t.with_timezone(&chrono::Utc);
            put(
                out,
                "@timestamp",
                Some(
                    utc.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                        .into(),
                ),
            );
            true
        }
        Err(_) => false,
    }
}

/// The data stream fields every normalizer writes.
pub fn data_stream(out: &mut Map<String, Value>, dataset: &str, module: &str) {
    put(out, "data_stream.type", Some("logs".into()));
    put(out, "data_stream.dataset", Some(dataset.into()));
    put(out, "data_stream.namespace", Some("default".into()));
    put(out, "event.dataset", Some(dataset.into()));
    put(out, "event.module", Some(module.into()));
}

/// `event.outcome` from an HTTP status: below 400 is success.
pub fn outcome_of_status(status: Option<u64>) -> Option<Value> {
    status.map(|s| if s < 400 { "success" } else { "failure" }.into())
}

/// The IP address part of `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443` or `2001:db8::1`;
/// None when it is not an address.
pub fn ip_of(text: &str) -> Option<String> {
    use std::net::{IpAddr, SocketAddr};
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    if let Ok(sock) = text.parse::<SocketAddr>() {
        return Some(sock.ip().to_string());
    }
    None
}

/// The port of `1.2.3.4:5678` or `[::1]:443`.
pub fn port_of(text: &str) -> Option<u16> {
    text.trim()
        .parse::<std::net::SocketAddr>()
        .ok()
        .map(|s| s.port())
}

/// The 12-digit account of an AWS ARN (`arn:aws:iam::123456789012:user/alice`).
pub fn arn_account(arn: &str) -> Option<String> {
    let mut parts = arn.split(':');
    if parts.next() != Some("arn") {
        return None;
    }
    let account = parts.nth(3)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
        .then(|| account.to_string())
}

/// The last segment of an ARN's resource (`user/alice` -> `alice`).
pub fn arn_name(arn: &str) -> Option<String> {
    if !arn.starts_with("arn:") {
        return None;
    }
    let resource = arn.splitn(6, ':').nth(5)?;
    let name = resource.rsplit('/').next()?;
    (!name.is_empty()).then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_fields_of_keys() {
        let mut out = Map::new();
        file_name_fields(&mut out, "models/llama/Model-00001.SafeTensors");
        assert_eq!(out["file"]["name"], "Model-00001.SafeTensors");
        assert_eq!(out["file"]["extension"], "safetensors");
        assert_eq!(out["file"]["directory"], "models/llama");
        let mut out = Map::new();
        file_name_fields(&mut out, "folder/");
        assert!(out["file"].get("name").is_none());
        let mut out = Map::new();
        file_name_fields(&mut out, ".hidden");
        assert!(out["file"].get("extension").is_none());
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Fc"), "a b/c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%E2%82%AC"), "€");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }

    #[test]
    fn signatures_are_redacted() {
        assert_eq!(
            redact_signatures("GET /b/k?X-Amz-Signature=abc&X-Amz-Date=1 HTTP/1.1"),
            "GET /b/k?X-Amz-Signature=REDACTED&X-Amz-Date=1 HTTP/1.1"
        );
        assert_eq!(
            redact_signatures("https://a.blob.core.windows.net/c/b?sv=1&sig=xyz%3D"),
            "https://a.blob.core.windows.net/c/b?sv=1&sig=REDACTED"
        );
        let mut out = Map::new();
        url_fields(&mut out, "https://a.blob.core.windows.net:443/c/b.pt?sig=x");
        assert_eq!(out["url"]["domain"], "a.blob.core.windows.net");
        assert_eq!(out["url"]["port"], 443);
        assert_eq!(out["url"]["path"], "/c/b.pt");
        assert_eq!(out["url"]["query"], "sig=REDACTED");
    }

    #[test]
    fn addresses_and_arns() {
        assert_eq!(ip_of("10.0.0.1:443").as_deref(), Some("10.0.0.1"));
        assert_eq!(ip_of("[2001:db8::1]:443").as_deref(), Some("2001:db8::1"));
        assert_eq!(ip_of("s3.amazonaws.com"), None);
        assert_eq!(port_of("10.0.0.1:443"), Some(443));
        let arn = "arn:aws:iam::123456789012:user/alice";
        assert_eq!(arn_account(arn).as_deref(), Some("123456789012"));
        assert_eq!(arn_name(arn).as_deref(), Some("alice"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    }

    #[test]
    fn cross_account_needs_two_known_accounts() {
        let mut st = Storage {
            operation: Some(Operation::Copy),
            copy_source_account: Some("111111111111".into()),
            ..Storage::default()
        };
        assert_eq!(st.cross_account(), None);
        st.copy_target_account = Some("111111111111".into());
        assert_eq!(st.cross_account(), Some(false));
        st.caller_account = Some("999999999999".into());
        assert_eq!(st.cross_account(), Some(true));
        st.operation = Some(Operation::Read);
        assert_eq!(st.cross_account(), None);
    }
}
