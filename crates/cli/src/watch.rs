//! `modelward watch --config FILE`: the engine `hunt` runs, fed continuously from files and
//! directories followed as they grow, an HTTP ingest endpoint and stdin; alerts out as they
//! are raised; positions and the engine's state checkpointed in the database so that a
//! restart, even after `kill -9`, loses no alert (docs/watch.md).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use modelward_event::source::SourceKind;
use modelward_gateway::log::{LlmLog, Record, Rotation};
use modelward_gateway::say::{say, Level};
use modelward_rule::Alert;
use modelward_watch::follow::{FollowOptions, Follower};
use serde::Deserialize;

use crate::config::Options;
use crate::live::{Incidents, Live};
use modelward_engine::Scope;
use modelward_watch::scale::{Keyed, Routed};

/// librdkafka's default `session.timeout.ms`.
const LIBRDKAFKA_SESSION_TIMEOUT_MS: u64 = 45_000;
/// What a scale-out's default `idle` allows beyond the session timeout for the group to
/// rebalance and the new reader to fetch (a few heartbeats).
const REBALANCE_ALLOWANCE: Duration = Duration::from_secs(15);

/// How long `--once` waits for the consumer group to assign partitions before it gives up.
const ASSIGN_WAIT: Duration = Duration::from_secs(120);
use crate::respond::now_ms;

/// `[watch]` as written (every key optional but one source).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchOptions {
    /// This watch's name: its checkpoint's key in the database (default "watch").
    pub name: Option<String>,
    /// Files and directories followed (a directory's files, not its subdirectories).
    pub paths: Option<Vec<PathBuf>>,
    /// File names followed in directories (`*` globs; default: all).
    pub include: Option<Vec<String>>,
    /// Where files there at the first start are read from: "end" (default) or "beginning".
    pub start: Option<String>,
    /// Read stdin line by line too (not checkpointed: stdin cannot be read again).
    pub stdin: Option<bool>,
    /// The database for checkpoints (and incidents); without it nothing survives a restart.
    pub database: Option<PathBuf>,
    /// Alerts through the playbook into `database` as they are raised (default false).
    pub incidents: Option<bool>,
    /// How late an event may come after later ones and still be in its window (default
    /// "30s").
    pub lateness: Option<String>,
    /// How long a source (a file, a partition, stdin) may deliver nothing and still hold
    /// event time back for the others (default "10s"): docs/watch.md, "Event time".
    pub idle: Option<String>,
    /// How often the sources are read when idle (default "250ms").
    pub poll: Option<String>,
    /// How often positions and state are checkpointed (default "5s").
    pub checkpoint: Option<String>,
    /// Where alerts go: "-" (stdout, the default) or an NDJSON file, appended.
    pub alerts: Option<PathBuf>,
    /// Rotate the alerts file into segments of about this many bytes.
    pub alerts_max_bytes: Option<u64>,
    /// More outputs: `[[outputs]]` section names or targets (`elasticsearch+https://…`,
    /// `splunk+https://…`, `sentinel+https://…`, `csv:FILE`, ...; docs/outputs.md), each
    /// flushed (delivered or given up on) before every checkpoint.
    pub outputs: Option<Vec<String>>,
    /// The gateway's format for its own messages: "text" or "json".
    pub log_format: Option<modelward_gateway::say::LogFormat>,
    /// `[watch.http]`: the ingest endpoint.
    pub http: Option<HttpOptions>,
    /// Address for `/metrics` (Prometheus) and `/healthz`.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `[watch.kafka]`: Kafka topics (or Azure Event Hubs) as a consumer group.
    pub kafka: Option<KafkaSettings>,
    /// `[watch.scale]`: several instances, windows keyed by entity through an internal
    /// topic on the `[watch.kafka]` brokers.
    pub scale: Option<ScaleSettings>,
}

/// `[watch.scale]` (docs/watch.md, "Scale-out").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSettings {
    /// The internal topic records are repartitioned through (default "modelward-keyed").
    pub topic: Option<String>,
    /// Its partitions: how many instances can share the windows. Fixed once in use.
    pub partitions: u32,
    /// Where each partition's windows are kept (default: the topic's name + "-state").
    pub state_topic: Option<String>,
    /// Stage two's consumer group (default: `[watch.kafka]` group + "-keyed").
    pub group: Option<String>,
}

/// `[watch.kafka]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// `bootstrap.servers` ("host:9092", or "NAMESPACE.servicebus.windows.net:9093").
    pub brokers: String,
    pub topics: Vec<String>,
    /// The consumer group (default "modelward-watch").
    pub group: Option<String>,
    /// Other librdkafka properties, as strings (`security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, ...).
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, String>,
    /// The environment variable holding `sasl.password` (an Event Hubs connection string).
    pub password_env: Option<String>,
}

