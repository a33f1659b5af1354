//! The keyed repartition of `watch`'s scale-out (docs/watch.md, "Scale-out").
//!
//! Stage one, on every instance, reads the sources, raises the per-event alerts and
//! publishes each record that feeds a window to the partitions of an internal topic its
//! windows' keys fall in ([`Keyed::publish`]), with its place (file, line, byte offset) in
//! headers so that alert ids and evidence are those of the original record. Stage two
//! consumes the internal topic in a consumer group of its own: the broker assigns each
//! partition to one instance, and with it the state of every window keyed to it. A
//! partition's state is checkpointed to a state topic (same partition number; the last
//! message is the state) before the partition's offsets are committed, and read back
//! ([`Keyed::load_state`]) by whichever instance the partition goes to next.

use std::io::Read;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::kafka::{err, KafkaError};

/// The internal topics and their group.
#[derive(Debug, Clone, Default)]
pub struct ScaleOptions {
    /// `bootstrap.servers`.
    pub brokers: String,
    /// Other librdkafka properties (security, SASL), for every client.
    pub properties: Vec<(String, String)>,
    /// The topic records are repartitioned through.
    pub topic: String,
    /// Its partitions (the state topic has as many): fixed for the life of the deployment,
    /// since a key's partition is its hash modulo this.
    pub partitions: u32,
    /// The topic partitions' states are kept in.
    pub state_topic: String,
    /// Stage two's consumer group.
    pub group: String,
}

/// A record read back from the internal topic.
#[derive(Debug, Clone)]
pub struct Routed {
    /// The internal partition.
    pub partition: u32,
    /// Its offset there.
    pub offset: i64,
    /// Where stage one read it: file (or `kafka:topic/partition`), line and byte offset.
    pub file: Arc<str>,
    pub line: u64,
    pub byte_offset: u64,
    pub payload: Vec<u8>,
}

/// Headers naming a record's place.
const FILE: &str = "modelward-file";
const LINE: &str = "modelward-line";
const OFFSET: &str = "modelward-offset";

/// Largest state message (a partition's windows, gzip'ed).
const STATE_MAX_BYTES: usize = 256 << 20;

fn config(options: &ScaleOptions) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", &options.brokers);
    for (k, v) in &options.properties {
        config.set(k, v);
    }
    config
}

/// Both stages' clients of the internal topics.
pub struct Keyed {
    options: ScaleOptions,
    producer: BaseProducer,
    consumer: BaseConsumer,
    /// Reads a state partition's last message.
    reader: BaseConsumer,
    assigned: Vec<u32>,
    last_message: std::time::Instant,
    /// For `/metrics`.
    counts: Counts,
}

/// What the internal topics carried, since the start (for `/metrics`).
#[derive(Debug, Default)]
struct Counts {
    published: std::sync::atomic::AtomicU64,
    read: std::sync::atomic::AtomicU64,
    state_bytes: std::sync::atomic::AtomicU64,
}

/// The scale-out's figures: [`Keyed::figures`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyedFigures {
    /// Internal partitions this instance owns now.
    pub partitions: u64,
    /// Records published to the internal topic by this instance's stage one.
    pub published: u64,
    /// Records read from the internal topic by this instance's stage two.
    pub read: u64,
    /// Messages in the owned partitions not read yet.
    pub lag: u64,
    /// State written to the state topic (gzip'ed bytes), in all.
    pub state_bytes: u64,
}

impl Keyed {
    /// Creates the topics when they are not there (with `partitions`), checks their partition
    /// count, and joins stage two's group.
    pub fn new(options: &ScaleOptions) -> Result<Keyed, KafkaError> {
        let mut producer_config = config(options);
        producer_config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set(
                "message.max.bytes",
                (STATE_MAX_BYTES + (1 << 20)).to_string(),
            );
        let producer: BaseProducer = producer_config
            .create()
            .map_err(err("creating the repartition producer"))?;
        create_topics(options)?;
        let mut consumer_config = config(options);
        consumer_config
            .set("group.id", &options.group)
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", "earliest")
            .set("enable.partition.eof", "false");
        let consumer: BaseConsumer = consumer_config
            .create()
            .map_err(err("creating the repartition consumer"))?;
        consumer
            .subscribe(&[&options.topic])
            .map_err(err("subscribing to the repartition topic"))?;
        let mut reader_config = config(options);
        reader_config
            .set("group.id", format!("{}-state-reader", options.group))
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .set("fetch.max.bytes", STATE_MAX_BYTES.to_string())
            .set("max.partition.fetch.bytes", STATE_MAX_BYTES.to_string())
            .set(
                "receive.message.max.bytes",
                (STATE_MAX_BYTES + (1 << 20)).to_string(),
            );
        let reader: BaseConsumer = reader_config
            .create()
            .map_err(err("creating the state reader"))?;
        Ok(Keyed {
            options: options.clone(),
            producer,
            consumer,
            reader,
            assigned: Vec::new(),
            last_message: std::time::Instant::now(),
            counts: Counts::default(),
        })
    }

