//! A simulator of labelled LLM traffic in modelward's own LLM request log format
//! (`docs/llm-log.md`): benign profiles (chat users, a heavy batch job, a nightly evaluation
//! suite) and the model-extraction attacks of playbook PB-53 at several speeds (logit-bias
//! sweeps and bisection, distillation harvesting, near-duplicate floods, distributed
//! extraction, prefix and cache side channels); and, opt-in, object-storage profiles that
//! write AWS CloudTrail S3 data events in the same stream (a training pipeline, a model
//! deployment role, weight theft, training-data exfiltration, an insider's cross-account
//! copy).
//!
//! [`simulate`] writes one call per line with timestamps that never decrease, and one label
//! per line (the line number, the profile, the principal, benign or attack, the attack
//! kind). The same [`SimSpec`] always gives the same bytes. Every profile lives in its own
//! module; `docs/simulator.md` describes them.
//!
//! ```
//! use modelward_corpus::sim::{simulate, Profile, SimSpec};
//!
//! let spec = SimSpec {
//!     span_ms: 3_600_000,
//!     scale: 0.05,
//!     profiles: vec![Profile::ChatUsers, Profile::LogitSweepFast],
//!     ..SimSpec::default()
//! };
//! let (mut log, mut labels) = (Vec::new(), Vec::new());
//! let stats = simulate(&spec, &mut log, &mut labels).unwrap();
//! assert_eq!(stats.calls as usize, log.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count());
//! ```

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use serde_json::{json, Map, Value};

use crate::rng::Rng;
use crate::{invalid, positive_span, representable_span, CountingWriter};
use storage::Storage;

mod batch_job;
mod chat_users;
mod distillation;
mod duplicate_flood;
mod insider_model_copy;
mod logit_bisection;
mod logit_sweep;
mod model_deploy;
mod nightly_eval;
mod record;
pub mod score;
mod side_channel;
mod storage;
mod training_data_exfiltration;
mod training_pipeline;
mod weight_theft;
mod words;

/// What to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSpec {
    /// Seed of every random choice.
    pub seed: u64,
    /// Start of the time range, in milliseconds since the Unix epoch.
    pub start_unix_ms: i64,
    /// Length of the time range, in milliseconds.
    pub span_ms: i64,
    /// Multiplier of every profile's volume (1.0: the rates `docs/simulator.md` lists).
    pub scale: f64,
    /// The profiles to simulate, each once.
    pub profiles: Vec<Profile>,
}

impl Default for SimSpec {
    /// Every LLM profile at scale 1 over the day of 2025-03-03 (a Monday, UTC).
    fn default() -> Self {
        SimSpec {
            seed: 42,
            start_unix_ms: 1_740_960_000_000,
            span_ms: 86_400_000,
            scale: 1.0,
            profiles: Profile::llm(),
        }
    }
}

/// Benign or attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Benign,
    Attack,
}

impl Class {
    pub fn name(self) -> &'static str {
        match self {
            Class::Benign => "benign",
            Class::Attack => "attack",
        }
    }
}

macro_rules! profiles {
    ($($variant:ident => $name:literal, $class:ident, $attack:expr, $variant_name:literal, $speed:expr;)*) => {
        /// A traffic profile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Profile { $($variant,)* }

        impl Profile {
            /// Every profile, benign ones first (LLM and storage; [`Profile::llm`] for the LLM ones).
            pub const ALL: [Profile; [$($name,)*].len()] = [$(Profile::$variant,)*];

            /// The profile's name in labels and on the command line.
            pub fn name(self) -> &'static str {
                match self { $(Profile::$variant => $name,)* }
            }

            pub fn class(self) -> Class {
                match self { $(Profile::$variant => Class::$class,)* }
            }

            /// The attack kind: `logit_extraction`, `distillation`, `near_duplicate_flood`,
            /// `distributed_extraction` or `side_channel`; `None` for benign profiles.
            pub fn attack(self) -> Option<&'static str> {
                match self { $(Profile::$variant => $attack,)* }
            }

            /// The technique within the kind (`sweep`, `bisection`, `harvest`, ...).
            pub fn variant(self) -> &'static str {
                match self { $(Profile::$variant => $variant_name,)* }
            }

            /// `fast`, `slow` or `distributed`; `None` for benign profiles.
            pub fn speed(self) -> Option<&'static str> {
                match self { $(Profile::$variant => $speed,)* }
            }
        }
    };
}

