//! Alerts to a Kafka topic (or an Azure Event Hub through its Kafka endpoint), with
//! librdkafka's producer: one message per alert, its value the alert's JSON document (as the
//! NDJSON output writes it), its key the alert's entity principal (else its rule id), so that
//! one principal's alerts keep their order in one partition. The producer is idempotent
//! (`enable.idempotence`, `acks=all`): retries do not duplicate. [`AlertSink::flush`] waits
//! until every alert given so far is acknowledged or has failed, so a live driver checkpoints
//! only what the brokers hold; a failure is the sink's error, with how many alerts were not
//! delivered.
//!
//! Target: `kafka://HOST:PORT[,HOST:PORT...]/TOPIC`. Other librdkafka properties
//! (`security.protocol`, `sasl.mechanism`, `sasl.username`, ...) come from the output's
//! `properties` table; a value `env:NAME` is read from the environment (and `sasl.password`
//! must be given so: no secret in the configuration file).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use modelward_engine::{AlertSink, SinkError};
use modelward_rule::Alert;
use rdkafka::config::ClientConfig;
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::secret::Secret;

/// How long a flush waits for the brokers' acknowledgements.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(60);

/// The sink's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `bootstrap.servers`.
    pub brokers: String,
    pub topic: String,
    /// Other librdkafka properties; secrets already read.
    pub properties: Vec<(String, Property)>,
}

/// A property's value: plain, or a secret read from the environment (never shown).
#[derive(Debug, Clone)]
pub enum Property {
    Plain(String),
    Secret(Secret),
}

/// A Kafka output's failure.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("kafka: creating the producer: {0}")]
    Create(rdkafka::error::KafkaError),
    #[error("kafka: sending an alert to {topic}: {source}")]
    Send {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    #[error("kafka: {failed} alert(s) not delivered to {topic} (first: {first})")]
    Undelivered {
        topic: String,
        failed: u64,
        first: String,
    },
    #[error("kafka: alerts for {topic} not acknowledged within {}s: {source}", FLUSH_TIMEOUT.as_secs())]
    Flush {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
}

/// Counts delivery failures as the producer reports them.
#[derive(Default)]
struct Reports {
    failed: AtomicU64,
    first: Mutex<Option<String>>,
}

struct Context(Arc<Reports>);

impl ClientContext for Context {}

impl ProducerContext for Context {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.0.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = self.0.first.lock() {
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
}

/// The sink.
pub struct Kafka {
    producer: BaseProducer<Context>,
    topic: String,
    reports: Arc<Reports>,
}

impl Kafka {
    pub fn new(settings: Settings) -> Result<Kafka, KafkaError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &settings.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "20");
        for (k, v) in &settings.properties {
            match v {
                Property::Plain(v) => config.set(k, v),
                Property::Secret(s) => config.set(k, s.expose()),
            };
        }
        let reports = Arc::new(Reports::default());
        let producer = config
            .create_with_context(Context(reports.clone()))
            .map_err(KafkaError::Create)?;
        Ok(Kafka {
            producer,
            topic: settings.topic,
            reports,
        })
    }

    fn err(e: KafkaError) -> SinkError {
        SinkError::Output(Box::new(e))
    }
}

impl AlertSink for Kafka {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let value = serde_json::to_vec(&alert.to_json())?;
        let key = match alert.entity.get("principal") {
            Some(serde_json::Value::String(p)) => p.as_str(),
            _ => alert.rule.id.as_str(),
        };
        loop {
            match self.producer.send(
                BaseRecord::<str, [u8]>::to(&self.topic)
                    .payload(&value[..])
                    .key(key),
            ) {
                Ok(()) => break,
                // The producer's queue is full: let it deliver, then try again.
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    _,
                )) => {
                    self.producer.poll(Duration::from_millis(100));
                }
                Err((source, _)) => {
                    return Err(Self::err(KafkaError::Send {
                        topic: self.topic.clone(),
                        source,
                    }))
                }
            }
        }
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.producer.flush(FLUSH_TIMEOUT).map_err(|source| {
            Self::err(KafkaError::Flush {
                topic: self.topic.clone(),
                source,
            })
        })?;
        let failed = self.reports.failed.swap(0, Ordering::Relaxed);
        if failed > 0 {
            let first = self
                .reports
                .first
                .lock()
                .ok()
                .and_then(|mut f| f.take())
                .unwrap_or_default();
            return Err(Self::err(KafkaError::Undelivered {
                topic: self.topic.clone(),
                failed,
                first,
            }));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}
