//! Built-in log-source mapping: which events a rule's `logsource` selects.
//!
//! A known log source selects events by their `data_stream.dataset` (or `event.dataset`), the
//! source name modelward's normalizers write. Events that carry no dataset are of unknown
//! source and are selected by every log source, so plain JSON logs work with any rule (as
//! with ES|QL's FROM). A log source the table does not know applies to every event; the
//! loader warns once per rule.
//!
//! | logsource | datasets |
//! |---|---|
//! | `product: azure`, `service: openai` | `azure_openai.logs` |
//! | `product: azure`, `service: apim` | `azure_openai.logs` (API Management GatewayLogs) |
//! | `product: aws`, `service: bedrock` | `aws_bedrock.invocation` |
//! | `product: aws`, `service: cloudtrail` | `aws.cloudtrail` |
//! | `product: aws`, `service: s3` | `aws.s3access`, `aws.cloudtrail` |
//! | `product: openai`, `service: audit` | `openai.audit` (OpenAI's organisation audit log) |
//! | `product: azure`, `service: activitylogs` | `azure.activitylogs` (activity log of AI resources) |
//! | `product: gcp`, `service: gcp.audit` | `gcp.audit` (Cloud Audit Logs: Cloud Storage, IAM, Vertex AI) |
//! | `category: llm` | `azure_openai.logs`, `aws_bedrock.invocation`, `modelward.llm`, `litellm.logs`, `otel_genai`, `gcp_vertexai.prompt_response_logs`, and `aws.cloudtrail` records of Bedrock (`event.provider: bedrock.amazonaws.com`: `InvokeModel`, `Converse`, ...) |
//! | `category: object_storage` | `aws.s3access`, `aws.cloudtrail`, `azure.storage`, `gcp.audit` |

use modelward_event::Event;

use crate::rule::LogSource;

/// One row of the table: the log-source keys it requires and the datasets it selects.
struct Mapping {
    category: Option<&'static str>,
    product: Option<&'static str>,
    service: Option<&'static str>,
    datasets: &'static [&'static str],
    /// Datasets of which only the events of one provider are selected: (dataset,
    /// `event.provider`).
    scopes: &'static [(&'static str, &'static str)],
}

const fn map(
    category: Option<&'static str>,
    product: Option<&'static str>,
    service: Option<&'static str>,
    datasets: &'static [&'static str],
) -> Mapping {
    Mapping {
        category,
        product,
        service,
        datasets,
        scopes: &[],
    }
}

const TABLE: &[Mapping] = &[
    map(None, Some("azure"), Some("openai"), &["azure_openai.logs"]),
    map(None, Some("azure"), Some("apim"), &["azure_openai.logs"]),
    map(
        None,
        Some("aws"),
        Some("bedrock"),
        &["aws_bedrock.invocation"],
    ),
    map(None, Some("aws"), Some("cloudtrail"), &["aws.cloudtrail"]),
    map(
        None,
        Some("aws"),
        Some("s3"),
        &["aws.s3access", "aws.cloudtrail"],
    ),
    map(None, Some("openai"), Some("audit"), &["openai.audit"]),
    map(
        None,
        Some("azure"),
        Some("activitylogs"),
        &["azure.activitylogs"],
    ),
    map(None, Some("gcp"), Some("gcp.audit"), &["gcp.audit"]),
    Mapping {
        scopes: &[("aws.cloudtrail", "bedrock.amazonaws.com")],
        ..map(
            Some("llm"),
            None,
            None,
            &[
                "azure_openai.logs",
                "aws_bedrock.invocation",
                "modelward.llm",
                "litellm.logs",
                "otel_genai",
                "gcp_vertexai.prompt_response_logs",
                "aws.cloudtrail",
            ],
        )
    },
    map(
        Some("object_storage"),
        None,
        None,
        &[
            "aws.s3access",
            "aws.cloudtrail",
            "azure.storage",
            "gcp.audit",
        ],
    ),
];

