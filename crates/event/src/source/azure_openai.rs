//! Normalizer for Azure OpenAI diagnostic logs.
//!
//! Turns one raw Azure diagnostic record, as written by a diagnostic setting
//! to a storage account or an Event Hub, into the document that Elastic's
//! `azure_openai` integration indexes into `logs-azure_openai.logs-*`. The
//! goal is field-for-field parity with that integration's ingest pipeline
//! (`data_stream/logs/elasticsearch/ingest_pipeline/default.yml` plus its
//! `azure-shared-pipeline.yml`), so that ES|QL detection rules written
//! against Elastic see the same fields, names, types and values here.
//!
//! Three record categories are kept: `Audit` and `RequestResponse` from
//! `Microsoft.CognitiveServices/accounts`, and `GatewayLogs` from an API
//! Management service placed in front of Azure OpenAI. Any other category
//! (or a record without `category`) is dropped, as Elastic drops it.
//!
//! # Field mapping
//!
//! | Raw record key                         | Normalized field                                   | Notes |
//! |----------------------------------------|----------------------------------------------------|-------|
//! | `time`                                 | `@timestamp`                                       | ISO-8601, converted to UTC and **truncated** to milliseconds: `2024-07-02T06:31:31.4465902Z` becomes `2024-07-02T06:31:31.446Z`. A missing or unparsable `time` gives no `@timestamp` (Elastic would fall back to the ingest time). `time` itself is removed. |
//! | `resourceId`                           | `azure.resource.id`                                | **Whole id lowercased.** |
//! | (from `resourceId`)                    | `azure.subscription_id`, `cloud.account.id`        | Lowercase GUID (braces kept if present). |
//! | (from `resourceId`)                    | `azure.resource.group`                             | Lowercase. |
//! | (from `resourceId`)                    | `azure.resource.provider`                          | Lowercase `namespace/type`, e.g. `microsoft.cognitiveservices/accounts`. |
//! | (from `resourceId`)                    | `azure.resource.name`                              | Lowercase; everything after the type, so nested ids keep their slashes. |
//! | `category`                             | `azure.open_ai.category`                           | Only `Audit`, `RequestResponse`, `GatewayLogs` (exact case) are kept. |
//! | `operationName`                        | `azure.open_ai.operation_name`                     | |
//! | `callerIpAddress` (`GatewayLogs`)      | `source.ip`, or `source.address` if not an IP       | Only for `GatewayLogs`. |
//! | `callerIpAddress` (other categories)   | `azure.open_ai.caller_ip_address`                  | Kept as text: Azure masks the last octet (`81.2.69.***`). |
//! | `durationMs`                           | `event.duration`                                   | Milliseconds × 1 000 000 with Java `int` arithmetic (see below). |
//! | `Level` / `level`                      | `log.level`                                        | Converted to a string (`4` becomes `"4"`). |
//! | `resultType`                           | `event.outcome`                                    | `Succeeded` → `success`, `Failed` → `failure` (case-insensitive). Removed for `GatewayLogs`, kept as `azure.open_ai.result_type` otherwise. |
//! | `properties` (object or JSON string)   | `azure.open_ai.properties.*`                       | A string is parsed as JSON first. Keys snake_cased recursively. |
//! | `properties.requestSize`               | `azure.open_ai.properties.request_length`          | APIM name aligned with the Cognitive Services name. |
//! | `properties.responseSize`              | `azure.open_ai.properties.response_length`         | Same. |
//! | `properties.method`                    | `http.request.method`                              | |
//! | `properties.responseCode`              | `http.response.status_code`                        | |
//! | `properties.url`                       | `url.original`, `url.scheme`, `url.domain`, `url.port`, `url.path`, `url.extension`, `url.query`, `url.fragment`, `url.user_info`, `url.username`, `url.password` | Parsed like Elasticsearch's `uri_parts` processor; the source field is removed when parsing succeeds. |
//! | `properties.requestBody`, `properties.responseBody` | (removed)                             | The APIM-side copies; the backend copies are kept. |
//! | `properties.backendRequestBody`        | `azure.open_ai.properties.backend_request_body.*`  | Parsed JSON; its inner keys keep their original spelling. |
//! | `properties.backendResponseBody`       | `azure.open_ai.properties.backend_response_body.*` | Parsed JSON; `usage.prompt_tokens` → `usage.input_tokens`, `usage.completion_tokens` → `usage.output_tokens`. |
//! | any other key, e.g. `correlationId`, `Tenant`, `DeploymentVersion`, `isRequestSuccess` | `azure.open_ai.<snake_case>` | `correlation_id`, `tenant`, `deployment_version`, `is_request_success`, … |
//! | —                                      | `cloud.provider`                                   | Always `azure`. |
//! | —                                      | `data_stream.{type,dataset,namespace}`, `event.dataset` | `logs`, `azure_openai.logs`, `default`; added by Elastic Agent, not by the pipeline. |
//!
//! # Behaviour worth knowing
//!
//! * **snake_case.** Keys are rewritten with the pipeline's regex
//!   `_?([a-z])([A-Z]+)` → `$1_$2` followed by lowercasing, applied to every
//!   key of the record and, recursively, of nested objects and of objects
//!   directly inside arrays. So `callerIpAddress` → `caller_ip_address`,
//!   `backendURL` → `backend_url`, but also `a_bC` → `ab_c` (the regex eats
//!   an underscore in front of a lowercase letter followed by capitals).
//!   Unknown keys are kept, not dropped: Elastic also keeps the whole record
//!   under `azure.open_ai` (fields its mapping does not declare are only
//!   dynamically mapped, or stay in `_source`).
//! * **Empty values are removed.** As a last step, `null`, `""`, and then
//!   any object or array left empty are removed, recursively (for example
//!   `"objectId": ""`, `"logprobs": null`, `"custom_blocklists": []`).
//! * **Durations.** `durationMs` is moved to `event.duration` and multiplied
//!   by 1 000 000 in Painless. A value that fits a Java `int` is multiplied
//!   as an `int`, so anything above 2147 ms wraps around (3000 ms gives
//!   `-1294967296`). This reproduces what the integration indexes; it is
//!   probably why negative durations were reported upstream. Strings are
//!   left as they are, floating-point values are multiplied as doubles.
//!   `properties.requestTime` / `responseTime` (.NET ticks) are kept as is.
//! * **IP addresses.** Only `GatewayLogs` get `source.ip`; the value must be
//!   a complete IPv4 or IPv6 address and is stored exactly as written.
//!   Anything else, masked addresses such as `10.0.0.***` included, goes to
//!   `source.address`. `RequestResponse` and `Audit` keep
//!   `azure.open_ai.caller_ip_address` even when it is a valid address.
//!   GeoIP (`source.geo`, `source.as`) is not reproduced here.
//! * **`event.kind` / `event.category`** are not set by the integration and
//!   are not set here either; `event.outcome` is set only from `resultType`.
//!
//! # Errors
//!
//! Elastic drops records whose category is not one of the three above:
//! [`NormalizeError::Dropped`]. When the pipeline itself fails, Elastic
//! still indexes the document as it was when the failing processor ran,
//! with `error.message` set; [`NormalizeError::PipelineFailed`] carries
//! that partial document. The cases are:
//! `properties` missing, not an object, or a string that is not valid JSON
//! (the pipeline removes it, then a script dereferences it);
//! `backendRequestBody` that is not valid JSON (APIM truncates large
//! bodies, which makes them invalid); a `requestSize`, `responseSize`,
//! `method`, `responseCode` or `usage` token count whose new name is
//! already taken. A `backendResponseBody` that is not valid JSON is kept as
//! a string; a `url` that cannot be parsed is kept in
//! `azure.open_ai.properties.url` and noted in `error.message`. Error
//! message texts describe the same failures as Elastic's but are not
//! byte-identical (Elastic's quote Java exceptions).
//!
//! # Input already in Elastic form
//!
//! An event that already has `azure.open_ai` (nested or as dotted keys) or
//! `data_stream` is passed through: dotted keys are expanded into nested
//! objects and `data_stream` is filled in if absent. Nothing else changes.
//!
//! Not reproduced: `event.original` (only kept by Elastic with the
//! `preserve_original_event` tag), `event.ingested`, agent and Event Hub
//! metadata, GeoIP enrichment.

use std::net::IpAddr;

use super::paths::{drop_empty_values, expand_dotted_keys};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `data_stream.dataset` of the normalized events.
pub const DATASET: &str = "azure_openai.logs";
/// `data_stream.namespace` of the normalized events.
pub const NAMESPACE: &str = "default";
/// `data_stream.type` of the normalized events.
pub const DATA_STREAM_TYPE: &str = "logs";

