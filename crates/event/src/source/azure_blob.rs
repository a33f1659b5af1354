//! Normalizer for Azure Storage resource logs (`StorageRead`, `StorageWrite`,
//! `StorageDelete` records of `StorageBlobLogs`, as diagnostic settings write them to a
//! storage account or Event Hubs, usually inside `{"records":[...]}`), and for the Azure
//! activity-log records of storage-account key and SAS operations (`ListKeys`,
//! `RegenerateKey`, `ListAccountSas`, `ListServiceSas`).
//!
//! # Field mapping
//!
//! | Raw key | Normalized field | Notes |
//! |---|---|---|
//! | `time` | `@timestamp` | UTC, milliseconds. |
//! | `operationName` | `event.action`, `storage.operation` | See [`operation_class`]. |
//! | `statusCode` | `http.response.status_code` | Blob logs; a number. |
//! | `statusText` / `resultType` | `event.outcome` | `Success` (or a status below 400) → `success`; activity `Start` records get none. |
//! | `durationMs` | `event.duration` | Milliseconds → nanoseconds. |
//! | `callerIpAddress` | `source.ip`, `source.port` | `203.0.113.7:50123` is split. |
//! | `correlationId` | `event.id` | |
//! | `location` | `cloud.region` | |
//! | `resourceId` | `cloud.account.id`, `azure.subscription_id`, `azure.resource.group`, `azure.resource.name` | Subscription, group and storage account, lowercased as Elastic does. |
//! | `uri` | `url.original`, `url.domain`, `url.path`, `url.query`, ... | SAS `sig` values become `REDACTED`. |
//! | `identity.type` | `storage.auth.method`, `azure.storage.identity.type` | `SAS`, `DelegationSas`, ... → `sas`; `AccountKey` → `key`; `OAuth`, `Kerberos` → `oauth`; `Anonymous` → `anonymous`. |
//! | `identity.requester.objectId` / `.upn` / `.appId` | `user.id` / `user.name` / `azure.storage.identity.requester.app_id` | Activity log: the `objectidentifier` and `upn` (else `name`) claims. |
//! | `properties.accountName` | `storage.account` | Else from `resourceId`. |
//! | `properties.objectKey` (`/account/container/blob`) | `storage.bucket` (container), `storage.object.key` (blob), `file.path` (`https://account.blob.core.windows.net/container/blob`), `file.name`, `file.extension`, `file.directory` | |
//! | `properties.userAgentHeader` | `user_agent.original` | |
//! | `properties.referrerHeader` | `http.request.referrer` | |
//! | `properties.responseBodySize` / `requestBodySize` | `http.response.bytes` / `http.request.bytes`, `storage.bytes` | |
//! | `properties.tlsVersion` | `tls.version` (`TLS 1.2` → `1.2`), `tls.version_protocol` | |
//! | `properties.sourceUri`, `properties.destinationUri` | `storage.copy.source.{account,bucket,key}`, `storage.copy.target.account`, `storage.cross_account` | A copy's other end; the logged object is the destination (`CopyBlob`) or the source (`CopyBlobSource`). Cross-account when the two storage accounts differ. |
//! | `category`, `statusText`, `resultType`, `operationVersion`, `schemaVersion`, `identity.type`, `identity.authorization`, `identity.requester.appId`, `.tenantId` | `azure.storage.category`, `.status_text`, `.result_type`, `.operation_version`, `.schema_version`, `.identity.*` | |
//! | every raw key | itself | The record's own keys stay beside the normalized fields (rules written on Azure's names keep matching); `identity.tokenHash` is removed and SAS signatures in `uri` are redacted. |
//! | `properties.serviceType` | `cloud.service.name` | `blob` for resource logs without it. |
//! | — | `cloud.provider: azure`, `data_stream.dataset: azure.storage`, `event.module: azure` | |

use serde_json::{Map, Value};

use super::paths::{get, put, text};
use super::storage::{self, AuthMethod, Operation, Storage};

/// `data_stream.dataset` of the normalized events.
pub const DATASET: &str = "azure.storage";

const CATEGORIES: [&str; 3] = ["StorageRead", "StorageWrite", "StorageDelete"];

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("azure_blob: `{field}` must be {expected}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
    },
}

