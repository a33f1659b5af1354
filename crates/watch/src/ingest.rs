//! The HTTP ingest endpoint: `POST /ingest` with NDJSON, a JSON array, or one JSON document
//! (an Azure diagnostic setting's `{"records":[...]}` batch, a LiteLLM generic logging
//! callback's payload, a log shipper's array). Every record is appended to a spool (a
//! rotating NDJSON log in its own folder) *before* the answer, which is followed like any
//! other file: a `200` means the records are on disk (in the page cache: a `kill -9` loses
//! none, a power cut may lose the last seconds) and will be read, even across a restart.
//!
//! Answers: `200 {"accepted": N, "rejected": [{"line": L, "error": "..."}]}` (bad lines are
//! skipped, not retried: a sender retrying them would never succeed); `401` without the
//! configured bearer token; `413` over the body limit; `404` elsewhere. The body is split
//! as a file is read ([`split_body`]): a bad line or array element is rejected alone, and a
//! value strict JSON refuses (invalid UTF-8, a lone surrogate) is kept lossily. `GET /healthz` answers `{"status":"ok"}`.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use modelward_event::input::{split_body, BodyRecords};
use modelward_gateway::log::{LlmLog, Rotation};
use serde_json::{json, Value};

/// The endpoint's settings.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// The bearer token senders must present (`None`: any sender; bind to loopback then).
    pub token: Option<String>,
    pub max_body_bytes: usize,
    /// Segments of the spool.
    pub rotation: Rotation,
}

/// The spool file the endpoint appends to, as `path` names it (a folder of segments).
pub fn spool_path(folder: &Path) -> std::path::PathBuf {
    folder.join("ingest.ndjson")
}

/// The spool's segment names, for the follower.
pub const SPOOL_INCLUDE: &str = "ingest.*.ndjson";

struct State {
    options: IngestOptions,
    spool: LlmLog,
}

/// Serves the endpoint on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    spool_folder: &Path,
    options: IngestOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(spool_folder)?;
    let spool = LlmLog::open_rotating(&spool_path(spool_folder), options.rotation)?;
    let state = Arc::new(State { options, spool });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(10));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let state = state.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    Ok(())
}

fn answer(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    if req.method() == Method::GET && path == "/healthz" {
        return Ok(answer(StatusCode::OK, &json!({"status": "ok"})));
    }
    if req.method() != Method::POST || path != "/ingest" {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            &json!({"error": "POST /ingest takes records"}),
        ));
    }
    if let Some(token) = &state.options.token {
        let given = req
            .headers()
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        let same = given.len() == token.len()
            && given
                .bytes()
                .zip(token.bytes())
                .fold(0u8, |d, (a, b)| d | (a ^ b))
                == 0;
        if !same {
            return Ok(answer(
                StatusCode::UNAUTHORIZED,
                &json!({"error": "a bearer token is needed"}),
            ));
        }
    }
    let body = match Limited::new(req.into_body(), state.options.max_body_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            return Ok(answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": format!("the body is larger than {} bytes", state.options.max_body_bytes)}),
            ))
        }
        Err(_) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                &json!({"error": "the body could not be read"}),
            ))
        }
    };
    let BodyRecords {
        records, rejected, ..
    } = split_body(&body, state.options.max_body_bytes);
    let mut accepted = 0usize;
    for r in &records {
        if let Err(e) = state.spool.write(r) {
            // Not on disk: the sender must send it again.
            return Ok(answer(
                StatusCode::SERVICE_UNAVAILABLE,
                &json!({"error": format!("the spool cannot be written: {e}"), "accepted": accepted}),
            ));
        }
        accepted += 1;
    }
    let rejected: Vec<Value> = rejected
        .into_iter()
        .map(|(line, error)| json!({"line": line, "error": error}))
        .collect();
    Ok(answer(
        StatusCode::OK,
        &json!({"accepted": accepted, "rejected": rejected}),
    ))
}
