//! A fast local OpenAI-compatible upstream for the gateway's latency benchmark
//! (tools/gateway-bench.sh): `POST /v1/chat/completions` whole or streamed as Server-Sent
//! Events (a role chunk, `--chunks` content chunks, a finish chunk, the `usage` chunk when
//! `stream_options.include_usage` asks for it, `[DONE]`), `GET /v1/models`, and 404 in OpenAI's
//! shape for anything else. It answers at once (no model behind it) and keeps nothing per
//! request, so that a run measures what sits between the client and it.
//!
//! Not the tests' upstream (crates/gateway/tests/upstream): that one records every request it
//! receives (memory growing with a soak's millions of calls), parses each body whole and waits
//! 5 ms between stream chunks; the benchmark needs none of that.
//!
//! ```sh
//! cargo run --release -p modelward-gateway --example bench_upstream -- --listen 127.0.0.1:9100
//! ```
//!
//! Options: `--listen ADDR` (default 127.0.0.1:0; the address is printed on stdout as
//! `listening on http://ADDR`), `--threads N` (runtime worker threads, default 1), `--chunks N`
//! (content chunks of a stream, default 8), `--chunk-delay-us N` (a pause before each content
//! chunk, default 0: chunks are still written one by one).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use modelward_gateway::GatewayBody;
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

struct Options {
    listen: SocketAddr,
    threads: usize,
    chunks: usize,
    chunk_delay: Duration,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        listen: "127.0.0.1:0".parse().expect("an address"),
        threads: 1,
        chunks: 8,
        chunk_delay: Duration::ZERO,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => o.listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--threads" => o.threads = value()?.parse().map_err(|e| format!("--threads: {e}"))?,
            "--chunks" => o.chunks = value()?.parse().map_err(|e| format!("--chunks: {e}"))?,
            "--chunk-delay-us" => {
                let us: u64 = value()?
                    .parse()
                    .map_err(|e| format!("--chunk-delay-us: {e}"))?;
                o.chunk_delay = Duration::from_micros(us);
            }
            "-h" | "--help" => {
                println!("bench_upstream [--listen ADDR] [--threads N] [--chunks N] [--chunk-delay-us N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// What the upstream reads of a request (the rest of the body is skipped, not kept).
#[derive(Deserialize, Default)]
struct Asked {
    model: Option<String>,
    stream: Option<bool>,
    stream_options: Option<StreamOptions>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
}

fn main() {
    let o = match options() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench_upstream: {e}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads.max(1))
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(serve(Arc::new(o)));
}

async fn serve(o: Arc<Options>) {
    let listener = match TcpListener::bind(o.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("bench_upstream: listening on {}: {e}", o.listen);
            std::process::exit(1);
        }
    };
    println!(
        "listening on http://{}",
        listener.local_addr().expect("bound")
    );
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let o = o.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| answer(o.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: StatusCode, body: String) -> Response<GatewayBody> {
    let mut r = Response::new(GatewayBody::Full(Full::new(Bytes::from(body))));
    *r.status_mut() = status;
    r.headers_mut()
        .insert("content-type", "application/json".parse().expect("a value"));
    r
}

/// Words a completion is made of (a stream sends one chunk per word).
const WORDS: [&str; 8] = [
    "The", " ticket", " reports", " a", " failed", " login", " after", " reset.",
];

async fn answer(
    o: Arc<Options>,
    req: Request<Incoming>,
) -> Result<Response<GatewayBody>, Infallible> {
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    if method == Method::GET && path == "/v1/models" {
        let models = json!({"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model", "created": 0, "owned_by": "bench"}]});
        return Ok(json_response(StatusCode::OK, models.to_string()));
    }
    if method != Method::POST || path != "/v1/chat/completions" {
        let e = json!({"error": {"message": "not found", "type": "invalid_request_error", "param": null, "code": null}});
        return Ok(json_response(StatusCode::NOT_FOUND, e.to_string()));
    }
    let asked: Asked = serde_json::from_slice(&body).unwrap_or_default();
    let model = asked.model.unwrap_or_else(|| "gpt-4o-mini".into());
    let model = serde_json::to_string(&model).unwrap_or_else(|_| "\"gpt-4o-mini\"".into());
    // Batch-job shaped: a long input, a short answer (the usage a real server would count).
    let prompt_tokens = (body.len() / 4).max(1);
    let completion_tokens = o.chunks.max(1);
    let usage = format!(
        r#"{{"prompt_tokens":{prompt_tokens},"completion_tokens":{completion_tokens},"total_tokens":{}}}"#,
        prompt_tokens + completion_tokens
    );
    if asked.stream == Some(true) {
        let with_usage = asked
            .stream_options
            .and_then(|s| s.include_usage)
            .unwrap_or(false);
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        let (chunks, delay) = (o.chunks, o.chunk_delay);
        tokio::spawn(async move {
            let head = format!(
                r#"data: {{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":0,"model":{model},"choices":["#
            );
            let mut events = vec![format!(
                r#"{head}{{"index":0,"delta":{{"role":"assistant","content":""}},"finish_reason":null}}]}}"#
            )];
            for i in 0..chunks {
                let word = serde_json::to_string(WORDS[i % WORDS.len()]).expect("a string");
                events.push(format!(
                    r#"{head}{{"index":0,"delta":{{"content":{word}}},"finish_reason":null}}]}}"#
                ));
            }
            events.push(format!(
                r#"{head}{{"index":0,"delta":{{}},"finish_reason":"stop"}}]}}"#
            ));
            if with_usage {
                events.push(format!(r#"{head}],"usage":{usage}}}"#));
            }
            events.push("data: [DONE]".into());
            for (i, e) in events.into_iter().enumerate() {
                if i > 0 && !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                if tx.send(Bytes::from(e + "\n\n")).await.is_err() {
                    return;
                }
                // Each chunk its own write, as a server generating tokens sends them.
                tokio::task::yield_now().await;
            }
        });
        let mut r = Response::new(GatewayBody::Stream(rx));
        r.headers_mut().insert(
            "content-type",
            "text/event-stream".parse().expect("a value"),
        );
        return Ok(r);
    }
    let content: String = WORDS
        .iter()
        .cycle()
        .take(o.chunks.max(1))
        .copied()
        .collect();
    let content = serde_json::to_string(&content).expect("a string");
    let body = format!(
        r#"{{"id":"chatcmpl-bench","object":"chat.completion","created":0,"model":{model},"choices":[{{"index":0,"message":{{"role":"assistant","content":{content}}},"finish_reason":"stop"}}],"usage":{usage}}}"#
    );
    Ok(json_response(StatusCode::OK, body))
}
