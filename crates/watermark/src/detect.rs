//! The greenlist z-test (Kirchenbauer et al., "On the Reliability of Watermarks for Large
//! Language Models", 2023), exactly as Transformers' `WatermarkDetector` with a
//! `WatermarkingConfig` scores token ids.
//!
//! For each scored position the detector seeds torch's generator from the context (the
//! seeding scheme), draws `randperm(vocab_size)` and calls the token *green* when it is among
//! the first `int(vocab_size · greenlist_ratio)` entries. With `T` scored tokens of which `G`
//! are green and `γ = greenlist_ratio`: `z = (G − γT) / √(T γ (1 − γ))`.

use std::collections::HashMap;

use serde::Serialize;

use crate::torch_rng::{randperm, shuffle_prefix, TorchGenerator, RANDPERM_SMALL_LIMIT};
use crate::WatermarkError;

/// Transformers' fixed table size for `selfhash` (`WatermarkLogitsProcessor.table_size`).
pub const TABLE_SIZE: u32 = 1_000_003;
/// Transformers' default `hashing_key` (the millionth prime).
pub const DEFAULT_HASHING_KEY: u64 = 15_485_863;
/// Transformers' default `greenlist_ratio`.
pub const DEFAULT_GREENLIST_RATIO: f64 = 0.25;
/// How many distinct contexts' greenlist verdicts are kept (Transformers keeps 128 in an LRU;
/// the verdicts are the same either way).
const CACHE_LIMIT: usize = 1 << 16;

/// How the generator is seeded from the context (`WatermarkingConfig.seeding_scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedingScheme {
    /// The previous token: `seed = hashing_key · t₋₁` (Algorithm 2). The default.
    LeftHash,
    /// The token itself and the `context_width − 1` before it, through a fixed random table
    /// (Algorithm 3): `seed = min_j(hashing_key · (table[t_j]+1) · (table[t₀]+1))` in wrapping
    /// 64-bit arithmetic.
    SelfHash,
}

impl SeedingScheme {
    pub fn name(self) -> &'static str {
        match self {
            SeedingScheme::LeftHash => "lefthash",
            SeedingScheme::SelfHash => "selfhash",
        }
    }
}

impl std::str::FromStr for SeedingScheme {
    type Err = WatermarkError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "lefthash" => Ok(SeedingScheme::LeftHash),
            "selfhash" => Ok(SeedingScheme::SelfHash),
            other => Err(WatermarkError::Parameter(format!(
                "seeding scheme {other:?}: expected lefthash or selfhash"
            ))),
        }
    }
}

/// The watermark's parameters: the `WatermarkingConfig` the text was generated with, the
/// model's vocabulary size and the detector's options.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    /// The model's `config.vocab_size` (which can exceed the tokenizer's).
    pub vocab_size: u32,
    pub greenlist_ratio: f64,
    pub hashing_key: u64,
    pub seeding_scheme: SeedingScheme,
    pub context_width: usize,
    /// Count each distinct n-gram once, green or not (`WatermarkDetector(...,
    /// ignore_repeated_ngrams=True)`): a text repeating itself cannot inflate its score.
    pub ignore_repeated_ngrams: bool,
    /// The model's `bos_token_id`: dropped when it is the first token, as Transformers does.
    pub bos_token_id: Option<u32>,
}

impl Params {
    /// Transformers' defaults for a vocabulary of `vocab_size`.
    pub fn new(vocab_size: u32) -> Self {
        Params {
            vocab_size,
            greenlist_ratio: DEFAULT_GREENLIST_RATIO,
            hashing_key: DEFAULT_HASHING_KEY,
            seeding_scheme: SeedingScheme::LeftHash,
            context_width: 1,
            ignore_repeated_ngrams: false,
            bos_token_id: None,
        }
    }

    /// `int(vocab_size · greenlist_ratio)`, Transformers' greenlist size.
    pub fn greenlist_size(&self) -> usize {
        (self.vocab_size as f64 * self.greenlist_ratio) as usize
    }

    fn check(&self) -> Result<(), WatermarkError> {
        let bad = |m: String| Err(WatermarkError::Parameter(m));
        if !(self.greenlist_ratio > 0.0 && self.greenlist_ratio < 1.0) {
            return bad(format!(
                "greenlist ratio {} is not strictly between 0 and 1",
                self.greenlist_ratio
            ));
        }
        if self.vocab_size < 2 {
            return bad(format!("vocabulary size {} is below 2", self.vocab_size));
        }
        if u64::from(self.vocab_size) >= RANDPERM_SMALL_LIMIT {
            return bad(format!(
                "vocabulary size {} is not below {RANDPERM_SMALL_LIMIT}",
                self.vocab_size
            ));
        }
        if self.context_width == 0 {
            return bad("context width 0: at least 1".into());
        }
        if self.seeding_scheme == SeedingScheme::SelfHash && self.hashing_key > i64::MAX as u64 {
            return bad(format!(
                "hashing key {} does not fit torch's int64, which selfhash multiplies in",
                self.hashing_key
            ));
        }
        Ok(())
    }
}

/// The outcome of the test over some tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    /// Tokens scored (n-grams, or distinct n-grams with `ignore_repeated_ngrams`).
    pub tokens_scored: u64,
    /// Of them, green.
    pub green_tokens: u64,
    pub green_fraction: f64,
    pub z_score: f64,
    /// One-sided p-value P(Z ≥ z) of the standard normal (Transformers:
    /// `0.5 · erfc(z/√2)`), to a relative 1.2e-7.
    pub p_value: f64,
    /// log10 of `p_value`, finite where `p_value` underflows to 0.
    pub log10_p_value: f64,
}

