//! Raw diagnostic records, shaped like the ones Azure writes for
//! `Microsoft.CognitiveServices/accounts` (categories `RequestResponse`
//! and `Audit`) and `Microsoft.ApiManagement/service` (`GatewayLogs`).

use chrono::DateTime;
use serde_json::{json, Value};

use crate::rng::Rng;
use crate::text;
use crate::world::{Account, Deployment, Gateway, ModelKind};

/// 100-nanosecond ticks per second (the unit of Azure's 7-digit
/// timestamps and of .NET `DateTime` ticks).
pub(crate) const TICKS_PER_SECOND: i128 = 10_000_000;
pub(crate) const TICKS_PER_MILLI: i128 = 10_000;
/// .NET ticks at the Unix epoch.
const DOTNET_UNIX_EPOCH_TICKS: i128 = 621_355_968_000_000_000;

const API_VERSIONS: [(&str, u32); 6] = [
    ("2024-10-21", 6),
    ("2024-06-01", 4),
    ("2024-02-15-preview", 2),
    ("2024-08-01-preview", 2),
    ("2025-01-01-preview", 2),
    ("2023-05-15", 1),
];

/// Status code, weight.
const STATUSES: [(u16, u32); 6] = [
    (200, 930),
    (429, 40),
    (400, 15),
    (401, 5),
    (500, 5),
    (408, 5),
];

/// `time` as Azure writes it: UTC with seven fractional digits.
pub(crate) fn format_time(unix_ticks: i128) -> String {
    let seconds = unix_ticks.div_euclid(TICKS_PER_SECOND);
    let fraction = unix_ticks.rem_euclid(TICKS_PER_SECOND);
    let date_time = i64::try_from(seconds)
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0));
    match date_time {
        Some(dt) => format!("{}.{fraction:07}Z", dt.format("%Y-%m-%dT%H:%M:%S")),
        None => String::new(),
    }
}

fn dotnet_ticks(unix_ticks: i128) -> u64 {
    u64::try_from(unix_ticks + DOTNET_UNIX_EPOCH_TICKS).unwrap_or(0)
}

fn api_version(rng: &mut Rng) -> &'static str {
    rng.weighted_copy(&API_VERSIONS)
}

fn masked_ip(rng: &mut Rng, networks: &[&'static str]) -> String {
    let network = networks.get(rng.index(networks.len())).unwrap_or(&"10.0.0");
    format!("{network}.***")
}

fn full_ip(rng: &mut Rng, networks: &[&'static str]) -> String {
    let network = networks.get(rng.index(networks.len())).unwrap_or(&"10.0.0");
    format!("{network}.{}", rng.between(2, 254))
}

fn operation_for(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::Chat => "ChatCompletions_Create",
        ModelKind::Embedding => "Embeddings_Create",
        ModelKind::Completion => "Completions_Create",
    }
}

/// Picks the deployment a call goes to: mostly chat, then embeddings,
/// some legacy completions where the account has such a deployment.
fn pick_deployment<'a>(rng: &mut Rng, account: &'a Account) -> Option<&'a Deployment> {
    let kind = rng.weighted_copy(&[
        (ModelKind::Chat, 70),
        (ModelKind::Embedding, 22),
        (ModelKind::Completion, 8),
    ]);
    account
        .deployment(kind)
        .or_else(|| account.deployment(ModelKind::Chat))
        .or_else(|| account.deployments.first())
}

struct CallShape {
    duration_ms: u64,
    request_length: u64,
    response_length: u64,
    streaming: bool,
}

fn call_shape(rng: &mut Rng, kind: ModelKind, status: u16) -> CallShape {
    let streaming = kind == ModelKind::Chat && rng.chance(0.4);
    if status != 200 {
        return CallShape {
            duration_ms: rng.log_normal_int(40.0, 0.8, 3, 2_000),
            request_length: rng.log_normal_int(1_200.0, 0.9, 40, 60_000),
            response_length: rng.log_normal_int(320.0, 0.3, 150, 1_200),
            streaming,
        };
    }
    match kind {
        ModelKind::Chat | ModelKind::Completion => CallShape {
            duration_ms: rng.log_normal_int(1_400.0, 0.8, 120, 90_000),
            request_length: rng.log_normal_int(1_500.0, 1.0, 60, 400_000),
            response_length: rng.log_normal_int(
                if streaming { 5_500.0 } else { 1_800.0 },
                0.7,
                200,
                200_000,
            ),
            streaming,
        },
        ModelKind::Embedding => CallShape {
            duration_ms: rng.log_normal_int(90.0, 0.6, 15, 5_000),
            request_length: rng.log_normal_int(700.0, 1.0, 30, 300_000),
            response_length: 0,
            streaming,
        },
    }
}

