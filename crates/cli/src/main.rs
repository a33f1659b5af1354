//! `modelward`: detect and answer theft and abuse of AI models.
//!
//! Exit codes: 0 no alerts, 1 alerts, 2 error (as ripgrep: an error wins over alerts).
//! A closed stdout (broken pipe) ends the run quietly.

mod args;
mod baselines;
mod builtin;
mod config;
mod copies;
mod db;
mod evidence;
mod fingerprint;
mod gateway;
mod hunt;
mod incident;
mod inventory;
mod jsonout;
mod live;
mod output;
mod outputs;
mod respond;
mod rules;
mod ruleset;
mod ruletest;
mod watch;
mod watermark;

use std::process::ExitCode;

/// The allocator: glibc's grows with a hunt's length, mimalloc's does not (the `mimalloc`
/// feature, on by default; docs/architecture.md#memory).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let result = match cli.command {
        args::Command::Hunt(a) => hunt::run(a),
        args::Command::Rules(r) => rules::run(r),
        args::Command::Inventory(i) => inventory::run(i),
        args::Command::Fingerprint(f) => fingerprint::run(f),
        args::Command::Incident(i) => incident::run(i),
        args::Command::Gateway(g) => gateway::main(g),
        args::Command::Watch(w) => watch::run(&w.config, w.once),
        args::Command::Pow(args::PowCommand::Solve { challenge }) => gateway::solve(&challenge),
        args::Command::Watermark(w) => watermark::run(w),
        args::Command::Evidence(e) => evidence::run(e),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            modelward_event::errln!("modelward: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || cause.to_string().contains("Broken pipe")
    })
}