profiles! {
    ChatUsers => "chat_users", Benign, None, "chat", None;
    BatchJob => "batch_job", Benign, None, "batch", None;
    NightlyEval => "nightly_eval", Benign, None, "evaluation", None;
    TrainingPipeline => "training_pipeline", Benign, None, "training_reads", None;
    ModelDeploy => "model_deploy", Benign, None, "deploy", None;
    LogitSweepFast => "logit_sweep_fast", Attack, Some("logit_extraction"), "sweep", Some("fast");
    LogitSweepSlow => "logit_sweep_slow", Attack, Some("logit_extraction"), "sweep", Some("slow");
    LogitSweepDistributed => "logit_sweep_distributed", Attack, Some("distributed_extraction"), "sweep", Some("distributed");
    LogitBisectionFast => "logit_bisection_fast", Attack, Some("logit_extraction"), "bisection", Some("fast");
    LogitBisectionSlow => "logit_bisection_slow", Attack, Some("logit_extraction"), "bisection", Some("slow");
    DistillationFast => "distillation_fast", Attack, Some("distillation"), "harvest", Some("fast");
    DistillationSlow => "distillation_slow", Attack, Some("distillation"), "harvest", Some("slow");
    DistillationDistributed => "distillation_distributed", Attack, Some("distributed_extraction"), "harvest", Some("distributed");
    DuplicateFloodFast => "duplicate_flood_fast", Attack, Some("near_duplicate_flood"), "template", Some("fast");
    DuplicateFloodSlow => "duplicate_flood_slow", Attack, Some("near_duplicate_flood"), "template", Some("slow");
    PrefixProbeFast => "prefix_probe_fast", Attack, Some("side_channel"), "prefix_probe", Some("fast");
    PrefixProbeSlow => "prefix_probe_slow", Attack, Some("side_channel"), "prefix_probe", Some("slow");
    CacheTimingFast => "cache_timing_fast", Attack, Some("side_channel"), "cache_repeat", Some("fast");
    CacheTimingSlow => "cache_timing_slow", Attack, Some("side_channel"), "cache_repeat", Some("slow");
    WeightTheft => "weight_theft", Attack, Some("weight_theft"), "download", Some("fast");
    TrainingDataExfiltration => "training_data_exfiltration", Attack, Some("training_data_exfiltration"), "bulk_read", Some("fast");
    InsiderModelCopy => "insider_model_copy", Attack, Some("insider_model_copy"), "cross_account_copy", Some("fast");
}

impl Profile {
    /// The profile of this name.
    pub fn parse(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name.trim())
    }

    fn generator(self) -> Box<dyn Generator> {
        match self {
            Profile::ChatUsers => Box::new(chat_users::ChatUsers::default()),
            Profile::BatchJob => Box::new(batch_job::BatchJob),
            Profile::NightlyEval => Box::new(nightly_eval::NightlyEval::default()),
            Profile::LogitSweepFast => Box::new(logit_sweep::LogitSweep::new(Speed::Fast)),
            Profile::LogitSweepSlow => Box::new(logit_sweep::LogitSweep::new(Speed::Slow)),
            Profile::LogitSweepDistributed => {
                Box::new(logit_sweep::LogitSweep::new(Speed::Distributed))
            }
            Profile::LogitBisectionFast => {
                Box::new(logit_bisection::LogitBisection::new(Speed::Fast))
            }
            Profile::LogitBisectionSlow => {
                Box::new(logit_bisection::LogitBisection::new(Speed::Slow))
            }
            Profile::DistillationFast => Box::new(distillation::Distillation::new(Speed::Fast)),
            Profile::DistillationSlow => Box::new(distillation::Distillation::new(Speed::Slow)),
            Profile::DistillationDistributed => {
                Box::new(distillation::Distillation::new(Speed::Distributed))
            }
            Profile::DuplicateFloodFast => {
                Box::new(duplicate_flood::DuplicateFlood::new(Speed::Fast))
            }
            Profile::DuplicateFloodSlow => {
                Box::new(duplicate_flood::DuplicateFlood::new(Speed::Slow))
            }
            Profile::PrefixProbeFast => Box::new(side_channel::PrefixProbe::new(Speed::Fast)),
            Profile::PrefixProbeSlow => Box::new(side_channel::PrefixProbe::new(Speed::Slow)),
            Profile::CacheTimingFast => Box::new(side_channel::CacheTiming::new(Speed::Fast)),
            Profile::CacheTimingSlow => Box::new(side_channel::CacheTiming::new(Speed::Slow)),
            Profile::TrainingPipeline => {
                Box::new(Storage::new(training_pipeline::TrainingPipeline))
            }
            Profile::ModelDeploy => Box::new(Storage::new(model_deploy::ModelDeploy)),
            Profile::WeightTheft => Box::new(Storage::new(weight_theft::WeightTheft)),
            Profile::TrainingDataExfiltration => Box::new(Storage::new(
                training_data_exfiltration::TrainingDataExfiltration,
            )),
            Profile::InsiderModelCopy => {
                Box::new(Storage::new(insider_model_copy::InsiderModelCopy))
            }
        }
    }

    /// Whether the profile writes object-storage traffic (CloudTrail S3 data events) rather
    /// than LLM calls.
    pub fn is_storage(self) -> bool {
        matches!(
            self,
            Profile::TrainingPipeline
                | Profile::ModelDeploy
                | Profile::WeightTheft
                | Profile::TrainingDataExfiltration
                | Profile::InsiderModelCopy
        )
    }

    /// The LLM profiles (what `all` selects on the command line).
    pub fn llm() -> Vec<Profile> {
        Profile::ALL
            .into_iter()
            .filter(|p| !p.is_storage())
            .collect()
    }

    /// The object-storage profiles (`storage` on the command line).
    pub fn storage() -> Vec<Profile> {
        Profile::ALL
            .into_iter()
            .filter(|p| p.is_storage())
            .collect()
    }
}

