//! `modelward gateway` end to end with the official `openai` Python SDK, two scripts run with
//! python3:
//!
//! * tests/gateway_sdk/test_gateway.py starts fake OpenAI-compatible upstreams and the gateway
//!   binary, calls it with `openai.OpenAI` unchanged (chat, streams, completions, embeddings,
//!   models, Azure), puts measures in force through the database and checks what the SDK
//!   raises, stops the gateway with SIGTERM mid-stream and reads its log;
//! * tests/gateway_sdk/test_containment.py (importing test_gateway.py's pieces) runs the
//!   gateway with `detect = true` and a logit-bias sweep through it: the sweep is detected,
//!   PB-53 puts `rate_limit` and `reduce_output_detail` on the key, and the gateway refuses
//!   the key within a refresh of the measures, while a benign key goes on being served;
//! * tests/gateway_sdk/test_restart.py (importing both) cuts the same sweep in two by a
//!   restart: with `detect_state` the second run, restoring the first's state, detects it
//!   (60 calls each side of the restart, the rule needing 96); without it (the control),
//!   neither run does.
//!
//! The SDK: whatever `python3` imports (1.x or later; CI installs the pin of
//! tests/gateway_sdk/requirements.txt), else that pin installed from PyPI into the target
//! dir. No python3, or an install that fails, fails the test: it never skips.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod common;
use common::Dir;

const REQUIREMENTS: &str = include_str!("gateway_sdk/requirements.txt");
/// The script takes some seconds; this bounds a hang.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);
const INSTALL_TIMEOUT: Duration = Duration::from_secs(600);
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);

/// `openai==X` from requirements.txt.
fn pin() -> &'static str {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("openai=="))
        .expect("tests/gateway_sdk/requirements.txt pins openai==VERSION")
}

