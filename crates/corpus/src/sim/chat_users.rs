//! Benign: ordinary chat users. Twelve people, each with their own key, address and client,
//! hold multi-turn conversations during office hours (08:00 to 18:00 UTC, give or take an
//! hour per person; a quarter as much at weekends): each later request carries the earlier
//! messages and answers. Topics vary (work tasks, writing, travel, cooking, learning);
//! `max_tokens` is 256 to 2048, no logprobs, often streamed. About four calls per office
//! hour per person at scale 1.

use serde_json::{json, Value};

use super::record::tokens;
use super::words::{self, fill, FOLLOW_UPS, OPENINGS};
use super::{Call, Generator, Plan, Principal, Slot, Window, HOUR, MINUTE};
use crate::rng::Rng;

const USERS: [&str; 12] = [
    "alice@example.com",
    "bob@example.com",
    "chen.wei@example.com",
    "dmitri@example.com",
    "eva.lopez@example.com",
    "farah@example.com",
    "gunnar@example.com",
    "hana.sato@example.com",
    "ines@example.org",
    "jamal@example.org",
    "kate.obrien@example.org",
    "luca@example.org",
];

const USER_AGENTS: [&str; 6] = [
    "OpenAI/JS 4.67.3",
    "OpenAI/Python 1.51.0",
    "OpenAI/Python 1.54.3",
    "AsyncOpenAI/Python 1.51.2",
    "OpenAI/JS 4.73.0",
    "OpenAI/Python 1.40.6",
];

const SYSTEM_PROMPTS: [&str; 4] = [
    "You are a helpful assistant for employees of Example Corp. Be concise and friendly.",
    "You are a writing assistant. Prefer plain language and short paragraphs.",
    "You are a technical assistant. When unsure, say so and suggest how to verify.",
    "You are an assistant that answers in the user's language, with practical examples.",
];

/// Conversations per person per office day at scale 1 (about four turns each).
const CONVERSATIONS_PER_DAY: f64 = 10.0;

/// One person's habits.
struct Style {
    model: &'static str,
    max_tokens: u64,
    temperature: Option<f64>,
    stream: bool,
    system: Option<&'static str>,
    day_start_h: i64,
    day_end_h: i64,
}

#[derive(Default)]
pub(crate) struct ChatUsers {
    seed: u64,
    styles: Vec<Style>,
}

impl Generator for ChatUsers {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan {
        self.seed = rng.next_u64();
        let mut plan = Plan::default();
        for (i, user) in USERS.iter().enumerate() {
            let ip = match i % 4 {
                0 | 1 => super::ipv4("192.0.2", 20 + i as u64 * 7),
                2 => super::ipv4("198.51.100", 40 + i as u64 * 3),
                _ => format!("2001:db8:4a1:{:x}::{:x}", 16 + i, rng.between(2, 0xfff)),
            };
            let auth = if i % 3 == 0 { "bearer" } else { "api_key" };
            plan.principals.push(Principal::new(
                (*user).to_owned(),
                ip,
                rng.pick_copy(&USER_AGENTS),
                auth,
                rng,
            ));
            self.styles.push(Style {
                model: rng.pick_copy(&["gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4.1"]),
                max_tokens: rng.pick_copy(&[256, 512, 800, 1024, 1500, 2048]),
                temperature: rng.pick_copy(&[None, Some(0.7), Some(1.0), Some(0.3)]),
                stream: rng.chance(0.6),
                system: if rng.chance(0.7) {
                    Some(rng.pick_copy(&SYSTEM_PROMPTS))
                } else {
                    None
                },
                day_start_h: rng.between(7, 9) as i64,
                day_end_h: rng.between(17, 19) as i64,
            });
        }
        let mut conversation = 0u64;
        for day in window.days() {
            let weekday = (day / super::DAY + 4).rem_euclid(7); // 0 = Sunday
            let factor = if weekday == 0 || weekday == 6 {
                0.25
            } else {
                1.0
            };
            for (i, style) in self.styles.iter().enumerate() {
                let from = day + style.day_start_h * HOUR;
                let hours = style.day_end_h - style.day_start_h;
                let expected = CONVERSATIONS_PER_DAY * factor * window.scale;
                let count = (expected.floor() as u64) + u64::from(rng.chance(expected.fract()));
                for _ in 0..count {
                    let mut t = from + rng.below((hours * HOUR) as u64) as i64;
                    let turns = rng.log_normal_int(3.5, 0.5, 1, 12);
                    for turn in 0..turns {
                        plan.slots.push(Slot::new(t, i, conversation, turn as i64));
                        t += rng.between(20_000, 5 * MINUTE as u64) as i64;
                    }
                    conversation += 1;
                }
            }
        }
        plan
    }

    fn render(&self, slot: &Slot, _principal: &Principal, _rng: &mut Rng) -> Call {
        let style = &self.styles[slot.principal];
        let mut rng = Rng::derived(self.seed, slot.a);
        let mut messages = Vec::new();
        if let Some(system) = style.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        let mut answer = String::new();
        for turn in 0..=slot.b {
            let template = if turn == 0 {
                OPENINGS[rng.index(OPENINGS.len())]
            } else {
                FOLLOW_UPS[rng.index(FOLLOW_UPS.len())]
            };
            messages.push(json!({"role": "user", "content": fill(&mut rng, template)}));
            let length = rng.log_normal_int(220.0, 0.6, 20, 2400);
            answer = words::answer(&mut rng, length);
            if turn < slot.b {
                let kept: String = tokens(&answer)
                    .into_iter()
                    .take(style.max_tokens as usize)
                    .collect();
                messages.push(json!({"role": "assistant", "content": kept}));
            }
        }
        let mut call = Call::single(style.model, String::new(), answer)
            .set("messages", Value::Array(messages))
            .set("max_tokens", json!(style.max_tokens));
        if let Some(t) = style.temperature {
            call = call.set("temperature", json!(t));
        }
        if style.stream {
            call = call
                .set("stream", json!(true))
                .set("stream_options", json!({"include_usage": true}));
        }
        call
    }
}
