//! The Kafka side of `tools/watch-bench.sh` (not a test): sends records to a topic and reads
//! alerts back from one.
//!
//! ```text
//! watch_bench produce BROKERS TOPIC PARTITIONS FILE
//!     every line of FILE to TOPIC, spread over its partitions, as fast as the broker takes
//!     them; prints `records bytes seconds`
//! watch_bench live BROKERS TOPIC PARTITIONS RATE SECONDS FILE
//!     lines of FILE (again from the start when it ends) at RATE a second for SECONDS, each
//!     record's "time" set to the wall clock when it is sent (the event's arrival)
//! watch_bench latency BROKERS ALERT_TOPIC
//!     reads every alert of ALERT_TOPIC (until 10 s pass without one); per kind — an alert on
//!     one event (`original_time`) or a Sigma correlation (`evidence.last_seen`, its last
//!     event) — prints count, p50 and p99 of the alert message's timestamp (when `watch`
//!     produced it) less that event's time
//! ```

use std::io::BufRead;
use std::time::{Duration, Instant};

use modelward_event::{format_timestamp, parse_timestamp};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

fn producer(brokers: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("linger.ms", "5")
        .set("queue.buffering.max.messages", "200000")
        .create()
        .expect("a producer")
}

fn send(p: &BaseProducer, topic: &str, partition: i32, line: &str) {
    let mut record = BaseRecord::<(), str>::to(topic)
        .payload(line)
        .partition(partition);
    loop {
        match p.send(record) {
            Ok(()) => break,
            Err((_, back)) => {
                record = back;
                p.poll(Duration::from_millis(10));
            }
        }
    }
    p.poll(Duration::ZERO);
}

fn lines(file: &str) -> Vec<String> {
    let f = std::fs::File::open(file).expect("the records file");
    std::io::BufReader::new(f)
        .lines()
        .map(|l| l.expect("a line"))
        .filter(|l| !l.trim().is_empty())
        .collect()
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "produce" => {
            let (brokers, topic, parts, file) = (arg(1), arg(2), arg(3), arg(4));
            let parts: i32 = parts.parse().expect("PARTITIONS");
            let records = lines(file);
            let p = producer(brokers);
            let start = Instant::now();
            let mut bytes = 0usize;
            for (i, l) in records.iter().enumerate() {
                bytes += l.len() + 1;
                send(&p, topic, (i % parts as usize) as i32, l);
            }
            p.flush(Duration::from_secs(300)).expect("flushed");
            println!(
                "{} {} {:.3}",
                records.len(),
                bytes,
                start.elapsed().as_secs_f64()
            );
        }
        "live" => {
            let (brokers, topic) = (arg(1), arg(2));
            let parts: i32 = arg(3).parse().expect("PARTITIONS");
            let rate: f64 = arg(4).parse().expect("RATE");
            let seconds: f64 = arg(5).parse().expect("SECONDS");
            let records = lines(arg(6));
            let p = producer(brokers);
            let start = Instant::now();
            let mut sent = 0usize;
            while start.elapsed().as_secs_f64() < seconds {
                let due = (start.elapsed().as_secs_f64() * rate) as usize;
                while sent < due {
                    let mut v: serde_json::Value =
                        serde_json::from_str(&records[sent % records.len()]).expect("JSON");
                    v["time"] = format_timestamp(now_ms()).into();
                    send(&p, topic, (sent % parts as usize) as i32, &v.to_string());
                    sent += 1;
                }
                p.poll(Duration::from_millis(1));
            }
            p.flush(Duration::from_secs(60)).expect("flushed");
            println!("{sent}");
        }
        "latency" => {
            let (brokers, topic) = (arg(1), arg(2));
            let c: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", brokers)
                .set("group.id", "watch-bench-latency")
                .set("enable.auto.commit", "false")
                .create()
                .expect("a consumer");
            let meta = c
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .expect("metadata");
            let mut list = TopicPartitionList::new();
            for t in meta.topics() {
                for p in t.partitions() {
                    list.add_partition_offset(topic, p.id(), Offset::Beginning)
                        .expect("a partition");
                }
            }
            c.assign(&list).expect("assigned");
            let (mut single, mut correlation) = (Vec::new(), Vec::new());
            let mut last = Instant::now();
            while last.elapsed() < Duration::from_secs(10) {
                let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
                    continue;
                };
                last = Instant::now();
                let Some(emitted) = m.timestamp().to_millis() else {
                    continue;
                };
                let Ok(v) = serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or(b""))
                else {
                    continue;
                };
                let at = |s: &serde_json::Value| s.as_str().and_then(parse_timestamp);
                if let Some(t) = at(&v["original_time"]) {
                    single.push(emitted - t);
                } else if v["rule"]["type"] == "sigma" {
                    if let Some(t) = at(&v["evidence"]["last_seen"]) {
                        correlation.push(emitted - t);
                    }
                }
            }
            for (kind, mut ms) in [("per-event", single), ("correlation", correlation)] {
                ms.sort_unstable();
                println!(
                    "{kind} {} {} {}",
                    ms.len(),
                    percentile(&ms, 0.5),
                    percentile(&ms, 0.99)
                );
            }
        }
        _ => {
            eprintln!("usage: watch_bench produce|live|latency ... (see the source's header)");
            std::process::exit(2);
        }
    }
}
