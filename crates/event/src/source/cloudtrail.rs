//! Normalizer for AWS CloudTrail records: S3 data events (GetObject, PutObject, CopyObject,
//! ListObjects, ...) with the `storage.*` group, and every other CloudTrail event with the
//! common ECS fields (so management events such as `CreateAccessKey` or `GetBucketPolicy`
//! reach rules too). The reader unwraps `{"Records":[...]}` envelopes.
//!
//! # Field mapping
//!
//! | Raw key | Normalized field | Notes |
//! |---|---|---|
//! | `eventTime` | `@timestamp` | RFC 3339 → UTC with milliseconds. |
//! | `eventName` | `event.action`, `storage.operation` | See [`operation_class`]. |
//! | `eventSource` | `event.provider`, `cloud.service.name` | `s3.amazonaws.com` → `s3`. |
//! | `eventID` | `event.id` | |
//! | `errorCode`, `errorMessage` | `error.code`, `error.message`, `event.outcome` | `failure` when `errorCode` is set, else `success`. |
//! | `awsRegion` | `cloud.region` | |
//! | `recipientAccountId` (else `userIdentity.accountId`) | `cloud.account.id` | |
//! | `sourceIPAddress` | `source.ip` (an address), else `source.domain` (`s3.amazonaws.com`, ...) | |
//! | `userAgent` | `user_agent.original` | |
//! | `userIdentity.arn` (else `principalId`) | `user.id` | |
//! | `userIdentity.userName`, `sessionContext.sessionIssuer.userName`, last part of the ARN | `user.name` | First found. |
//! | `userIdentity.*` | `aws.cloudtrail.user_identity.{type,arn,account_id,principal_id,access_key_id,invoked_by}` | |
//! | `requestParameters`, `responseElements`, `additionalEventData`, `resources` | `aws.cloudtrail.request_parameters`, `.response_elements`, `.additional_eventdata`, `.resources` | Kept as objects (Elastic keeps them as flattened text). |
//! | `eventVersion`, `eventType`, `eventCategory`, `requestID`, `readOnly`, `managementEvent`, `sharedEventID`, `vpcEndpointId` | `aws.cloudtrail.event_version`, `.event_type`, `.event_category`, `.request_id`, `.read_only`, `.management_event`, `.shared_event_id`, `.vpc_endpoint_id` | |
//! | `requestParameters.bucketName` | `storage.bucket` | S3 events. |
//! | `requestParameters.key` | `storage.object.key`, `file.path` (`s3://bucket/key`), `file.name`, `file.extension`, `file.directory` | |
//! | `resources[]` (`AWS::S3::Bucket` of the bucket) `.accountId` | `storage.account` | The bucket owner. |
//! | `additionalEventData.bytesTransferredOut` / `In` | `http.response.bytes` (out), `storage.bytes` | |
//! | `additionalEventData.AuthenticationMethod` | `storage.auth.method` | `AuthHeader` → `key`, `QueryString` → `presigned` (a presigned URL); an anonymous principal → `anonymous`. |
//! | `requestParameters.x-amz-copy-source` | `storage.copy.source.bucket`, `.key` | URL-decoded, `?versionId=` dropped. |
//! | `resources[]` accounts of the source and destination buckets (destination else `recipientAccountId`) | `storage.copy.source.account`, `storage.copy.target.account`, `storage.cross_account` | Cross-account when the source's, the destination's and the caller's (`userIdentity.accountId`) accounts are not all the same. |
//! | every raw key | itself | The record's own keys (`eventName`, `userIdentity`, `requestParameters`, ...) stay beside the normalized fields, so Sigma rules written on CloudTrail's names keep matching. |
//! | — | `cloud.provider: aws`, `data_stream.dataset: aws.cloudtrail`, `event.module: aws` | |

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::paths::{get, put, text};
use super::storage::{self, AuthMethod, Operation, Storage};

/// `data_stream.dataset` of the normalized events (Elastic's name).
pub const DATASET: &str = "aws.cloudtrail";

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("cloudtrail: `{field}` must be {expected}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
    },
}

/// Whether a raw record is a CloudTrail event.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    ["eventName", "eventSource", "eventTime"]
        .iter()
        .all(|k| obj.get(*k).is_some_and(Value::is_string))
}

