//! `modelward gateway --config FILE`: the inline gateway until SIGINT or SIGTERM; with
//! `detect = true`, every call it logs also goes through the engine `hunt` runs (the same
//! rules, detectors and analyzers, from the same configuration) and its alerts through the
//! playbook into the database, whose measures the gateway reads back within a second.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use modelward_event::source::SourceKind;
use modelward_gateway::log::Record;
use modelward_gateway::say::{say, Level};
use modelward_gateway::Gateway;

use crate::args::{Format, GatewayArgs, GatewayCommand, KeysCommand};
use crate::config::Options;
use crate::live::{batches, Incidents, Live};
use crate::respond::now_ms;

/// Calls waiting for detection; more are logged but not analysed (counted in /healthz).
const DETECT_QUEUE: usize = 65_536;
/// How long in-path detection waits for the next call before it steps anyway.
const WAIT: Duration = Duration::from_millis(200);

/// `modelward gateway`: run it, or manage its keys.
pub fn main(args: GatewayArgs) -> Result<u8> {
    let config = args
        .config
        .clone()
        .context("--config FILE is needed (the file with the [gateway] section)")?;
    match args.command {
        None => run(&config, args.listen),
        Some(GatewayCommand::Keys(_)) if args.listen.is_some() => {
            anyhow::bail!("--listen is for running the gateway, not for `gateway keys`")
        }
        Some(GatewayCommand::Keys(command)) => keys(&config, command),
    }
}

/// The configuration file's options and its `[gateway]` section.
fn load(config: &Path) -> Result<(Options, modelward_gateway::settings::Options)> {
    let mut options = Options::load(config)?;
    let gateway = options.gateway.take().with_context(|| {
        format!(
            "{}: no [gateway] section (docs/gateway.md)",
            config.display()
        )
    })?;
    Ok((options, gateway))
}

fn run(config: &Path, listen: Option<std::net::SocketAddr>) -> Result<u8> {
    let (options, mut gateway_options) = load(config)?;
    if let Some(listen) = listen {
        gateway_options.listen = Some(listen);
    }
    // Unnamed, the gateway is named by the address it listens on, once bound (port 0).
    let named = gateway_options.name.is_some();
    let mut settings = gateway_options
        .resolve(&|var| std::env::var(var).ok())
        .with_context(|| format!("{}: [gateway]", config.display()))?;
    modelward_gateway::say::set_format(settings.log_format);
    let scheme = if settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    if let (None, Some(db)) = (&settings.secret, &settings.database) {
        // The secret kept in the database (made at the first start), so that perturbation
        // can be recomputed later and proof-of-work challenges outlive a restart.
        let mut store = modelward_store::Store::open(db)
            .with_context(|| format!("opening the database {}", db.display()))?;
        let mut batch = store.batch()?;
        let secret = batch.secret_or("gateway", now_ms(), || {
            modelward_gateway::random_secret().to_vec()
        })?;
        batch.commit()?;
        settings.secret = Some(secret);
    }
    let mut log = match &settings.log {
        Some(path) => Some(
            match settings.log_rotation {
                Some(r) => modelward_gateway::log::LlmLog::open_rotating(path, r),
                None => modelward_gateway::log::LlmLog::open(path),
            }
            .with_context(|| format!("opening the LLM log {}", path.display()))?,
        ),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    // Detection's queue is the log's tap; its thread starts once the gateway exists (it puts
    // the measures its incidents decide in force at once).
    let mut detection = None;
    if let (Some(db), Some(path), true) = (&settings.database, &settings.log, settings.detect) {
        // Detection's threads (its own and the engine's rayon workers) give way to those
        // answering requests: the pool is made here, before the engine is built.
        let nice = settings.detect_nice;
        let _ = rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("detection-{i}"))
            .start_handler(move |_| give_way(nice))
            .build_global();
        let detector = Detector::new(options, config, db, path, &settings)?;
        let (tx, rx) = std::sync::mpsc::sync_channel(DETECT_QUEUE);
        log = log.map(|l| l.with_tap(tx));
        detection = Some((detector, rx));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let mut settings = settings;
        if !named {
            settings.name = format!("gateway@{address}");
        }
        let database = settings.database.clone();
        let gateway = Arc::new(modelward_gateway::Gateway::new(settings, log));
        let detection = detection.map(|(detector, rx)| {
            let (gateway, stop) = (gateway.clone(), stop.clone());
            std::thread::Builder::new()
                .name("detection".into())
                .spawn(move || detector.run(rx, &gateway, &stop))
                .expect("starting the detection thread")
        });
        let watcher = match database {
            Some(db) => {
                let mut sync = modelward_gateway::sync::StoreSync::open(gateway.clone(), &db)
                    .with_context(|| format!("opening the database {}", db.display()))?;
                sync.sync()
                    .with_context(|| format!("reading measures and keys from {}", db.display()))?;
                Some(modelward_gateway::watch_store(sync, stop.clone()))
            }
            None => None,
        };
        say(
            Level::Info,
            "",
            &format!("listening on {scheme}://{address}"),
        );
        modelward_gateway::serve(gateway.clone(), listener, shutdown_signal()).await;
        // Every call logged is written and handed to detection before detection is told to
        // stop (it then analyses what is queued).
        gateway.flush_log();
        stop.store(true, Ordering::Relaxed);
        // (The detection thread holds the gateway too: its log's tap closes when it ends.)
        if let Some(w) = watcher {
            let _ = w.join();
        }
        // The gateway (and with it the log's tap) is gone: detection ends with what it has.
        if let Some(d) = detection {
            let _ = d.join();
        }
        say(Level::Info, "", "stopped");
        Ok(0)
    })
}

