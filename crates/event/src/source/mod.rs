//! Source normalizers: one module per raw log format, each turning a vendor's record into
//! the field names rules are written against (ECS, Elastic integration names, OpenTelemetry
//! GenAI). [`normalize`] picks the normalizer per event, or applies the one forced.

use std::str::FromStr;

use serde_json::{Map, Value};

pub mod aws_bedrock;
pub mod azure_blob;
pub mod azure_openai;
pub mod cloudtrail;
pub mod gcs_audit;
pub mod litellm;
pub mod modelward_llm;
pub mod openai_body;
mod paths;
pub mod s3_access;
pub mod storage;

/// Which normalizer applies to input events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SourceKind {
    /// Detected per event from its shape; unknown shapes pass through unchanged.
    #[default]
    Auto,
    /// Events are used as they are.
    Json,
    /// Azure OpenAI / API Management diagnostic records (Elastic's `azure_openai` form).
    AzureOpenAi,
    /// modelward's own LLM request log (docs/llm-log.md).
    ModelwardLlm,
    /// AWS Bedrock model invocation logs (Elastic's `aws_bedrock` form).
    AwsBedrock,
    /// LiteLLM proxy `StandardLoggingPayload` records (what its logging callbacks emit).
    LiteLlm,
    /// Amazon S3 server access log lines.
    S3Access,
    /// AWS CloudTrail records (S3 data events with `storage.*`).
    CloudTrail,
    /// Azure Storage resource logs (StorageBlobLogs) and storage-account activity records.
    AzureBlob,
    /// Google Cloud Audit Logs (Cloud Storage data access).
    GcsAudit,
}

impl SourceKind {
    pub const NAMES: [&'static str; 10] = [
        "auto",
        "json",
        "azure_openai",
        "aws_bedrock",
        "litellm",
        "modelward_llm",
        "s3_access",
        "cloudtrail",
        "azure_blob",
        "gcs_audit",
    ];
}

impl FromStr for SourceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<SourceKind, String> {
        match s {
            "auto" => Ok(SourceKind::Auto),
            "json" | "ecs" | "elastic" => Ok(SourceKind::Json),
            "azure_openai" | "azure-openai" => Ok(SourceKind::AzureOpenAi),
            "modelward_llm" | "modelward-llm" => Ok(SourceKind::ModelwardLlm),
            "aws_bedrock" | "aws-bedrock" | "bedrock" => Ok(SourceKind::AwsBedrock),
            "litellm" | "litellm_proxy" | "litellm-proxy" => Ok(SourceKind::LiteLlm),
            "s3_access" | "s3-access" | "s3access" => Ok(SourceKind::S3Access),
            "cloudtrail" | "aws_cloudtrail" => Ok(SourceKind::CloudTrail),
            "azure_blob" | "azure-blob" | "azure_storage" => Ok(SourceKind::AzureBlob),
            "gcs_audit" | "gcs-audit" | "gcp_audit" => Ok(SourceKind::GcsAudit),
            other => Err(format!(
                "unknown source [{other}]; expected one of {}",
                SourceKind::NAMES.join(", ")
            )),
        }
    }
}

/// String values a normalizer may write that its raw input need not contain (all but the
/// storage ones: [`synthesized_values`] gives every one). The literal prefilter treats them
/// as present in every record, so it never rejects a record whose normalized form would
/// match.
pub const SYNTHESIZED_VALUES: &[&str] = &[
    "azure_openai.logs",
    "default",
    "logs",
    "azure",
    "success",
    "failure",
    "az.ai.openai",
    "modelward.llm",
    "aws_bedrock.invocation",
    "aws",
    "bedrock",
    "8.11.0",
    "litellm.logs",
    "litellm",
    // Object storage; its `storage.*` values are storage.rs's own list.
    "aws.s3access",
    "aws.cloudtrail",
    "azure.storage",
    "gcp.audit",
    "gcp",
    "s3",
    "blob",
];

/// Every value a normalizer may write that its raw input need not contain:
/// [`SYNTHESIZED_VALUES`] and the storage normalizers' [`storage::SYNTHESIZED`].
pub fn synthesized_values() -> impl Iterator<Item = &'static str> {
    SYNTHESIZED_VALUES
        .iter()
        .chain(storage::SYNTHESIZED)
        .copied()
}

/// Adds `gen_ai.*` fields to an Azure event that carries request and response bodies
/// (API Management GatewayLogs), so content detectors and GenAI rules read it like any LLM
/// call. The Elastic fields stay as they are.
fn add_genai(doc: &mut Map<String, Value>) {
    let props = doc
        .get("azure")
        .and_then(|a| a.get("open_ai"))
        .and_then(|o| o.get("properties"));
    let Some(props) = props else { return };
    let request = props
        .get("backend_request_body")
        .cloned()
        .unwrap_or(Value::Null);
    let response = props
        .get("backend_response_body")
        .cloned()
        .unwrap_or(Value::Null);
    if request.is_null() && response.is_null() {
        return;
    }
    let fields = openai_body::genai_fields(&request, &response);
    if fields.is_empty() {
        return;
    }
    let mut genai = Map::new();
    for (key, value) in fields {
        insert_path(&mut genai, key.trim_start_matches("gen_ai."), value);
    }
    genai.insert("system".into(), Value::String("az.ai.openai".into()));
    doc.insert("gen_ai".into(), Value::Object(genai));
}