/// Name used in `error.message` texts where Elastic prints the pipeline id
/// (`logs-azure_openai.logs-<package version>`).
const PIPELINE_NAME: &str = "logs-azure_openai.logs";
const KEPT_CATEGORIES: [&str; 3] = ["Audit", "RequestResponse", "GatewayLogs"];
const GATEWAY_LOGS: &str = "GatewayLogs";
const NANOS_PER_MILLI: i32 = 1_000_000;
/// What Elasticsearch reports for a Painless runtime error (for example a
/// null dereference) in `_ingest.on_failure_message`.
const PAINLESS_RUNTIME_ERROR: &str = "runtime error";

const OPEN_AI: &str = "azure.open_ai";
const CATEGORY: &str = "azure.open_ai.category";
const PROPERTIES: &str = "azure.open_ai.properties";
const TIME: &str = "azure.open_ai.time";
const LEVEL: &str = "azure.open_ai.level";
const CALLER_IP: &str = "azure.open_ai.caller_ip_address";
const RESULT_TYPE: &str = "azure.open_ai.result_type";
const DURATION_MS: &str = "azure.open_ai.duration_ms";
const BACKEND_REQUEST_BODY: &str = "azure.open_ai.properties.backend_request_body";
const BACKEND_RESPONSE_BODY: &str = "azure.open_ai.properties.backend_response_body";
const PROPS_URL: &str = "azure.open_ai.properties.url";
const RESOURCE_ID: &str = "azure.resource.id";
const SUBSCRIPTION_ID: &str = "azure.subscription_id";
const EVENT_DURATION: &str = "event.duration";

/// Renames done by the pipeline after the properties are parsed, in order.
const RENAMES: [(&str, &str); 6] = [
    (
        "azure.open_ai.properties.request_size",
        "azure.open_ai.properties.request_length",
    ),
    (
        "azure.open_ai.properties.response_size",
        "azure.open_ai.properties.response_length",
    ),
    (
        "azure.open_ai.properties.backend_response_body.usage.prompt_tokens",
        "azure.open_ai.properties.backend_response_body.usage.input_tokens",
    ),
    (
        "azure.open_ai.properties.backend_response_body.usage.completion_tokens",
        "azure.open_ai.properties.backend_response_body.usage.output_tokens",
    ),
    ("azure.open_ai.properties.method", "http.request.method"),
    (
        "azure.open_ai.properties.response_code",
        "http.response.status_code",
    ),
];

/// Why a record could not be normalized.
#[derive(Debug, thiserror::Error)]
pub enum NormalizeError {
    /// Elastic's pipeline drops the record: only the `Audit`,
    /// `RequestResponse` and `GatewayLogs` categories are indexed.
    #[error(
        "record dropped: the azure_openai pipeline keeps only the Audit, RequestResponse and \
         GatewayLogs categories, this record has category {category}"
    )]
    Dropped {
        /// The record's `category`, as JSON (`"Trace"`), or `missing`.
        category: String,
    },
    /// Elastic's pipeline fails on this record. Elastic then indexes the
    /// document as it stood when the processor failed, with
    /// `error.message` set; that document is in `partial`.
    #[error(
        "the azure_openai ingest pipeline fails on this record in its {processor} processor: \
         {message}"
    )]
    PipelineFailed {
        /// Type of the failing processor (`script`, `json`, `rename`, …).
        processor: &'static str,
        /// What went wrong.
        message: String,
        /// The partially processed document Elastic would index.
        partial: Box<Map<String, Value>>,
    },
    /// An Elastic-form event uses the same path both for a value and for
    /// an object (for example `azure.open_ai` and `azure.open_ai.category`
    /// with `azure.open_ai` a string).
    #[error("field {path} is both a value and an object in this event")]
    FieldConflict {
        /// The dotted path in conflict.
        path: String,
    },
}

/// True if `obj` looks like a raw Azure diagnostic record of Azure OpenAI
/// (Cognitive Services) or of an API Management gateway, and is not
/// already in Elastic form.
///
/// With a `resourceId`, the record must name one of those two providers
/// and have `category`, `operationName` or `time`; without one, it must
/// have `operationName`, `time` and one of the three kept categories. The
/// category is not otherwise checked: a `Trace` record of an Azure OpenAI
/// account is recognized here and then dropped by [`normalize`].
pub fn looks_like(obj: &Map<String, Value>) -> bool {
    if is_elastic_form(obj) {
        return false;
    }
    match obj.get("resourceId") {
        Some(Value::String(id)) => {
            is_supported_resource_id(id)
                && ["category", "operationName", "time"]
                    .iter()
                    .any(|key| obj.contains_key(*key))
        }
        Some(_) => false,
        None => {
            let category = obj.get("category").and_then(Value::as_str);
            category.is_some_and(|c| KEPT_CATEGORIES.contains(&c))
                && obj.contains_key("operationName")
                && obj.contains_key("time")
        }
    }
}

/// Normalize one raw record into the nested document Elastic's
/// `azure_openai` integration would index (see the module documentation
/// for the mapping). An event already in Elastic form is passed through.
pub fn normalize(raw: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    if is_elastic_form(&raw) {
        return normalize_elastic_form(raw);
    }
    let mut doc = wrap_raw_record(raw);
    match run_pipeline(&mut doc) {
        Ok(Verdict::Keep) => {
            add_agent_fields(&mut doc);
            Ok(doc)
        }
        Ok(Verdict::Drop(category)) => Err(NormalizeError::Dropped { category }),
        Err(failure) => Err(failure.into_error(doc)),
    }
}

// ---------------------------------------------------------------------------
// Detection
// ---------------------------------------------------------------------------

fn is_elastic_form(obj: &Map<String, Value>) -> bool {
    let nested_open_ai = obj
        .get("azure")
        .and_then(Value::as_object)
        .is_some_and(|azure| azure.contains_key("open_ai"));
    nested_open_ai
        || obj.contains_key("data_stream")
        || obj.keys().any(|key| {
            key == "azure.open_ai"
                || key.starts_with("azure.open_ai.")
                || key.starts_with("data_stream.")
        })
}

fn is_supported_resource_id(id: &str) -> bool {
    let lower = id.to_ascii_lowercase();
    ["/microsoft.cognitiveservices/", "/microsoft.apimanagement/"]
        .iter()
        .any(|provider| memchr::memmem::find(lower.as_bytes(), provider.as_bytes()).is_some())
}

// ---------------------------------------------------------------------------
// The pipeline
// ---------------------------------------------------------------------------

enum Verdict {
    Keep,
    Drop(String),
}

/// A processor failure that is not handled inside the pipeline.
struct Failure {
    processor: &'static str,
    message: String,
}

impl Failure {
    fn new(processor: &'static str, message: impl Into<String>) -> Self {
        Failure {
            processor,
            message: message.into(),
        }
    }

    fn painless_runtime_error() -> Self {
        Failure::new("script", PAINLESS_RUNTIME_ERROR)
    }

    /// The pipeline-level `on_failure` handler: set `error.message` and
    /// index what there is.
    fn into_error(self, mut doc: Map<String, Value>) -> NormalizeError {
        let text = format!("{} {}", self.message, self.processor);
        let _ = put(&mut doc, "error.message", Value::String(text));
        add_agent_fields(&mut doc);
        NormalizeError::PipelineFailed {
            processor: self.processor,
            message: self.message,
            partial: Box::new(doc),
        }
    }
}

/// Puts the raw record under `azure.open_ai` and moves `resourceId` to
/// `azure.resource.id`, as the pipeline's first `json` and `rename` do.
fn wrap_raw_record(mut raw: Map<String, Value>) -> Map<String, Value> {
    let resource_id = raw.remove("resourceId");
    let mut azure = Map::new();
    if let Some(id) = resource_id {
        let mut resource = Map::new();
        resource.insert("id".to_owned(), id);
        azure.insert("resource".to_owned(), Value::Object(resource));
    }
    azure.insert("open_ai".to_owned(), Value::Object(raw));
    let mut doc = Map::new();
    doc.insert("azure".to_owned(), Value::Object(azure));
    doc
}

fn run_pipeline(doc: &mut Map<String, Value>) -> Result<Verdict, Failure> {
    if let Some(category) = dropped_category(doc) {
        return Ok(Verdict::Drop(category));
    }
    parse_string_properties(doc);
    snake_case_open_ai(doc);
    parse_backend_request_body(doc)?;
    replace_dots_in_keys(doc, "backend_request")?;
    parse_backend_response_body(doc);
    let _ignored_failure = replace_dots_in_keys(doc, "backend_response");
    set_timestamp(doc);
    move_log_level(doc);
    map_caller_ip(doc);
    set_event_outcome(doc);
    remove_gateway_result_type(doc);
    if holds_a_renamed_key(doc) {
        for (from, to) in RENAMES {
            rename(doc, from, to)?;
        }
    }
    parse_url(doc);
    remove_apim_bodies(doc);
    rename(doc, DURATION_MS, EVENT_DURATION)?;
    scale_duration_to_nanos(doc);
    run_shared_pipeline(doc);
    drop_empty_values(doc);
    Ok(Verdict::Keep)
}

