//! Source normalizers: one module per raw log format, each turning a vendor's record into
//! the field names rules are written against (ECS, Elastic integration names, OpenTelemetry
//! GenAI). [`normalize`] picks the normalizer per event, or applies the one forced.

use std::str::FromStr;

use serde_json::{Map, Value};

pub mod azure_openai;

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
}

impl SourceKind {
    pub const NAMES: [&'static str; 3] = ["auto", "json", "azure_openai"];
}

impl FromStr for SourceKind {
    type Err = String;

    fn from_str(s: &str) -> Result<SourceKind, String> {
        match s {
            "auto" => Ok(SourceKind::Auto),
            "json" | "ecs" | "elastic" => Ok(SourceKind::Json),
            "azure_openai" | "azure-openai" => Ok(SourceKind::AzureOpenAi),
            other => Err(format!(
                "unknown source [{other}]; expected one of {}",
                SourceKind::NAMES.join(", ")
            )),
        }
    }
}

/// String values a normalizer may write that its raw input need not contain. The literal
/// prefilter treats them as present in every record, so it never rejects a record whose
/// normalized form would match.
pub const SYNTHESIZED_VALUES: &[&str] = &[
    "azure_openai.logs",
    "default",
    "logs",
    "azure",
    "success",
    "failure",
];

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

/// Normalizes one raw record.
pub fn normalize(raw: Map<String, Value>, kind: SourceKind) -> Result<Normalized, SourceError> {
    let azure = match kind {
        SourceKind::Json => false,
        SourceKind::AzureOpenAi => true,
        SourceKind::Auto => azure_openai::looks_like(&raw),
    };
    if !azure {
        return Ok(Normalized::Event(raw));
    }
    match azure_openai::normalize(raw) {
        Ok(doc) => Ok(Normalized::Event(doc)),
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