/// A `RequestResponse` record of an Azure OpenAI account.
pub(crate) fn request_response(rng: &mut Rng, account: &Account, unix_ticks: i128) -> Value {
    let Some(deployment) = pick_deployment(rng, account) else {
        return Value::Null;
    };
    let status = rng.weighted_copy(&STATUSES);
    let mut shape = call_shape(rng, deployment.model.kind, status);
    if deployment.model.kind == ModelKind::Embedding && status == 200 {
        let inputs = rng.log_normal_int(2.0, 1.0, 1, 64);
        shape.response_length = inputs * deployment.model.dimensions * 11 + 260;
    }
    let response_ticks = unix_ticks - i128::from(rng.below(40)) * TICKS_PER_MILLI;
    let request_ticks = response_ticks - i128::from(shape.duration_ms) * TICKS_PER_MILLI;
    let object_id = if rng.chance(0.3) {
        pick_owned(rng, &account.app_identities)
    } else {
        String::new()
    };
    let properties = json!({
        "apiName": format!("Azure OpenAI API version {}", api_version(rng)),
        "requestTime": dotnet_ticks(request_ticks),
        "requestLength": shape.request_length,
        "responseTime": dotnet_ticks(response_ticks),
        "responseLength": shape.response_length,
        "objectId": object_id,
        "streamType": if shape.streaming { "Streaming" } else { "Non-Streaming" },
        "modelDeploymentName": deployment.name,
        "modelName": deployment.model.name,
        "modelVersion": deployment.model.version,
    });
    // Some pipelines deliver `properties` as a JSON string; so does Azure
    // for part of the records.
    let properties = if rng.chance(0.1) {
        Value::String(properties.to_string())
    } else {
        properties
    };
    json!({
        "Tenant": account.region,
        "callerIpAddress": masked_ip(rng, &account.client_networks),
        "category": "RequestResponse",
        "correlationId": rng.guid(),
        "durationMs": shape.duration_ms,
        "event": "ShoeboxCallResult",
        "location": account.region,
        "operationName": operation_for(deployment.model.kind),
        "properties": properties,
        "resourceId": account.resource_id,
        "resultSignature": status.to_string(),
        "time": format_time(unix_ticks),
    })
}

fn pick_owned(rng: &mut Rng, items: &[String]) -> String {
    items
        .get(rng.index(items.len()))
        .cloned()
        .unwrap_or_default()
}

/// An `Audit` `ListKey` record: someone read the account's keys.
pub(crate) fn list_key(account: &Account, caller_object_id: &str, unix_ticks: i128) -> Value {
    json!({
        "AssetIdentity": account.asset_identity,
        "Tenant": account.region,
        "category": "Audit",
        "operationName": "ListKey",
        "properties": { "objectId": caller_object_id },
        "resourceId": account.resource_id,
        "time": format_time(unix_ticks),
    })
}

/// A `GatewayLogs` record of an API Management service relaying a chat
/// completion to one of its backend accounts, with both bodies.
pub(crate) fn gateway(
    rng: &mut Rng,
    gateway: &Gateway,
    backend: &Account,
    unix_ticks: i128,
) -> Value {
    let deployment = backend
        .deployment(ModelKind::Chat)
        .or_else(|| backend.deployments.first());
    let Some(deployment) = deployment else {
        return Value::Null;
    };
    let version = api_version(rng);
    let status = rng.weighted_copy(&[(200u16, 94), (429, 4), (400, 2)]);
    // The prompts the content filter refuses are jailbreak attempts.
    let request_body = chat_request_body(rng, &deployment.name, status == 400);
    let response_body = match status {
        200 => chat_response_body(rng, deployment, &request_body, unix_ticks),
        429 => rate_limit_body(rng, version),
        _ => content_filter_body(),
    };
    let backend_time = match status {
        200 => rng.log_normal_int(1_300.0, 0.7, 150, 60_000),
        _ => rng.log_normal_int(60.0, 0.6, 5, 2_000),
    };
    let duration = backend_time + rng.between(3, 40);
    let path = format!(
        "/openai/deployments/{}/chat/completions?api-version={version}",
        deployment.name
    );
    let request_text = request_body.to_string();
    let response_text = format!("{response_body}\n");
    let success = status == 200;
    json!({
        "DeploymentVersion": gateway.deployment_version,
        "Level": 4,
        "Sku": gateway.sku,
        "callerIpAddress": full_ip(rng, &gateway.client_networks),
        "category": "GatewayLogs",
        "correlationId": rng.guid(),
        "durationMs": duration,
        "isRequestSuccess": success,
        "location": gateway.region_display,
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "properties": {
            "apiId": "azure-openai-api",
            "apiRevision": "1",
            "apimSubscriptionId": pick_owned(rng, &gateway.subscriptions),
            "backendMethod": "POST",
            "backendProtocol": "HTTP/1.1",
            "backendRequestBody": request_text,
            "backendResponseBody": response_text,
            "backendResponseCode": status,
            "backendTime": backend_time,
            "backendUrl": format!("https://{}.openai.azure.com{path}", backend.name),
            "cache": "none",
            "clientProtocol": "HTTP/1.1",
            "clientTlsVersion": rng.pick_copy(&["1.2", "1.3"]),
            "method": "POST",
            "operationId": "ChatCompletions_Create",
            "requestBody": request_text,
            "requestSize": request_text.len() + 420 + rng.below(200) as usize,
            "responseBody": response_text,
            "responseCode": status,
            "responseSize": response_text.len() + 380 + rng.below(200) as usize,
            "url": format!("https://{}.azure-api.net{path}", gateway.name),
        },
        "resourceId": gateway.resource_id,
        "resultType": if success { "Succeeded" } else { "Failed" },
        "time": format_time(unix_ticks),
        "truncated": 0,
    })
}

