//! The configuration file (`--config`): options as the user wrote them (every key optional,
//! unknown keys rejected with their line), resolved with the command line into settings.

mod exceptions;
pub mod respond;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use modelward_behavior::Span;
use serde::Deserialize;

pub use exceptions::{resolve_exceptions, ExceptionOptions};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub rules: Option<RulesOptions>,
    pub input: Option<InputOptions>,
    pub hunt: Option<HuntOptions>,
    pub detectors: Option<DetectorOptions>,
    pub behavior: Option<BehaviorOptions>,
    /// `[[exceptions]]`: approved activity whose alerts are left out.
    pub exceptions: Option<Vec<ExceptionOptions>>,
    /// `[respond]`: incidents, the playbook and its executors.
    pub respond: Option<respond::RespondOptions>,
}

/// `[behavior]`: the behavioural analyzers' thresholds (docs/behavior.md). They are
/// disabled by code in `[detectors] disable`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BehaviorOptions {
    /// Whose behaviour a call is: `auto`, `api_key` or `ip`.
    pub principal: Option<modelward_behavior::PrincipalKind>,
    /// Principals each analyzer profiles at once; the least recently seen are evicted.
    pub max_principals: Option<usize>,
    pub recurring_requests: Option<RecurringOptions>,
    pub volume_anomaly: Option<VolumeOptions>,
    pub access_anomaly: Option<AccessOptions>,
    pub sensitive_data_anomaly: Option<SensitiveOptions>,
    pub logit_extraction: Option<LogitOptions>,
    pub distillation: Option<DistillationOptions>,
    pub prada: Option<PradaOptions>,
    pub query_flood: Option<FloodOptions>,
    pub side_channel: Option<SideChannelOptions>,
    pub distributed_extraction: Option<DistributedOptions>,
    pub weights_download: Option<WeightsOptions>,
    pub bulk_download: Option<BulkOptions>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightsOptions {
    pub warmup_events: Option<u64>,
    pub warmup: Option<Span>,
    pub per_bucket: Option<bool>,
    pub allowed_principals: Option<Vec<String>>,
    pub window: Option<Span>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkOptions {
    pub bucket: Option<Span>,
    pub baseline_buckets: Option<usize>,
    pub warmup_buckets: Option<usize>,
    pub min_bytes: Option<u64>,
    pub min_objects: Option<u64>,
    pub ratio: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistributedOptions {
    pub min_members: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogitOptions {
    pub window: Option<Span>,
    pub max_tokens: Option<u32>,
    pub min_top_logprobs: Option<u8>,
    pub min_bias: Option<f32>,
    pub min_calls: Option<u64>,
    pub min_distinct_tokens: Option<u64>,
    pub max_repeat_share: Option<f64>,
    pub min_halvings: Option<u64>,
    pub max_chains: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillationOptions {
    pub bucket: Option<Span>,
    pub baseline_buckets: Option<usize>,
    pub warmup_buckets: Option<usize>,
    pub min_calls: Option<u64>,
    pub slow_bucket: Option<Span>,
    pub slow_min_calls: Option<u64>,
    pub slow_baseline_buckets: Option<usize>,
    pub slow_warmup_buckets: Option<usize>,
    pub ratio: Option<f64>,
    pub peer_ratio: Option<f64>,
    pub min_peers: Option<usize>,
    pub topic_bits: Option<u32>,
    pub min_breadth: Option<f64>,
    pub max_continuity: Option<f64>,
    pub min_expansion: Option<f64>,
    pub min_reasoning: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PradaOptions {
    pub min_queries: Option<usize>,
    pub max_queries: Option<usize>,
    pub reservoir: Option<usize>,
    pub delta: Option<f64>,
    pub test_every: Option<usize>,
    pub window: Option<Span>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodOptions {
    pub window: Option<Span>,
    pub history: Option<usize>,
    pub match_marks: Option<usize>,
    pub min_matches: Option<u64>,
    pub min_share: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideChannelOptions {
    pub window: Option<Span>,
    pub min_chars: Option<u32>,
    pub min_variants: Option<u64>,
    pub min_repeats: Option<u64>,
    pub max_tokens: Option<u32>,
    pub max_prompts: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurringOptions {
    pub min_count: Option<u32>,
    pub window: Option<Span>,
    pub max_prompts: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeOptions {
    pub bucket: Option<Span>,
    pub baseline_buckets: Option<usize>,
    pub warmup_buckets: Option<usize>,
    pub min_calls: Option<u64>,
    pub min_tokens: Option<u64>,
    pub ratio: Option<f64>,
    pub mad_factor: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessOptions {
    pub warmup_calls: Option<u64>,
    pub warmup: Option<Span>,
    pub max_values: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensitiveOptions {
    pub bucket: Option<Span>,
    pub baseline_buckets: Option<usize>,
    pub warmup_calls: Option<u64>,
    pub min_sensitive: Option<u64>,
    pub ratio: Option<f64>,
}

impl BehaviorOptions {
    /// The analyzers' settings: the defaults where the file says nothing.
    pub fn settings(self, disabled: &[String]) -> modelward_behavior::Settings {
        let mut s = modelward_behavior::Settings {
            disabled: disabled.to_vec(),
            ..Default::default()
        };
        if let Some(n) = self.max_principals {
            s.max_principals = n;
        }
        if let Some(p) = self.principal {
            s.principal = p;
        }
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        if let Some(o) = self.recurring_requests {
            set(&mut s.recurring.min_count, o.min_count);
            set(&mut s.recurring.window, o.window);
            set(&mut s.recurring.max_prompts, o.max_prompts);
        }
        if let Some(o) = self.volume_anomaly {
            set(&mut s.volume.bucket, o.bucket);
            set(&mut s.volume.baseline_buckets, o.baseline_buckets);
            set(&mut s.volume.warmup_buckets, o.warmup_buckets);
            set(&mut s.volume.min_calls, o.min_calls);
            set(&mut s.volume.min_tokens, o.min_tokens);
            set(&mut s.volume.ratio, o.ratio);
            set(&mut s.volume.mad_factor, o.mad_factor);
        }
        if let Some(o) = self.access_anomaly {
            set(&mut s.access.warmup_calls, o.warmup_calls);
            set(&mut s.access.warmup, o.warmup);
            set(&mut s.access.max_values, o.max_values);
        }
        if let Some(o) = self.sensitive_data_anomaly {
            set(&mut s.sensitive.bucket, o.bucket);
            set(&mut s.sensitive.baseline_buckets, o.baseline_buckets);
            set(&mut s.sensitive.warmup_calls, o.warmup_calls);
            set(&mut s.sensitive.min_sensitive, o.min_sensitive);
            set(&mut s.sensitive.ratio, o.ratio);
        }
        let t = &mut s.theft;
        if let Some(o) = self.logit_extraction {
            set(&mut t.logit.window, o.window);
            set(&mut t.logit.max_tokens, o.max_tokens);
            set(&mut t.logit.min_top_logprobs, o.min_top_logprobs);
            set(&mut t.logit.min_bias, o.min_bias);
            set(&mut t.logit.min_calls, o.min_calls);
            set(&mut t.logit.min_distinct_tokens, o.min_distinct_tokens);
            set(&mut t.logit.max_repeat_share, o.max_repeat_share);
            set(&mut t.logit.min_halvings, o.min_halvings);
            set(&mut t.logit.max_chains, o.max_chains);
        }
        if let Some(o) = self.distillation {
            let d = &mut t.distillation;
            set(&mut d.bucket, o.bucket);
            set(&mut d.baseline_buckets, o.baseline_buckets);
            set(&mut d.warmup_buckets, o.warmup_buckets);
            set(&mut d.min_calls, o.min_calls);
            set(&mut d.slow_bucket, o.slow_bucket);
            set(&mut d.slow_min_calls, o.slow_min_calls);
            set(&mut d.slow_baseline_buckets, o.slow_baseline_buckets);
            set(&mut d.slow_warmup_buckets, o.slow_warmup_buckets);
            set(&mut d.ratio, o.ratio);
            set(&mut d.peer_ratio, o.peer_ratio);
            set(&mut d.min_peers, o.min_peers);
            set(&mut d.topic_bits, o.topic_bits);
            set(&mut d.min_breadth, o.min_breadth);
            set(&mut d.max_continuity, o.max_continuity);
            set(&mut d.min_expansion, o.min_expansion);
            set(&mut d.min_reasoning, o.min_reasoning);
        }
        if let Some(o) = self.prada {
            set(&mut t.prada.min_queries, o.min_queries);
            set(&mut t.prada.max_queries, o.max_queries);
            set(&mut t.prada.reservoir, o.reservoir);
            set(&mut t.prada.delta, o.delta);
            set(&mut t.prada.test_every, o.test_every);
            set(&mut t.prada.window, o.window);
        }
        if let Some(o) = self.query_flood {
            set(&mut t.flood.window, o.window);
            set(&mut t.flood.history, o.history);
            set(&mut t.flood.match_marks, o.match_marks);
            set(&mut t.flood.min_matches, o.min_matches);
            set(&mut t.flood.min_share, o.min_share);
        }
        if let Some(o) = self.side_channel {
            let c = &mut t.side_channel;
            set(&mut c.window, o.window);
            set(&mut c.min_chars, o.min_chars);
            set(&mut c.min_variants, o.min_variants);
            set(&mut c.min_repeats, o.min_repeats);
            set(&mut c.max_tokens, o.max_tokens);
            set(&mut c.max_prompts, o.max_prompts);
        }
        if let Some(o) = self.distributed_extraction {
            set(&mut t.cluster_min_members, o.min_members);
        }
        if let Some(o) = self.weights_download {
            set(&mut t.weights.warmup_events, o.warmup_events);
            set(&mut t.weights.warmup, o.warmup);
            set(&mut t.weights.per_bucket, o.per_bucket);
            set(&mut t.weights.allowed_principals, o.allowed_principals);
            set(&mut t.weights.window, o.window);
        }
        if let Some(o) = self.bulk_download {
            set(&mut t.bulk.bucket, o.bucket);
            set(&mut t.bulk.baseline_buckets, o.baseline_buckets);
            set(&mut t.bulk.warmup_buckets, o.warmup_buckets);
            set(&mut t.bulk.min_bytes, o.min_bytes);
            set(&mut t.bulk.min_objects, o.min_objects);
            set(&mut t.bulk.ratio, o.ratio);
        }
        s
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectorOptions {
    /// Codes of detectors not to run.
    pub disable: Option<Vec<String>>,
    /// Tor exit lists (bulk list or TorDNSEL `exit-addresses`), relative to this file.
    pub tor_exit_lists: Option<Vec<PathBuf>>,
    /// User-agent lists (CSV `pattern,tool,severity`), relative to this file.
    pub user_agent_lists: Option<Vec<PathBuf>>,
    /// Entities the sensitive-data detector looks for (default: all but email and phone).
    pub sensitive_data_entities: Option<Vec<String>>,
    /// Phishing feeds (OpenPhish, PhishTank, URLhaus, domain lists), relative to this file.
    pub phishing_feeds: Option<Vec<PathBuf>>,
    /// Threat-intelligence IP lists (addresses and CIDR ranges), relative to this file.
    pub suspicious_ip_lists: Option<Vec<PathBuf>>,
    /// A gitleaks configuration whose rules the credential detector adds, relative to this file.
    pub gitleaks_config: Option<PathBuf>,
    /// The jailbreak heuristic's reporting threshold (MW-AI-0003 where no shield looked).
    pub jailbreak_threshold: Option<u32>,
}

impl DetectorOptions {
    /// The detectors' settings.
    pub fn settings(self) -> modelward_detectors::Settings {
        modelward_detectors::Settings {
            disabled: self.disable.unwrap_or_default(),
            tor_exit_lists: self.tor_exit_lists.unwrap_or_default(),
            user_agent_lists: self.user_agent_lists.unwrap_or_default(),
            sensitive_data_entities: self.sensitive_data_entities,
            phishing_feeds: self.phishing_feeds.unwrap_or_default(),
            suspicious_ip_lists: self.suspicious_ip_lists.unwrap_or_default(),
            gitleaks_config: self.gitleaks_config,
            jailbreak_threshold: self.jailbreak_threshold,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesOptions {
    /// Rule files and directories, relative to the configuration file.
    pub paths: Option<Vec<PathBuf>>,
    /// Load the built-in pack (default true).
    pub builtin: Option<bool>,
    /// Sigma processing pipelines, relative to the configuration file.
    pub pipelines: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    pub source: Option<String>,
    pub max_record_bytes: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuntOptions {
    pub every_execution: Option<bool>,
    pub threads: Option<usize>,
}

impl Options {
    pub fn load(path: &Path) -> Result<Options> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut options: Options = match toml::from_str(&text) {
            Ok(o) => o,
            Err(e) => {
                let (line, column) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
                bail!("{}:{line}:{column}: {}", path.display(), e.message());
            }
        };
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(d) = options.detectors.as_mut() {
            for p in d
                .tor_exit_lists
                .iter_mut()
                .chain(d.user_agent_lists.iter_mut())
                .chain(d.phishing_feeds.iter_mut())
                .chain(d.suspicious_ip_lists.iter_mut())
                .flatten()
                .chain(d.gitleaks_config.iter_mut())
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        if let Some(rules) = options.rules.as_mut() {
            for p in rules
                .paths
                .iter_mut()
                .chain(rules.pipelines.iter_mut())
                .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
        }
        Ok(options)
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_errors_with_their_line() {
        let dir = std::env::temp_dir().join(format!("mw-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "[hunt]\nthreads = 2\ncolour = true\n").unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("c.toml:3:1"), "{e}");
        assert!(e.contains("colour"), "{e}");
        std::fs::write(&path, "[rules]\npaths = [\"r\"]\nbuiltin = false\n").unwrap();
        let o = Options::load(&path).unwrap();
        assert_eq!(o.rules.unwrap().paths.unwrap(), vec![dir.join("r")]);
    }

    #[test]
    fn behavior_section_resolves_and_rejects_unknown_keys_and_bad_spans() {
        let dir = std::env::temp_dir().join(format!("mw-config-b-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.toml");
        std::fs::write(
            &path,
            "[behavior]\nmax_principals = 10\n[behavior.recurring_requests]\nmin_count = 20\nwindow = \"5m\"\n[behavior.volume_anomaly]\nratio = 8.0\n",
        )
        .unwrap();
        let o = Options::load(&path).unwrap();
        let s = o.behavior.unwrap().settings(&["MW-AI-0014".to_string()]);
        assert_eq!(s.max_principals, 10);
        assert_eq!(s.recurring.min_count, 20);
        assert_eq!(s.recurring.window, Span(300_000));
        assert_eq!(s.volume.ratio, 8.0);
        assert_eq!(
            s.volume.bucket,
            modelward_behavior::Settings::default().volume.bucket
        );
        assert!(!s.enabled("MW-AI-0014"));
        std::fs::write(
            &path,
            "[behavior.access_anomaly]\nwarmup = \"1 fortnight\"\n",
        )
        .unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("b.toml:2:"), "{e}");
        std::fs::write(&path, "[behavior.volume_anomaly]\nbuckets = 3\n").unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("b.toml:2:1") && e.contains("buckets"), "{e}");
        // The theft analyzers' sections.
        std::fs::write(
            &path,
            "[behavior]\nprincipal = \"api_key\"\n[behavior.logit_extraction]\nmin_calls = 50\nwindow = \"6h\"\n[behavior.distillation]\npeer_ratio = 20.0\nslow_min_calls = 500\n[behavior.prada]\ndelta = 0.95\n[behavior.query_flood]\nmin_matches = 80\n[behavior.side_channel]\nmin_chars = 4096\n[behavior.distributed_extraction]\nmin_members = 3\n",
        )
        .unwrap();
        let s = Options::load(&path)
            .unwrap()
            .behavior
            .unwrap()
            .settings(&[]);
        assert_eq!(s.principal, modelward_behavior::PrincipalKind::ApiKey);
        assert_eq!(s.theft.logit.min_calls, 50);
        assert_eq!(s.theft.logit.window, Span(6 * 3_600_000));
        assert_eq!(s.theft.distillation.peer_ratio, 20.0);
        assert_eq!(s.theft.prada.delta, 0.95);
        assert_eq!(s.theft.flood.min_matches, 80);
        assert_eq!(s.theft.side_channel.min_chars, 4096);
        assert_eq!(s.theft.distillation.slow_min_calls, 500);
        assert_eq!(s.theft.cluster_min_members, 3);
        assert!(s.validate().is_ok());
        std::fs::write(&path, "[behavior]\nprincipal = \"tenant\"\n").unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("b.toml:2:") && e.contains("tenant"), "{e}");
        // The storage analyzers' sections.
        std::fs::write(
            &path,
            "[behavior.weights_download]\nallowed_principals = [\"arn:aws:sts::1:assumed-role/Serving/*\"]\nper_bucket = false\nwarmup = \"3d\"\n[behavior.bulk_download]\nmin_bytes = 5000000000\nratio = 20.0\n",
        )
        .unwrap();
        let s = Options::load(&path)
            .unwrap()
            .behavior
            .unwrap()
            .settings(&[]);
        assert_eq!(s.theft.weights.allowed_principals.len(), 1);
        assert!(!s.theft.weights.per_bucket);
        assert_eq!(s.theft.weights.warmup.0, 3 * 86_400_000);
        assert_eq!(
            (s.theft.bulk.min_bytes, s.theft.bulk.ratio),
            (5_000_000_000, 20.0)
        );
        std::fs::write(&path, "[behavior.bulk_download]\nmax_bytes = 1\n").unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("max_bytes"), "{e}");
        std::fs::write(&path, "[behavior.prada]\nalpha = 0.05\n").unwrap();
        let e = Options::load(&path).unwrap_err().to_string();
        assert!(e.contains("b.toml:2:1") && e.contains("alpha"), "{e}");
    }
}
