//! PB-53 section 3, "IoC Collection": the indicators of an incident, taken from its alerts'
//! documents and the principals' call volume.
//!
//! | Kind | Taken from | Source (PB-53) |
//! |---|---|---|
//! | `ip` | `entity."source.ip"`, the fields `source.ip` / `client.ip`, addresses anywhere in the evidence except its baselines and thresholds, principals that are addresses | API gateway logs (Storage access logs for storage alerts) |
//! | `principal` | `entity.principal`, the field `user.id`, `evidence.principals[].principal` (clusters) | API gateway logs (Storage access logs) |
//! | `api_key` | the field `api_key.id`, `entity.api_key`, `evidence.api_key` / `api_key_id`, and principals that are key ids (a key id seen in `api_key.id`, a `key_`/`key-`/`apikey` id, or a secret); whole, as the id to revoke the key by, unless the value looks like a key itself ([`key_id`]) | Auth logs |
//! | `query_volume` | per principal of `entity.principal`: calls (and bytes read) between its first and last alert from the [`VolumeSeries`]; else the largest count in its alerts' evidence (`calls`, `probe_calls`, `events`, `queries`, `object_count`, ...) or one per per-event alert, as "at least" | API analytics |
//! | `downloaded_file` | storage alerts: `file.path` (its query string dropped), `storage.bucket` + `storage.object.key`, a copy's `storage.copy.source.bucket` + `.key` (its destination is `file.path`, listed too: where the copy went), `evidence.objects` with `evidence.bucket`; as `scheme://bucket/key` when an alert gave a URL for the bucket, else `bucket/key` | Storage access logs |
//! | `target_model` | `entity.model` (the model served); model weight files among the downloaded ones (`.safetensors`, `.gguf`, `.pt`, ...; not a copy's destination): the file, or its directory for shards and generic names (`model-00001-of-00004.safetensors` → `…/v3/`) | Service routing; Storage access logs |
//! | `employee_id` | principals that are IAM identities of the organisation: `arn:aws:iam::ACCOUNT:user/NAME` → `NAME`, `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` → `SESSION` when it is an e-mail address (SSO sessions are named after the person; others name a job), `federated-user/NAME` → `NAME`. The organisation's accounts are those owning the buckets in the alerts (`evidence.bucket` `ACCOUNT/…`, `storage.account`, `storage.copy.source.account`, `cloud.account.id`); with none known, every such ARN counts | IAM/HR logs |
//! | `user_agent` | the field `user_agent.original`, `evidence.user_agent`, the new value of an access-anomaly alert about user agents (`evidence.kind = "user_agent"`) | API gateway logs (Storage access logs) |
//!
//! Each IoC carries its first and last event time (from the alerts' `evidence.first_seen` /
//! `window` / `@timestamp` and `evidence.last_seen` / `window.end`) and the ids of its alerts;
//! the same (kind, value) from several alerts is one IoC with the time ranges merged and the
//! sources joined with `; `. The list is sorted by PB-53's table order, then value. Secrets
//! found in any value are masked ([`mask_secrets`]); values are cut at 1024 characters.
//!
//! ```
//! use modelward_respond::{ioc, AlertView};
//! use modelward_respond::volume::VolumeSeries;
//!
//! let alert = AlertView::from_json(serde_json::json!({
//!     "@timestamp": "2025-03-04T22:14:14.067Z", "alert": {"id": "7d48"},
//!     "rule": {"id": "MW-TH-0001"}, "api_key.id": "key_vTm2A9Gei4Oi",
//!     "entity": {"principal": "dev-7731@example.net", "source.ip": "203.0.113.66"}
//! })).unwrap();
//! let iocs = ioc::collect(&[alert], &VolumeSeries::default());
//! assert!(iocs.iter().any(|i| i.kind == "api_key" && i.value == "key_vTm2A9Gei4Oi"));
//! ```

mod csv;
mod mask;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::IpAddr;

use modelward_event::fields::SOURCE_IP;
use serde_json::Value;

use crate::alert_view::AlertView;
use crate::incident::Ioc;
use crate::text::{human_bytes, thousands, time_range};
use crate::volume::VolumeSeries;

