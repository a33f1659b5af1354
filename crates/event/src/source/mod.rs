//! Source normalizers: one module per raw log format, each turning a vendor's record into
//! the field names rules are written against (ECS, Elastic integration names, OpenTelemetry
//! GenAI). [`normalize`] picks the normalizer per event, or applies the one forced.

use std::str::FromStr;

use serde_json::{Map, Value};

pub use contract::{
    check_provenance, may_synthesize, normalizer_for, Domain, Literal, Normalizer, Requirement,
    Synthesized, REGISTRY,
};

pub mod aws_bedrock;
pub mod azure_activity;
pub mod azure_blob;
pub mod azure_openai;
pub mod cloudtrail;
pub mod contract;
pub mod gcs_audit;
pub mod litellm;
pub mod modelward_llm;
pub mod openai_audit;
pub mod openai_body;
pub mod otel_genai;
mod paths;
pub mod pyrepr;
pub mod s3_access;
pub mod storage;
pub mod vertex_ai;

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
    /// OpenTelemetry GenAI spans and log records (OTLP/JSON).
    OtelGenAi,
    /// OpenAI's organisation audit log (`/v1/organization/audit_logs` objects).
    OpenAiAudit,
    /// Azure activity-log records of AI resources (control-plane operations).
    AzureActivity,
    /// Vertex AI request-response logging rows (a BigQuery table's export).
    VertexAi,
}

impl SourceKind {
    pub const NAMES: [&'static str; 14] = [
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
        "otel_genai",
        "openai_audit",
        "azure_activity",
        "vertex_ai",
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
            "otel_genai" | "otel-genai" | "otel" | "opentelemetry" => Ok(SourceKind::OtelGenAi),
            "openai_audit" | "openai-audit" => Ok(SourceKind::OpenAiAudit),
            "azure_activity" | "azure-activity" | "azure_activitylogs" => {
                Ok(SourceKind::AzureActivity)
            }
            "vertex_ai" | "vertex-ai" | "vertexai" | "vertex_ai_logs" => Ok(SourceKind::VertexAi),
            other => Err(format!(
                "unknown source [{other}]; expected one of {}",
                SourceKind::NAMES.join(", ")
            )),
        }
    }
}

/// Adds `gen_ai.*` fields to an Azure event that carries request and response bodies
/// (API Management GatewayLogs), so content detectors and GenAI rules read it like any LLM
/// call: the backend bodies, or the frontend ones (`request_body`, `response_body`, JSON
/// text) when the diagnostic setting logs only those. Adds `user_agent.original` from the
/// logged request headers (`request_headers`, when the setting logs headers). The Elastic
/// fields stay as they are.
pub(crate) fn add_genai(doc: &mut Map<String, Value>, frontend: &FrontendBodies) {
    let props = doc
        .get("azure")
        .and_then(|a| a.get("open_ai"))
        .and_then(|o| o.get("properties"));
    let Some(props) = props else { return };
    let user_agent = props
        .get("request_headers")
        .and_then(Value::as_object)
        .and_then(|headers| {
            headers.iter().find(|(name, _)| {
                let name: String = name.chars().filter(char::is_ascii_alphanumeric).collect();
                name.eq_ignore_ascii_case("useragent")
            })
        })
        .and_then(|(_, v)| match v {
            Value::String(s) => Some(s.clone()),
            Value::Array(items) => items.iter().find_map(Value::as_str).map(str::to_string),
            _ => None,
        })
        .filter(|s| !s.trim().is_empty());
    // A frontend body is parsed only when its backend copy is missing.
    let (request_front, response_front);
    let request = match props.get("backend_request_body") {
        Some(v) if !v.is_null() => v,
        _ => {
            request_front = frontend.parse(&frontend.request);
            &request_front
        }
    };
    let response = match props.get("backend_response_body") {
        Some(v) if !v.is_null() => v,
        _ => {
            response_front = frontend.parse(&frontend.response);
            &response_front
        }
    };
    let fields = if request.is_null() && response.is_null() {
        Map::new()
    } else {
        openai_body::genai_fields(request, response)
    };
    if let Some(ua) = user_agent {
        insert_path(doc, "user_agent.original", Value::String(ua));
    }
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

/// API Management's frontend bodies (`properties.requestBody`, `responseBody`: JSON text)
/// of a raw record, as the record holds them (read before Elastic's pipeline, which does not
/// keep them) and parsed only when [`add_genai`] needs them.
#[derive(Debug, Default)]
pub(crate) struct FrontendBodies {
    request: Value,
    response: Value,
}

impl FrontendBodies {
    /// A body as JSON: its text parsed (`null` when it is not JSON), an object as it is.
    fn parse(&self, body: &Value) -> Value {
        match body {
            Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            v @ Value::Object(_) => v.clone(),
            _ => Value::Null,
        }
    }
}

pub(crate) fn frontend_bodies(raw: &Map<String, Value>) -> FrontendBodies {
    let parsed;
    let props = match raw.get("properties") {
        Some(Value::Object(p)) => p,
        // Properties logged as JSON text are parsed for their bodies only when the text can
        // name one (a key spelled with escapes has a backslash).
        Some(Value::String(text))
            if ["requestBody", "responseBody", "\\"]
                .iter()
                .any(|k| memchr::memmem::find(text.as_bytes(), k.as_bytes()).is_some()) =>
        {
            match serde_json::from_str::<Map<String, Value>>(text) {
                Ok(p) => {
                    parsed = p;
                    &parsed
                }
                Err(_) => return FrontendBodies::default(),
            }
        }
        _ => return FrontendBodies::default(),
    };
    let body = |key: &str| match props.get(key) {
        Some(v @ (Value::String(_) | Value::Object(_))) => v.clone(),
        _ => Value::Null,
    };
    FrontendBodies {
        request: body("requestBody"),
        response: body("responseBody"),
    }
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

/// Normalizes one raw record: by the normalizer `kind` forces, or (`Auto`) the first of
/// [`REGISTRY`] that recognises it; a record no normalizer takes is used as it is.
pub fn normalize(raw: Map<String, Value>, kind: SourceKind) -> Result<Normalized, SourceError> {
    match normalizer_for(&raw, kind) {
        Some(normalizer) => normalizer.normalize(raw),
        None => Ok(Normalized::Event(raw)),
    }
}

/// A module's result: the document, or why not and the partial document the vendor's
/// pipeline indexes when it fails.
type ModuleResult = Result<Map<String, Value>, (String, Option<Map<String, Value>>)>;

/// A module's own error as the one [`SourceError`]: a pipeline failure whose document the
/// vendor indexes anyway becomes [`Normalized::Partial`], like every other source's.
fn partial_or_invalid(source: &str, result: ModuleResult) -> Result<Normalized, SourceError> {
    match result {
        Ok(doc) => Ok(Normalized::Event(doc)),
        Err((message, Some(partial))) => Ok(Normalized::Partial(partial, message)),
        Err((message, None)) => Err(SourceError::Invalid(format!("{source}: {message}"))),
    }
}
