//! The gateway over real HTTP: a local OpenAI-compatible upstream (tests/upstream), the
//! gateway on a loopback port, requests from a hyper client; measures from a real SQLite
//! store.

mod upstream;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use modelward_gateway::log::LlmLog;
use modelward_gateway::measures::Measures;
use modelward_gateway::settings::Options;
use modelward_gateway::sync::StoreSync;
use modelward_gateway::{key_id, serve, watch_store, Gateway};
use modelward_store::enforcement::Measure;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use upstream::Upstream;

const KEY: &str = "sk-test-0123456789abcdef";

struct Running {
    url: String,
    gateway: Arc<Gateway>,
    upstream: Upstream,
    log: std::path::PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    dir: std::path::PathBuf,
}

impl Running {
    /// The log's lines once every call answered so far is written (the log is written by a
    /// thread of its own, after the answer).
    fn logged(&self) -> Vec<Value> {
        self.gateway.flush_log();
        log_lines(&self.log)
    }

    /// Stops the gateway and removes its folder.
    fn done(self) {
        let _ = self.stop.send(());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A folder with a store at `incidents.db`.
fn database(
    name: &str,
) -> (
    std::path::PathBuf,
    std::path::PathBuf,
    modelward_store::Store,
) {
    let dir = scratch(name);
    let db = dir.join("incidents.db");
    let store = modelward_store::Store::open(&db).unwrap();
    (dir, db, store)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gateway-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn start(name: &str, extra: Value) -> Running {
    let upstream = Upstream::start().await;
    let dir = scratch(name);
    let log = dir.join("llm.ndjson");
    let mut options = json!({
        "upstreams": [{"name": "local", "url": upstream.url}],
        "log": log,
        "max_body_bytes": 4096,
        "refresh": "100ms",
    });
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    for u in options["upstreams"].as_array_mut().unwrap() {
        if u["url"] == "PLACEHOLDER" {
            u["url"] = json!(upstream.url);
        }
    }
    let options: Options = serde_json::from_value(options).unwrap();
    let settings = options
        .resolve(&|v| (v == "UPSTREAM_KEY").then(|| "sk-upstream".into()))
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let gateway = Arc::new(Gateway::new(settings, Some(LlmLog::open(&log).unwrap())));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(gateway.clone(), listener, async {
        let _ = stopped.await;
    }));
    Running {
        url,
        gateway,
        upstream,
        log,
        stop,
        dir,
    }
}

fn client() -> Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn post(url: &str, path: &str, body: &Value) -> Response<Incoming> {
    post_raw(url, path, Bytes::from(body.to_string()), Some(KEY)).await
}

async fn post_raw(url: &str, path: &str, body: Bytes, key: Option<&str>) -> Response<Incoming> {
    post_from(url, path, body, key, None).await
}

async fn post_from(
    url: &str,
    path: &str,
    body: Bytes,
    key: Option<&str>,
    forwarded_for: Option<&str>,
) -> Response<Incoming> {
    let mut req = Request::post(format!("{url}{path}"))
        .header("content-type", "application/json")
        .header("user-agent", "modelward-test/1");
    if let Some(k) = key {
        req = req.header("authorization", format!("Bearer {k}"));
    }
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    client()
        .request(req.body(Full::new(body)).unwrap())
        .await
        .unwrap()
}

async fn json_of(r: Response<Incoming>) -> (u16, Value) {
    let status = r.status().as_u16();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn log_lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Waits (at most 5 s) for the log to hold `n` lines: a streamed call is logged when its
/// stream ends.
async fn wait_log(path: &std::path::Path, n: usize) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let lines = log_lines(path);
        if lines.len() >= n || start.elapsed() > Duration::from_secs(5) {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn chat(stream: bool) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "Say hello"}], "stream": stream})
}

