//! `modelward gateway --config FILE`: the inline gateway until SIGINT or SIGTERM.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::args::GatewayArgs;
use crate::config::Options;

pub fn run(args: GatewayArgs) -> Result<u8> {
    let options = Options::load(&args.config)?;
    let mut gateway_options = options.gateway.with_context(|| {
        format!(
            "{}: no [gateway] section (docs/gateway.md)",
            args.config.display()
        )
    })?;
    if let Some(listen) = args.listen {
        gateway_options.listen = Some(listen);
    }
    let settings = gateway_options
        .resolve(&|var| std::env::var(var).ok())
        .with_context(|| format!("{}: [gateway]", args.config.display()))?;
    let log = match &settings.log {
        Some(path) => Some(
            modelward_gateway::log::LlmLog::open(path)
                .with_context(|| format!("opening the LLM log {}", path.display()))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let address = listener.local_addr()?;
        let database = settings.database.clone();
        let gateway = Arc::new(modelward_gateway::Gateway::new(settings, log));
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = database.map(|db| {
            if let Ok(m) = modelward_gateway::read_measures(&db) {
                gateway.set_measures(m);
            }
            modelward_gateway::watch_measures(gateway.clone(), db, stop.clone())
        });
        eprintln!("modelward gateway: listening on http://{address}");
        modelward_gateway::serve(gateway, listener, shutdown_signal()).await;
        stop.store(true, Ordering::Relaxed);
        if let Some(w) = watcher {
            let _ = w.join();
        }
        eprintln!("modelward gateway: stopped");
        Ok(0)
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
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
