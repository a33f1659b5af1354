//! Benign: a nightly evaluation suite. One key runs the same fixed set of 300 prompts
//! (arithmetic, capitals, unit conversions, grammar, code reading, short reasoning) every
//! night at 02:00 UTC, in a burst half a second to a second and a half apart, at
//! temperature 0 with a fixed seed and `max_tokens` 64. The set is the same in every run
//! and every night; scale does not change it.

use serde_json::json;

use super::{Call, Generator, Plan, Principal, Slot, Window, HOUR};
use crate::rng::Rng;

const SUITE_SIZE: usize = 300;
const SUITE_SEED: u64 = 0x5EED_E7A1;

const COUNTRIES: [(&str, &str); 20] = [
    ("France", "Paris"),
    ("Japan", "Tokyo"),
    ("Kenya", "Nairobi"),
    ("Canada", "Ottawa"),
    ("Peru", "Lima"),
    ("Norway", "Oslo"),
    ("Egypt", "Cairo"),
    ("Vietnam", "Hanoi"),
    ("Chile", "Santiago"),
    ("Poland", "Warsaw"),
    ("Australia", "Canberra"),
    ("Morocco", "Rabat"),
    ("Portugal", "Lisbon"),
    ("Thailand", "Bangkok"),
    ("Ghana", "Accra"),
    ("Austria", "Vienna"),
    ("Mexico", "Mexico City"),
    ("Finland", "Helsinki"),
    ("Argentina", "Buenos Aires"),
    ("Ireland", "Dublin"),
];

const GRAMMAR: [(&str, &str); 6] = [
    ("She don't like apples.", "She doesn't like apples."),
    ("Their going to the park.", "They're going to the park."),
    ("I have went there before.", "I have gone there before."),
    ("Me and him was late.", "He and I were late."),
    (
        "The data shows less errors.",
        "The data shows fewer errors.",
    ),
    ("Who's book is this?", "Whose book is this?"),
];

/// The suite: (prompt, expected answer).
fn suite() -> Vec<(String, String)> {
    let mut rng = Rng::new(SUITE_SEED);
    (0..SUITE_SIZE)
        .map(|i| match i % 6 {
            0 => {
                let (a, b) = (rng.between(100, 9_999), rng.between(100, 9_999));
                (
                    format!("[eval #{i:03}] What is {a} + {b}? Answer with the number only."),
                    (a + b).to_string(),
                )
            }
            1 => {
                let (country, capital) = COUNTRIES[rng.index(COUNTRIES.len())];
                (
                    format!("[eval #{i:03}] What is the capital of {country}? One word or name only."),
                    capital.to_owned(),
                )
            }
            2 => {
                let km = rng.between(2, 500);
                (
                    format!("[eval #{i:03}] Convert {km} kilometres to metres. Number only."),
                    (km * 1000).to_string(),
                )
            }
            3 => {
                let (wrong, right) = GRAMMAR[rng.index(GRAMMAR.len())];
                (
                    format!("[eval #{i:03}] Correct the grammar and return only the sentence: {wrong}"),
                    right.to_owned(),
                )
            }
            4 => {
                let (x, y) = (rng.between(2, 20), rng.between(2, 20));
                (
                    format!("[eval #{i:03}] What does this Python print?\nx = {x}\ny = {y}\nprint(x * y - x)"),
                    (x * y - x).to_string(),
                )
            }
            _ => {
                let (apples, eaten) = (rng.between(13, 40), rng.between(1, 4));
                (
                    format!("[eval #{i:03}] Sam has {apples} apples and eats {eaten} a day for 3 days. How many are left? Reply with the number."),
                    (apples - 3 * eaten).to_string(),
                )
            }
        })
        .collect()
}

#[derive(Default)]
pub(crate) struct NightlyEval {
    suite: Vec<(String, String)>,
}

impl Generator for NightlyEval {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        self.suite = suite();
        let mut plan = Plan::default();
        plan.principals.push(Principal::new(
            "ci-evals@example.com".to_owned(),
            super::ipv4("203.0.113", 200),
            "OpenAI/Python 1.54.3",
            "api_key",
            rng,
        ));
        for day in window.days() {
            let mut t = day + 2 * HOUR + rng.below(60_000) as i64;
            for case in 0..self.suite.len() {
                plan.slots.push(Slot::new(t, 0, case as u64, 0));
                t += rng.between(500, 1_500) as i64;
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, _rng: &mut Rng) -> Call {
        let (prompt, answer) = &self.suite[slot.a as usize % self.suite.len()];
        Call::single("gpt-4o", prompt.clone(), answer.clone())
            .set(
                "messages",
                json!([
                    {"role": "system", "content": "Answer exactly as instructed, with no explanation."},
                    {"role": "user", "content": prompt},
                ]),
            )
            .set("temperature", json!(0))
            .set("seed", json!(1234))
            .set("max_tokens", json!(64))
    }

    fn requests_per_minute(&self) -> usize {
        500
    }
}
