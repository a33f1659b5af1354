//! Normalizer for Google Cloud Audit Logs (`protoPayload` of type
//! `google.cloud.audit.AuditLog`), written for Cloud Storage data-access logs
//! (`storage.objects.get`, `.list`, `.create`, ...) and the IAM calls that hand out access
//! (`CreateServiceAccountKey`, `SignBlob` for signed URLs, HMAC keys). Other services' audit
//! records get the common fields only, except Vertex AI (`aiplatform.googleapis.com`), whose
//! model is read too (see [`vertex_ai`]).
//!
//! # Field mapping
//!
//! | Raw key | Normalized field | Notes |
//! |---|---|---|
//! | `timestamp` | `@timestamp` | UTC, milliseconds. |
//! | `insertId` | `event.id` | |
//! | `protoPayload.methodName` | `event.action`, `storage.operation` | See [`operation_class`]. |
//! | `protoPayload.serviceName` | `event.provider`, `cloud.service.name` | |
//! | `protoPayload.status.code`, `.message` | `event.outcome`, `error.code`, `error.message` | Code absent or 0 → `success`. |
//! | `protoPayload.authenticationInfo.principalEmail` | `user.id`, `user.name`, `user.email` | |
//! | `protoPayload.authenticationInfo.serviceAccountDelegationInfo[].firstPartyPrincipal.principalEmail` | `gcp.audit.authentication_info.delegated_by` | Who impersonated the service account (first of the chain). |
//! | `protoPayload.requestMetadata.callerIp` | `source.ip` | Only when an address (not `private` or `gce-internal-ip`). |
//! | `protoPayload.requestMetadata.callerSuppliedUserAgent` | `user_agent.original` | |
//! | `protoPayload.resourceName` (`projects/_/buckets/B/objects/O`) | `storage.bucket`, `storage.object.key`, `file.path` (`gs://B/O`), `file.name`, `file.extension`, `file.directory` | |
//! | `resource.labels.project_id` | `cloud.project.id`, `cloud.account.id` | |
//! | `resource.labels.location` | `cloud.region` | |
//! | `protoPayload.authenticationInfo`, `authorizationInfo`, `requestMetadata.callerNetwork`, `resourceLocation`, `status`, `metadata`, `logName`, `severity`, `resource.type` | `gcp.audit.authentication_info`, `.authorization_info`, `.request_metadata.caller_network`, `.resource_location`, `.status`, `.metadata`, `.log_name`, `.severity`, `.resource_type` | |
//! | `protoPayload.methodName`, `.serviceName` | `gcp.audit.method_name`, `gcp.audit.service_name` | Elastic's names. |
//! | every raw key | itself | The entry's own keys (`protoPayload`, `resource`, `logName`, ...) stay beside the normalized fields. |
//! | — | `storage.auth.method` | `oauth` with a principal, `anonymous` without one (`allUsers`). |
//! | — | `cloud.provider: gcp`, `data_stream.dataset: gcp.audit`, `event.module: gcp` | |
//! | `protoPayload.request.model`, else `protoPayload.resourceName`, else `protoPayload.request.name`, else `protoPayload.request.deployedModel.model` (Vertex AI only) | `gen_ai.request.model` | The segment after the last `/models/` (`gemini-1.5-pro-002`, or a Model Registry id); absent for an endpoint (`.../endpoints/123`), whose deployed model the entry does not name. |
//! | — (Vertex AI only) | `gen_ai.system: vertex_ai` | |
//!
//! Cloud Audit Logs do not log bytes or HTTP status: `storage.bytes` and
//! `http.response.*` are absent.

use serde_json::{Map, Value};

use super::paths::{get, put, text};
use super::storage::{self, AuthMethod, Operation, Storage};

/// `data_stream.dataset` of the normalized events (Elastic's name).
pub const DATASET: &str = "gcp.audit";

const AUDIT_LOG_TYPE: &str = "type.googleapis.com/google.cloud.audit.AuditLog";

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    #[error("gcs_audit: `{field}` must be {expected}")]
    Invalid {
        field: &'static str,
        expected: &'static str,
    },
}

/// Whether a raw record is a Cloud Audit Log entry.
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    let Some(payload) = obj.get("protoPayload").and_then(Value::as_object) else {
        return false;
    };
    payload.get("@type").and_then(Value::as_str) == Some(AUDIT_LOG_TYPE)
        || (payload.get("methodName").is_some_and(Value::is_string)
            && payload.get("serviceName").is_some_and(Value::is_string))
}

