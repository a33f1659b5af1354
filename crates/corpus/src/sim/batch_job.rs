//! Benign: a heavy legitimate batch job. One key, one host, one SDK, summarising support
//! tickets with one template ("Summarise support ticket #{n}: {ticket text}") and constant
//! parameters (`gpt-4o-mini`, temperature 0.2, `max_tokens` 300, the same system prompt),
//! 2 000 calls an hour at scale 1 from the first minute of the span, during the first six
//! hours of every day. The ticket texts differ (product, problem, details, request), and the
//! ticket numbers count up. Its key has a high rate limit (10 000 requests a minute).

use serde_json::json;

use super::words::ticket;
use super::{Call, Generator, Plan, Principal, Slot, Window, HOUR};
use crate::rng::Rng;

const CALLS_PER_HOUR: f64 = 2_000.0;
const HOURS_PER_DAY: i64 = 6;
const SYSTEM: &str = "You summarise customer support tickets for the weekly quality review. \
Reply with one line: Summary, customer sentiment, requested action, priority.";

pub(crate) struct BatchJob;

impl Generator for BatchJob {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        plan.principals.push(Principal::new(
            "svc-ticket-summariser@example.com".to_owned(),
            super::ipv4("198.51.100", 7),
            "OpenAI/Python 1.51.0",
            "api_key",
            rng,
        ));
        let first_ticket = rng.between(180_000, 240_000);
        let mut n = 0u64;
        for day in window.days() {
            let from = day.max(window.start);
            let to = (day + HOURS_PER_DAY * HOUR).min(window.end);
            if from >= to {
                continue;
            }
            let hours = (to - from) as f64 / HOUR as f64;
            let count = window.count(CALLS_PER_HOUR * hours);
            let gap = (to - from) / count as i64;
            for k in 0..count as i64 {
                let t = from + k * gap + rng.below(gap.max(1) as u64) as i64;
                plan.slots.push(Slot::new(t, 0, first_ticket + n, 0));
                n += 1;
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, rng: &mut Rng) -> Call {
        let (text, summary) = ticket(rng);
        Call::single(
            "gpt-4o-mini",
            format!("Summarise support ticket #{}: {text}", slot.a),
            summary,
        )
        .set(
            "messages",
            json!([
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": format!("Summarise support ticket #{}: {text}", slot.a)},
            ]),
        )
        .set("max_tokens", json!(300))
        .set("temperature", json!(0.2))
    }

    fn requests_per_minute(&self) -> usize {
        10_000
    }
}