/// `[watch.http]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpOptions {
    /// Address to listen on (e.g. "127.0.0.1:9000").
    pub listen: std::net::SocketAddr,
    /// Folder where received records are spooled before the answer (default: `spool`
    /// beside the database, else beside the configuration).
    pub spool: Option<PathBuf>,
    /// The environment variable holding the bearer token senders must present.
    pub token_env: Option<String>,
    /// Largest body accepted (default 16 MiB).
    pub max_body_bytes: Option<usize>,
    /// Spool segments are closed at about this many bytes (default 256 MiB)...
    pub spool_max_bytes: Option<u64>,
    /// ...and this many kept (default 16).
    pub spool_keep: Option<usize>,
}

impl WatchOptions {
    /// Its relative paths, relative to the configuration file's folder.
    pub fn paths_mut(&mut self) -> impl Iterator<Item = &mut PathBuf> {
        self.paths
            .iter_mut()
            .flatten()
            .chain(self.database.iter_mut())
            .chain(self.alerts.iter_mut().filter(|p| p.as_os_str() != "-"))
            .chain(self.http.iter_mut().flat_map(|h| h.spool.iter_mut()))
    }
}

fn duration(key: &str, value: Option<&str>, default: Duration) -> Result<Duration> {
    match value {
        None => Ok(default),
        Some(text) => modelward_gateway::settings::parse_duration(text).with_context(|| {
            format!("[watch] {key}: {text:?} is not a duration (e.g. \"500ms\", \"10s\", \"5m\")")
        }),
    }
}

/// Where alerts go.
enum AlertOut {
    Stdout(std::io::Stdout),
    File(LlmLog),
}

impl AlertOut {
    fn write(&mut self, alerts: &[Alert]) -> Result<()> {
        match self {
            AlertOut::Stdout(out) => {
                let mut out = out.lock();
                for a in alerts {
                    serde_json::to_writer(&mut out, &a.to_json())?;
                    out.write_all(b"\n")?;
                }
                out.flush()?;
            }
            AlertOut::File(log) => {
                for a in alerts {
                    log.write(&a.to_json())?;
                }
            }
        }
        Ok(())
    }
}

/// Lines of stdin, as records of the file `-`.
fn stdin_lines(tx: std::sync::mpsc::SyncSender<Record>) {
    std::thread::spawn(move || {
        let file: Arc<str> = Arc::from("-");
        let stdin = std::io::stdin();
        let mut lock = stdin.lock();
        let (mut line, mut offset) = (1u64, 0u64);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match lock.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
                    let text = text.strip_suffix(b"\r").unwrap_or(text);
                    if text.iter().any(|b| !b.is_ascii_whitespace())
                        && tx
                            .send(Record {
                                file: file.clone(),
                                line,
                                offset,
                                bytes: text.to_vec(),
                            })
                            .is_err()
                    {
                        break;
                    }
                    line += 1;
                    offset += n as u64;
                }
            }
        }
    });
}

/// `idle` when not set: 10 s; in a scale-out, the Kafka session timeout plus
/// [`REBALANCE_ALLOWANCE`]. There a source partition whose reader died is silent until the
/// group gives it to another, after the reader's session and a rebalance; the keyed windows
/// must wait that long for it, or its records come late. A partition nobody reads is not
/// idle.
fn idle_default(w: &WatchOptions) -> Duration {
    match (&w.scale, &w.kafka) {
        (Some(_), Some(k)) => {
            let session_ms = (k.properties.get("session.timeout.ms"))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(LIBRDKAFKA_SESSION_TIMEOUT_MS);
            Duration::from_millis(session_ms) + REBALANCE_ALLOWANCE
        }
        _ => Duration::from_secs(10),
    }
}