/// What [`simulate`] wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Lines of the log (calls).
    pub calls: u64,
    /// Bytes of the log.
    pub bytes: u64,
    /// Calls per profile name.
    pub per_profile: BTreeMap<&'static str, u64>,
    /// Calls answered with HTTP 429.
    pub rate_limited: u64,
}

/// Simulates the traffic `spec` describes: the log to `log` (NDJSON, one call per line,
/// timestamps never decreasing) and one label per log line to `labels` (NDJSON, same order).
///
/// Fails with [`io::ErrorKind::InvalidInput`] when the span is not positive or not within
/// years 1 to 9999, or the scale is not a positive finite number.
pub fn simulate(
    spec: &SimSpec,
    log: &mut impl Write,
    labels: &mut impl Write,
) -> io::Result<SimStats> {
    validate(spec)?;
    let window = Window {
        start: spec.start_unix_ms,
        end: spec.start_unix_ms + spec.span_ms,
        scale: spec.scale,
    };
    let mut profiles: Vec<Profile> = spec.profiles.clone();
    profiles.sort();
    profiles.dedup();
    let mut planned = Vec::new();
    for &profile in &profiles {
        let mut generator = profile.generator();
        let stream = profile_stream(profile);
        let mut rng = Rng::derived(spec.seed, stream);
        let mut plan = generator.plan(&window, &mut rng);
        plan.slots
            .retain(|s| s.t_ms >= window.start && s.t_ms < window.end);
        plan.slots.sort_by_key(|s| (s.t_ms, s.principal, s.a, s.b));
        rate_limit(&mut plan.slots, generator.requests_per_minute());
        planned.push((profile, generator, plan));
    }
    let mut order: Vec<(i64, usize, usize)> = planned
        .iter()
        .enumerate()
        .flat_map(|(p, (_, _, plan))| {
            plan.slots
                .iter()
                .enumerate()
                .map(move |(i, slot)| (slot.t_ms, p, i))
        })
        .collect();
    order.sort_unstable();
    let mut log = CountingWriter {
        inner: BufWriter::with_capacity(1 << 16, log),
        bytes: 0,
    };
    let mut labels = BufWriter::with_capacity(1 << 16, labels);
    let mut stats = SimStats::default();
    for (line, &(_, p, i)) in order.iter().enumerate() {
        let (profile, generator, plan) = &planned[p];
        let slot = &plan.slots[i];
        let principal = &plan.principals[slot.principal];
        let mut rng = Rng::derived(spec.seed ^ profile_stream(*profile), i as u64);
        let (record, request_id) = generator.record(slot, principal, &mut rng);
        serde_json::to_writer(&mut log, &record)?;
        log.write_all(b"\n")?;
        let label = json!({
            "line": line + 1,
            "request_id": request_id,
            "profile": profile.name(),
            "class": profile.class().name(),
            "attack": profile.attack(),
            "variant": profile.variant(),
            "speed": profile.speed(),
            "principal": principal.api_key_id,
            "user": principal.user,
            "source_ip": principal.ip,
            "status": slot.status,
        });
        serde_json::to_writer(&mut labels, &label)?;
        labels.write_all(b"\n")?;
        stats.calls += 1;
        if slot.status == 429 {
            stats.rate_limited += 1;
        }
        *stats.per_profile.entry(profile.name()).or_default() += 1;
    }
    log.flush()?;
    labels.flush()?;
    stats.bytes = log.bytes;
    Ok(stats)
}

