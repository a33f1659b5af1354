//! The analyzer trait, and [`Behavior`]: the enabled analyzers, built once from settings.

use std::collections::BTreeMap;
use std::sync::Arc;

use modelward_rule::RuleMeta;

use crate::{analyzers, Call, Finding, ProfileStore, Settings, SettingsError, CODES};

/// A behavioural analyzer: stateful, fed every call in event-time order.
pub trait Analyzer {
    fn code(&self) -> &'static str;
    /// Takes one call (never earlier than the previous one); findings go to `out`.
    fn observe(&mut self, call: &Call, out: &mut Vec<Finding>);
    /// The end of the calls: reports what is still pending.
    fn finish(&mut self, out: &mut Vec<Finding>);
    /// Its per-principal profiles, if it keeps any: [`Analyzer::evicted`], [`Analyzer::save`]
    /// and [`Analyzer::load`] go through them.
    fn profiles(&self) -> Option<&dyn ProfileStore> {
        None
    }
    fn profiles_mut(&mut self) -> Option<&mut dyn ProfileStore> {
        None
    }
    /// Principal profiles evicted to stay within bounds.
    fn evicted(&self) -> u64 {
        self.profiles().map_or(0, ProfileStore::evicted)
    }
    /// Its per-principal profiles, to keep between runs (before [`Analyzer::finish`]: open
    /// windows carry over). Analyzers whose state is only cross-principal keep nothing.
    fn save(&self) -> Vec<SavedProfile> {
        self.profiles()
            .map(ProfileStore::export)
            .unwrap_or_default()
    }
    /// Restores profiles a previous run saved; returns how many could not be restored.
    fn load(&mut self, saved: Vec<SavedProfile>) -> u64 {
        match self.profiles_mut() {
            Some(p) => p.import(saved),
            None => saved.len() as u64,
        }
    }
    /// What it keeps that is not per principal (clusters across principals, the peers'
    /// medians), for a live engine's checkpoint; `None` when it keeps nothing of the kind.
    /// `hunt --state` does not keep it: it is rebuilt each run.
    fn save_shared(&self) -> Option<serde_json::Value> {
        None
    }
    /// Restores what [`Analyzer::save_shared`] gave; false when it cannot be read.
    fn load_shared(&mut self, _shared: serde_json::Value) -> bool {
        false
    }
    /// Whether what it finds depends on the calls of several principals together (clusters,
    /// the peers' medians): `watch`'s scale-out gives such an analyzer every call, on one
    /// partition, and the others each principal's calls on that principal's partition.
    fn cross_principal(&self) -> bool {
        false
    }
}

/// Test helpers: an analyzer fed calls in order.
#[cfg(test)]
pub(crate) mod feed {
    use super::Analyzer;
    use crate::{Call, Finding};

    /// The findings raised while observing `calls` (pending ones are not reported).
    pub fn observed(a: &mut dyn Analyzer, calls: &[Call]) -> Vec<Finding> {
        let mut out = Vec::new();
        for c in calls {
            a.observe(c, &mut out);
        }
        out
    }

    /// The findings of `calls` through to the end (pending ones reported by `finish`).
    pub fn finished(a: &mut dyn Analyzer, calls: &[Call]) -> Vec<Finding> {
        let mut out = observed(a, calls);
        a.finish(&mut out);
        out
    }
}

/// One principal's profile as kept between runs: the analyzer's own JSON.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedProfile {
    pub principal: String,
    pub profile: serde_json::Value,
    /// Event time (ms) of the principal's latest call.
    pub last_seen: i64,
}

/// What the analyzers keep between runs, by analyzer code: their profiles and the latest
/// event time each has seen (calls not after it are not counted again), and, in a live
/// engine's checkpoint, what they keep across principals.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SavedState {
    pub analyzers: BTreeMap<String, (Vec<SavedProfile>, i64)>,
    /// By analyzer code: [`Analyzer::save_shared`]'s state.
    #[serde(default)]
    pub shared: BTreeMap<String, serde_json::Value>,
}

