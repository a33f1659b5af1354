//! The command executor: runs a local program for an action. Off unless the user's config
//! names one: whoever can edit that config can run programs as modelward.
//!
//! The program is started directly (no shell) with its configured arguments. Its standard
//! input is the action [document](super::document) (the webhook's body). Its environment is
//! not modelward's (which may hold webhook secrets): only `PATH`, `HOME`, `LANG`, `LC_ALL`,
//! `TZ` and `TMPDIR` are passed on, plus the configured `env`, plus:
//!
//! | variable | value |
//! | --- | --- |
//! | `MODELWARD_ACTION` | `block`, `rate_limit`, ... |
//! | `MODELWARD_TARGET` | the target's value (an API key id, an address, ...) |
//! | `MODELWARD_TARGET_KIND` | `principal`, `source_ip`, `api_key`, `resource`, `model`, `incident` |
//! | `MODELWARD_INCIDENT` | the incident id |
//! | `MODELWARD_IDEMPOTENCY_KEY` | the document's `id` |
//!
//! Exit status 0 within `timeout_ms` is success. On timeout the program is killed, with every
//! process it started (it runs in a process group of its own on Unix); processes it leaves
//! behind when it exits are killed too. A failure says the exit status and the end of
//! standard error; a success, the end of standard output; both with secrets masked.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::document::{self, Document};
use super::{ExecError, Executed, Executor, PlannedAction};

pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;

/// How much of the end of standard error (failure) or output (success) goes into the detail.
const TAIL_CHARS: usize = 200;
/// How many bytes of each stream are kept while reading (the end only).
const TAIL_BYTES: usize = 4 * 1024;
/// How long to wait, once the program has ended, for its output streams to close (a
/// process it left behind may hold them open).
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// The longest pause between two looks at whether the program has ended.
const MAX_POLL: Duration = Duration::from_millis(50);

/// The variables of modelward's own environment a command gets.
const PASSED_ON: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// The variables modelward sets; the config's `env` may not set them.
pub const RESERVED_ENV_PREFIX: &str = "MODELWARD_";

/// One command, as configured.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Names the executor: `command:<name>` in the audit log.
    pub name: String,
    /// An absolute path; started directly, never through a shell.
    pub program: PathBuf,
    #[serde(default)]
    pub args: Vec<String>,
    /// The action kinds it carries out; empty: all.
    #[serde(default)]
    pub actions: Vec<String>,
    /// From start to exit; the program is killed after that.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Extra environment variables.
    #[serde(default)]
    pub env: Vec<(String, String)>,
}

fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

impl CommandConfig {
    /// A command for every action kind, no arguments, the default timeout.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> CommandConfig {
        CommandConfig {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            actions: Vec::new(),
            timeout_ms: DEFAULT_TIMEOUT_MS,
            env: Vec::new(),
        }
    }
}

/// Why a command config cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandConfigError {
    #[error("a command needs a name")]
    NoName,
    #[error("command {name}: the program must be an absolute path, not {program:?}")]
    RelativeProgram { name: String, program: PathBuf },
    #[error("command {name}: no file at {program:?}")]
    NoProgram { name: String, program: PathBuf },
    #[error("command {name}: unknown action kind {kind:?} (one of {})", super::Action::KINDS.join(", "))]
    UnknownAction { name: String, kind: String },
    #[error("command {0}: timeout_ms must be above 0")]
    NoTimeout(String),
    #[error("command {name}: environment variable {var:?}: {why}")]
    BadEnv {
        name: String,
        var: String,
        why: &'static str,
    },
}

/// Carries out actions by running one local program.
#[derive(Debug)]
pub struct CommandExecutor {
    config: CommandConfig,
}

impl CommandExecutor {
    /// Checks the config: an absolute path to an existing file, known action kinds, a
    /// timeout, environment names that are valid and not modelward's own.
    pub fn new(config: CommandConfig) -> Result<CommandExecutor, CommandConfigError> {
        check(&config)?;
        Ok(CommandExecutor { config })
    }

