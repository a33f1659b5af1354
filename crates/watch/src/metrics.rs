//! `watch`'s own figures: `GET /metrics` (Prometheus' text format) and `GET /healthz` on
//! `metrics_listen`. The loop publishes a [`Figures`] after each pass; the endpoint renders
//! the latest.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write;
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

/// What one pass of the loop knows.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Records read, by source (`files`, `ingest`, `stdin`).
    pub records: BTreeMap<&'static str, u64>,
    /// Alerts raised, by rule id.
    pub alerts: BTreeMap<String, u64>,
    /// Bytes written to followed files and not read yet (the consumer lag of files).
    pub lag_bytes: u64,
    /// Files followed.
    pub files: u64,
    /// Messages in the assigned Kafka partitions not read yet.
    pub kafka_lag: u64,
    /// Errors reading sources.
    pub source_errors: u64,
    /// The engine's counters (`late`, `malformed`, evictions, ...), as counters.
    pub engine: Vec<(&'static str, u64)>,
    /// What the engine holds (rows, matches, calls, alerts), as gauges.
    pub held: Vec<(&'static str, u64)>,
    /// When the last checkpoint was written (ms since the epoch; 0: none yet).
    pub checkpoint_ms: i64,
    /// With `[watch.scale]`: the keyed topic's figures, as of the last checkpoint, and the
    /// state bytes that checkpoint wrote.
    pub keyed: Option<(crate::scale::KeyedFigures, u64)>,
}

/// The latest figures, shared between the loop and the endpoint.
#[derive(Debug, Default)]
pub struct Published(Mutex<Figures>);

impl Published {
    pub fn set(&self, f: Figures) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = f;
    }

    fn get(&self) -> Figures {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP modelward_watch_{name} {help}");
    let _ = writeln!(out, "# TYPE modelward_watch_{name} {kind}");
}

/// The exposition.
pub fn render(f: &Figures) -> String {
    let mut out = String::new();
    family(
        &mut out,
        "records_total",
        "counter",
        "Records read, by source.",
    );
    for (source, n) in &f.records {
        let _ = writeln!(
            out,
            "modelward_watch_records_total{{source=\"{source}\"}} {n}"
        );
    }
    family(
        &mut out,
        "alerts_total",
        "counter",
        "Alerts raised, by rule id.",
    );
    for (rule, n) in &f.alerts {
        let rule: String = rule
            .chars()
            .map(|c| {
                if c == '"' || c == '\\' || c.is_control() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let _ = writeln!(out, "modelward_watch_alerts_total{{rule=\"{rule}\"}} {n}");
    }
    for (name, kind, help, value) in [
        (
            "lag_bytes",
            "gauge",
            "Bytes in followed files not read yet.",
            f.lag_bytes,
        ),
        ("files", "gauge", "Files followed.", f.files),
        (
            "kafka_lag_messages",
            "gauge",
            "Messages in the assigned Kafka partitions not read yet.",
            f.kafka_lag,
        ),
        (
            "source_errors_total",
            "counter",
            "Errors reading sources.",
            f.source_errors,
        ),
    ] {
        family(&mut out, name, kind, help);
        let _ = writeln!(out, "modelward_watch_{name} {value}");
    }
    family(
        &mut out,
        "engine_total",
        "counter",
        "The engine's counters (late, malformed, evicted, ...).",
    );
    for (name, n) in &f.engine {
        let _ = writeln!(
            out,
            "modelward_watch_engine_total{{counter=\"{name}\"}} {n}"
        );
    }
    family(
        &mut out,
        "state",
        "gauge",
        "What the engine holds for windows still open.",
    );
    for (name, n) in &f.held {
        let _ = writeln!(out, "modelward_watch_state{{kind=\"{name}\"}} {n}");
    }
    if let Some((k, checkpoint_bytes)) = &f.keyed {
        for (name, kind, help, value) in [
            (
                "keyed_partitions",
                "gauge",
                "Partitions of the keyed topic this instance owns.",
                k.partitions,
            ),
            (
                "keyed_published_total",
                "counter",
                "Records published to the keyed topic (stage one).",
                k.published,
            ),
            (
                "keyed_read_total",
                "counter",
                "Records read from the keyed topic (stage two).",
                k.read,
            ),
            (
                "keyed_lag_messages",
                "gauge",
                "Messages in the owned keyed partitions not read yet.",
                k.lag,
            ),
            (
                "keyed_state_bytes",
                "gauge",
                "State written to the state topic by the last checkpoint (gzip'ed bytes).",
                *checkpoint_bytes,
            ),
            (
                "keyed_state_bytes_total",
                "counter",
                "State written to the state topic (gzip'ed bytes).",
                k.state_bytes,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "modelward_watch_{name} {value}");
        }
    }
    family(
        &mut out,
        "checkpoint_timestamp_seconds",
        "gauge",
        "When the last checkpoint was written.",
    );
    let _ = writeln!(
        out,
        "modelward_watch_checkpoint_timestamp_seconds {}",
        f.checkpoint_ms as f64 / 1000.0
    );
    out
}

/// Serves `/metrics` and `/healthz` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    published: Arc<Published>,
    shutdown: impl Future<Output = ()>,
) {
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
            () = &mut shutdown => break,
        };
        let published = published.clone();
        let builder = builder.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let published = published.clone();
                async move {
                    let f = published.get();
                    let (status, kind, body) = match req.uri().path() {
                        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", render(&f)),
                        "/healthz" => (
                            StatusCode::OK,
                            "application/json",
                            serde_json::json!({
                                "status": "ok",
                                "files": f.files,
                                "lag_bytes": f.lag_bytes,
                                "checkpoint_ms": f.checkpoint_ms,
                            })
                            .to_string(),
                        ),
                        _ => (StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
                    };
                    let mut r = Response::new(Full::new(Bytes::from(body)));
                    *r.status_mut() = status;
                    r.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        hyper::header::HeaderValue::from_static(kind),
                    );
                    Ok::<_, Infallible>(r)
                }
            });
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_family_once() {
        let mut f = Figures::default();
        f.records.insert("files", 10);
        f.alerts.insert("rule-\"x\"".into(), 2);
        f.engine.push(("late", 1));
        f.held.push(("rows", 5));
        let text = render(&f);
        assert!(!text.contains("keyed"), "{text}");
        f.keyed = Some((
            crate::scale::KeyedFigures {
                partitions: 3,
                published: 40,
                read: 38,
                lag: 2,
                state_bytes: 900,
            },
            300,
        ));
        let keyed = render(&f);
        for line in [
            "modelward_watch_keyed_partitions 3",
            "modelward_watch_keyed_published_total 40",
            "modelward_watch_keyed_read_total 38",
            "modelward_watch_keyed_lag_messages 2",
            "modelward_watch_keyed_state_bytes 300",
            "modelward_watch_keyed_state_bytes_total 900",
        ] {
            assert!(keyed.lines().any(|l| l == line), "{line} in {keyed}");
        }
        assert!(text.contains("modelward_watch_records_total{source=\"files\"} 10"));
        assert!(
            text.contains("modelward_watch_alerts_total{rule=\"rule-_x_\"} 2"),
            "{text}"
        );
        assert!(text.contains("modelward_watch_engine_total{counter=\"late\"} 1"));
        for family in [
            "records_total",
            "alerts_total",
            "lag_bytes",
            "state",
            "engine_total",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE modelward_watch_{family} "))
                    .count(),
                1,
                "{family}"
            );
        }
    }
}
