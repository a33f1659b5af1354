//! The webhook and command executors against real peers: an HTTP server on 127.0.0.1 in a
//! thread of the test, and real programs (`/bin/sh` reading a script file, `/bin/true`).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use modelward_respond::action::command::{CommandConfig, CommandExecutor};
use modelward_respond::action::webhook::{
    verify_signature, Clock, SignatureError, WebhookConfig, WebhookExecutor, DEFAULT_TOLERANCE,
    MAX_BACKOFF,
};
use modelward_respond::action::{Action, Executor, PlannedAction, TargetKind};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// Fixtures

const SECRET: &str = "whsec-7f3a9c-do-not-print";
const NOW_SECS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

fn planned(action: Action) -> PlannedAction {
    PlannedAction {
        incident: "INC-2026-0001".into(),
        action,
        target_kind: TargetKind::Resource,
        target: "s3://weights-prod".into(),
        decision: "D3".into(),
        reason: "weights read from an unknown address".into(),
        rules: vec!["MW-STORAGE-001".into(), "MW-EXFIL-004".into()],
    }
}

/// A fixed clock that records the waits instead of waiting.
struct FakeClock {
    sleeps: Arc<Mutex<Vec<Duration>>>,
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }
    fn sleep(&mut self, wait: Duration) {
        self.sleeps.lock().unwrap().push(wait);
    }
}

fn webhook(config: WebhookConfig) -> (WebhookExecutor, Arc<Mutex<Vec<Duration>>>) {
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let executor = WebhookExecutor::new(config)
        .unwrap()
        .with_clock(Box::new(FakeClock {
            sleeps: Arc::clone(&sleeps),
        }));
    (executor, sleeps)
}

fn config(url: &str) -> WebhookConfig {
    let mut config = WebhookConfig::new("soar", url, SECRET);
    config.timeout_ms = 2_000;
    config
}