/// Whether `properties` holds the first key of some rename's source (every source of
/// [`RENAMES`] is in it, and no rename writes another's source): when it does not, every
/// rename finds nothing to move and the record is spared their lookups.
fn holds_a_renamed_key(doc: &Map<String, Value>) -> bool {
    let Some(Value::Object(properties)) = get(doc, PROPERTIES) else {
        return false;
    };
    RENAMES.iter().any(|(from, _)| {
        let first = from
            .strip_prefix(PROPERTIES)
            .and_then(|rest| rest.strip_prefix('.'))
            .and_then(|rest| rest.split('.').next());
        // A source outside `properties` would always be tried.
        first.is_none_or(|key| properties.contains_key(key))
    })
}

/// `drop` processor: anything but the three categories is discarded.
fn dropped_category(doc: &Map<String, Value>) -> Option<String> {
    match get(doc, CATEGORY) {
        Some(Value::String(category)) if KEPT_CATEGORIES.contains(&category.as_str()) => None,
        Some(other) => Some(other.to_string()),
        None => Some("missing".to_owned()),
    }
}

/// `json` processor on a string `properties`. On failure the pipeline
/// removes `properties` and records the error; the next script then fails.
fn parse_string_properties(doc: &mut Map<String, Value>) {
    let parsed = match get(doc, PROPERTIES) {
        Some(Value::String(text)) => parse_json_strictly(text),
        _ => return,
    };
    match parsed {
        Ok(value) => {
            let _ = put(doc, PROPERTIES, value);
        }
        Err(message) => {
            take(doc, PROPERTIES);
            append_error(
                doc,
                format!(
                    "Processor json with tag json-extract-stringly-Properties in pipeline \
                     {PIPELINE_NAME} failed with message: {message}"
                ),
            );
        }
    }
}

fn snake_case_open_ai(doc: &mut Map<String, Value>) {
    if let Some(Value::Object(open_ai)) = take(doc, OPEN_AI) {
        let _ = put(doc, OPEN_AI, Value::Object(snake_case_map(open_ai)));
    }
}

/// `json` processor on `backend_request_body`, without failure handling.
fn parse_backend_request_body(doc: &mut Map<String, Value>) -> Result<(), Failure> {
    let parsed = match get(doc, BACKEND_REQUEST_BODY) {
        Some(Value::String(text)) => parse_json_strictly(text),
        _ => return Ok(()),
    };
    let value = parsed.map_err(|message| Failure::new("json", message))?;
    let _ = put(doc, BACKEND_REQUEST_BODY, value);
    Ok(())
}

/// `json` processor on `backend_response_body`, with `ignore_failure`.
fn parse_backend_response_body(doc: &mut Map<String, Value>) {
    let parsed = match get(doc, BACKEND_RESPONSE_BODY) {
        Some(Value::String(text)) => parse_json_strictly(text),
        _ => return,
    };
    if let Ok(value) = parsed {
        let _ = put(doc, BACKEND_RESPONSE_BODY, value);
    }
}

/// The Painless scripts that replace `.` with `_` in the keys of
/// `properties.backend_request` / `properties.backend_response`. They
/// dereference `properties` without a null check, so a record whose
/// `properties` is missing or not an object fails here.
fn replace_dots_in_keys(doc: &mut Map<String, Value>, key: &str) -> Result<(), Failure> {
    let Some(Value::Object(properties)) = get_mut(doc, PROPERTIES) else {
        return Err(Failure::painless_runtime_error());
    };
    match properties.get_mut(key) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(headers)) => {
            let renamed = std::mem::take(headers)
                .into_iter()
                .map(|(name, value)| (name.replace('.', "_"), value))
                .collect();
            *headers = renamed;
            Ok(())
        }
        Some(_) => Err(Failure::painless_runtime_error()),
    }
}

/// `date` processor (ISO8601, `ignore_failure`) then removal of `time`.
fn set_timestamp(doc: &mut Map<String, Value>) {
    let timestamp = take(doc, TIME).as_ref().and_then(timestamp_from_value);
    if let Some(timestamp) = timestamp {
        doc.insert("@timestamp".to_owned(), Value::String(timestamp));
    }
}

/// `convert` of `level` to a string in `log.level`, then removal of `level`.
fn move_log_level(doc: &mut Map<String, Value>) {
    match take(doc, LEVEL) {
        None | Some(Value::Null) => {}
        Some(level) => {
            let _ = put(doc, "log.level", java_string_value(&level));
        }
    }
}

/// `convert` of `caller_ip_address` to `source.ip` (type `ip`), only for
/// `GatewayLogs`; a value that is not an IP address is renamed to
/// `source.address` instead.
fn map_caller_ip(doc: &mut Map<String, Value>) {
    if !is_gateway_log(doc) {
        return;
    }
    let converted = match get(doc, CALLER_IP) {
        None | Some(Value::Null) => return,
        Some(value) => ip_value(value),
    };
    let Some(caller_ip) = take(doc, CALLER_IP) else {
        return;
    };
    let _ = match converted {
        Some(ip) => put(doc, "source.ip", ip),
        None => put(doc, "source.address", caller_ip),
    };
}

fn set_event_outcome(doc: &mut Map<String, Value>) {
    let outcome = match get(doc, RESULT_TYPE) {
        Some(Value::String(result)) => match result.to_lowercase().as_str() {
            "succeeded" => "success",
            "failed" => "failure",
            _ => return,
        },
        _ => return,
    };
    let _ = put(doc, "event.outcome", Value::String(outcome.to_owned()));
}

fn remove_gateway_result_type(doc: &mut Map<String, Value>) {
    let has_result_type = get(doc, RESULT_TYPE).is_some_and(|value| !value.is_null());
    if has_result_type && is_gateway_log(doc) {
        take(doc, RESULT_TYPE);
    }
}

/// `uri_parts` on `properties.url` into `url.*`; the original field is
/// removed when parsing succeeds, an error is recorded when it does not.
fn parse_url(doc: &mut Map<String, Value>) {
    let parsed = match get(doc, PROPS_URL) {
        None | Some(Value::Null) => return,
        Some(Value::String(text)) => uri_parts(text),
        Some(other) => Err(format!(
            "field [azure.open_ai.properties.url] of type [{}] cannot be cast to [java.lang.String]",
            java_type(other)
        )),
    };
    match parsed {
        Ok(url) => {
            doc.insert("url".to_owned(), Value::Object(url));
            take(doc, PROPS_URL);
        }
        Err(message) => append_error(
            doc,
            format!(
                "Processor uri_parts with tag uri_parts-properties-request_uri in pipeline \
                 {PIPELINE_NAME} failed with message: {message}"
            ),
        ),
    }
}

fn remove_apim_bodies(doc: &mut Map<String, Value>) {
    for body in ["response_body", "request_body"] {
        take(doc, &format!("{PROPERTIES}.{body}"));
    }
}

/// The Painless script `event.duration * 1000000` (`ignore_failure`).
fn scale_duration_to_nanos(doc: &mut Map<String, Value>) {
    let Some(duration) = get_mut(doc, EVENT_DURATION) else {
        return;
    };
    if let Some(scaled) = painless_times_million(duration) {
        *duration = scaled;
    }
}

/// Multiplication with Java's numeric promotion: `int * int` stays an
/// `int` (and wraps), `long * int` is a `long`, `double * int` a `double`.
/// Anything else makes the script fail, which the pipeline ignores.
fn painless_times_million(value: &Value) -> Option<Value> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(int) = number.as_i64().and_then(|n| i32::try_from(n).ok()) {
        return Some(Value::from(int.wrapping_mul(NANOS_PER_MILLI)));
    }
    if let Some(long) = number.as_i64() {
        return Some(Value::from(long.wrapping_mul(i64::from(NANOS_PER_MILLI))));
    }
    if number.is_u64() {
        // A Java BigInteger: Painless cannot multiply it.
        return None;
    }
    let double = number.as_f64()? * f64::from(NANOS_PER_MILLI);
    Number::from_f64(double).map(Value::Number)
}