    /// The number of partitions keys are spread over.
    pub fn partitions(&self) -> u32 {
        self.options.partitions
    }

    /// Sends a record to an internal partition (queued; [`Keyed::flush`] waits for it).
    pub fn publish(
        &self,
        partition: u32,
        (file, line, byte_offset): (&str, u64, u64),
        payload: &[u8],
    ) -> Result<(), KafkaError> {
        let (line, byte_offset) = (line.to_string(), byte_offset.to_string());
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: FILE,
                value: Some(file),
            })
            .insert(Header {
                key: LINE,
                value: Some(&line),
            })
            .insert(Header {
                key: OFFSET,
                value: Some(&byte_offset),
            });
        self.send(&self.options.topic, partition, payload, headers)?;
        self.counts.published.fetch_add(1, Relaxed);
        Ok(())
    }

    /// State written to the state topic so far (gzip'ed bytes).
    pub fn state_bytes(&self) -> u64 {
        self.counts.state_bytes.load(Relaxed)
    }

    /// The figures for `/metrics`; `next` gives an owned partition's next offset to read
    /// (its lag is the broker's high watermark less that).
    pub fn figures(&self, next: impl Fn(u32) -> i64) -> KeyedFigures {
        let mut lag = 0u64;
        for &p in &self.assigned {
            if let Ok((_, high)) = self.consumer.fetch_watermarks(
                &self.options.topic,
                p as i32,
                Duration::from_millis(200),
            ) {
                lag += (high - next(p)).max(0) as u64;
            }
        }
        KeyedFigures {
            partitions: self.assigned.len() as u64,
            published: self.counts.published.load(Relaxed),
            read: self.counts.read.load(Relaxed),
            lag,
            state_bytes: self.state_bytes(),
        }
    }

    fn send(
        &self,
        topic: &str,
        partition: u32,
        payload: &[u8],
        headers: OwnedHeaders,
    ) -> Result<(), KafkaError> {
        let mut record = BaseRecord::<(), [u8]>::to(topic)
            .payload(payload)
            .partition(partition as i32)
            .headers(headers);
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    back,
                )) => {
                    record = back;
                    self.producer.poll(Duration::from_millis(20));
                }
                Err((e, _)) => {
                    return Err(KafkaError {
                        doing: "publishing to the repartition topic",
                        source: e,
                    })
                }
            }
        }
    }

    /// Waits until everything published is acknowledged by the broker.
    pub fn flush(&self) -> Result<(), KafkaError> {
        self.producer
            .flush(Duration::from_secs(60))
            .map_err(err("flushing the repartition producer"))
    }

    /// Records of the partitions assigned to this instance (at most `budget` bytes).
    pub fn poll(&mut self, budget: usize, errors: &mut Vec<String>) -> Vec<Routed> {
        self.producer.poll(Duration::ZERO);
        let assigned = self.assignment();
        if assigned != self.assigned {
            self.assigned = assigned;
            self.last_message = std::time::Instant::now();
        }
        let mut out = Vec::new();
        let mut taken = 0;
        while taken < budget {
            let Some(message) = self.consumer.poll(Duration::ZERO) else {
                break;
            };
            self.last_message = std::time::Instant::now();
            let m = match message {
                Ok(m) => m,
                Err(e) => {
                    errors.push(format!("kafka (repartition): {e}"));
                    continue;
                }
            };
            let Some(payload) = m.payload() else { continue };
            let header = |name: &str| -> Option<&str> {
                let headers = m.headers()?;
                headers
                    .iter()
                    .find(|h| h.key == name)
                    .and_then(|h| std::str::from_utf8(h.value?).ok())
            };
            let (Some(file), Some(line), Some(byte_offset)) = (
                header(FILE),
                header(LINE).and_then(|l| l.parse().ok()),
                header(OFFSET).and_then(|o| o.parse().ok()),
            ) else {
                errors.push(format!(
                    "kafka (repartition): {}/{} offset {}: a message without its place headers, skipped",
                    m.topic(),
                    m.partition(),
                    m.offset()
                ));
                continue;
            };
            taken += payload.len();
            self.counts.read.fetch_add(1, Relaxed);
            out.push(Routed {
                partition: m.partition() as u32,
                offset: m.offset(),
                file: Arc::from(file),
                line,
                byte_offset,
                payload: payload.to_vec(),
            });
        }
        out
    }

    /// Stage two's consumer group.
    pub fn group(&self) -> &str {
        &self.options.group
    }

    /// The internal partitions assigned to this instance as of the last poll.
    pub fn assigned(&self) -> &[u32] {
        &self.assigned
    }

    fn assignment(&self) -> Vec<u32> {
        let Ok(list) = self.consumer.assignment() else {
            return Vec::new();
        };
        let mut out: Vec<u32> = list
            .elements()
            .iter()
            .filter(|e| e.topic() == self.options.topic)
            .map(|e| e.partition() as u32)
            .collect();
        out.sort_unstable();
        out
    }

    /// Whether stage two has read what its partitions hold: some are assigned and nothing
    /// came for `quiet`.
    pub fn caught_up(&self, quiet: Duration) -> bool {
        !self.assigned.is_empty() && self.last_message.elapsed() >= quiet
    }

    /// Writes a partition's state, gzip'ed (the last message of its state partition is its
    /// state).
    pub fn save_state(&self, partition: u32, state: &[u8]) -> Result<(), KafkaError> {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let packed = gz.write_all(state).and_then(|_| gz.finish());
        let packed = packed.map_err(|_| KafkaError {
            doing: "compressing a partition's state",
            source: rdkafka::error::KafkaError::Canceled,
        })?;
        if packed.len() > STATE_MAX_BYTES {
            return Err(KafkaError {
                doing: "writing a partition's state (larger than 256 MiB gzip'ed)",
                source: rdkafka::error::KafkaError::MessageProduction(
                    rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge,
                ),
            });
        }
        self.send(
            &self.options.state_topic,
            partition,
            &packed,
            OwnedHeaders::new(),
        )?;
        (self.counts.state_bytes).fetch_add(packed.len() as u64, Relaxed);
        Ok(())
    }

    /// The state last written for a partition (`None`: none yet).
    pub fn load_state(&self, partition: u32) -> Result<Option<Vec<u8>>, KafkaError> {
        let topic = &self.options.state_topic;
        let (low, high) = self
            .reader
            .fetch_watermarks(topic, partition as i32, Duration::from_secs(10))
            .map_err(err("reading the state topic's offsets"))?;
        if high <= low {
            return Ok(None);
        }
        let mut list = TopicPartitionList::new();
        list.add_partition_offset(topic, partition as i32, Offset::Offset(high - 1))
            .map_err(err("positioning the state reader"))?;
        self.reader
            .assign(&list)
            .map_err(err("positioning the state reader"))?;
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match self.reader.poll(Duration::from_millis(200)) {
                Some(Ok(m)) if m.offset() == high - 1 => {
                    let mut state = Vec::new();
                    let packed = m.payload().unwrap_or_default();
                    return match std::io::Read::read_to_end(
                        &mut flate2::read::GzDecoder::new(packed).take(STATE_MAX_BYTES as u64 * 64),
                        &mut state,
                    ) {
                        Ok(_) => Ok(Some(state)),
                        Err(_) => Err(KafkaError {
                            doing: "reading a partition's state (not gzip)",
                            source: rdkafka::error::KafkaError::NoMessageReceived,
                        }),
                    };
                }
                Some(Ok(_)) | None => {}
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => {}
                Some(Err(e)) => return Err(err("reading a partition's state")(e)),
            }
        }
        Err(KafkaError {
            doing: "reading a partition's state (timed out)",
            source: rdkafka::error::KafkaError::NoMessageReceived,
        })
    }

    /// Commits stage two's offsets (after the partitions' states holding them are written).
    pub fn commit(&self, offsets: &[(u32, i64)]) -> Result<(), KafkaError> {
        if offsets.is_empty() {
            return Ok(());
        }
        let mut list = TopicPartitionList::new();
        for (partition, next) in offsets {
            list.add_partition_offset(
                &self.options.topic,
                *partition as i32,
                Offset::Offset(*next),
            )
            .map_err(err("listing the offsets to commit"))?;
        }
        self.consumer
            .commit(&list, CommitMode::Sync)
            .map_err(err("committing the repartition offsets"))
    }
}

