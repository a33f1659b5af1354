//! Kafka topics (and Azure Event Hubs through its Kafka endpoint) as a consumer group, with
//! librdkafka.
//!
//! Each message is a record: its value the raw bytes (a JSON document, an Azure
//! `{"records":[...]}` batch, ...), its place `kafka:<topic>/<partition>` at line
//! `offset + 1` and byte offset `offset`. Offsets are never committed automatically: after the
//! alerts a pass produced went out and its checkpoint (the engine's state with the next offset
//! of every partition read) is in the database, the same offsets are committed to the group,
//! and a restart resumes from the group's offsets with the checkpoint's state. A crash between
//! the checkpoint and the commit makes the group hand that pass's messages out again: those
//! the checkpoint's state already holds are skipped (counted), so no window counts a message
//! twice. Alerts written after the last checkpoint come again after a crash, with the same
//! ids. The broker assigns partitions, rebalances and keeps the group's offsets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use modelward_event::input::{Batch, RecordSpan};
use modelward_store::watch::Position;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

/// A consumer's settings.
#[derive(Debug, Clone, Default)]
pub struct KafkaOptions {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub topics: Vec<String>,
    /// `group.id`.
    pub group: String,
    /// Any other librdkafka property (`security.protocol`, `sasl.mechanism`,
    /// `sasl.username`, `sasl.password`, ...).
    pub properties: Vec<(String, String)>,
    /// Bytes of messages taken at most per poll.
    pub budget: usize,
}

/// A Kafka error, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("kafka: {doing}: {source}")]
pub struct KafkaError {
    pub doing: &'static str,
    #[source]
    pub source: rdkafka::error::KafkaError,
}

/// Wraps a librdkafka error with what was being done.
pub(crate) fn err(doing: &'static str) -> impl FnOnce(rdkafka::error::KafkaError) -> KafkaError {
    move |source| KafkaError { doing, source }
}

/// The checkpoint's key for a partition: `dev` a hash of the topic (its name is the path).
fn key(topic: &str, partition: i32) -> (u64, u64) {
    (
        modelward_event::hash::fnv1a(topic.as_bytes()) | (1 << 63),
        partition as u64,
    )
}

/// The path a partition's records are named by.
pub fn place(topic: &str, partition: i32) -> String {
    format!("kafka:{topic}/{partition}")
}

/// A consumer in a group, and the next offset of each partition it has read.
pub struct KafkaSource {
    consumer: BaseConsumer,
    /// (topic, partition) → next offset to read (from the checkpoint, then as read).
    next: HashMap<(String, i32), i64>,
    budget: usize,
    group: String,
    topics: Vec<String>,
    /// When a message last came, or the group last changed this consumer's partitions.
    last_message: std::time::Instant,
    /// The partitions assigned when last polled.
    assigned: Vec<Arc<str>>,
    /// Messages skipped because the checkpoint's state already holds them.
    skipped: u64,
}

/// How long nothing must come for the partitions to count as read to their end.
pub const QUIET: Duration = Duration::from_secs(2);

