//! Attack: a flood of templated near-duplicate queries (the query pattern Blacklight,
//! Li et al. 2022, detects): one prompt template with small perturbations (a swapped word,
//! a changed number, a typo, an extra character), the kind a black-box attack sends to map
//! a decision boundary. `max_tokens` 20, temperature 0.
//!
//! * fast: one key, 1 500 calls 0.3 to 1.5 seconds apart: above the key's 60 requests a
//!   minute, so some get HTTP 429;
//! * slow: one key, a call every 1 to 4 minutes over the whole span.

use serde_json::json;

use super::{
    attack_times, attacker, Call, Generator, Plan, Principal, Slot, Speed, Window, MINUTE,
};
use crate::rng::Rng;

const TEMPLATE: &str = "Classify the following product review as POSITIVE, NEGATIVE or NEUTRAL \
and give a confidence from 0 to 1. Review: \"I ordered the {colour} {item} on {day} and it arrived \
{n} days later. It works {adverb} but the lid feels {flaw} and the handle gets hot. Overall I \
would rate it {stars} out of 5.\"";

const CHOICES: [(&str, &[&str]); 7] = [
    (
        "colour",
        &["blue", "red", "black", "white", "green", "grey"],
    ),
    (
        "item",
        &[
            "kettle",
            "toaster",
            "blender",
            "coffee maker",
            "rice cooker",
        ],
    ),
    (
        "day",
        &[
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
        ],
    ),
    ("n", &["two", "three", "four", "five"]),
    ("adverb", &["quickly", "fine", "well", "reliably", "okay"]),
    ("flaw", &["flimsy", "cheap", "loose", "thin", "fragile"]),
    ("stars", &["2", "3", "4"]),
];

pub(crate) struct DuplicateFlood {
    speed: Speed,
}

impl DuplicateFlood {
    pub(crate) fn new(speed: Speed) -> Self {
        DuplicateFlood { speed }
    }
}

/// The template with its defaults, then one to three perturbations.
fn perturbed(rng: &mut Rng) -> String {
    let mut text = TEMPLATE.to_owned();
    let changes = rng.between(1, 3);
    let mut changed = Vec::new();
    for _ in 0..changes {
        changed.push(rng.index(CHOICES.len()));
    }
    for (i, (name, options)) in CHOICES.iter().enumerate() {
        let value = if changed.contains(&i) {
            options[rng.index(options.len())]
        } else {
            options[0]
        };
        text = text.replace(&format!("{{{name}}}"), value);
    }
    if rng.chance(0.4) {
        // A typo: two adjacent letters swapped inside the review.
        let start = text.find("Review:").unwrap_or(0) + 10;
        let at = start + rng.index(text.len() - start - 2);
        let bytes = text.as_bytes();
        if bytes[at].is_ascii_alphabetic() && bytes[at + 1].is_ascii_alphabetic() {
            let mut swapped = bytes.to_vec();
            swapped.swap(at, at + 1);
            text = String::from_utf8(swapped).unwrap_or(text);
        }
    }
    if rng.chance(0.2) {
        text.push_str(rng.pick_copy(&[" ", ".", "!", " :)"]));
    }
    text
}

impl Generator for DuplicateFlood {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        plan.principals.push(attacker(
            rng,
            self.speed,
            (
                "qa-automation@example.net",
                "203.0.113.88",
                "OpenAI/Python 1.44.0",
            ),
            (
                "reviews-tool@example.net",
                "192.0.2.201",
                "OpenAI/Python 1.33.0",
            ),
        ));
        let times = attack_times(
            window,
            rng,
            self.speed,
            4,
            window.count(1_500.0),
            (300, 1_500),
            (MINUTE as u64, 4 * MINUTE as u64),
        );
        plan.slots = times.into_iter().map(|t| Slot::new(t, 0, 0, 0)).collect();
        plan
    }

    fn render(&self, _slot: &Slot, _principal: &Principal, rng: &mut Rng) -> Call {
        let prompt = perturbed(rng);
        let label = rng.pick_copy(&["NEUTRAL", "NEUTRAL", "POSITIVE", "NEGATIVE"]);
        let confidence = 0.5 + rng.unit() * 0.45;
        Call::single(
            "gpt-4o-mini",
            prompt,
            format!("{label} (confidence {confidence:.2})"),
        )
        .set("max_tokens", json!(20))
        .set("temperature", json!(0))
    }
}
