//! Attack: logit extraction by sweeping the vocabulary with `logit_bias` (Carlini et al.
//! 2024, Finlayson et al. 2024). Every call asks for one token (`max_tokens` 1) with
//! `logprobs` and `top_logprobs` 20, and biases the next 20 token ids by +100 so that they
//! fill the top 20, whose log-probabilities the response returns; across calls the window
//! walks the vocabulary (0 to 100 000 in steps of 20, then again). The prompt is a random
//! sequence of 4 to 8 tokens, as in the paper, changed every 5 calls (so each prompt gets
//! the logits of 100 tokens). Every fourth call also pushes the prompt's natural favourite
//! token down with -100.
//!
//! * fast: one key, 1 500 calls 1 to 4 seconds apart (about an hour);
//! * slow: one key, a call every 2 to 8 minutes over the whole span;
//! * distributed: 20 keys on one /24 (203.0.113.0/24) with one user agent and the same
//!   request shape, each sweeping its own twentieth of the vocabulary with 250 calls spread
//!   over 20 hours (about 12 an hour, like a busy chat user), together 5 000 calls.

use serde_json::{json, Map, Value};

use super::record::token_text;
use super::{
    attack_times, attacker, Call, Generator, Plan, Principal, Slot, Speed, Window, HOUR, MINUTE,
};
use crate::rng::Rng;

pub(crate) const VOCABULARY: u64 = 100_000;
pub(crate) const WINDOW: u64 = 20;
const DISTRIBUTED_KEYS: u64 = 20;

pub(crate) struct LogitSweep {
    speed: Speed,
}

impl LogitSweep {
    pub(crate) fn new(speed: Speed) -> Self {
        LogitSweep { speed }
    }
}

/// Calls per prompt.
const CALLS_PER_PROMPT: u64 = 5;

/// Slots of one key sweeping `[from, to)` from `from`, one window per time, a new prompt
/// every [`CALLS_PER_PROMPT`] calls.
fn sweep(principal: usize, times: &[i64], from: u64, to: u64, first_prompt: u64) -> Vec<Slot> {
    let per_pass = (to - from).div_ceil(WINDOW).max(1);
    times
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let k = k as u64;
            let id = from + (k % per_pass) * WINDOW;
            Slot::new(
                *t,
                principal,
                id,
                (first_prompt + k / CALLS_PER_PROMPT) as i64,
            )
        })
        .collect()
}

/// The `n`-th random prompt: 4 to 8 vocabulary tokens.
fn random_prompt(n: i64) -> String {
    let mut rng = Rng::derived(0x005E_ED0F_1061, n as u64);
    let length = rng.between(4, 8);
    let text: String = (0..length)
        .map(|_| token_text(rng.below(VOCABULARY)))
        .collect();
    text.trim_start().to_owned()
}

impl Generator for LogitSweep {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        match self.speed {
            Speed::Fast | Speed::Slow => {
                plan.principals.push(attacker(
                    rng,
                    self.speed,
                    (
                        "dev-7731@example.net",
                        "203.0.113.66",
                        "OpenAI/Python 1.35.3",
                    ),
                    (
                        "research.intern@example.net",
                        "198.51.100.201",
                        "OpenAI/Python 1.42.0",
                    ),
                ));
                let times = attack_times(
                    window,
                    rng,
                    self.speed,
                    10,
                    window.count(1_500.0),
                    (1_000, 4_000),
                    (2 * MINUTE as u64, 8 * MINUTE as u64),
                );
                let first_prompt = rng.below(1 << 40);
                plan.slots = sweep(0, &times, 0, VOCABULARY, first_prompt);
            }
            Speed::Distributed => {
                let slice = VOCABULARY / DISTRIBUTED_KEYS;
                let first_prompt = rng.below(1 << 40);
                for key in 0..DISTRIBUTED_KEYS {
                    plan.principals.push(Principal::new(
                        format!("trial-{:04}@mailbox.example", rng.between(1000, 9999)),
                        super::ipv4("203.0.113", 10 + key),
                        "OpenAI/Python 1.30.1",
                        "api_key",
                        rng,
                    ));
                    let from = window.start + rng.below(HOUR as u64) as i64;
                    let to = from + 20 * HOUR;
                    let count = window.count(250.0);
                    let times =
                        window.burst(rng, from, to, count, (3 * MINUTE as u64, 7 * MINUTE as u64));
                    plan.slots.extend(sweep(
                        key as usize,
                        &times,
                        key * slice,
                        (key + 1) * slice,
                        first_prompt,
                    ));
                }
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, rng: &mut Rng) -> Call {
        let prompt = random_prompt(slot.b);
        let mut bias = Map::new();
        for id in slot.a..(slot.a + WINDOW).min(VOCABULARY) {
            bias.insert(id.to_string(), json!(100));
        }
        let favourite = 100 + (slot.b as u64 % 1_000) * 7;
        if slot.t_ms % 4 == 0 && !(slot.a..slot.a + WINDOW).contains(&favourite) {
            bias.insert(favourite.to_string(), json!(-100));
        }
        let chosen = slot.a + rng.below(WINDOW);
        Call::single("gpt-4o-mini", prompt, token_text(chosen))
            .set("max_tokens", json!(1))
            .set("logprobs", json!(true))
            .set("top_logprobs", json!(20))
            .set("logit_bias", Value::Object(bias))
    }
}
