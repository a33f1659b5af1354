//! Headless Chromium for the tests that look at a page modelward writes: finding the
//! browser, running it with a time limit, and decoding its screenshot. Shared by the
//! incident report's test and `hunt --report`'s (`#[path]` from `crates/cli/tests`).

#![allow(dead_code)] // each test binary uses its part

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `cmd` for at most `limit`; its stdout.
pub fn run(cmd: &mut Command, limit: Duration) -> (bool, String) {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let ok = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status.success(),
            Ok(None) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break false;
            }
        }
    };
    (ok, reader.join().unwrap_or_default())
}

/// Debian's `/usr/bin/chromium`, else a `chromium` on the `PATH`; `None` (the test is
/// skipped, said on stderr) when there is none, a failure in CI, which installs it.
pub fn find_chromium() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/bin/chromium");
    if debian.is_file() {
        return Some(debian);
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("/usr/bin/chromium is missing: CI installs the chromium package (.ci/run)");
        }
        eprintln!("skipped: chromium not installed (/usr/bin/chromium)");
    }
    found
}

/// A new directory under the system's temporary directory for a test's page and profiles.
pub fn scratch_dir(what: &str) -> PathBuf {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("modelward-{what}-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// A 1280×3600 screenshot of `url` (`report.png` in `dir`): `--headless` (the new mode in
/// current Chromium), else the old one. Fails the test when none is made.
pub fn screenshot(program: &Path, dir: &Path, url: &str) -> PathBuf {
    let shot = dir.join("report.png");
    for mode in ["--headless", "--headless=new", "--headless=old"] {
        let (ok, _) = run(
            chromium(program, &dir.join(format!("profile{mode}")))
                .arg(mode)
                .arg(format!("--screenshot={}", shot.display()))
                .arg(url),
            Duration::from_secs(120),
        );
        if ok && shot.exists() {
            return shot;
        }
    }
    panic!("chromium made no screenshot of {url}");
}

/// The DOM of `url` as Chromium built it.
pub fn dump_dom(program: &Path, dir: &Path, url: &str) -> String {
    let (ok, dom) = run(
        chromium(program, &dir.join("profile-dom"))
            .arg("--headless")
            .arg("--dump-dom")
            .arg(url),
        Duration::from_secs(120),
    );
    assert!(ok, "chromium --dump-dom failed");
    dom
}

/// Removes `dir`; Chromium's helper processes may still write to a profile for a moment.
pub fn remove_dir(dir: &Path) {
    for _ in 0..50 {
        if std::fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn chromium(program: &Path, profile: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args([
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--window-size=1280,3600",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

/// Decoded RGBA pixels, width, height.
pub fn decode_png(path: &Path) -> (Vec<[u8; 3]>, u32, u32) {
    let file = std::fs::File::open(path).expect("screenshot");
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let frame = reader.next_frame(&mut buf).expect("a frame");
    let channels = frame.color_type.samples();
    let pixels = buf[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|p| match channels {
            1 | 2 => [p[0], p[0], p[0]],
            _ => [p[0], p[1], p[2]],
        })
        .collect();
    (pixels, frame.width, frame.height)
}