/// Whether a raw record is a storage resource log record or a storage-account activity
/// record.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    let text = |k: &str| obj.get(k).and_then(Value::as_str);
    let Some(operation) = text("operationName") else {
        return false;
    };
    if text("category").is_some_and(|c| CATEGORIES.contains(&c)) {
        return true;
    }
    let upper = operation.to_ascii_uppercase();
    upper.starts_with("MICROSOFT.STORAGE/STORAGEACCOUNTS/")
        && text("resourceId").is_some_and(|r| {
            r.to_ascii_lowercase()
                .contains("/providers/microsoft.storage/storageaccounts/")
        })
}

/// The storage class of an operation name (blob REST operations and storage-account
/// actions).
pub fn operation_class(operation: &str) -> Operation {
    let upper = operation.to_ascii_uppercase();
    if let Some(action) = upper.strip_prefix("MICROSOFT.STORAGE/STORAGEACCOUNTS/") {
        return match action {
            "LISTKEYS/ACTION" | "REGENERATEKEY/ACTION" => Operation::Keys,
            "LISTACCOUNTSAS/ACTION" | "LISTSERVICESAS/ACTION" => Operation::Share,
            _ => Operation::Other,
        };
    }
    match operation {
        "GetBlob" | "QueryBlobContents" => Operation::Read,
        "PutBlob" | "PutBlock" | "PutBlockList" | "AppendBlock" | "PutPage" | "CreateFile"
        | "AppendFile" | "FlushFile" => Operation::Write,
        "CopyBlob"
        | "CopyBlobSource"
        | "CopyBlobDestination"
        | "StartCopyFromURL"
        | "PutBlobFromURL"
        | "PutBlockFromURL"
        | "AppendBlockFromURL"
        | "PutPageFromURL"
        | "SyncCopyBlob" => Operation::Copy,
        "ListBlobs" | "ListContainers" | "ListFilesystems" | "ListFilesystemDir"
        | "FindBlobsByTags" => Operation::List,
        "DeleteBlob" | "DeleteContainer" | "DeleteFile" | "DeleteDirectory" | "UndeleteBlob" => {
            Operation::Delete
        }
        "GetUserDelegationKey" | "SetContainerACL" | "SetBlobServiceProperties" => Operation::Share,
        "GetBlobProperties" | "GetBlobMetadata" | "GetBlobTags" => Operation::Other,
        name if name.starts_with("Get") => Operation::Config,
        _ => Operation::Other,
    }
}

