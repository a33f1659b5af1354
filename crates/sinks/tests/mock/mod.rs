//! Local servers that speak the protocols the sinks send to, as their vendors document them,
//! for the tests (the sinks crate's and the CLI's): an Elasticsearch `_bulk` endpoint, a
//! Splunk HTTP Event Collector with indexer acknowledgement, and Microsoft Entra's token
//! endpoint with the Azure Monitor Logs Ingestion API. Each keeps what it accepted, and can
//! be told to fail the way the real ones do (429 items, a busy HEC, 413, bad credentials).
//!
//! HTTP/1.1 over std's `TcpListener`, one thread per connection, keep-alive, bodies by
//! `Content-Length`. Every server listens on 127.0.0.1 only.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k == key).then(|| decode(v))
        })
    }
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            headers: vec![],
            body: vec![],
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
}

/// A server on 127.0.0.1 answering with `handler`; every request is kept.
pub struct Server {
    pub addr: std::net::SocketAddr,
    pub requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn start(handler: impl Fn(&Request) -> Response + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler = Arc::new(handler);
        let kept = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let kept = kept.clone();
                std::thread::spawn(move || connection(stream, &*handler, &kept));
            }
        });
        Server { addr, requests }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn connection(
    stream: TcpStream,
    handler: &(dyn Fn(&Request) -> Response + Send + Sync),
    kept: &Mutex<Vec<Request>>,
) {
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(30)));
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method,
            target,
            headers,
            body,
        };
        let response = handler(&request);
        kept.lock().unwrap().push(request);
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Length: {}\r\n",
            response.status,
            reason(response.status),
            response.body.len()
        );
        for (k, v) in &response.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        if writer.write_all(out.as_bytes()).is_err() || writer.write_all(&response.body).is_err() {
            return;
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// Elasticsearch
// ---------------------------------------------------------------------------------------

/// What the Elasticsearch mock does.
#[derive(Default)]
pub struct EsState {
    /// Documents by data stream and `_id`.
    pub docs: BTreeMap<String, BTreeMap<String, Value>>,
    /// Ids answered 429 the first time they come (then accepted).
    pub busy_once: BTreeSet<String>,
    /// Rule names whose documents are refused with a mapping error.
    pub unmappable_rules: BTreeSet<String>,
    /// A `_bulk` body larger than this is answered 413.
    pub max_body: usize,
    /// The `Authorization` value expected, if any.
    pub authorization: Option<String>,
    /// Every status answered, item by item, in order (201, 409, 429, 400).
    pub item_statuses: Vec<u16>,
    /// Answer every request with this status.
    pub down: Option<u16>,
}

/// The paths of the index template's mappings (`schema/outputs/elasticsearch-index-template.json`),
/// with their types; `flattened` and disabled objects cover everything below them.
pub fn template_fields(template: &Value) -> BTreeMap<String, String> {
    fn walk(prefix: &str, props: &Value, out: &mut BTreeMap<String, String>) {
        for (k, v) in props.as_object().into_iter().flatten() {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            if let Some(p) = v.get("properties") {
                walk(&path, p, out);
            } else if v.get("enabled") == Some(&Value::Bool(false)) {
                out.insert(path, "disabled".into());
            } else {
                out.insert(
                    path,
                    v.get("type")
                        .and_then(Value::as_str)
                        .unwrap_or("object")
                        .into(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(
        "",
        &template["template"]["mappings"]["properties"],
        &mut out,
    );
    out
}

/// Why `doc` does not fit the mapping, as Elasticsearch would say (a field the template
/// does not map counts too: the test keeps the template and the documents in step).
pub fn mapping_error(doc: &Value, fields: &BTreeMap<String, String>) -> Option<String> {
    fn walk(prefix: &str, v: &Value, fields: &BTreeMap<String, String>) -> Option<String> {
        match v {
            Value::Object(o) => {
                for (k, v) in o {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    match fields.get(&path).map(String::as_str) {
                        Some("flattened" | "disabled") => {}
                        Some(t) => {
                            if let Some(e) = check(&path, t, v) {
                                return Some(e);
                            }
                        }
                        None => {
                            if let Some(e) = walk(&path, v, fields) {
                                return Some(e);
                            }
                        }
                    }
                }
                None
            }
            Value::Array(items) => items.iter().find_map(|i| walk(prefix, i, fields)),
            _ => Some(format!("field [{prefix}] is not in the index template")),
        }
    }
    fn check(path: &str, t: &str, v: &Value) -> Option<String> {
        if let Value::Array(items) = v {
            return items.iter().find_map(|i| check(path, t, i));
        }
        let ok = match t {
            "keyword" | "text" => v.is_string(),
            "date" => v
                .as_str()
                .is_some_and(|s| s.len() >= 20 && s.as_bytes()[4] == b'-'),
            "long" | "float" => v.is_number(),
            "ip" => v
                .as_str()
                .is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
            _ => false,
        };
        (!ok).then(|| format!("failed to parse field [{path}] of type [{t}]: {v}"))
    }
    walk("", doc, fields)
}

/// An Elasticsearch that takes `POST /<stream>/_bulk` as documented: NDJSON action and
/// source lines, only `create` for a data stream, per-item statuses (201 created, 409 when
/// the `_id` exists, 429 when told, 400 for a document that does not fit the mapping).
pub fn elasticsearch(
    state: Arc<Mutex<EsState>>,
    template: Value,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    let fields = template_fields(&template);
    move |req: &Request| {
        let mut s = state.lock().unwrap();
        if let Some(status) = s.down {
            return Response::json(
                status,
                json!({"error": {"type": "unavailable", "reason": "down"}, "status": status}),
            );
        }
        if let Some(expected) = &s.authorization {
            if req.header("authorization") != Some(expected.as_str()) {
                return Response::json(
                    401,
                    json!({"error": {"type": "security_exception", "reason": "missing authentication credentials"}, "status": 401}),
                );
            }
        }
        let path = req.path();
        let Some(stream) = path
            .strip_prefix('/')
            .and_then(|p| p.strip_suffix("/_bulk"))
        else {
            return Response::json(404, json!({"error": "no handler"}));
        };
        if req.method != "POST"
            || !req
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-ndjson"))
        {
            return Response::json(400, json!({"error": "expected POST application/x-ndjson"}));
        }
        if s.max_body > 0 && req.body.len() > s.max_body {
            return Response::json(413, json!({"error": "request entity too large"}));
        }
        let text = String::from_utf8_lossy(&req.body).into_owned();
        if !text.ends_with('\n') {
            return Response::json(
                400,
                json!({"error": {"type": "illegal_argument_exception", "reason": "The bulk request must be terminated by a newline [\\n]"}}),
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut items = Vec::new();
        let mut errors = false;
        for pair in lines.chunks(2) {
            let action: Value = serde_json::from_str(pair[0]).unwrap_or(Value::Null);
            let Some(meta) = action.get("create") else {
                // Data streams take only `create`.
                errors = true;
                items.push(json!({"index": {"status": 400, "error": {"type": "illegal_argument_exception", "reason": "only write ops with an op_type of create are allowed in data streams"}}}));
                continue;
            };
            let id = meta
                .get("_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string();
            let doc: Value = pair
                .get(1)
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or(Value::Null);
            let rule = doc["rule"]["name"].as_str().unwrap_or("").to_string();
            let status;
            if s.busy_once.remove(&id) {
                status = 429;
                errors = true;
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 429, "error": {"type": "es_rejected_execution_exception", "reason": "rejected execution of coordinating operation"}}}));
            } else if s.unmappable_rules.contains(&rule) {
                status = 400;
                errors = true;
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 400, "error": {"type": "document_parsing_exception", "reason": "[1:42] failed to parse field [modelward.fields.count] of type [long]"}}}));
            } else if let Some(e) = mapping_error(&doc, &fields) {
                status = 400;
                errors = true;
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 400, "error": {"type": "document_parsing_exception", "reason": e}}}));
            } else if doc.get("@timestamp").is_none() {
                status = 400;
                errors = true;
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 400, "error": {"type": "illegal_argument_exception", "reason": "data stream timestamp field [@timestamp] is missing"}}}));
            } else if s.docs.get(stream).is_some_and(|d| d.contains_key(&id)) {
                status = 409;
                errors = true;
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 409, "error": {"type": "version_conflict_engine_exception", "reason": format!("[{id}]: version conflict, document already exists")}}}));
            } else {
                status = 201;
                s.docs
                    .entry(stream.to_string())
                    .or_default()
                    .insert(id.clone(), doc);
                items.push(json!({"create": {"_index": stream, "_id": id, "status": 201, "result": "created"}}));
            }
            s.item_statuses.push(status);
        }
        Response::json(200, json!({"took": 3, "errors": errors, "items": items}))
    }
}

