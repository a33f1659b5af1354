//! Settings of the theft analyzers (MW-TH-…), with the defaults documented in
//! `docs/behavior.md`.

use serde::Deserialize;

use crate::{SettingsError, Span};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

/// Logit extraction (MW-TH-0001); distributed extraction (MW-TH-0005) uses the same thresholds
/// for a cluster's combined calls.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogitSettings {
    pub window: Span,
    /// A probe asks for at most this many tokens.
    pub max_tokens: u32,
    /// And for log probabilities of at least this many top tokens, or a logit bias of at
    /// least `min_bias` in magnitude.
    pub min_top_logprobs: u8,
    pub min_bias: f32,
    /// Probe calls within the window before a sweep may alert.
    pub min_calls: u64,
    /// Distinct token ids biased by at least `min_bias` within the window.
    pub min_distinct_tokens: u64,
    /// At most this share of biased token ids may be repeats (a sweep covers new tokens).
    pub max_repeat_share: f64,
    /// Halving steps of one token's bias on one prompt (bisection) that alert.
    pub min_halvings: u64,
    /// (prompt, token) bisection chains tracked per principal.
    pub max_chains: usize,
}

/// Distillation / shadow-model harvesting (MW-TH-0002).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistillationSettings {
    pub bucket: Span,
    pub baseline_buckets: usize,
    pub warmup_buckets: usize,
    pub min_calls: u64,
    /// The slow scale: a day's bucket, with its own minimum and baseline.
    pub slow_bucket: Span,
    pub slow_min_calls: u64,
    pub slow_baseline_buckets: usize,
    pub slow_warmup_buckets: usize,
    /// Times the principal's own median (once warm).
    pub ratio: f64,
    /// Times the median of the principals active in the previous bucket (before warm-up).
    pub peer_ratio: f64,
    pub min_peers: usize,
    /// SimHash bits within which two queries are one topic.
    pub topic_bits: u32,
    /// Share of calls opening a new topic.
    pub min_breadth: f64,
    /// Share of calls continuing a conversation (earlier turns, or overlapping the previous
    /// query) at most.
    pub max_continuity: f64,
    /// Output tokens per input token, at least (harvesting keeps long answers)…
    pub min_expansion: f64,
    /// … or this share of calls asking for reasoning traces.
    pub min_reasoning: f64,
}

/// PRADA (MW-TH-0003).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PradaSettings {
    /// Minimum distances tested before an alert is possible.
    pub min_queries: usize,
    /// The latest minimum distances tested (at most 5000).
    pub max_queries: usize,
    /// Earlier query vectors kept per principal (a reservoir sample).
    pub reservoir: usize,
    /// W below this alerts (Juuti et al.'s δ).
    pub delta: f64,
    /// The test runs every this many new queries.
    pub test_every: usize,
    /// At most one alert per principal within this span.
    pub window: Span,
}

/// Near-duplicate query flood, Blacklight-style (MW-TH-0004).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodSettings {
    pub window: Span,
    /// Earlier queries compared per principal.
    pub history: usize,
    /// Fingerprints two queries share to be near-duplicates (of 20).
    pub match_marks: usize,
    pub min_matches: u64,
    /// Share of the window's queries that are near-duplicates.
    pub min_share: f64,
}

/// Side-channel probing (MW-TH-0006).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SideChannelSettings {
    pub window: Span,
    /// Prefix probes: the prompt has at least this many characters (a cacheable prefix)…
    pub min_chars: u32,
    /// … and this many different endings of one prefix within the window.
    pub min_variants: u64,
    /// Timing probes: one prompt at temperature 0 or with a fixed seed, at most `max_tokens`
    /// tokens, this many times within the window.
    pub min_repeats: u64,
    pub max_tokens: u32,
    /// Prefixes and prompts tracked per principal.
    pub max_prompts: usize,
}

