//! One request through the gateway: route, caller, measures in force, upstream, response
//! (streamed chunk by chunk when the caller asked for a stream), log record.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, RwLock};
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

use crate::keys::{key_id, KeyMode, Keys, Limits};
use crate::limiter::Limiter;
use crate::log::{Call, LlmLog, LogWriter, Logged, LOGGED_HEADERS};
use crate::mask::ResponseMask;
use crate::measures::{Decision, Measures, Row, Subject};
use crate::perturb::Perturber;
use crate::settings::{Settings, Upstream, UpstreamKind};
use crate::sse;

type UpstreamClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The body of a gateway response: whole, frames from a channel, or an upstream's stream
/// forwarded as the client reads it.
pub enum GatewayBody {
    Full(Full<Bytes>),
    Stream(mpsc::Receiver<Bytes>),
    Forward(Box<Forward>),
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
            GatewayBody::Forward(f) => f.poll_data(cx).map(|b| b.map(|b| Ok(Frame::data(b)))),
        }
    }
}

/// An upstream's streamed answer on its way to the client: each frame read from the upstream
/// when the client's connection asks for the next (no task, no channel between them: the
/// client's pace is the upstream's), rewritten when a measure asks, a copy kept for the log.
/// The call is logged when the stream ends, or when the body is dropped before (the client
/// went away: dropping the upstream's body ends the upstream request).
pub struct Forward {
    gateway: Arc<Gateway>,
    body: Incoming,
    /// The call until it is logged.
    state: Option<Box<Forwarding>>,
}

struct Forwarding {
    call: Call,
    request: Logged,
    edit: ResponseEdit,
    rewriter: sse::Rewriter,
    /// What the caller got, for the log (at most [`MAX_RESPONSE`]).
    copy: Vec<u8>,
    at: Instant,
}

impl Forward {
    fn poll_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            let Some(s) = self.state.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(&mut self.body).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    if s.call.first_token_ms.is_none() {
                        s.call.first_token_ms = Some(s.at.elapsed().as_millis() as u64);
                    }
                    let out = if s.edit.rewrites() {
                        let edit = &mut s.edit;
                        Bytes::from(s.rewriter.push(&data, &mut |v| edit.apply(v, true)))
                    } else {
                        data
                    };
                    // The log keeps what the caller got.
                    if s.copy.len() + out.len() <= MAX_RESPONSE {
                        s.copy.extend_from_slice(&out);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(out));
                    }
                }
                // The end, or the upstream broke off: what is left of a partial event goes
                // out as it came, and the call is logged.
                Poll::Ready(_) => {
                    let rest = s.rewriter.finish();
                    if !rest.is_empty() && s.copy.len() + rest.len() <= MAX_RESPONSE {
                        s.copy.extend_from_slice(&rest);
                    }
                    self.log();
                    return Poll::Ready((!rest.is_empty()).then(|| Bytes::from(rest)));
                }
            }
        }
    }

    /// Logs the call (once).
    fn log(&mut self) {
        let Some(s) = self.state.take() else {
            return;
        };
        let Forwarding {
            mut call,
            request,
            edit,
            copy,
            at,
            ..
        } = *s;
        edit.note(&mut call);
        call.duration_ms = at.elapsed().as_millis() as u64;
        // Reassembled for the log by the log's thread, unless tokens are charged now.
        let response = if call.token_buckets.is_empty() {
            Logged::Stream(copy)
        } else {
            Logged::Value(sse::reassemble_stream(&copy))
        };
        self.gateway.write_log(call, request, response);
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        self.log();
    }
}

/// Largest response body the gateway reads whole (a non-streamed completion) or keeps a copy
/// of for the log (a stream, which is forwarded whatever its length).
const MAX_RESPONSE: usize = 64 << 20;
/// Times a request that could not reach its upstream is sent again.
const RETRIES: u32 = 2;
/// The magnitude logit biases are capped at under `reduce_output_detail`.
pub const BIAS_CAP: f64 = 5.0;