/// Creates the repartition and state topics unless they are there, and checks that both
/// have `partitions` partitions (a key's partition depends on it).
fn create_topics(options: &ScaleOptions) -> Result<(), KafkaError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> = config(options)
        .create()
        .map_err(err("creating the admin client"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|_| KafkaError {
            doing: "starting a runtime for the admin client",
            source: rdkafka::error::KafkaError::Canceled,
        })?;
    let topics = [&options.topic, &options.state_topic];
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, options.partitions as i32, TopicReplication::Fixed(1)))
        .collect();
    let created = runtime
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .map_err(err("creating the repartition topics"))?;
    for r in created {
        match r {
            Ok(_) | Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(KafkaError {
                    doing: "creating the repartition topics",
                    source: rdkafka::error::KafkaError::AdminOp(code),
                })
            }
        }
    }
    let probe: BaseConsumer = config(options)
        .create()
        .map_err(err("creating a metadata client"))?;
    for topic in topics {
        let metadata = probe
            .fetch_metadata(Some(topic), Duration::from_secs(10))
            .map_err(err("reading the repartition topics' metadata"))?;
        let found = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic.as_str())
            .map_or(0, |t| t.partitions().len());
        if found != options.partitions as usize {
            return Err(KafkaError {
                doing: if found == 0 {
                    "the repartition topic is not there"
                } else {
                    "the repartition topic's partition count differs from [watch.scale] partitions"
                },
                source: rdkafka::error::KafkaError::AdminOp(
                    rdkafka::types::RDKafkaErrorCode::InvalidPartitions,
                ),
            });
        }
    }
    Ok(())
}
