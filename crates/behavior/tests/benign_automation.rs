//! Benign automation stays quiet, from every LLM source (issue 14, item 4): a templated
//! classification job (thousands of calls at temperature 0 for one or two tokens, a long
//! few-shot instruction and a short item each) and a nightly multiple-choice evaluation
//! (`max_tokens: 1`, log probabilities, a fixed `logit_bias` on the answer letters), each
//! with its instructions in the system prompt and its item in the user message, written
//! as modelward's LLM log, LiteLLM (with and without its message logging turned off), API
//! Management gateway logs and AWS Bedrock invocation logs write them, normalized by
//! `modelward_event::source` and analyzed by every built-in analyzer.

use std::sync::Arc;

use modelward_behavior::{Behavior, Call, Settings};
use modelward_event::source::{normalize, Normalized, SourceKind};
use modelward_event::{format_timestamp, Event, Origin};
use serde_json::{json, Value};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// 2025-03-03T00:00:00Z
const T0: i64 = 1_740_960_000_000;

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const VOCAB: [&str; 94] = [
    "the",
    "app",
    "keeps",
    "crashing",
    "when",
    "i",
    "open",
    "my",
    "cart",
    "love",
    "new",
    "update",
    "delivery",
    "was",
    "late",
    "again",
    "great",
    "service",
    "support",
    "never",
    "answered",
    "refund",
    "still",
    "missing",
    "after",
    "two",
    "weeks",
    "battery",
    "drains",
    "fast",
    "screen",
    "looks",
    "amazing",
    "price",
    "too",
    "high",
    "for",
    "what",
    "you",
    "get",
    "courier",
    "left",
    "parcel",
    "in",
    "rain",
    "checkout",
    "fails",
    "with",
    "card",
    "error",
    "friendly",
    "staff",
    "store",
    "closed",
    "early",
    "today",
    "size",
    "runs",
    "small",
    "colour",
    "faded",
    "wash",
    "quality",
    "dropped",
    "since",
    "last",
    "year",
    "coupon",
    "did",
    "not",
    "apply",
    "login",
    "broken",
    "password",
    "reset",
    "email",
    "arrived",
    "quickly",
    "packaging",
    "damaged",
    "box",
    "works",
    "fine",
    "but",
    "noisy",
    "fan",
    "instructions",
    "unclear",
    "setup",
    "took",
    "hours",
    "recommend",
    "it",
    "friends",
];