    pub fn config(&self) -> &CommandConfig {
        &self.config
    }
}

impl Executor for CommandExecutor {
    fn name(&self) -> String {
        format!("command:{}", self.config.name)
    }

    fn handles(&self, action: &PlannedAction) -> bool {
        document::handles_kind(&self.config.actions, action)
    }

    fn execute(&mut self, action: &PlannedAction) -> Result<Executed, ExecError> {
        let document = Document::new(action, SystemTime::now());
        let input = document
            .to_json()
            .map_err(|e| ExecError::Failed(format!("cannot write the action document: {e}")))?;
        let program = &self.config.program;
        let mut command = Command::new(program);
        command.args(&self.config.args).env_clear();
        for var in PASSED_ON {
            if let Some(value) = std::env::var_os(var) {
                command.env(var, value);
            }
        }
        command
            .envs(self.config.env.iter().map(|(k, v)| (k, v)))
            .env("MODELWARD_ACTION", document.action)
            .env("MODELWARD_TARGET", &action.target)
            .env("MODELWARD_TARGET_KIND", action.target_kind.as_str())
            .env("MODELWARD_INCIDENT", &action.incident)
            .env("MODELWARD_IDEMPOTENCY_KEY", &document.id)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| ExecError::Failed(format!("cannot start {}: {e}", program.display())))?;

        let (done_tx, done_rx) = mpsc::channel::<()>();
        let mut streams = 0;
        if let Some(mut stdin) = child.stdin.take() {
            // A program that does not read its input gets a broken pipe here: not an error.
            thread::spawn(move || {
                let _ = stdin.write_all(&input);
            });
        }
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        if let Some(out) = child.stdout.take() {
            keep_tail(out, Arc::clone(&stdout), done_tx.clone());
            streams += 1;
        }
        if let Some(err) = child.stderr.take() {
            keep_tail(err, Arc::clone(&stderr), done_tx.clone());
            streams += 1;
        }
        drop(done_tx);

        let timeout = Duration::from_millis(self.config.timeout_ms);
        let status = wait_until(&mut child, started + timeout)
            .map_err(|e| ExecError::Failed(format!("waiting for {}: {e}", program.display())))?;
        if status.is_some() {
            // What it started and left running goes with it (and lets its output close).
            kill_group(&child);
        }
        let elapsed = started.elapsed().as_millis();
        let grace = Instant::now() + DRAIN_GRACE;
        for _ in 0..streams {
            let left = grace.saturating_duration_since(Instant::now());
            if done_rx.recv_timeout(left).is_err() {
                break;
            }
        }
        let stderr_tail = tail_text(&stderr);
        let with_stderr = |head: String| {
            if stderr_tail.is_empty() {
                head
            } else {
                format!("{head}; stderr: {stderr_tail}")
            }
        };
        match status {
            None => Err(ExecError::Failed(with_stderr(format!(
                "timed out after {} ms: killed",
                self.config.timeout_ms
            )))),
            Some(status) if status.success() => {
                let stdout_tail = tail_text(&stdout);
                let head = format!("exit 0 in {elapsed} ms");
                Ok(Executed {
                    detail: if stdout_tail.is_empty() {
                        head
                    } else {
                        format!("{head}: {stdout_tail}")
                    },
                })
            }
            Some(status) => Err(ExecError::Failed(with_stderr(format!(
                "{status} in {elapsed} ms"
            )))),
        }
    }
}

/// Waits for the child until `deadline`: its exit status, or `None` when it was killed.
fn wait_until(child: &mut Child, deadline: Instant) -> std::io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            kill(child);
            child.wait()?;
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Kills the child and, on Unix, every process of its group (the ones it started).
fn kill(child: &mut Child) {
    // Not reaped yet, so the group id is still the child's.
    kill_group(child);
    let _ = child.kill();
}

/// Kills every process of the child's group. After the child was reaped the group id stays
/// reserved while any member lives; with none left this finds no group.
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(child);
        if pid != rustix::process::Pid::INIT {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
    }
    #[cfg(not(unix))]
    let _ = child;
}