pub use csv::to_csv;
pub use mask::{key_id, looks_like_secret, mask_key, mask_secrets, safe_value};

/// The IoC kinds, in the order of PB-53's table.
pub const KINDS: [&str; 8] = [
    "ip",
    "principal",
    "api_key",
    "query_volume",
    "downloaded_file",
    "target_model",
    "employee_id",
    "user_agent",
];

/// The log sources as PB-53's table names them.
pub mod source {
    pub const API_GATEWAY: &str = "API gateway logs";
    pub const AUTH: &str = "Auth logs";
    pub const API_ANALYTICS: &str = "API analytics";
    pub const STORAGE: &str = "Storage access logs";
    pub const SERVICE_ROUTING: &str = "Service routing";
    pub const IAM_HR: &str = "IAM/HR logs";
}

/// Longest value kept, in characters.
const MAX_VALUE: usize = 1024;

/// The IoC table of `alerts` (see the module documentation for what each kind is taken from).
pub fn collect(alerts: &[AlertView], volume: &VolumeSeries) -> Vec<Ioc> {
    let ctx = Context::of(alerts);
    let mut table = Table::default();
    let mut activity: BTreeMap<String, Activity> = BTreeMap::new();
    for a in alerts {
        collect_alert(a, &ctx, &mut table);
        if let Some(p) = a.entity("principal").filter(|p| !p.trim().is_empty()) {
            activity.entry(p.trim().to_string()).or_default().add(a);
        }
    }
    for (principal, act) in &activity {
        if let Some((value, first, last)) = act.volume(principal, &ctx, volume) {
            for id in &act.alerts {
                let seen = Seen {
                    first,
                    last,
                    alert: id,
                };
                table.add(Kind::QueryVolume, &value, source::API_ANALYTICS, &seen);
            }
        }
    }
    table.into_iocs()
}

/// The raw API key ids `alerts` name, and their principals that are key ids: what must
/// never be written whole (for masking free text such as an incident's title).
pub(crate) fn raw_key_ids(alerts: &[AlertView]) -> Vec<String> {
    let ctx = Context::of(alerts);
    let mut out: Vec<String> = ctx.key_ids.iter().cloned().collect();
    out.extend(
        alerts
            .iter()
            .filter_map(|a| a.entity("principal"))
            .map(str::trim)
            .filter(|p| ip_value(p).is_none() && ctx.is_key(p))
            .map(str::to_string),
    );
    out.sort();
    out.dedup();
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Ip,
    Principal,
    ApiKey,
    QueryVolume,
    DownloadedFile,
    TargetModel,
    EmployeeId,
    UserAgent,
}

impl Kind {
    fn as_str(self) -> &'static str {
        KINDS[self as usize]
    }
}

/// When and in which alert a value was seen.
struct Seen<'a> {
    first: i64,
    last: i64,
    alert: &'a str,
}

#[derive(Default)]
struct Entry {
    sources: BTreeSet<&'static str>,
    first: i64,
    last: i64,
    alerts: BTreeSet<String>,
}

/// The IoCs gathered so far, by (kind, value).
#[derive(Default)]
struct Table {
    entries: BTreeMap<(Kind, String), Entry>,
}

impl Table {
    fn add(&mut self, kind: Kind, value: &str, source: &'static str, seen: &Seen<'_>) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let value = match value.char_indices().nth(MAX_VALUE) {
            Some((i, _)) => format!("{}\u{2026}", &value[..i]),
            None => value.to_string(),
        };
        let e = self.entries.entry((kind, value)).or_insert_with(|| Entry {
            first: seen.first,
            last: seen.last,
            ..Entry::default()
        });
        e.sources.insert(source);
        e.first = e.first.min(seen.first);
        e.last = e.last.max(seen.last);
        e.alerts.insert(seen.alert.to_string());
    }

    fn into_iocs(self) -> Vec<Ioc> {
        // BTreeMap order: PB-53's kind order, then value.
        self.entries
            .into_iter()
            .map(|((kind, value), e)| Ioc {
                kind: kind.as_str().to_string(),
                value,
                source: e.sources.into_iter().collect::<Vec<_>>().join("; "),
                first_seen: e.first,
                last_seen: e.last.max(e.first),
                alerts: e.alerts.into_iter().collect(),
            })
            .collect()
    }
}