fn number(raw: &Value, path: &str) -> Option<f64> {
    match get(raw, path)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn count(raw: &Value, path: &str) -> Option<u64> {
    number(raw, path)
        .filter(|n| n.is_finite() && *n >= 0.0)
        .map(|n| n as u64)
}

/// (subscription, resource group, storage account) of a storage `resourceId`, lowercased.
fn resource_parts(id: &str) -> (Option<String>, Option<String>, Option<String>) {
    let lower = id.to_ascii_lowercase();
    let parts: Vec<&str> = lower.split('/').collect();
    let after = |name: &str| {
        parts
            .iter()
            .position(|p| *p == name)
            .and_then(|i| parts.get(i + 1))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    (
        after("subscriptions"),
        after("resourcegroups"),
        after("storageaccounts"),
    )
}

/// (account, container, blob) of `https://acct.blob.core.windows.net/container/a/b?...`.
fn split_blob_url(url: &str) -> Option<(String, Option<String>, Option<String>)> {
    let rest = url.split_once("://")?.1;
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let account = host.split(['.', ':']).next().filter(|a| !a.is_empty())?;
    let path = storage::percent_decode(path);
    let (container, blob) = match path.split_once('/') {
        Some((c, b)) => (c.to_string(), Some(b.to_string())),
        None => (path.clone(), None),
    };
    Some((
        account.to_ascii_lowercase(),
        Some(container).filter(|c| !c.is_empty()),
        blob.filter(|b| !b.is_empty()),
    ))
}

/// Maps one record (see the module documentation).
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    // The record's own keys stay, so rules written against the vendor's names still match.
    let mut out = raw.clone();
    let raw = Value::Object(raw);
    let time = text(&raw, "time").ok_or(NormalizeError::Invalid {
        field: "time",
        expected: "a time",
    })?;
    if !storage::timestamp(&mut out, time) {
        return Err(NormalizeError::Invalid {
            field: "time",
            expected: "an ISO 8601 time",
        });
    }
    let operation = text(&raw, "operationName").unwrap_or_default();
    let copy = |out: &mut Map<String, Value>, from: &str, to: &str| {
        let value = get(&raw, from).filter(|v| v.as_str() != Some(""));
        put(out, to, value.cloned());
    };
    put(&mut out, "event.action", Some(operation.into()));
    copy(&mut out, "correlationId", "event.id");
    let status = count(&raw, "statusCode").filter(|s| (100..600).contains(s));
    put(
        &mut out,
        "http.response.status_code",
        status.map(Value::from),
    );
    let outcome = match text(&raw, "statusText").or(text(&raw, "resultType")) {
        Some("Success" | "Succeeded") => Some("success".into()),
        Some("Start" | "Accept" | "Active") => None,
        Some(_) if status.is_none() => Some("failure".into()),
        _ => storage::outcome_of_status(status),
    };
    put(&mut out, "event.outcome", outcome);
    put(
        &mut out,
        "event.duration",
        count(&raw, "durationMs").map(|ms| Value::from(ms.saturating_mul(1_000_000))),
    );
    if let Some(caller) = text(&raw, "callerIpAddress") {
        put(
            &mut out,
            "source.ip",
            storage::ip_of(caller).map(Value::from),
        );
        put(
            &mut out,
            "source.port",
            storage::port_of(caller).map(Value::from),
        );
    }
    put(&mut out, "cloud.provider", Some("azure".into()));
    copy(&mut out, "location", "cloud.region");
    let (subscription, group, resource_account) =
        text(&raw, "resourceId").map_or((None, None, None), resource_parts);
    put_subscription(&mut out, subscription, group);
    put(
        &mut out,
        "azure.resource.name",
        resource_account.clone().map(Value::from),
    );
    if let Some(uri) = text(&raw, "uri") {
        storage::url_fields(&mut out, uri);
        out.insert("uri".into(), storage::redact_signatures(uri).into());
    }
    copy(
        &mut out,
        "properties.userAgentHeader",
        "user_agent.original",
    );
    copy(
        &mut out,
        "properties.referrerHeader",
        "http.request.referrer",
    );
    let bytes_out = count(&raw, "properties.responseBodySize");
    let bytes_in = count(&raw, "properties.requestBodySize");
    put(&mut out, "http.response.bytes", bytes_out.map(Value::from));
    put(&mut out, "http.request.bytes", bytes_in.map(Value::from));
    if let Some(tls) = text(&raw, "properties.tlsVersion") {
        if let Some(v) = tls.strip_prefix("TLS ").or(tls.strip_prefix("TLSv")) {
            put(&mut out, "tls.version", Some(v.into()));
            put(&mut out, "tls.version_protocol", Some("tls".into()));
        }
    }
    let claims = get(&raw, "identity.claims");
    let claim = |name: &str| claim(claims, name);
    let user_id = text(&raw, "identity.requester.objectId").or(claim(OBJECT_ID));
    let user_name = text(&raw, "identity.requester.upn")
        .or(claim(UPN))
        .or(claim("name"));
    put(&mut out, "user.id", user_id.map(Value::from));
    put(&mut out, "user.name", user_name.map(Value::from));
    for (from, to) in [
        ("category", "category"),
        ("statusText", "status_text"),
        ("resultType", "result_type"),
        ("operationVersion", "operation_version"),
        ("schemaVersion", "schema_version"),
        ("identity.type", "identity.type"),
        ("identity.authorization", "identity.authorization"),
        ("identity.requester.appId", "identity.requester.app_id"),
        (
            "identity.requester.tenantId",
            "identity.requester.tenant_id",
        ),
        ("properties", "properties"),
    ] {
        copy(&mut out, from, &format!("azure.storage.{to}"));
    }
    let resource_log = text(&raw, "category").is_some_and(|c| CATEGORIES.contains(&c));
    let service = text(&raw, "properties.serviceType").or(resource_log.then_some("blob"));
    put(&mut out, "cloud.service.name", service.map(Value::from));
    let account = text(&raw, "properties.accountName")
        .map(str::to_ascii_lowercase)
        .or(resource_account);
    let mut store = Storage {
        account: account.clone(),
        operation: Some(operation_class(operation)),
        bytes_out,
        bytes_in,
        auth: text(&raw, "identity.type").and_then(auth_method),
        ..Storage::default()
    };
    if let Some(key) = text(&raw, "properties.objectKey") {
        // `/account/container/blob/path`.
        let mut parts = key.trim_start_matches('/').splitn(3, '/');
        let (_acct, container, blob) = (parts.next(), parts.next(), parts.next());
        store.bucket = container.filter(|c| !c.is_empty()).map(str::to_string);
        store.key = blob.filter(|b| !b.is_empty()).map(str::to_string);
    }
    if let Some(acct) = &account {
        store.path_prefix = format!("https://{acct}.blob.core.windows.net/");
    }
    if store.operation == Some(Operation::Copy) {
        let here = (account.clone(), store.bucket.clone(), store.key.clone());
        let other_end = |field: &str| {
            text(&raw, field)
                .and_then(split_blob_url)
                .map(|(a, c, b)| (Some(a), c, b))
        };
        let source = other_end("properties.sourceUri");
        let target = other_end("properties.destinationUri");
        let (src, dst) = match (source, target) {
            (Some(s), t) => (Some(s), t.or(Some(here))),
            (None, Some(t)) => (Some(here), Some(t)),
            (None, None) => (None, None),
        };
        if let Some((src_account, src_bucket, src_key)) = src {
            store.copy_source_account = src_account;
            store.copy_source_bucket = src_bucket;
            store.copy_source_key = src_key;
        }
        store.copy_target_account = dst.and_then(|d| d.0);
    }
    store.write(&mut out);
    if let Some(Value::Object(identity)) = out.get_mut("identity") {
        identity.remove("tokenHash");
    }
    storage::data_stream(&mut out, DATASET, "azure");
    Ok(out)
}

/// `cloud.account.id`, `azure.subscription_id` and `azure.resource.group` of an Azure
/// record's resource (shared with the activity log's normalizer).
pub(crate) fn put_subscription(
    out: &mut Map<String, Value>,
    subscription: Option<String>,
    group: Option<String>,
) {
    put(
        out,
        "cloud.account.id",
        subscription.clone().map(Value::from),
    );
    put(out, "azure.subscription_id", subscription.map(Value::from));
    put(out, "azure.resource.group", group.map(Value::from));
}

/// The Entra token claim holding the caller's object id, and the one holding its UPN.
pub(crate) const OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";
pub(crate) const UPN: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn";

/// A non-empty claim of an activity-log record's `identity.claims`.
pub(crate) fn claim<'a>(claims: Option<&'a Value>, name: &str) -> Option<&'a str> {
    claims
        .and_then(|c| c.get(name))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn auth_method(kind: &str) -> Option<AuthMethod> {
    let lower = kind.to_ascii_lowercase();
    Some(match lower.as_str() {
        k if k.contains("sas") => AuthMethod::Sas,
        "accountkey" | "sharedkey" => AuthMethod::Key,
        "oauth" | "kerberos" => AuthMethod::OAuth,
        "anonymous" => AuthMethod::Anonymous,
        _ => return None,
    })
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::AzureBlob,
    name: "azure_blob",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::storage::SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    super::partial_or_invalid(
        "azure_blob",
        normalize(raw).map_err(|e| (e.to_string(), None)),
    )
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    // Signatures in the URL are masked.
    Synthesized::new("uri", Domain::Any),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls() {
        assert_eq!(
            split_blob_url("https://Ext.blob.core.windows.net/drop/m/x%20y.pt?sv=1&sig=a"),
            Some(("ext".into(), Some("drop".into()), Some("m/x y.pt".into())))
        );
        assert_eq!(split_blob_url("not a url"), None);
    }

    #[test]
    fn resource_ids() {
        let id = "/subscriptions/ABC/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/Acct/blobServices/default";
        assert_eq!(
            resource_parts(id),
            (Some("abc".into()), Some("rg".into()), Some("acct".into()))
        );
    }

    #[test]
    fn classes_and_auth() {
        assert_eq!(operation_class("GetBlob"), Operation::Read);
        assert_eq!(operation_class("CopyBlob"), Operation::Copy);
        assert_eq!(operation_class("GetUserDelegationKey"), Operation::Share);
        assert_eq!(
            operation_class("MICROSOFT.STORAGE/STORAGEACCOUNTS/LISTKEYS/ACTION"),
            Operation::Keys
        );
        assert_eq!(auth_method("DelegationSas"), Some(AuthMethod::Sas));
        assert_eq!(auth_method("AccountKey"), Some(AuthMethod::Key));
        assert_eq!(auth_method("Other"), None);
    }
}