fn profile_stream(profile: Profile) -> u64 {
    modelward_event::hash::fnv1a(profile.name().as_bytes())
}

fn validate(spec: &SimSpec) -> io::Result<()> {
    positive_span(spec.span_ms)?;
    if !(spec.scale.is_finite() && spec.scale > 0.0) {
        return Err(invalid(format!(
            "scale must be a positive number, got {}",
            spec.scale
        )));
    }
    representable_span(spec.start_unix_ms, spec.span_ms)
}

/// Marks the calls of a principal beyond `per_minute` successful calls in the trailing
/// minute as rate limited (HTTP 429); a rejected call does not count against the limit.
fn rate_limit(slots: &mut [Slot], per_minute: usize) {
    let mut recent: BTreeMap<usize, std::collections::VecDeque<i64>> = BTreeMap::new();
    for slot in slots.iter_mut() {
        let window = recent.entry(slot.principal).or_default();
        while window.front().is_some_and(|t| *t <= slot.t_ms - 60_000) {
            window.pop_front();
        }
        if window.len() >= per_minute {
            slot.status = 429;
        } else {
            window.push_back(slot.t_ms);
        }
    }
}

/// How fast an attack runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Speed {
    /// Seconds apart, within an hour or two.
    Fast,
    /// Minutes apart, over the whole span.
    Slow,
    /// Many keys sharing infrastructure, each at a low rate.
    Distributed,
}

/// The one principal of a fast or slow attack, with an API key: `fast`'s or `slow`'s user,
/// address and client.
pub(crate) fn attacker(
    rng: &mut Rng,
    speed: Speed,
    fast: (&str, &str, &'static str),
    slow: (&str, &str, &'static str),
) -> Principal {
    let (user, ip, ua) = if speed == Speed::Fast { fast } else { slow };
    Principal::new(user.to_owned(), ip.to_owned(), ua, "api_key", rng)
}

/// The times of a fast or slow attack's calls. Fast: a burst of `count` calls with gaps
/// drawn from `fast` (ms), from a random point between the `1/after`th of the window and
/// half a window later; slow: gaps drawn from `slow` over the whole window.
pub(crate) fn attack_times(
    window: &Window,
    rng: &mut Rng,
    speed: Speed,
    after: i64,
    count: u64,
    fast: (u64, u64),
    slow: (u64, u64),
) -> Vec<i64> {
    if speed == Speed::Fast {
        let from =
            window.start + window.span() / after + rng.below((window.span() / 2) as u64) as i64;
        window.burst(rng, from, window.end, count, fast)
    } else {
        window.steady(rng, window.start, slow)
    }
}

/// The simulated time range.
pub(crate) struct Window {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) scale: f64,
}

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 3_600_000;
pub(crate) const DAY: i64 = 86_400_000;

impl Window {
    /// `base` scaled, at least 1.
    pub(crate) fn count(&self, base: f64) -> u64 {
        (base * self.scale).round().max(1.0) as u64
    }

    pub(crate) fn span(&self) -> i64 {
        self.end - self.start
    }

    /// Start times of the days (UTC midnights) that overlap the window.
    pub(crate) fn days(&self) -> impl Iterator<Item = i64> + '_ {
        let first = self.start.div_euclid(DAY) * DAY;
        (0..)
            .map(move |d| first + d * DAY)
            .take_while(move |day| *day < self.end)
    }

    /// `count` times starting at a random point of `[from, to)`, gaps drawn from
    /// `gap_ms` (low, high), squeezed to fit before `to` (and the window's end).
    pub(crate) fn burst(
        &self,
        rng: &mut Rng,
        from: i64,
        to: i64,
        count: u64,
        gap_ms: (u64, u64),
    ) -> Vec<i64> {
        let to = to.min(self.end).max(from + 1);
        let gaps: Vec<u64> = (0..count)
            .map(|_| rng.between(gap_ms.0, gap_ms.1))
            .collect();
        let total: u64 = gaps.iter().sum::<u64>().max(1);
        let room = u64::try_from(to - from).unwrap_or(1);
        let squeeze = if total > room * 9 / 10 {
            (room * 9 / 10) as f64 / total as f64
        } else {
            1.0
        };
        let used = (total as f64 * squeeze) as u64;
        let mut t = from + rng.below(room.saturating_sub(used).max(1)) as i64;
        gaps.into_iter()
            .map(|gap| {
                t += (gap as f64 * squeeze) as i64;
                t
            })
            .collect()
    }

    /// Times from `from` to the window's end with gaps drawn from `gap_ms` (low, high)
    /// divided by the scale.
    pub(crate) fn steady(&self, rng: &mut Rng, from: i64, gap_ms: (u64, u64)) -> Vec<i64> {
        let low = (gap_ms.0 as f64 / self.scale).max(1.0) as u64;
        let high = (gap_ms.1 as f64 / self.scale).max(1.0) as u64;
        let mut out = Vec::new();
        let mut t = from + rng.below(high) as i64;
        while t < self.end {
            out.push(t);
            t += rng.between(low, high) as i64;
        }
        out
    }
}

