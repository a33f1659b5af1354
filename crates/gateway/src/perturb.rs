//! `perturb_output`: seeded noise on the log probabilities a response returns, and so on the
//! order of its top-k candidates, deterministic per principal.
//!
//! Every returned log probability `ℓ` of token `t` at position `i` of choice `c` becomes
//!
//! ```text
//! ℓ' = min(0, ℓ + ln(1 + noise · u)),   u = unit(XXH3-64(c ‖ i ‖ t, seed(principal)))
//! ```
//!
//! where `unit` maps the 64-bit hash onto the open interval (-1, 1), `seed(principal)` is the
//! first 8 bytes of HMAC-SHA256(secret, principal) and `noise` is the measure's parameter (a
//! relative change of the probability, 0.01 by default: `p' = p · (1 + noise · u)`). The top
//! candidates of a position are then sorted again by their perturbed values, so candidates
//! whose probabilities are closer than the noise may swap places.
//!
//! The same principal asking the same thing gets the same noise: repeating a query and
//! averaging the answers does not remove it (the attack of Carlini et al. 2024 averages
//! nothing away), and whoever holds the secret can recompute the noise of any response logged
//! or leaked, and so tell which principal's answers a stolen dataset was built from
//! ([`Perturber::noise`]). Positions count the log-probability entries of each choice in the
//! order they come, which is the same for a whole response and for its stream.
//!
//! Shapes handled: chat completions (`choices[].logprobs.content[]` and `.refusal[]`, each
//! `{token, logprob, top_logprobs: [{token, logprob}]}`, whole and streamed), the Responses
//! API (`output[].content[].logprobs[]` and its `response.output_text.delta` events), and
//! legacy completions (`choices[].logprobs.{tokens, token_logprobs, top_logprobs}`).

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// Applies one principal's perturbation to a response or to the events of its stream, in
/// order.
#[derive(Debug, Clone)]
pub struct Perturber {
    seed: u64,
    noise: f64,
    /// Entries seen so far, per choice (`index`, or the Responses API's output and content
    /// indices).
    positions: HashMap<u64, u64>,
    changed: bool,
}

impl Perturber {
    /// The perturbation of `principal` under the gateway's `secret`, with `noise` in (0, 1]
    /// (other values are clamped into it).
    pub fn new(secret: &[u8], principal: &str, noise: f64) -> Perturber {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        mac.update(principal.as_bytes());
        let digest = mac.finalize().into_bytes();
        let seed = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        let noise = if noise.is_finite() {
            noise.clamp(1e-6, 1.0)
        } else {
            0.01
        };
        Perturber {
            seed,
            noise,
            positions: HashMap::new(),
            changed: false,
        }
    }

    /// The change to the log probability of `token` at `position` of `choice`, in nats.
    pub fn noise(&self, choice: u64, position: u64, token: &str) -> f64 {
        let mut key = Vec::with_capacity(16 + token.len());
        key.extend_from_slice(&choice.to_le_bytes());
        key.extend_from_slice(&position.to_le_bytes());
        key.extend_from_slice(token.as_bytes());
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(&key, self.seed);
        // 53 bits onto (0, 1), then onto (-1, 1).
        let unit = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        (self.noise * (2.0 * unit - 1.0)).ln_1p()
    }

    /// Whether anything was changed so far.
    pub fn changed(&self) -> bool {
        self.changed
    }