/// `modelward gateway keys create|list|revoke`: the virtual keys in `[gateway] database`.
fn keys(config: &Path, command: KeysCommand) -> Result<u8> {
    use modelward_gateway::keys::{issue, Limits};
    let (_, gateway) = load(config)?;
    let db = gateway.database.with_context(|| {
        format!(
            "{}: [gateway] has no `database`, where keys are kept",
            config.display()
        )
    })?;
    let mut store = modelward_store::Store::open(&db)
        .with_context(|| format!("opening the database {}", db.display()))?;
    let now = now_ms();
    match command {
        KeysCommand::Create {
            principal,
            team,
            name,
            requests_per_minute,
            tokens_per_minute,
            models,
            expires_in,
            by,
        } => {
            if principal.trim().is_empty() {
                anyhow::bail!("--principal must name someone");
            }
            let expires_at = match expires_in {
                Some(text) => {
                    let d =
                        modelward_gateway::settings::parse_duration(&text).with_context(|| {
                            format!("--expires-in {text:?} is not a duration such as 30d or 12h")
                        })?;
                    Some(now.saturating_add(d.as_millis() as i64))
                }
                None => None,
            };
            let limits = Limits {
                requests_per_minute,
                tokens_per_minute,
                models,
            };
            let random: [u8; 24] = modelward_gateway::random_secret()[..24]
                .try_into()
                .expect("24 of 32 bytes");
            let (key, stored) = issue(
                random,
                &principal,
                team.as_deref(),
                &name,
                &limits,
                now,
                expires_at,
            );
            let mut batch = store.batch()?;
            batch.add_key(&stored)?;
            batch.append_audit(&key_audit(
                now,
                "gateway_key_create",
                &stored.id,
                serde_json::json!({"principal": principal, "team": team, "name": name, "limits": serde_json::from_str::<serde_json::Value>(&stored.limits).unwrap_or_default(), "expires_at": expires_at}),
                &by,
            ))?;
            batch.commit()?;
            println!("{key}");
            eprintln!(
                "modelward: key {} issued to {principal}; it is shown this once (only its hash is kept)",
                stored.id
            );
        }
        KeysCommand::List { format } => {
            let keys = store.keys()?;
            let state =
                |k: &modelward_store::gateway::VirtualKey| match (k.revoked_at, k.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(t)) if t <= now => "expired",
                    _ => "active",
                };
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            use std::io::Write;
            let mut docs = crate::jsonout::JsonDocs::new(format == Format::Json);
            for k in &keys {
                let limits: serde_json::Value =
                    serde_json::from_str(&k.limits).unwrap_or(serde_json::Value::Null);
                if format == Format::Table {
                    writeln!(
                        out,
                        "{:<20} {:<8} {:<24} {:<12} {} {}",
                        k.id,
                        state(k),
                        crate::output::printable(&k.principal),
                        crate::output::printable(k.team.as_deref().unwrap_or("-")),
                        crate::output::printable(&k.name),
                        limits_text(&limits),
                    )?;
                } else {
                    let doc = serde_json::json!({
                        "id": k.id, "state": state(k), "principal": k.principal, "team": k.team,
                        "name": k.name, "limits": limits,
                        "created_at": modelward_event::format_timestamp(k.created_at),
                        "expires_at": k.expires_at.map(modelward_event::format_timestamp),
                        "revoked_at": k.revoked_at.map(modelward_event::format_timestamp),
                    });
                    docs.write(&mut out, doc)?;
                }
            }
            docs.finish(&mut out)?;
            out.flush()?;
            eprintln!("modelward: {} key(s)", keys.len());
        }
        KeysCommand::Revoke { id, by } => {
            let mut batch = store.batch()?;
            let revoked = batch.revoke_virtual_key(&id, now)?;
            if revoked {
                batch.append_audit(&key_audit(
                    now,
                    "gateway_key_revoke",
                    &id,
                    serde_json::json!({}),
                    &by,
                ))?;
            }
            batch.commit()?;
            if !revoked {
                let known = store.keys()?.iter().any(|k| k.id == id);
                anyhow::bail!(if known {
                    format!("{id} was already revoked")
                } else {
                    format!("no key {id} (see `modelward gateway keys list`)")
                });
            }
            eprintln!("modelward: {id} revoked; gateways refuse it from their next refresh");
        }
    }
    Ok(0)
}