impl KafkaSource {
    /// Joins the group and subscribes; `checkpoint` holds the partitions' positions a
    /// previous run kept (paths `kafka:topic/partition`; others are ignored), kept in the
    /// next checkpoint until the partition is read again.
    pub fn new(options: &KafkaOptions, checkpoint: &[Position]) -> Result<KafkaSource, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &options.brokers)
            .set("group.id", &options.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        for (k, v) in &options.properties {
            config.set(k, v);
        }
        let consumer: BaseConsumer = config.create().map_err(err("creating the consumer"))?;
        let topics: Vec<&str> = options.topics.iter().map(String::as_str).collect();
        consumer
            .subscribe(&topics)
            .map_err(err("subscribing to the topics"))?;
        let mut next = HashMap::new();
        for p in checkpoint {
            let Some(rest) = p.path.strip_prefix("kafka:") else {
                continue;
            };
            let Some((topic, partition)) = rest.rsplit_once('/') else {
                continue;
            };
            if let Ok(partition) = partition.parse::<i32>() {
                next.insert((topic.to_string(), partition), p.offset as i64);
            }
        }
        Ok(KafkaSource {
            consumer,
            next,
            budget: options.budget.max(1),
            group: options.group.clone(),
            topics: options.topics.clone(),
            last_message: std::time::Instant::now(),
            assigned: Vec::new(),
            skipped: 0,
        })
    }

    /// The messages that have arrived (waiting at most `wait` for the first), a batch per
    /// partition, in offset order; messages the checkpoint already holds are skipped.
    pub fn poll(&mut self, wait: Duration, errors: &mut Vec<String>) -> Vec<Batch> {
        let assigned = self.assignment();
        if assigned != self.assigned {
            // A rebalance: the new partitions have not been fetched yet, however long the
            // group took to assign them.
            self.assigned = assigned;
            self.last_message = std::time::Instant::now();
        }
        let mut batches: HashMap<(String, i32), Batch> = HashMap::new();
        let mut taken = 0usize;
        let mut timeout = wait;
        while taken < self.budget {
            let Some(message) = self.consumer.poll(timeout) else {
                break;
            };
            timeout = Duration::ZERO;
            self.last_message = std::time::Instant::now();
            let m = match message {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("kafka: {e}"));
                    continue;
                }
            };
            let (topic, partition, offset) = (m.topic().to_string(), m.partition(), m.offset());
            let at = (topic.clone(), partition);
            // Read again after a crash between a checkpoint and its commit: the state has it.
            if self.next.get(&at).is_some_and(|&next| offset < next) {
                self.skipped += 1;
                continue;
            }
            self.next.insert(at.clone(), offset + 1);
            let Some(payload) = m.payload() else { continue };
            taken += payload.len();
            let batch = batches.entry(at).or_insert_with(|| Batch {
                file: Arc::from(place(&topic, partition)),
                data: Vec::new(),
                records: Vec::new(),
            });
            let start = batch.data.len();
            batch.data.extend_from_slice(payload);
            batch.records.push(RecordSpan {
                start,
                end: batch.data.len(),
                line: offset as u64 + 1,
                offset: offset as u64,
            });
            batch.data.push(b'\n');
        }
        let mut out: Vec<Batch> = batches.into_values().collect();
        out.sort_by(|a, b| a.file.cmp(&b.file));
        out
    }

    /// The next offset of every partition read, for the checkpoint.
    pub fn positions(&self) -> Vec<Position> {
        let mut out: Vec<Position> = self
            .next
            .iter()
            .map(|((topic, partition), &next)| {
                let (dev, ino) = key(topic, *partition);
                Position {
                    dev,
                    ino,
                    path: place(topic, *partition),
                    offset: next.max(0) as u64,
                    line: next.max(0) as u64 + 1,
                }
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The partitions the group assigned this consumer as of the last [`poll`](Self::poll),
    /// named as their batches are.
    pub fn assigned(&self) -> &[Arc<str>] {
        &self.assigned
    }

    /// The partitions the group assigns this consumer now, sorted.
    fn assignment(&self) -> Vec<Arc<str>> {
        let Ok(assignment) = self.consumer.assignment() else {
            return Vec::new();
        };
        let mut out: Vec<Arc<str>> = assignment
            .elements()
            .iter()
            .map(|e| Arc::from(place(e.topic(), e.partition())))
            .collect();
        out.sort();
        out
    }

    /// Every partition of the subscribed topics (as their batches are named), whoever reads
    /// them: the sources a keyed partition's windows wait for in a scale-out.
    pub fn all_partitions(&self) -> Result<Vec<Arc<str>>, KafkaError> {
        let mut out = Vec::new();
        for topic in &self.topics {
            let metadata = self
                .consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .map_err(err("reading the topics' metadata"))?;
            for t in metadata
                .topics()
                .iter()
                .filter(|t| t.name() == topic.as_str())
            {
                out.extend(
                    t.partitions()
                        .iter()
                        .map(|p| Arc::from(place(topic, p.id()))),
                );
            }
        }
        out.sort();
        Ok(out)
    }

    /// The consumer group's id.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Messages skipped because the checkpoint's state already held them (read again after
    /// a crash between a checkpoint and its commit to the group).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    /// Commits the offsets read to the group (after the checkpoint holds them).
    pub fn commit(&self) -> Result<(), KafkaError> {
        if self.next.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for ((topic, partition), &next) in &self.next {
            list.add_partition_offset(topic, *partition, Offset::Offset(next))
                .map_err(err("listing the offsets to commit"))?;
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(err("committing offsets"))
    }

    /// Whether the partitions the group assigned this consumer have been read to their end:
    /// some are assigned, and nothing has come for [`QUIET`] since a message or the last
    /// change of assignment (a restarted member may wait for the group to drop its dead
    /// predecessor longer than that). Quiet rather than compared with the brokers' high
    /// watermarks: Kafka-compatible brokers do not all report those as Kafka does, nor
    /// offsets dense.
    pub fn caught_up(&self) -> bool {
        !self.assigned.is_empty() && self.last_message.elapsed() >= QUIET
    }

    /// Messages in the assigned partitions not read yet (the consumer lag), where the broker
    /// says.
    pub fn lag(&self) -> u64 {
        let Ok(assignment) = self.consumer.assignment() else {
            return 0;
        };
        let mut behind = 0u64;
        for e in assignment.elements() {
            let Ok((_, high)) = self.consumer.fetch_watermarks(
                e.topic(),
                e.partition(),
                Duration::from_millis(200),
            ) else {
                continue;
            };
            let next = self
                .next
                .get(&(e.topic().to_string(), e.partition()))
                .copied()
                .unwrap_or(0);
            behind += (high - next).max(0) as u64;
        }
        behind
    }
}