#[tokio::test]
async fn a_call_is_proxied_and_logged_without_the_key() {
    let g = start("proxied", json!({})).await;
    let (status, body) = json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(status, 200);
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there!");
    // The caller's own key went upstream (no upstream key configured).
    let seen = g.upstream.requests();
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(seen[0].body["messages"][0]["content"], "Say hello");
    let lines = wait_log(&g.log, 1).await;
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    assert_eq!(line["principal"]["api_key_id"], json!(key_id(KEY)));
    assert_eq!(line["http"]["status"], 200);
    assert_eq!(
        line["http"]["request_headers"]["user-agent"],
        "modelward-test/1"
    );
    assert_eq!(line["response"]["usage"]["completion_tokens"], 3);
    let text = std::fs::read_to_string(&g.log).unwrap();
    assert!(!text.contains(KEY), "the key is in the log");
    // modelward reads its own log as an LLM call.
    let event = modelward_event::Event::from_json(text.lines().next().unwrap()).unwrap();
    let normalized =
        modelward_event::source::normalize(event.fields, modelward_event::source::SourceKind::Auto)
            .unwrap();
    let modelward_event::source::Normalized::Event(fields) = normalized else {
        panic!("partial")
    };
    assert_eq!(fields["api_key"]["id"], json!(key_id(KEY)));
    g.done();
}

#[tokio::test]
async fn a_stream_is_forwarded_as_it_comes_and_reassembled_for_the_log() {
    let g = start("stream", json!({})).await;
    // The upstream sends its first chunk, then waits until the test has read it.
    let gate = g.upstream.hold_stream();
    let response = post(&g.url, "/v1/chat/completions", &chat(true)).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk came before the upstream finished")
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"role\":\"assistant\""));
    gate.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    let all = [first.to_vec(), rest.to_vec()].concat();
    let text = String::from_utf8(all).unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    let lines = wait_log(&g.log, 1).await;
    assert_eq!(lines[0]["stream"], true);
    assert_eq!(
        lines[0]["response"]["choices"][0]["message"]["content"],
        "Hello there!"
    );
    assert!(lines[0]["timings"]["first_token_ms"].is_u64());
    g.done();
}

fn measure(kind: &str, target: &str, params: Value) -> Measure {
    Measure {
        measure: kind.into(),
        target_kind: "principal".into(),
        target: target.into(),
        params: params.to_string(),
        incident_id: "INC-test".into(),
        reason: "test".into(),
        created_at: 0,
        expires_at: None,
    }
}