fn chat_request_body(rng: &mut Rng, deployment_name: &str, jailbreak: bool) -> Value {
    let user_len = usize::try_from(rng.log_normal_int(280.0, 0.8, 40, 1_400)).unwrap_or(280);
    let user = match jailbreak {
        true => text::jailbreak_text(rng),
        false => text::user_text(rng, user_len),
    };
    json!({
        "model": deployment_name,
        "messages": [
            { "role": "system", "content": text::system_prompt(rng) },
            { "role": "user", "content": user },
        ],
        "temperature": rng.pick_copy(&[0.0, 0.2, 0.7, 1.0]),
        "max_tokens": rng.pick_copy(&[256, 400, 800, 1024]),
    })
}

fn safe_filter_results() -> Value {
    let safe = json!({ "filtered": false, "severity": "safe" });
    json!({ "hate": safe, "self_harm": safe, "sexual": safe, "violence": safe })
}

fn chat_response_body(
    rng: &mut Rng,
    deployment: &Deployment,
    request_body: &Value,
    unix_ticks: i128,
) -> Value {
    let answer_len = usize::try_from(rng.log_normal_int(450.0, 0.7, 60, 1_800)).unwrap_or(450);
    let answer = text::assistant_text(rng, answer_len);
    let prompt_tokens = text::token_estimate(&request_body.to_string());
    let completion_tokens = text::token_estimate(&answer);
    let mut prompt_filter = safe_filter_results();
    if let Value::Object(filters) = &mut prompt_filter {
        filters.insert("custom_blocklists".to_owned(), json!([]));
        filters.insert(
            "jailbreak".to_owned(),
            json!({ "filtered": false, "detected": false }),
        );
    }
    json!({
        "choices": [{
            "content_filter_results": safe_filter_results(),
            "finish_reason": "stop",
            "index": 0,
            "logprobs": null,
            "message": { "content": answer, "refusal": null, "role": "assistant" },
        }],
        "created": i64::try_from(unix_ticks.div_euclid(TICKS_PER_SECOND)).unwrap_or(0),
        "id": format!("chatcmpl-{}", rng.alphanumeric(29)),
        "model": deployment.model.response_id(),
        "object": "chat.completion",
        "prompt_filter_results": [{ "prompt_index": 0, "content_filter_results": prompt_filter }],
        "system_fingerprint": format!("fp_{}", rng.hex(10)),
        "usage": {
            "completion_tokens": completion_tokens,
            "prompt_tokens": prompt_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
}

fn rate_limit_body(rng: &mut Rng, version: &str) -> Value {
    let seconds = rng.between(1, 60);
    json!({
        "error": {
            "code": "429",
            "message": format!(
                "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version \
                 {version} have exceeded token rate limit of your current pricing tier. Please \
                 retry after {seconds} seconds."
            ),
        }
    })
}

fn content_filter_body() -> Value {
    let mut filter = safe_filter_results();
    if let Value::Object(filters) = &mut filter {
        filters.insert(
            "jailbreak".to_owned(),
            json!({ "filtered": true, "detected": true }),
        );
    }
    json!({
        "error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's \
                        content management policy. Please modify your prompt and retry.",
            "type": null,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": filter,
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_seven_fractional_digits() {
        let ticks = 1_741_944_413_i128 * TICKS_PER_SECOND + 1_873_320;
        assert_eq!(format_time(ticks), "2025-03-14T09:26:53.1873320Z");
    }

    #[test]
    fn dotnet_ticks_count_from_year_one() {
        assert_eq!(dotnet_ticks(0), 621_355_968_000_000_000);
    }
}