/// Model weights downloaded outside the principal's baseline (MW-TH-0007).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeightsSettings {
    /// Storage events a principal needs before a new bucket is outside its baseline…
    pub warmup_events: u64,
    /// … and time since it was first seen.
    pub warmup: Span,
    /// Compare by bucket (a principal reading weights from a bucket it never read weights
    /// from alerts) rather than at all (only a first weight download ever alerts).
    pub per_bucket: bool,
    /// Principals allowed to read weights (exact, or a prefix ending in `*`). When not
    /// empty, any other principal's weight download alerts, warm or not.
    pub allowed_principals: Vec<String>,
    /// Further downloads of the bucket within this span join the alert.
    pub window: Span,
}

/// Bulk download of training data against the principal's baseline (MW-TH-0008).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BulkSettings {
    pub bucket: Span,
    /// The principal's previous active windows the baseline holds.
    pub baseline_buckets: usize,
    /// Active windows a principal needs before it may alert.
    pub warmup_buckets: usize,
    /// Bytes read in a window below which it never alerts on bytes.
    pub min_bytes: u64,
    /// Objects read in a window below which it never alerts on objects.
    pub min_objects: u64,
    /// At least this many times the baseline median.
    pub ratio: f64,
}

/// Every theft analyzer's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct TheftSettings {
    pub logit: LogitSettings,
    pub distillation: DistillationSettings,
    pub prada: PradaSettings,
    pub flood: FloodSettings,
    pub side_channel: SideChannelSettings,
    /// Distributed extraction: members a cluster needs.
    pub cluster_min_members: usize,
    pub weights: WeightsSettings,
    pub bulk: BulkSettings,
}

impl Default for LogitSettings {
    fn default() -> LogitSettings {
        LogitSettings {
            window: Span(24 * HOUR),
            max_tokens: 2,
            min_top_logprobs: 5,
            min_bias: 50.0,
            min_calls: 100,
            min_distinct_tokens: 200,
            max_repeat_share: 0.2,
            min_halvings: 16,
            max_chains: 64,
        }
    }
}

impl Default for DistillationSettings {
    fn default() -> DistillationSettings {
        DistillationSettings {
            bucket: Span(HOUR),
            baseline_buckets: 168,
            warmup_buckets: 6,
            min_calls: 200,
            slow_bucket: Span(24 * HOUR),
            slow_min_calls: 300,
            slow_baseline_buckets: 28,
            slow_warmup_buckets: 3,
            ratio: 5.0,
            peer_ratio: 10.0,
            min_peers: 3,
            topic_bits: 8,
            min_breadth: 0.5,
            max_continuity: 0.2,
            min_expansion: 1.5,
            min_reasoning: 0.2,
        }
    }
}

impl Default for PradaSettings {
    fn default() -> PradaSettings {
        PradaSettings {
            min_queries: 100,
            max_queries: 1000,
            reservoir: 256,
            delta: 0.90,
            test_every: 25,
            window: Span(24 * HOUR),
        }
    }
}

impl Default for FloodSettings {
    fn default() -> FloodSettings {
        FloodSettings {
            window: Span(24 * HOUR),
            history: 500,
            match_marks: 10,
            min_matches: 50,
            min_share: 0.5,
        }
    }
}

impl Default for SideChannelSettings {
    fn default() -> SideChannelSettings {
        SideChannelSettings {
            window: Span(24 * HOUR),
            min_chars: 1024,
            min_variants: 30,
            min_repeats: 20,
            max_tokens: 2,
            max_prompts: 64,
        }
    }
}

impl Default for WeightsSettings {
    fn default() -> WeightsSettings {
        WeightsSettings {
            warmup_events: 50,
            warmup: Span(7 * 24 * HOUR),
            per_bucket: true,
            allowed_principals: Vec::new(),
            window: Span(HOUR),
        }
    }
}

impl Default for BulkSettings {
    fn default() -> BulkSettings {
        BulkSettings {
            bucket: Span(HOUR),
            baseline_buckets: 24,
            warmup_buckets: 6,
            min_bytes: 1_000_000_000,
            min_objects: 1_000,
            ratio: 10.0,
        }
    }
}