fn slept(sleeps: &Arc<Mutex<Vec<Duration>>>) -> Vec<Duration> {
    sleeps.lock().unwrap().clone()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---------------------------------------------------------------------------------------
// A minimal HTTP/1.1 server: one scripted reply per connection, then it stops listening.

enum Reply {
    Status(u16, Vec<(&'static str, String)>, String),
    /// Reads the request and says nothing for this long.
    Silent(Duration),
}

fn status(code: u16) -> Reply {
    Reply::Status(code, Vec::new(), String::new())
}

struct Received {
    method: String,
    path: String,
    /// Names lowercased.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == &name.to_ascii_lowercase())
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct Server {
    base: String,
    received: mpsc::Receiver<Received>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, received) = mpsc::channel();
        thread::spawn(move || {
            for reply in replies {
                let Some(mut stream) = accept(&listener, Duration::from_secs(10)) else {
                    return;
                };
                let Some(request) = read_request(&mut stream) else {
                    return;
                };
                let _ = tx.send(request);
                match reply {
                    Reply::Status(code, headers, body) => {
                        let mut head = format!(
                            "HTTP/1.1 {code} Whatever\r\nContent-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = stream.write_all(head.as_bytes());
                        let _ = stream.write_all(body.as_bytes());
                    }
                    // Holds the connection open on a thread of its own, so that the next
                    // connection is served meanwhile.
                    Reply::Silent(wait) => {
                        thread::spawn(move || {
                            thread::sleep(wait);
                            drop(stream);
                        });
                    }
                }
            }
        });
        Server { base, received }
    }

    /// Everything received so far, once the server thread has had a moment.
    fn requests(&self) -> Vec<Received> {
        let mut all = Vec::new();
        while let Ok(r) = self.received.recv_timeout(ms(200)) {
            all.push(r);
        }
        all
    }
}

fn accept(listener: &TcpListener, within: Duration) -> Option<TcpStream> {
    let deadline = Instant::now() + within;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).ok()?;
                stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
                return Some(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                thread::sleep(ms(2));
            }
            Err(_) => return None,
        }
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8(data[..head_end].to_vec()).ok()?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())?;
    let mut body = data[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&buf[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------
// Webhook

#[test]
fn webhook_posts_the_signed_document() {
    let server = Server::start(vec![status(200)]);
    let mut config = config(&format!("{}/hooks/modelward?tenant=7", server.base));
    config.headers = vec![("X-Tenant".into(), "acme".into())];
    let (mut executor, sleeps) = webhook(config);
    let action = planned(Action::LockStorage);

    let done = executor.execute(&action).unwrap();
    assert_eq!(done.detail, "HTTP 200 after 1 attempt");
    assert!(slept(&sleeps).is_empty());

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/hooks/modelward?tenant=7");
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    let key = action.idempotency_key();
    assert_eq!(request.header("idempotency-key"), Some(key.as_str()));
    assert_eq!(
        request.header("x-modelward-timestamp"),
        Some(NOW_SECS.to_string().as_str())
    );

    let doc = request.json();
    assert_eq!(doc["type"], "modelward.action");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["id"], key.as_str());
    assert_eq!(doc["incident"], "INC-2026-0001");
    assert_eq!(doc["action"], "lock_storage");
    assert_eq!(doc["params"], serde_json::json!({"kind": "lock_storage"}));
    assert_eq!(
        doc["target"],
        serde_json::json!({"kind": "resource", "value": "s3://weights-prod"})
    );
    assert_eq!(doc["decision"], "D3");
    assert_eq!(doc["reason"], "weights read from an unknown address");
    assert_eq!(
        doc["rules"],
        serde_json::json!(["MW-STORAGE-001", "MW-EXFIL-004"])
    );
    assert_eq!(doc["sent_at"], "2026-01-01T00:00:00.000Z");

    // What a receiver does.
    let timestamp = request.header("x-modelward-timestamp").unwrap();
    let signature = request.header("x-modelward-signature").unwrap();
    assert!(signature.starts_with("sha256="), "{signature}");
    let at = UNIX_EPOCH + Duration::from_secs(NOW_SECS + 60);
    let verify = |secret: &str, body: &[u8], now| {
        verify_signature(
            secret.as_bytes(),
            timestamp,
            signature,
            body,
            now,
            DEFAULT_TOLERANCE,
        )
    };
    assert_eq!(verify(SECRET, &request.body, at), Ok(()));
    assert_eq!(
        verify("another-secret", &request.body, at),
        Err(SignatureError::Mismatch)
    );
    let mut tampered = request.body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(verify(SECRET, &tampered, at), Err(SignatureError::Mismatch));
    let replayed = UNIX_EPOCH + Duration::from_secs(NOW_SECS + 3_600);
    assert_eq!(
        verify(SECRET, &request.body, replayed),
        Err(SignatureError::Stale(3_600))
    );
}

#[test]
fn webhook_500_then_200_succeeds_after_two_attempts() {
    let server = Server::start(vec![status(500), status(200)]);
    let (mut executor, sleeps) = webhook(config(&server.base));
    let action = planned(Action::FreezeAccount);

    let done = executor.execute(&action).unwrap();
    assert_eq!(done.detail, "HTTP 200 after 2 attempts");
    assert_eq!(slept(&sleeps), vec![ms(500)]);

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_eq!(
        requests[0].header("idempotency-key"),
        requests[1].header("idempotency-key")
    );
}

#[test]
fn webhook_backoff_doubles_and_honours_retry_after_up_to_the_cap() {
    let retry_after =
        |code, secs: &str| Reply::Status(code, vec![("Retry-After", secs.into())], String::new());
    let server = Server::start(vec![
        status(502),
        retry_after(429, "7"),
        status(503),
        retry_after(429, "3600"),
        status(204),
    ]);
    let mut config = config(&server.base);
    config.retries = 4;
    let (mut executor, sleeps) = webhook(config);

    let done = executor.execute(&planned(Action::DisableExport)).unwrap();
    assert_eq!(done.detail, "HTTP 204 after 5 attempts");
    // 500 ms, then Retry-After 7 s, then the backoff's third step (500·2·2), then the cap.
    assert_eq!(
        slept(&sleeps),
        vec![ms(500), Duration::from_secs(7), ms(2_000), MAX_BACKOFF]
    );
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn webhook_gives_up_after_its_retries() {
    let server = Server::start(vec![status(500), status(500), status(500)]);
    let mut config = config(&server.base);
    config.retries = 2;
    config.backoff_ms = 100;
    let (mut executor, sleeps) = webhook(config);

    let error = executor
        .execute(&planned(Action::RevokeKey))
        .unwrap_err()
        .to_string();
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(error.contains("3 attempts"), "{error}");
    assert_eq!(slept(&sleeps), vec![ms(100), ms(200)]);
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn webhook_400_fails_at_once_with_the_start_of_the_body() {
    let body = format!("invalid target: {}", "x".repeat(400));
    let server = Server::start(vec![Reply::Status(400, Vec::new(), body), status(200)]);
    let (mut executor, sleeps) = webhook(config(&server.base));

    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("HTTP 400: invalid target: xxx"),
        "{error}"
    );
    assert!(error.contains("not retried; 1 attempt"), "{error}");
    let excerpt = error
        .strip_prefix("HTTP 400: ")
        .and_then(|e| e.split(" (not retried").next())
        .unwrap();
    assert_eq!(excerpt.chars().count(), 200);
    assert!(slept(&sleeps).is_empty());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn webhook_error_echoing_a_header_value_or_a_key_is_stored_masked() {
    let body =
        "bad credentials: Bearer t0ken-abcdef-123456 for sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj"
            .to_string();
    let server = Server::start(vec![Reply::Status(401, Vec::new(), body)]);
    let mut cfg = config(&server.base);
    cfg.headers = vec![("Authorization".into(), "Bearer t0ken-abcdef-123456".into())];
    let (mut executor, _) = webhook(cfg);
    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("HTTP 401: bad credentials"), "{error}");
    assert!(!error.contains("t0ken-abcdef"), "{error}");
    assert!(
        !error.contains("Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj"),
        "{error}"
    );
}

#[test]
fn webhook_redirect_is_not_followed() {
    let server = Server::start(vec![Reply::Status(
        302,
        vec![("Location", "http://127.0.0.1:1/elsewhere".into())],
        String::new(),
    )]);
    let (mut executor, sleeps) = webhook(config(&server.base));
    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("HTTP 302"), "{error}");
    assert!(slept(&sleeps).is_empty());
}

#[test]
fn webhook_silent_server_hits_the_timeout_and_is_retried() {
    // Gives up: one attempt, no answer.
    let server = Server::start(vec![Reply::Silent(Duration::from_secs(3))]);
    let mut silent = config(&server.base);
    silent.timeout_ms = 200;
    silent.retries = 0;
    let (mut executor, _) = webhook(silent);
    let started = Instant::now();
    let error = executor
        .execute(&planned(Action::Notify {
            recipients: "soc@example.com".into(),
        }))
        .unwrap_err()
        .to_string();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(error.contains("no answer within 200 ms"), "{error}");
    assert!(error.contains("1 attempt"), "{error}");

    // Retried: the second attempt is answered.
    let server = Server::start(vec![Reply::Silent(Duration::from_secs(3)), status(200)]);
    let mut flaky = config(&server.base);
    flaky.timeout_ms = 200;
    flaky.retries = 1;
    let (mut executor, sleeps) = webhook(flaky);
    let done = executor.execute(&planned(Action::LockStorage)).unwrap();
    assert_eq!(done.detail, "HTTP 200 after 2 attempts");
    assert_eq!(slept(&sleeps), vec![ms(500)]);
}

#[test]
fn webhook_connection_refused_is_retried_then_fails() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = config(&format!("http://127.0.0.1:{port}/hooks/T0/B0/url-token"));
    config.retries = 2;
    let (mut executor, sleeps) = webhook(config);
    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("connection"), "{error}");
    assert!(error.contains("3 attempts"), "{error}");
    assert!(!error.contains("url-token"), "{error}");
    assert_eq!(slept(&sleeps), vec![ms(500), ms(1_000)]);
}