/// `azure-shared-pipeline`: cloud provider, lowercased resource id, its
/// parts, and `cloud.account.id`. A failure inside it only sets
/// `error.message`.
fn run_shared_pipeline(doc: &mut Map<String, Value>) {
    let _ = put(doc, "cloud.provider", Value::String("azure".to_owned()));
    let lowered = match get(doc, RESOURCE_ID) {
        None | Some(Value::Null) => return,
        Some(id) => lowercase_value(id),
    };
    let id = match lowered {
        Ok(id) => id,
        Err(message) => {
            let _ = put(doc, "error.message", Value::String(message));
            return;
        }
    };
    let parts = id.as_str().and_then(parse_resource_id);
    let _ = put(doc, RESOURCE_ID, id);
    if let Some(parts) = parts {
        store_resource_parts(doc, parts);
    }
    copy_subscription_to_cloud_account(doc);
}

fn store_resource_parts(doc: &mut Map<String, Value>, parts: ResourceParts) {
    let fields = [
        (SUBSCRIPTION_ID, parts.subscription_id),
        ("azure.resource.group", parts.group),
        ("azure.resource.provider", parts.provider),
        ("azure.resource.name", parts.name),
    ];
    for (path, value) in fields {
        let _ = put(doc, path, Value::String(value));
    }
}

fn copy_subscription_to_cloud_account(doc: &mut Map<String, Value>) {
    let subscription = match get(doc, SUBSCRIPTION_ID) {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => return,
    };
    let _ = put(doc, "cloud.account.id", Value::String(subscription));
}

/// `lowercase` processor: strings and lists of strings only.
fn lowercase_value(value: &Value) -> Result<Value, String> {
    match value {
        Value::String(text) => Ok(Value::String(text.to_lowercase())),
        Value::Array(items) => items
            .iter()
            .map(lowercase_list_item)
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Err(format!(
            "field [azure.resource.id] of type [{}] cannot be cast to [java.lang.String]",
            java_type(other)
        )),
    }
}

fn lowercase_list_item(item: &Value) -> Result<Value, String> {
    match item {
        Value::String(text) => Ok(Value::String(text.to_lowercase())),
        other => Err(format!(
            "value [{}] of type [{}] in list field [azure.resource.id] cannot be cast to \
             [java.lang.String]",
            java_to_string(other),
            java_type(other)
        )),
    }
}

/// Elastic Agent adds the data stream fields and `event.dataset` to every
/// event it ships.
fn add_agent_fields(doc: &mut Map<String, Value>) {
    let mut data_stream = Map::new();
    data_stream.insert("dataset".to_owned(), Value::String(DATASET.to_owned()));
    data_stream.insert("namespace".to_owned(), Value::String(NAMESPACE.to_owned()));
    data_stream.insert(
        "type".to_owned(),
        Value::String(DATA_STREAM_TYPE.to_owned()),
    );
    doc.insert("data_stream".to_owned(), Value::Object(data_stream));
    if get(doc, "event.dataset").is_none() {
        let _ = put(doc, "event.dataset", Value::String(DATASET.to_owned()));
    }
}

fn is_gateway_log(doc: &Map<String, Value>) -> bool {
    matches!(get(doc, CATEGORY), Some(Value::String(category)) if category == GATEWAY_LOGS)
}

/// `append` to `error.message`, which becomes a list.
fn append_error(doc: &mut Map<String, Value>, message: String) {
    let previous = take(doc, "error.message");
    let messages = match previous {
        None => vec![Value::String(message)],
        Some(Value::Array(mut items)) => {
            items.push(Value::String(message));
            items
        }
        Some(scalar) => vec![scalar, Value::String(message)],
    };
    let _ = put(doc, "error.message", Value::Array(messages));
}

/// `rename` with `ignore_missing`: a present source (even `null`) is moved,
/// and the processor fails if the target already exists.
fn rename(doc: &mut Map<String, Value>, from: &str, to: &str) -> Result<(), Failure> {
    if get(doc, from).is_none() {
        return Ok(());
    }
    if get(doc, to).is_some() {
        return Err(Failure::new(
            "rename",
            format!("field [{to}] already exists"),
        ));
    }
    let Some(value) = take(doc, from) else {
        return Ok(());
    };
    put(doc, to, value)
}

// ---------------------------------------------------------------------------
// Events already in Elastic form
// ---------------------------------------------------------------------------

fn normalize_elastic_form(event: Map<String, Value>) -> Result<Map<String, Value>, NormalizeError> {
    let mut nested =
        expand_dotted_keys(event).map_err(|path| NormalizeError::FieldConflict { path })?;
    if !nested.contains_key("data_stream") {
        add_agent_fields(&mut nested);
    }
    Ok(nested)
}

// ---------------------------------------------------------------------------
// snake_case, as the pipeline's Painless `keysToSnakeCase`
// ---------------------------------------------------------------------------

fn snake_case_map(mut map: Map<String, Value>) -> Map<String, Value> {
    // Most nested maps (and every map written in snake_case already) keep their keys: then
    // only their values are converted, in place, and no map is rebuilt.
    if map.keys().all(|key| snake_case_keeps(key)) {
        map.values_mut().for_each(snake_case_in_place);
        return map;
    }
    let mut out = Map::new();
    for (key, mut value) in map {
        snake_case_in_place(&mut value);
        let key = if snake_case_keeps(&key) {
            key
        } else {
            snake_case_key(&key)
        };
        out.insert(key, value);
    }
    out
}

/// Objects are converted recursively; arrays only convert the objects they
/// directly contain (not arrays nested in arrays).
fn snake_case_in_place(value: &mut Value) {
    match value {
        Value::Object(map) => *map = snake_case_map(std::mem::take(map)),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(map) = item {
                    *map = snake_case_map(std::mem::take(map));
                }
            }
        }
        _ => {}
    }
}