/// The gateway's shared state: settings, upstream client, measures in force, limiter, log.
pub struct Gateway {
    pub settings: Settings,
    /// One pooled client per upstream (each with its own TLS trust), by place in
    /// `settings.upstreams`.
    clients: Vec<UpstreamClient>,
    measures: RwLock<Arc<Measures>>,
    keys: RwLock<Arc<Keys>>,
    /// What was applied under each measure since the last report ([`Gateway::take_applied`]).
    applied: Mutex<HashMap<Arc<Row>, Tally>>,
    limiter: Limiter,
    /// Request rates of keys under proof of work.
    volume: crate::limiter::Volume,
    /// The LLM log, written by a thread of its own.
    log: Option<LogWriter>,
    pow: crate::pow::ProofOfWork,
    /// The key of `perturb_output`'s noise ([`crate::perturb`]).
    secret: Vec<u8>,
    /// Credentials in completions are masked (`mask_credentials`).
    redactor: Option<Arc<modelward_detectors::CredentialTheft>>,
    metrics: crate::metrics::Metrics,
}

impl Gateway {
    pub fn new(settings: Settings, log: Option<LlmLog>) -> Gateway {
        let clients = settings
            .upstreams
            .iter()
            .map(|u| {
                let mut http = HttpConnector::new();
                http.set_nodelay(true);
                http.set_connect_timeout(Some(std::time::Duration::from_secs(10)));
                http.enforce_http(false);
                let tls = match &u.tls {
                    Some(config) => (**config).clone(),
                    None => crate::tls::client(None).expect("the built-in roots make a client"),
                };
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_tls_config(tls)
                    .https_or_http()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(http);
                Client::builder(hyper_util::rt::TokioExecutor::new())
                    .pool_idle_timeout(std::time::Duration::from_secs(90))
                    .build(connector)
            })
            .collect();
        let secret = settings
            .secret
            .clone()
            .unwrap_or_else(|| random_secret().to_vec());
        // Challenges are keyed by a secret of their own, derived from the gateway's.
        let pow_secret: [u8; 32] = Sha256::new()
            .chain_update(b"modelward proof of work\0")
            .chain_update(&secret)
            .finalize()
            .into();
        let settings_mask = settings.mask_credentials;
        Gateway {
            settings,
            clients,
            measures: RwLock::new(Arc::new(Measures::default())),
            keys: RwLock::new(Arc::new(Keys::default())),
            applied: Mutex::new(HashMap::new()),
            limiter: Limiter::default(),
            volume: crate::limiter::Volume::default(),
            log: log.map(LogWriter::new),
            metrics: crate::metrics::Metrics::default(),
            pow: crate::pow::ProofOfWork::with_secret(pow_secret),
            secret,
            redactor: settings_mask.then(|| Arc::new(modelward_detectors::CredentialTheft::new())),
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

    /// Puts the virtual keys read from the store in use.
    pub fn set_keys(&self, keys: Keys) {
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
    }

    fn keys(&self) -> Arc<Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Gives back what [`Gateway::take_applied`] took (it could not be reported).
    pub fn restore_applied(&self, taken: HashMap<Arc<Row>, Tally>) {
        let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        for (row, t) in taken {
            applied
                .entry(row)
                .and_modify(|e| {
                    e.first = e.first.min(t.first);
                    e.last = e.last.max(t.last);
                    e.requests += t.requests;
                })
                .or_insert(t);
        }
    }

    /// What was applied under each measure since the last call of this.
    pub fn take_applied(&self) -> HashMap<Arc<Row>, Tally> {
        std::mem::take(&mut *self.applied.lock().unwrap_or_else(|e| e.into_inner()))
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
                self.log.as_ref().map_or(0, |l| l.log().untapped()),
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
                    "calls_not_detected": self.log.as_ref().map_or(0, |l| l.log().untapped()),
                    "keys": self.keys().len(),
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
        let client_ip = self.client_ip(remote.ip(), &parts.headers);
        let issued = self.keys().find(&key);
        // From here every call is logged, refused or not.
        let mut call = Call {
            at_ms,
            client_ip: client_ip.to_string(),
            client_port: remote.port(),
            api_key_id: issued
                .as_ref()
                .map_or_else(|| key_id(&key), |k| k.id.clone()),
            user: issued.as_ref().map(|k| k.principal.clone()),
            team: issued.as_ref().and_then(|k| k.team.clone()),
            method: parts.method.to_string(),
            path,
            headers: logged_headers(&parts.headers),
            ..Call::default()
        };
        let mut request = Logged::Value(Value::Null);
        let caller = match (&issued, self.settings.keys) {
            (Some(k), _) if k.revoked || k.expires_at.is_some_and(|t| t <= at_ms) => Err(error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "This API key has been revoked or has expired.",
            )),
            (None, KeyMode::Virtual) => Err(error(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "invalid_api_key",
                "Incorrect API key provided.",
            )),
            _ => Ok(()),
        };
        if let Err(refusal) = caller {
            call.status = refusal.status.as_u16();
            let body = refusal.body();
            self.write_log(call, request, body);
            return Err(refusal);
        }
        // A virtual key is never sent upstream: the upstream's own key is (settings check
        // that every upstream has one when virtual keys are in use).
        let key = if issued.is_some() { String::new() } else { key };
        let result = self
            .forward(
                &mut call,
                &mut request,
                parts,
                body,
                &key,
                issued.as_deref(),
                &route,
                at,
            )
            .await;
        if let Err(refusal) = &result {
            call.status = refusal.status.as_u16();
            call.duration_ms = at.elapsed().as_millis() as u64;
            self.write_log(call, request, refusal.body());
        }
        result
    }

    /// The call once its caller is known: body, measures, upstream. A successful call is
    /// logged when its response ends; a refusal by the caller of this.
    #[allow(clippy::too_many_arguments)]
    async fn forward(
        self: &Arc<Self>,
        call: &mut Call,
        request: &mut Logged,
        parts: hyper::http::request::Parts,
        body: Incoming,
        key: &str,
        issued: Option<&crate::keys::Issued>,
        route: &Route,
        at: Instant,
    ) -> Result<Response<GatewayBody>, Refusal> {
        let read = tokio::time::timeout(
            self.settings.body_timeout,
            Limited::new(body, self.settings.max_body_bytes).collect(),
        )
        .await
        .map_err(|_| {
            error(
                StatusCode::REQUEST_TIMEOUT,
                "invalid_request_error",
                "request_timeout",
                &format!(
                    "The request body did not arrive within {} s.",
                    self.settings.body_timeout.as_secs()
                ),
            )
        })?;
        let bytes = read
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
        // What routing needs (the model, whether a stream is asked for) read without
        // building the document, which is built only when a measure or the policy must look
        // into it; the body goes upstream and to the log as it came.
        let mut model = route.deployment.clone();
        if parts.method == Method::POST {
            match Peek::of(&bytes) {
                Some(peek) => {
                    model = model.or(peek.model.map(String::from));
                    call.stream = peek.stream == Some(true);
                    *request = Logged::Bytes(bytes.clone());
                }
                None => {
                    let v: Value = serde_json::from_slice(&bytes).map_err(|e| {
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
                    model =
                        model.or_else(|| v.get("model").and_then(Value::as_str).map(String::from));
                    call.stream = v.get("stream").and_then(Value::as_bool) == Some(true);
                    *request = Logged::Value(v);
                }
            }
        }
        call.model = model.clone();
        let principal = call.user.clone().unwrap_or_else(|| call.api_key_id.clone());
        let decision = self.measures().decide(&Subject {
            principal: Some(&principal),
            api_key: Some(&call.api_key_id),
            source_ip: Some(&call.client_ip),
            model: model.as_deref(),
            team: call.team.as_deref(),
        });
        call.matched = decision.matched.clone();
        let solution = parts
            .headers
            .get(crate::pow::SOLUTION_HEADER)
            .and_then(|v| v.to_str().ok());
        self.contain(&decision, request, call, solution)?;
        self.police(request, call, &principal, model.as_deref(), issued)?;
        let index = self
            .settings
            .upstream_index(model.as_deref())
            .ok_or_else(|| {
                error(
                    StatusCode::NOT_FOUND,
                    "invalid_request_error",
                    "model_not_found",
                    "The model is not served here.",
                )
            })?;
        let upstream = self.settings.upstreams[index].clone();
        let body = match &mut *request {
            Logged::Value(Value::Null) => Bytes::new(),
            _ if call.applied.is_empty() => bytes,
            r => Bytes::from(r.value_mut().to_string()),
        };
        if issued.is_some() && upstream.api_key.is_none() {
            // A virtual key is never sent upstream, and this upstream has no key of its own.
            return Err(error(
                StatusCode::BAD_GATEWAY,
                "api_error",
                "upstream_key_missing",
                "The upstream serving this model takes no virtual keys.",
            ));
        }
        let upstream_req = upstream_request(&upstream, &parts, key, body)?;
        call.upstream = upstream.name.clone();
        call.upstream_url = upstream_req.uri().to_string();
        let response = self.send(index, upstream_req).await.ok_or_else(|| {
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
        let edit = ResponseEdit {
            strip: decision.reduce_detail,
            stripped: false,
            perturb: decision
                .perturb
                .map(|noise| Perturber::new(&self.secret, &call.api_key_id, noise)),
            mask: self.redactor.clone().map(ResponseMask::new),
        };
        let call = std::mem::take(call);
        let request = std::mem::replace(request, Logged::Value(Value::Null));
        if is_stream {
            Ok(self.stream(response, call, request, edit, at))
        } else {
            self.whole(response, call, request, edit, at).await
        }
    }

    /// Sends a request upstream within `upstream_timeout`. A request that never left (the
    /// connection could not be made) is sent again, at most [`RETRIES`] times, after 100 ms
    /// then 400 ms: that is safe whatever the method. A request that left is never repeated
    /// (a completion is not idempotent: it costs and may differ).
    async fn send(
        &self,
        index: usize,
        request: Request<Full<Bytes>>,
    ) -> Option<Response<Incoming>> {
        let deadline = Instant::now() + self.settings.upstream_timeout;
        let (parts, body) = request.into_parts();
        let body = body
            .collect()
            .await
            .map_or_else(|_| Bytes::new(), |b| b.to_bytes());
        for attempt in 0..=RETRIES {
            let mut req = Request::new(Full::new(body.clone()));
            *req.method_mut() = parts.method.clone();
            *req.uri_mut() = parts.uri.clone();
            *req.headers_mut() = parts.headers.clone();
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.clients[index].request(req)).await {
                Ok(Ok(response)) => return Some(response),
                Ok(Err(e)) if e.is_connect() && attempt < RETRIES => {
                    self.metrics.upstream_retry();
                    let pause = std::time::Duration::from_millis(100 << (2 * attempt));
                    tokio::time::sleep(pause.min(left)).await;
                }
                _ => return None,
            }
        }
        None
    }

    /// Applies the measures: refuses the request, or changes it; what was applied goes into
    /// `call.applied`.
    fn contain(
        &self,
        d: &Decision,
        request: &mut Logged,
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
            if let Err(wait) = self.limiter.take(target, u64::from(*rate), Instant::now()) {
                call.applied.push("rate_limit");
                return Err(rate_limited(&format!("{rate} requests per minute"), wait));
            }
        }
        if let Some(base) = d.pow_bits {
            let now = crate::now_ms();
            // Every request of a key under the measure counts, refused ones too.
            let rate = self.volume.count(&call.api_key_id, now);
            let bits =
                crate::pow::difficulty(base, rate, d.pow_step.unwrap_or(crate::pow::VOLUME_STEP));
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
        if !d.reduces_detail() {
            return Ok(());
        }
        let request = request.value_mut();
        if request.is_object() {
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

    /// The configuration's own policy and limits, and those of the caller's key and team:
    /// models allowed, parameters denied, requests and tokens a minute.
    fn police(
        &self,
        request: &mut Logged,
        call: &mut Call,
        principal: &str,
        model: Option<&str>,
        issued: Option<&crate::keys::Issued>,
    ) -> Result<(), Refusal> {
        let policy = &self.settings.policy;
        let denied = if policy.denied_parameters.is_empty() {
            None
        } else {
            let request = request.value_mut();
            policy
                .denied_parameters
                .iter()
                .find(|p| request.get(p.as_str()).is_some())
        };
        if let Some(p) = denied {
            call.applied.push("policy");
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unsupported_parameter",
                &format!("The parameter `{}` is not allowed here.", escape_path(p)),
            ));
        }
        let team = call.team.as_deref();
        let team_limits = team.and_then(|t| self.settings.teams.get(t));
        let mut limited: Vec<(String, &Limits)> = Vec::new();
        if !self.settings.default_limits.is_empty() {
            limited.push((
                format!("principal:{principal}"),
                &self.settings.default_limits,
            ));
        }
        if let Some(k) = issued.filter(|k| !k.limits.is_empty()) {
            limited.push((format!("key:{}", k.id), &k.limits));
        }
        if let (Some(t), Some(l)) = (team, team_limits) {
            limited.push((format!("team:{t}"), l));
        }
        if limited.iter().any(|(_, l)| !l.allows(model)) {
            call.applied.push("policy");
            return Err(error(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                "model_not_found",
                "The model is not served here.",
            ));
        }
        let now = Instant::now();
        for (target, limits) in &limited {
            let refused = limits
                .requests_per_minute
                .map(|rpm| {
                    (
                        self.limiter
                            .take(&format!("{target}:requests"), u64::from(rpm), now),
                        format!("{rpm} requests per minute"),
                    )
                })
                .into_iter()
                .chain(limits.tokens_per_minute.map(|tpm| {
                    (
                        self.limiter.admit(&format!("{target}:tokens"), tpm, now),
                        format!("{tpm} tokens per minute"),
                    )
                }))
                .find_map(|(r, what)| r.err().map(|wait| (wait, what)));
            if let Some((wait, what)) = refused {
                call.applied.push("limit");
                return Err(rate_limited(&what, wait));
            }
        }
        call.token_buckets = limited
            .iter()
            .filter_map(|(target, l)| Some((format!("{target}:tokens"), l.tokens_per_minute?)))
            .collect();
        Ok(())
    }

    /// The caller's address: the connection's, or, from a trusted proxy, the last address
    /// in `X-Forwarded-For` that is not a trusted proxy's.
    fn client_ip(&self, remote: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
        let trusted = &self.settings.trusted_proxies;
        let is_trusted = |ip: std::net::IpAddr| {
            let ip = modelward_event::ip::unmapped(ip);
            trusted.iter().any(|r| r.contains(ip))
        };
        if trusted.is_empty() || !is_trusted(remote) {
            return remote;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        // From the nearest hop back, through trusted proxies, to the first that is not one
        // (a hop that is not an address ends the walk: what lies before it is the client's
        // to write).
        let mut caller = remote;
        for hop in hops.iter().rev() {
            let Some(ip) = modelward_event::ip::parse_ip(hop.trim()) else {
                break;
            };
            caller = ip;
            if !is_trusted(ip) {
                break;
            }
        }
        caller
    }

    /// A whole (non-streamed) response.
    async fn whole(
        &self,
        response: Response<Incoming>,
        mut call: Call,
        request: Logged,
        mut edit: ResponseEdit,
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
                let body = e.body();
                self.write_log(call, request, body);
                return Ok(e.into_response());
            }
        };
        let (bytes, logged) = if !edit.rewrites() && call.token_buckets.is_empty() {
            // Passed on as it came: read for the log by the log's thread, not here.
            (bytes.clone(), Logged::Bytes(bytes))
        } else {
            // Read lossily: one value strict JSON refuses (`1e400`) must not let a
            // credential in the answer past the mask.
            let mut parsed: Option<Value> = sse::json_lossy(&bytes);
            if let Some(v) = parsed.as_mut() {
                edit.apply(v, false);
            }
            edit.note(&mut call);
            let bytes = match &parsed {
                Some(v) if edit.changed() => Bytes::from(v.to_string()),
                _ => bytes,
            };
            let logged = parsed.unwrap_or_else(|| json!(String::from_utf8_lossy(&bytes)));
            (bytes, Logged::Value(logged))
        };
        call.duration_ms = at.elapsed().as_millis() as u64;
        self.write_log(call, request, logged);
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
        call: Call,
        request: Logged,
        edit: ResponseEdit,
        at: Instant,
    ) -> Response<GatewayBody> {
        let (parts, body) = response.into_parts();
        let forward = Forward {
            gateway: self.clone(),
            body,
            state: Some(Box::new(Forwarding {
                call,
                request,
                edit,
                rewriter: sse::Rewriter::default(),
                copy: Vec::new(),
                at,
            })),
        };
        let mut out = Response::new(GatewayBody::Forward(Box::new(forward)));
        *out.status_mut() = parts.status;
        copy_headers(&parts.headers, out.headers_mut());
        out
    }

    /// Counts the call, charges its tokens and hands it to the log writer (off the request
    /// path: the record is built and written by the writer's thread).
    fn write_log(&self, call: Call, request: Logged, response: impl Into<Logged>) {
        let response = response.into();
        self.metrics.call(&call);
        if !call.applied.is_empty() && !call.matched.is_empty() {
            let mut applied = self.applied.lock().unwrap_or_else(|e| e.into_inner());
            for row in &call.matched {
                if call.applied.contains(&row.measure.as_str()) {
                    let t = applied.entry(row.clone()).or_insert(Tally {
                        first: call.at_ms,
                        last: call.at_ms,
                        requests: 0,
                    });
                    t.first = t.first.min(call.at_ms);
                    t.last = t.last.max(call.at_ms);
                    t.requests += 1;
                }
            }
        }
        if let (false, true, Logged::Value(response)) =
            (call.token_buckets.is_empty(), call.status < 400, &response)
        {
            let tokens = tokens_of(&request, response);
            let now = Instant::now();
            for (target, rate) in &call.token_buckets {
                self.limiter.charge(target, *rate, tokens, now);
            }
        }
        if let Some(log) = &self.log {
            log.call(call, request, response);
        }
    }

    /// Waits until every call logged so far is written to the log (and passed to its tap).
    pub fn flush_log(&self) {
        if let Some(log) = &self.log {
            log.flush();
        }
    }
}

/// Requests a measure changed or refused, first and last (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub first: i64,
    pub last: i64,
    pub requests: i64,
}

/// The tokens of a call: the answer's `usage.total_tokens` (chat, completions, embeddings
/// and the Responses API all report it, a stream when asked with `include_usage`), else an
/// estimate of a token per four bytes of request and answer.
fn tokens_of(request: &Logged, response: &Value) -> u64 {
    let usage = &response["usage"];
    usage["total_tokens"].as_u64().unwrap_or_else(|| {
        let sum = usage["input_tokens"]
            .as_u64()
            .zip(usage["output_tokens"].as_u64());
        sum.map_or_else(
            || (request.json_len() + response.to_string().len()).div_ceil(4) as u64,
            |(i, o)| i + o,
        )
    })
}

/// What the measures and the configuration change in a response: log probabilities
/// stripped or perturbed, credentials masked.
struct ResponseEdit {
    strip: bool,
    /// Whether anything was stripped so far.
    stripped: bool,
    perturb: Option<Perturber>,
    mask: Option<ResponseMask>,
}

impl ResponseEdit {
    fn changed(&self) -> bool {
        self.stripped
            || self.perturb.as_ref().is_some_and(Perturber::changed)
            || self.mask.as_ref().is_some_and(ResponseMask::masked_any)
    }

    /// Names what was applied in the call's record.
    fn note(&self, call: &mut Call) {
        let mut add = |measure| {
            if !call.applied.contains(&measure) {
                call.applied.push(measure);
            }
        };
        if self.stripped {
            add("reduce_output_detail");
        }
        if self.perturb.as_ref().is_some_and(Perturber::changed) {
            add("perturb_output");
        }
        if let Some(m) = self.mask.as_ref().filter(|m| m.masked_any()) {
            call.masked = Some(m.found());
        }
    }

    /// Whether responses are rewritten at all.
    fn rewrites(&self) -> bool {
        self.strip || self.perturb.is_some() || self.mask.is_some()
    }

    /// Edits a whole answer, or one event of a stream (returning the events to send before
    /// it: text masking held back).
    fn apply(&mut self, v: &mut Value, streamed: bool) -> sse::Before {
        if self.strip {
            self.stripped |= strip_logprobs(v);
        } else if let Some(p) = &mut self.perturb {
            p.apply(v);
        }
        match (&mut self.mask, streamed) {
            (Some(m), true) => m.event(v),
            (Some(m), false) => {
                m.whole(v);
                sse::Before::new()
            }
            (None, _) => sse::Before::new(),
        }
    }
}

/// 32 bytes from the system's random source, or failing that from the standard library's
/// per-process random hash keys.
pub fn random_secret() -> [u8; 32] {
    use std::io::Read;
    let mut secret = [0u8; 32];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut secret));
    if read.is_err() {
        use std::hash::{BuildHasher, Hasher};
        for chunk in secret.chunks_mut(8) {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u8(0);
            chunk.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    secret
}

/// What the gateway reads of a request body to route it, without building its document:
/// `model` when a string, `stream` when a boolean (as `Value::as_str` and `as_bool` read
/// them).
#[derive(serde::Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default, deserialize_with = "sse::loose_str")]
    model: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, deserialize_with = "sse::loose_bool")]
    stream: Option<bool>,
}

