//! The delivery layer every HTTP sink shares: a bounded queue, batches, retries with
//! exponential backoff and jitter, a deadline, and a spool for what could not be delivered.
//!
//! [`Delivery`] is the [`AlertSink`]: `alert` puts the alert document on a bounded queue
//! (`queue` alerts; when it is full, the caller waits: the engine slows down rather than
//! memory growing) and returns. A worker thread takes alerts off the queue into a batch and
//! sends the batch when it holds `batch_max_events` alerts, when the next alert would take it
//! past `batch_max_bytes`, when no alert came for `flush_interval`, or at the end.
//!
//! A batch goes to the protocol's [`Transport`], which says what came of it ([`Outcome`]):
//!
//! - delivered (an alert the destination already had, by its stable id, counts as delivered:
//!   a replay does not duplicate it where the protocol lets the destination tell);
//! - some records to send again and some refused (Elasticsearch's per-item statuses): the
//!   refused are reported, the others go again;
//! - the whole batch to send again (a connection failure, a timeout, 429, 5xx, an indexer
//!   acknowledgement that did not come);
//! - too large (413): the batch is split in two and each half sent, down to one alert;
//! - refused (a 4xx about the content): its alerts are reported;
//! - fatal (authentication, a missing index, stream or rule): nothing more is tried; this
//!   batch and every alert after it are reported unsent.
//!
//! Waits between attempts double from `backoff` up to `max_backoff`, each between half and
//! all of its value (jitter, so many senders do not retry in step), or what `Retry-After`
//! asks (up to `max_backoff`). A batch is given up after `retries` retries or when the next
//! wait would end past `deadline` from its first attempt; after that the destination is
//! taken as down and the rest of the run's alerts are not tried.
//!
//! Nothing is dropped silently: every alert not delivered is in the [`Report`] with why, and
//! is appended to the spool file (one alert document per line, as `--output FILE` writes
//! them) when one is configured. [`Delivery::close`] returns [`Error::Undelivered`] when any
//! alert was not delivered. Delivery is at least once: a batch whose answer was lost is sent
//! again, and the alert ids let the destination (Elasticsearch `_id`) or a query (Splunk,
//! Sentinel) drop the repeats.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use modelward_engine::{AlertSink, SinkError};
use modelward_http::Clock;
use modelward_rule::Alert;
use serde_json::Value;

use crate::doc::View;
use crate::error::Error;

/// One alert as the protocol sends it.
#[derive(Debug, Clone)]
pub struct Record {
    /// The alert's stable id.
    pub id: String,
    /// The protocol's bytes for it (an action and document line pair, a HEC event, a row).
    pub body: Vec<u8>,
    /// The alert document, for the spool.
    original: Vec<u8>,
}

impl Record {
    pub fn new(id: impl Into<String>, body: Vec<u8>) -> Record {
        Record {
            id: id.into(),
            body,
            original: Vec::new(),
        }
    }
}

/// What came of sending one batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every record arrived; `duplicates` of them the destination already had.
    Delivered { duplicates: usize },
    /// Some records arrived, those at `retry` (indexes into the batch) are worth sending
    /// again, those at `rejected` were refused for good.
    Partial {
        retry: Vec<usize>,
        rejected: Vec<(usize, String)>,
        duplicates: usize,
        why: String,
    },
    /// Nothing is known to have arrived; the whole batch may go again.
    Retry {
        why: String,
        retry_after: Option<Duration>,
    },
    /// The request was too large (413): split the batch.
    TooLarge { why: String },
    /// The destination refused these records for good.
    Rejected { why: String },
    /// Nothing will work (authentication, a missing destination): stop trying.
    Fatal { why: String },
}

/// One protocol: how an alert becomes a record and how a batch of records is sent.
pub trait Transport: Send {
    /// What the destination is, for messages: kind, scheme, host and port, no secrets.
    fn describe(&self) -> String;
    /// The alert document as the protocol's record, or why it cannot be one.
    fn encode(&self, alert: &Value) -> Result<Vec<u8>, String>;
    /// Bytes a request adds around each record (a separator), counted against
    /// `batch_max_bytes`.
    fn framing(&self) -> usize {
        0
    }
    /// Sends one batch (never empty).
    fn send(&mut self, batch: &[Record]) -> Outcome;
}