pub fn run(config: &Path, once: bool) -> Result<u8> {
    let mut options = Options::load(config)?;
    let w = options
        .watch
        .take()
        .with_context(|| format!("{}: no [watch] section (docs/watch.md)", config.display()))?;
    modelward_gateway::say::set_program("modelward watch");
    modelward_gateway::say::set_format(w.log_format.unwrap_or_default());
    let name = w.name.clone().unwrap_or_else(|| "watch".into());
    let source: SourceKind = match options.input.as_ref().and_then(|i| i.source.as_deref()) {
        Some(s) => s
            .parse()
            .map_err(|e| anyhow::anyhow!("[input] source: {e}"))?,
        None => SourceKind::Auto,
    };
    let lateness = duration("lateness", w.lateness.as_deref(), Duration::from_secs(30))?;
    let idle_after = duration("idle", w.idle.as_deref(), idle_default(&w))?;
    let poll = duration("poll", w.poll.as_deref(), Duration::from_millis(250))?;
    let every = duration(
        "checkpoint",
        w.checkpoint.as_deref(),
        Duration::from_secs(5),
    )?;
    let start_at_end = match w.start.as_deref() {
        None | Some("end") => true,
        Some("beginning") => false,
        Some(other) => bail!("[watch] start: {other:?} is neither \"end\" nor \"beginning\""),
    };
    let mut paths = w.paths.clone().unwrap_or_default();
    let mut include = w.include.clone().unwrap_or_default();
    let mut spool_folder: Option<PathBuf> = None;
    let http = match &w.http {
        Some(h) => {
            let folder = h.spool.clone().unwrap_or_else(|| {
                w.database
                    .as_deref()
                    .and_then(Path::parent)
                    .or_else(|| config.parent())
                    .unwrap_or(Path::new("."))
                    .join("spool")
            });
            let token = match &h.token_env {
                Some(var) => Some(std::env::var(var).with_context(|| {
                    format!("[watch.http] token_env: the environment variable {var} is not set")
                })?),
                None => None,
            };
            paths.push(folder.clone());
            spool_folder = Some(folder.clone());
            if !include.is_empty() {
                include.push(modelward_watch::ingest::SPOOL_INCLUDE.into());
            }
            Some((
                h.listen,
                folder,
                modelward_watch::ingest::IngestOptions {
                    token,
                    max_body_bytes: h.max_body_bytes.unwrap_or(16 << 20),
                    rotation: Rotation {
                        max_bytes: h.spool_max_bytes.unwrap_or(256 << 20),
                        keep: Some(h.spool_keep.unwrap_or(16)),
                    },
                },
            ))
        }
        None => None,
    };
    if paths.is_empty() && w.stdin != Some(true) && w.kafka.is_none() {
        bail!("[watch] needs a source: paths, stdin = true, [watch.http] or [watch.kafka]");
    }
    let incidents = match (w.incidents.unwrap_or(false), &w.database) {
        (true, Some(db)) => Some(Incidents::new(
            &mut options,
            db,
            "modelward watch",
            "watch",
            source,
        )?),
        (true, None) => bail!("[watch] incidents = true needs database"),
        _ => None,
    };
    let mut engine = Arc::new(crate::live::engine(&mut options, config, source)?);
    let mut store = match &w.database {
        Some(db) => Some(
            modelward_store::Store::open(db)
                .with_context(|| format!("opening the database {}", db.display()))?,
        ),
        None => None,
    };
    let (positions, saved) = match &store {
        Some(s) => s.watch_checkpoint(&name)?,
        None => (Vec::new(), None),
    };
    // `[watch.kafka] properties`, with the password from the environment: the source
    // consumer's, and (those of the connection) the scale-out's clients'.
    let kafka_properties = match &w.kafka {
        Some(k) => {
            let mut properties: Vec<(String, String)> = k
                .properties
                .iter()
                .map(|(a, b)| (a.clone(), b.clone()))
                .collect();
            if let Some(var) = &k.password_env {
                let password = std::env::var(var).with_context(|| {
                    format!("[watch.kafka] password_env: the environment variable {var} is not set")
                })?;
                properties.push(("sasl.password".into(), password));
            }
            properties
        }
        None => Vec::new(),
    };
    let kafka_group = (w.kafka.as_ref())
        .and_then(|k| k.group.clone())
        .unwrap_or_else(|| "modelward-watch".into());
    let mut kafka = match &w.kafka {
        Some(k) => Some(modelward_watch::kafka::KafkaSource::new(
            &modelward_watch::kafka::KafkaOptions {
                brokers: k.brokers.clone(),
                topics: k.topics.clone(),
                group: kafka_group.clone(),
                properties: kafka_properties.clone(),
                budget: 8 << 20,
            },
            &positions,
        )?),
        None => None,
    };
    let mut keyed = match (&w.scale, &w.kafka) {
        (Some(scale), Some(k)) => {
            if scale.partitions == 0 {
                bail!("[watch.scale] partitions must be at least 1");
            }
            let topic = (scale.topic.clone()).unwrap_or_else(|| "modelward-keyed".into());
            Some(Keyed::new(&modelward_watch::scale::ScaleOptions {
                brokers: k.brokers.clone(),
                properties: kafka_properties
                    .iter()
                    .filter(|(key, _)| is_client_property(key))
                    .cloned()
                    .collect(),
                state_topic: (scale.state_topic.clone())
                    .unwrap_or_else(|| format!("{topic}-state")),
                topic,
                partitions: scale.partitions,
                group: (scale.group.clone()).unwrap_or_else(|| format!("{kafka_group}-keyed")),
            })?)
        }
        (Some(_), None) => {
            bail!("[watch.scale] needs [watch.kafka]: its brokers carry the internal topics")
        }
        _ => None,
    };
    let mut parts: std::collections::BTreeMap<u32, Part<'static>> = Default::default();
    // The source topics' partitions: every keyed partition's windows wait for each.
    let mut origins: Vec<Arc<str>> = Vec::new();
    let mut follower = Follower::new(
        FollowOptions {
            paths,
            include,
            start_at_end,
            ..FollowOptions::default()
        },
        &positions,
    );
    let mut live = Live::new(
        engine.clone(),
        (lateness.as_millis() as i64, idle_after.as_millis() as i64),
        saved.as_deref(),
        "watch",
    );
    if keyed.is_some() {
        live.set_scope(Scope::PerEvent);
    }
    let timing = (lateness.as_millis() as i64, idle_after.as_millis() as i64);
    let mut out = match &w.alerts {
        Some(p) if p.as_os_str() != "-" => AlertOut::File(
            match w.alerts_max_bytes {
                Some(max_bytes) => LlmLog::open_rotating(
                    p,
                    Rotation {
                        max_bytes,
                        keep: None,
                    },
                ),
                None => LlmLog::open(p),
            }
            .with_context(|| format!("opening the alerts file {}", p.display()))?,
        ),
        _ => AlertOut::Stdout(std::io::stdout()),
    };
    // Opened before anything is read: a bad target or an unset secret is said at once.
    let base = config.parent().unwrap_or(Path::new("."));
    let mut outputs = match &w.outputs {
        Some(list) if !list.is_empty() => crate::outputs::open(
            &list
                .iter()
                .map(|t| relative_to(base, t))
                .collect::<Vec<_>>(),
            options.outputs.as_deref().unwrap_or_default(),
            Some(crate::args::Format::Ndjson),
        )?,
        _ => modelward_sinks::Outputs::new(Vec::new()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    // SIGTERM and SIGINT (and the ingest endpoint) on a small runtime of their own.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    {
        let stop = stop.clone();
        rt.spawn(async move {
            crate::gateway::shutdown_signal().await;
            stop.store(true, Ordering::Relaxed);
        });
    }
    // SIGHUP: rules and exceptions read again, the state kept.
    let reload = Arc::new(AtomicBool::new(false));
    {
        let reload = reload.clone();
        rt.spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                return;
            };
            while hup.recv().await.is_some() {
                reload.store(true, Ordering::Relaxed);
            }
        });
    }
    if let Some((listen, folder, ingest)) = http {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .with_context(|| format!("[watch.http] listening on {listen}"))?;
        let address = listener.local_addr()?;
        let stop = stop.clone();
        rt.spawn(async move {
            let stopped = async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            if let Err(e) = modelward_watch::ingest::serve(listener, &folder, ingest, stopped).await
            {
                say(Level::Error, "ingest", &format!("{e}"));
            }
        });
        say(
            Level::Info,
            "",
            &format!("ingest listening on http://{address}/ingest"),
        );
    }
    let published = Arc::new(modelward_watch::metrics::Published::default());
    if let Some(listen) = w.metrics_listen {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(listen))
            .with_context(|| format!("[watch] metrics_listen {listen}"))?;
        let address = listener.local_addr()?;
        let (stop, published) = (stop.clone(), published.clone());
        rt.spawn(async move {
            let stopped = async move {
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            };
            modelward_watch::metrics::serve(listener, published, stopped).await;
        });
        say(
            Level::Info,
            "",
            &format!("metrics on http://{address}/metrics"),
        );
    }
    let mut figures = modelward_watch::metrics::Figures::default();
    let (stdin_tx, stdin_rx) = std::sync::mpsc::sync_channel(65_536);
    if w.stdin == Some(true) {
        stdin_lines(stdin_tx);
    } else {
        drop(stdin_tx);
    }
    say(Level::Info, "", "watching");
    let mut last_checkpoint = Instant::now();
    let started = Instant::now();
    let mut alerts_out = 0u64;
    let mut errors = Vec::new();
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if reload.swap(false, Ordering::Relaxed) {
            let reloaded = Options::load(config)
                .and_then(|mut o| crate::live::engine(&mut o, config, source).map(Arc::new));
            // Every session (stage one's and each keyed partition's) goes on with the new
            // rules, or none does.
            let reloaded = reloaded.and_then(|e| {
                live.reload(e.clone())?;
                for part in parts.values_mut() {
                    part.live.reload(e.clone())?;
                }
                engine = e;
                Ok(())
            });
            match reloaded {
                Ok(()) => say(Level::Info, "", "rules and exceptions reloaded; state kept"),
                Err(e) => say(
                    Level::Error,
                    "",
                    &format!("reload refused, the running rules are kept: {e:#}"),
                ),
            }
        }
        let mut batches = follower.poll(&mut errors);
        if let Some(k) = kafka.as_mut() {
            let mut kafka_errors = Vec::new();
            batches.extend(k.poll(Duration::ZERO, &mut kafka_errors));
            for e in kafka_errors {
                figures.source_errors += 1;
                say(Level::Warn, "kafka", &e);
            }
        }
        let stdin: Vec<Record> = stdin_rx.try_iter().take(65_536).collect();
        if !stdin.is_empty() {
            batches.extend(crate::live::batches(stdin));
        }
        for e in errors.drain(..) {
            figures.source_errors += 1;
            say(Level::Warn, "follow", &e.to_string());
        }
        for b in &batches {
            let kind = if &*b.file == "-" {
                "stdin"
            } else if b.file.starts_with("kafka:") {
                "kafka"
            } else if spool_folder
                .as_deref()
                .is_some_and(|f| Path::new(&*b.file).starts_with(f))
            {
                "ingest"
            } else {
                "files"
            };
            *figures.records.entry(kind).or_default() += b.records.len() as u64;
        }
        let mut idle = batches.is_empty();
        if let Some(k) = &kafka {
            live.expect(k.assigned(), now_ms());
        }
        let mut alerts = match keyed.as_mut() {
            Some(k) => {
                let (alerts, routes) = live.step_routed(&batches, now_ms(), k.partitions());
                publish_routed(k, &batches, &routes)?;
                let mut errors = Vec::new();
                let routed = k.poll(8 << 20, &mut errors);
                for e in errors {
                    figures.source_errors += 1;
                    say(Level::Warn, "kafka", &e);
                }
                idle &= routed.is_empty();
                let mut alerts = alerts;
                if origins.is_empty() {
                    if let Some(source) = &kafka {
                        origins = source.all_partitions()?;
                    }
                }
                alerts.extend(step_partitions(
                    k,
                    &mut parts,
                    &engine,
                    timing,
                    (routed, &origins),
                )?);
                alerts
            }
            None => live.step(&batches, now_ms()),
        };
        crate::live::report_order(&mut alerts);
        emit(&mut out, &mut outputs, &incidents, &alerts, &follower)?;
        alerts_out += alerts.len() as u64;
        for a in &alerts {
            *figures.alerts.entry(a.rule.id.clone()).or_default() += 1;
        }
        if let Some(i) = &incidents {
            i.settle(false);
        }
        if w.metrics_listen.is_some() {
            publish(&mut figures, &follower, &live, &parts, &published);
        }
        let drained = once
            && idle
            && kafka.as_ref().is_none_or(|k| k.caught_up())
            && keyed
                .as_ref()
                .is_none_or(|k| k.caught_up(modelward_watch::kafka::QUIET));
        if stopping || drained {
            break;
        }
        if let Some(k) = kafka.as_ref().filter(|_| once) {
            if k.assigned().is_empty() && started.elapsed() >= ASSIGN_WAIT {
                bail!(
                    "[watch.kafka] --once: the group {:?} assigned this consumer no partition within {}s (is the topic there, and every other member of the group stopped?)",
                    k.group(),
                    ASSIGN_WAIT.as_secs()
                );
            }
        }
        // Stage two's group likewise: tansu 0.6 has been seen never to assign a member that
        // joins after others left or died (docs/watch.md, "Kafka, as verified").
        if let Some(k) = keyed.as_ref().filter(|_| once) {
            if k.assigned().is_empty() && started.elapsed() >= ASSIGN_WAIT {
                bail!(
                    "[watch.scale] --once: the group {:?} assigned this consumer no partition of the keyed topic within {}s (is every other member of the group stopped?)",
                    k.group(),
                    ASSIGN_WAIT.as_secs()
                );
            }
        }
        if last_checkpoint.elapsed() >= every {
            checkpoint(
                store.as_mut(),
                &mut outputs,
                &name,
                &follower,
                kafka.as_ref(),
                &live,
            )?;
            if let Some(k) = &keyed {
                let before = k.state_bytes();
                checkpoint_partitions(k, &parts)?;
                if w.metrics_listen.is_some() {
                    let now = k.figures(|p| parts.get(&p).map_or(0, |part| part.next));
                    figures.keyed = Some((now, now.state_bytes - before));
                }
            }
            last_checkpoint = Instant::now();
            figures.checkpoint_ms = now_ms();
            if let (Some(k), Some(_)) = (&kafka, w.metrics_listen) {
                figures.kafka_lag = k.lag();
            }
        }
        if idle {
            std::thread::sleep(poll);
        }
    }
    // Without --once, open windows and the analyzers' profiles carry over to the next start;
    // with it, every window closes as at the end of a hunt, and a next start begins with a
    // new state from here.
    // Events counted late (after their windows had run, `[watch] lateness`).
    let late = summed(&live, &parts, |s| s.late);
    let kept = if once {
        let mut rest = closed(&mut live, &engine);
        for part in parts.values_mut() {
            rest.extend(closed(&mut part.live, &engine));
        }
        crate::live::report_order(&mut rest);
        emit(&mut out, &mut outputs, &incidents, &rest, &follower)?;
        alerts_out += rest.len() as u64;
        live
    } else {
        live
    };
    checkpoint(
        store.as_mut(),
        &mut outputs,
        &name,
        &follower,
        kafka.as_ref(),
        &kept,
    )?;
    if let Some(k) = &keyed {
        checkpoint_partitions(k, &parts)?;
    }
    if let Some(i) = &incidents {
        i.settle(true);
    }
    let _ = modelward_engine::AlertSink::finish(&mut outputs);
    let (failed, _) = crate::outputs::report(&outputs, false);
    if late > 0 {
        say(
            Level::Warn,
            "",
            &format!(
                "{late} event(s) came after event time had passed their windows by more than `lateness`: ES|QL rows left out, correlation matches and LLM calls counted out of order (raise [watch] lateness, or idle when a source or a partition's reader pauses longer; docs/watch.md#time)"
            ),
        );
    }
    say(
        Level::Info,
        "",
        &format!("stopped; {alerts_out} alert(s) raised"),
    );
    Ok(if failed { 2 } else { 0 })
}