/// Whether [`snake_case_key`] leaves `key` as it is: ASCII without a capital letter (the
/// regex needs one, and lowercasing changes nothing else).
fn snake_case_keeps(key: &str) -> bool {
    key.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// `regex /_?([a-z])([A-Z]+)/` replaced by `$1_$2`, then lowercased.
fn snake_case_key(key: &str) -> String {
    if key.is_ascii() {
        snake_case_ascii(key.as_bytes())
    } else {
        snake_case_chars(key)
    }
}

/// [`snake_case_key`] character by character, for any key.
fn snake_case_chars(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    let mut out = String::with_capacity(key.len() + 4);
    let mut pos = 0;
    while pos < chars.len() {
        let lower_at = if chars[pos] == '_' { pos + 1 } else { pos };
        let is_match = chars.get(lower_at).is_some_and(char::is_ascii_lowercase)
            && chars
                .get(lower_at + 1)
                .is_some_and(char::is_ascii_uppercase);
        if !is_match {
            out.push(chars[pos]);
            pos += 1;
            continue;
        }
        out.push(chars[lower_at]);
        out.push('_');
        pos = lower_at + 1;
        while let Some(upper) = chars.get(pos).filter(|c| c.is_ascii_uppercase()) {
            out.push(*upper);
            pos += 1;
        }
    }
    out.to_lowercase()
}

/// [`snake_case_key`] of an ASCII key, byte by byte (the same steps; ASCII lowercasing is
/// the whole of `to_lowercase` there).
fn snake_case_ascii(key: &[u8]) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut pos = 0;
    while pos < key.len() {
        let lower_at = if key[pos] == b'_' { pos + 1 } else { pos };
        let is_match = key.get(lower_at).is_some_and(u8::is_ascii_lowercase)
            && key.get(lower_at + 1).is_some_and(u8::is_ascii_uppercase);
        if !is_match {
            out.push(char::from(key[pos].to_ascii_lowercase()));
            pos += 1;
            continue;
        }
        out.push(char::from(key[lower_at]));
        out.push('_');
        pos = lower_at + 1;
        while let Some(upper) = key.get(pos).filter(|b| b.is_ascii_uppercase()) {
            out.push(char::from(upper.to_ascii_lowercase()));
            pos += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Resource id, as the shared pipeline's grok pattern
// ---------------------------------------------------------------------------

/// Parts of an Azure resource id.
struct ResourceParts {
    subscription_id: String,
    group: String,
    provider: String,
    name: String,
}

/// Matches the (already lowercased) id against the grok pattern
/// `(?i)/subscriptions/%{SUBID}/resourceGroups/%{GROUPID}/providers/%{PROVIDERNAME}/%{NAME}`
/// with `GROUPID = .+`, `PROVIDERNAME = ([A-Za-z])\w+.([A-Za-z])\w+/([A-Za-z])\w+.`
/// and `NAME = .+$`, unanchored at the start, backtracking like the regex
/// engine does.
fn parse_resource_id(id: &str) -> Option<ResourceParts> {
    let chars: Vec<char> = id.to_lowercase().chars().collect();
    let prefix: Vec<char> = "/subscriptions/".chars().collect();
    (0..chars.len())
        .filter(|&start| chars[start..].starts_with(&prefix))
        .find_map(|start| match_resource_id_at(&chars, start + prefix.len()))
}

fn match_resource_id_at(chars: &[char], subscription_start: usize) -> Option<ResourceParts> {
    const GROUPS_MARKER: &str = "/resourcegroups/";
    let guid_end = match_subscription_guid(chars, subscription_start)?;
    // `(\}){0,1}` is greedy: try with the closing brace first.
    let with_brace = (chars.get(guid_end) == Some(&'}')).then_some(guid_end + 1);
    [with_brace, Some(guid_end)]
        .into_iter()
        .flatten()
        .find_map(|end| {
            if !starts_with_str(chars, end, GROUPS_MARKER) {
                return None;
            }
            let group_start = end + GROUPS_MARKER.chars().count();
            let (group, provider, name) = match_group_and_provider(chars, group_start)?;
            Some(ResourceParts {
                subscription_id: chars[subscription_start..end].iter().collect(),
                group,
                provider,
                name,
            })
        })
}

/// `(\{){0,1}[0-9a-fA-F]{8}\-[0-9a-fA-F]{4}\-…\-[0-9a-fA-F]{12}`, without
/// the optional closing brace; returns the index after the last hex digit.
fn match_subscription_guid(chars: &[char], start: usize) -> Option<usize> {
    let mut pos = if chars.get(start) == Some(&'{') {
        start + 1
    } else {
        start
    };
    for (index, width) in [8, 4, 4, 4, 12].into_iter().enumerate() {
        if index > 0 {
            if chars.get(pos) != Some(&'-') {
                return None;
            }
            pos += 1;
        }
        let digits = chars.get(pos..pos + width)?;
        if !digits.iter().all(char::is_ascii_hexdigit) {
            return None;
        }
        pos += width;
    }
    Some(pos)
}

/// Group (greedy, so the last `/providers/` that works wins), provider and
/// name. Nothing here may cross a line break (`.` does not match one and
/// `$` is an end of line).
fn match_group_and_provider(
    chars: &[char],
    group_start: usize,
) -> Option<(String, String, String)> {
    let line_end = chars[group_start..]
        .iter()
        .position(|c| *c == '\n')
        .map_or(chars.len(), |offset| group_start + offset);
    let line = &chars[group_start..line_end];
    let marker: Vec<char> = "/providers/".chars().collect();
    (1..line.len())
        .rev()
        .filter(|&at| line[at..].starts_with(&marker))
        .find_map(|at| {
            let rest = &line[at + marker.len()..];
            let provider_end = match_provider_name(rest)?;
            Some((
                line[..at].iter().collect(),
                rest[..provider_end].iter().collect(),
                rest[provider_end + 1..].iter().collect(),
            ))
        })
}

/// `([A-Za-z])\w+.([A-Za-z])\w+/([A-Za-z])\w+.` followed by `/` and a
/// non-empty name; returns the end of the provider.
fn match_provider_name(text: &[char]) -> Option<usize> {
    for namespace_end in word_run_ends(text, 0) {
        // `.` after the namespace: any single character.
        let type_start = namespace_end + 1;
        if type_start >= text.len() {
            continue;
        }
        for type_end in word_run_ends(text, type_start) {
            if text.get(type_end) != Some(&'/') {
                continue;
            }
            for last_end in word_run_ends(text, type_end + 1) {
                let provider_end = last_end + 1;
                let has_name = text.len() > provider_end + 1;
                if provider_end < text.len() && text.get(provider_end) == Some(&'/') && has_name {
                    return Some(provider_end);
                }
            }
        }
    }
    None
}

/// Possible ends of `[A-Za-z]\w+` starting at `start`, longest first.
fn word_run_ends(text: &[char], start: usize) -> Vec<usize> {
    if !text.get(start).is_some_and(char::is_ascii_alphabetic) {
        return Vec::new();
    }
    let run = text[start + 1..]
        .iter()
        .take_while(|c| is_word_char(**c))
        .count();
    (start + 2..=start + 1 + run).rev().collect()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn starts_with_str(chars: &[char], at: usize, expected: &str) -> bool {
    expected
        .chars()
        .enumerate()
        .all(|(offset, wanted)| chars.get(at + offset) == Some(&wanted))
}

// ---------------------------------------------------------------------------
// Timestamps, as the `date` processor with format ISO8601
// ---------------------------------------------------------------------------

fn timestamp_from_value(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    let instant = parse_iso8601(&text)?;
    Some(format_millis(&instant))
}

/// `instant` as chrono's `%Y-%m-%dT%H:%M:%S%.3fZ` writes it, digit by digit for the years
/// 0 to 9999 (chrono then pads the year to four digits without a sign) outside a leap
/// second; any other instant through chrono.
fn format_millis(instant: &DateTime<Utc>) -> String {
    use chrono::{Datelike, Timelike};
    let (year, nanos) = (instant.year(), instant.nanosecond());
    let Ok(year) = u32::try_from(year) else {
        return instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        return instant.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    let mut out = String::with_capacity(24);
    let mut digits = |n: u32, width: u32, after: char| {
        for place in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
        }
        out.push(after);
    };
    digits(year, 4, '-');
    digits(instant.month(), 2, '-');
    digits(instant.day(), 2, 'T');
    digits(instant.hour(), 2, ':');
    digits(instant.minute(), 2, ':');
    digits(instant.second(), 2, '.');
    digits(nanos / 1_000_000, 3, 'Z');
    out
}

/// `yyyy[-MM[-dd[THH[:mm[:ss[.fffffffff]]][zone]]]]`, zone `Z`, `±HH`,
/// `±HHmm` or `±HH:mm`; no zone means UTC.
fn parse_iso8601(text: &str) -> Option<DateTime<Utc>> {
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let year = cursor.digits(4)?;
    let (mut month, mut day, mut full_date) = (1, 1, false);
    if cursor.eat(b'-') {
        month = cursor.digits(2)?;
        if cursor.eat(b'-') {
            day = cursor.digits(2)?;
            full_date = true;
        }
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if cursor.is_done() {
        return Some(Utc.from_utc_datetime(&date.and_time(NaiveTime::MIN)));
    }
    if !full_date || !cursor.eat(b'T') {
        return None;
    }
    let time = parse_time_of_day(&mut cursor)?;
    let offset_seconds = cursor.zone_offset_seconds()?;
    if !cursor.is_done() {
        return None;
    }
    let local = date.and_time(time);
    let utc = local.checked_sub_signed(TimeDelta::try_seconds(offset_seconds)?)?;
    Some(Utc.from_utc_datetime(&utc))
}

fn parse_time_of_day(cursor: &mut Cursor<'_>) -> Option<NaiveTime> {
    let hour = cursor.digits(2)?;
    let (mut minute, mut second, mut nanos) = (0, 0, 0);
    if cursor.eat(b':') {
        minute = cursor.digits(2)?;
        if cursor.eat(b':') {
            second = cursor.digits(2)?;
            if cursor.eat(b'.') || cursor.eat(b',') {
                nanos = cursor.fraction_nanos()?;
            }
        }
    }
    if second > 59 {
        return None;
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn is_done(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    fn eat(&mut self, expected: u8) -> bool {
        let found = self.bytes.get(self.pos) == Some(&expected);
        if found {
            self.pos += 1;
        }
        found
    }

    fn digits(&mut self, count: usize) -> Option<u32> {
        let slice = self.bytes.get(self.pos..self.pos + count)?;
        let mut number = 0u32;
        for byte in slice {
            if !byte.is_ascii_digit() {
                return None;
            }
            number = number * 10 + u32::from(byte - b'0');
        }
        self.pos += count;
        Some(number)
    }

    /// One to nine digits, as nanoseconds.
    fn fraction_nanos(&mut self) -> Option<u32> {
        let count = self.bytes[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if count == 0 || count > 9 {
            return None;
        }
        let digits = self.digits(count)?;
        Some(digits * 10u32.pow(u32::try_from(9 - count).ok()?))
    }

    /// Seconds east of UTC; `Some(0)` when there is no zone at all.
    fn zone_offset_seconds(&mut self) -> Option<i64> {
        if self.is_done() || self.eat(b'Z') {
            return Some(0);
        }
        let sign = if self.eat(b'+') {
            1
        } else if self.eat(b'-') {
            -1
        } else {
            return None;
        };
        let hours = self.digits(2)?;
        let minutes = if self.is_done() {
            0
        } else {
            self.eat(b':');
            self.digits(2)?
        };
        if hours > 18 || minutes > 59 {
            return None;
        }
        Some(sign * i64::from(hours * 3600 + minutes * 60))
    }
}

// ---------------------------------------------------------------------------
// URLs, as the `uri_parts` processor (java.net.URI, then java.net.URL)
// ---------------------------------------------------------------------------

#[derive(Default)]
struct UriComponents {
    scheme: Option<String>,
    user_info: Option<String>,
    host: Option<String>,
    port: Option<u32>,
    path: Option<String>,
    query: Option<String>,
    fragment: Option<String>,
}

fn uri_parts(text: &str) -> Result<Map<String, Value>, String> {
    let components = parse_uri_strictly(text)
        .or_else(|| parse_url_leniently(text))
        .ok_or_else(|| format!("unable to parse URI [{text}]"))?;
    Ok(components.into_fields(text))
}

impl UriComponents {
    fn into_fields(self, original: &str) -> Map<String, Value> {
        let mut out = Map::new();
        let mut put_text = |key: &str, value: Option<String>| {
            if let Some(value) = value {
                out.insert(key.to_owned(), Value::String(value));
            }
        };
        put_text("domain", self.host);
        put_text("fragment", self.fragment);
        put_text("extension", self.path.as_deref().and_then(path_extension));
        put_text("path", self.path);
        put_text("query", self.query);
        put_text("scheme", self.scheme);
        if let Some(user_info) = self.user_info {
            if let Some((username, password)) = user_info.split_once(':') {
                put_text("username", Some(username.to_owned()));
                put_text("password", Some(password.to_owned()));
            }
            put_text("user_info", Some(user_info));
        }
        put_text("original", Some(original.to_owned()));
        if let Some(port) = self.port {
            out.insert("port".to_owned(), Value::from(port));
        }
        out
    }
}

/// Extension of the last path segment, only if the path has a `/`.
fn path_extension(path: &str) -> Option<String> {
    let last_segment = &path[path.rfind('/')?..];
    let dot = last_segment.rfind('.')?;
    Some(last_segment[dot + 1..].to_owned())
}

/// The subset of `java.net.URI` parsing that `uri_parts` relies on; `None`
/// where Java throws `URISyntaxException`.
fn parse_uri_strictly(text: &str) -> Option<UriComponents> {
    if !text.chars().all(is_uri_char) || !has_valid_escapes(text) {
        return None;
    }
    let (before_fragment, fragment) = match text.split_once('#') {
        Some((_, fragment)) if fragment.contains('#') => return None,
        Some((before, fragment)) => (before, Some(fragment)),
        None => (text, None),
    };
    let (scheme, rest) = split_scheme(before_fragment)?;
    if scheme.is_some() && !rest.starts_with('/') {
        // Opaque URI such as `mailto:x`: no path, query or host.
        return (!rest.is_empty()).then(|| UriComponents {
            scheme: scheme.map(str::to_owned),
            fragment: fragment.map(percent_decode),
            ..UriComponents::default()
        });
    }
    let (hierarchical, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = split_authority(hierarchical);
    if path.contains(['[', ']']) {
        return None;
    }
    if authority == Some("") && path.is_empty() {
        return None;
    }
    let server = authority
        .map(parse_server_authority)
        .unwrap_or(Some(ServerAuthority::default()))?;
    Some(UriComponents {
        scheme: scheme.map(str::to_owned),
        user_info: server.user_info.as_deref().map(percent_decode),
        host: server.host,
        port: server.port,
        path: Some(percent_decode(path)),
        query: query.map(percent_decode),
        fragment: fragment.map(percent_decode),
    })
}

fn is_uri_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "-_.!~*'();/?:@&=+$,[]%#".contains(c)
    } else {
        !c.is_control() && !c.is_whitespace()
    }
}

fn has_valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'%')
        .all(|(at, _)| {
            bytes
                .get(at + 1..at + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
        })
}

/// `Some((scheme, rest))`; `None` if a `:` before any `/?#` does not end a
/// valid scheme.
fn split_scheme(text: &str) -> Option<(Option<&str>, &str)> {
    let colon = text.find(':');
    let stop = text.find(['/', '?', '#']).unwrap_or(text.len());
    match colon {
        Some(colon) if colon < stop => {
            let scheme = &text[..colon];
            let mut chars = scheme.chars();
            let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            valid.then(|| (Some(scheme), &text[colon + 1..]))
        }
        _ => Some((None, text)),
    }
}

fn split_authority(text: &str) -> (Option<&str>, &str) {
    match text.strip_prefix("//") {
        Some(rest) => {
            let end = rest.find('/').unwrap_or(rest.len());
            (Some(&rest[..end]), &rest[end..])
        }
        None => (None, text),
    }
}

#[derive(Default)]
struct ServerAuthority {
    user_info: Option<String>,
    host: Option<String>,
    port: Option<u32>,
}

/// Server-based authority (`userinfo@host:port`). When Java cannot read it
/// as one, it is a registry-based authority and host, port and user info
/// are all absent. Brackets outside a valid IPv6 literal are an error.
fn parse_server_authority(authority: &str) -> Option<ServerAuthority> {
    let (user_info, host_port) = match authority.split_once('@') {
        Some((user, rest)) => (Some(user), rest),
        None => (None, authority),
    };
    let (host, port_text) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (literal, after) = bracketed.split_once(']')?;
        literal.parse::<std::net::Ipv6Addr>().ok()?;
        (
            format!("[{literal}]"),
            after.strip_prefix(':').or(after.is_empty().then_some("")),
        )
    } else if host_port.contains(['[', ']']) {
        return None;
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host.to_owned(), Some(port)),
            None => (host_port.to_owned(), Some("")),
        }
    };
    let registry = Some(ServerAuthority::default());
    let Some(port_text) = port_text else {
        return registry;
    };
    let user_ok = user_info.is_none_or(|user| user.chars().all(is_user_info_char));
    if !user_ok || !is_server_host(&host) || !port_text.chars().all(|c| c.is_ascii_digit()) {
        return registry;
    }
    let port = match port_text {
        "" => None,
        digits => match digits.parse::<u32>() {
            Ok(port) => Some(port),
            Err(_) => return registry,
        },
    };
    Some(ServerAuthority {
        user_info: user_info.map(str::to_owned),
        host: Some(host),
        port,
    })
}

fn is_user_info_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()%;:&=+$,".contains(c)
}

/// An IPv6 literal, a dotted IPv4 address, or a host name whose labels are
/// letters, digits and inner dashes, the last label starting with a letter
/// when there are several.
fn is_server_host(host: &str) -> bool {
    if host.starts_with('[') {
        return true;
    }
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let labels: Vec<&str> = host.strip_suffix('.').unwrap_or(host).split('.').collect();
    let labels_ok = labels.iter().all(|label| {
        !label.is_empty()
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    let last_ok = labels.len() == 1
        || labels
            .last()
            .is_some_and(|label| label.starts_with(|c: char| c.is_ascii_alphabetic()));
    labels_ok && last_ok
}

/// The `java.net.URL` fallback: only known protocols, components taken
/// verbatim (no percent-decoding).
fn parse_url_leniently(text: &str) -> Option<UriComponents> {
    let (scheme, rest) = text.split_once(':')?;
    let known = ["http", "https", "ftp", "file", "jar"];
    if !known.contains(&scheme.to_ascii_lowercase().as_str()) {
        return None;
    }
    let (rest, fragment) = match rest.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment.to_owned())),
        None => (rest, None),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query.to_owned())),
        None => (rest, None),
    };
    let (authority, path) = split_authority(rest);
    let mut components = UriComponents {
        scheme: Some(scheme.to_ascii_lowercase()),
        path: Some(path.to_owned()),
        query,
        fragment,
        ..UriComponents::default()
    };
    if let Some(authority) = authority {
        let (user_info, host_port) = match authority.rsplit_once('@') {
            Some((user, rest)) => (Some(user.to_owned()), rest),
            None => (None, authority),
        };
        let (host, port) = match host_port
            .rsplit_once(':')
            .filter(|_| !host_port.ends_with(']'))
        {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.parse::<u32>().ok()?)),
            None => (host_port, None),
        };
        components.user_info = user_info;
        components.host = Some(host.to_owned());
        components.port = port;
    }
    Some(components)
}