/// How a [`Delivery`] batches, retries and spools.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Alerts in one request, at most.
    pub batch_max_events: usize,
    /// Bytes of records in one request, at most (the protocol's framing counted).
    pub batch_max_bytes: usize,
    /// Alerts waiting for the worker, at most; `alert` waits when the queue is full.
    pub queue: usize,
    /// A batch not full is sent when no alert came for this long.
    pub flush_interval: Duration,
    /// Attempts after the first, per batch.
    pub retries: u32,
    /// The first wait between attempts; doubled after each.
    pub backoff: Duration,
    /// The longest wait between attempts (also caps `Retry-After`).
    pub max_backoff: Duration,
    /// A batch is given up when its next attempt would start later than this after its
    /// first.
    pub deadline: Duration,
    /// Where undelivered alerts are appended, one document per line.
    pub spool: Option<PathBuf>,
}

pub const DEFAULT_BATCH_MAX_EVENTS: usize = 500;
pub const DEFAULT_QUEUE: usize = 10_000;
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_RETRIES: u32 = 8;
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(500);
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(120);

impl Settings {
    /// The defaults, with `batch_max_bytes` the protocol's.
    pub fn with_max_bytes(batch_max_bytes: usize) -> Settings {
        Settings {
            batch_max_events: DEFAULT_BATCH_MAX_EVENTS,
            batch_max_bytes,
            queue: DEFAULT_QUEUE,
            flush_interval: DEFAULT_FLUSH_INTERVAL,
            retries: DEFAULT_RETRIES,
            backoff: DEFAULT_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            deadline: DEFAULT_DEADLINE,
            spool: None,
        }
    }
}

/// An alert that did not arrive, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub id: String,
    pub why: String,
}

/// What a delivery came to.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// What the destination is (kind, scheme, host, port).
    pub destination: String,
    /// Alerts the destination took (duplicates included).
    pub delivered: u64,
    /// Of those, alerts it already had (Elasticsearch: a document with the alert's id).
    pub duplicates: u64,
    /// Requests sent, retries included.
    pub requests: u64,
    /// Requests that were retries.
    pub retried: u64,
    /// Batches split after a 413.
    pub split: u64,
    /// Alerts refused for good (a mapping error, too large alone).
    pub rejected: Vec<Undelivered>,
    /// Alerts not sent or not acknowledged after every retry, or never tried after a fatal
    /// answer.
    pub unsent: Vec<Undelivered>,
    /// The spool and how many alerts were appended to it.
    pub spooled: Option<(PathBuf, u64)>,
    /// Why appending to the spool failed.
    pub spool_error: Option<String>,
}

impl Report {
    /// Whether every alert arrived.
    pub fn complete(&self) -> bool {
        self.rejected.is_empty() && self.unsent.is_empty()
    }

    /// One line for people: `25 alert(s) delivered in 1 request(s)`, and what was retried.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} alert(s) delivered in {} request(s)",
            self.delivered, self.requests
        );
        let mut extra = Vec::new();
        if self.retried > 0 {
            extra.push(format!("{} retried", self.retried));
        }
        if self.split > 0 {
            extra.push(format!("{} batch(es) split for size", self.split));
        }
        if self.duplicates > 0 {
            extra.push(format!("{} already there", self.duplicates));
        }
        if !extra.is_empty() {
            s.push_str(&format!(" ({})", extra.join(", ")));
        }
        s
    }
}

/// What the worker is handed: an alert, or a barrier to answer once everything before it
/// is delivered or given up on.
enum Message {
    Alert(Value),
    Barrier(SyncSender<()>),
}