/// The audit log's entry for issuing or revoking a virtual key: no incident, done by `by`
/// (the key's id is an identifier, never the key).
fn key_audit(
    at: i64,
    action: &str,
    id: &str,
    params: serde_json::Value,
    by: &str,
) -> modelward_store::audit::AuditRecord {
    modelward_store::audit::AuditRecord {
        seq: 0,
        at,
        incident_id: String::new(),
        action: action.into(),
        target_kind: "gateway_key".into(),
        target: id.into(),
        params: params.to_string(),
        decision: "by hand".into(),
        reason: String::new(),
        rules: "[]".into(),
        executor: "modelward gateway keys".into(),
        outcome: "done".into(),
        detail: String::new(),
        idempotency_key: format!("{action}:{id}"),
        actor: by.into(),
    }
}

/// A key's limits, short: `60 rpm, 10000 tpm, models gpt-4o*`.
fn limits_text(limits: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(n) = limits["requests_per_minute"].as_u64() {
        parts.push(format!("{n} rpm"));
    }
    if let Some(n) = limits["tokens_per_minute"].as_u64() {
        parts.push(format!("{n} tpm"));
    }
    if let Some(models) = limits["models"].as_array().filter(|m| !m.is_empty()) {
        let names: Vec<String> = models
            .iter()
            .filter_map(|m| m.as_str())
            .map(|m| crate::output::printable(m).into_owned())
            .collect();
        parts.push(format!("models {}", names.join(" ")));
    }
    if parts.is_empty() {
        "no limits of its own".into()
    } else {
        parts.join(", ")
    }
}

/// `modelward pow solve CHALLENGE`: the solution header's value on stdout.
pub fn solve(challenge: &str) -> Result<u8> {
    let solution = modelward_gateway::pow::solve(challenge.trim())
        .context("not a modelward proof-of-work challenge")?;
    println!("{solution}");
    Ok(0)
}

/// SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// In-path detection: the engine over the calls as they are logged, and the playbook over
/// its alerts.
struct Detector {
    engine: modelward_engine::Engine,
    incidents: Incidents,
    db: PathBuf,
    log: PathBuf,
    lateness: i64,
    /// Where the session's state is kept across restarts.
    state: Option<PathBuf>,
    /// The nice value of the detection thread (`detect_nice`).
    nice: u8,
}