impl Score {
    /// The test over `green` of `scored` tokens with greenlist ratio `gamma`.
    pub fn from_counts(green: u64, scored: u64, gamma: f64) -> Score {
        let t = scored as f64;
        let g = green as f64;
        let z = (g - gamma * t) / (t * gamma * (1.0 - gamma)).sqrt();
        let ln_p = modelward_fingerprint::stats::ln_normal_sf(z);
        Score {
            tokens_scored: scored,
            green_tokens: green,
            green_fraction: g / t,
            z_score: z,
            p_value: ln_p.exp(),
            log10_p_value: ln_p / std::f64::consts::LN_10,
        }
    }
}

/// The test pooled over texts: the sums of their green and scored tokens in one z-test (a
/// weak per-text signal, as a distilled model's outputs carry, adds up over many).
pub fn pooled(scores: &[Score], gamma: f64) -> Option<Score> {
    let scored: u64 = scores.iter().map(|s| s.tokens_scored).sum();
    let green: u64 = scores.iter().map(|s| s.green_tokens).sum();
    (scored > 0).then(|| Score::from_counts(green, scored, gamma))
}

/// A detector for one set of parameters. Keeps a cache of verdicts by context.
pub struct Detector {
    params: Params,
    /// `randperm(TABLE_SIZE)` under `manual_seed(hashing_key)`, for selfhash.
    table: Vec<u32>,
    scratch: Vec<u32>,
    cache: HashMap<(Vec<u32>, u32), bool>,
}

impl Detector {
    pub fn new(params: Params) -> Result<Detector, WatermarkError> {
        params.check()?;
        let table = match params.seeding_scheme {
            SeedingScheme::SelfHash => {
                randperm(TABLE_SIZE, &mut TorchGenerator::new(params.hashing_key))
            }
            SeedingScheme::LeftHash => Vec::new(),
        };
        Ok(Detector {
            params,
            table,
            scratch: Vec::new(),
            cache: HashMap::new(),
        })
    }

    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The seed for a context (`WatermarkLogitsProcessor.set_seed`), already reduced modulo
    /// `2⁶⁴ − 1` as Transformers reduces it before `manual_seed`.
    pub fn seed(&self, context: &[u32]) -> u64 {
        const MODULUS: i128 = u64::MAX as i128; // 2**64 - 1
        let width = self.params.context_width.min(context.len());
        let context = &context[context.len() - width..];
        let last = *context.last().expect("a context is never empty");
        let seed: i128 = match self.params.seeding_scheme {
            // Python integers: no overflow.
            SeedingScheme::LeftHash => self.params.hashing_key as i128 * last as i128,
            // int64 tensors: wrapping products, the signed minimum.
            SeedingScheme::SelfHash => {
                let key = self.params.hashing_key as i64;
                let b = self.table[(last % TABLE_SIZE) as usize] as i64 + 1;
                context
                    .iter()
                    .map(|&t| {
                        let a = self.table[(t % TABLE_SIZE) as usize] as i64 + 1;
                        key.wrapping_mul(a).wrapping_mul(b)
                    })
                    .min()
                    .expect("a context is never empty") as i128
            }
        };
        seed.rem_euclid(MODULUS) as u64
    }

    /// Whether `target` is in the greenlist drawn from `context`.
    pub fn is_green(&mut self, context: &[u32], target: u32) -> bool {
        let key = (context.to_vec(), target);
        if let Some(&v) = self.cache.get(&key) {
            return v;
        }
        let mut generator = TorchGenerator::new(self.seed(context));
        let n = self.params.vocab_size as usize;
        let steps = self.params.greenlist_size();
        self.scratch.clear();
        self.scratch.extend(0..n as u32);
        shuffle_prefix(&mut self.scratch, steps, &mut generator);
        let green = self.scratch[..steps].contains(&target);
        if self.cache.len() >= CACHE_LIMIT {
            self.cache.clear();
        }
        self.cache.insert(key, green);
        green
    }

    /// The test over one text's token ids (the generated text only: a prompt weakens it).
    pub fn score(&mut self, ids: &[u32]) -> Result<Score, WatermarkError> {
        let ids = match (ids.first(), self.params.bos_token_id) {
            (Some(&first), Some(bos)) if first == bos => &ids[1..],
            _ => ids,
        };
        let width = self.params.context_width;
        if ids.len() < width + 1 {
            return Err(WatermarkError::TooShort {
                tokens: ids.len(),
                needed: width + 1,
            });
        }
        if let Some(&bad) = ids.iter().find(|&&t| t >= self.params.vocab_size) {
            return Err(WatermarkError::TokenOutOfRange {
                token: bad,
                vocab_size: self.params.vocab_size,
            });
        }
        let selfhash = self.params.seeding_scheme == SeedingScheme::SelfHash;
        let n = width + 1 - usize::from(selfhash);
        let mut green = 0u64;
        let mut scored = 0u64;
        let mut seen = std::collections::HashSet::new();
        for ngram in ids.windows(n) {
            if self.params.ignore_repeated_ngrams && !seen.insert(ngram) {
                continue;
            }
            let target = ngram[n - 1];
            let context = if selfhash { ngram } else { &ngram[..n - 1] };
            scored += 1;
            green += u64::from(self.is_green(context, target));
        }
        Ok(Score::from_counts(
            green,
            scored,
            self.params.greenlist_ratio,
        ))
    }
}