    /// Perturbs every log probability in a response or stream event.
    pub fn apply(&mut self, v: &mut Value) {
        if let Some(choices) = v.get_mut("choices").and_then(Value::as_array_mut) {
            for (n, choice) in choices.iter_mut().enumerate() {
                let c = choice
                    .get("index")
                    .and_then(Value::as_u64)
                    .unwrap_or(n as u64);
                if let Some(lp) = choice.get_mut("logprobs") {
                    self.choice_logprobs(c, lp);
                }
            }
        }
        // The Responses API. A delta event carries the next entries of its content part; any
        // other event (a finished part or item, the whole response) carries a part's entries
        // from its first, as a whole response does.
        let output_index = v.get("output_index").and_then(Value::as_u64);
        let content_index = v.get("content_index").and_then(Value::as_u64).unwrap_or(0);
        let delta = v
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with(".delta"));
        if let (Some(o), true) = (output_index, delta) {
            if let Some(Value::Array(entries)) = v.get_mut("logprobs") {
                self.entries(responses_choice(o, content_index), entries);
            }
            return;
        }
        let running = std::mem::take(&mut self.positions);
        if let Some(output) = v.get_mut("output").and_then(Value::as_array_mut) {
            for (o, item) in output.iter_mut().enumerate() {
                self.output_item(o as u64, item);
            }
        }
        if let Some(response) = v.get_mut("response") {
            self.apply(response);
        }
        if let Some(o) = output_index {
            if let Some(item) = v.get_mut("item") {
                self.output_item(o, item);
            }
            let c = responses_choice(o, content_index);
            if let Some(Value::Array(entries)) = v.get_mut("logprobs") {
                self.entries(c, entries);
            }
            if let Some(Value::Array(entries)) =
                v.get_mut("part").and_then(|p| p.get_mut("logprobs"))
            {
                self.positions.remove(&c);
                self.entries(c, entries);
            }
        }
        self.positions = running;
    }

    fn output_item(&mut self, o: u64, item: &mut Value) {
        let Some(content) = item.get_mut("content").and_then(Value::as_array_mut) else {
            return;
        };
        for (c, part) in content.iter_mut().enumerate() {
            if let Some(Value::Array(entries)) = part.get_mut("logprobs") {
                self.entries(responses_choice(o, c as u64), entries);
            }
        }
    }

    /// A choice's `logprobs`: chat's `{content, refusal}` lists, or legacy completions'
    /// parallel arrays.
    fn choice_logprobs(&mut self, c: u64, lp: &mut Value) {
        for key in ["content", "refusal"] {
            if let Some(Value::Array(entries)) = lp.get_mut(key) {
                self.entries(c, entries);
            }
        }
        let Some(o) = lp.as_object_mut() else { return };
        let tokens: Vec<String> = match o.get("tokens") {
            Some(Value::Array(t)) => t
                .iter()
                .map(|t| t.as_str().unwrap_or_default().to_string())
                .collect(),
            _ => return,
        };
        let first = self.take_positions(c, tokens.len() as u64);
        if let Some(Value::Array(values)) = o.get_mut("token_logprobs") {
            for (i, (value, token)) in values.iter_mut().zip(&tokens).enumerate() {
                self.perturb_value(value, c, first + i as u64, token);
            }
        }
        if let Some(Value::Array(tops)) = o.get_mut("top_logprobs") {
            for (i, top) in tops.iter_mut().enumerate() {
                if let Some(map) = top.as_object_mut() {
                    for (token, value) in map.iter_mut() {
                        self.perturb_value(value, c, first + i as u64, token);
                    }
                }
            }
        }
    }

    /// Entries `{token, logprob, top_logprobs}` in order.
    fn entries(&mut self, c: u64, entries: &mut [Value]) {
        for entry in entries {
            let i = self.take_positions(c, 1);
            let token = entry
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some(value) = entry.get_mut("logprob") {
                self.perturb_value(value, c, i, &token);
            }
            if let Some(Value::Array(top)) = entry.get_mut("top_logprobs") {
                for candidate in top.iter_mut() {
                    let t = candidate
                        .get("token")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    if let Some(value) = candidate.get_mut("logprob") {
                        self.perturb_value(value, c, i, &t);
                    }
                }
                top.sort_by(|a, b| {
                    let lp = |v: &Value| {
                        v.get("logprob")
                            .and_then(Value::as_f64)
                            .unwrap_or(f64::NEG_INFINITY)
                    };
                    lp(b).total_cmp(&lp(a))
                });
            }
        }
    }

    fn take_positions(&mut self, c: u64, n: u64) -> u64 {
        let p = self.positions.entry(c).or_default();
        let first = *p;
        *p += n;
        first
    }

    fn perturb_value(&mut self, value: &mut Value, c: u64, i: u64, token: &str) {
        if let Some(l) = value.as_f64() {
            *value = json!((l + self.noise(c, i, token)).min(0.0));
            self.changed = true;
        }
    }
}