impl Default for TheftSettings {
    fn default() -> TheftSettings {
        TheftSettings {
            logit: LogitSettings::default(),
            distillation: DistillationSettings::default(),
            prada: PradaSettings::default(),
            flood: FloodSettings::default(),
            side_channel: SideChannelSettings::default(),
            cluster_min_members: 2,
            weights: WeightsSettings::default(),
            bulk: BulkSettings::default(),
        }
    }
}

fn share(x: f64) -> bool {
    (0.0..=1.0).contains(&x)
}

impl TheftSettings {
    pub fn validate(&self) -> Result<(), SettingsError> {
        let (l, d, p, f, s) = (
            &self.logit,
            &self.distillation,
            &self.prada,
            &self.flood,
            &self.side_channel,
        );
        let checks: [(bool, &'static str, &'static str); 16] = [
            (l.min_calls >= 1, "logit_extraction.min_calls", "at least 1"),
            (l.min_bias >= 0.0, "logit_extraction.min_bias", "at least 0"),
            (share(l.max_repeat_share), "logit_extraction.max_repeat_share", "between 0 and 1"),
            (l.min_halvings >= 2, "logit_extraction.min_halvings", "at least 2"),
            (l.max_chains >= 1, "logit_extraction.max_chains", "at least 1"),
            (d.baseline_buckets >= 1 && d.warmup_buckets <= d.baseline_buckets && d.slow_baseline_buckets >= 1 && d.slow_warmup_buckets <= d.slow_baseline_buckets, "distillation.warmup_buckets", "at most baseline_buckets (at least 1; the slow_ ones too)"),
            (d.ratio >= 1.0 && d.peer_ratio >= 1.0, "distillation.ratio", "at least 1 (and peer_ratio too)"),
            (d.topic_bits <= 64, "distillation.topic_bits", "at most 64"),
            (share(d.min_breadth) && share(d.max_continuity) && share(d.min_reasoning), "distillation.min_breadth", "a share between 0 and 1 (max_continuity, min_reasoning too)"),
            (p.min_queries >= 3 && p.min_queries <= p.max_queries, "prada.min_queries", "at least 3 and at most max_queries"),
            (p.max_queries <= 5000, "prada.max_queries", "at most 5000 (Shapiro–Wilk's range)"),
            (p.reservoir >= 1 && p.test_every >= 1, "prada.reservoir", "at least 1 (test_every too)"),
            (p.delta > 0.0 && p.delta < 1.0, "prada.delta", "between 0 and 1"),
            (f.history >= 1 && (1..=crate::text::MARKS).contains(&f.match_marks), "query_flood.match_marks", "between 1 and 20 (history at least 1)"),
            (share(f.min_share), "query_flood.min_share", "between 0 and 1"),
            (s.min_variants >= 2 && s.min_repeats >= 2 && s.max_prompts >= 1 && self.cluster_min_members >= 2, "side_channel.min_variants", "at least 2 (min_repeats too; max_prompts at least 1; cluster_min_members at least 2)"),
        ];
        for (ok, key, what) in checks {
            if !ok {
                return Err(SettingsError::Invalid { key, what });
            }
        }
        let b = &self.bulk;
        let storage: [(bool, &'static str, &'static str); 3] = [
            (
                b.baseline_buckets >= 1 && b.warmup_buckets <= b.baseline_buckets,
                "bulk_download.warmup_buckets",
                "at most baseline_buckets (at least 1)",
            ),
            (b.ratio >= 1.0, "bulk_download.ratio", "at least 1"),
            (
                self.weights
                    .allowed_principals
                    .iter()
                    .all(|p| !p.trim().is_empty()),
                "weights_download.allowed_principals",
                "names that are not empty",
            ),
        ];
        for (ok, key, what) in storage {
            if !ok {
                return Err(SettingsError::Invalid { key, what });
            }
        }
        Ok(())
    }
}