/// Alerts out, then into incidents (the followed files are the logs incidents read back).
fn emit(
    out: &mut AlertOut,
    outputs: &mut modelward_sinks::Outputs,
    incidents: &Option<Incidents>,
    alerts: &[Alert],
    follower: &Follower,
) -> Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    out.write(alerts).context("writing alerts")?;
    for a in alerts {
        // One output failing is kept aside and said at the end; the others go on.
        let _ = modelward_engine::AlertSink::alert(outputs, a);
    }
    if let Some(i) = incidents {
        let files: Vec<PathBuf> = follower
            .positions()
            .into_iter()
            .map(|p| PathBuf::from(p.path))
            .collect();
        if let Err(e) = i.ingest(alerts, &files) {
            say(Level::Error, "watch", &format!("{e:#}"));
        }
    }
    Ok(())
}

/// The positions read to and the engine's state there, in one transaction: written only
/// after the alerts they produced went out, so a restart repeats (with the same ids) rather
/// than loses.
fn checkpoint(
    store: Option<&mut modelward_store::Store>,
    outputs: &mut modelward_sinks::Outputs,
    name: &str,
    follower: &Follower,
    kafka: Option<&modelward_watch::kafka::KafkaSource>,
    live: &Live<'_>,
) -> Result<()> {
    // Every alert raised so far delivered (or given up on, reported and spooled) first.
    let _ = modelward_engine::AlertSink::flush(outputs);
    let Some(store) = store else { return Ok(()) };
    let snapshot = live.snapshot()?;
    let mut positions = follower.positions();
    if let Some(k) = kafka {
        positions.extend(k.positions());
    }
    let mut b = store.batch()?;
    b.put_watch_checkpoint(name, &positions, &snapshot, now_ms())?;
    b.commit()?;
    // The group's offsets follow the checkpoint (never before it).
    if let Some(k) = kafka {
        if let Err(e) = k.commit() {
            say(Level::Warn, "kafka", &e.to_string());
        }
    }
    Ok(())
}