#[test]
fn webhook_handles_only_its_actions() {
    let mut some = config("https://soar.example/hook");
    some.actions = vec![
        "lock_storage".into(),
        "freeze_account".into(),
        "notify".into(),
    ];
    let (executor, _) = webhook(some);
    assert_eq!(executor.name(), "webhook:soar");
    assert!(executor.handles(&planned(Action::LockStorage)));
    assert!(executor.handles(&planned(Action::Notify {
        recipients: "soc".into()
    })));
    assert!(!executor.handles(&planned(Action::Block { duration_ms: None })));
    assert!(!executor.handles(&planned(Action::RevokeKey)));

    let (all, _) = webhook(config("https://soar.example/hook"));
    for action in [
        Action::Block { duration_ms: None },
        Action::RevokeKey,
        Action::PreserveEvidence { alerts: 1 },
    ] {
        assert!(all.handles(&planned(action)));
    }
}

#[test]
fn webhook_secret_never_shown() {
    let mut config = config("https://soar.example/hook");
    config.headers = vec![("Authorization".into(), "Bearer gw-token-123".into())];
    let shown = format!("{config:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("gw-token-123"), "{shown}");
    let (executor, _) = webhook(config);
    let shown = format!("{executor:?} {executor:#?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("gw-token-123"), "{shown}");

    // A receiver that echoes what it got, secret included, in its error.
    let server = Server::start(vec![Reply::Status(
        401,
        Vec::new(),
        format!("bad signature for key {SECRET}"),
    )]);
    let (mut executor, _) = webhook(self::config(&server.base));
    let error = executor.execute(&planned(Action::LockStorage)).unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(
            text.starts_with("HTTP 401") || text.contains("HTTP 401"),
            "{text}"
        );
        assert!(!text.contains(SECRET), "{text}");
    }
}

// ---------------------------------------------------------------------------------------
// Command

/// A directory of the test's own, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "modelward-executors-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    /// A `/bin/sh` script file, run as `/bin/sh <file>` (no `-c`).
    fn script(&self, text: &str) -> CommandConfig {
        let file = self.0.join("action.sh");
        std::fs::write(&file, text).unwrap();
        let mut config = CommandConfig::new("lock", "/bin/sh");
        config.args = vec![file.display().to_string()];
        config.env = vec![("OUT".into(), self.0.display().to_string())];
        config
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.0.join(name)).unwrap()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn command_gets_the_document_on_stdin_and_the_action_in_its_environment() {
    let dir = TempDir::new("stdin");
    let config = dir.script(
        "cat > \"$OUT/stdin.json\"\n\
         env | grep '^MODELWARD_' | sort > \"$OUT/env.txt\"\n\
         echo \"locked $MODELWARD_TARGET\"\n",
    );
    let mut executor = CommandExecutor::new(config).unwrap();
    assert_eq!(executor.name(), "command:lock");
    let action = planned(Action::LockStorage);

    let done = executor.execute(&action).unwrap();
    assert!(done.detail.starts_with("exit 0 in "), "{}", done.detail);
    assert!(
        done.detail.ends_with(" ms: locked s3://weights-prod"),
        "{}",
        done.detail
    );

    let doc: Value = serde_json::from_str(&dir.read("stdin.json")).unwrap();
    assert_eq!(doc["type"], "modelward.action");
    assert_eq!(doc["id"], action.idempotency_key().as_str());
    assert_eq!(doc["action"], "lock_storage");
    assert_eq!(doc["target"]["value"], "s3://weights-prod");
    assert_eq!(doc["rules"][1], "MW-EXFIL-004");
    assert_eq!(
        dir.read("env.txt"),
        format!(
            "MODELWARD_ACTION=lock_storage\n\
             MODELWARD_IDEMPOTENCY_KEY={}\n\
             MODELWARD_INCIDENT=INC-2026-0001\n\
             MODELWARD_TARGET=s3://weights-prod\n\
             MODELWARD_TARGET_KIND=resource\n",
            action.idempotency_key()
        )
    );
}

#[test]
fn command_cat_echoes_the_document() {
    let mut executor = CommandExecutor::new(CommandConfig::new("cat", "/bin/cat")).unwrap();
    let done = executor
        .execute(&planned(Action::PreserveEvidence { alerts: 1 }))
        .unwrap();
    // The end of its output: the end of the document.
    assert!(done.detail.ends_with("Z\"}"), "{}", done.detail);
    assert!(done.detail.contains("\"sent_at\":\""), "{}", done.detail);
}

#[test]
fn command_that_ignores_stdin_succeeds() {
    let mut executor = CommandExecutor::new(CommandConfig::new("true", "/bin/true")).unwrap();
    let done = executor.execute(&planned(Action::RevokeKey)).unwrap();
    assert!(done.detail.starts_with("exit 0 in "), "{}", done.detail);
}

#[test]
fn command_non_zero_exit_fails_with_the_end_of_stderr() {
    let dir = TempDir::new("exit");
    let config = dir.script(&format!(
        "echo '{}' >&2\necho 'lock failed: bucket policy is managed elsewhere' >&2\nexit 3\n",
        "noise ".repeat(100)
    ));
    let mut executor = CommandExecutor::new(config).unwrap();
    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("exit status: 3 in "), "{error}");
    assert!(
        error.ends_with("lock failed: bucket policy is managed elsewhere"),
        "{error}"
    );
    let stderr = error.split_once("; stderr: ").unwrap().1;
    assert_eq!(stderr.chars().count(), 200, "{stderr}");
}