/// Reads `stream` to its end on a thread of its own, keeping its last [`TAIL_BYTES`] in
/// `tail`; says so on `done` when the stream closes.
fn keep_tail(
    mut stream: impl Read + Send + 'static,
    tail: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Sender<()>,
) {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let Ok(mut kept) = tail.lock() else { break };
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > TAIL_BYTES {
                        let excess = kept.len() - TAIL_BYTES;
                        kept.drain(..excess);
                    }
                }
            }
        }
        let _ = done.send(());
    });
}

/// The last [`TAIL_CHARS`] characters of what was kept, trimmed, on one line.
fn tail_text(tail: &Mutex<Vec<u8>>) -> String {
    let bytes = match tail.lock() {
        Ok(kept) => kept.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim();
    let skip = text.chars().count().saturating_sub(TAIL_CHARS);
    let tail: String = text
        .chars()
        .skip(skip)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    crate::ioc::mask_secrets(tail.trim()).into_owned()
}

fn check(config: &CommandConfig) -> Result<(), CommandConfigError> {
    let name = &config.name;
    if name.trim().is_empty() {
        return Err(CommandConfigError::NoName);
    }
    if !config.program.is_absolute() {
        return Err(CommandConfigError::RelativeProgram {
            name: name.clone(),
            program: config.program.clone(),
        });
    }
    if !config.program.is_file() {
        return Err(CommandConfigError::NoProgram {
            name: name.clone(),
            program: config.program.clone(),
        });
    }
    if let Some(kind) = document::unknown_kinds(&config.actions).into_iter().next() {
        return Err(CommandConfigError::UnknownAction {
            name: name.clone(),
            kind,
        });
    }
    if config.timeout_ms == 0 {
        return Err(CommandConfigError::NoTimeout(name.clone()));
    }
    for (var, _) in &config.env {
        let bad = |why| CommandConfigError::BadEnv {
            name: name.clone(),
            var: var.clone(),
            why,
        };
        if var.is_empty() || var.contains(['=', '\0']) {
            return Err(bad("not a valid name"));
        }
        if var.starts_with(RESERVED_ENV_PREFIX) {
            return Err(bad("MODELWARD_ variables are set by modelward itself"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks() {
        let ok = CommandConfig::new("lock", "/bin/cat");
        assert!(CommandExecutor::new(ok.clone()).is_ok());
        let bad = |f: fn(&mut CommandConfig)| {
            let mut c = ok.clone();
            f(&mut c);
            CommandExecutor::new(c).unwrap_err()
        };
        assert_eq!(bad(|c| c.name.clear()), CommandConfigError::NoName);
        assert!(matches!(
            bad(|c| c.program = "cat".into()),
            CommandConfigError::RelativeProgram { .. }
        ));
        assert!(matches!(
            bad(|c| c.program = "/nonexistent/modelward-test".into()),
            CommandConfigError::NoProgram { .. }
        ));
        assert!(matches!(
            bad(|c| c.actions = vec!["nuke".into()]),
            CommandConfigError::UnknownAction { .. }
        ));
        assert!(matches!(
            bad(|c| c.timeout_ms = 0),
            CommandConfigError::NoTimeout(_)
        ));
        assert!(matches!(
            bad(|c| c.env = vec![("MODELWARD_ACTION".into(), "x".into())]),
            CommandConfigError::BadEnv { .. }
        ));
        assert!(matches!(
            bad(|c| c.env = vec![("A=B".into(), "x".into())]),
            CommandConfigError::BadEnv { .. }
        ));
    }

    #[test]
    fn tail_keeps_the_end_on_one_line() {
        let kept = Mutex::new(format!("{}\nEND\n", "x".repeat(500)).into_bytes());
        let tail = tail_text(&kept);
        assert_eq!(tail.chars().count(), 200);
        assert!(tail.ends_with("x END"), "{tail}");
    }
}
