//! An open-loop HTTP load generator for the gateway's latency benchmark
//! (tools/gateway-bench.sh), correcting for coordinated omission as wrk2 does: requests are
//! scheduled at a fixed rate whatever the server does, and each latency is measured from the
//! time the request was *meant* to be sent, not from when it went out. A server that stalls
//! for 100 ms at 5,000 requests/s is charged for the 500 requests that should have been sent
//! meanwhile (each waiting its share of the stall), not for one slow request.
//!
//! A scheduler thread sleeps (`std::thread::sleep`, an hrtimer: tens of microseconds late at
//! worst, where tokio's timer rounds to the millisecond) until each request's intended time
//! and hands it to an idle connection, or queues it when every connection is busy. Each of
//! `--connections` connections (HTTP/1.1, keep-alive, opened before the run) takes the next
//! request when it has finished its last. Latency is taken when the whole response has been
//! read; for a stream (`--stream`, SSE) also at its first body byte. Requests still queued or
//! in flight `--grace` seconds after the last was due are counted as unfinished, with what they
//! had waited by then as their (lower-bound) latency: an overloaded server is not flattered by
//! the requests it never answered.
//!
//! Each request is an OpenAI chat completion (`POST /v1/chat/completions`) as the simulator's
//! benign batch job sends it (`simulate-llm-traffic --profiles batch_job`: "Summarise support
//! ticket #N: ..."), the ticket texts taken in turn from `--prompts FILE` (one JSON string a
//! line; tools/gateway-bench.sh makes it with the simulator) and the ticket numbers counting
//! up, so that in-path detection sees a heavy but ordinary batch job; from `--keys` API keys
//! in turn (default 8), or all with `--key KEY`.
//!
//! ```sh
//! cargo run --release -p modelward-gateway --example bench_load -- \
//!     --url http://127.0.0.1:8080 --rate 5000 --duration 30 [--stream] [--json out.ndjson]
//! ```
//!
//! Prints one line of results; `--json FILE` appends them to FILE as a JSON line.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

struct Options {
    url: String,
    address: SocketAddr,
    host: String,
    path: String,
    rate: f64,
    duration: Duration,
    warmup: Duration,
    stream: bool,
    connections: usize,
    threads: usize,
    keys: usize,
    /// One key for every request, in place of `--keys` keys.
    key: Option<String>,
    model: String,
    timeout: Duration,
    grace: Duration,
    label: String,
    json: Option<std::path::PathBuf>,
    /// Ticket texts to summarise, used in turn.
    prompts: Vec<String>,
}

const USAGE: &str =
    "bench_load --url http://HOST:PORT --rate N --duration SECONDS [--warmup SECONDS] \
[--stream] [--connections N] [--threads N] [--keys N | --key KEY] [--model NAME] [--path PATH] \
[--timeout SECONDS] [--grace SECONDS] [--label TEXT] [--json FILE] [--prompts FILE]";