/// What the whole set of alerts tells about each value: which ids are API keys, which
/// accounts are the organisation's, how each stored object is best written.
struct Context {
    key_ids: HashSet<String>,
    org_accounts: BTreeSet<String>,
    /// Bucket → how an alert wrote objects of it up to the key (`s3://bucket/`), when one
    /// gave a URL.
    prefixes: HashMap<String, String>,
}

impl Context {
    fn of(alerts: &[AlertView]) -> Context {
        let mut ctx = Context {
            key_ids: HashSet::new(),
            org_accounts: BTreeSet::new(),
            prefixes: HashMap::new(),
        };
        for a in alerts {
            ctx.key_ids.extend(key_ids(a).map(str::to_string));
            for name in [
                "storage.account",
                "storage.copy.source.account",
                "cloud.account.id",
            ] {
                if let Some(acct) = text(a.field(name)).filter(|s| is_aws_account(s)) {
                    ctx.org_accounts.insert(acct.to_string());
                }
            }
            let mut containers: Vec<&str> = text(a.evidence("bucket")).into_iter().collect();
            if let Some(list) = a.evidence("buckets").and_then(Value::as_array) {
                containers.extend(list.iter().filter_map(|b| text(b.get("bucket"))));
            }
            for c in containers {
                if let Some((acct, _)) = c.split_once('/').filter(|(acct, _)| is_aws_account(acct))
                {
                    ctx.org_accounts.insert(acct.to_string());
                }
            }
            for obj in objects(a) {
                if let (Some(bucket), Some(prefix)) = (obj.bucket, obj.prefix) {
                    ctx.prefixes.entry(bucket).or_insert(prefix);
                }
            }
        }
        ctx
    }

    /// Whether a principal is in fact an API key id.
    fn is_key(&self, principal: &str) -> bool {
        let lower = principal.to_ascii_lowercase();
        self.key_ids.contains(principal)
            || looks_like_secret(principal)
            || ["key_", "key-", "apikey"]
                .iter()
                .any(|p| lower.starts_with(p))
    }

    /// How an object is written: as a URL when an alert wrote one for its bucket, else
    /// `bucket/key`, else the key.
    fn object_value(&self, obj: &Object) -> String {
        match &obj.bucket {
            Some(b) => match self.prefixes.get(b) {
                Some(prefix) => format!("{prefix}{}", obj.key),
                None => format!("{b}/{}", obj.key),
            },
            None => obj.key.clone(),
        }
    }

    /// The person behind an IAM principal of the organisation.
    fn employee(&self, principal: &str) -> Option<String> {
        let parts: Vec<&str> = principal.splitn(6, ':').collect();
        let [arn, partition, service, _region, account, resource] = parts[..] else {
            return None;
        };
        if arn != "arn" || !partition.starts_with("aws") || !matches!(service, "iam" | "sts") {
            return None;
        }
        if !self.org_accounts.is_empty() && !self.org_accounts.contains(account) {
            return None;
        }
        let name = if let Some(user) = resource.strip_prefix("user/") {
            // IAM users may have a path: `user/division/jsmith`.
            user.rsplit('/').next()?
        } else if let Some(role) = resource.strip_prefix("assumed-role/") {
            role.split_once('/')
                .map(|(_, session)| session)
                .filter(|s| s.contains('@'))?
        } else {
            resource.strip_prefix("federated-user/")?
        };
        (!name.is_empty()).then(|| name.to_string())
    }
}