/// Every window of `live` closed, as at the end of a hunt: their alerts; `live` goes on
/// empty, doing the same part of the work (a next start begins with a new state).
fn closed(live: &mut Live<'static>, engine: &Arc<modelward_engine::Engine>) -> Vec<Alert> {
    let mut fresh = Live::new(engine.clone(), (0, 0), None, "watch");
    fresh.set_scope(live.scope());
    std::mem::replace(live, fresh).finish()
}

/// librdkafka properties the internal topics' clients take from `[watch.kafka] properties`:
/// those of the connection (security, SASL, timeouts), not the source consumer's own.
fn is_client_property(key: &str) -> bool {
    !matches!(
        key,
        "group.id" | "group.instance.id" | "auto.offset.reset" | "enable.auto.commit"
    ) && !key.starts_with("partition.assignment")
}

/// Stage one's records out to the internal partitions their windows' keys fall in, then
/// waited for (stage one's checkpoint, and the source offsets, follow only once they are
/// on the broker).
fn publish_routed(
    k: &Keyed,
    batches: &[modelward_event::input::Batch],
    routes: &[Vec<Vec<u32>>],
) -> Result<()> {
    let mut any = false;
    for (b, per_record) in batches.iter().zip(routes) {
        for (span, partitions) in b.records.iter().zip(per_record) {
            for &p in partitions {
                k.publish(p, (&b.file, span.line, span.offset), b.bytes(span))?;
                any = true;
            }
        }
    }
    if any {
        k.flush()?;
    }
    Ok(())
}