fn options() -> Result<Options, String> {
    let mut url = None;
    let mut o = Options {
        url: String::new(),
        address: "127.0.0.1:1".parse().expect("an address"),
        host: String::new(),
        path: "/v1/chat/completions".into(),
        rate: 1000.0,
        duration: Duration::from_secs(30),
        warmup: Duration::from_secs(3),
        stream: false,
        connections: 100,
        threads: 1,
        keys: 8,
        key: None,
        model: "gpt-4o-mini".into(),
        timeout: Duration::from_secs(30),
        grace: Duration::from_secs(5),
        label: String::new(),
        json: None,
        prompts: Vec::new(),
    };
    let seconds = |name: &str, v: String| -> Result<Duration, String> {
        let s: f64 = v.parse().map_err(|e| format!("{name}: {e}"))?;
        if !(0.0..1e6).contains(&s) {
            return Err(format!("{name}: {s} is out of range"));
        }
        Ok(Duration::from_secs_f64(s))
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--stream" {
            o.stream = true;
            continue;
        }
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let v = args.next().ok_or(format!("{a} needs a value"))?;
        let number = |v: &str| v.parse::<usize>().map_err(|e| format!("{a}: {e}"));
        match a.as_str() {
            "--url" => url = Some(v),
            "--path" => o.path = v,
            "--rate" => o.rate = v.parse().map_err(|e| format!("--rate: {e}"))?,
            "--duration" => o.duration = seconds(&a, v)?,
            "--warmup" => o.warmup = seconds(&a, v)?,
            "--connections" => o.connections = number(&v)?.max(1),
            "--threads" => o.threads = number(&v)?.max(1),
            "--keys" => o.keys = number(&v)?.max(1),
            "--key" => o.key = Some(v),
            "--model" => o.model = v,
            "--timeout" => o.timeout = seconds(&a, v)?,
            "--grace" => o.grace = seconds(&a, v)?,
            "--label" => o.label = v,
            "--json" => o.json = Some(v.into()),
            "--prompts" => {
                let text =
                    std::fs::read_to_string(&v).map_err(|e| format!("--prompts {v}: {e}"))?;
                for (i, line) in text
                    .lines()
                    .enumerate()
                    .filter(|(_, l)| !l.trim().is_empty())
                {
                    let p: String = serde_json::from_str(line)
                        .map_err(|e| format!("--prompts {v}:{}: {e}", i + 1))?;
                    o.prompts.push(p);
                }
            }
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    let url = url.ok_or(format!("--url is needed\n{USAGE}"))?;
    let host = url
        .strip_prefix("http://")
        .ok_or("--url: only http:// URLs")?
        .trim_end_matches('/');
    o.address = std::net::ToSocketAddrs::to_socket_addrs(host)
        .map_err(|e| format!("--url: {e}"))?
        .next()
        .ok_or("--url: no address")?;
    o.host = host.to_string();
    o.url = url.trim_end_matches('/').to_string();
    if !(o.rate > 0.0 && o.rate.is_finite()) {
        return Err("--rate must be positive".into());
    }
    Ok(o)
}

/// One request to send: when it was meant to go out, and whether it is measured (not warm-up).
#[derive(Clone, Copy)]
struct Job {
    seq: u64,
    intended: Instant,
    measured: bool,
}

/// Requests waiting for a connection, and the connections waiting for a request.
#[derive(Default)]
struct Queue {
    backlog: VecDeque<Job>,
    idle: VecDeque<usize>,
}

/// What one connection saw (merged at the end).
#[derive(Default)]
struct Stats {
    /// Measured requests answered in full, with a 2xx status: latency from the intended send
    /// time to the last byte, and to the first byte of the body (ns).
    latency: Vec<u64>,
    first_byte: Vec<u64>,
    /// Measured requests not answered by the end (grace included): what they had waited by
    /// then (ns), a lower bound of their latency.
    unfinished: Vec<u64>,
    status: u64,
    connect: u64,
    io: u64,
    timeout: u64,
    incomplete: u64,
    reconnects: u64,
    bytes: u64,
    /// Requests answered in full within the measured window, whichever were meant for it
    /// (the throughput: an overloaded server still answering the warm-up's backlog counts).
    answered_in_window: u64,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.latency.extend(o.latency);
        self.first_byte.extend(o.first_byte);
        self.unfinished.extend(o.unfinished);
        self.status += o.status;
        self.connect += o.connect;
        self.io += o.io;
        self.timeout += o.timeout;
        self.incomplete += o.incomplete;
        self.reconnects += o.reconnects;
        self.bytes += o.bytes;
        self.answered_in_window += o.answered_in_window;
    }

    fn errors(&self) -> u64 {
        self.status + self.connect + self.io + self.timeout + self.incomplete
    }
}

enum Outcome {
    Done { first: Instant, last: Instant },
    Status,
    Io,
    Timeout,
    Incomplete,
}

fn main() {
    let o = match options() {
        Ok(o) => Arc::new(o),
        Err(e) => {
            eprintln!("bench_load: {e}");
            std::process::exit(2);
        }
    };
    let runtime = if o.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(o.threads)
            .enable_all()
            .build()
    }
    .expect("a runtime");
    let cpu_before = cpu_seconds();
    let (stats, lateness, total) = runtime.block_on(run(o.clone()));
    let cpu = cpu_seconds() - cpu_before;
    report(&o, stats, lateness, total, cpu);
}