impl Detector {
    fn new(
        mut options: Options,
        config: &Path,
        db: &Path,
        log: &Path,
        settings: &modelward_gateway::Settings,
    ) -> Result<Detector> {
        let incidents = Incidents::new(
            &mut options,
            db,
            "modelward gateway",
            "detection",
            SourceKind::ModelwardLlm,
        )?;
        let engine = crate::live::engine(&mut options, config, SourceKind::ModelwardLlm)?;
        Ok(Detector {
            engine,
            incidents,
            db: db.to_path_buf(),
            log: log.to_path_buf(),
            lateness: settings.detect_lateness.as_millis() as i64,
            state: settings.detect_state.clone(),
            nice: settings.detect_nice,
        })
    }

    /// Takes the calls as they come (in batches of what is queued), runs them through
    /// [`Live`] and sends the alerts that are ready through the playbook, putting the
    /// measures it decides in force at once. When `stop` is set, the calls still queued are
    /// analysed and, without `detect_state`, every open window closed, as at the end of a
    /// hunt (with it, the state is kept for the next start).
    fn run(self, rx: Receiver<Record>, gateway: &Gateway, stop: &AtomicBool) {
        give_way(self.nice);
        let saved = self.state.as_deref().and_then(|p| std::fs::read(p).ok());
        // One source, its own log, stamped as calls are made: idle as soon as a wait for the
        // next call times out, and event time is then the wall clock.
        let mut live = Live::new(
            &self.engine,
            (self.lateness, WAIT.as_millis() as i64),
            saved.as_deref(),
            "detection",
        );
        loop {
            let stopping = stop.load(Ordering::Relaxed);
            let mut records = Vec::new();
            if !stopping {
                match rx.recv_timeout(WAIT) {
                    Ok(r) => records.push(r),
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            while records.len() < 4096 {
                match rx.try_recv() {
                    Ok(r) => records.push(r),
                    Err(_) => break,
                }
            }
            let idle = records.is_empty();
            if stopping && idle {
                break;
            }
            let alerts = live.step(&batches(records), now_ms());
            self.respond(&alerts, gateway);
            self.incidents.settle(false);
        }
        match &self.state {
            // Open windows and profiles carry over to the next start.
            Some(path) => {
                let saved = live
                    .snapshot()
                    .and_then(|json| Ok(write_atomically(path, &json)?));
                if let Err(e) = saved {
                    say(
                        Level::Error,
                        "detection",
                        &format!("saving detection state to {}: {e}", path.display()),
                    );
                }
            }
            None => {
                let rest = live.finish();
                self.respond(&rest, gateway);
            }
        }
        self.incidents.settle(true);
    }

    /// Alerts through the playbook; the measures in the database put in force at once.
    fn respond(&self, alerts: &[modelward_rule::Alert], gateway: &Gateway) {
        match self
            .incidents
            .ingest(alerts, &modelward_gateway::log::files(&self.log))
        {
            Ok(false) => {}
            Ok(true) => match modelward_gateway::read_measures(&self.db) {
                Ok(m) => gateway.set_measures(m),
                Err(e) => say(Level::Error, "detection", &e.to_string()),
            },
            Err(e) => say(Level::Error, "detection", &format!("{e:#}")),
        }
    }
}

/// Lowers the calling thread's scheduling priority to the nice value `nice`, if it is not
/// that low already (Linux keeps a nice value per thread, and `setpriority` on "this
/// process" sets the calling thread's), so that it gives way to the gateway's other threads
/// when they want the CPU. A failure leaves the priority as it was.
fn give_way(nice: u8) {
    #[cfg(target_os = "linux")]
    {
        let nice = i32::from(nice);
        if rustix::process::getpriority_process(None).is_ok_and(|now| now < nice) {
            let _ = rustix::process::setpriority_process(None, nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

/// Writes a file whole or not at all (a temporary file renamed over it).
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The nice value of the calling thread, from /proc (field 19 of its stat).
    fn nice_of_this_thread() -> i64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn giving_way_lowers_the_calling_thread_only() {
        let before = nice_of_this_thread();
        let other = std::thread::spawn(|| {
            give_way(10);
            nice_of_this_thread()
        })
        .join()
        .unwrap();
        assert_eq!(other, before.max(10));
        assert_eq!(
            nice_of_this_thread(),
            before,
            "the caller's thread is untouched"
        );
    }
}