/// Makes the call's principal the one `kind` asks for, when the call has it.
fn rekey(kind: crate::PrincipalKind, c: &mut Call) {
    let (value, field) = match kind {
        crate::PrincipalKind::Auto => return,
        crate::PrincipalKind::ApiKey => (c.api_key.take(), "api_key.id"),
        crate::PrincipalKind::Ip => (c.ip.clone(), "source.ip"),
    };
    if let Some(v) = value {
        if v != c.principal {
            let old = std::mem::replace(&mut c.principal, v);
            if c.principal_field == "api_key.id" {
                c.api_key = Some(old);
            }
            c.principal_field = field;
        }
    }
}

/// The keys whose partitions must see a call ([`Run::keyer`]): its principal's (as the
/// `principal` setting names it), and [`GLOBAL_KEY`] when a cross-principal analyzer runs.
#[derive(Debug, Clone, Copy)]
pub struct Keyer {
    principal: Option<crate::PrincipalKind>,
    per_principal: bool,
    cross_principal: bool,
}

impl Keyer {
    pub fn keys(&self, call: &Call) -> impl Iterator<Item = u64> {
        // The principal `rekey` gives it.
        let principal = match self.principal {
            Some(crate::PrincipalKind::ApiKey) => call.api_key.as_deref(),
            Some(crate::PrincipalKind::Ip) => call.ip.as_deref(),
            _ => None,
        };
        let own = principal_key(principal.unwrap_or(&call.principal));
        (self.per_principal.then_some(own))
            .into_iter()
            .chain(self.cross_principal.then_some(GLOBAL_KEY))
    }
}

/// The partition key of a principal's state.
fn principal_key(principal: &str) -> u64 {
    modelward_event::hash::fnv1a_extend(
        modelward_event::hash::fnv1a(b"principal\xff"),
        principal.as_bytes(),
    )
}

/// What a run of the analyzers found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// In event-time order.
    pub findings: Vec<Finding>,
    /// Principal profiles evicted (bounded state), over every analyzer.
    pub evicted: u64,
    /// Calls analyzed.
    pub calls: u64,
    /// Calls an analyzer skipped because a previous run had counted them (not after its
    /// saved watermark), summed over analyzers.
    pub already_counted: u64,
    /// Saved profiles that could not be restored (another shape, or over the bound).
    pub not_restored: u64,
}

/// The enabled analyzers' settings and metadata; immutable and `Send + Sync`. Each
/// [`Behavior::analyze`] starts from empty profiles.
#[derive(Debug, Clone)]
pub struct Behavior {
    settings: Option<Settings>,
    metas: Vec<Arc<RuleMeta>>,
}

impl Behavior {
    /// The analyzers the settings enable.
    pub fn new(settings: &Settings) -> Result<Behavior, SettingsError> {
        settings.validate()?;
        let metas = CODES
            .iter()
            .filter(|c| settings.enabled(c.code))
            .map(|c| Arc::new(crate::code::meta(c)))
            .collect();
        Ok(Behavior {
            settings: Some(settings.clone()),
            metas,
        })
    }

