//! One request through the gateway: route, caller, measures in force, upstream, response
//! (streamed chunk by chunk when the caller asked for a stream), log record.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Body, Frame, Incoming};
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::limiter::Limiter;
use crate::log::{Call, LlmLog, LOGGED_HEADERS};
use crate::measures::{Decision, Measures, Subject};
use crate::settings::{Settings, Upstream, UpstreamKind};
use crate::sse;

/// The body of a gateway response: whole, or frames as the upstream sends them.
pub enum GatewayBody {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
}

impl Body for GatewayBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            GatewayBody::Full(full) => Pin::new(full).poll_frame(cx),
            GatewayBody::Stream(rx) => rx.poll_recv(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// Largest response body the gateway reads whole (a non-streamed completion) or keeps a copy
/// of for the log (a stream, which is forwarded whatever its length).
const MAX_RESPONSE: usize = 64 << 20;
/// Frames buffered between the upstream and a slow client.
const STREAM_FRAMES: usize = 64;
/// The magnitude logit biases are capped at under `reduce_output_detail`.
pub const BIAS_CAP: f64 = 5.0;

/// The gateway's shared state: settings, upstream client, measures in force, limiter, log.
pub struct Gateway {
    pub settings: Settings,
    client: Client<HttpConnector, Full<Bytes>>,
    measures: RwLock<Arc<Measures>>,
    limiter: Limiter,
    log: Option<LlmLog>,
    pow: crate::pow::ProofOfWork,
    metrics: crate::metrics::Metrics,
}

impl Gateway {
    pub fn new(settings: Settings, log: Option<LlmLog>) -> Gateway {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(std::time::Duration::from_secs(90))
            .build(connector);
        Gateway {
            settings,
            client,
            measures: RwLock::new(Arc::new(Measures::default())),
            limiter: Limiter::default(),
            log,
            metrics: crate::metrics::Metrics::default(),
            pow: crate::pow::ProofOfWork::new().unwrap_or_else(|_| {
                // No /dev/urandom: the standard library's per-process random hash keys.
                use std::hash::{BuildHasher, Hasher};
                let mut secret = [0u8; 32];
                for chunk in secret.chunks_mut(8) {
                    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
                    h.write_u8(0);
                    chunk.copy_from_slice(&h.finish().to_le_bytes());
                }
                crate::pow::ProofOfWork::with_secret(secret)
            }),
        }
    }

    /// Puts the measures read from the store in force (the next request obeys them).
    pub fn set_measures(&self, measures: Measures) {
        *self.measures.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(measures);
    }

    pub fn measures(&self) -> Arc<Measures> {
        self.measures
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves one request.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Result<Response<GatewayBody>, Infallible> {
        Ok(self
            .route(req, remote)
            .await
            .unwrap_or_else(Refusal::into_response))
    }

    async fn route(
        self: &Arc<Self>,
        req: Request<Incoming>,
        remote: SocketAddr,
    ) -> Result<Response<GatewayBody>, Refusal> {
        let path = req.uri().path().to_string();
        if path == "/metrics" {
            let m = self.measures();
            let text = self.metrics.render(
                m.len(),
                m.unapplied(),
                self.log.as_ref().map_or(0, LlmLog::untapped),
            );
            let mut r = Response::new(GatewayBody::Full(Full::new(Bytes::from(text))));
            r.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            return Ok(r);
        }
        if path == "/healthz" {
            let m = self.measures();
            return Ok(json_response(
                StatusCode::OK,
                &json!({
                    "status": "ok",
                    "measures": m.len(),
                    "measures_unapplied": m.unapplied(),
                    "calls_not_detected": self.log.as_ref().map_or(0, LlmLog::untapped),
                }),
            ));
        }
        let route = Route::of(req.method(), &path).ok_or_else(|| {
            error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "unknown_url",
                &format!(
                    "Unknown request URL: {} {}.",
                    req.method(),
                    escape_path(&path)
                ),
            )
        })?;
        let at = Instant::now();
        let at_ms = crate::now_ms();
        let key = caller_key(req.headers()).ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "missing_api_key",
                "You didn't provide an API key.",
            )
        })?;
        let (parts, body) = req.into_parts();
        // From here every call is logged, refused or not.
        let mut call = Call {
            at_ms,
            client_ip: remote.ip().to_string(),
            client_port: remote.port(),
            api_key_id: key_id(&key),
            method: parts.method.to_string(),
            path,
            headers: logged_headers(&parts.headers),
            ..Call::default()
        };
        let mut request = Value::Null;
        let result = self
            .forward(&mut call, &mut request, parts, body, &key, &route, at)
            .await;
        if let Err(refusal) = &result {
            call.status = refusal.status.as_u16();
            call.duration_ms = at.elapsed().as_millis() as u64;
            self.write_log(&call, &request, &refusal.body());
        }
        result
    }

    /// The call once its caller is known: body, measures, upstream. A successful call is
    /// logged when its response ends; a refusal by the caller of this.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        self: &Arc<Self>,
        call: &mut Call,
        request: &mut Value,
        parts: hyper::http::request::Parts,
        body: Incoming,
        key: &str,
        route: &Route,
        at: Instant,
    ) -> Result<Response<GatewayBody>, Refusal> {
        let bytes = Limited::new(body, self.settings.max_body_bytes)
            .collect()
            .await
            .map_err(|e| {
                let too_big = e
                    .downcast_ref::<http_body_util::LengthLimitError>()
                    .is_some();
                if too_big {
                    error(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "invalid_request_error",
                        "request_too_large",
                        &format!(
                            "The request body is larger than {} bytes.",
                            self.settings.max_body_bytes
                        ),
                    )
                } else {
                    error(
                        StatusCode::BAD_REQUEST,
                        "invalid_request_error",
                        "bad_body",
                        "The request body could not be read.",
                    )
                }
            })?
            .to_bytes();
        if parts.method == Method::POST {
            *request = serde_json::from_slice(&bytes).map_err(|e| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "invalid_json",
                    &format!(
                        "The request body is not valid JSON (line {}, column {}).",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
        }
        let model = route.deployment.clone().or_else(|| {
            request
                .get("model")
                .and_then(Value::as_str)
                .map(String::from)
        });
        call.model = model.clone();
        call.stream = request.get("stream").and_then(Value::as_bool) == Some(true);
        let decision = self.measures().decide(&Subject {
            principal: Some(&call.api_key_id),
            api_key: Some(&call.api_key_id),
            source_ip: Some(&call.client_ip),
            model: model.as_deref(),
        });
        let solution = parts
            .headers
            .get(crate::pow::SOLUTION_HEADER)
            .and_then(|v| v.to_str().ok());
        self.contain(&decision, request, call, solution)?;
        let upstream = self
            .settings
            .upstream_for(model.as_deref())
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "model_not_found",
                    "The model is not served here.",
                )
            })?
            .clone();
        let body = if request.is_null() {
            Bytes::new()
        } else if call.applied.is_empty() {
            bytes
        } else {
            Bytes::from(request.to_string())
        };
        let upstream_req = upstream_request(&upstream, &parts, key, body)?;
        call.upstream = upstream.name.clone();
        call.upstream_url = upstream_req.uri().to_string();
        let response = tokio::time::timeout(
            self.settings.upstream_timeout,
            self.client.request(upstream_req),
        )
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            error(
                StatusCode::BAD_GATEWAY,
                "api_error",
                "upstream_unavailable",
                "The upstream API did not answer.",
            )
        })?;
        call.status = response.status().as_u16();
        let is_stream = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let (call, request) = (std::mem::take(call), std::mem::take(request));
        if is_stream {
            Ok(self.stream(response, call, request, decision.reduce_detail, at))
        } else {
            self.whole(response, call, request, decision.reduce_detail, at)
                .await
        }
    }

    /// Applies the measures: refuses the request, or changes it; what was applied goes into
    /// `call.applied`.
    fn contain(
        &self,
        d: &Decision,
        request: &mut Value,
        call: &mut Call,
        solution: Option<&str>,
    ) -> Result<(), Refusal> {
        if d.revoked {
            call.applied.push("revoke_key");
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "This API key has been revoked.",
            ));
        }
        if d.blocked {
            call.applied.push("block");
            return Err(error(
                StatusCode::FORBIDDEN,
                "permission_error",
                "access_denied",
                "Access to this API has been denied.",
            ));
        }
        if let Some((rate, target)) = &d.rate_limit {
            if let Err(wait) = self.limiter.take(target, *rate, Instant::now()) {
                call.applied.push("rate_limit");
                let mut r = error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    "rate_limit_exceeded",
                    &format!("Rate limit reached: {rate} requests per minute."),
                );
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                r.retry_after = Some(secs.max(1));
                return Err(r);
            }
        }
        if let Some(bits) = d.pow_bits {
            let now = crate::now_ms();
            let checked = solution.map(|s| self.pow.check(s, &call.api_key_id, bits, now));
            if !matches!(checked, Some(Ok(()))) {
                call.applied.push("proof_of_work");
                let mut r = error(
                    StatusCode::PRECONDITION_REQUIRED,
                    "invalid_request_error",
                    "proof_of_work_required",
                    &format!(
                        "This key must attach proof of work: solve the challenge in the {} header and send the request again with {}.",
                        crate::pow::CHALLENGE_HEADER,
                        crate::pow::SOLUTION_HEADER
                    ),
                );
                r.challenge = Some(self.pow.challenge(&call.api_key_id, bits, now));
                return Err(r);
            }
        }
        if d.reduces_detail() && request.is_object() {
            let asked = request.get("logprobs").is_some_and(|v| v != &json!(false))
                || request.get("top_logprobs").is_some();
            if asked && request.get("logit_bias").is_some() {
                call.applied.push("reduce_output_detail");
                return Err(error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    "unsupported_parameter",
                    "logit_bias cannot be combined with logprobs for this key.",
                ));
            }
            let o = request.as_object_mut().expect("checked is_object");
            let mut changed = false;
            match d.max_top_logprobs {
                Some(cap) if !d.reduce_detail => {
                    // Chat's `top_logprobs`, the Responses API's, and completions' `logprobs`
                    // (a count there) at most `cap`.
                    for key in ["top_logprobs", "logprobs"] {
                        if let Some(n) = o.get(key).and_then(Value::as_u64) {
                            if n > u64::from(cap) {
                                o.insert(key.into(), json!(cap));
                                changed = true;
                            }
                        }
                    }
                }
                _ => {
                    changed |= o.remove("logprobs").is_some() | o.remove("top_logprobs").is_some();
                    // The Responses API asks for them in `include`.
                    if let Some(Value::Array(include)) = o.get_mut("include") {
                        let before = include.len();
                        include.retain(|i| !i.as_str().is_some_and(|i| i.contains("logprobs")));
                        changed |= include.len() != before;
                    }
                }
            }
            if let Some(Value::Object(bias)) = o.get_mut("logit_bias") {
                for v in bias.values_mut() {
                    if let Some(x) = v.as_f64().filter(|x| x.abs() > BIAS_CAP) {
                        *v = json!(BIAS_CAP.copysign(x));
                        changed = true;
                    }
                }
            }
            if changed {
                call.applied.push("reduce_output_detail");
            }
        }
        Ok(())
    }

    /// A whole (non-streamed) response.
    async fn whole(
        &self,
        response: Response<Incoming>,
        mut call: Call,
        request: Value,
        reduce: bool,
        at: Instant,
    ) -> Result<Response<GatewayBody>, Refusal> {
        let (parts, body) = response.into_parts();
        let bytes = match Limited::new(body, MAX_RESPONSE).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                let e = error(
                    StatusCode::BAD_GATEWAY,
                    "api_error",
                    "upstream_broken",
                    "The upstream API's answer broke off.",
                );
                // Logged here: the call is this function's now.
                call.status = e.status.as_u16();
                call.duration_ms = at.elapsed().as_millis() as u64;
                self.write_log(&call, &request, &e.body());
                return Ok(e.into_response());
            }
        };
        let mut parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let stripped = reduce && parsed.as_mut().is_some_and(strip_logprobs);
        let bytes = match &parsed {
            Some(v) if stripped => Bytes::from(v.to_string()),
            _ => bytes,
        };
        call.duration_ms = at.elapsed().as_millis() as u64;
        let logged = parsed.unwrap_or_else(|| json!(String::from_utf8_lossy(&bytes)));
        self.write_log(&call, &request, &logged);
        let mut out = Response::new(GatewayBody::Full(Full::new(bytes)));
        *out.status_mut() = parts.status;
        copy_headers(&parts.headers, out.headers_mut());
        Ok(out)
    }

    /// A streamed response: each upstream frame goes to the client as it comes (rewritten
    /// event by event when output detail is reduced); a copy is reassembled for the log once
    /// the stream ends. A client that goes away ends the upstream request.
    fn stream(
        self: &Arc<Self>,
        response: Response<Incoming>,
        mut call: Call,
        request: Value,
        reduce: bool,
        at: Instant,
    ) -> Response<GatewayBody> {
        let (parts, mut body) = response.into_parts();
        let (tx, rx) = mpsc::channel::<Bytes>(STREAM_FRAMES);
        let gateway = self.clone();
        tokio::spawn(async move {
            let mut copy = Vec::new();
            let mut rewriter = sse::Rewriter::default();
            let edit = |v: &mut Value| {
                strip_logprobs(v);
            };
            let mut gone = false;
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else { break };
                let Ok(data) = frame.into_data() else {
                    continue;
                };
                if call.first_token_ms.is_none() {
                    call.first_token_ms = Some(at.elapsed().as_millis() as u64);
                }
                if copy.len() + data.len() <= MAX_RESPONSE {
                    copy.extend_from_slice(&data);
                }
                let out = if reduce {
                    Bytes::from(rewriter.push(&data, &edit))
                } else {
                    data
                };
                if !out.is_empty() && tx.send(out).await.is_err() {
                    gone = true;
                    break;
                }
            }
            if !gone {
                let rest = rewriter.finish();
                if !rest.is_empty() {
                    let _ = tx.send(Bytes::from(rest)).await;
                }
            }
            drop(tx);
            call.duration_ms = at.elapsed().as_millis() as u64;
            let response = sse::reassemble(&sse::events(&copy));
            gateway.write_log(&call, &request, &response);
        });
        let mut out = Response::new(GatewayBody::Stream(rx));
        *out.status_mut() = parts.status;
        copy_headers(&parts.headers, out.headers_mut());
        out
    }

    fn write_log(&self, call: &Call, request: &Value, response: &Value) {
        self.metrics.call(call);
        if let Some(log) = &self.log {
            if let Err(e) = log.write(&call.record(request, response)) {
                eprintln!("modelward gateway: writing the LLM log: {e}");
            }
        }
    }
}

