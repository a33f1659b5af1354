//! Attack: distillation harvesting (shadow-model training data). Many diverse prompts across
//! twelve fields, each a fresh single-message conversation with no continuity, most of them
//! asking for step-by-step reasoning ("Explain step by step how ... works"), `max_tokens`
//! 4096 and long answers (about 900 tokens). No prompt repeats: the k-th call takes the k-th
//! (concept, template, suffix) combination of a fixed permutation.
//!
//! * fast: one key, 1 200 calls 2 to 6 seconds apart;
//! * slow: one key, a call every 1 to 4 minutes over the whole span (several times an
//!   ordinary user's daily volume);
//! * distributed: 15 keys on one /24 (198.51.100.0/24) with one user agent and the same
//!   request shape, 150 calls each spread over 20 hours (about 7 an hour), together 2 250.

use serde_json::json;

use super::words::{reasoning_answer, CONCEPTS, HARVEST_TEMPLATES};
use super::{
    attack_times, attacker, Call, Generator, Plan, Principal, Slot, Speed, Window, HOUR, MINUTE,
};
use crate::rng::Rng;

const SUFFIXES: [&str; 6] = [
    "",
    " Keep it rigorous.",
    " Assume no prior knowledge.",
    " Include a numerical example.",
    " Be exhaustive.",
    " Use headings for each step.",
];
const DISTRIBUTED_KEYS: u64 = 15;
const COMBINATIONS: u64 = (CONCEPTS.len() * 8 * HARVEST_TEMPLATES.len() * SUFFIXES.len()) as u64;

pub(crate) struct Distillation {
    speed: Speed,
}

impl Distillation {
    pub(crate) fn new(speed: Speed) -> Self {
        Distillation { speed }
    }
}

impl Generator for Distillation {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        let offset = rng.below(COMBINATIONS);
        match self.speed {
            Speed::Fast | Speed::Slow => {
                plan.principals.push(attacker(
                    rng,
                    self.speed,
                    (
                        "growth-lab@example.net",
                        "203.0.113.140",
                        "OpenAI/Python 1.47.1",
                    ),
                    (
                        "data.team@example.net",
                        "2001:db8:77::42",
                        "AsyncOpenAI/Python 1.45.0",
                    ),
                ));
                let times = attack_times(
                    window,
                    rng,
                    self.speed,
                    8,
                    window.count(1_200.0),
                    (2_000, 6_000),
                    (MINUTE as u64, 4 * MINUTE as u64),
                );
                for (k, t) in times.into_iter().enumerate() {
                    plan.slots.push(Slot::new(t, 0, offset + k as u64, 0));
                }
            }
            Speed::Distributed => {
                let mut k = offset;
                for key in 0..DISTRIBUTED_KEYS {
                    plan.principals.push(Principal::new(
                        format!("user{:05}@freemail.example", rng.between(10_000, 99_999)),
                        super::ipv4("198.51.100", 100 + key),
                        "OpenAI/Python 1.40.0",
                        "api_key",
                        rng,
                    ));
                    let from = window.start + rng.below(HOUR as u64) as i64;
                    let count = window.count(150.0);
                    let times = window.burst(
                        rng,
                        from,
                        from + 20 * HOUR,
                        count,
                        (5 * MINUTE as u64, 11 * MINUTE as u64),
                    );
                    for t in times {
                        plan.slots.push(Slot::new(t, key as usize, k, 0));
                        k += 1;
                    }
                }
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, rng: &mut Rng) -> Call {
        // A permutation of the combinations (the multiplier is prime to their number).
        let n = slot.a.wrapping_mul(7_919) % COMBINATIONS;
        let concept_count = (CONCEPTS.len() * 8) as u64;
        let (field, concepts) = CONCEPTS[((n % concept_count) / 8) as usize];
        let concept = concepts[(n % 8) as usize];
        let rest = n / concept_count;
        let template = HARVEST_TEMPLATES[(rest % HARVEST_TEMPLATES.len() as u64) as usize];
        let suffix =
            SUFFIXES[((rest / HARVEST_TEMPLATES.len() as u64) % SUFFIXES.len() as u64) as usize];
        let prompt = format!(
            "{}{suffix}",
            template.replace("{c}", concept).replace("{f}", field)
        );
        let length = rng.log_normal_int(900.0, 0.35, 200, 4_000);
        Call::single("gpt-4o", prompt, reasoning_answer(rng, concept, length))
            .set("max_tokens", json!(4096))
            .set("temperature", json!(0.7))
    }
}