async fn run(o: Arc<Options>) -> (Stats, Vec<u64>, u64) {
    // Connections first, so that opening them is not measured.
    let mut senders = Vec::with_capacity(o.connections);
    let mut receivers = Vec::with_capacity(o.connections);
    let mut conns = Vec::with_capacity(o.connections);
    for _ in 0..o.connections {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        senders.push(tx);
        receivers.push(rx);
        match connect(o.address).await {
            Ok(c) => conns.push(Some(c)),
            Err(e) => {
                eprintln!("bench_load: connecting to {}: {e}", o.url);
                std::process::exit(1);
            }
        }
    }
    let queue = Arc::new(Mutex::new(Queue {
        backlog: VecDeque::new(),
        idle: (0..o.connections).collect(),
    }));
    let start = Instant::now() + Duration::from_millis(20);
    let measured_from = start + o.warmup;
    let end = measured_from + o.duration;
    let stop = end + o.grace;
    let period = 1.0 / o.rate;
    let total = ((o.warmup + o.duration).as_secs_f64() * o.rate).ceil() as u64;
    let measured_total = (o.duration.as_secs_f64() * o.rate).round() as u64;

    let mut workers = Vec::new();
    for (id, (rx, conn)) in receivers.into_iter().zip(conns).enumerate() {
        let (o, queue) = (o.clone(), queue.clone());
        let window = (measured_from, end, stop);
        workers.push(tokio::spawn(worker(id, o, queue, rx, conn, window)));
    }
    // The scheduler: a thread of its own, sleeping to each request's intended time.
    let scheduler_queue = queue.clone();
    let scheduler = std::thread::spawn(move || {
        let mut lateness = Vec::with_capacity(measured_total as usize + 16);
        for seq in 0..total {
            let intended = start + Duration::from_secs_f64(seq as f64 * period);
            let now = Instant::now();
            if intended > now {
                std::thread::sleep(intended - now);
            }
            let measured = intended >= measured_from && intended < end;
            if measured {
                lateness.push(
                    Instant::now()
                        .saturating_duration_since(intended)
                        .as_nanos() as u64,
                );
            }
            let job = Job {
                seq,
                intended,
                measured,
            };
            let idle = {
                let mut q = scheduler_queue.lock().expect("the queue");
                match q.idle.pop_front() {
                    Some(w) => Some(w),
                    None => {
                        q.backlog.push_back(job);
                        None
                    }
                }
            };
            if let Some(w) = idle {
                let _ = senders[w].send(job);
            }
        }
        // The senders go: a connection with nothing left to do ends.
        lateness
    });
    let mut stats = Stats::default();
    for w in workers {
        if let Ok(s) = w.await {
            stats.merge(s);
        }
    }
    let lateness = scheduler.join().expect("the scheduler");
    // What no connection took before the end.
    let left: Vec<Job> = queue.lock().expect("the queue").backlog.drain(..).collect();
    let now = Instant::now().max(stop);
    for job in left.into_iter().filter(|j| j.measured) {
        stats
            .unfinished
            .push(now.saturating_duration_since(job.intended).as_nanos() as u64);
    }
    (stats, lateness, measured_total)
}

type Conn = SendRequest<Full<Bytes>>;