fn percent_decode(text: &str) -> String {
    if !text.contains('%') {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut pos = 0;
    while pos < bytes.len() {
        let escaped = (bytes[pos] == b'%')
            .then(|| bytes.get(pos + 1..pos + 3))
            .flatten()
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                pos += 3;
            }
            None => {
                out.push(bytes[pos]);
                pos += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Conversions with Java semantics
// ---------------------------------------------------------------------------

/// `convert` with `type: ip`: the value (each element of a list) must be an
/// IPv4 or IPv6 address; it is kept exactly as written.
fn ip_value(value: &Value) -> Option<Value> {
    match value {
        Value::Array(items) => items
            .iter()
            .map(ip_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
        other => {
            let text = java_to_string(other);
            text.parse::<IpAddr>()
                .is_ok()
                .then_some(Value::String(text))
        }
    }
}

/// `convert` with `type: string`.
fn java_string_value(value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(java_string_value).collect()),
        Value::Null => Value::Null,
        other => Value::String(java_to_string(other)),
    }
}

/// `Object.toString()` of the value Elasticsearch's JSON parser produces.
fn java_to_string(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(flag) => flag.to_string(),
        Value::Number(number) => java_number(number),
        Value::String(text) => text.clone(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(java_to_string).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(key, item)| format!("{key}={}", java_to_string(item)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

fn java_number(number: &Number) -> String {
    if let Some(int) = number.as_i64() {
        return int.to_string();
    }
    if let Some(unsigned) = number.as_u64() {
        return unsigned.to_string();
    }
    number
        .as_f64()
        .map_or_else(|| number.to_string(), java_double)
}

/// `Double.toString`: plain notation with at least one decimal between
/// 10^-3 and 10^7, computerized scientific notation (`1.0E7`) outside.
fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".to_owned();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let plain = format!("{value}");
        return if plain.contains('.') {
            plain
        } else {
            format!("{plain}.0")
        };
    }
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific
        .split_once('e')
        .unwrap_or((scientific.as_str(), "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_owned()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

fn java_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "java.lang.Boolean",
        Value::Number(number) if number.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => {
            "java.lang.Integer"
        }
        Value::Number(number) if number.is_i64() => "java.lang.Long",
        Value::Number(number) if number.is_u64() => "java.math.BigInteger",
        Value::Number(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Array(_) => "java.util.ArrayList",
        Value::Object(_) => "java.util.HashMap",
    }
}

// ---------------------------------------------------------------------------
// JSON parsing like the `json` processor: strict, no duplicate keys
// ---------------------------------------------------------------------------

/// Parses `text` as the `json` processor does: any JSON value, nothing but
/// whitespace after it, duplicate keys rejected; blank text gives `null`.
fn parse_json_strictly(text: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = NoDuplicateKeys
        .deserialize(&mut deserializer)
        .map_err(|e| e.to_string())?;
    deserializer.end().map_err(|e| e.to_string())?;
    Ok(value)
}

struct NoDuplicateKeys;

impl<'de> DeserializeSeed<'de> for NoDuplicateKeys {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(NoDuplicateKeysVisitor)
    }
}

struct NoDuplicateKeysVisitor;

impl<'de> Visitor<'de> for NoDuplicateKeysVisitor {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Value, E> {
        Ok(Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(NoDuplicateKeys)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(de::Error::custom(format!("Duplicate field '{key}'")));
            }
            let value = access.next_value_seed(NoDuplicateKeys)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

// ---------------------------------------------------------------------------
// Paths in nested objects
// ---------------------------------------------------------------------------

/// Splits a dotted path into its parent path (if any) and its last key.
fn split_path(path: &str) -> (Option<&str>, &str) {
    match path.rsplit_once('.') {
        Some((parents, last)) => (Some(parents), last),
        None => (None, path),
    }
}

fn parent<'a>(
    doc: &'a Map<String, Value>,
    parents: Option<&str>,
) -> Option<&'a Map<String, Value>> {
    let mut map = doc;
    for key in parents.into_iter().flat_map(|p| p.split('.')) {
        map = map.get(key)?.as_object()?;
    }
    Some(map)
}

fn parent_mut<'a>(
    doc: &'a mut Map<String, Value>,
    parents: Option<&str>,
) -> Option<&'a mut Map<String, Value>> {
    let mut map = doc;
    for key in parents.into_iter().flat_map(|p| p.split('.')) {
        map = map.get_mut(key)?.as_object_mut()?;
    }
    Some(map)
}

fn get<'a>(doc: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let (parents, last) = split_path(path);
    parent(doc, parents)?.get(last)
}

fn get_mut<'a>(doc: &'a mut Map<String, Value>, path: &str) -> Option<&'a mut Value> {
    let (parents, last) = split_path(path);
    parent_mut(doc, parents)?.get_mut(last)
}