fn collect_alert(a: &AlertView, ctx: &Context, t: &mut Table) {
    let seen = Seen {
        first: a.first_seen,
        last: last_seen(a),
        alert: &a.id,
    };
    let net = if is_storage(a) {
        source::STORAGE
    } else {
        source::API_GATEWAY
    };

    let mut principals: Vec<&str> = a.entity("principal").into_iter().collect();
    principals.extend(text(a.field("user.id")));
    if let Some(list) = a.evidence("principals").and_then(Value::as_array) {
        principals.extend(list.iter().filter_map(|p| text(p.get("principal"))));
    }
    for p in principals {
        let p = p.trim();
        if let Some(ip) = ip_value(p) {
            t.add(Kind::Ip, &ip, net, &seen);
        } else if ctx.is_key(p) {
            t.add(Kind::ApiKey, &key_id(p), source::AUTH, &seen);
        } else {
            t.add(Kind::Principal, &mask_secrets(p), net, &seen);
            if let Some(name) = ctx.employee(p) {
                t.add(
                    Kind::EmployeeId,
                    &mask_secrets(&name),
                    source::IAM_HR,
                    &seen,
                );
            }
        }
    }

    let mut ips: Vec<String> = Vec::new();
    let fields = SOURCE_IP.iter().map(|f| a.field(f));
    for v in std::iter::once(a.entity.get("source.ip")).chain(fields) {
        ips.extend(text(v).and_then(ip_value));
    }
    if let Some(evidence) = a.doc.get("evidence") {
        evidence_ips(evidence, 0, &mut ips);
    }
    for ip in ips {
        t.add(Kind::Ip, &ip, net, &seen);
    }

    for key in key_ids(a) {
        t.add(Kind::ApiKey, &key_id(key), source::AUTH, &seen);
    }

    if let Some(model) = a.entity("model") {
        t.add(
            Kind::TargetModel,
            &mask_secrets(model),
            source::SERVICE_ROUTING,
            &seen,
        );
    }
    for obj in objects(a) {
        let value = ctx.object_value(&obj);
        t.add(
            Kind::DownloadedFile,
            &mask_secrets(&value),
            source::STORAGE,
            &seen,
        );
        if let Some(model) = model_of(&value).filter(|_| !obj.destination) {
            t.add(
                Kind::TargetModel,
                &mask_secrets(&model),
                source::STORAGE,
                &seen,
            );
        }
    }

    let mut agents: Vec<&str> = Vec::new();
    agents.extend(text(a.field("user_agent.original")));
    agents.extend(text(a.evidence("user_agent")));
    if text(a.evidence("kind")) == Some("user_agent") {
        agents.extend(text(a.evidence("example")).or_else(|| text(a.evidence("new_value"))));
    }
    for ua in agents {
        t.add(Kind::UserAgent, &mask_secrets(ua), net, &seen);
    }
}

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// The raw API key ids an alert names.
fn key_ids(a: &AlertView) -> impl Iterator<Item = &str> {
    [
        a.field("api_key.id"),
        a.entity.get("api_key"),
        a.evidence("api_key"),
        a.evidence("api_key_id"),
    ]
    .into_iter()
    .filter_map(text)
    .map(str::trim)
    .filter(|k| !k.is_empty())
}

/// The latest event time an alert covers.
fn last_seen(a: &AlertView) -> i64 {
    [
        text(a.evidence("last_seen")),
        a.doc.pointer("/window/end").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .filter_map(modelward_event::parse_timestamp)
    .fold(a.timestamp, i64::max)
}

/// An alert about object storage (its log source is the storage access logs): storage
/// fields, or a storage analyzer's evidence (a bucket name, a list of objects, per-bucket
/// counts; not a distillation alert's time `bucket`).
fn is_storage(a: &AlertView) -> bool {
    a.doc.get("storage").is_some()
        || a.doc
            .as_object()
            .is_some_and(|m| m.keys().any(|k| k.starts_with("storage.")))
        || text(a.evidence("bucket")).is_some()
        || a.evidence("objects").is_some_and(Value::is_array)
        || a.evidence("buckets")
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().any(|b| text(b.get("bucket")).is_some()))
}

/// An address in canonical form; a partly masked IPv4 address (`81.2.69.***`, as Azure
/// logs them) as written.
fn ip_value(s: &str) -> Option<String> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_string());
    }
    let masked_v4 = s.split('.').count() == 4
        && s.contains('*')
        && s.chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '*');
    masked_v4.then(|| s.to_string())
}

/// Evidence keys that hold what is normal or configured, not what the attacker did.
const NOT_ATTACK: [&str; 5] = ["baseline", "thresholds", "samples", "source", "window"];