/// The storage class of an audit method; None for methods that are not about storage or
/// credentials.
pub fn operation_class(method: &str) -> Option<Operation> {
    Some(match method {
        "storage.objects.get" => Operation::Read,
        "storage.objects.create" | "storage.objects.update" | "storage.objects.compose" => {
            Operation::Write
        }
        "storage.objects.copy" | "storage.objects.rewrite" => Operation::Copy,
        "storage.objects.list" | "storage.buckets.list" | "storage.managedFolders.list" => {
            Operation::List
        }
        "storage.objects.delete" | "storage.buckets.delete" => Operation::Delete,
        "storage.setIamPermissions" | "storage.setIamPolicy" | "storage.objects.setIamPolicy" => {
            Operation::Share
        }
        "storage.hmacKeys.create" | "storage.hmacKeys.list" | "storage.hmacKeys.update" => {
            Operation::Keys
        }
        m if m.ends_with("CreateServiceAccountKey") => Operation::Keys,
        m if m.ends_with("IAMCredentials.SignBlob") || m.ends_with("SignBlob") => Operation::Share,
        m if m.starts_with("storage.") && (m.contains(".get") || m.contains("getIam")) => {
            Operation::Config
        }
        m if m.starts_with("storage.") => Operation::Other,
        _ => return None,
    })
}

/// (bucket, object) of `projects/_/buckets/B/objects/O` (the object may hold `/`).
fn split_resource(name: &str) -> (Option<String>, Option<String>) {
    let Some(rest) = name.split_once("buckets/").map(|(_, r)| r) else {
        return (None, None);
    };
    match rest.split_once("/objects/") {
        Some((bucket, object)) => (
            Some(bucket.to_string()).filter(|b| !b.is_empty()),
            Some(object.to_string()).filter(|o| !o.is_empty()),
        ),
        None => (
            Some(rest.split('/').next().unwrap_or_default().to_string()).filter(|b| !b.is_empty()),
            None,
        ),
    }
}

/// Maps one audit log entry (see the module documentation).
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    // The record's own keys stay, so rules written against the vendor's names still match.
    let mut out = raw.clone();
    let raw = Value::Object(raw);
    let time = text(&raw, "timestamp")
        .or(text(
            &raw,
            "protoPayload.requestMetadata.requestAttributes.time",
        ))
        .ok_or(NormalizeError::Invalid {
            field: "timestamp",
            expected: "a time",
        })?;
    if !storage::timestamp(&mut out, time) {
        return Err(NormalizeError::Invalid {
            field: "timestamp",
            expected: "an RFC 3339 time",
        });
    }
    let copy = |out: &mut Map<String, Value>, from: &str, to: &str| {
        put(out, to, get(&raw, from).cloned());
    };
    let method = text(&raw, "protoPayload.methodName").unwrap_or_default();
    let service = text(&raw, "protoPayload.serviceName");
    put(&mut out, "event.action", Some(method.into()));
    put(&mut out, "event.provider", service.map(Value::from));
    put(&mut out, "cloud.service.name", service.map(Value::from));
    copy(&mut out, "insertId", "event.id");
    let code = get(&raw, "protoPayload.status.code").and_then(Value::as_i64);
    let failed = code.is_some_and(|c| c != 0);
    put(
        &mut out,
        "event.outcome",
        Some(if failed { "failure" } else { "success" }.into()),
    );
    if failed {
        put(
            &mut out,
            "error.code",
            code.map(|c| Value::from(c.to_string())),
        );
        copy(&mut out, "protoPayload.status.message", "error.message");
    }
    let email = text(&raw, "protoPayload.authenticationInfo.principalEmail");
    for field in ["user.id", "user.name", "user.email"] {
        put(&mut out, field, email.map(Value::from));
    }
    let delegated_by = get(
        &raw,
        "protoPayload.authenticationInfo.serviceAccountDelegationInfo",
    )
    .and_then(Value::as_array)
    .and_then(|chain| {
        chain.iter().find_map(|d| {
            d.get("firstPartyPrincipal")
                .and_then(|p| p.get("principalEmail"))
                .and_then(Value::as_str)
        })
    });
    put(
        &mut out,
        "gcp.audit.authentication_info.delegated_by",
        delegated_by.map(Value::from),
    );
    if let Some(ip) = text(&raw, "protoPayload.requestMetadata.callerIp").and_then(storage::ip_of) {
        put(&mut out, "source.ip", Some(ip.into()));
    }
    copy(
        &mut out,
        "protoPayload.requestMetadata.callerSuppliedUserAgent",
        "user_agent.original",
    );
    put(&mut out, "cloud.provider", Some("gcp".into()));
    copy(&mut out, "resource.labels.project_id", "cloud.project.id");
    copy(&mut out, "resource.labels.project_id", "cloud.account.id");
    copy(&mut out, "resource.labels.location", "cloud.region");
    for (from, to) in [
        ("protoPayload.authenticationInfo", "authentication_info"),
        ("protoPayload.authorizationInfo", "authorization_info"),
        (
            "protoPayload.requestMetadata.callerNetwork",
            "request_metadata.caller_network",
        ),
        ("protoPayload.resourceName", "resource_name"),
        ("protoPayload.methodName", "method_name"),
        ("protoPayload.serviceName", "service_name"),
        ("protoPayload.resourceLocation", "resource_location"),
        ("protoPayload.status", "status"),
        ("protoPayload.metadata", "metadata"),
        ("logName", "log_name"),
        ("severity", "severity"),
        ("resource.type", "resource_type"),
    ] {
        let to = format!("gcp.audit.{to}");
        // `authentication_info.delegated_by` is already there: merge, do not replace.
        if to == "gcp.audit.authentication_info" {
            if let Some(Value::Object(info)) = get(&raw, from) {
                for (k, v) in info {
                    put(&mut out, &format!("{to}.{k}"), Some(v.clone()));
                }
            }
            continue;
        }
        put(&mut out, &to, get(&raw, from).cloned());
    }
    if let Some(operation) = operation_class(method) {
        let (bucket, key) =
            text(&raw, "protoPayload.resourceName").map_or((None, None), split_resource);
        let bucket = bucket
            .filter(|b| b != "_")
            .or_else(|| text(&raw, "resource.labels.bucket_name").map(str::to_string));
        let store = Storage {
            path_prefix: "gs://".into(),
            bucket,
            key,
            operation: Some(operation),
            auth: Some(if email.is_some() {
                AuthMethod::OAuth
            } else {
                AuthMethod::Anonymous
            }),
            ..Storage::default()
        };
        store.write(&mut out);
    }
    if service == Some(VERTEX_AI_SERVICE) {
        vertex_ai(&raw, &mut out);
    }
    storage::data_stream(&mut out, DATASET, "gcp");
    Ok(out)
}