#[test]
fn command_timeout_kills_it_and_what_it_started() {
    let dir = TempDir::new("timeout");
    let mut config =
        dir.script("echo starting >&2\n/bin/sleep 30 &\necho $! > \"$OUT/child.pid\"\nwait\n");
    config.timeout_ms = 300;
    let mut executor = CommandExecutor::new(config).unwrap();
    let started = Instant::now();
    let error = executor
        .execute(&planned(Action::LockStorage))
        .unwrap_err()
        .to_string();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(error, "timed out after 300 ms: killed; stderr: starting");

    // The sleep the script started went with it.
    assert_gone(&dir.read("child.pid"));
}

/// Waits (5 s at most) for process `pid` to be gone, or a zombie waiting for whoever
/// adopted it; fails the test if it still runs (Linux; elsewhere nothing is checked).
fn assert_gone(pid: &str) {
    let pid = pid.trim();
    if !cfg!(target_os = "linux") {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let dead = state.is_empty() || state.split(") ").nth(1).is_some_and(|s| s.starts_with('Z'));
        if dead {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} still runs: {state}"
        );
        thread::sleep(ms(20));
    }
}

#[test]
fn command_handles_only_its_actions() {
    let mut config = CommandConfig::new("lock", "/bin/true");
    config.actions = vec!["lock_storage".into()];
    let executor = CommandExecutor::new(config).unwrap();
    assert!(executor.handles(&planned(Action::LockStorage)));
    assert!(!executor.handles(&planned(Action::FreezeAccount)));
    let all = CommandExecutor::new(CommandConfig::new("all", "/bin/true")).unwrap();
    assert!(all.handles(&planned(Action::FreezeAccount)));
}