fn take(doc: &mut Map<String, Value>, path: &str) -> Option<Value> {
    let (parents, last) = split_path(path);
    parent_mut(doc, parents)?.remove(last)
}

/// Sets a value, creating missing parent objects; fails like Elasticsearch
/// when a parent exists but is not an object.
fn put(doc: &mut Map<String, Value>, path: &str, value: Value) -> Result<(), Failure> {
    let (parents, last) = split_path(path);
    let mut map = doc;
    for key in parents.into_iter().flat_map(|p| p.split('.')) {
        let slot = map
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        map = match slot {
            Value::Object(inner) => inner,
            other => {
                let message = format!(
                    "cannot set [{last}] with parent object of type [{}] as part of path [{path}]",
                    java_type(other)
                );
                return Err(Failure::new("set", message));
            }
        };
    }
    map.insert(last.to_owned(), value);
    Ok(())
}

use super::contract::{self, Domain, Synthesized};

/// This source's normalizer in the [`super::REGISTRY`].
pub static SOURCE: contract::Source = contract::Source {
    kind: super::SourceKind::AzureOpenAi,
    name: "azure_openai",
    looks_like,
    normalize: normalize_record,
    synthesized: &[SYNTHESIZED],
};

/// [`normalize`] under the one contract.
fn normalize_record(raw: Map<String, Value>) -> Result<super::Normalized, super::SourceError> {
    let frontend = super::frontend_bodies(&raw);
    let result = match normalize(raw) {
        Err(NormalizeError::Dropped { category }) => {
            return Err(super::SourceError::Dropped(format!(
                "azure_openai: category {category} is not indexed by the integration"
            )))
        }
        Ok(doc) => Ok(doc),
        Err(NormalizeError::PipelineFailed {
            processor,
            message,
            partial,
        }) => Err(pipeline_failed(processor, message, *partial)),
        Err(e) => Err((e.to_string(), None)),
    };
    super::partial_or_invalid("azure_openai", result).map(|n| match n {
        super::Normalized::Event(mut doc) => {
            super::add_genai(&mut doc, &frontend);
            super::Normalized::Event(doc)
        }
        super::Normalized::Partial(mut doc, why) => {
            super::add_genai(&mut doc, &frontend);
            super::Normalized::Partial(doc, why)
        }
    })
}

/// A pipeline failure's message, and the document the vendor indexes anyway.
fn pipeline_failed(
    processor: &'static str,
    message: String,
    partial: Map<String, Value>,
) -> (String, Option<Map<String, Value>>) {
    let text = NormalizeError::PipelineFailed {
        processor,
        message,
        partial: Box::default(),
    }
    .to_string();
    (text, Some(partial))
}