#[tokio::test]
async fn a_measure_put_in_the_database_applies_to_the_next_request() {
    let (dir, db, mut store) = database("measures-db");
    let g = start("measures", json!({"database": db})).await;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_store(
        StoreSync::open(g.gateway.clone(), &db).unwrap(),
        stop.clone(),
    );
    assert_eq!(
        json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await)
            .await
            .0,
        200
    );
    let mut b = store.batch().unwrap();
    b.put_measure(&measure("block", &key_id(KEY), json!({"kind": "block"})))
        .unwrap();
    b.commit().unwrap();
    // In force within a second (the refresh is 100 ms here).
    let start = Instant::now();
    let (status, body) = loop {
        let (status, body) =
            json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
        if status != 200 || start.elapsed() > Duration::from_secs(2) {
            break (status, body);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["type"], "permission_error");
    assert!(start.elapsed() < Duration::from_secs(1));
    // A blocked request never reaches the upstream, and is logged as refused.
    let reached = g.upstream.requests().len();
    let (status, _) = json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(status, 403);
    assert_eq!(g.upstream.requests().len(), reached);
    let lines = g.logged();
    let last = lines.last().unwrap();
    assert_eq!(last["modelward"]["measures"], json!(["block"]));
    assert_eq!(last["http"]["status"], 403);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    watcher.join().unwrap();
    // The database says that this gateway runs, had the block in force from before the first
    // refusal, and refused requests under it (each counted once).
    let applied = store.applied("INC-test").unwrap();
    assert_eq!(applied.len(), 1, "{applied:?}");
    let a = &applied[0];
    assert_eq!(
        (a.measure.as_str(), a.gateway.as_str()),
        ("block", "gateway@127.0.0.1:8080")
    );
    let refused = g
        .logged()
        .iter()
        .filter(|l| l["http"]["status"] == 403)
        .count() as i64;
    assert_eq!(a.requests, refused);
    assert!(a.in_force_at <= a.first_applied.unwrap() && a.first_applied <= a.last_applied);
    assert_eq!(store.gateways_seen(0).unwrap().len(), 1);
    g.done();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn virtual_keys_teams_policy_and_forwarded_addresses() {
    use modelward_gateway::keys::{issue, Limits};
    let (dir, db, mut store) = database("virtual-keys-db");
    let (alice, stored) = issue(
        [1; 24],
        "alice",
        Some("search"),
        "nb",
        &Limits::default(),
        0,
        None,
    );
    let (bob, bob_stored) = issue(
        [2; 24],
        "bob",
        None,
        "ci",
        &Limits {
            models: vec!["gpt-4o-mini".into()],
            ..Limits::default()
        },
        0,
        None,
    );
    let mut b = store.batch().unwrap();
    b.add_key(&stored).unwrap();
    b.add_key(&bob_stored).unwrap();
    b.commit().unwrap();
    let g = start(
        "virtual-keys",
        json!({
            "upstreams": [{"name": "local", "url": "PLACEHOLDER", "api_key_env": "UPSTREAM_KEY"}],
            "keys": "passthrough",
            "database": db,
            "teams": {"search": {"requests_per_minute": 3}},
            "policy": {"denied_parameters": ["logit_bias"]},
            "trusted_proxies": ["127.0.0.1", "10.0.0.0/8"],
        }),
    )
    .await;
    let mut sync = StoreSync::open(g.gateway.clone(), &db).unwrap();
    sync.sync().unwrap();
    let call = |key: &'static str, forwarded: Option<&'static str>| {
        let url = g.url.clone();
        async move {
            json_of(
                post_from(
                    &url,
                    "/v1/chat/completions",
                    Bytes::from(chat(false).to_string()),
                    Some(key),
                    forwarded,
                )
                .await,
            )
            .await
        }
    };
    let alice: &'static str = Box::leak(alice.into_boxed_str());
    let bob: &'static str = Box::leak(bob.into_boxed_str());
    // A virtual key: its principal and team in the log, the upstream's key sent upstream.
    let (status, _) = call(alice, Some("198.51.100.7, 10.1.2.3")).await;
    assert_eq!(status, 200);
    let seen = g.upstream.requests();
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer sk-upstream"));
    let first = &g.logged()[0];
    assert_eq!(first["principal"]["user"], "alice");
    assert_eq!(first["principal"]["team"], "search");
    assert_eq!(first["principal"]["api_key_id"], key_id(alice));
    // The address behind the trusted proxies is the caller's.
    assert_eq!(first["client"]["ip"], "198.51.100.7");
    // The team's limit: 3 a minute.
    assert_eq!(call(alice, None).await.0, 200);
    assert_eq!(call(alice, None).await.0, 200);
    let (status, body) = call(alice, None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(g.logged()[3]["modelward"]["measures"], json!(["limit"]));
    // A key's own models: bob may call gpt-4o-mini only.
    assert_eq!(call(bob, None).await.0, 404);
    // Passthrough: a key not issued here is served as the caller's own, its principal its id
    // (the upstream's key is sent, as for every call to an upstream that has one).
    assert_eq!(call(KEY, None).await.0, 200);
    let last = g.logged().pop().unwrap();
    assert_eq!(last["principal"]["api_key_id"], key_id(KEY));
    assert!(last["principal"].get("user").is_none());
    // Denied parameters: refused whoever asks.
    let mut biased = chat(false);
    biased["logit_bias"] = json!({"1": 1});
    let (status, _) = json_of(post(&g.url, "/v1/chat/completions", &biased).await).await;
    assert_eq!(status, 400);
    // A key revoked in the database is refused after the next pass.
    let mut b = store.batch().unwrap();
    assert!(b.revoke_virtual_key(&key_id(bob), 1).unwrap());
    b.commit().unwrap();
    sync.sync().unwrap();
    let (status, body) = call(bob, None).await;
    assert_eq!(status, 401, "{body}");
    g.done();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn only_virtual_keys_and_tokens_a_minute() {
    use modelward_gateway::keys::{issue, Limits};
    let (dir, db, mut store) = database("tpm-db");
    // 10 tokens a minute; the upstream's answers use 8 each.
    let limits = Limits {
        tokens_per_minute: Some(10),
        ..Limits::default()
    };
    let (carol, stored) = issue([3; 24], "carol", None, "", &limits, 0, None);
    let mut b = store.batch().unwrap();
    b.add_key(&stored).unwrap();
    b.commit().unwrap();
    let g = start(
        "tpm",
        json!({
            "upstreams": [{"name": "local", "url": "PLACEHOLDER", "api_key_env": "UPSTREAM_KEY"}],
            "keys": "virtual",
            "database": db,
            "trusted_proxies": ["10.0.0.0/8"],
        }),
    )
    .await;
    StoreSync::open(g.gateway.clone(), &db)
        .unwrap()
        .sync()
        .unwrap();
    let body = Bytes::from(chat(false).to_string());
    let status = |r: Response<Incoming>| r.status().as_u16();
    // Only virtual keys: any other is refused, and logged by its id.
    assert_eq!(
        status(post(&g.url, "/v1/chat/completions", &chat(false)).await),
        401
    );
    assert_eq!(g.logged()[0]["principal"]["api_key_id"], key_id(KEY));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = post_raw(&g.url, "/v1/chat/completions", body.clone(), Some(&carol)).await;
        statuses.push(status(r));
    }
    // 10 → 2 → -6 (in debt): the third waits.
    assert_eq!(statuses, [200, 200, 429]);
    // X-Forwarded-For from an address that is not a trusted proxy is not believed.
    let r = post_from(
        &g.url,
        "/v1/chat/completions",
        body,
        Some(&carol),
        Some("198.51.100.9"),
    )
    .await;
    assert_eq!(status(r), 429);
    assert_eq!(g.logged().pop().unwrap()["client"]["ip"], "127.0.0.1");
    g.done();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn https_to_the_gateway_and_from_it_with_a_private_ca() {
    let dir = scratch("tls-files");
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    // A serves HTTPS (HTTP/2 or HTTP/1.1 by ALPN) in front of the test upstream.
    let a = start("tls-a", json!({"tls_cert": cert, "tls_key": key})).await;
    let a_https = a.url.replace("http://", "https://");
    // B calls A over HTTPS, trusting the private CA.
    let b = start(
        "tls-b",
        json!({"upstreams": [{"name": "a", "url": a_https, "ca_file": cert}]}),
    )
    .await;
    let (status, body) = json_of(post(&b.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["choices"][0]["message"]["content"], "Hello there!");
    assert_eq!(a.upstream.requests().len(), 1);
    // A stream through both.
    let text = post(&b.url, "/v1/chat/completions", &chat(true))
        .await
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&text).contains("data: [DONE]"));
    // Trusting only the Mozilla roots, B refuses A's certificate: 502, nothing reaches A.
    let c = start(
        "tls-c",
        json!({"upstreams": [{"name": "a", "url": a_https}]}),
    )
    .await;
    let (status, _) = json_of(post(&c.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(status, 502);
    assert_eq!(a.upstream.requests().len(), 2);
    // Plain HTTP to A's TLS port is not served.
    let plain = client()
        .request(
            Request::post(format!("{}/v1/chat/completions", a.url))
                .header("authorization", format!("Bearer {KEY}"))
                .body(Full::new(Bytes::from(chat(false).to_string())))
                .unwrap(),
        )
        .await;
    assert!(plain.is_err());
    // Files that do not go together are refused at start, with their name.
    let bad: Options = serde_json::from_value(json!({
        "upstreams": [{"name": "x", "url": "http://127.0.0.1:1"}],
        "tls_cert": key, "tls_key": key,
    }))
    .unwrap();
    let e = bad.resolve(&|_| None).unwrap_err().to_string();
    assert!(e.contains("key.pem") && e.contains("no certificate"), "{e}");
    for g in [a, b, c] {
        let _ = g.stop.send(());
        let _ = std::fs::remove_dir_all(&g.dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn credentials_in_completions_are_masked_whole_and_streamed_and_logged_for_the_detector() {
    let g = start("mask", json!({"mask_credentials": true})).await;
    let ask = |stream: bool| {
        json!({"model": "gpt-4o", "stream": stream, "logprobs": true,
            "messages": [{"role": "user", "content": "secret please"}]})
    };
    let (status, body) = json_of(post(&g.url, "/v1/chat/completions", &ask(false)).await).await;
    assert_eq!(status, 200);
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        !text.contains("AKIAQYLP") && text.contains("AKIA…M2 (20 chars)"),
        "{text}"
    );
    assert!(
        body["choices"][0].get("logprobs").is_none(),
        "its tokens would spell the key"
    );
    let streamed = post(&g.url, "/v1/chat/completions", &ask(true))
        .await
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let streamed = String::from_utf8_lossy(&streamed).to_string();
    assert!(
        !streamed.contains("AKIAQYLP") && !streamed.contains("AKIAQY"),
        "{streamed}"
    );
    let joined: String = modelward_gateway::sse::events(streamed.as_bytes())
        .iter()
        .filter_map(|e| {
            e["choices"][0]["delta"]["content"]
                .as_str()
                .map(String::from)
        })
        .collect();
    assert_eq!(
        joined,
        upstream::LEAK.replace("AKIAQYLPMN5HHHFPZAM2", "AKIA…M2 (20 chars)")
    );
    // The log holds what the caller got, and names what was masked.
    let lines = wait_log(&g.log, 2).await;
    let raw = std::fs::read_to_string(&g.log).unwrap();
    assert!(!raw.contains("AKIAQYLP"), "{raw}");
    for line in &lines {
        assert_eq!(
            line["modelward"]["masked"][0]["value"], "AKIA…M2 (20 chars)",
            "{line}"
        );
    }
    // An answer without credentials is untouched.
    let (_, plain) = json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(plain["choices"][0]["message"]["content"], "Hello there!");
    g.done();
}

#[tokio::test]
async fn revoked_keys_and_rate_limits() {
    let g = start("limits", json!({})).await;
    g.gateway.set_measures(Measures::new(&[measure(
        "rate_limit",
        &key_id(KEY),
        json!({"kind": "rate_limit", "requests_per_minute": 2}),
    )]));
    for _ in 0..2 {
        assert_eq!(
            json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await)
                .await
                .0,
            200
        );
    }
    let limited = post(&g.url, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(limited.status(), 429);
    let wait: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert_eq!(
        json_of(limited).await.1["error"]["code"],
        "rate_limit_exceeded"
    );
    // Another key is not limited.
    let other = post_raw(
        &g.url,
        "/v1/chat/completions",
        Bytes::from(chat(false).to_string()),
        Some("sk-other"),
    )
    .await;
    assert_eq!(other.status(), 200);
    g.gateway.set_measures(Measures::new(&[measure(
        "revoke_key",
        &key_id(KEY),
        json!({"kind": "revoke_key"}),
    )]));
    let (status, body) = json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("invalid_api_key"))
    );
    // The counters say it all, in Prometheus' text format.
    let metrics = client()
        .request(
            Request::get(format!("{}/metrics", g.url))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    let text = String::from_utf8(
        metrics
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    for line in [
        "modelward_gateway_calls_total{route=\"/v1/chat/completions\",status=\"200\"} 3",
        "modelward_gateway_calls_total{route=\"/v1/chat/completions\",status=\"429\"} 1",
        "modelward_gateway_calls_total{route=\"/v1/chat/completions\",status=\"401\"} 1",
        "modelward_gateway_measures_applied_total{measure=\"rate_limit\"} 1",
        "modelward_gateway_measures_applied_total{measure=\"revoke_key\"} 1",
        "modelward_gateway_measures_in_force 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
    }
    g.done();
}

#[tokio::test]
async fn reduced_output_detail_strips_logprobs_both_ways() {
    let g = start("detail", json!({})).await;
    let ask = json!({"model": "gpt-4o", "prompt": "Once", "logprobs": 5, "max_tokens": 3});
    // Without the measure the logprobs come back.
    let (_, body) = json_of(post(&g.url, "/v1/completions", &ask).await).await;
    assert!(body["choices"][0]["logprobs"].is_object());
    g.gateway.set_measures(Measures::new(&[measure(
        "reduce_output_detail",
        &key_id(KEY),
        json!({"kind": "reduce_output_detail"}),
    )]));
    let (status, body) = json_of(post(&g.url, "/v1/completions", &ask).await).await;
    assert_eq!(status, 200);
    assert!(body["choices"][0].get("logprobs").is_none(), "{body}");
    let seen = g.upstream.requests();
    assert!(seen.last().unwrap().body.get("logprobs").is_none());
    // Streamed chat with logprobs: none in any event.
    let mut s = chat(true);
    s["logprobs"] = json!(true);
    s["top_logprobs"] = json!(5);
    let text = post(&g.url, "/v1/chat/completions", &s)
        .await
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    assert!(!String::from_utf8_lossy(&text).contains("logprobs"));
    // A logit bias with log probabilities: the extraction pattern, refused.
    let mut sweep = ask.clone();
    sweep["logit_bias"] = json!({"50256": 100});
    let (status, body) = json_of(post(&g.url, "/v1/completions", &sweep).await).await;
    assert_eq!(status, 400, "{body}");
    // A bias alone is capped.
    let mut biased =
        json!({"model": "gpt-4o", "prompt": "Once", "logit_bias": {"50256": -100, "11": 2}});
    assert_eq!(
        json_of(post(&g.url, "/v1/completions", &biased).await)
            .await
            .0,
        200
    );
    biased["logit_bias"] = json!({"50256": -5.0, "11": 2});
    assert_eq!(
        g.upstream.requests().last().unwrap().body["logit_bias"],
        biased["logit_bias"]
    );
    g.done();
}

#[tokio::test]
async fn perturbed_output_is_deterministic_per_principal_whole_and_streamed() {
    let g = start("perturb", json!({})).await;
    let mut ask = chat(false);
    ask["logprobs"] = json!(true);
    ask["top_logprobs"] = json!(3);
    let (_, plain) = json_of(post(&g.url, "/v1/chat/completions", &ask).await).await;
    let values = |v: &Value| -> Vec<f64> {
        v["choices"][0]["logprobs"]["content"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|e| {
                std::iter::once(e["logprob"].as_f64().unwrap()).chain(
                    e["top_logprobs"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|c| c["logprob"].as_f64().unwrap()),
                )
            })
            .collect()
    };
    g.gateway.set_measures(Measures::new(&[measure(
        "perturb_output",
        &key_id(KEY),
        json!({"kind": "perturb_output", "noise": 0.2}),
    )]));
    let (status, first) = json_of(post(&g.url, "/v1/chat/completions", &ask).await).await;
    assert_eq!(status, 200);
    let (a, b) = (values(&plain), values(&first));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert!(
            x != y && (y - x).abs() <= -(0.8f64.ln()) && *y <= 0.0,
            "{x} -> {y}"
        );
    }
    // The same request again: the same noise (repeats average nothing away).
    let (_, again) = json_of(post(&g.url, "/v1/chat/completions", &ask).await).await;
    assert_eq!(values(&again), b);
    // Streamed: each event's entries carry the values of the whole response.
    let mut s = ask.clone();
    s["stream"] = json!(true);
    let text = post(&g.url, "/v1/chat/completions", &s)
        .await
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let streamed: Vec<f64> = modelward_gateway::sse::events(&text)
        .iter()
        .filter_map(|e| e["choices"][0]["logprobs"]["content"][0]["logprob"].as_f64())
        .collect();
    let chosen: Vec<f64> = first["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["logprob"].as_f64().unwrap())
        .collect();
    assert_eq!(streamed, chosen);
    // Another key is not perturbed; the log names the measure for the one that was.
    let other = post_raw(
        &g.url,
        "/v1/chat/completions",
        Bytes::from(ask.to_string()),
        Some("sk-other-key-0000"),
    )
    .await;
    assert_eq!(values(&json_of(other).await.1), a);
    let lines = wait_log(&g.log, 5).await;
    assert_eq!(lines[1]["modelward"]["measures"], json!(["perturb_output"]));
    assert!(lines[4]["modelward"].get("measures").is_none());
    g.done();
}

#[tokio::test]
async fn bad_requests_and_a_dead_upstream_get_clear_errors() {
    let g = start("faults", json!({})).await;
    let (status, body) = json_of(
        post_raw(
            &g.url,
            "/v1/chat/completions",
            Bytes::from_static(b"{\"model\":"),
            Some(KEY),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_json"))
    );
    let big = Bytes::from(vec![b' '; 10_000]);
    assert_eq!(
        json_of(post_raw(&g.url, "/v1/chat/completions", big, Some(KEY)).await)
            .await
            .0,
        413
    );
    assert_eq!(
        json_of(
            post_raw(
                &g.url,
                "/v1/chat/completions",
                Bytes::from(chat(false).to_string()),
                None
            )
            .await
        )
        .await
        .0,
        401
    );
    let (status, body) = json_of(post(&g.url, "/admin/%07%3Cx%3E", &chat(false)).await).await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("/admin/%07%3Cx%3E"),
        "{body}"
    );
    // The upstream goes away: 502, an OpenAI-shaped error.
    g.upstream.shutdown().await;
    let (status, body) = json_of(post(&g.url, "/v1/chat/completions", &chat(false)).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (502, Some("upstream_unavailable"))
    );
    // A connection that could not be made was tried twice more before that.
    let metrics = client()
        .request(
            Request::get(format!("{}/metrics", g.url))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap()
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes();
    let metrics = String::from_utf8_lossy(&metrics);
    assert!(
        metrics.contains("modelward_gateway_upstream_retries_total 2"),
        "{metrics}"
    );
    g.done();
}

#[tokio::test]
async fn a_client_trickling_its_body_gets_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let g = start("slow-body", json!({"body_timeout": "200ms"})).await;
    let address = g.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {KEY}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"model\""
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let start = Instant::now();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(g.upstream.requests().is_empty());
    g.done();
}

#[tokio::test]
async fn a_client_that_leaves_mid_stream_ends_the_upstream_stream() {
    let g = start("gone", json!({})).await;
    let gate = g.upstream.hold_stream();
    let response = post(&g.url, "/v1/chat/completions", &chat(true)).await;
    let mut body = response.into_body();
    let _ = body.frame().await;
    drop(body);
    gate.notify_one();
    // The upstream's next sends fail once the gateway has dropped the stream.
    let start = Instant::now();
    while !g.upstream.stream_cancelled() && start.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(g.upstream.stream_cancelled());
    // The call is still logged, with what had come.
    let lines = wait_log(&g.log, 1).await;
    assert_eq!(lines.len(), 1);
    g.done();
}

#[tokio::test]
async fn reduced_output_detail_can_cap_instead_of_strip() {
    let g = start("cap", json!({})).await;
    g.gateway.set_measures(Measures::new(&[measure(
        "reduce_output_detail",
        &key_id(KEY),
        json!({"kind": "reduce_output_detail", "strip_logprobs": false, "max_top_logprobs": 2}),
    )]));
    let ask = json!({"model": "gpt-4o", "prompt": "Once", "logprobs": 5, "max_tokens": 3});
    let (status, body) = json_of(post(&g.url, "/v1/completions", &ask).await).await;
    assert_eq!(status, 200);
    // Asked for 5, the upstream was asked for 2, and the caller gets what it answered.
    assert_eq!(g.upstream.requests().last().unwrap().body["logprobs"], 2);
    assert_eq!(
        body["choices"][0]["logprobs"]["top_logprobs"][0]
            .as_object()
            .unwrap()
            .len(),
        2
    );
    // The pairing extraction needs is refused all the same.
    let mut sweep = ask.clone();
    sweep["logit_bias"] = json!({"50256": 100});
    assert_eq!(
        json_of(post(&g.url, "/v1/completions", &sweep).await)
            .await
            .0,
        400
    );
    g.done();
}

#[tokio::test]
async fn proof_of_work_grows_harder_with_the_callers_rate() {
    let g = start("pow-volume", json!({})).await;
    g.gateway.set_measures(Measures::new(&[measure(
        "proof_of_work",
        &key_id(KEY),
        json!({"kind": "proof_of_work", "difficulty_bits": 4, "volume_step": 2}),
    )]));
    let mut bits = Vec::new();
    for _ in 0..9 {
        let r = post(&g.url, "/v1/chat/completions", &chat(false)).await;
        assert_eq!(r.status(), 428);
        let challenge = r.headers()[modelward_gateway::pow::CHALLENGE_HEADER]
            .to_str()
            .unwrap()
            .to_string();
        bits.push(challenge.split('.').nth(2).unwrap().parse::<u32>().unwrap());
    }
    // Rates 1..9 a minute, past a step of 2: 4 bits, then 5 from 4 a minute, 6 from 8.
    // (Unless the minute turned during the loop, when the earlier calls count for less.)
    assert_eq!(bits[0], 4);
    assert!(bits.windows(2).all(|w| w[0] <= w[1]), "{bits:?}");
    assert!(*bits.last().unwrap() >= 5, "{bits:?}");
    g.done();
}

#[tokio::test]
async fn proof_of_work_is_asked_and_a_solution_is_good_once() {
    let g = start("pow", json!({})).await;
    g.gateway.set_measures(Measures::new(&[measure(
        "proof_of_work",
        &key_id(KEY),
        json!({"kind": "proof_of_work", "difficulty_bits": 10}),
    )]));
    let refused = post(&g.url, "/v1/chat/completions", &chat(false)).await;
    assert_eq!(refused.status(), 428);
    let challenge = refused.headers()[modelward_gateway::pow::CHALLENGE_HEADER]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        json_of(refused).await.1["error"]["code"],
        "proof_of_work_required"
    );
    assert!(g.upstream.requests().is_empty());
    let solution = modelward_gateway::pow::solve(&challenge).unwrap();
    let with = |solution: &str| {
        Request::post(format!("{}/v1/chat/completions", g.url))
            .header("authorization", format!("Bearer {KEY}"))
            .header(modelward_gateway::pow::SOLUTION_HEADER, solution)
            .body(Full::new(Bytes::from(chat(false).to_string())))
            .unwrap()
    };
    let ok = client().request(with(&solution)).await.unwrap();
    assert_eq!(ok.status(), 200);
    // Spent: the same solution again, or another key's use of it, is asked anew.
    let again = client().request(with(&solution)).await.unwrap();
    assert_eq!(again.status(), 428);
    assert_eq!(g.upstream.requests().len(), 1);
    g.done();
}