/// One internal partition's windows, on the instance the group assigned it to.
struct Part<'e> {
    live: Live<'e>,
    /// The next offset of the internal partition to read (what the state holds is before).
    next: i64,
    /// Per Kafka source partition (`kafka:topic/n`), the next source offset: a record
    /// published again after a crash of stage one between its publishing and its source's
    /// commit is not counted twice.
    seen: std::collections::BTreeMap<String, u64>,
}

/// A partition's state as the state topic keeps it (JSON, gzip'ed there).
#[derive(serde::Serialize, serde::Deserialize)]
struct PartState {
    next: i64,
    seen: std::collections::BTreeMap<String, u64>,
    snapshot: Box<serde_json::value::RawValue>,
}

impl Part<'static> {
    /// The partition's windows from its last state (or empty).
    fn load(
        k: &Keyed,
        p: u32,
        engine: &Arc<modelward_engine::Engine>,
        timing: (i64, i64),
    ) -> Result<Part<'static>> {
        let saved = k.load_state(p)?;
        let state: Option<PartState> = saved.and_then(|json| match serde_json::from_slice(&json) {
            Ok(state) => Some(state),
            Err(e) => {
                say(
                    Level::Warn,
                    "watch",
                    &format!(
                        "partition {p}: its saved state is not readable ({e}): starting it afresh"
                    ),
                );
                None
            }
        });
        let scope = Scope::Partition {
            index: p,
            count: k.partitions(),
        };
        let (next, seen, snapshot) = match state {
            Some(s) => (s.next, s.seen, Some(s.snapshot)),
            None => (0, Default::default(), None),
        };
        let mut live = Live::new(
            engine.clone(),
            timing,
            snapshot.as_ref().map(|s| s.get().as_bytes()),
            "watch",
        );
        live.set_scope(scope);
        say(
            Level::Info,
            "watch",
            &format!("partition {p} of the keyed topic taken on (from offset {next})"),
        );
        Ok(Part { live, next, seen })
    }

    fn state(&self) -> Result<Vec<u8>> {
        let snapshot =
            serde_json::value::RawValue::from_string(String::from_utf8(self.live.snapshot()?)?)?;
        Ok(serde_json::to_vec(&PartState {
            next: self.next,
            seen: self.seen.clone(),
            snapshot,
        })?)
    }
}