/// The datasets a log source selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFilter {
    pub datasets: Vec<String>,
    /// Datasets of which only one provider's events are selected: (dataset,
    /// `event.provider`, compared ignoring ASCII case).
    pub scopes: Vec<(String, String)>,
}

impl SourceFilter {
    pub fn admits(&self, event: &Event) -> bool {
        match event
            .get_str("data_stream.dataset")
            .or_else(|| event.get_str("event.dataset"))
        {
            Some(ds) => {
                self.datasets.iter().any(|d| d == ds) && {
                    let mut scopes = self.scopes.iter().filter(|(d, _)| d == ds).peekable();
                    scopes.peek().is_none()
                        || scopes.any(|(_, p)| {
                            event
                                .get_str("event.provider")
                                .is_some_and(|have| have.eq_ignore_ascii_case(p))
                        })
                }
            }
            None => true,
        }
    }
}

fn eq(want: Option<&str>, have: &Option<String>) -> bool {
    want.is_none_or(|w| have.as_deref().is_some_and(|h| h.eq_ignore_ascii_case(w)))
}

/// The filter of a known log source; None for one the table does not know.
pub fn filter_for(ls: &LogSource) -> Option<SourceFilter> {
    TABLE
        .iter()
        .find(|m| {
            eq(m.category, &ls.category) && eq(m.product, &ls.product) && eq(m.service, &ls.service)
        })
        .map(|m| SourceFilter {
            datasets: m.datasets.iter().map(|d| d.to_string()).collect(),
            scopes: m
                .scopes
                .iter()
                .map(|(d, p)| (d.to_string(), p.to_string()))
                .collect(),
        })
}

/// `product: azure, service: openai` as text.
pub fn describe(ls: &LogSource) -> String {
    let parts: Vec<String> = [
        ("category", &ls.category),
        ("product", &ls.product),
        ("service", &ls.service),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}: {v}")))
    .collect();
    format!("`{}`", parts.join(", "))
}

/// Whether a filter's log source covers a rule's (each key the filter names must agree).
pub fn same_source(rule: &LogSource, filter: &LogSource) -> bool {
    eq(filter.category.as_deref(), &rule.category)
        && eq(filter.product.as_deref(), &rule.product)
        && eq(filter.service.as_deref(), &rule.service)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(
        category: Option<&str>,
        product: Option<&str>,
        service: Option<&str>,
    ) -> SourceFilter {
        let ls = LogSource {
            category: category.map(str::to_string),
            product: product.map(str::to_string),
            service: service.map(str::to_string),
            ..LogSource::default()
        };
        filter_for(&ls).unwrap()
    }

    fn event(json: &str) -> Event {
        Event::from_json(json).unwrap()
    }

    #[test]
    fn llm_selects_bedrock_cloudtrail_records_only() {
        let llm = filter(Some("llm"), None, None);
        let invoke = event(
            r#"{"data_stream":{"dataset":"aws.cloudtrail"},"event":{"provider":"bedrock.amazonaws.com","action":"InvokeModel"}}"#,
        );
        let s3 = event(
            r#"{"data_stream":{"dataset":"aws.cloudtrail"},"event":{"provider":"s3.amazonaws.com","action":"GetObject"}}"#,
        );
        let no_provider = event(r#"{"data_stream":{"dataset":"aws.cloudtrail"}}"#);
        assert!(llm.admits(&invoke));
        assert!(!llm.admits(&s3));
        assert!(!llm.admits(&no_provider));
        assert!(llm.admits(&event(r#"{"data_stream":{"dataset":"litellm.logs"}}"#)));
        // CloudTrail's own log source keeps every CloudTrail record.
        assert!(filter(None, Some("aws"), Some("cloudtrail")).admits(&s3));
    }

    #[test]
    fn azure_activity_logs() {
        let f = filter(None, Some("azure"), Some("activitylogs"));
        assert!(f.admits(&event(r#"{"event":{"dataset":"azure.activitylogs"}}"#)));
        assert!(!f.admits(&event(r#"{"event":{"dataset":"azure.storage"}}"#)));
    }
}