/// The storage class of a CloudTrail event name; None for events that are not about
/// storage or access keys.
pub fn operation_class(event_source: &str, event_name: &str) -> Option<Operation> {
    if matches!(
        event_name,
        "CreateAccessKey" | "ListAccessKeys" | "UpdateAccessKey"
    ) {
        return Some(Operation::Keys);
    }
    if event_source != "s3.amazonaws.com" {
        return None;
    }
    Some(match event_name {
        "GetObject" | "SelectObjectContent" | "GetObjectTorrent" => Operation::Read,
        "PutObject"
        | "CreateMultipartUpload"
        | "UploadPart"
        | "CompleteMultipartUpload"
        | "PostObject" => Operation::Write,
        "CopyObject" | "UploadPartCopy" => Operation::Copy,
        "ListObjects"
        | "ListObjectsV2"
        | "ListObjectVersions"
        | "ListBuckets"
        | "ListMultipartUploads"
        | "ListParts" => Operation::List,
        "DeleteObject" | "DeleteObjects" | "DeleteBucket" => Operation::Delete,
        "PutBucketPolicy"
        | "PutBucketAcl"
        | "PutObjectAcl"
        | "DeleteBucketPublicAccessBlock"
        | "PutBucketPublicAccessBlock"
        | "PutAccessPointPolicy"
        | "PutBucketOwnershipControls" => Operation::Share,
        name if name.starts_with("Get") => Operation::Config,
        _ => Operation::Other,
    })
}

fn count(raw: &Value, path: &str) -> Option<u64> {
    match get(raw, path)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f.max(0.0) as u64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Maps one CloudTrail record (see the module documentation).
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    // The record's own keys stay, so rules written against the vendor's names still match.
    let mut out = raw.clone();
    let raw = Value::Object(raw);
    let time = text(&raw, "eventTime").ok_or(NormalizeError::Invalid {
        field: "eventTime",
        expected: "a time",
    })?;
    let time = DateTime::parse_from_rfc3339(time).map_err(|_| NormalizeError::Invalid {
        field: "eventTime",
        expected: "an RFC 3339 time",
    })?;
    put(
        &mut out,
        "@timestamp",
        Some(
            time.with_timezone(&Utc)
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        ),
    );
    let name = text(&raw, "eventName").unwrap_or_default();
    let source = text(&raw, "eventSource").unwrap_or_default();
    let copy = |out: &mut Map<String, Value>, from: &str, to: &str| {
        put(out, to, get(&raw, from).cloned());
    };
    put(&mut out, "event.action", Some(name.into()));
    put(&mut out, "event.provider", Some(source.into()));
    copy(&mut out, "eventID", "event.id");
    let failed = text(&raw, "errorCode").is_some();
    put(
        &mut out,
        "event.outcome",
        Some(if failed { "failure" } else { "success" }.into()),
    );
    copy(&mut out, "errorCode", "error.code");
    copy(&mut out, "errorMessage", "error.message");
    put(&mut out, "cloud.provider", Some("aws".into()));
    copy(&mut out, "awsRegion", "cloud.region");
    let caller_account = text(&raw, "userIdentity.accountId");
    let recipient = text(&raw, "recipientAccountId");
    put(
        &mut out,
        "cloud.account.id",
        recipient.or(caller_account).map(Value::from),
    );
    if let Some(service) = source.strip_suffix(".amazonaws.com") {
        put(&mut out, "cloud.service.name", Some(service.into()));
    }
    if let Some(address) = text(&raw, "sourceIPAddress") {
        match storage::ip_of(address) {
            Some(ip) => put(&mut out, "source.ip", Some(ip.into())),
            None => put(&mut out, "source.domain", Some(address.into())),
        }
    }
    copy(&mut out, "userAgent", "user_agent.original");
    let arn = text(&raw, "userIdentity.arn");
    put(
        &mut out,
        "user.id",
        arn.or(text(&raw, "userIdentity.principalId"))
            .map(Value::from),
    );
    let user_name = text(&raw, "userIdentity.userName")
        .map(str::to_string)
        .or_else(|| {
            text(&raw, "userIdentity.sessionContext.sessionIssuer.userName").map(str::to_string)
        })
        .or_else(|| arn.and_then(storage::arn_name));
    put(&mut out, "user.name", user_name.map(Value::from));
    for (from, to) in [
        ("userIdentity.type", "type"),
        ("userIdentity.arn", "arn"),
        ("userIdentity.accountId", "account_id"),
        ("userIdentity.principalId", "principal_id"),
        ("userIdentity.accessKeyId", "access_key_id"),
        ("userIdentity.invokedBy", "invoked_by"),
    ] {
        copy(
            &mut out,
            from,
            &format!("aws.cloudtrail.user_identity.{to}"),
        );
    }
    for (from, to) in [
        ("eventVersion", "event_version"),
        ("eventType", "event_type"),
        ("eventCategory", "event_category"),
        ("requestID", "request_id"),
        ("readOnly", "read_only"),
        ("managementEvent", "management_event"),
        ("recipientAccountId", "recipient_account_id"),
        ("sharedEventID", "shared_event_id"),
        ("vpcEndpointId", "vpc_endpoint_id"),
        ("requestParameters", "request_parameters"),
        ("responseElements", "response_elements"),
        ("additionalEventData", "additional_eventdata"),
        ("resources", "resources"),
    ] {
        copy(&mut out, from, &format!("aws.cloudtrail.{to}"));
    }
    let bytes_out = count(&raw, "additionalEventData.bytesTransferredOut");
    if source == "s3.amazonaws.com" {
        put(&mut out, "http.response.bytes", bytes_out.map(Value::from));
    }
    if let Some(operation) = operation_class(source, name) {
        let store = storage_of(&raw, operation, bytes_out, caller_account, recipient);
        store.write(&mut out);
    }
    storage::data_stream(&mut out, DATASET, "aws");
    Ok(out)
}