/// Stage two: the partitions assigned now (a partition taken on restores its state, one
/// given up is dropped: its next owner restores it from the state topic), their records
/// pushed, their windows advanced. Returns the alerts that are ready.
fn step_partitions(
    k: &Keyed,
    parts: &mut std::collections::BTreeMap<u32, Part<'static>>,
    engine: &Arc<modelward_engine::Engine>,
    timing: (i64, i64),
    (routed, origins): (Vec<Routed>, &[Arc<str>]),
) -> Result<Vec<Alert>> {
    let assigned = k.assigned();
    parts.retain(|p, _| assigned.contains(p));
    for p in assigned {
        if !parts.contains_key(p) {
            parts.insert(*p, Part::load(k, *p, engine, timing)?);
        }
    }
    let mut records: std::collections::BTreeMap<u32, Vec<Record>> = Default::default();
    for r in routed {
        let Some(part) = parts.get_mut(&r.partition) else {
            continue;
        };
        if r.offset < part.next {
            continue;
        }
        part.next = r.offset + 1;
        if r.file.starts_with("kafka:") {
            let next = part.seen.entry(r.file.to_string()).or_default();
            if r.byte_offset < *next {
                continue;
            }
            *next = r.byte_offset + 1;
        }
        records.entry(r.partition).or_default().push(Record {
            file: r.file,
            line: r.line,
            offset: r.byte_offset,
            bytes: r.payload,
        });
    }
    let now = now_ms();
    let mut alerts = Vec::new();
    for (p, part) in parts.iter_mut() {
        let mine = crate::live::batches(records.remove(p).unwrap_or_default());
        // Records of every source partition come here, each at the pace its reader (on any
        // instance) reads it: each holds the windows back until it delivers or is idle.
        part.live.expect(origins, now);
        alerts.extend(part.live.step(&mine, now));
    }
    Ok(alerts)
}

