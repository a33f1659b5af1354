//! Attack: logit extraction by bisection without logprobs (Carlini et al. 2024, the
//! logprob-free variant): one fixed prompt, `max_tokens` 1, temperature 0, and a
//! `logit_bias` on one token only, whose value is bisected between 0 and 128 (64, then 32
//! or 96, then ±16, ... down to steps of 1: seven calls) until the smallest bias that makes
//! the token the answer is known; then the next token. Whether the answer is the biased
//! token tells the attacker which half to keep.
//!
//! * fast: one key, 60 tokens (420 calls) 1 to 3 seconds apart;
//! * slow: one key, a call every 1 to 6 minutes over the whole span.

use serde_json::json;

use super::record::token_text;
use super::{
    attack_times, attacker, Call, Generator, Plan, Principal, Slot, Speed, Window, MINUTE,
};
use crate::rng::Rng;

const STEPS: u32 = 7;
const PROMPT: &str = "Continue the text with one word: The committee announced that the";

pub(crate) struct LogitBisection {
    speed: Speed,
}

impl LogitBisection {
    pub(crate) fn new(speed: Speed) -> Self {
        LogitBisection { speed }
    }
}

/// The bias at which token `id` becomes the answer (1 to 127), a property of the model.
pub(crate) fn threshold(id: u64) -> i64 {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 57) as i64 + 1
}

impl Generator for LogitBisection {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        plan.principals.push(attacker(
            rng,
            self.speed,
            (
                "m.k@example.net",
                "2001:db8:bad:1::17",
                "OpenAI/Python 1.12.0",
            ),
            ("ops-bot@example.net", "198.51.100.222", "OpenAI/JS 4.28.0"),
        ));
        let times = attack_times(
            window,
            rng,
            self.speed,
            5,
            window.count(60.0) * u64::from(STEPS),
            (1_000, 3_000),
            (MINUTE as u64, 6 * MINUTE as u64),
        );
        let (mut token, mut low, mut high) = (rng.between(200, 90_000), 0i64, 128i64);
        for (k, t) in times.into_iter().enumerate() {
            if k > 0 && k % STEPS as usize == 0 {
                token = rng.between(200, 90_000);
                (low, high) = (0, 128);
            }
            let bias = (low + high) / 2;
            plan.slots.push(Slot::new(t, 0, token, bias));
            if bias >= threshold(token) {
                high = bias;
            } else {
                low = bias;
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, _rng: &mut Rng) -> Call {
        let answer = if slot.b >= threshold(slot.a) {
            token_text(slot.a)
        } else {
            " board".to_owned()
        };
        Call::single("gpt-4o", PROMPT.to_owned(), answer)
            .set("max_tokens", json!(1))
            .set("temperature", json!(0))
            .set("logit_bias", json!({ slot.a.to_string(): slot.b }))
    }
}