/// `serviceName` of Vertex AI's audit records.
pub const VERTEX_AI_SERVICE: &str = "aiplatform.googleapis.com";

/// The model of a resource name: what follows the last `/models/` up to the next `/` or `@`
/// (`projects/p/locations/l/publishers/google/models/gemini-1.5-pro-002` →
/// `gemini-1.5-pro-002`; `projects/p/locations/l/models/123@2` → `123`). None for names
/// without a model (endpoints, jobs).
pub fn vertex_model(resource: &str) -> Option<&str> {
    let (_, rest) = resource.rsplit_once("models/")?;
    let model = rest.split(['/', '@', ':']).next().unwrap_or_default();
    (!model.is_empty()).then_some(model)
}

/// Vertex AI's audit records (Admin Activity: `ModelService.UploadModel`, `.ExportModel`,
/// `EndpointService.DeployModel`, ...; Data Access: `PredictionService.GenerateContent`,
/// `.Predict`, `.RawPredict`, ...): the model the call names, under the LLM log's names.
fn vertex_ai(raw: &Value, out: &mut Map<String, Value>) {
    put(out, "gen_ai.system", Some(VERTEX_AI_SYSTEM.into()));
    let model = [
        "protoPayload.request.model",
        "protoPayload.resourceName",
        "protoPayload.request.name",
        "protoPayload.request.deployedModel.model",
    ]
    .into_iter()
    .find_map(|field| text(raw, field).and_then(vertex_model));
    put(out, "gen_ai.request.model", model.map(Value::from));
}

/// `gen_ai.system` of Vertex AI records (OpenTelemetry's older name, as LiteLLM writes it).
pub(crate) const VERTEX_AI_SYSTEM: &str = "vertex_ai";

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::GcsAudit,
    name: "gcs_audit",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED, super::storage::SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    super::partial_or_invalid(
        "gcs_audit",
        normalize(raw).map_err(|e| (e.to_string(), None)),
    )
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("gen_ai.system", Domain::Consts(&[VERTEX_AI_SYSTEM])),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        assert_eq!(
            split_resource("projects/_/buckets/ml/objects/a/b/model.gguf"),
            (Some("ml".into()), Some("a/b/model.gguf".into()))
        );
        assert_eq!(
            split_resource("projects/_/buckets/ml"),
            (Some("ml".into()), None)
        );
        assert_eq!(split_resource("projects/p"), (None, None));
    }

    #[test]
    fn classes() {
        assert_eq!(
            operation_class("storage.objects.get"),
            Some(Operation::Read)
        );
        assert_eq!(
            operation_class("storage.buckets.get"),
            Some(Operation::Config)
        );
        assert_eq!(
            operation_class("google.iam.admin.v1.CreateServiceAccountKey"),
            Some(Operation::Keys)
        );
        assert_eq!(
            operation_class("google.iam.credentials.v1.IAMCredentials.SignBlob"),
            Some(Operation::Share)
        );
        assert_eq!(operation_class("v1.compute.instances.insert"), None);
    }

    #[test]
    fn vertex_models() {
        assert_eq!(
            vertex_model(
                "projects/p/locations/us-central1/publishers/google/models/gemini-1.5-pro-002"
            ),
            Some("gemini-1.5-pro-002")
        );
        assert_eq!(
            vertex_model("projects/p/locations/us-central1/models/4242@3"),
            Some("4242")
        );
        assert_eq!(
            vertex_model("projects/p/locations/us-central1/endpoints/77"),
            None
        );
        assert_eq!(vertex_model("projects/p/locations/l/models/"), None);
    }
}
