//! `modelward watch` end to end: the binary over the shipped example logs (two days of Azure
//! OpenAI diagnostic records), compared with `modelward hunt` over the same records.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::Dir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_modelward"))
}

/// The example records as lines, the gzipped day unpacked.
fn corpus() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/azure_openai");
    let plain = std::fs::read_to_string(root.join("diagnostics-2025-03-01.ndjson")).unwrap();
    let mut second = String::new();
    flate2::read::GzDecoder::new(
        std::fs::File::open(root.join("diagnostics-2025-03-02.ndjson.gz")).unwrap(),
    )
    .read_to_string(&mut second)
    .unwrap();
    plain
        .lines()
        .chain(second.lines())
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect()
}

fn ids(ndjson: &str) -> BTreeSet<String> {
    ndjson
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["alert"]["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// `hunt`'s alert ids over `file`.
fn hunt_ids(file: &Path) -> BTreeSet<String> {
    let out = bin()
        .args(["hunt", "--format", "ndjson"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.code().unwrap_or(9) <= 1,
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ids(&String::from_utf8_lossy(&out.stdout))
}

fn config(dir: &Dir, extra: &str) -> PathBuf {
    dir.write(
        "watch.toml",
        format!(
            "[watch]\npaths = [\"logs\"]\nstart = \"beginning\"\ndatabase = \"watch.db\"\nalerts = \"alerts.ndjson\"\npoll = \"50ms\"\ncheckpoint = \"100ms\"\n{extra}"
        ),
    )
}

fn append(path: &Path, lines: &[String]) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

fn start(config: &Path) -> Child {
    bin()
        .args(["watch", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 60 s) until the database holds a checkpoint of `file` read through
/// `offset` bytes.
fn wait_checkpoint(db: &Path, offset: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(store) = modelward_store::Store::open_read_only(db) {
            if let Ok((positions, Some(_))) = store.watch_checkpoint("watch") {
                if positions.iter().any(|p| p.offset >= offset) {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "no checkpoint through {offset}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn watch_once_gives_the_alerts_hunt_gives() {
    let dir = Dir::new("watch-once");
    let lines = corpus();
    let log = dir.path("logs/diagnostics.ndjson");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    append(&log, &lines);
    let cfg = config(&dir, "");
    let out = bin()
        .args(["watch", "--once", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let watched = ids(&std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap());
    let hunted = hunt_ids(&log);
    assert!(hunted.len() >= 20, "{}", hunted.len());
    assert_eq!(watched, hunted);
    // A second run reads nothing new and raises nothing.
    let again = bin()
        .args(["watch", "--once", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        ids(&std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap()),
        hunted
    );
}

#[test]
fn killed_mid_run_and_restarted_it_loses_no_alert() {
    let dir = Dir::new("watch-kill");
    let lines = corpus();
    let log = dir.path("logs/diagnostics.ndjson");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let cfg = config(&dir, "");
    let mut child = start(&cfg);
    // The first half arrives while it runs; once a checkpoint has it, and a little more,
    // the process is killed without warning.
    let half = lines.len() / 2;
    append(&log, &lines[..half]);
    let size = std::fs::metadata(&log).unwrap().len();
    wait_checkpoint(&dir.path("watch.db"), size);
    append(&log, &lines[half..half + 100]);
    std::thread::sleep(Duration::from_millis(30));
    child.kill().unwrap();
    let _ = child.wait();
    // The rest arrives while it is down; the restart reads to the end and closes windows.
    append(&log, &lines[half + 100..]);
    let out = bin()
        .args(["watch", "--once", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let watched = ids(&std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap());
    assert_eq!(watched, hunt_ids(&log));
}

#[test]
fn records_posted_to_the_ingest_endpoint_are_spooled_then_detected() {
    let dir = Dir::new("watch-http");
    let lines = corpus();
    let cfg = dir.write(
        "watch.toml",
        "[watch]\ndatabase = \"watch.db\"\nalerts = \"alerts.ndjson\"\npoll = \"50ms\"\ncheckpoint = \"100ms\"\n[watch.http]\nlisten = \"127.0.0.1:0\"\ntoken_env = \"MW_WATCH_TEST_TOKEN\"\n",
    );
    let mut child = bin()
        .args(["watch", "--config"])
        .arg(&cfg)
        .env("MW_WATCH_TEST_TOKEN", "s3cret-token")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its address, from what it says on stderr.
    let mut stderr = child.stderr.take().unwrap();
    let mut said = Vec::new();
    let address = loop {
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&said));
        said.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&said).to_string();
        if let Some(at) = text.find("http://") {
            if let Some(end) = text[at..].find("/ingest") {
                break text[at + 7..at + end].to_string();
            }
        }
    };
    let post = |body: &str, token: Option<&str>| -> (u16, String) {
        let mut s = std::net::TcpStream::connect(&address).unwrap();
        let auth = token.map_or(String::new(), |t| format!("authorization: Bearer {t}\r\n"));
        write!(
            s,
            "POST /ingest HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let status = answer[9..12].parse().unwrap();
        (status, answer)
    };
    assert_eq!(post("{}\n", None).0, 401);
    // The corpus in batches of 500 lines, one bad line in the first.
    let mut sent = 0;
    for (i, chunk) in lines.chunks(500).enumerate() {
        let mut body = chunk.join("\n");
        if i == 0 {
            body.push_str("\nnot json");
        }
        let (status, answer) = post(&body, Some("s3cret-token"));
        assert_eq!(status, 200, "{answer}");
        assert!(
            answer.contains(&format!("\"accepted\":{}", chunk.len())),
            "{answer}"
        );
        if i == 0 {
            assert!(answer.contains("\"line\":501"), "{answer}");
        }
        sent += chunk.len();
    }
    assert_eq!(sent, lines.len());
    // Spooled and read: wait for a checkpoint past the spool's size, then stop it.
    let spool: Vec<PathBuf> = std::fs::read_dir(dir.path("spool"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(spool.len(), 1, "{spool:?}");
    wait_checkpoint(
        &dir.path("watch.db"),
        std::fs::metadata(&spool[0]).unwrap().len(),
    );
    rustix_kill(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    // What SIGTERM left open closes in a --once run: together, hunt's alerts over the same
    // records.
    let out = bin()
        .args(["watch", "--once", "--config"])
        .arg(&cfg)
        .env("MW_WATCH_TEST_TOKEN", "s3cret-token")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let watched = ids(&std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap());
    // (Alert ids name the file their records were read from: the spool's.)
    assert!(watched.len() >= 20, "{}", watched.len());
    assert_eq!(watched, hunt_ids(&spool[0]));
    assert_eq!(
        std::fs::read_to_string(&spool[0]).unwrap().lines().count(),
        lines.len(),
        "every record accepted is spooled once"
    );
}

/// SIGTERM to `pid`.
fn rustix_kill(pid: u32) {
    signal(pid, "-TERM");
}

fn signal(pid: u32, which: &str) {
    let status = Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Reads `child`'s stderr until `what` appears; what was read.
fn read_until(stderr: &mut impl Read, said: &mut Vec<u8>, what: &str) -> String {
    loop {
        let text = String::from_utf8_lossy(said).to_string();
        if text.contains(what) {
            return text;
        }
        let mut buf = [0u8; 256];
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "{what} never said: {text}");
        said.extend_from_slice(&buf[..n]);
    }
}

fn get(address: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(address).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn metrics_count_what_was_read_and_sighup_reloads_the_rules_keeping_state() {
    let dir = Dir::new("watch-metrics");
    let lines = corpus();
    let log = dir.path("logs/diagnostics.ndjson");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let cfg = config(&dir, "metrics_listen = \"127.0.0.1:0\"\n");
    let mut child = start(&cfg);
    let mut stderr = child.stderr.take().unwrap();
    let mut said = Vec::new();
    let text = read_until(&mut stderr, &mut said, "/metrics");
    let at = text.find("metrics on http://").unwrap() + "metrics on http://".len();
    let address = text[at..].split('/').next().unwrap().to_string();
    append(&log, &lines[..1000]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let m = get(&address, "/metrics");
        if m.contains("modelward_watch_records_total{source=\"files\"} 1000") {
            break m;
        }
        assert!(Instant::now() < deadline, "{m}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(metrics.contains("modelward_watch_files 1"), "{metrics}");
    assert!(
        metrics.contains("modelward_watch_state{kind=\"rows\"}"),
        "{metrics}"
    );
    assert!(get(&address, "/healthz").contains("\"status\":\"ok\""));
    // SIGHUP: rules read again, the run goes on.
    signal(child.id(), "-HUP");
    read_until(&mut stderr, &mut said, "reloaded; state kept");
    append(&log, &lines[1000..]);
    wait_checkpoint(
        &dir.path("watch.db"),
        std::fs::metadata(&log).unwrap().len(),
    );
    rustix_kill(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let out = bin()
        .args(["watch", "--once", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let watched = ids(&std::fs::read_to_string(dir.path("alerts.ndjson")).unwrap());
    assert_eq!(watched, hunt_ids(&log));
}