/// The APIs the gateway serves.
struct Route {
    /// The Azure deployment named in the path.
    deployment: Option<String>,
}

impl Route {
    fn of(method: &Method, path: &str) -> Option<Route> {
        const POST: [&str; 4] = [
            "/v1/chat/completions",
            "/v1/completions",
            "/v1/embeddings",
            "/v1/responses",
        ];
        if method == Method::POST && POST.contains(&path) {
            return Some(Route { deployment: None });
        }
        if method == Method::GET && (path == "/v1/models" || path.starts_with("/v1/models/")) {
            return Some(Route { deployment: None });
        }
        let rest = path.strip_prefix("/openai/deployments/")?;
        let (deployment, op) = rest.split_once('/')?;
        let known = ["chat/completions", "completions", "embeddings"];
        (method == Method::POST && !deployment.is_empty() && known.contains(&op)).then(|| Route {
            deployment: Some(deployment.to_string()),
        })
    }
}

/// The caller's key: `Authorization: Bearer …` or Azure's `api-key`.
fn caller_key(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim);
    let azure = headers.get("api-key").and_then(|v| v.to_str().ok());
    bearer
        .or(azure)
        .filter(|k| !k.is_empty())
        .map(str::to_string)
}

/// A key's stable id: `key-` and the first 16 hex digits of its SHA-256 (the key itself is
/// never stored or logged).
pub fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("key-{hex}")
}

