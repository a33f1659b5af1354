//! modelward's inline gateway: an OpenAI-compatible reverse proxy that applies the containment
//! measures in force to every request and writes modelward's LLM request log.
//!
//! [`Gateway::new`] builds the shared state from [`Settings`]; [`serve`] accepts connections
//! (HTTP/1.1 and HTTP/2) until its shutdown future completes, then lets in-flight requests
//! and streams finish; [`watch_store`] reads the store's `enforcement` table and virtual keys
//! every `refresh` (1 s by default), so that a measure an incident puts in force applies to
//! the next request, and writes back which measures this gateway has in force and applied.
//! See docs/gateway.md.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use std::sync::Arc;
//! use modelward_gateway::{serve, settings::Options, Gateway};
//!
//! let options: Options = serde_json::from_str(
//!     r#"{"listen": "127.0.0.1:8080", "upstreams": [{"name": "vllm", "url": "http://127.0.0.1:8000"}]}"#,
//! ).unwrap();
//! let settings = options.resolve(&|var| std::env::var(var).ok()).unwrap();
//! let listener = tokio::net::TcpListener::bind(settings.listen).await?;
//! let gateway = Arc::new(Gateway::new(settings, None));
//! serve(gateway, listener, async { let _ = tokio::signal::ctrl_c().await; }).await;
//! # Ok(()) }
//! ```

pub mod keys;
pub mod limiter;
pub mod log;
pub mod mask;
pub mod measures;
pub mod metrics;
pub mod perturb;
pub mod pow;
mod proxy;
pub mod say;
pub mod settings;
pub mod sse;
pub mod sync;
pub mod tls;

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;

pub use keys::key_id;
pub use proxy::{random_secret, Gateway, GatewayBody, Tally, BIAS_CAP};
pub use settings::{Settings, SettingsError};

/// How long in-flight requests and streams may take to finish after shutdown begins.
const DRAIN: Duration = Duration::from_secs(30);

/// Accepts connections on `listener` until `shutdown` completes, then waits (at most 30 s) for
/// the requests in flight.
pub async fn serve(
    gateway: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(gateway.settings.header_timeout)
        .max_buf_size(64 << 10);
    builder.http2().max_concurrent_streams(256);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    // Out of descriptors, or a connection reset before it was accepted.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let gateway = gateway.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = service_fn({
                let gateway = gateway.clone();
                move |req| gateway.clone().handle(req, remote)
            });
            match &gateway.settings.tls {
                Some(config) => {
                    // The handshake is bounded like the headers that follow it.
                    let acceptor = tokio_rustls::TlsAcceptor::from(config.clone());
                    let handshake = tokio::time::timeout(
                        gateway.settings.header_timeout,
                        acceptor.accept(stream),
                    );
                    let Ok(Ok(tls)) = handshake.await else {
                        return;
                    };
                    let conn = builder.serve_connection(TokioIo::new(tls), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
                None => {
                    let conn = builder.serve_connection(TokioIo::new(stream), service);
                    let _ = watcher.watch(conn.into_owned()).await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
}

/// Keeps the gateway and the database in step every `settings.refresh` on a thread of its
/// own, until `stop` is set, starting from a [`sync::StoreSync`] the caller opened (and
/// usually ran once, so that the measures and keys are in use before the first request). A
/// database that cannot be read or written keeps what was last read in use (and says so once
/// until it works again).
pub fn watch_store(
    mut sync: sync::StoreSync,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut failing = false;
        let refresh = sync.gateway().settings.refresh;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(refresh);
            match sync.sync() {
                Ok(()) => failing = false,
                Err(e) if !failing => {
                    say::say(
                        say::Level::Error,
                        "",
                        &format!("keeping in step with the database: {e}"),
                    );
                    failing = true;
                }
                Err(_) => {}
            }
        }
        // What was applied since the last pass is reported before the gateway stops.
        let _ = sync.sync();
    })
}

/// The wall clock, ms since the epoch (a request's arrival; measures' expiry).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The measures in force now.
pub fn read_measures(
    database: &std::path::Path,
) -> Result<measures::Measures, modelward_store::StoreError> {
    let store = modelward_store::Store::open_read_only(database)?;
    let now = now_ms();
    Ok(measures::Measures::new(&store.measures(now)?))
}