/// The fields this normalizer writes itself (see [`super::contract`]).
const SYNTHESIZED: &[Synthesized] = &[
    Synthesized::new("data_stream.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("event.dataset", Domain::Consts(&[DATASET])),
    Synthesized::new("gen_ai.system", Domain::Consts(&["az.ai.openai"])),
    Synthesized::new("gen_ai.request", contract::NUMBER),
    Synthesized::new("gen_ai.usage", contract::NUMBER),
    Synthesized::new("azure.open_ai", contract::NUMBER),
    Synthesized::new("gen_ai.content_filter", contract::BOOL),
    Synthesized::new("gen_ai.prompt", Domain::Any),
    Synthesized::new("gen_ai.completion", Domain::Any),
    // Tool calls and results (`openai_body::tool_fields`): arguments re-serialized, text
    // parts joined.
    Synthesized::new("gen_ai.tool", Domain::Any),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_follows_the_painless_regex() {
        let cases = [
            ("callerIpAddress", "caller_ip_address"),
            ("DeploymentVersion", "deployment_version"),
            ("Tenant", "tenant"),
            ("backendURL", "backend_url"),
            ("URLPath", "urlpath"),
            ("ipv4Address", "ipv4address"),
            ("a_bC", "ab_c"),
            ("already_snake", "already_snake"),
            ("aBcD", "a_bc_d"),
            ("", ""),
        ];
        for (raw, expected) in cases {
            assert_eq!(snake_case_key(raw), expected, "key {raw}");
        }
    }

    #[test]
    fn renames_read_only_properties_and_write_no_source() {
        // What `holds_a_renamed_key` relies on to skip them.
        for (from, to) in RENAMES {
            assert!(from.starts_with("azure.open_ai.properties."), "{from}");
            assert!(RENAMES.iter().all(|(other, _)| other != &to), "{to}");
        }
        let mut doc = wrap_raw_record(Map::new());
        let _ = put(&mut doc, PROPERTIES, serde_json::json!({"api_name": "x"}));
        assert!(!holds_a_renamed_key(&doc));
        let _ = put(
            &mut doc,
            "azure.open_ai.properties.method",
            Value::from("POST"),
        );
        assert!(holds_a_renamed_key(&doc));
    }

    #[test]
    fn timestamps_are_written_as_chrono_writes_them() {
        let chrono = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let instants = [
            "2024-07-02T06:31:31.4465902Z",
            "2025-03-01T00:00:04.8152603Z",
            "0000-01-01T00:00:00Z",
            "0009-12-31T23:59:59.999999999Z",
            "9999-12-31T23:59:59.9999Z",
            "1970-01-01T00:00:00.0005+01:00",
            "2016-12-31T23:59:60.5Z",
            "2024-02-29T12:00:00.100Z",
        ];
        for text in instants {
            let Some(t) = parse_iso8601(text) else {
                continue;
            };
            assert_eq!(format_millis(&t), chrono(&t), "{text}");
        }
        for t in [
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 6, 15, 8, 9, 10).unwrap(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .unwrap()
                .and_utc(),
        ] {
            assert_eq!(format_millis(&t), chrono(&t));
        }
        let t = parse_iso8601("2024-07-02T06:31:31.4465902Z").unwrap();
        assert_eq!(format_millis(&t), "2024-07-02T06:31:31.446Z");
    }

    #[test]
    fn the_ascii_snake_case_is_the_general_one() {
        // Every key of up to five characters over an alphabet that exercises each branch of
        // the regex: the byte path and the shortcut for kept keys agree with the char path.
        let alphabet = ['a', 'z', 'B', 'Z', '_', '7', '.'];
        let mut keys = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = keys
                .iter()
                .filter(|k| k.len() == keys.last().map_or(0, String::len))
                .flat_map(|k| alphabet.iter().map(move |c| format!("{k}{c}")))
                .collect();
            keys.extend(longer);
        }
        for key in &keys {
            let general = snake_case_chars(key);
            assert_eq!(snake_case_key(key), general, "key {key}");
            if snake_case_keeps(key) {
                assert_eq!(&general, key, "key {key} is kept");
            }
        }
        assert_eq!(snake_case_key("ÄbC"), "äb_c");
        assert!(!snake_case_keeps("über"));
    }

    #[test]
    fn snake_case_converts_nested_maps_in_place_or_rebuilt() {
        let raw: Value = serde_json::json!({
            "kept": {"innerKey": [{"deepKey": 1}, [{"notConverted": 2}]], "plain": {"aB": 3}},
            "outerKey": {"x": null}
        });
        let Value::Object(map) = raw else {
            unreachable!()
        };
        let out = Value::Object(snake_case_map(map));
        assert_eq!(
            out,
            serde_json::json!({
                "kept": {"inner_key": [{"deep_key": 1}, [{"notConverted": 2}]], "plain": {"a_b": 3}},
                "outer_key": {"x": null}
            })
        );
    }

    #[test]
    fn resource_id_parts_follow_the_grok_pattern() {
        let id = "/subscriptions/12cabcb4-86e8-404f-a3d2-1dc9982f45ca/resourcegroups/rg-1/providers/microsoft.cognitiveservices/accounts/my-ai";
        let parts = parse_resource_id(id).expect("parts");
        assert_eq!(
            parts.subscription_id,
            "12cabcb4-86e8-404f-a3d2-1dc9982f45ca"
        );
        assert_eq!(parts.group, "rg-1");
        assert_eq!(parts.provider, "microsoft.cognitiveservices/accounts");
        assert_eq!(parts.name, "my-ai");
    }

    #[test]
    fn nested_resource_names_keep_their_slashes() {
        let id = "/subscriptions/{12cabcb4-86e8-404f-a3d2-1dc9982f45ca}/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/ai/deployments/gpt";
        let parts = parse_resource_id(id).expect("parts");
        assert_eq!(
            parts.subscription_id,
            "{12cabcb4-86e8-404f-a3d2-1dc9982f45ca}"
        );
        assert_eq!(parts.provider, "microsoft.cognitiveservices/accounts");
        assert_eq!(parts.name, "ai/deployments/gpt");
    }

    #[test]
    fn resource_ids_without_the_full_shape_do_not_match() {
        for id in [
            "/subscriptions/not-a-guid/resourcegroups/rg/providers/a.b/c/d",
            "/subscriptions/12cabcb4-86e8-404f-a3d2-1dc9982f45ca/resourcegroups/rg",
            "/subscriptions/12cabcb4-86e8-404f-a3d2-1dc9982f45ca/resourcegroups/rg/providers/microsoft.cognitiveservices/accounts/",
            "",
        ] {
            assert!(parse_resource_id(id).is_none(), "{id}");
        }
    }

    #[test]
    fn timestamps_are_truncated_to_milliseconds_in_utc() {
        let cases = [
            ("2024-07-02T06:31:31.4465902Z", "2024-07-02T06:31:31.446Z"),
            ("2024-04-17T06:03:30.0000000Z", "2024-04-17T06:03:30.000Z"),
            ("2024-04-17T08:03:30+02:00", "2024-04-17T06:03:30.000Z"),
            ("2024-04-17T06:03:30", "2024-04-17T06:03:30.000Z"),
            ("2024-04-17", "2024-04-17T00:00:00.000Z"),
            ("2024-04-17T06:03-0130", "2024-04-17T07:33:00.000Z"),
        ];
        for (raw, expected) in cases {
            let value = Value::String(raw.to_owned());
            assert_eq!(
                timestamp_from_value(&value).as_deref(),
                Some(expected),
                "{raw}"
            );
        }
        for raw in [
            "",
            "yesterday",
            "2024-13-01T00:00:00Z",
            "2024-04-17T25:00:00Z",
            "2024-04-17 06:03:30",
        ] {
            assert!(
                timestamp_from_value(&Value::String(raw.to_owned())).is_none(),
                "{raw}"
            );
        }
    }

    #[test]
    fn uri_parts_splits_urls_like_elasticsearch() {
        let url = "https://user:pw@apim.azure-api.net:8443/deployments/gpt/chat.json?api-version=2024-02-15-preview#top";
        let parts = uri_parts(url).expect("parts");
        assert_eq!(parts["scheme"], "https");
        assert_eq!(parts["domain"], "apim.azure-api.net");
        assert_eq!(parts["port"], 8443);
        assert_eq!(parts["path"], "/deployments/gpt/chat.json");
        assert_eq!(parts["extension"], "json");
        assert_eq!(parts["query"], "api-version=2024-02-15-preview");
        assert_eq!(parts["fragment"], "top");
        assert_eq!(parts["username"], "user");
        assert_eq!(parts["password"], "pw");
        assert_eq!(parts["original"], url);
        let lenient = uri_parts("https://host/a b?q=1").expect("URL fallback");
        assert_eq!(lenient["path"], "/a b");
        assert!(uri_parts("not a uri").is_err());
        assert_eq!(uri_parts("/a%20b").expect("relative")["path"], "/a b");
    }

    #[test]
    fn painless_multiplication_wraps_like_java_int() {
        assert_eq!(
            painless_times_million(&Value::from(176)),
            Some(Value::from(176_000_000))
        );
        assert_eq!(
            painless_times_million(&Value::from(3000)),
            Some(Value::from(-1_294_967_296))
        );
        assert_eq!(
            painless_times_million(&Value::from(3_000_000_000i64)),
            Some(Value::from(3_000_000_000_000_000i64))
        );
        assert_eq!(painless_times_million(&Value::from("12")), None);
        assert_eq!(
            painless_times_million(&Value::from(1.5)),
            Some(Value::from(1_500_000.0))
        );
    }

    #[test]
    fn java_doubles_print_like_java() {
        assert_eq!(java_double(4.0), "4.0");
        assert_eq!(java_double(0.5), "0.5");
        assert_eq!(java_double(1e7), "1.0E7");
        assert_eq!(java_double(1.25e-5), "1.25E-5");
    }

    #[test]
    fn strict_json_rejects_duplicates_and_trailing_data() {
        assert!(parse_json_strictly(r#"{"a":1,"a":2}"#).is_err());
        assert!(parse_json_strictly(r#"{"a":1} x"#).is_err());
        assert_eq!(parse_json_strictly(" \n").ok(), Some(Value::Null));
        assert_eq!(
            parse_json_strictly("{\"a\":[1]}\n").ok(),
            Some(serde_json::json!({"a":[1]}))
        );
    }
}