async fn connect(address: SocketAddr) -> std::io::Result<Conn> {
    let stream = TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

async fn worker(
    id: usize,
    o: Arc<Options>,
    queue: Arc<Mutex<Queue>>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    mut conn: Option<Conn>,
    (measured_from, end, stop): (Instant, Instant, Instant),
) -> Stats {
    let mut stats = Stats::default();
    let mut next: Option<Job> = None;
    loop {
        let job = match next.take() {
            Some(j) => j,
            None => match rx.recv().await {
                Some(j) => j,
                None => break,
            },
        };
        if Instant::now() >= stop {
            if job.measured {
                let waited = Instant::now().saturating_duration_since(job.intended);
                stats.unfinished.push(waited.as_nanos() as u64);
            }
        } else {
            let outcome = tokio::select! {
                r = tokio::time::timeout(o.timeout, send(&o, &mut conn, &job, &mut stats)) => match r {
                    Ok(r) => Some(r),
                    Err(_) => {
                        conn = None;
                        Some(Outcome::Timeout)
                    }
                },
                () = tokio::time::sleep_until(stop.into()) => {
                    conn = None;
                    None
                }
            };
            if let Some(Outcome::Done { last, .. }) = &outcome {
                if (measured_from..end).contains(last) {
                    stats.answered_in_window += 1;
                }
            }
            if job.measured {
                let since =
                    |t: Instant| t.saturating_duration_since(job.intended).as_nanos() as u64;
                match outcome {
                    Some(Outcome::Done { first, last }) => {
                        stats.latency.push(since(last));
                        stats.first_byte.push(since(first));
                    }
                    Some(Outcome::Status) => stats.status += 1,
                    Some(Outcome::Io) => stats.io += 1,
                    Some(Outcome::Timeout) => stats.timeout += 1,
                    Some(Outcome::Incomplete) => stats.incomplete += 1,
                    None => stats.unfinished.push(since(Instant::now())),
                }
            }
        }
        let mut q = queue.lock().expect("the queue");
        match q.backlog.pop_front() {
            Some(j) => next = Some(j),
            None => q.idle.push_back(id),
        }
    }
    stats
}

/// Sends one request on the connection (opened again if it was closed; a request that a
/// reused connection could not carry is sent once more on a new one) and reads the answer.
async fn send(o: &Options, conn: &mut Option<Conn>, job: &Job, stats: &mut Stats) -> Outcome {
    let body = Bytes::from(request_body(o, job.seq));
    let key = match &o.key {
        Some(k) => k.clone(),
        None => format!("sk-bench-{:03}-0123456789abcdef", job.seq % o.keys as u64),
    };
    for attempt in 0..2 {
        let fresh = match conn {
            Some(c) if !c.is_closed() => false,
            _ => {
                match connect(o.address).await {
                    Ok(c) => *conn = Some(c),
                    Err(_) => {
                        stats.connect += 1;
                        return Outcome::Io;
                    }
                }
                stats.reconnects += 1;
                true
            }
        };
        let sender = conn.as_mut().expect("connected");
        if sender.ready().await.is_err() {
            *conn = None;
            if fresh || attempt == 1 {
                return Outcome::Io;
            }
            continue;
        }
        let req = Request::post(&o.path)
            .header("host", &o.host)
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {key}"))
            .header("user-agent", "modelward-bench-load/1")
            .body(Full::new(body.clone()))
            .expect("a request");
        let response = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => {
                *conn = None;
                // A keep-alive connection the server closed just as the request went out.
                if !fresh && attempt == 0 && (e.is_canceled() || e.is_closed()) {
                    continue;
                }
                return Outcome::Io;
            }
        };
        let ok = response.status() == StatusCode::OK;
        let mut body = response.into_body();
        let mut first = None;
        let mut tail: Vec<u8> = Vec::new();
        loop {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        if first.is_none() && !data.is_empty() {
                            first = Some(Instant::now());
                        }
                        stats.bytes += data.len() as u64;
                        tail.extend_from_slice(data);
                        if tail.len() > 64 {
                            tail.drain(..tail.len() - 64);
                        }
                    }
                }
                Some(Err(_)) => {
                    *conn = None;
                    return Outcome::Io;
                }
                None => break,
            }
        }
        let last = Instant::now();
        if !ok {
            return Outcome::Status;
        }
        if o.stream && !tail.ends_with(b"data: [DONE]\n\n") {
            return Outcome::Incomplete;
        }
        return Outcome::Done {
            first: first.unwrap_or(last),
            last,
        };
    }
    Outcome::Io
}

/// Words the requests' texts are drawn from without `--prompts`.
const WORDS: [&str; 64] = [
    "account",
    "after",
    "again",
    "agent",
    "alert",
    "answer",
    "app",
    "audit",
    "backup",
    "billing",
    "browser",
    "cache",
    "card",
    "cart",
    "change",
    "checkout",
    "client",
    "config",
    "customer",
    "dashboard",
    "data",
    "delay",
    "device",
    "email",
    "error",
    "export",
    "failed",
    "file",
    "invoice",
    "issue",
    "laptop",
    "login",
    "manager",
    "message",
    "mobile",
    "monthly",
    "network",
    "new",
    "order",
    "page",
    "password",
    "payment",
    "phone",
    "printer",
    "refund",
    "report",
    "request",
    "reset",
    "screen",
    "server",
    "session",
    "settings",
    "shipping",
    "slow",
    "team",
    "ticket",
    "timeout",
    "update",
    "upload",
    "user",
    "vendor",
    "version",
    "warehouse",
    "weekly",
];

/// The batch job's system prompt (crates/corpus/src/sim/batch_job.rs).
const SYSTEM: &str = "You summarise customer support tickets for the weekly quality review. \
Reply with one line: Summary, customer sentiment, requested action, priority.";

