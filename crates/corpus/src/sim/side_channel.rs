//! Attacks: side-channel probing through the provider's prompt cache, where a cached
//! prompt's first token comes back faster (about 95 ms against 240 ms plus 0.12 ms a
//! prompt token) and `usage.prompt_tokens_details.cached_tokens` is non-zero.
//!
//! * prefix probes ([`PrefixProbe`]): many prompts sharing one long prefix (about 5 KB, over
//!   1 024 tokens, the provider's minimum for caching) and
//!   differing only in their last few characters, guessing a victim's reference code one
//!   character at a time; the right guess is a cache hit. `max_tokens` 1, temperature 0.
//!   Fast: 800 calls 0.5 to 2 seconds apart; slow: every 2 to 10 minutes over the span.
//! * cache timing ([`CacheTiming`]): the same few prompts sent again and again, identical,
//!   at temperature 0 with a fixed seed and `max_tokens` 1; a prompt sent within the last
//!   five minutes is a hit (a long shared system prompt keeps every prompt cacheable), and the victim's prompt (the first candidate) is warm 80 % of
//!   the time anyway. Fast: 600 calls 1 to 5 seconds apart; slow: every 3 to 12 minutes.

use serde_json::json;

use super::words::{fill, ANSWER_SENTENCES};
use super::{
    attack_times, attacker, Call, Generator, Plan, Principal, Slot, Speed, Window, MINUTE,
};
use crate::rng::Rng;

const ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LENGTH: u64 = 6;
/// About 1 100 prompt tokens: long enough for the provider's prompt cache (1 024 tokens).
const PREFIX_BYTES: usize = 5_000;
const QUESTION: &str = "\n\nRepeat the reference code of this policy exactly. Reference code: ";

pub(crate) struct PrefixProbe {
    speed: Speed,
    prefix: String,
    /// Secret codes, guessed one after the other.
    secrets: Vec<Vec<u8>>,
}

impl PrefixProbe {
    pub(crate) fn new(speed: Speed) -> Self {
        PrefixProbe {
            speed,
            prefix: String::new(),
            secrets: Vec::new(),
        }
    }
}

impl Generator for PrefixProbe {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        plan.principals.push(attacker(
            rng,
            self.speed,
            (
                "probe-runner@example.net",
                "203.0.113.91",
                "OpenAI/Python 1.52.0",
            ),
            (
                "n.ivanova@example.net",
                "192.0.2.177",
                "OpenAI/Python 1.50.2",
            ),
        ));
        self.prefix = String::from("Internal policy document. Confidential.\n\n");
        while self.prefix.len() < PREFIX_BYTES {
            self.prefix.push_str(&{
                let i = rng.index(ANSWER_SENTENCES.len());
                fill(rng, ANSWER_SENTENCES[i])
            });
            self.prefix.push(' ');
        }
        let times = attack_times(
            window,
            rng,
            self.speed,
            6,
            window.count(800.0),
            (500, 2_000),
            (2 * MINUTE as u64, 10 * MINUTE as u64),
        );
        let new_secret = |rng: &mut Rng| -> Vec<u8> {
            (0..CODE_LENGTH)
                .map(|_| ALPHABET[rng.index(ALPHABET.len())])
                .collect()
        };
        self.secrets.push(new_secret(rng));
        let mut position = 0u64;
        let mut order: Vec<u8> = Vec::new();
        for t in times {
            if order.is_empty() {
                order = ALPHABET.to_vec();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.index(i + 1));
                }
            }
            let secret = self.secrets.len() as u64 - 1;
            let guess = order.remove(0);
            plan.slots
                .push(Slot::new(t, 0, secret * 16 + position, i64::from(guess)));
            if guess == self.secrets[secret as usize][position as usize] {
                order.clear();
                position += 1;
                if position == CODE_LENGTH {
                    position = 0;
                    self.secrets.push(new_secret(rng));
                }
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, _rng: &mut Rng) -> Call {
        let secret = &self.secrets[(slot.a / 16) as usize];
        let position = (slot.a % 16) as usize;
        let guess = u8::try_from(slot.b).unwrap_or(b'A');
        let mut probe = String::from_utf8_lossy(&secret[..position]).into_owned();
        probe.push(char::from(guess));
        let hit = guess == secret[position];
        let mut call = Call::single(
            "gpt-4o",
            format!("{}{QUESTION}{probe}", self.prefix),
            char::from(secret[position.min(secret.len() - 1)]).to_string(),
        )
        .set("max_tokens", json!(1))
        .set("temperature", json!(0));
        call.cache_hit = Some(hit);
        call
    }
}

const CANDIDATES: [&str; 4] = [
    "You are the HR assistant of Example Corp. Salary bands for 2025 are confidential. Employee question: what is the salary band for a senior engineer?",
    "You are the HR assistant of Example Corp. Salary bands for 2025 are public. Employee question: what is the salary band for a senior engineer?",
    "You are the HR assistant of Example Corp. Employee question: when is the next performance review?",
    "You are the legal assistant of Example Corp. Employee question: is the merger with Fabrikam announced?",
];
const TTL_MS: i64 = 5 * MINUTE;

pub(crate) struct CacheTiming {
    speed: Speed,
    /// The long shared system prompt the candidates follow.
    system: String,
}

impl CacheTiming {
    pub(crate) fn new(speed: Speed) -> Self {
        CacheTiming {
            speed,
            system: String::new(),
        }
    }
}

impl Generator for CacheTiming {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        let mut plan = Plan::default();
        plan.principals.push(attacker(
            rng,
            self.speed,
            (
                "latency-study@example.net",
                "2001:db8:c0:ffee::9",
                "OpenAI/Python 1.52.0",
            ),
            ("tools@example.net", "198.51.100.230", "OpenAI/JS 4.56.0"),
        ));
        self.system = String::from("Company handbook, HR edition. Answer employees' questions using only this handbook.\n\n");
        while self.system.len() < PREFIX_BYTES {
            self.system.push_str(&{
                let i = rng.index(ANSWER_SENTENCES.len());
                fill(rng, ANSWER_SENTENCES[i])
            });
            self.system.push(' ');
        }
        let times = attack_times(
            window,
            rng,
            self.speed,
            6,
            window.count(600.0),
            (1_000, 5_000),
            (3 * MINUTE as u64, 12 * MINUTE as u64),
        );
        let mut last = [i64::MIN / 2; CANDIDATES.len()];
        let mut candidate = 0;
        for t in times {
            if rng.chance(0.1) {
                candidate = rng.index(CANDIDATES.len());
            }
            let warm = t - last[candidate] < TTL_MS || (candidate == 0 && rng.chance(0.8));
            last[candidate] = t;
            plan.slots
                .push(Slot::new(t, 0, candidate as u64, i64::from(warm)));
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, _rng: &mut Rng) -> Call {
        let prompt = CANDIDATES[slot.a as usize % CANDIDATES.len()];
        let mut call = Call::single("gpt-4o", prompt.to_owned(), " The".to_owned())
            .set("max_tokens", json!(1))
            .set("temperature", json!(0))
            .set("seed", json!(7))
            .set(
                "messages",
                json!([
                    {"role": "system", "content": self.system},
                    {"role": "user", "content": prompt},
                ]),
            );
        call.cache_hit = Some(slot.b == 1);
        call
    }
}