/// A Responses API output item's content part, as a choice number of its own.
fn responses_choice(output: u64, content: u64) -> u64 {
    (1 << 63) | (output << 20) | content
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token, its log probability, and its candidates.
    type Entry<'a> = (&'a str, f64, &'a [(&'a str, f64)]);

    fn chat(tokens: &[Entry<'_>]) -> Value {
        let content: Vec<Value> = tokens
            .iter()
            .map(|(t, l, top)| {
                json!({"token": t, "logprob": l, "top_logprobs":
                    top.iter().map(|(t, l)| json!({"token": t, "logprob": l})).collect::<Vec<_>>()})
            })
            .collect();
        json!({"choices": [{"index": 0, "message": {"content": "x"}, "logprobs": {"content": content}}]})
    }

    fn logprob(v: &Value, i: usize) -> f64 {
        v["choices"][0]["logprobs"]["content"][i]["logprob"]
            .as_f64()
            .unwrap()
    }

    #[test]
    fn noise_is_bounded_deterministic_per_principal_and_keeps_probabilities_valid() {
        let original = chat(&[
            ("Hello", -0.5, &[("Hello", -0.5), ("Hi", -1.2)]),
            (",", -0.0001, &[(",", -0.0001)]),
        ]);
        let mut a = original.clone();
        let mut p = Perturber::new(b"secret", "key-1", 0.05);
        p.apply(&mut a);
        assert!(p.changed());
        let d = logprob(&a, 0) - logprob(&original, 0);
        assert!(d != 0.0 && d.abs() <= (1.05f64).ln().max(-(0.95f64).ln()));
        // A token's own log probability and its entry among the candidates move together.
        assert_eq!(
            logprob(&a, 0),
            a["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["token"] == "Hello")
                .unwrap()["logprob"]
        );
        assert!(logprob(&a, 1) <= 0.0);
        // The same principal: the same answer, so averaging repeats removes nothing.
        let mut again = original.clone();
        Perturber::new(b"secret", "key-1", 0.05).apply(&mut again);
        assert_eq!(a, again);
        // Another principal, or another secret: other noise.
        let mut b = original.clone();
        Perturber::new(b"secret", "key-2", 0.05).apply(&mut b);
        assert_ne!(logprob(&a, 0), logprob(&b, 0));
        let mut c = original.clone();
        Perturber::new(b"other", "key-1", 0.05).apply(&mut c);
        assert_ne!(logprob(&a, 0), logprob(&c, 0));
    }

    #[test]
    fn candidates_closer_than_the_noise_can_swap_and_are_kept_sorted() {
        // Two candidates 1e-9 apart: over many positions, both orders appear.
        let tokens: Vec<Entry<'_>> = (0..64)
            .map(|_| ("a", -0.693, &[("a", -0.693), ("b", -0.693_000_001)][..]))
            .collect();
        let mut v = chat(&tokens);
        Perturber::new(b"s", "p", 0.01).apply(&mut v);
        let mut first_b = 0;
        for entry in v["choices"][0]["logprobs"]["content"].as_array().unwrap() {
            let top = entry["top_logprobs"].as_array().unwrap();
            assert!(top[0]["logprob"].as_f64() >= top[1]["logprob"].as_f64());
            first_b += usize::from(top[0]["token"] == "b");
        }
        assert!((1..64).contains(&first_b), "{first_b}");
    }

    #[test]
    fn a_stream_gets_the_noise_of_the_whole_response() {
        let whole = chat(&[("A", -0.1, &[]), ("B", -0.2, &[]), ("C", -0.3, &[])]);
        let mut perturbed = whole.clone();
        Perturber::new(b"s", "p", 0.1).apply(&mut perturbed);
        let mut p = Perturber::new(b"s", "p", 0.1);
        for (i, (t, l)) in [("A", -0.1), ("B", -0.2), ("C", -0.3)].iter().enumerate() {
            let mut chunk = json!({"choices": [{"index": 0, "delta": {"content": t},
                "logprobs": {"content": [{"token": t, "logprob": l, "top_logprobs": []}]}}]});
            p.apply(&mut chunk);
            assert_eq!(
                chunk["choices"][0]["logprobs"]["content"][0]["logprob"],
                perturbed["choices"][0]["logprobs"]["content"][i]["logprob"]
            );
        }
    }

    #[test]
    fn legacy_completions_and_the_responses_api() {
        let mut completion = json!({"choices": [{"index": 0, "text": "ab", "logprobs": {
            "tokens": ["a", "b"], "token_logprobs": [-0.1, null],
            "top_logprobs": [{"a": -0.1, "z": -3.0}, null], "text_offset": [0, 1]}}]});
        let mut p = Perturber::new(b"s", "p", 0.1);
        p.apply(&mut completion);
        let lp = &completion["choices"][0]["logprobs"];
        let a = lp["token_logprobs"][0].as_f64().unwrap();
        assert_ne!(a, -0.1);
        assert_eq!(lp["top_logprobs"][0]["a"].as_f64(), Some(a));
        assert!(lp["token_logprobs"][1].is_null());
        assert_eq!(lp["text_offset"], json!([0, 1]));

        let mut response = json!({"output": [{"type": "message", "content": [{"type": "output_text",
            "text": "hi", "logprobs": [{"token": "hi", "logprob": -0.25, "top_logprobs": []}]}]}]});
        let mut p = Perturber::new(b"s", "p", 0.1);
        p.apply(&mut response);
        let whole = response["output"][0]["content"][0]["logprobs"][0]["logprob"].clone();
        assert_ne!(whole, json!(-0.25));
        // Its stream: a delta event carrying the same entry gets the same value.
        let mut delta = json!({"type": "response.output_text.delta", "output_index": 0,
            "content_index": 0, "delta": "hi",
            "logprobs": [{"token": "hi", "logprob": -0.25, "top_logprobs": []}]});
        let mut stream = Perturber::new(b"s", "p", 0.1);
        stream.apply(&mut delta);
        assert_eq!(delta["logprobs"][0]["logprob"], whole);
        // The events that close the stream repeat the entries from the first: the same values.
        let mut done = json!({"type": "response.output_text.done", "output_index": 0,
            "content_index": 0, "text": "hi",
            "logprobs": [{"token": "hi", "logprob": -0.25, "top_logprobs": []}]});
        stream.apply(&mut done);
        assert_eq!(done["logprobs"][0]["logprob"], whole);
        let mut completed = json!({"type": "response.completed", "response": {"output": [{"type": "message", "content": [{"type": "output_text",
            "text": "hi", "logprobs": [{"token": "hi", "logprob": -0.25, "top_logprobs": []}]}]}]}});
        stream.apply(&mut completed);
        assert_eq!(
            completed["response"]["output"][0]["content"][0]["logprobs"][0]["logprob"],
            whole
        );
    }
}