/// Runs `cmd` (stdin closed, stdout and stderr read) as the leader of a process group of its
/// own; once `limit` passes, the whole group is killed (the script's gateway with it) and the
/// output so far is returned as an error.
fn run_bounded(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    use std::os::unix::process::CommandExt;

    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let (tx, rx) = mpsc::channel();
    let readers: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("piped")),
        Box::new(child.stderr.take().expect("piped")),
    ];
    for (i, mut pipe) in readers.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send((i, bytes));
        });
    }
    drop(tx);
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => break None,
        }
    };
    if status.is_none() {
        // The group is the child's own (process_group(0)) and the child is not reaped yet,
        // so its id names nothing else.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.kill();
        let _ = child.wait();
    }
    let mut out = [Vec::new(), Vec::new()];
    let until = Instant::now() + Duration::from_secs(10);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok((i, bytes)) => out[i] = bytes,
            Err(_) => break,
        }
    }
    let [stdout, stderr] = out;
    match status {
        Some(status) => Ok(Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{cmd:?} did not finish within {}s and was killed\n--- stdout\n{}\n--- stderr\n{}",
            limit.as_secs(),
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

fn text(out: &Output) -> String {
    format!(
        "--- stdout\n{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Whether python3 (with `path` first on PYTHONPATH) imports `openai`: at `version` when
/// given, else at 1.x or later.
fn imports_openai(path: Option<&Path>, version: Option<&str>) -> bool {
    let check = match version {
        Some(v) => format!("import openai, sys; sys.exit(openai.__version__ != {v:?})"),
        None => "import openai, sys; sys.exit(int(openai.__version__.split('.')[0]) < 1)".into(),
    };
    let mut cmd = Command::new("python3");
    cmd.args(["-c", &check]);
    if let Some(p) = path {
        cmd.env("PYTHONPATH", python_path(p));
    }
    run_bounded(&mut cmd, PROBE_TIMEOUT).is_ok_and(|o| o.status.success())
}

fn python_path(first: &Path) -> std::ffi::OsString {
    let mut paths = vec![first.to_path_buf()];
    if let Some(old) = std::env::var_os("PYTHONPATH") {
        paths.extend(std::env::split_paths(&old));
    }
    std::env::join_paths(paths).expect("a PYTHONPATH")
}

/// Where the SDK comes from: `None` when python3 imports it as it is, else the folder the
/// pinned version is (or is now) installed in. Panics, saying why, when it cannot be had.
fn sdk() -> Option<PathBuf> {
    let version = run_bounded(Command::new("python3").arg("--version"), PROBE_TIMEOUT);
    match version {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!("python3 does not run:\n{}", text(&o)),
        Err(e) => panic!("this test needs python3 (3.8 or later) on PATH: {e}"),
    }
    if imports_openai(None, None) {
        return None;
    }
    let pin = pin();
    let version = pin.trim_start_matches("openai==");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pydeps");
    if imports_openai(Some(&dir), Some(version)) {
        return Some(dir);
    }
    eprintln!(
        "installing {pin} into {} (python3 cannot import openai)",
        dir.display()
    );
    let install = run_bounded(
        Command::new("python3")
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(["--no-input", "--upgrade", "--target"])
            .arg(&dir)
            .arg(pin),
        INSTALL_TIMEOUT,
    );
    match install {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "python3 cannot import openai, and `python3 -m pip install --target {} {pin}` failed \
             ({}); install it (`python3 -m pip install {pin}`, as .ci/run does) and run again:\n{}",
            dir.display(),
            o.status,
            text(&o)
        ),
        Err(e) => panic!("installing {pin} from PyPI: {e}"),
    }
    assert!(
        imports_openai(Some(&dir), Some(version)),
        "{pin} was installed into {} but python3 still cannot import it",
        dir.display()
    );
    Some(dir)
}

/// A gateway the script left running (its pid file names it), killed; whether there was one.
fn kill_leftover_gateway(pid_file: &Path) -> bool {
    let Ok(pid) = std::fs::read_to_string(pid_file) else {
        return false;
    };
    let pid = pid.trim();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let ours = String::from_utf8_lossy(&cmdline);
    if ours.contains(env!("CARGO_BIN_EXE_modelward")) && ours.contains("gateway") {
        let _ = Command::new("kill").args(["-KILL", pid]).status();
        return true;
    }
    false
}

/// The SDK, looked for (and installed) once for all the tests.
static SDK: OnceLock<Option<PathBuf>> = OnceLock::new();
/// One script at a time: their timings (streams, containment) are measured on a small machine.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs tests/gateway_sdk/`script` against the binary in a fresh scratch folder, bounded in
/// time; fails with its output unless it exits 0 and leaves no gateway running.
fn run_script(script: &str, scratch: &str) {
    let pythonpath = SDK.get_or_init(sdk).clone();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = Dir::new(scratch);
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/gateway_sdk")
        .join(script);
    let mut cmd = Command::new("python3");
    cmd.arg(&path)
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_modelward"))
        .arg("--dir")
        .arg(&dir.0)
        .env("PYTHONUNBUFFERED", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    if let Some(p) = &pythonpath {
        cmd.env("PYTHONPATH", python_path(p));
    }
    let started = Instant::now();
    let result = run_bounded(&mut cmd, SCRIPT_TIMEOUT);
    let leftover = kill_leftover_gateway(&dir.path("gateway.pid"));
    let out = result.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "tests/gateway_sdk/{script} failed ({}):\n{}",
        out.status,
        text(&out)
    );
    assert!(
        !leftover,
        "the script passed but left its gateway running:\n{}",
        text(&out)
    );
    println!(
        "{}\n({script} took {:.1}s)",
        String::from_utf8_lossy(&out.stdout),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_openai_sdk_through_the_gateway() {
    run_script("test_gateway.py", "gateway-sdk");
}

/// The "done when": a logit-bias sweep through `gateway` with `detect = true` is
/// detected and contained within a refresh of its measures; a benign key is not limited.
#[test]
fn a_logit_sweep_is_detected_and_contained_in_path() {
    run_script("test_containment.py", "gateway-containment");
}

/// `detect_state`: a sweep half seen before a restart (SIGTERM) is detected after it, because
/// the engine's state was saved at shutdown and restored at start; without `detect_state`
/// the same two runs detect nothing.
#[test]
fn a_sweep_cut_by_a_restart_is_detected_with_detect_state() {
    run_script("test_restart.py", "gateway-restart");
}