/// A chat completion request as the simulator's benign batch job sends it: summarise ticket
/// `seq` (its number counting up, so no two requests are alike), its text the next of
/// `--prompts` (else 60 random words, which are not natural queries: PRADA, MW-TH-0003, may
/// take a long run of them for an extraction attack).
fn request_body(o: &Options, seq: u64) -> String {
    let text = if o.prompts.is_empty() {
        let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut text = String::with_capacity(512);
        for i in 0..60 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
        }
        text
    } else {
        o.prompts[(seq % o.prompts.len() as u64) as usize].clone()
    };
    let mut body = json!({
        "model": o.model,
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": format!("Summarise support ticket #{}: {text}", 100_000 + seq)},
        ],
        "max_tokens": 300,
        "temperature": 0.2,
    });
    if o.stream {
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
    }
    body.to_string()
}

/// This process's CPU time (user + system), seconds.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command's closing parenthesis; utime and stime are the 14th and 15th
    // fields of the line, in clock ticks (USER_HZ, 100 on Linux).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The `q` quantile of sorted `v` (nearest rank), microseconds.
fn quantile(v: &[u64], q: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1] as f64 / 1000.0
}

fn summary(mut v: Vec<u64>) -> serde_json::Value {
    v.sort_unstable();
    let mean = if v.is_empty() {
        f64::NAN
    } else {
        v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64 / 1000.0
    };
    let r = |x: f64| (x * 10.0).round() / 10.0;
    json!({
        "n": v.len(),
        "p50": r(quantile(&v, 0.50)),
        "p90": r(quantile(&v, 0.90)),
        "p99": r(quantile(&v, 0.99)),
        "p999": r(quantile(&v, 0.999)),
        "max": r(quantile(&v, 1.0)),
        "mean": r(mean),
    })
}

fn report(o: &Options, stats: Stats, lateness: Vec<u64>, scheduled: u64, cpu: f64) {
    let completed = stats.latency.len() as u64;
    let unfinished = stats.unfinished.len() as u64;
    let achieved = stats.answered_in_window as f64 / o.duration.as_secs_f64();
    let errors = stats.errors();
    // Percentiles over every measured request that did not fail: the unfinished ones at what
    // they had waited by the end.
    let mut all = stats.latency.clone();
    all.extend(&stats.unfinished);
    let latency = summary(all);
    let first_byte = summary(stats.first_byte);
    let lateness = summary(lateness);
    let out = json!({
        "label": o.label,
        "url": o.url,
        "mode": if o.stream { "stream" } else { "whole" },
        "rate": o.rate,
        "duration_s": o.duration.as_secs_f64(),
        "connections": o.connections,
        "scheduled": scheduled,
        "completed": completed,
        "achieved_rps": (achieved * 10.0).round() / 10.0,
        "errors": errors,
        "error_kinds": {"status": stats.status, "connect": stats.connect, "io": stats.io, "timeout": stats.timeout, "incomplete": stats.incomplete},
        "unfinished": unfinished,
        "reconnects": stats.reconnects,
        "latency_us": latency,
        "first_byte_us": first_byte,
        "scheduler_lateness_us": lateness,
        "loadgen_cpu_s": (cpu * 100.0).round() / 100.0,
    });
    let f = |v: &serde_json::Value| v.as_f64().map_or("-".into(), |x| format!("{x:.1}"));
    println!(
        "{label}{mode} {rate} rps -> {achieved:.0} rps, {completed} ok, {errors} errors, {unfinished} unfinished; \
latency µs p50 {} p90 {} p99 {} p99.9 {} max {}{}; sent late µs p99 {}; loadgen cpu {:.0}%",
        f(&latency["p50"]),
        f(&latency["p90"]),
        f(&latency["p99"]),
        f(&latency["p999"]),
        f(&latency["max"]),
        if o.stream {
            format!("; first byte p50 {} p99 {}", f(&first_byte["p50"]), f(&first_byte["p99"]))
        } else {
            String::new()
        },
        f(&lateness["p99"]),
        100.0 * cpu / (o.warmup + o.duration).as_secs_f64(),
        label = if o.label.is_empty() { String::new() } else { format!("{}: ", o.label) },
        mode = if o.stream { "stream" } else { "whole" },
        rate = o.rate,
    );
    if let Some(path) = &o.json {
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{out}"));
        if let Err(e) = written {
            eprintln!("bench_load: writing {}: {e}", path.display());
        }
    }
}