// ---------------------------------------------------------------------------------------
// Splunk HEC
// ---------------------------------------------------------------------------------------

#[derive(Default)]
pub struct HecState {
    pub token: String,
    /// Indexer acknowledgement is on for the token: a channel is required and `ackId`s are
    /// given.
    pub ack: bool,
    /// Events by ackId.
    pub batches: Vec<Vec<Value>>,
    /// Polls an ackId needs before it is acknowledged.
    pub polls_before_ack: u32,
    pub polls: BTreeMap<u64, u32>,
    /// ackIds never acknowledged (an indexer that lost them).
    pub lost: BTreeSet<u64>,
    /// Answer this many event requests with 503 "Server is busy" first.
    pub busy: u32,
    pub ack_requests: u32,
}

impl HecState {
    pub fn events(&self) -> Vec<Value> {
        self.batches.iter().flatten().cloned().collect()
    }
}

/// A Splunk HTTP Event Collector: `POST /services/collector/event` with `Authorization:
/// Splunk <token>` and concatenated JSON events, `POST /services/collector/ack?channel=…`.
pub fn splunk(
    state: Arc<Mutex<HecState>>,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req: &Request| {
        let mut s = state.lock().unwrap();
        let auth = req.header("authorization").unwrap_or("");
        let Some(token) = auth.strip_prefix("Splunk ") else {
            return Response::json(401, json!({"text": "Token is required", "code": 2}));
        };
        if token != s.token {
            return Response::json(
                403,
                json!({"text": format!("Invalid token {token}"), "code": 4}),
            );
        }
        let channel = req
            .header("x-splunk-request-channel")
            .map(str::to_string)
            .or_else(|| req.query("channel"));
        if s.ack && channel.is_none() {
            return Response::json(400, json!({"text": "Data channel is missing", "code": 10}));
        }
        match req.path() {
            "/services/collector/event" => {
                if s.busy > 0 {
                    s.busy -= 1;
                    return Response::json(503, json!({"text": "Server is busy", "code": 9}));
                }
                let mut events = Vec::new();
                for v in serde_json::Deserializer::from_slice(&req.body).into_iter::<Value>() {
                    match v {
                        Ok(v) if v.get("event").is_some_and(|e| !e.is_null()) => events.push(v),
                        Ok(_) => {
                            return Response::json(
                                400,
                                json!({"text": "Event field is required", "code": 12, "invalid-event-number": events.len()}),
                            )
                        }
                        Err(_) => {
                            return Response::json(
                                400,
                                json!({"text": "Invalid data format", "code": 6, "invalid-event-number": events.len()}),
                            )
                        }
                    }
                }
                if events.is_empty() {
                    return Response::json(400, json!({"text": "No data", "code": 5}));
                }
                let id = s.batches.len() as u64;
                s.batches.push(events);
                if s.ack {
                    Response::json(200, json!({"text": "Success", "code": 0, "ackId": id}))
                } else {
                    Response::json(200, json!({"text": "Success", "code": 0}))
                }
            }
            "/services/collector/ack" => {
                s.ack_requests += 1;
                if !s.ack {
                    return Response::json(400, json!({"text": "ACK is disabled", "code": 14}));
                }
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let mut acks = serde_json::Map::new();
                for id in body["acks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_u64)
                {
                    let polls = s.polls.entry(id).or_insert(0);
                    *polls += 1;
                    let done = *polls > s.polls_before_ack && (id as usize) < s.batches.len();
                    let lost = s.lost.contains(&id);
                    acks.insert(id.to_string(), json!(done && !lost));
                }
                Response::json(200, json!({"acks": acks}))
            }
            _ => Response::json(
                404,
                json!({"text": "The requested URL was not found on this server.", "code": 404}),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Microsoft Entra ID token endpoint and the Logs Ingestion API
// ---------------------------------------------------------------------------------------

#[derive(Default)]
pub struct AzureState {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub dcr: String,
    pub stream: String,
    /// The stream declaration's columns (name → type), from schema/outputs/sentinel-dcr.json.
    pub columns: BTreeMap<String, String>,
    /// A body larger than this is answered 413 (the API's limit is 1 MB).
    pub max_body: usize,
    pub tokens_issued: u32,
    pub rows: Vec<Value>,
    /// Answer this many ingestion calls 429 with `Retry-After: 1` first.
    pub throttle: u32,
    /// Ingestion calls answered 413.
    pub too_large: u32,
}

/// The stream's columns as the DCR file declares them.
pub fn dcr_columns(dcr: &Value, stream: &str) -> BTreeMap<String, String> {
    dcr["properties"]["streamDeclarations"][stream]["columns"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `POST /<tenant>/oauth2/v2.0/token` (client credentials) and
/// `POST /dataCollectionRules/<dcr>/streams/<stream>?api-version=2023-01-01`.
pub fn azure(
    state: Arc<Mutex<AzureState>>,
) -> impl Fn(&Request) -> Response + Send + Sync + 'static {
    move |req: &Request| {
        let mut s = state.lock().unwrap();
        let path = req.path().to_string();
        if path == format!("/{}/oauth2/v2.0/token", s.tenant) {
            if req.header("content-type") != Some("application/x-www-form-urlencoded") {
                return Response::json(400, json!({"error": "invalid_request"}));
            }
            let form: BTreeMap<String, String> = String::from_utf8_lossy(&req.body)
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (decode(k), decode(v)))
                .collect();
            if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
                return Response::json(400, json!({"error": "unsupported_grant_type"}));
            }
            if form.get("scope").map(String::as_str) != Some("https://monitor.azure.com//.default")
            {
                return Response::json(400, json!({"error": "invalid_scope"}));
            }
            if form.get("client_id") != Some(&s.client_id)
                || form.get("client_secret") != Some(&s.client_secret)
            {
                return Response::json(
                    401,
                    json!({
                        "error": "invalid_client",
                        "error_description": format!("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.\r\nTrace ID: 0", s.client_id),
                    }),
                );
            }
            s.tokens_issued += 1;
            return Response::json(
                200,
                json!({
                    "token_type": "Bearer",
                    "expires_in": 3599,
                    "ext_expires_in": 3599,
                    "access_token": format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.mock-token-{}", s.tokens_issued),
                }),
            );
        }
        if path == format!("/dataCollectionRules/{}/streams/{}", s.dcr, s.stream) {
            if req.query("api-version").as_deref() != Some("2023-01-01") {
                return Response::json(400, json!({"error": {"code": "InvalidApiVersion"}}));
            }
            let token = req
                .header("authorization")
                .and_then(|a| a.strip_prefix("Bearer "));
            if !token.is_some_and(|t| t.contains(".mock-token-")) {
                return Response::json(
                    401,
                    json!({"error": {"code": "InvalidToken", "message": "Authentication failed"}}),
                )
                .with_header("x-ms-error-code", "InvalidToken");
            }
            if s.throttle > 0 {
                s.throttle -= 1;
                return Response::json(429, json!({"error": {"code": "TooManyRequests"}}))
                    .with_header("Retry-After", "1");
            }
            if s.max_body > 0 && req.body.len() > s.max_body {
                s.too_large += 1;
                return Response::json(
                    413,
                    json!({"error": {"code": "ContentLengthLimitExceeded", "message": "Maximum allowed content length: 1048576 bytes"}}),
                );
            }
            let rows: Value = match serde_json::from_slice(&req.body) {
                Ok(Value::Array(rows)) => Value::Array(rows),
                _ => {
                    return Response::json(
                        400,
                        json!({"error": {"code": "InvalidContent", "message": "the body must be a JSON array"}}),
                    )
                }
            };
            for row in rows.as_array().unwrap() {
                for (k, v) in row.as_object().into_iter().flatten() {
                    let ok = match s.columns.get(k).map(String::as_str) {
                        Some("string") => v.is_string(),
                        Some("datetime") => v
                            .as_str()
                            .is_some_and(|t| t.len() >= 20 && t.as_bytes()[4] == b'-'),
                        Some("int") | Some("long") => v.is_i64() || v.is_u64(),
                        Some("dynamic") => true,
                        _ => false,
                    };
                    if !ok {
                        return Response::json(
                            400,
                            json!({"error": {"code": "InvalidContent", "message": format!("column {k} does not match the stream declaration: {v}")}}),
                        );
                    }
                }
                if row.get("TimeGenerated").is_none() {
                    return Response::json(
                        400,
                        json!({"error": {"code": "InvalidContent", "message": "TimeGenerated is missing"}}),
                    );
                }
            }
            s.rows.extend(rows.as_array().unwrap().iter().cloned());
            return Response::empty(204);
        }
        Response::json(
            404,
            json!({"error": {"code": "NotFound", "message": format!("no route {path}")}}),
        )
    }
}