/// Each assigned partition's state to the state topic, then its offset committed to stage
/// two's group (never before: a restart reads from the state's offset on).
fn checkpoint_partitions(
    k: &Keyed,
    parts: &std::collections::BTreeMap<u32, Part<'static>>,
) -> Result<()> {
    let mut offsets = Vec::new();
    for (p, part) in parts {
        if !k.assigned().contains(p) {
            continue;
        }
        k.save_state(*p, &part.state()?)?;
        offsets.push((*p, part.next));
    }
    if offsets.is_empty() {
        return Ok(());
    }
    k.flush()?;
    if let Err(e) = k.commit(&offsets) {
        say(Level::Warn, "kafka", &e.to_string());
    }
    Ok(())
}

/// The loop's figures for `/metrics`.
fn publish(
    figures: &mut modelward_watch::metrics::Figures,
    follower: &Follower,
    live: &Live<'_>,
    parts: &std::collections::BTreeMap<u32, Part<'_>>,
    published: &modelward_watch::metrics::Published,
) {
    let (files, lag) = follower.lag();
    figures.files = files;
    figures.lag_bytes = lag;
    let (stats, _) = live.figures();
    // Records are read, parsed and matched by stage one (`live`); windows are kept by each
    // keyed partition's session in a scale-out, by `live` alone otherwise.
    let windowed = |f: fn(&modelward_engine::RunStats) -> u64| summed(live, parts, f);
    figures.engine = vec![
        ("events", stats.events),
        ("malformed", stats.malformed),
        ("normalize_errors", stats.normalize_errors),
        ("late", windowed(|s| s.late)),
        ("no_timestamp", windowed(|s| s.no_timestamp)),
        ("suppressed", windowed(|s| s.suppressed)),
        ("excluded", windowed(|s| s.excluded)),
        ("correlation_evicted", windowed(|s| s.correlation_evicted)),
        (
            "correlation_groups_evicted",
            windowed(|s| s.correlation_groups_evicted),
        ),
        ("behavior_evicted", windowed(|s| s.behavior_evicted)),
        ("state_not_restored", windowed(|s| s.state_not_restored)),
    ];
    let held = |f: fn(&modelward_engine::Held) -> usize| {
        (f(&live.figures().1)
            + parts
                .values()
                .map(|p| f(&p.live.figures().1))
                .sum::<usize>()) as u64
    };
    figures.held = vec![
        ("rows", held(|h| h.rows)),
        ("matches", held(|h| h.matches)),
        ("calls", held(|h| h.calls)),
        ("alerts", held(|h| h.alerts)),
    ];
    published.set(figures.clone());
}

/// A run figure summed over stage one's session and every keyed partition's.
fn summed(
    live: &Live<'_>,
    parts: &std::collections::BTreeMap<u32, Part<'_>>,
    f: fn(&modelward_engine::RunStats) -> u64,
) -> u64 {
    f(live.figures().0) + parts.values().map(|p| f(p.live.figures().0)).sum::<u64>()
}

/// A file target (`csv:alerts.csv`) relative to the configuration's folder, as the file's
/// other paths are; other targets and section names as written.
fn relative_to(base: &Path, target: &str) -> String {
    match target.split_once(':') {
        Some((kind @ ("csv" | "ocsf" | "ndjson" | "json"), file))
            if file != "-" && Path::new(file).is_relative() =>
        {
            format!("{kind}:{}", base.join(file).display())
        }
        _ => target.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(text: &str) -> WatchOptions {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn a_scale_out_waits_for_a_dead_readers_partition_to_be_reassigned() {
        let kafka = "[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\n";
        assert_eq!(idle_default(&watch(kafka)), Duration::from_secs(10));
        let scaled = format!("{kafka}[scale]\npartitions = 4\n");
        assert_eq!(idle_default(&watch(&scaled)), Duration::from_secs(60));
        let short = "[kafka]\nbrokers = \"b:9092\"\ntopics = [\"t\"]\nproperties = { \"session.timeout.ms\" = \"6000\" }\n[scale]\npartitions = 4\n";
        assert_eq!(idle_default(&watch(short)), Duration::from_secs(21));
    }
}