fn logged_headers(headers: &HeaderMap) -> serde_json::Map<String, Value> {
    LOGGED_HEADERS
        .iter()
        .filter_map(|h| {
            let v = headers.get(*h)?.to_str().ok()?;
            Some((h.to_string(), json!(v)))
        })
        .collect()
}

/// Hop-by-hop headers (RFC 9110 §7.6.1) and those the gateway sets itself.
fn forwarded(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if forwarded(name) {
            to.append(name.clone(), value.clone());
        }
    }
}

fn upstream_request(
    upstream: &Upstream,
    parts: &hyper::http::request::Parts,
    caller_key: &str,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, Refusal> {
    let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: hyper::Uri = format!("{}{}", upstream.url, path_and_query)
        .parse()
        .map_err(|_| {
            error(
                StatusCode::BAD_GATEWAY,
                "api_error",
                "upstream_url",
                "The upstream URL is invalid.",
            )
        })?;
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = uri;
    let headers = req.headers_mut();
    for (name, value) in &parts.headers {
        if forwarded(name) && name != hyper::header::AUTHORIZATION && name.as_str() != "api-key" {
            headers.append(name.clone(), value.clone());
        }
    }
    // The answer is read (logged, logprobs stripped): ask for it uncompressed.
    headers.insert("accept-encoding", HeaderValue::from_static("identity"));
    let key = upstream.api_key.as_deref().unwrap_or(caller_key);
    let value = match upstream.kind {
        UpstreamKind::Openai => HeaderValue::from_str(&format!("Bearer {key}")),
        UpstreamKind::Azure => HeaderValue::from_str(key),
    };
    if let Ok(mut v) = value {
        v.set_sensitive(true);
        let name = match upstream.kind {
            UpstreamKind::Openai => hyper::header::AUTHORIZATION,
            UpstreamKind::Azure => HeaderName::from_static("api-key"),
        };
        headers.insert(name, v);
    }
    Ok(req)
}

/// Removes log probabilities wherever they are in a response or stream event (chat and
/// completions choices, the Responses API's `output[].content[].logprobs` and its events);
/// returns whether any were there.
fn strip_logprobs(v: &mut Value) -> bool {
    match v {
        Value::Object(o) => {
            let mut found = o.remove("logprobs").is_some() | o.remove("top_logprobs").is_some();
            for child in o.values_mut() {
                found |= strip_logprobs(child);
            }
            found
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |found, item| strip_logprobs(item) | found),
        _ => false,
    }
}

/// The path as it may appear in an error: printable ASCII only.
fn escape_path(path: &str) -> String {
    path.chars()
        .take(200)
        .map(|c| if c.is_ascii_graphic() { c } else { '?' })
        .collect()
}

fn json_response(status: StatusCode, body: &Value) -> Response<GatewayBody> {
    let mut r = Response::new(GatewayBody::Full(Full::new(Bytes::from(body.to_string()))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A request the gateway answers itself, with an error in OpenAI's shape naming nothing
/// internal.
#[derive(Debug)]
pub struct Refusal {
    pub status: StatusCode,
    kind: &'static str,
    code: &'static str,
    message: String,
    /// Seconds, for `Retry-After`.
    retry_after: Option<u64>,
    /// A proof-of-work challenge to solve.
    challenge: Option<String>,
}

impl Refusal {
    /// The error document the caller gets.
    pub fn body(&self) -> Value {
        json!({"error": {"message": self.message, "type": self.kind, "param": null, "code": self.code}})
    }

    pub fn into_response(self) -> Response<GatewayBody> {
        let mut r = json_response(self.status, &self.body());
        if let Some(secs) = self.retry_after {
            r.headers_mut()
                .insert("retry-after", HeaderValue::from(secs));
        }
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            r.headers_mut().insert(crate::pow::CHALLENGE_HEADER, c);
        }
        r
    }
}

fn error(status: StatusCode, kind: &'static str, code: &'static str, message: &str) -> Refusal {
    Refusal {
        status,
        kind,
        code,
        message: message.to_string(),
        retry_after: None,
        challenge: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_of_openai_and_azure() {
        assert!(Route::of(&Method::POST, "/v1/chat/completions").is_some());
        assert!(Route::of(&Method::GET, "/v1/chat/completions").is_none());
        assert!(Route::of(&Method::GET, "/v1/models").is_some());
        let azure = Route::of(&Method::POST, "/openai/deployments/gpt4o/chat/completions").unwrap();
        assert_eq!(azure.deployment.as_deref(), Some("gpt4o"));
        assert!(Route::of(&Method::POST, "/openai/deployments//chat/completions").is_none());
        assert!(Route::of(&Method::POST, "/admin").is_none());
    }

    #[test]
    fn key_ids_are_stable_and_say_nothing_of_the_key() {
        let id = key_id("sk-test-123");
        assert_eq!(id, key_id("sk-test-123"));
        assert_eq!(id.len(), 20);
        assert!(!id.contains("123"));
        assert_ne!(id, key_id("sk-test-124"));
    }

    #[test]
    fn logprobs_are_stripped_from_the_responses_api_too() {
        let mut v = json!({"output": [{"content": [{"type": "output_text", "text": "hi", "logprobs": [{"token": "hi"}]}]}], "top_logprobs": 2});
        assert!(strip_logprobs(&mut v));
        assert_eq!(
            v,
            json!({"output": [{"content": [{"type": "output_text", "text": "hi"}]}]})
        );
    }

    #[test]
    fn logprobs_are_stripped_from_responses() {
        let mut v = json!({"choices": [{"index": 0, "logprobs": {"content": []}, "message": {}}]});
        assert!(strip_logprobs(&mut v));
        assert_eq!(v, json!({"choices": [{"index": 0, "message": {}}]}));
        assert!(!strip_logprobs(&mut v));
    }
}