/// A sink that delivers alerts through a [`Transport`] (see the module's overview).
pub struct Delivery {
    name: String,
    tx: Option<SyncSender<Message>>,
    worker: Option<JoinHandle<Report>>,
    report: Option<Box<Report>>,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Delivery {
    /// Starts the worker. `name` names the output in messages.
    pub fn start(
        name: impl Into<String>,
        transport: Box<dyn Transport>,
        settings: Settings,
        clock: Box<dyn Clock>,
    ) -> Result<Delivery, Error> {
        let name = name.into();
        if let Some(path) = &settings.spool {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            if !dir.is_dir() {
                return Err(Error::File {
                    output: name,
                    path: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "the spool's directory does not exist",
                    ),
                });
            }
        }
        let (tx, rx) = sync_channel(settings.queue.max(1));
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            | 1;
        let worker = Worker {
            report: Report {
                destination: transport.describe(),
                ..Report::default()
            },
            transport,
            spool: settings.spool.clone().map(Spool::new),
            settings,
            clock,
            rng: seed,
            given_up: None,
        };
        let handle = std::thread::Builder::new()
            .name(format!("modelward-output-{name}"))
            .spawn(move || worker.run(rx))
            .map_err(|_| Error::Worker {
                output: name.clone(),
            })?;
        Ok(Delivery {
            name,
            tx: Some(tx),
            worker: Some(handle),
            report: None,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Queues one alert document; waits while the queue is full.
    pub fn send(&mut self, alert: Value) -> Result<(), Error> {
        let tx = self.tx.as_ref().ok_or_else(|| Error::Worker {
            output: self.name.clone(),
        })?;
        tx.send(Message::Alert(alert)).map_err(|_| Error::Worker {
            output: self.name.clone(),
        })
    }

    /// Waits until every alert queued so far is delivered, or given up on (reported and
    /// spooled): the batch in progress is sent without waiting for more.
    pub fn barrier(&mut self) -> Result<(), Error> {
        let worker = || Error::Worker {
            output: self.name.clone(),
        };
        let tx = self.tx.as_ref().ok_or_else(worker)?;
        let (done, wait) = sync_channel(1);
        tx.send(Message::Barrier(done)).map_err(|_| worker())?;
        wait.recv().map_err(|_| worker())
    }

    /// Sends what is queued and waits for the worker: the report, or
    /// [`Error::Undelivered`] (which holds it) when any alert did not arrive.
    pub fn close(&mut self) -> Result<&Report, Error> {
        if self.report.is_none() {
            self.tx = None;
            let report = self
                .worker
                .take()
                .and_then(|w| w.join().ok())
                .ok_or_else(|| Error::Worker {
                    output: self.name.clone(),
                })?;
            self.report = Some(Box::new(report));
        }
        let Some(report) = self.report.as_deref() else {
            return Err(Error::Worker {
                output: self.name.clone(),
            });
        };
        if report.complete() {
            Ok(report)
        } else {
            Err(Error::Undelivered {
                output: self.name.clone(),
                report: Box::new(report.clone()),
            })
        }
    }

    /// The report, once closed.
    pub fn report(&self) -> Option<&Report> {
        self.report.as_deref()
    }
}

impl AlertSink for Delivery {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        self.send(alert.to_json()).map_err(SinkError::from)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.barrier().map_err(SinkError::from)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.close().map(|_| ()).map_err(SinkError::from)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        // A delivery dropped without `close` still sends what it has: the worker ends when
        // the queue closes.
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

struct Spool {
    path: PathBuf,
    file: Option<File>,
    written: u64,
    error: Option<String>,
}

impl Spool {
    fn new(path: PathBuf) -> Spool {
        Spool {
            path,
            file: None,
            written: 0,
            error: None,
        }
    }

    fn write(&mut self, original: &[u8]) {
        if self.error.is_some() {
            return;
        }
        if self.file.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
            {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    self.error = Some(format!("{}: {e}", self.path.display()));
                    return;
                }
            }
        }
        let mut line = Vec::with_capacity(original.len() + 1);
        line.extend_from_slice(original);
        line.push(b'\n');
        let result = self
            .file
            .as_mut()
            .map(|f| f.write_all(&line).and_then(|_| f.flush()));
        match result {
            Some(Ok(())) => self.written += 1,
            Some(Err(e)) => self.error = Some(format!("{}: {e}", self.path.display())),
            None => {}
        }
    }
}

struct Worker {
    transport: Box<dyn Transport>,
    settings: Settings,
    clock: Box<dyn Clock>,
    rng: u64,
    report: Report,
    spool: Option<Spool>,
    /// Why nothing more is tried.
    given_up: Option<String>,
}

impl Worker {
    fn run(mut self, rx: Receiver<Message>) -> Report {
        let mut batch: Vec<Record> = Vec::new();
        let mut bytes = 0usize;
        let mut since = Instant::now();
        let framing = self.transport.framing();
        loop {
            let next = if batch.is_empty() {
                rx.recv().ok()
            } else {
                let left = self.settings.flush_interval.saturating_sub(since.elapsed());
                match rx.recv_timeout(left) {
                    Ok(v) => Some(v),
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush(std::mem::take(&mut batch));
                        bytes = 0;
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => None,
                }
            };
            let doc = match next {
                None => break,
                Some(Message::Alert(doc)) => doc,
                Some(Message::Barrier(done)) => {
                    if !batch.is_empty() {
                        self.flush(std::mem::take(&mut batch));
                        bytes = 0;
                    }
                    let _ = done.send(());
                    continue;
                }
            };
            let id = View(&doc).id().to_string();
            let original = serde_json::to_vec(&doc).unwrap_or_default();
            if let Some(why) = self.given_up.clone() {
                self.unsent(Record::with_original(id, Vec::new(), original), why);
                continue;
            }
            let body = match self.transport.encode(&doc) {
                Ok(body) => body,
                Err(why) => {
                    self.rejected(Record::with_original(id, Vec::new(), original), why);
                    continue;
                }
            };
            let size = body.len() + framing;
            let record = Record::with_original(id, body, original);
            if size > self.settings.batch_max_bytes {
                let why = format!(
                    "{size} bytes, more than one request may carry (batch_max_bytes {})",
                    self.settings.batch_max_bytes
                );
                self.rejected(record, why);
                continue;
            }
            if !batch.is_empty() && bytes + size > self.settings.batch_max_bytes {
                self.flush(std::mem::take(&mut batch));
                bytes = 0;
            }
            if batch.is_empty() {
                since = Instant::now();
            }
            batch.push(record);
            bytes += size;
            if batch.len() >= self.settings.batch_max_events {
                self.flush(std::mem::take(&mut batch));
                bytes = 0;
            }
        }
        if !batch.is_empty() {
            self.flush(batch);
        }
        if let Some(spool) = self.spool.take() {
            if spool.written > 0 {
                self.report.spooled = Some((spool.path, spool.written));
            }
            self.report.spool_error = spool.error;
        }
        self.report
    }

    fn rejected(&mut self, record: Record, why: String) {
        if let Some(s) = &mut self.spool {
            s.write(&record.original);
        }
        self.report
            .rejected
            .push(Undelivered { id: record.id, why });
    }

    fn unsent(&mut self, record: Record, why: String) {
        if let Some(s) = &mut self.spool {
            s.write(&record.original);
        }
        self.report.unsent.push(Undelivered { id: record.id, why });
    }

    /// Half of `backoff` and a random part of the other half.
    fn jittered(&mut self, backoff: Duration) -> Duration {
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = backoff / 2;
        let extra = half.as_nanos() as u64;
        let r = if extra == 0 {
            0
        } else {
            self.rng % (extra + 1)
        };
        half + Duration::from_nanos(r)
    }

    fn flush(&mut self, batch: Vec<Record>) {
        let mut work = vec![batch];
        while let Some(mut pending) = work.pop() {
            if pending.is_empty() {
                continue;
            }
            if let Some(why) = self.given_up.clone() {
                for r in pending {
                    self.unsent(r, why.clone());
                }
                continue;
            }
            let start = self.clock.now();
            let mut backoff = self.settings.backoff.min(self.settings.max_backoff);
            let mut attempt = 0u32;
            loop {
                attempt += 1;
                self.report.requests += 1;
                if attempt > 1 {
                    self.report.retried += 1;
                }
                let (why, retry_after) = match self.transport.send(&pending) {
                    Outcome::Delivered { duplicates } => {
                        self.report.delivered += pending.len() as u64;
                        self.report.duplicates += duplicates as u64;
                        break;
                    }
                    Outcome::Partial {
                        retry,
                        rejected,
                        duplicates,
                        why,
                    } => {
                        let mut again = Vec::new();
                        let mut refused = Vec::new();
                        let mut done = 0u64;
                        for (i, record) in pending.into_iter().enumerate() {
                            if retry.contains(&i) {
                                again.push(record);
                            } else if let Some((_, reason)) = rejected.iter().find(|(j, _)| *j == i)
                            {
                                refused.push((record, reason.clone()));
                            } else {
                                done += 1;
                            }
                        }
                        self.report.delivered += done;
                        self.report.duplicates += duplicates as u64;
                        for (record, reason) in refused {
                            self.rejected(record, reason);
                        }
                        pending = again;
                        if pending.is_empty() {
                            break;
                        }
                        (why, None)
                    }
                    Outcome::Retry { why, retry_after } => (why, retry_after),
                    Outcome::TooLarge { why } => {
                        if pending.len() == 1 {
                            let r = pending.pop().expect("one");
                            self.rejected(r, why);
                        } else {
                            self.report.split += 1;
                            let second = pending.split_off(pending.len() / 2);
                            work.push(second);
                            work.push(pending);
                        }
                        break;
                    }
                    Outcome::Rejected { why } => {
                        for r in pending {
                            self.rejected(r, why.clone());
                        }
                        break;
                    }
                    Outcome::Fatal { why } => {
                        self.given_up = Some(format!("not tried after: {why}"));
                        for r in pending {
                            self.unsent(r, why.clone());
                        }
                        break;
                    }
                };
                if attempt > self.settings.retries {
                    let why = format!("{why} (gave up after {attempt} attempts)");
                    self.give_up(pending, why);
                    break;
                }
                let wait = retry_after
                    .unwrap_or_else(|| self.jittered(backoff))
                    .min(self.settings.max_backoff);
                let elapsed = self
                    .clock
                    .now()
                    .duration_since(start)
                    .unwrap_or(Duration::ZERO);
                if elapsed + wait > self.settings.deadline {
                    let why = format!(
                        "{why} (gave up after {attempt} attempts: the next would start past the {} s deadline)",
                        self.settings.deadline.as_secs_f64()
                    );
                    self.give_up(pending, why);
                    break;
                }
                self.clock.sleep(wait);
                backoff = backoff.saturating_mul(2).min(self.settings.max_backoff);
            }
        }
    }

    /// A batch that could not be delivered in time: it and everything after it are unsent
    /// (the destination is down or refusing; trying each later batch for its own deadline
    /// would hold the run up for as many deadlines).
    fn give_up(&mut self, pending: Vec<Record>, why: String) {
        self.given_up = Some(format!("not tried after an earlier batch failed: {why}"));
        for r in pending {
            self.unsent(r, why.clone());
        }
    }
}

impl Record {
    fn with_original(id: String, body: Vec<u8>, original: Vec<u8>) -> Record {
        Record { id, body, original }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::time::SystemTime;

    /// A transport answering from a script, recording the batches.
    struct Scripted {
        answers: Vec<Outcome>,
        seen: Arc<Mutex<Vec<Vec<String>>>>,
    }

    impl Transport for Scripted {
        fn describe(&self) -> String {
            "scripted".into()
        }
        fn encode(&self, alert: &Value) -> Result<Vec<u8>, String> {
            if alert.get("bad").is_some() {
                return Err("cannot encode".into());
            }
            Ok(View(alert).id().as_bytes().to_vec())
        }
        fn send(&mut self, batch: &[Record]) -> Outcome {
            self.seen
                .lock()
                .unwrap()
                .push(batch.iter().map(|r| r.id.clone()).collect());
            if self.answers.is_empty() {
                Outcome::Delivered { duplicates: 0 }
            } else {
                self.answers.remove(0)
            }
        }
    }

    /// A clock that only records the waits.
    #[derive(Clone)]
    struct FakeClock {
        now: Arc<Mutex<SystemTime>>,
        waits: Arc<Mutex<Vec<Duration>>>,
    }

    impl Clock for FakeClock {
        fn now(&self) -> SystemTime {
            *self.now.lock().unwrap()
        }
        fn sleep(&mut self, wait: Duration) {
            self.waits.lock().unwrap().push(wait);
            *self.now.lock().unwrap() += wait;
        }
    }

    fn alert(id: &str) -> Value {
        serde_json::json!({"alert": {"id": id}, "rule": {"name": "r"}})
    }

    fn run(
        answers: Vec<Outcome>,
        settings: Settings,
        alerts: Vec<Value>,
    ) -> (Result<Report, String>, Vec<Vec<String>>, Vec<Duration>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let clock = FakeClock {
            now: Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)),
            waits: Arc::new(Mutex::new(Vec::new())),
        };
        let mut d = Delivery::start(
            "t",
            Box::new(Scripted {
                answers,
                seen: seen.clone(),
            }),
            settings,
            Box::new(clock.clone()),
        )
        .unwrap();
        for a in alerts {
            d.send(a).unwrap();
        }
        let result = match d.close() {
            Ok(r) => Ok(r.clone()),
            Err(e) => Err(e.to_string()),
        };
        let seen = seen.lock().unwrap().clone();
        let waits = clock.waits.lock().unwrap().clone();
        (result, seen, waits)
    }

    fn settings() -> Settings {
        Settings {
            batch_max_events: 3,
            batch_max_bytes: 1000,
            flush_interval: Duration::from_secs(3600),
            ..Settings::with_max_bytes(1000)
        }
    }

    #[test]
    fn a_barrier_sends_the_batch_in_progress_and_waits_for_it() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let clock = FakeClock {
            now: Arc::new(Mutex::new(SystemTime::UNIX_EPOCH)),
            waits: Arc::new(Mutex::new(Vec::new())),
        };
        let mut d = Delivery::start(
            "t",
            Box::new(Scripted {
                answers: Vec::new(),
                seen: seen.clone(),
            }),
            settings(),
            Box::new(clock),
        )
        .unwrap();
        d.send(alert("a")).unwrap();
        d.send(alert("b")).unwrap();
        // Two of a batch of three, an hour's flush interval: only the barrier sends them.
        d.barrier().unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            vec![vec!["a".to_string(), "b".to_string()]]
        );
        d.send(alert("c")).unwrap();
        d.close().unwrap();
        assert_eq!(seen.lock().unwrap().len(), 2);
    }

    #[test]
    fn batches_by_count_and_bytes() {
        let alerts: Vec<Value> = (0..7).map(|i| alert(&format!("a{i}"))).collect();
        let (r, seen, _) = run(vec![], settings(), alerts.clone());
        assert_eq!(r.unwrap().delivered, 7);
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], vec!["a0", "a1", "a2"]);
        assert_eq!(seen[2], vec!["a6"]);
        // Two ids of two bytes each fit in five bytes, not three.
        let s = Settings {
            batch_max_bytes: 5,
            ..settings()
        };
        let (r, seen, _) = run(vec![], s, alerts);
        assert_eq!(r.unwrap().delivered, 7);
        assert_eq!(seen[0], vec!["a0", "a1"]);
    }

    #[test]
    fn retries_with_backoff_and_jitter_then_delivers() {
        let retry = || Outcome::Retry {
            why: "HTTP 503".into(),
            retry_after: None,
        };
        let s = Settings {
            backoff: Duration::from_millis(100),
            ..settings()
        };
        let (r, seen, waits) = run(vec![retry(), retry(), retry()], s, vec![alert("a")]);
        let r = r.unwrap();
        assert_eq!((r.delivered, r.requests, r.retried), (1, 4, 3));
        assert_eq!(seen.len(), 4);
        assert_eq!(waits.len(), 3);
        for (i, w) in waits.iter().enumerate() {
            let full = Duration::from_millis(100 << i);
            assert!(*w >= full / 2 && *w <= full, "wait {i}: {w:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let s = Settings {
            max_backoff: Duration::from_secs(5),
            ..settings()
        };
        let answers = vec![
            Outcome::Retry {
                why: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(2)),
            },
            Outcome::Retry {
                why: "HTTP 429".into(),
                retry_after: Some(Duration::from_secs(60)),
            },
        ];
        let (r, _, waits) = run(answers, s, vec![alert("a")]);
        assert!(r.is_ok());
        assert_eq!(waits, vec![Duration::from_secs(2), Duration::from_secs(5)]);
    }

    #[test]
    fn gives_up_at_the_deadline_spools_and_stops_trying() {
        let dir = std::env::temp_dir().join(format!("mw-sinks-spool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let spool = dir.join("spool.ndjson");
        let _ = std::fs::remove_file(&spool);
        let s = Settings {
            batch_max_events: 1,
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(10),
            deadline: Duration::from_secs(25),
            retries: 100,
            spool: Some(spool.clone()),
            ..settings()
        };
        let answers = (0..10)
            .map(|_| Outcome::Retry {
                why: "connection refused".into(),
                retry_after: Some(Duration::from_secs(10)),
            })
            .collect();
        let (r, seen, waits) = run(answers, s, vec![alert("a"), alert("b")]);
        let e = r.unwrap_err();
        // Two waits of 10 s fit in 25 s; the third would end at 30 s.
        assert_eq!(waits.len(), 2);
        assert_eq!(seen.len(), 3, "b is not tried after a gave up: {seen:?}");
        assert!(e.contains("2 of 2 alert(s) not delivered"), "{e}");
        assert!(e.contains("deadline"), "{e}");
        assert!(e.contains("spool"), "{e}");
        let text = std::fs::read_to_string(&spool).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().next().unwrap().contains("\"a\""));
    }

    #[test]
    fn partial_failures_retry_only_what_failed() {
        let answers = vec![
            Outcome::Partial {
                retry: vec![1],
                rejected: vec![(2, "mapper_parsing_exception: bad".into())],
                duplicates: 0,
                why: "1 item 429".into(),
            },
            Outcome::Delivered { duplicates: 0 },
        ];
        let (r, seen, _) = run(
            answers,
            settings(),
            vec![alert("a"), alert("b"), alert("c")],
        );
        let e = r.unwrap_err();
        assert_eq!(seen, vec![vec!["a", "b", "c"], vec!["b"]]);
        assert!(
            e.contains("1 of 3 alert(s) not delivered: 1 rejected (alert c: mapper_parsing_exception: bad)"),
            "{e}"
        );
        assert!(e.contains("alert ids c"), "{e}");
    }

    #[test]
    fn too_large_splits_down_to_one() {
        let big = || Outcome::TooLarge {
            why: "HTTP 413".into(),
        };
        let ok = || Outcome::Delivered { duplicates: 0 };
        let answers = vec![big(), ok(), big(), ok(), big()];
        let (r, seen, _) = run(
            answers,
            settings(),
            vec![alert("a"), alert("b"), alert("c")],
        );
        let e = r.unwrap_err();
        assert_eq!(
            seen,
            vec![
                vec!["a", "b", "c"],
                vec!["a"],
                vec!["b", "c"],
                vec!["b"],
                vec!["c"]
            ]
        );
        assert!(e.contains("1 of 3"), "{e}");
        assert!(e.contains("1 rejected (alert c: HTTP 413)"), "{e}");
    }

    #[test]
    fn fatal_stops_everything_and_encoding_errors_are_reported() {
        let answers = vec![Outcome::Fatal {
            why: "HTTP 401: bad token".into(),
        }];
        let s = Settings {
            batch_max_events: 1,
            ..settings()
        };
        let mut bad = alert("x");
        bad["bad"] = Value::Bool(true);
        let (r, seen, _) = run(answers, s, vec![bad, alert("a"), alert("b")]);
        let e = r.unwrap_err();
        assert_eq!(seen, vec![vec!["a"]]);
        assert!(e.contains("3 of 3"), "{e}");
        assert!(e.contains("1 rejected (alert x: cannot encode)"), "{e}");
        assert!(
            e.contains("2 unsent (alert b: not tried after: HTTP 401"),
            "{e}"
        );
    }

    #[test]
    fn an_alert_larger_than_a_request_is_rejected_alone() {
        let s = Settings {
            batch_max_bytes: 3,
            ..settings()
        };
        let (r, seen, _) = run(vec![], s, vec![alert("a"), alert("toolong"), alert("b")]);
        let e = r.unwrap_err();
        assert_eq!(seen, vec![vec!["a", "b"]]);
        assert!(e.contains("alert toolong: 7 bytes"), "{e}");
    }

    #[test]
    fn a_partial_batch_goes_after_the_flush_interval() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = Settings {
            flush_interval: Duration::from_millis(20),
            ..settings()
        };
        let mut d = Delivery::start(
            "t",
            Box::new(Scripted {
                answers: vec![],
                seen: seen.clone(),
            }),
            s,
            Box::new(modelward_http::SystemClock),
        )
        .unwrap();
        d.send(alert("a")).unwrap();
        let t = Instant::now();
        while seen.lock().unwrap().is_empty() && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(seen.lock().unwrap().len(), 1, "sent before close");
        assert_eq!(d.close().unwrap().delivered, 1);
    }
}