#[test]
fn command_runs_in_a_clean_environment_and_its_output_is_masked_and_leftovers_killed() {
    let dir = TempDir::new("clean");
    let config = dir.script(
        "env > \"$OUT/env.txt\"\n\
         /bin/sleep 30 &\n\
         echo $! > \"$OUT/child.pid\"\n\
         echo 'revoked; token=sk-proj-Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj'\n",
    );
    let mut executor = CommandExecutor::new(config).unwrap();
    let started = Instant::now();
    let done = executor.execute(&planned(Action::LockStorage)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "waited for its leftover"
    );
    assert!(
        !done.detail.contains("Q3xv9LmT7rNcA2bKd8YhW4pE6sUf1gZj"),
        "{}",
        done.detail
    );
    assert!(done.detail.contains("revoked"), "{}", done.detail);
    let env = dir.read("env.txt");
    // A variable of this process's own environment (cargo sets it for tests) stays behind,
    // as a webhook secret read from modelward's environment would.
    if std::env::var_os("CARGO_MANIFEST_DIR").is_some() {
        assert!(!env.contains("CARGO_MANIFEST_DIR"), "{env}");
    }
    assert!(env.contains("PATH="), "{env}");
    assert!(env.contains("OUT="), "its configured env is there: {env}");
    assert_gone(&dir.read("child.pid"));
}
