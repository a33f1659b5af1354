//! Alerts to a webhook: each alert POSTed as it is raised, through the webhook executor of
//! `modelward-respond` ([`WebhookExecutor::post`]) — the same HTTP client, HMAC-SHA256
//! signature (`X-Modelward-Timestamp`, `X-Modelward-Signature: sha256=…`), `Idempotency-Key`
//! (here the alert's id, stable across runs, so a receiver drops a replay), retries with
//! backoff and `Retry-After`, and scrubbed errors. The body is the alert's JSON document, as
//! the NDJSON output writes it.
//!
//! Bounds, as for actions ([`modelward_respond::action::run`]): between two flushes (a live
//! `watch` flushes before every checkpoint) the sink spends at most `deadline` on retries (no
//! wait starts that would end past it), and after `failures_in_a_row` alerts failed in a row
//! the circuit opens: the interval's other alerts are not attempted. [`AlertSink::flush`]
//! then fails, saying how many alerts were not delivered and the first reason; the driver
//! reports the output as failed and gives it no more alerts, while the other outputs go on.
//!
//! Target: `webhook+https://HOST[:PORT]/PATH` (or `http://`); the secret comes from the
//! `[[outputs]]` section's `secret = "env:NAME"`, never from the target.

use std::time::{Duration, Instant};

use modelward_engine::{AlertSink, SinkError};
use modelward_respond::action::run::{may_attempt, Budget};
use modelward_respond::action::webhook::{WebhookConfig, WebhookConfigError, WebhookExecutor};
use modelward_respond::action::Executor;
use modelward_rule::Alert;

/// How long, between two flushes, retries may take, unless `deadline_ms` says.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(60);

/// The sink's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The executor's: name, URL, secret, timeout, retries, backoff.
    pub webhook: WebhookConfig,
    /// Per interval between flushes: the total for retries, and failures in a row before the
    /// circuit opens.
    pub budget: Budget,
}

/// A webhook output's failure.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("webhook: {0}")]
    Config(#[from] WebhookConfigError),
    #[error("webhook {name}: {failed} alert(s) not delivered (first: {first})")]
    Undelivered {
        name: String,
        failed: u64,
        first: String,
    },
}

/// The sink.
pub struct Webhook {
    executor: WebhookExecutor,
    budget: Budget,
    deadline: Instant,
    failures_in_a_row: u32,
    failed: u64,
    first: Option<String>,
}

impl Webhook {
    pub fn new(settings: Settings) -> Result<Webhook, WebhookError> {
        let executor = WebhookExecutor::new(settings.webhook)?;
        Ok(Webhook {
            executor,
            budget: settings.budget,
            deadline: Instant::now() + settings.budget.total,
            failures_in_a_row: 0,
            failed: 0,
            first: None,
        })
    }
}

impl AlertSink for Webhook {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        let name = self.executor.name();
        let result = may_attempt(self.deadline, self.budget, &name, self.failures_in_a_row)
            .and_then(|()| {
                let body = serde_json::to_vec(&alert.to_json()).map_err(|e| e.to_string())?;
                self.executor.set_deadline(self.deadline);
                self.executor.post(&alert.id, &body)
            });
        match result {
            Ok(_) => self.failures_in_a_row = 0,
            Err(why) => {
                self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
                self.failed += 1;
                self.first.get_or_insert(why);
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        let failed = std::mem::take(&mut self.failed);
        let first = self.first.take();
        self.failures_in_a_row = 0;
        self.deadline = Instant::now() + self.budget.total;
        match first {
            Some(first) if failed > 0 => {
                Err(SinkError::Output(Box::new(WebhookError::Undelivered {
                    name: self.executor.config().name.clone(),
                    failed,
                    first,
                })))
            }
            _ => Ok(()),
        }
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.flush()
    }
}