/// Addresses anywhere in the evidence (outside baselines and thresholds).
fn evidence_ips(v: &Value, depth: usize, out: &mut Vec<String>) {
    if depth > 8 {
        return;
    }
    match v {
        Value::String(s) => {
            if let Ok(ip) = s.trim().parse::<IpAddr>() {
                out.push(ip.to_string());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| evidence_ips(i, depth + 1, out)),
        Value::Object(map) => {
            for (k, v) in map {
                if !NOT_ATTACK.contains(&k.as_str()) {
                    evidence_ips(v, depth + 1, out);
                }
            }
        }
        _ => {}
    }
}

fn is_aws_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// A stored object an alert names.
struct Object {
    bucket: Option<String>,
    key: String,
    /// The URL as logged up to the key (`s3://bucket/`), when the alert had one.
    prefix: Option<String>,
    /// Where a copy went (not the organisation's object: no target model).
    destination: bool,
}

/// The objects a storage alert names: what was read or copied, and where a copy went.
fn objects(a: &AlertView) -> Vec<Object> {
    let mut out = Vec::new();
    // For a copy, the logged object is its destination.
    let copy = a.field("storage.copy.source.key").is_some();
    if let Some(path) = text(a.field("file.path")) {
        if path.contains("://") {
            out.extend(parse_url(path).map(|o| Object {
                destination: copy,
                ..o
            }));
        } else if is_storage(a) {
            out.push(Object {
                bucket: text(a.field("storage.bucket")).map(str::to_string),
                key: path.to_string(),
                prefix: None,
                destination: copy,
            });
        }
    }
    if let (Some(b), Some(k)) = (
        text(a.field("storage.bucket")),
        text(a.field("storage.object.key")),
    ) {
        out.push(Object {
            destination: copy,
            ..object(b, k)
        });
    }
    if let Some(k) = text(a.field("storage.copy.source.key")) {
        match text(a.field("storage.copy.source.bucket")) {
            Some(b) => out.push(object(b, k)),
            None => out.push(Object {
                bucket: None,
                key: k.to_string(),
                prefix: None,
                destination: false,
            }),
        }
    }
    if let Some(list) = a.evidence("objects").and_then(Value::as_array) {
        let container = text(a.evidence("bucket")).filter(|b| *b != "*");
        for o in list.iter().filter_map(Value::as_str) {
            out.extend(evidence_object(o, container));
        }
    }
    out.retain(|o| !o.key.is_empty());
    out
}

/// `bucket` as the analyzers may write it (`account/bucket`): the bucket is the last part.
fn object(bucket: &str, key: &str) -> Object {
    Object {
        bucket: Some(bucket.rsplit('/').next().unwrap_or(bucket).to_string()),
        key: key.trim_start_matches('/').to_string(),
        prefix: None,
        destination: false,
    }
}

/// An object of `evidence.objects` (`container/key`, the container `account/bucket` or
/// `bucket`).
fn evidence_object(o: &str, container: Option<&str>) -> Option<Object> {
    if let Some(key) = container.and_then(|c| o.strip_prefix(c)?.strip_prefix('/')) {
        return Some(object(container?, key));
    }
    let (first, rest) = o.split_once('/')?;
    if is_aws_account(first) {
        let (bucket, key) = rest.split_once('/')?;
        Some(object(bucket, key))
    } else {
        Some(object(first, rest))
    }
}

/// `s3://bucket/key`, `gs://bucket/key`, `https://account.blob.core.windows.net/container/blob`.
fn parse_url(url: &str) -> Option<Object> {
    let url = url.split(['?', '#']).next().unwrap_or(url);
    let (scheme, rest) = url.split_once("://")?;
    let (host, path) = rest.split_once('/')?;
    let (bucket, key) = if scheme.starts_with("http") || scheme.starts_with("abfs") {
        path.split_once('/')?
    } else {
        (host, path)
    };
    Some(Object {
        bucket: Some(bucket.to_string()),
        key: key.to_string(),
        prefix: Some(url[..url.len() - key.len()].to_string()),
        destination: false,
    })
}

/// The model a weight file belongs to: the file itself, or its directory when the file is
/// one shard or has a generic name (`model.safetensors`, `pytorch_model-00001-of-00002.bin`).
pub(crate) fn model_of(path: &str) -> Option<String> {
    let name = path.rsplit('/').next()?;
    let (stem, ext) = name.rsplit_once('.')?;
    if crate::objects::kind_of_extension(ext) != Some(crate::objects::ObjectKind::Model) {
        return None;
    }
    let generic = stem.contains("-of-")
        || [
            "model",
            "pytorch_model",
            "tf_model",
            "flax_model",
            "adapter_model",
            "consolidated",
            "checkpoint",
            "weights",
        ]
        .iter()
        .any(|g| stem == *g || stem.starts_with(&format!("{g}.")));
    match path.rsplit_once('/') {
        Some((dir, _)) if generic && !dir.ends_with(':') && !dir.ends_with('/') => {
            Some(format!("{dir}/"))
        }
        _ => Some(path.to_string()),
    }
}

/// What the alerts of one principal say about its volume.
#[derive(Default)]
struct Activity {
    first: Option<i64>,
    last: i64,
    alerts: BTreeSet<String>,
    keys: BTreeSet<String>,
    /// Largest count of calls in an alert's evidence.
    counted: u64,
    /// Alerts about one event each.
    single: u64,
    /// Largest `evidence.bytes`; sum of `storage.bytes` of per-event alerts.
    bytes: u64,
    single_bytes: u64,
}

/// Evidence keys that count the calls an alert covers.
const CALL_COUNTS: [&str; 8] = [
    "calls",
    "probe_calls",
    "events",
    "queries",
    "queries_in_window",
    "identical_requests",
    // Storage analyzers: objects read, one request each.
    "object_count",
    "objects",
];

impl Activity {
    fn add(&mut self, a: &AlertView) {
        self.first = Some(self.first.map_or(a.first_seen, |f| f.min(a.first_seen)));
        self.last = self.last.max(last_seen(a));
        self.alerts.insert(a.id.clone());
        self.keys.extend(key_ids(a).map(str::to_string));
        let counted = CALL_COUNTS
            .iter()
            .filter_map(|k| a.evidence(k).and_then(Value::as_u64))
            .max();
        match counted {
            Some(n) => self.counted = self.counted.max(n),
            None if a.evidence("source").is_some() => {
                self.single += 1;
                self.single_bytes = self.single_bytes.saturating_add(
                    a.field("storage.bytes")
                        .and_then(Value::as_u64)
                        .unwrap_or(0),
                );
            }
            None => {}
        }
        if let Some(b) = a.evidence("bytes").and_then(Value::as_u64) {
            self.bytes = self.bytes.max(b);
        }
    }

    /// The `query_volume` value and its time range.
    fn volume(
        &self,
        principal: &str,
        ctx: &Context,
        volume: &VolumeSeries,
    ) -> Option<(String, i64, i64)> {
        let from = self.first?;
        let to = self.last.max(from);
        let label = if ip_value(principal).is_none() && ctx.is_key(principal) {
            key_id(principal)
        } else {
            mask_secrets(principal).into_owned()
        };
        let counted_in = std::iter::once(principal)
            .chain(self.keys.iter().map(String::as_str))
            .map(|who| (volume.calls_between(who, from, to), who))
            .find(|(n, _)| *n > 0);
        let range = time_range(from, to);
        let value = match counted_in {
            Some((calls, who)) => {
                let bytes = bytes_between(volume, who, from, to);
                format!("{label}: {}{} {range}", calls_text(calls), read_text(bytes))
            }
            None => {
                let calls = self.counted.max(self.single);
                let bytes = self.bytes.max(self.single_bytes);
                if calls == 0 && bytes == 0 {
                    return None;
                }
                let calls = if calls > 0 {
                    format!("at least {}", calls_text(calls))
                } else {
                    String::new()
                };
                let read = read_text(bytes);
                let read = if calls.is_empty() {
                    read.trim_start_matches(", ").to_string()
                } else {
                    read
                };
                format!("{label}: {calls}{read} {range} (alert evidence)")
            }
        };
        Some((value, from, to))
    }
}

fn bytes_between(volume: &VolumeSeries, who: &str, from: i64, to: i64) -> u64 {
    let start = from - from.rem_euclid(volume.bucket_ms.max(1));
    volume
        .bytes
        .get(who)
        .map(|s| s.range(start..=to).map(|(_, b)| *b).sum())
        .unwrap_or(0)
}

fn calls_text(n: u64) -> String {
    format!("{} call{}", thousands(n), if n == 1 { "" } else { "s" })
}

fn read_text(bytes: u64) -> String {
    if bytes == 0 {
        return String::new();
    }
    format!(", {} read", human_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert(doc: Value) -> AlertView {
        AlertView::from_json(doc).unwrap()
    }

    fn ms(s: &str) -> i64 {
        modelward_event::parse_timestamp(s).unwrap()
    }

    #[test]
    fn employees_are_iam_identities_of_the_organisation() {
        let mut ctx = Context::of(&[]);
        assert_eq!(
            ctx.employee("arn:aws:iam::123456789012:user/jsmith")
                .as_deref(),
            Some("jsmith")
        );
        assert_eq!(
            ctx.employee("arn:aws:iam::123456789012:user/ml/team/jsmith")
                .as_deref(),
            Some("jsmith")
        );
        assert_eq!(
            ctx.employee(
                "arn:aws:sts::123456789012:assumed-role/MLPlatformDev/rkumar@acme.example"
            )
            .as_deref(),
            Some("rkumar@acme.example")
        );
        // A job's session, a role, an e-mail principal: no person.
        assert_eq!(
            ctx.employee("arn:aws:sts::123456789012:assumed-role/ModelDeploy/model-deploy"),
            None
        );
        assert_eq!(
            ctx.employee("arn:aws:iam::123456789012:role/ModelDeploy"),
            None
        );
        assert_eq!(ctx.employee("dev-7731@example.net"), None);
        assert_eq!(ctx.employee("arn:aws:iam::"), None);
        // Once the organisation's accounts are known, others' users are not employees.
        ctx.org_accounts.insert("123456789012".into());
        assert_eq!(ctx.employee("arn:aws:iam::444455556666:user/mallory"), None);
        assert!(ctx
            .employee("arn:aws:iam::123456789012:user/jsmith")
            .is_some());
    }

    #[test]
    fn model_files_name_their_model() {
        assert_eq!(
            model_of("s3://acme-ml-models/llama-3-8b-instruct/v3/model-00001-of-00004.safetensors")
                .as_deref(),
            Some("s3://acme-ml-models/llama-3-8b-instruct/v3/")
        );
        assert_eq!(
            model_of("s3://acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf").as_deref(),
            Some("s3://acme-ml-models/releases/llama-3-8b-instruct.Q4_K_M.gguf")
        );
        assert_eq!(
            model_of("bucket/run/pytorch_model.bin").as_deref(),
            Some("bucket/run/")
        );
        assert_eq!(
            model_of("model.safetensors").as_deref(),
            Some("model.safetensors")
        );
        assert_eq!(model_of("data/train-00001.parquet"), None);
        assert_eq!(model_of("README"), None);
    }

    #[test]
    fn objects_from_paths_copies_and_evidence() {
        let copy = alert(json!({
            "@timestamp": "2025-03-10T21:33:49.000Z", "alert": {"id": "c1"}, "rule": {"id": "r"},
            "file.path": "s3://jsmith-archive-7f3a/backup/m.safetensors?X-Amz-Signature=REDACTED",
            "storage.copy.source.bucket": "acme-ml-models",
            "storage.copy.source.key": "checkpoints/m.safetensors",
        }));
        let objs: Vec<(Option<String>, String, Option<String>, bool)> = objects(&copy)
            .into_iter()
            .map(|o| (o.bucket, o.key, o.prefix, o.destination))
            .collect();
        assert_eq!(
            objs,
            [
                (
                    Some("jsmith-archive-7f3a".into()),
                    "backup/m.safetensors".into(),
                    Some("s3://jsmith-archive-7f3a/".into()),
                    true
                ),
                (
                    Some("acme-ml-models".into()),
                    "checkpoints/m.safetensors".into(),
                    None,
                    false
                ),
            ]
        );
        let azure =
            parse_url("https://acct.blob.core.windows.net/models/llama/w.gguf?sig=REDACTED")
                .unwrap();
        assert_eq!(azure.bucket.as_deref(), Some("models"));
        assert_eq!(azure.key, "llama/w.gguf");
        assert_eq!(
            azure.prefix.as_deref(),
            Some("https://acct.blob.core.windows.net/models/")
        );
        let o = evidence_object("123456789012/acme/a/b.pt", Some("123456789012/acme")).unwrap();
        assert_eq!(
            (o.bucket.as_deref(), o.key.as_str()),
            (Some("acme"), "a/b.pt")
        );
        let o = evidence_object("123456789012/acme/a/b.pt", None).unwrap();
        assert_eq!(
            (o.bucket.as_deref(), o.key.as_str()),
            (Some("acme"), "a/b.pt")
        );
        assert!(evidence_object("no-slash", None).is_none());
    }

    #[test]
    fn storage_alerts_are_told_from_api_alerts() {
        let doc = |evidence: Value| {
            alert(
                json!({"@timestamp": "2025-03-04T07:23:59Z", "alert": {"id": "x"},
                         "rule": {"id": "r"}, "evidence": evidence}),
            )
        };
        assert!(!is_storage(&doc(
            json!({"bucket": {"size": "1h", "start": "2025-03-04T07:00:00Z"}})
        )));
        assert!(!is_storage(&doc(json!({"calls": 200}))));
        assert!(is_storage(&doc(
            json!({"bucket": "123456789012/acme-ml-models"})
        )));
        assert!(is_storage(&doc(
            json!({"buckets": [{"bucket": "acme", "bytes": 1}]})
        )));
        assert!(is_storage(&doc(json!({"objects": ["acme/a.pt"]}))));
    }

    #[test]
    fn evidence_addresses_outside_baselines_are_ips() {
        let mut out = Vec::new();
        evidence_ips(
            &json!({"example": "2001:0db8::0001", "members": ["198.51.100.7", "x"],
                    "baseline": {"values": ["10.0.0.1"]}, "thresholds": {"ip": "10.0.0.2"}}),
            0,
            &mut out,
        );
        assert_eq!(out, ["2001:db8::1", "198.51.100.7"]);
        assert_eq!(ip_value("81.2.69.***").as_deref(), Some("81.2.69.***"));
        assert_eq!(ip_value("not.an.ip.***x"), None);
    }

    #[test]
    fn principals_that_are_keys_or_addresses_are_filed_as_such() {
        let a = alert(json!({
            "@timestamp": "2025-03-04T22:14:14.067Z", "alert": {"id": "k1"}, "rule": {"id": "r"},
            "entity": {"principal": "key_Zr8Qp2Lx0Vn5"},
            "evidence": {"principals": [{"principal": "198.51.100.9", "calls": 3},
                                         {"principal": "sk-live-AbCdEfGhIjKlMnOpQrSt", "calls": 2}]}
        }));
        let iocs = collect(&[a], &VolumeSeries::default());
        let got: Vec<(&str, &str)> = iocs
            .iter()
            .map(|i| (i.kind.as_str(), i.value.as_str()))
            .collect();
        assert!(got.contains(&("ip", "198.51.100.9")), "{got:?}");
        // A key id is the identifier to revoke the key by: whole. A key is never shown.
        assert!(got.contains(&("api_key", "key_Zr8Qp2Lx0Vn5")), "{got:?}");
        assert!(got.contains(&("api_key", "sk-l…St")), "{got:?}");
        assert!(!got.iter().any(|(k, _)| *k == "principal"), "{got:?}");
    }

    #[test]
    fn same_value_from_two_alerts_is_one_ioc_with_merged_range() {
        let doc = |id: &str, t: &str| {
            json!({"@timestamp": t, "alert": {"id": id}, "rule": {"id": "r"},
                   "entity": {"source.ip": "203.0.113.66"}})
        };
        let iocs = collect(
            &[
                alert(doc("b", "2025-03-04T22:20:00Z")),
                alert(doc("a", "2025-03-04T22:10:00Z")),
            ],
            &VolumeSeries::default(),
        );
        assert_eq!(iocs.len(), 1);
        assert_eq!(iocs[0].alerts, ["a", "b"]);
        assert_eq!(iocs[0].first_seen, ms("2025-03-04T22:10:00Z"));
        assert_eq!(iocs[0].last_seen, ms("2025-03-04T22:20:00Z"));
        assert_eq!(iocs[0].source, source::API_GATEWAY);
    }
}
