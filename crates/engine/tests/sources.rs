//! Every detector and analyzer from every source that carries its fields, end to end: raw
//! records as each vendor writes them (the normalizers' fixtures, changed where the case
//! needs it) through the engine with the built-in rules, detectors and analyzers, and the
//! calls the analyzers are fed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use modelward_behavior::Call;
use modelward_engine::{Engine, EngineBuilder, Session, VecSink};
use modelward_event::ingest::{record_events, Ingested};
use modelward_event::input::{Reader, ReaderOptions, RecordSpan};
use modelward_event::source::SourceKind;
use serde_json::{json, Value};

fn fixture(source: &str, name: &str) -> Value {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../event/tests/fixtures")
        .join(source)
        .join(format!("{name}.raw.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

/// Sets `pointer` (JSON pointer, objects created) to `value`.
fn set(doc: &mut Value, pointer: &str, value: Value) {
    let mut cur = doc;
    let keys: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, key) in keys.iter().enumerate() {
        if i + 1 == keys.len() {
            cur.as_object_mut().unwrap().insert(key.to_string(), value);
            return;
        }
        cur = cur
            .as_object_mut()
            .unwrap()
            .entry(key.to_string())
            .or_insert_with(|| json!({}));
    }
}

/// Every built-in rule (rules/), detector and analyzer.
fn engine() -> Engine {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let mut sigma = modelward_sigma::SigmaSet::default();
    let mut esql = Vec::new();
    for dir in ["sigma", "esql"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        files.sort();
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.display().to_string();
            if dir == "sigma" {
                assert!(sigma.add_file(&text, &name).is_empty());
            } else {
                esql.push(modelward_esql::parse_toml_rule(&text, &name).unwrap());
            }
        }
    }
    assert!(sigma.resolve().is_empty());
    EngineBuilder::new()
        .esql_rules(esql)
        .sigma(sigma)
        .detectors(
            modelward_detectors::Detectors::new(&modelward_detectors::Settings::default()).unwrap(),
        )
        .behavior(
            modelward_behavior::Behavior::new(&modelward_behavior::Settings::default()).unwrap(),
        )
        .build()
}

/// The rule ids (detector codes for detectors) of the alerts one raw record raises.
fn alerts(engine: &Engine, record: &Value) -> BTreeSet<String> {
    let mut line = serde_json::to_vec(record).unwrap();
    line.push(b'\n');
    let mut session = Session::new(engine);
    for batch in Reader::from_read(
        "matrix.ndjson",
        Box::new(std::io::Cursor::new(line)),
        ReaderOptions::default(),
    )
    .unwrap()
    {
        session.push(&batch.unwrap(), &mut |d| panic!("{d:?}"));
    }
    let mut sink = VecSink::default();
    session.finish(&mut sink, &mut |_| {}).unwrap();
    sink.alerts
        .iter()
        .map(|a| a.to_json()["rule"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The call the analyzers are fed for one raw record.
fn call(record: &Value) -> Call {
    let raw = serde_json::to_vec(record).unwrap();
    let span = RecordSpan {
        start: 0,
        end: raw.len(),
        line: 1,
        offset: 0,
    };
    let events = record_events(&"matrix".into(), &span, &raw, SourceKind::Auto).unwrap();
    let Some(Ingested::Event(event, _)) = events.into_iter().next() else {
        panic!("no event");
    };
    Call::from_event(&event, 0).expect("an LLM call")
}

const SQLMAP: &str = "sqlmap/1.8.2#stable (https://sqlmap.org)";
/// The rule ids: the suspicious user agent detector and the offensive-tool Sigma rule.
const UA_DETECTOR: &str = "MW-AI-0008";
const UA_RULE: &str = "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b02";
const JAILBREAK_BLOCKED: &str = "MW-AI-0002";
const CREDENTIAL_IN_COMPLETION: &str = "MW-AI-0001";

/// Each source's record with a scanner's user agent where that source records it.
fn with_scanner_user_agent() -> Vec<(&'static str, Value)> {
    let mut apim = fixture("azure_openai", "gateway_frontend_bodies_headers");
    set(
        &mut apim,
        "/properties/requestHeaders/User-Agent",
        json!(SQLMAP),
    );
    let mut litellm_meta = fixture("litellm", "logprobs_cached_tags");
    set(&mut litellm_meta, "/metadata/user_agent", json!(SQLMAP));
    let mut litellm_tags = fixture("litellm", "logprobs_cached_tags");
    set(
        &mut litellm_tags,
        "/request_tags",
        json!(["User-Agent: sqlmap", format!("User-Agent: {SQLMAP}")]),
    );
    let mut gateway = fixture("modelward_llm", "chat_logprobs");
    set(
        &mut gateway,
        "/http/request_headers/user-agent",
        json!(SQLMAP),
    );
    vec![
        ("api management (requestHeaders)", apim),
        ("litellm (metadata.user_agent)", litellm_meta),
        ("litellm (request_tags)", litellm_tags),
        ("modelward gateway log", gateway),
    ]
}

/// Bedrock's invocation logs carry no user agent; its API calls as CloudTrail records them
/// do (InvokeModel is a data event).
fn bedrock_call_in_cloudtrail() -> Vec<(&'static str, Value)> {
    let mut cloudtrail = fixture("cloudtrail", "get_object_weights");
    set(&mut cloudtrail, "/userAgent", json!(SQLMAP));
    set(
        &mut cloudtrail,
        "/eventSource",
        json!("bedrock.amazonaws.com"),
    );
    set(&mut cloudtrail, "/eventName", json!("InvokeModel"));
    vec![("cloudtrail (bedrock InvokeModel)", cloudtrail)]
}

/// Each source's record of a prompt Prompt Shields (or a guardrail) blocked.
fn with_blocked_jailbreak() -> Vec<(&'static str, Value)> {
    let error = json!({"error": {"message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.", "type": null, "param": "prompt", "code": "content_filter", "status": 400, "innererror": {"code": "ResponsibleAIPolicyViolation", "content_filter_result": {"hate": {"filtered": false, "severity": "safe"}, "jailbreak": {"filtered": true, "detected": true}}}}});
    let mut apim = fixture("azure_openai", "gateway_frontend_bodies_headers");
    set(
        &mut apim,
        "/properties/responseBody",
        json!(error.to_string()),
    );
    set(&mut apim, "/properties/responseCode", json!(400));
    let mut apim_backend = fixture("azure_openai", "gateway_chat");
    set(
        &mut apim_backend,
        "/properties/backendResponseBody",
        json!(error.to_string()),
    );
    let mut gateway = fixture("modelward_llm", "chat_logprobs");
    set(&mut gateway, "/response", error.clone());
    set(&mut gateway, "/http/status", json!(400));
    vec![
        ("api management (frontend body only)", apim),
        ("api management (backend body)", apim_backend),
        (
            "litellm (provider error as text)",
            fixture("litellm", "prompt_shield_block"),
        ),
        ("modelward gateway log", gateway),
        (
            "bedrock (guardrail prompt attack)",
            fixture("aws_bedrock", "guardrail_prompt_attack"),
        ),
    ]
}

/// Each source's record of a completion that hands out an AWS access key.
fn with_credential_in_completion() -> Vec<(&'static str, Value)> {
    let answer = "Use access key AKIAZ4QW7RTY2UIO3PLK with secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY for billing.";
    let mut apim = fixture("azure_openai", "gateway_frontend_bodies_headers");
    let mut body: Value = serde_json::from_str(
        apim.pointer("/properties/responseBody")
            .and_then(Value::as_str)
            .unwrap(),
    )
    .unwrap();
    body["choices"][0]["message"]["content"] = json!(answer);
    set(
        &mut apim,
        "/properties/responseBody",
        json!(body.to_string()),
    );
    let mut litellm = fixture("litellm", "logprobs_cached_tags");
    litellm["response"]["choices"][0]["message"]["content"] = json!(answer);
    let mut bedrock = fixture("aws_bedrock", "converse_cached_openai_params");
    bedrock["output"]["outputBodyJson"]["choices"][0]["message"]["content"] = json!(answer);
    let mut gateway = fixture("modelward_llm", "chat_logprobs");
    gateway["response"]["choices"][0]["message"]["content"] = json!(answer);
    vec![
        ("api management (frontend body only)", apim),
        ("litellm", litellm),
        ("bedrock (OpenAI-compatible model)", bedrock),
        ("modelward gateway log", gateway),
    ]
}

#[test]
fn detectors_and_rules_from_every_source() {
    let engine = engine();
    let mut failures = Vec::new();
    let mut check = |what: &str, cases: Vec<(&'static str, Value)>, want: &[&str]| {
        for (source, record) in cases {
            let got = alerts(&engine, &record);
            for id in want {
                if !got.contains(*id) {
                    failures.push(format!("{what} from {source}: no {id} (got {got:?})"));
                }
            }
        }
    };
    check(
        "a scanner's user agent",
        with_scanner_user_agent(),
        &[UA_DETECTOR, UA_RULE],
    );
    // The Sigma rule's `category: llm` does not select CloudTrail (logsource.rs); the
    // detector reads every event.
    check(
        "a scanner's user agent",
        bedrock_call_in_cloudtrail(),
        &[UA_DETECTOR],
    );
    check(
        "a blocked jailbreak",
        with_blocked_jailbreak(),
        &[JAILBREAK_BLOCKED],
    );
    check(
        "a credential in the completion",
        with_credential_in_completion(),
        &[CREDENTIAL_IN_COMPLETION],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// What the extraction analyzers read (log probabilities, the logit-bias map, token counts,
/// the caller's user agent) is in the call from every LLM source that logs it.
#[test]
fn analyzers_get_their_fields_from_every_llm_source() {
    let cases = [
        (
            "api management (frontend bodies, headers)",
            fixture("azure_openai", "gateway_frontend_bodies_headers"),
            3,
        ),
        ("litellm", fixture("litellm", "logprobs_cached_tags"), 4),
        (
            "bedrock (OpenAI-compatible model)",
            fixture("aws_bedrock", "converse_cached_openai_params"),
            4,
        ),
        (
            "modelward gateway log",
            fixture("modelward_llm", "chat_logprobs"),
            4,
        ),
    ];
    for (source, record, bias_entries) in cases {
        let call = call(&record);
        assert!(call.params.logprobs, "{source}: logprobs");
        assert!(call.params.top_logprobs.is_some(), "{source}: top_logprobs");
        assert_eq!(
            call.params.bias_entries, bias_entries,
            "{source}: logit_bias"
        );
        assert_eq!(call.params.max_tokens, Some(1), "{source}: max_tokens");
        assert!(call.tokens_in > 0, "{source}: input tokens");
        if source != "bedrock (OpenAI-compatible model)" {
            assert!(call.user_agent.is_some(), "{source}: user agent");
        }
    }
}

/// A simulated call (modelward's LLM log) as API Management logs it (frontend bodies and
/// request headers, no backend bodies).
fn as_api_management(call: &Value) -> Value {
    json!({
        "time": call["@timestamp"],
        "resourceId": "/SUBSCRIPTIONS/5F0C3E7A-2B9D-4C61-9A8E-1D2F3B4C5A6E/RESOURCEGROUPS/RG-AI/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-AI-GATEWAY",
        "operationName": "Microsoft.ApiManagement/GatewayLogs",
        "category": "GatewayLogs",
        "resultType": "Succeeded",
        "callerIpAddress": call["client"]["ip"],
        "durationMs": call["duration_ms"],
        "properties": {
            "method": "POST",
            "url": "https://contoso-ai-gateway.azure-api.net/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21",
            "responseCode": call["http"]["status"],
            "apimSubscriptionId": call["principal"]["api_key_id"],
            "requestHeaders": {"User-Agent": call["http"]["request_headers"]["user-agent"]},
            "requestBody": call["request"].to_string(),
            "responseBody": call["response"].to_string(),
        }
    })
}

/// The same call as LiteLLM's `StandardLoggingPayload`.
fn as_litellm(call: &Value) -> Value {
    let t = modelward_event::parse_timestamp(call["@timestamp"].as_str().unwrap()).unwrap();
    let start = t as f64 / 1000.0;
    let end = start + call["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0;
    let mut params = call["request"].clone();
    let messages = params["messages"].take();
    params.as_object_mut().unwrap().remove("messages");
    params.as_object_mut().unwrap().remove("model");
    json!({
        "id": call["response"]["id"].clone(),
        "call_type": "acompletion",
        "status": "success",
        "startTime": start,
        "endTime": end,
        "model": call["request"]["model"],
        "model_group": call["request"]["model"],
        "custom_llm_provider": "openai",
        "messages": messages,
        "model_parameters": params,
        "response": call["response"],
        "prompt_tokens": call["response"]["usage"]["prompt_tokens"],
        "completion_tokens": call["response"]["usage"]["completion_tokens"],
        "metadata": {
            "user_api_key_hash": call["principal"]["api_key_id"],
            "requester_ip_address": call["client"]["ip"],
            "user_agent": call["http"]["request_headers"]["user-agent"],
        },
        "request_tags": [],
    })
}

/// The same call as a Bedrock model invocation log of an OpenAI-compatible model.
fn as_bedrock(call: &Value) -> Value {
    let user = call["principal"]["api_key_id"]
        .as_str()
        .unwrap_or("unknown");
    json!({
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": call["@timestamp"],
        "accountId": "222222222222",
        "identity": {"arn": format!("arn:aws:iam::222222222222:user/{user}")},
        "region": "us-west-2",
        "requestId": call["response"]["id"].clone(),
        "operation": "InvokeModel",
        "modelId": "openai.gpt-oss-120b-1:0",
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": call["request"],
            "inputTokenCount": call["response"]["usage"]["prompt_tokens"],
        },
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": call["response"],
            "outputTokenCount": call["response"]["usage"]["completion_tokens"],
        }
    })
}

/// A rewrite of a gateway log record into another source's shape.
type Convert = fn(&Value) -> Value;

/// The analyzers' alerts (their codes) over records.
fn analyzer_alerts(records: &[Value]) -> BTreeSet<String> {
    let engine = EngineBuilder::new()
        .behavior(
            modelward_behavior::Behavior::new(&modelward_behavior::Settings::default()).unwrap(),
        )
        .build();
    let text: Vec<u8> = records
        .iter()
        .flat_map(|r| {
            let mut l = serde_json::to_vec(r).unwrap();
            l.push(b'\n');
            l
        })
        .collect();
    let mut session = Session::new(&engine);
    for batch in Reader::from_read(
        "sim.ndjson",
        Box::new(std::io::Cursor::new(text)),
        ReaderOptions::default(),
    )
    .unwrap()
    {
        session.push(&batch.unwrap(), &mut |d| panic!("{d:?}"));
    }
    let mut sink = VecSink::default();
    session.finish(&mut sink, &mut |_| {}).unwrap();
    sink.alerts
        .iter()
        .map(|a| a.to_json()["rule"]["id"].as_str().unwrap().to_string())
        .collect()
}

/// The extraction analyzers raise the same alerts on the simulator's attacks whichever LLM
/// source logged them: the simulated calls rewritten as API Management (frontend bodies),
/// LiteLLM and Bedrock records.
#[test]
fn analyzers_alert_from_every_llm_source() {
    use modelward_corpus::sim::{simulate, Profile, SimSpec};
    let profiles = [
        "chat_users",
        "logit_sweep_fast",
        "distillation_fast",
        "duplicate_flood_fast",
    ];
    let spec = SimSpec {
        seed: 11,
        span_ms: 6 * 3_600_000,
        profiles: profiles
            .iter()
            .map(|p| Profile::parse(p).unwrap())
            .collect(),
        ..SimSpec::default()
    };
    let mut log = Vec::new();
    simulate(&spec, &mut log, &mut Vec::new()).unwrap();
    let calls: Vec<Value> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    let reference = analyzer_alerts(&calls);
    // Logit extraction, distillation, near-duplicate flood.
    for code in ["MW-TH-0001", "MW-TH-0002", "MW-TH-0004"] {
        assert!(reference.contains(code), "{code} not in {reference:?}");
    }
    let shapes: [(&str, Convert); 3] = [
        ("api management", as_api_management),
        ("litellm", as_litellm),
        ("bedrock", as_bedrock),
    ];
    let mut failures = Vec::new();
    for (source, convert) in shapes {
        let records: Vec<Value> = calls.iter().map(convert).collect();
        let got = analyzer_alerts(&records);
        let missing: Vec<_> = reference.difference(&got).collect();
        if !missing.is_empty() {
            failures.push(format!("{source}: missing {missing:?} (got {got:?})"));
        }
    }
    assert!(
        failures.is_empty(),
        "reference {reference:?}\n{}",
        failures.join("\n")
    );
}