/// Free text of `n` words: what a review, a ticket title or a tweet brings.
fn item(rng: &mut Rng, n: usize) -> String {
    (0..n)
        .map(|_| VOCAB[rng.below(VOCAB.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// The classification job's instruction, its system prompt: a long few-shot prompt, the same
/// for every item (the item is the user message).
fn classification_instruction() -> String {
    let mut text = String::from(
        "Classify the customer message into exactly one of these labels: BILLING, DELIVERY, \
         PRODUCT, ACCOUNT, PRAISE, OTHER. Reply with the label only, in capitals, with no \
         explanation.\n\nExamples:\n",
    );
    let shots = [
        ("I was charged twice for my order", "BILLING"),
        ("The parcel is three days late", "DELIVERY"),
        ("The blender lid cracked on first use", "PRODUCT"),
        ("I cannot log in since the update", "ACCOUNT"),
        ("Your team was wonderful, thank you", "PRAISE"),
        ("Do you have a store in Lyon", "OTHER"),
        ("My invoice shows the wrong address", "BILLING"),
        ("The courier left the box at the wrong door", "DELIVERY"),
    ];
    for (m, l) in shots {
        text.push_str(&format!("Message: {m}\nLabel: {l}\n\n"));
    }
    text
}

/// One request, as every source shape is built from it.
struct Request {
    ts: i64,
    key: &'static str,
    system: Option<String>,
    user: String,
    /// OpenAI-style parameters (`max_tokens`, `temperature`, `logprobs`, ...).
    params: Value,
    answer: String,
}

/// The classification job: `calls` items over `hours` hours, one key; one item in twenty is
/// one seen before (the same message classified again).
fn classification_job(calls: usize, hours: i64) -> Vec<Request> {
    classification_job_with(calls, hours, false)
}

/// The classification job; with `in_user`, its instruction and few-shot examples are
/// written into every user message before the item (no system prompt), as a completion
/// prompt or a one-message chat does.
fn classification_job_with(calls: usize, hours: i64, in_user: bool) -> Vec<Request> {
    let mut rng = Rng(0x00c1_a551_f1e5);
    let instruction = classification_instruction();
    let mut seen: Vec<String> = Vec::new();
    (0..calls)
        .map(|i| {
            let message = if i > 20 && rng.below(20) == 0 {
                seen[rng.below(seen.len() as u64) as usize].clone()
            } else {
                let n = 6 + rng.below(10) as usize;
                item(&mut rng, n)
            };
            seen.push(message.clone());
            Request {
                ts: T0 + 6 * HOUR + i as i64 * hours * HOUR / calls as i64,
                key: "svc-classifier",
                system: (!in_user).then(|| instruction.clone()),
                user: if in_user {
                    format!("{instruction}Message: {message}\nLabel:")
                } else {
                    format!("Message: {message}\nLabel:")
                },
                params: json!({"temperature": 0, "max_tokens": 2}),
                answer: "OTHER".into(),
            }
        })
        .collect()
}

/// The nightly multiple-choice evaluation: the same `questions` questions every night at
/// 02:00, a second apart, one token each with the top 5 log probabilities and a +100 bias on
/// the four answer letters (cl100k's `A`..`D`: 32..35) when `bias` is set.
fn multiple_choice_eval(questions: usize, nights: i64, bias: bool) -> Vec<Request> {
    let mut rng = Rng(0x0e7a_1a7e);
    let suite: Vec<String> = (0..questions)
        .map(|i| {
            let n = 8 + rng.below(8) as usize;
            let q = item(&mut rng, n);
            let options: Vec<String> = (0..4).map(|_| item(&mut rng, 3)).collect();
            format!(
                "Question {i}: {q}?\nA. {}\nB. {}\nC. {}\nD. {}\nAnswer:",
                options[0], options[1], options[2], options[3]
            )
        })
        .collect();
    let mut params =
        json!({"temperature": 0, "max_tokens": 1, "logprobs": true, "top_logprobs": 5});
    if bias {
        params["logit_bias"] = json!({"32": 100, "33": 100, "34": 100, "35": 100});
    }
    let mut out = Vec::new();
    for night in 0..nights {
        for (i, q) in suite.iter().enumerate() {
            out.push(Request {
                ts: T0 + night * DAY + 2 * HOUR + i as i64 * 1_000,
                key: "ci-evals",
                system: Some(
                    "The following are multiple choice questions. Answer with the letter of \
                     the correct option only."
                        .into(),
                ),
                user: q.clone(),
                params: params.clone(),
                answer: "B".into(),
            });
        }
    }
    out
}

fn messages(r: &Request, redacted: bool) -> Value {
    let mut m = Vec::new();
    if let Some(s) = &r.system {
        m.push(
            json!({"role": "system", "content": if redacted { "redacted-by-litellm" } else { s }}),
        );
    }
    m.push(
        json!({"role": "user", "content": if redacted { "redacted-by-litellm" } else { &r.user }}),
    );
    Value::Array(m)
}

/// The sources an LLM call is logged by.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// modelward's own gateway log.
    Modelward,
    /// LiteLLM's StandardLoggingPayload.
    LiteLlm,
    /// LiteLLM with `turn_off_message_logging`: messages and response are
    /// `redacted-by-litellm`.
    LiteLlmRedacted,
    /// Azure API Management `GatewayLogs` with bodies.
    ApiManagement,
    /// AWS Bedrock model invocation logs (InvokeModel, Anthropic's messages body).
    Bedrock,
}

const SOURCES: [Source; 5] = [
    Source::Modelward,
    Source::LiteLlm,
    Source::LiteLlmRedacted,
    Source::ApiManagement,
    Source::Bedrock,
];

fn raw(source: Source, r: &Request) -> Value {
    let body = {
        let mut b = json!({"model": "gpt-4o", "messages": messages(r, false)});
        if let (Value::Object(b), Value::Object(p)) = (&mut b, &r.params) {
            b.extend(p.clone());
        }
        b
    };
    let usage = json!({"prompt_tokens": r.user.len() / 4, "completion_tokens": 1});
    match source {
        Source::Modelward => json!({
            "modelward": {"log": "llm", "version": 1},
            "@timestamp": format_timestamp(r.ts),
            "client": {"ip": "10.20.30.40"},
            "principal": {"api_key_id": r.key, "auth": "api_key"},
            "http": {"method": "POST", "path": "/v1/chat/completions", "status": 200,
                     "request_headers": {"User-Agent": "OpenAI/Python 1.54.3"}},
            "request": body,
            "response": {"choices": [{"message": {"content": r.answer}, "finish_reason": "length"}],
                         "usage": usage},
            "duration_ms": 180,
        }),
        Source::LiteLlm | Source::LiteLlmRedacted => {
            let redacted = matches!(source, Source::LiteLlmRedacted);
            let secs = r.ts as f64 / 1000.0;
            let content = if redacted {
                "redacted-by-litellm"
            } else {
                &r.answer
            };
            json!({
                "id": format!("call-{}", r.ts),
                "call_type": "acompletion",
                "status": "success",
                "startTime": secs,
                "endTime": secs + 0.2,
                "model": "gpt-4o",
                "model_group": "gpt-4o",
                "prompt_tokens": r.user.len() / 4,
                "completion_tokens": 1,
                "total_tokens": r.user.len() / 4 + 1,
                "metadata": {"user_api_key_hash": r.key, "requester_ip_address": "10.20.30.40"},
                "messages": messages(r, redacted),
                "response": {"choices": [{"index": 0, "finish_reason": "length",
                                          "message": {"role": "assistant", "content": content}}]},
                "model_parameters": r.params,
                "hidden_params": {"custom_llm_provider": "azure"},
            })
        }
        Source::ApiManagement => {
            let request = body.to_string();
            let response = json!({"choices": [{"index": 0, "finish_reason": "length",
                "message": {"role": "assistant", "content": r.answer}}], "usage": usage})
            .to_string();
            json!({
                "time": format_timestamp(r.ts),
                "category": "GatewayLogs",
                "operationName": "Microsoft.ApiManagement/GatewayLogs",
                "resourceId": "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/CONTOSO-APIM",
                "callerIpAddress": "10.20.30.40",
                "durationMs": 180,
                "isRequestSuccess": true,
                "resultType": "Succeeded",
                "location": "West Europe",
                "properties": {
                    "apiId": "azure-openai-api",
                    "apimSubscriptionId": r.key,
                    "method": "POST",
                    "url": "https://contoso-apim.azure-api.net/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                    "backendUrl": "https://contoso-openai.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
                    "responseCode": 200,
                    "backendResponseCode": 200,
                    "requestBody": request,
                    "backendRequestBody": request,
                    "responseBody": response,
                    "backendResponseBody": response,
                }
            })
        }
        Source::Bedrock => {
            // Bedrock has no logprobs or logit bias: the same job sends what it can.
            let mut input = json!({
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": r.params["max_tokens"],
                "temperature": r.params["temperature"],
                "messages": [{"role": "user", "content": [{"type": "text", "text": r.user}]}],
            });
            if let Some(s) = &r.system {
                input["system"] = json!(s);
            }
            json!({
                "schemaType": "ModelInvocationLog",
                "schemaVersion": "1.0",
                "timestamp": format_timestamp(r.ts),
                "accountId": "111111111111",
                "identity": {"arn": format!("arn:aws:sts::111111111111:assumed-role/{}/job", r.key)},
                "region": "us-east-1",
                "requestId": format!("req-{}", r.ts),
                "operation": "InvokeModel",
                "modelId": "anthropic.claude-3-haiku-20240307-v1:0",
                "input": {"inputContentType": "application/json", "inputBodyJson": input,
                          "inputTokenCount": r.user.len() / 4},
                "output": {"outputContentType": "application/json",
                           "outputBodyJson": {"type": "message", "role": "assistant",
                               "content": [{"type": "text", "text": r.answer}],
                               "stop_reason": "max_tokens",
                               "usage": {"input_tokens": r.user.len() / 4, "output_tokens": 1}},
                           "outputTokenCount": 1}
            })
        }
    }
}

/// The calls the analyzers see of `requests` logged by `source`.
fn calls(source: Source, requests: &[Request]) -> Vec<Call> {
    let file: Arc<str> = Arc::from("benign.ndjson");
    requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let Value::Object(object) = raw(source, r) else {
                unreachable!()
            };
            let fields = match normalize(object, SourceKind::Auto) {
                Ok(Normalized::Event(f)) | Ok(Normalized::Partial(f, _)) => f,
                other => panic!("{source:?}: not an event: {other:?}"),
            };
            let origin = Origin {
                file: file.clone(),
                line: i as u64 + 1,
                offset: 0,
                hash: 0,
                index: 0,
            };
            Call::from_event(&Event::new(fields, origin), 0)
                .unwrap_or_else(|| panic!("{source:?}: not a call"))
        })
        .collect()
}

/// Every finding of the default analyzers over the requests as `source` logs them.
fn findings(source: Source, requests: &[Request]) -> Vec<String> {
    let behavior = Behavior::new(&Settings::default()).unwrap();
    let calls = calls(source, requests);
    assert!(
        calls.iter().all(|c| c.text.is_some()) || matches!(source, Source::LiteLlmRedacted),
        "{source:?}: prompts not read"
    );
    behavior
        .analyze(calls)
        .findings
        .iter()
        .map(|f| format!("{source:?} {} {}", f.code, f.summary))
        .collect()
}

#[test]
fn a_templated_classification_job_is_quiet_from_every_source() {
    let job = classification_job(3_000, 3);
    let alerts: Vec<String> = SOURCES.iter().flat_map(|s| findings(*s, &job)).collect();
    assert!(alerts.is_empty(), "{alerts:#?}");
}

/// The same job with its few-shot template in every user message: the template is most of
/// each query (every call was a near-duplicate of the last, MW-TH-0004, before queries were
/// also compared by their ends).
#[test]
fn a_few_shot_template_in_the_user_message_is_quiet_from_every_source() {
    let job = classification_job_with(3_000, 3, true);
    assert!(job.iter().all(|r| r.system.is_none()));
    let alerts: Vec<String> = SOURCES.iter().flat_map(|s| findings(*s, &job)).collect();
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn a_nightly_multiple_choice_evaluation_is_quiet_from_every_source() {
    let eval = multiple_choice_eval(500, 3, true);
    let alerts: Vec<String> = SOURCES.iter().flat_map(|s| findings(*s, &eval)).collect();
    assert!(alerts.is_empty(), "{alerts:#?}");
}

#[test]
fn a_redacted_prompt_is_no_prompt() {
    let job = classification_job(50, 1);
    let calls = calls(Source::LiteLlmRedacted, &job);
    assert!(calls
        .iter()
        .all(|c| c.prompt_hash.is_none() && c.text.is_none()));
    // Parameters and principal are still read.
    assert!(calls
        .iter()
        .all(|c| c.params.max_tokens == Some(2) && &*c.principal == "svc-classifier"));
}

#[test]
fn bedrock_prompts_are_read_as_the_request_they_are() {
    let job = classification_job(2, 1);
    let bedrock = calls(Source::Bedrock, &job);
    let gateway = calls(Source::Modelward, &job);
    // The query is the user's message in both (not the body's JSON with its parameters),
    // so the features compare the same text.
    for (b, g) in bedrock.iter().zip(&gateway) {
        let (b, g) = (b.text.as_deref().unwrap(), g.text.as_deref().unwrap());
        assert_eq!(b.marks, g.marks);
        assert_eq!(b.vector, g.vector);
        assert_eq!(b.len, g.len);
    }
    let _ = MINUTE;
}