/// Inserts `value` at a dotted path, creating objects on the way.
fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            map.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = map
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(inner) = entry {
                insert_path(inner, rest, value);
            }
        }
    }
}

/// Why an event was not normalized.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The vendor's pipeline would drop this record (not an error in the log, but not an
    /// event either).
    #[error("{0}")]
    Dropped(String),
    #[error("{0}")]
    Invalid(String),
}

/// The outcome of normalizing one record.
#[derive(Debug)]
pub enum Normalized {
    Event(Map<String, Value>),
    /// The event as the vendor's pipeline indexes it when the pipeline fails (with
    /// `error.message` set), and why.
    Partial(Map<String, Value>, String),
}

/// The object-storage source a record is for, forced or detected.
fn storage_source(raw: &Map<String, Value>, kind: SourceKind) -> Option<SourceKind> {
    match kind {
        SourceKind::S3Access
        | SourceKind::CloudTrail
        | SourceKind::AzureBlob
        | SourceKind::GcsAudit => Some(kind),
        SourceKind::Auto if s3_access::looks_like(raw) => Some(SourceKind::S3Access),
        SourceKind::Auto if cloudtrail::looks_like(raw) => Some(SourceKind::CloudTrail),
        SourceKind::Auto if azure_blob::looks_like(raw) => Some(SourceKind::AzureBlob),
        SourceKind::Auto if gcs_audit::looks_like(raw) => Some(SourceKind::GcsAudit),
        _ => None,
    }
}

fn normalize_storage(
    raw: Map<String, Value>,
    kind: SourceKind,
) -> Result<Map<String, Value>, SourceError> {
    let invalid = |e: &dyn std::fmt::Display| SourceError::Invalid(e.to_string());
    match kind {
        SourceKind::S3Access => s3_access::normalize(raw).map_err(|e| invalid(&e)),
        SourceKind::CloudTrail => cloudtrail::normalize(raw).map_err(|e| invalid(&e)),
        SourceKind::AzureBlob => azure_blob::normalize(raw).map_err(|e| invalid(&e)),
        _ => gcs_audit::normalize(raw).map_err(|e| invalid(&e)),
    }
}

/// Normalizes one raw record.
pub fn normalize(raw: Map<String, Value>, kind: SourceKind) -> Result<Normalized, SourceError> {
    if let Some(storage_kind) = storage_source(&raw, kind) {
        return normalize_storage(raw, storage_kind).map(Normalized::Event);
    }
    let llm_log = match kind {
        SourceKind::ModelwardLlm => true,
        SourceKind::Auto => modelward_llm::looks_like(&raw),
        _ => false,
    };
    if llm_log {
        return Ok(Normalized::Event(modelward_llm::normalize(raw)));
    }
    let litellm_log = match kind {
        SourceKind::LiteLlm => true,
        SourceKind::Auto => litellm::looks_like(&raw),
        _ => false,
    };
    if litellm_log {
        return Ok(Normalized::Event(litellm::normalize(raw)));
    }
    let bedrock = match kind {
        SourceKind::AwsBedrock => true,
        SourceKind::Auto => aws_bedrock::looks_like(&raw),
        _ => false,
    };
    if bedrock {
        return aws_bedrock::normalize(raw)
            .map(Normalized::Event)
            .map_err(|e| SourceError::Invalid(format!("aws_bedrock: {e}")));
    }
    let azure = match kind {
        SourceKind::Json
        | SourceKind::ModelwardLlm
        | SourceKind::AwsBedrock
        | SourceKind::LiteLlm
        | SourceKind::S3Access
        | SourceKind::CloudTrail
        | SourceKind::AzureBlob
        | SourceKind::GcsAudit => false,
        SourceKind::AzureOpenAi => true,
        SourceKind::Auto => azure_openai::looks_like(&raw),
    };
    if !azure {
        return Ok(Normalized::Event(raw));
    }
    match azure_openai::normalize(raw) {
        Ok(mut doc) => {
            add_genai(&mut doc);
            Ok(Normalized::Event(doc))
        }
        Err(azure_openai::NormalizeError::Dropped { category }) => Err(SourceError::Dropped(
            format!("azure_openai: category {category} is not indexed by the integration"),
        )),
        Err(e @ azure_openai::NormalizeError::PipelineFailed { .. }) => {
            let message = e.to_string();
            match e {
                azure_openai::NormalizeError::PipelineFailed { partial, .. } => {
                    Ok(Normalized::Partial(*partial, message))
                }
                _ => Err(SourceError::Invalid(message)),
            }
        }
        Err(e) => Err(SourceError::Invalid(e.to_string())),
    }
}