    /// No analyzer at all.
    pub fn none() -> Behavior {
        Behavior {
            settings: None,
            metas: Vec::new(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// Metadata of the enabled analyzers.
    pub fn metas(&self) -> &[Arc<RuleMeta>] {
        &self.metas
    }

    pub fn meta(&self, code: &str) -> Option<&Arc<RuleMeta>> {
        self.metas.iter().find(|m| m.id == code)
    }

    /// The enabled analyzers, built by the registry in its order (the order they run in).
    fn analyzers(&self) -> Vec<Box<dyn Analyzer>> {
        let Some(s) = &self.settings else {
            return Vec::new();
        };
        analyzers::REGISTRY
            .iter()
            .filter(|entry| s.enabled(entry.code.code))
            .map(|entry| (entry.build)(s))
            .collect()
    }

    /// Runs every enabled analyzer over the calls in event-time order (a stable sort, so
    /// calls of one time keep their input order).
    pub fn analyze(&self, calls: Vec<Call>) -> Outcome {
        self.analyze_resumed(calls, None).0
    }

    /// [`Behavior::analyze`] from the profiles a previous run saved, returning what to save
    /// for the next one. Each analyzer skips the calls not after the latest event time it
    /// saw before, so a log read twice is counted once. Findings pending at the end (open
    /// windows) are reported, and also carried over: one reported again when its window
    /// closes in a later run has the same alert id.
    pub fn analyze_resumed(
        &self,
        calls: Vec<Call>,
        saved: Option<SavedState>,
    ) -> (Outcome, SavedState) {
        let mut run = self.start(saved);
        let mut findings = run.observe(calls);
        // What the next run starts from: the profiles before the end-of-run reports, so
        // open windows carry over.
        let state = run.save();
        let mut outcome = run.finish();
        findings.append(&mut outcome.findings);
        findings.sort_by(|a, b| (a.timestamp, a.code).cmp(&(b.timestamp, b.code)));
        outcome.findings = findings;
        (outcome, state)
    }

    /// Starts the analyzers (from the profiles a previous run saved, if any) for calls fed
    /// a few at a time, as a live engine does.
    pub fn start(&self, saved: Option<SavedState>) -> Run {
        let mut analyzers = self.analyzers();
        let mut saved = saved.unwrap_or_default();
        let mut outcome = Outcome::default();
        let mut watermarks = Vec::with_capacity(analyzers.len());
        for a in analyzers.iter_mut() {
            let (profiles, mark) = saved
                .analyzers
                .remove(a.code())
                .unwrap_or((Vec::new(), i64::MIN));
            outcome.not_restored += a.load(profiles);
            if let Some(shared) = saved.shared.remove(a.code()) {
                outcome.not_restored += u64::from(!a.load_shared(shared));
            }
            watermarks.push(mark);
        }
        Run {
            principal: self.settings.as_ref().map(|s| s.principal),
            analyzers,
            watermarks,
            last: None,
            kept: saved,
            outcome,
            partition: None,
        }
    }
}

/// The analyzers of one run, fed calls in event-time order as they come ([`Behavior::start`]).
pub struct Run {
    principal: Option<crate::PrincipalKind>,
    analyzers: Vec<Box<dyn Analyzer>>,
    /// Per analyzer, the latest event time a previous run had counted.
    watermarks: Vec<i64>,
    /// The latest event time observed in this run.
    last: Option<i64>,
    /// Saved state of analyzers this run does not enable (kept for the next run).
    kept: SavedState,
    outcome: Outcome,
    /// `(index, count)`: only the calls whose key falls in this partition are observed
    /// ([`Run::set_partition`]).
    partition: Option<(u32, u32)>,
}

/// The key of state that is not per principal (a cross-principal analyzer's): the hash of
/// no bytes, as an aggregation without groups has.
pub const GLOBAL_KEY: u64 = modelward_event::hash::FNV_OFFSET;

impl Run {
    /// Feeds calls (sorted here by event time, stably; each call should not be earlier than
    /// the calls of earlier feeds) and returns the findings they raised, in event-time order.
    pub fn observe(&mut self, mut calls: Vec<Call>) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.outcome.calls += calls.len() as u64;
        if self.analyzers.is_empty() {
            return findings;
        }
        calls.sort_by_key(|c| c.ts);
        if let Some(kind) = self.principal {
            for c in calls.iter_mut() {
                rekey(kind, c);
            }
        }
        // Without a partition (a hunt, one watch) nothing is hashed.
        let owns = |key: &dyn Fn() -> u64| {
            self.partition.is_none_or(|(index, count)| {
                modelward_event::hash::partition(key(), count) == index
            })
        };
        let global = owns(&|| GLOBAL_KEY);
        for call in &calls {
            let mine = owns(&|| principal_key(&call.principal));
            for (a, mark) in self.analyzers.iter_mut().zip(&self.watermarks) {
                if !(if a.cross_principal() { global } else { mine }) {
                    continue;
                }
                match call.ts > *mark {
                    true => a.observe(call, &mut findings),
                    false => self.outcome.already_counted += 1,
                }
            }
        }
        if let Some(l) = calls.last() {
            self.last = Some(self.last.map_or(l.ts, |m| m.max(l.ts)));
        }
        findings.sort_by(|a, b| (a.timestamp, a.code).cmp(&(b.timestamp, b.code)));
        findings
    }

    /// What a later run starts from: every analyzer's profiles as they are now (open
    /// windows carry over), what it keeps across principals, and the latest event time each
    /// has counted; analyzers this run does not enable keep what they had.
    pub fn save(&self) -> SavedState {
        let mut state = SavedState::default();
        for (a, mark) in self.analyzers.iter().zip(&self.watermarks) {
            let watermark = self.last.map_or(*mark, |l| l.max(*mark));
            state
                .analyzers
                .insert(a.code().to_string(), (a.save(), watermark));
            if let Some(shared) = a.save_shared() {
                state.shared.insert(a.code().to_string(), shared);
            }
        }
        for (code, kept) in &self.kept.analyzers {
            state
                .analyzers
                .entry(code.clone())
                .or_insert_with(|| kept.clone());
        }
        for (code, kept) in &self.kept.shared {
            state
                .shared
                .entry(code.clone())
                .or_insert_with(|| kept.clone());
        }
        state
    }

    /// Observe only the calls whose key falls in partition `index` of `count`: a principal's
    /// calls for the per-principal analyzers, every call for the cross-principal ones on the
    /// partition of [`GLOBAL_KEY`] (`watch`'s scale-out; docs/watch.md).
    pub fn set_partition(&mut self, index: u32, count: u32) {
        self.partition = Some((index, count));
    }

    /// What routes a call to the partitions whose analyzers must see it ([`Keyer`]).
    pub fn keyer(&self) -> Keyer {
        Keyer {
            principal: self.principal,
            per_principal: self.analyzers.iter().any(|a| !a.cross_principal()),
            cross_principal: self.analyzers.iter().any(|a| a.cross_principal()),
        }
    }

    /// Principal profiles evicted so far (bounded state), over every analyzer.
    pub fn evicted(&self) -> u64 {
        self.analyzers.iter().map(|a| a.evicted()).sum()
    }

    /// The end of the calls: what is still pending is reported (in event-time order), with
    /// the run's counters.
    pub fn finish(mut self) -> Outcome {
        let mut findings = Vec::new();
        for a in self.analyzers.iter_mut() {
            a.finish(&mut findings);
        }
        findings.sort_by(|a, b| (a.timestamp, a.code).cmp(&(b.timestamp, b.code)));
        self.outcome.evicted = self.evicted();
        self.outcome.findings = findings;
        self.outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrincipalKind;

    /// 30 identical prompts a second apart from `start` (s).
    fn repeats(start: i64) -> Vec<Call> {
        (start..start + 30)
            .map(|i| Call::test("key-1", i * 1000).with_prompt("What is my balance?"))
            .collect()
    }

    #[test]
    fn baselines_carry_over_between_runs() {
        let behavior = Behavior::new(&Settings::default()).unwrap();
        // 30 + 30 identical requests within ten minutes: under the threshold (50) in each
        // run alone, over it across the two.
        let (first, state) = behavior.analyze_resumed(repeats(0), None);
        assert!(first.findings.is_empty());
        assert!(behavior.analyze(repeats(30)).findings.is_empty());
        let (second, state) = behavior.analyze_resumed(repeats(30), Some(state));
        let codes: Vec<&str> = second.findings.iter().map(|f| f.code).collect();
        assert_eq!(codes, vec!["MW-AI-0012"]);
        // The state survives JSON (as the store keeps it).
        let profiles = &state.analyzers["MW-AI-0012"].0;
        assert_eq!(profiles.len(), 1);
        let json = serde_json::to_string(&profiles[0].profile).unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            profiles[0].profile
        );
        // Reading the same calls again counts nothing twice: the burst still open at the end
        // is reported again as the same finding (the same alert id), not a bigger one.
        let (again, _) = behavior.analyze_resumed(repeats(30), Some(state.clone()));
        assert_eq!(again.already_counted, 30 * state.analyzers.len() as u64);
        let key = |o: &Outcome| {
            o.findings
                .iter()
                .map(|f| {
                    (
                        f.code,
                        f.principal.clone(),
                        f.key.clone(),
                        f.summary.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(key(&again), key(&second));
    }

    #[test]
    fn principals_by_key_or_address() {
        let mut c = Call::test("u1", 0).with_ip("203.0.113.9");
        c.principal_field = "user.id";
        c.api_key = Some("k1".into());
        let mut by_key = c.clone();
        rekey(PrincipalKind::ApiKey, &mut by_key);
        assert_eq!(
            (&*by_key.principal, by_key.principal_field),
            ("k1", "api_key.id")
        );
        let mut by_ip = c.clone();
        rekey(PrincipalKind::Ip, &mut by_ip);
        assert_eq!(&*by_ip.principal, "203.0.113.9");
        let mut auto = c.clone();
        rekey(PrincipalKind::Auto, &mut auto);
        assert_eq!(&*auto.principal, "u1");
        // A call without the field keeps its principal.
        let mut bare = Call::test("k2", 0);
        rekey(PrincipalKind::Ip, &mut bare);
        assert_eq!(&*bare.principal, "k2");
        // Calls of several users with one key are one principal by key.
        let calls: Vec<Call> = (0..60)
            .map(|i| {
                let mut c =
                    Call::test(&format!("user-{i}"), i * 1000).with_prompt("What is my balance?");
                c.principal_field = "user.id";
                c.api_key = Some("shared-key".into());
                c
            })
            .collect();
        let auto = Behavior::new(&Settings::default())
            .unwrap()
            .analyze(calls.clone());
        assert!(auto.findings.is_empty());
        let keyed = Settings {
            principal: PrincipalKind::ApiKey,
            ..Settings::default()
        };
        let f = Behavior::new(&keyed).unwrap().analyze(calls).findings;
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].principal, "shared-key");
    }

    #[test]
    fn odd_calls_never_panic() {
        let odd = crate::Params {
            max_tokens: Some(0),
            logprobs: true,
            top_logprobs: Some(255),
            n: Some(u16::MAX),
            temperature: Some(0.0),
            seed: Some(i64::MIN),
            bias_entries: u16::MAX,
            bias_max: f32::MAX,
            bias: vec![(u32::MAX, f32::MAX), (0, -f32::MAX)].into(),
        };
        let mut calls = Vec::new();
        for (i, ts) in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX]
            .into_iter()
            .enumerate()
        {
            for k in 0..40 {
                calls.push(
                    Call::test(if k % 2 == 0 { "a" } else { "" }, ts)
                        .with_prompt(&"\u{0}x ".repeat(k * 40 + i))
                        .with_params(odd.clone())
                        .with_tokens(u64::MAX, u64::MAX)
                        .with_latency(f32::MAX)
                        .with_ip("::")
                        .with_user_agent("(("),
                );
            }
        }
        let settings = Settings {
            max_principals: 1,
            ..Settings::default()
        };
        let _ = Behavior::new(&settings).unwrap().analyze(calls.clone());
        let _ = Behavior::new(&Settings::default()).unwrap().analyze(calls);
    }
}