impl<'a> Peek<'a> {
    /// A JSON object's `model` and `stream`; `None` for anything else (not JSON, not an
    /// object, a key twice: read as a document, as before).
    fn of(body: &'a [u8]) -> Option<Peek<'a>> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
        if *first != b'{' {
            return None;
        }
        serde_json::from_slice(body).ok()
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

/// 429 with `Retry-After` (whole seconds, at least one).
fn rate_limited(what: &str, wait: std::time::Duration) -> Refusal {
    let mut r = error(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "rate_limit_exceeded",
        &format!("Rate limit reached: {what}."),
    );
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    r.retry_after = Some(secs.max(1));
    r
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
    fn a_body_is_peeked_at_as_its_document_reads() {
        let peek =
            |body: &str| Peek::of(body.as_bytes()).map(|p| (p.model.map(String::from), p.stream));
        let doc = |body: &str| {
            let v: Value = serde_json::from_str(body).unwrap();
            (
                v.get("model").and_then(Value::as_str).map(String::from),
                v.get("stream").and_then(Value::as_bool),
            )
        };
        for body in [
            r#"{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}"#,
            r#" {"messages": [], "model": "m\u00e9", "stream": false}"#,
            r#"{"model":5,"stream":"yes","n":{"model":"inner"}}"#,
            r#"{"model":null,"stream":[true]}"#,
            r#"{}"#,
        ] {
            assert_eq!(peek(body), Some(doc(body)), "{body}");
        }
        // Read as a document instead: a key twice (the document keeps the last), not an
        // object, not JSON.
        for body in [
            r#"{"model":"a","model":"b"}"#,
            "[1]",
            "\"m\"",
            "{\"model\":\"m\"} x",
            "{",
        ] {
            assert!(Peek::of(body.as_bytes()).is_none(), "{body}");
        }
    }

    #[test]
    fn secrets_come_from_the_system() {
        assert_ne!(random_secret(), random_secret());
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