fn storage_of(
    raw: &Value,
    operation: Operation,
    bytes_out: Option<u64>,
    caller_account: Option<&str>,
    recipient: Option<&str>,
) -> Storage {
    let bucket = text(raw, "requestParameters.bucketName");
    let owner = |bucket: &str| bucket_account(raw, bucket);
    let anonymous = text(raw, "userIdentity.principalId") == Some("ANONYMOUS_PRINCIPAL")
        || text(raw, "userIdentity.accountId") == Some("ANONYMOUS_PRINCIPAL");
    let auth = if anonymous {
        Some(AuthMethod::Anonymous)
    } else {
        match text(raw, "additionalEventData.AuthenticationMethod") {
            Some("QueryString") => Some(AuthMethod::Presigned),
            Some("AuthHeader") => Some(AuthMethod::Key),
            _ => None,
        }
    };
    let mut store = Storage {
        path_prefix: "s3://".into(),
        bucket: bucket.map(str::to_string),
        account: bucket.and_then(owner),
        key: text(raw, "requestParameters.key").map(str::to_string),
        version_id: text(raw, "requestParameters.versionId").map(str::to_string),
        operation: Some(operation),
        bytes_out,
        bytes_in: count(raw, "additionalEventData.bytesTransferredIn"),
        auth,
        ..Storage::default()
    };
    if operation == Operation::Copy {
        let source = get(raw, "requestParameters")
            .and_then(|p| p.get("x-amz-copy-source"))
            .and_then(Value::as_str);
        if let Some((src_bucket, src_key)) = source.and_then(split_copy_source) {
            store.copy_source_account = owner(&src_bucket);
            store.copy_source_bucket = Some(src_bucket);
            store.copy_source_key = Some(src_key);
        }
        store.copy_target_account = store
            .account
            .clone()
            .or_else(|| recipient.map(str::to_string));
        store.caller_account = caller_account
            .filter(|a| a.bytes().all(|b| b.is_ascii_digit()))
            .map(str::to_string);
    }
    store
}

/// `/source-bucket/a%20key?versionId=x` → (`source-bucket`, `a key`).
fn split_copy_source(source: &str) -> Option<(String, String)> {
    let source = source.split('?').next().unwrap_or_default();
    let decoded = storage::percent_decode(source);
    let trimmed = decoded.trim_start_matches('/');
    let (bucket, key) = trimmed.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then(|| (bucket.to_string(), key.to_string()))
}

/// The `accountId` CloudTrail gives for a bucket among the event's resources.
fn bucket_account(raw: &Value, bucket: &str) -> Option<String> {
    let arn = format!("arn:aws:s3:::{bucket}");
    get(raw, "resources")?
        .as_array()?
        .iter()
        .filter(|r| r.get("ARN").and_then(Value::as_str) == Some(arn.as_str()))
        .find_map(|r| r.get("accountId").and_then(Value::as_str))
        .map(str::to_string)
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::CloudTrail,
    name: "cloudtrail",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::storage::SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    super::partial_or_invalid(
        "cloudtrail",
        normalize(raw).map_err(|e| (e.to_string(), None)),
    )
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources() {
        assert_eq!(
            split_copy_source("/src-bucket/models/a%20b.pt?versionId=1"),
            Some(("src-bucket".into(), "models/a b.pt".into()))
        );
        assert_eq!(split_copy_source("bucket-only"), None);
        assert_eq!(split_copy_source("/b/"), None);
    }

    #[test]
    fn classes() {
        let class = |n| operation_class("s3.amazonaws.com", n).map(Operation::as_str);
        assert_eq!(class("GetObject"), Some("read"));
        assert_eq!(class("CopyObject"), Some("copy"));
        assert_eq!(class("ListObjectsV2"), Some("list"));
        assert_eq!(class("GetBucketPolicy"), Some("config"));
        assert_eq!(class("PutBucketPolicy"), Some("share"));
        assert_eq!(class("HeadObject"), Some("other"));
        assert_eq!(
            operation_class("iam.amazonaws.com", "CreateAccessKey"),
            Some(Operation::Keys)
        );
        assert_eq!(operation_class("ec2.amazonaws.com", "RunInstances"), None);
    }
}
