//! A local OpenAI-compatible upstream for the tests: chat completions (whole and streamed as
//! Server-Sent Events, with log probabilities when asked), completions with logprobs,
//! embeddings, models. It records what it received, can hold a stream after its first chunk
//! until told to go on, notices a stream nobody reads any more, and can be shut down (its
//! connections closed) to play a dead upstream.

#![allow(dead_code)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use modelward_gateway::GatewayBody;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio::task::AbortHandle;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub authorization: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct State {
    requests: Mutex<Vec<Seen>>,
    hold: Mutex<Option<Arc<Notify>>>,
    cancelled: AtomicBool,
    tasks: Mutex<Vec<AbortHandle>>,
}

pub struct Upstream {
    pub url: String,
    state: Arc<State>,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(State::default());
        let accept_state = state.clone();
        let accept = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = accept_state.clone();
                let conn = tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                accept_state.tasks.lock().unwrap().push(conn.abort_handle());
            }
        });
        state.tasks.lock().unwrap().push(accept.abort_handle());
        Upstream { url, state }
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.state.requests.lock().unwrap().clone()
    }

    /// The next stream stops after its first chunk until the returned notify is notified.
    pub fn hold_stream(&self) -> Arc<Notify> {
        let n = Arc::new(Notify::new());
        *self.state.hold.lock().unwrap() = Some(n.clone());
        n
    }

    /// Whether a stream's chunk could not be sent (its reader went away).
    pub fn stream_cancelled(&self) -> bool {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// Stops listening and closes every connection.
    pub async fn shutdown(&self) {
        for t in self.state.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        for t in self.state.tasks.lock().unwrap().drain(..) {
            t.abort();
        }
    }
}

fn json_response(status: u16, v: &Value) -> Response<GatewayBody> {
    let mut r = Response::new(GatewayBody::Full(Full::new(Bytes::from(v.to_string()))));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r.headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    r
}

async fn answer(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<GatewayBody>, Infallible> {
    let path = req.uri().path().to_string();
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    state.requests.lock().unwrap().push(Seen {
        path: path.clone(),
        authorization,
        body: body.clone(),
    });
    let model = body["model"].as_str().unwrap_or("gpt-4o").to_string();
    let usage = json!({"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8});
    let wants_logprobs = body.get("logprobs").is_some_and(|v| v != &json!(false));
    let top = body["top_logprobs"].as_u64().unwrap_or(0) as usize;
    // A prompt asking for the secret gets an answer holding a credential.
    let leak = body.to_string().contains("secret please");
    Ok(match path.as_str() {
        "/v1/chat/completions" if body["stream"] == json!(true) => {
            let (tx, rx) = mpsc::channel::<Bytes>(4);
            let hold = state.hold.lock().unwrap().take();
            let chunk = |delta: Value, finish: Value| {
                let mut choice = json!({"index": 0, "delta": delta, "finish_reason": finish});
                let token = delta["content"].as_str().filter(|t| !t.is_empty());
                if let (true, Some(token)) = (wants_logprobs, token) {
                    choice["logprobs"] = json!({"content": [entry(token, top)]});
                }
                let c = json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [choice]});
                Bytes::from(format!("data: {c}\n\n"))
            };
            let mut chunks = vec![chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
            )];
            if leak {
                // The credential cut across events.
                let chars: Vec<char> = LEAK.chars().collect();
                for piece in chars.chunks(7) {
                    let piece: String = piece.iter().collect();
                    chunks.push(chunk(json!({"content": piece}), Value::Null));
                }
            } else {
                chunks.push(chunk(json!({"content": "Hello"}), Value::Null));
                chunks.push(chunk(json!({"content": " there!"}), Value::Null));
            }
            chunks.push(chunk(json!({}), json!("stop")));
            if body["stream_options"]["include_usage"] == json!(true) {
                let u = json!({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 0, "model": model, "choices": [], "usage": usage});
                chunks.push(Bytes::from(format!("data: {u}\n\n")));
            }
            chunks.push(Bytes::from_static(b"data: [DONE]\n\n"));
            tokio::spawn(async move {
                for (i, c) in chunks.into_iter().enumerate() {
                    if i == 1 {
                        if let Some(h) = &hold {
                            let _ =
                                tokio::time::timeout(Duration::from_secs(10), h.notified()).await;
                        }
                    }
                    if tx.send(c).await.is_err() {
                        state.cancelled.store(true, Ordering::SeqCst);
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
            let mut r = Response::new(GatewayBody::Stream(rx));
            r.headers_mut()
                .insert("content-type", "text/event-stream".parse().unwrap());
            r
        }
        "/v1/chat/completions" => {
            let content = if leak { LEAK } else { "Hello there!" };
            let mut choice = json!({"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"});
            if wants_logprobs {
                choice["logprobs"] =
                    json!({"content": [entry("Hello", top), entry(" there!", top)]});
            }
            json_response(
                200,
                &json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": model, "choices": [choice], "usage": usage}),
            )
        }
        "/v1/completions" => {
            let mut choice = json!({"index": 0, "text": " upon a time", "finish_reason": "length"});
            if let Some(n) = body["logprobs"].as_u64() {
                choice["logprobs"] = json!({
                    "tokens": [" upon"],
                    "token_logprobs": [-0.2],
                    "top_logprobs": [(0..n).map(|i| (format!("t{i}"), json!(-(i as f64)))).collect::<serde_json::Map<_, _>>()],
                    "text_offset": [4],
                });
            }
            json_response(
                200,
                &json!({"id": "cmpl-1", "object": "text_completion", "created": 0, "model": model, "choices": [choice], "usage": usage}),
            )
        }
        "/v1/embeddings" => json_response(
            200,
            &json!({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}], "model": model, "usage": {"prompt_tokens": 2, "total_tokens": 2}}),
        ),
        "/v1/models" => json_response(
            200,
            &json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 0, "owned_by": "test"}]}),
        ),
        _ => json_response(
            404,
            &json!({"error": {"message": "not found", "type": "invalid_request_error", "param": null, "code": null}}),
        ),
    })
}

/// The answer to "secret please": an AWS access key id in the text.
pub const LEAK: &str = "Sure: aws_access_key_id = AKIAQYLPMN5HHHFPZAM2\nDone.";

/// A chat log-probability entry for `token`, with `top` candidates (the token first).
fn entry(token: &str, top: usize) -> Value {
    let logprob = -0.01 * (token.len() as f64);
    let candidates: Vec<Value> = (0..top)
        .map(|i| {
            let t = if i == 0 {
                token.to_string()
            } else {
                format!("alt{i}")
            };
            json!({"token": t, "logprob": logprob - 0.5 * i as f64, "bytes": t.as_bytes()})
        })
        .collect();
    json!({"token": token, "logprob": logprob, "bytes": token.as_bytes(), "top_logprobs": candidates})
}