/// One planned call: when, by whom, and two profile-specific parameters.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) t_ms: i64,
    pub(crate) principal: usize,
    pub(crate) a: u64,
    pub(crate) b: i64,
    pub(crate) status: u16,
}

impl Slot {
    pub(crate) fn new(t_ms: i64, principal: usize, a: u64, b: i64) -> Slot {
        Slot {
            t_ms,
            principal,
            a,
            b,
            status: 200,
        }
    }
}

/// Who calls: an API key, its user, where from, with what client.
#[derive(Clone, Debug)]
pub(crate) struct Principal {
    pub(crate) api_key_id: String,
    pub(crate) user: String,
    pub(crate) ip: String,
    pub(crate) user_agent: &'static str,
    pub(crate) auth: &'static str,
}

impl Principal {
    pub(crate) fn new(
        user: String,
        ip: String,
        user_agent: &'static str,
        auth: &'static str,
        rng: &mut Rng,
    ) -> Principal {
        Principal {
            api_key_id: format!("key_{}", rng.alphanumeric(12)),
            user,
            ip,
            user_agent,
            auth,
        }
    }
}

/// A profile's principals and calls.
#[derive(Default)]
pub(crate) struct Plan {
    pub(crate) principals: Vec<Principal>,
    pub(crate) slots: Vec<Slot>,
}

/// A planned call made concrete: the request body, and what the model answers.
pub(crate) struct Call {
    /// The request body (Chat Completions).
    pub(crate) request: Map<String, Value>,
    /// The answer the model would give without a length limit.
    pub(crate) answer: String,
    /// Whether the provider's prompt cache served the prompt (`None`: no cache effect).
    pub(crate) cache_hit: Option<bool>,
}

impl Call {
    /// A call with one user message.
    pub(crate) fn single(model: &str, prompt: String, answer: String) -> Call {
        let mut request = Map::new();
        request.insert("model".into(), json!(model));
        request.insert(
            "messages".into(),
            json!([{"role": "user", "content": prompt}]),
        );
        Call {
            request,
            answer,
            cache_hit: None,
        }
    }

    /// No call: what a storage profile, which writes its own records, renders.
    pub(crate) fn storage() -> Call {
        Call {
            request: Map::new(),
            answer: String::new(),
            cache_hit: None,
        }
    }

    pub(crate) fn set(mut self, key: &str, value: Value) -> Call {
        self.request.insert(key.to_owned(), value);
        self
    }
}

/// A profile: plans its calls, then renders each one.
pub(crate) trait Generator {
    fn plan(&mut self, window: &Window, rng: &mut Rng) -> Plan;
    fn render(&self, slot: &Slot, principal: &Principal, rng: &mut Rng) -> Call;
    /// The log line of a planned call and its request id: the LLM log record of the
    /// rendered call, unless the profile writes records of its own (storage profiles).
    fn record(&self, slot: &Slot, principal: &Principal, rng: &mut Rng) -> (Value, Option<String>) {
        let call = self.render(slot, principal, rng);
        record::record(slot, principal, &call, rng)
    }
    /// Requests per minute a key of this profile may make before getting 429s.
    fn requests_per_minute(&self) -> usize {
        60
    }
}

/// An address in the documentation range `prefix` (`"203.0.113"`) with a last byte.
pub(crate) fn ipv4(prefix: &str, last: u64) -> String {
    format!("{prefix}.{last}")
}
