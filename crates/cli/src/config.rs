//! The configuration file (`--config`): options as the user wrote them (every key optional,
//! unknown keys rejected with their line), resolved with the command line into settings.

mod exceptions;
pub mod respond;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;

pub use exceptions::{resolve_exceptions, ExceptionOptions};
use modelward_detectors::detectors::model_copy::{Examiner, StorageMirror};

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
    /// `[gateway]`: the inline gateway (docs/gateway.md).
    pub gateway: Option<modelward_gateway::settings::Options>,
    /// `[[outputs]]`: where `hunt` sends alerts (docs/outputs.md).
    pub outputs: Option<Vec<modelward_sinks::OutputOptions>>,
    /// `[watch]`: live detection (docs/watch.md).
    pub watch: Option<crate::watch::WatchOptions>,
}

/// `[behavior]`: the behavioural analyzers' thresholds (docs/behavior.md), read by the
/// behavior crate's settings (every key optional, unknown keys rejected). The analyzers are
/// disabled by code in `[detectors] disable`.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct BehaviorOptions(pub modelward_behavior::Settings);

impl BehaviorOptions {
    /// The analyzers' settings, with the analyzers `disabled` names off.
    pub fn settings(self, disabled: &[String]) -> modelward_behavior::Settings {
        modelward_behavior::Settings {
            disabled: disabled.to_vec(),
            ..self.0
        }
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
    /// The jailbreak classifier's reporting probability (MW-AI-0003 where no shield looked).
    pub jailbreak_classifier_threshold: Option<f64>,
    /// `[[detectors.storage_mirrors]]`: local mirrors of buckets whose objects the storage
    /// logs name, compared with the registered models' fingerprints (MW-AI-0021).
    pub storage_mirrors: Option<Vec<MirrorOptions>>,
    /// The database holding the fingerprints (`fingerprint build`), relative to this file;
    /// default `modelward.db`.
    pub fingerprint_db: Option<PathBuf>,
    /// The environment variable holding the fingerprints' key (default
    /// `MODELWARD_FINGERPRINT_KEY`).
    pub fingerprint_key_env: Option<String>,
}

/// One bucket's local mirror.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorOptions {
    /// The bucket (or Azure container), a `*` glob, also matched as `account/bucket`.
    pub bucket: String,
    /// The folder holding the bucket's objects under their keys (`{bucket}`: the bucket's
    /// name), relative to this file.
    pub path: PathBuf,
}

impl DetectorOptions {
    /// The detectors' settings. With storage mirrors, the fingerprints of `fingerprint_db`
    /// are loaded for the model-copy detector (an error when there are none of the key).
    pub fn settings(self) -> Result<modelward_detectors::Settings> {
        let mirrors: Vec<StorageMirror> = self
            .storage_mirrors
            .unwrap_or_default()
            .into_iter()
            .map(|m| StorageMirror {
                bucket: m.bucket,
                path: m.path,
            })
            .collect();
        let copy_examiner = if mirrors.is_empty() {
            None
        } else {
            let db = self
                .fingerprint_db
                .unwrap_or_else(|| PathBuf::from("modelward.db"));
            let registry = crate::copies::registry(&db, self.fingerprint_key_env, None, false)
                .context("[detectors] storage_mirrors (MW-AI-0021)")?;
            Some(Examiner(std::sync::Arc::new(
                crate::copies::MirrorExaminer::new(registry),
            )))
        };
        Ok(modelward_detectors::Settings {
            disabled: self.disable.unwrap_or_default(),
            tor_exit_lists: self.tor_exit_lists.unwrap_or_default(),
            user_agent_lists: self.user_agent_lists.unwrap_or_default(),
            sensitive_data_entities: self.sensitive_data_entities,
            phishing_feeds: self.phishing_feeds.unwrap_or_default(),
            suspicious_ip_lists: self.suspicious_ip_lists.unwrap_or_default(),
            gitleaks_config: self.gitleaks_config,
            jailbreak_threshold: self.jailbreak_threshold,
            jailbreak_classifier_threshold: self.jailbreak_classifier_threshold,
            storage_mirrors: mirrors,
            copy_examiner,
        })
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
    /// Bytes a YAML file may expand to through its aliases (docs/configuration.md).
    pub max_yaml_bytes: Option<usize>,
    /// How deeply YAML collections may nest.
    pub max_yaml_depth: Option<usize>,
    /// How deeply an ES|QL expression may nest.
    pub max_expression_depth: Option<usize>,
    /// Groups one Sigma correlation keeps (the least recently seen are evicted).
    pub max_correlation_groups: Option<usize>,
    /// Bytes of compiled regexes the whole rule set may hold.
    pub regex_budget: Option<usize>,
}

impl RulesOptions {
    /// The limits rules load within: the defaults, with what the file sets.
    pub fn limits(&self) -> modelward_rule::Limits {
        let d = modelward_rule::Limits::default();
        modelward_rule::Limits {
            max_yaml_bytes: self.max_yaml_bytes.unwrap_or(d.max_yaml_bytes),
            max_yaml_depth: self.max_yaml_depth.unwrap_or(d.max_yaml_depth),
            max_expression_depth: self.max_expression_depth.unwrap_or(d.max_expression_depth),
            max_correlation_groups: self
                .max_correlation_groups
                .unwrap_or(d.max_correlation_groups),
            regex_budget: self.regex_budget.unwrap_or(d.regex_budget),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputOptions {
    pub source: Option<String>,
    /// The fields an event's time is read from, the first that holds one.
    pub timestamp_fields: Option<Vec<String>>,
    pub max_record_bytes: Option<usize>,
    /// How far past the wall clock an event's time may be, in seconds, before it is not
    /// believed (docs/configuration.md#limits).
    pub max_future_skew_secs: Option<i64>,
}

impl InputOptions {
    /// `max_future_skew_secs` in milliseconds (`None`: the engine's default).
    pub fn max_future_skew_ms(&self) -> Option<i64> {
        self.max_future_skew_secs
            .map(|s| s.max(0).saturating_mul(1000))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HuntOptions {
    pub every_execution: Option<bool>,
    pub threads: Option<usize>,
    /// Rows, matches and calls a hunt lets wait for their windows before it closes windows
    /// while reading (default [`crate::hunt::HOLD_WINDOWS`]); docs/configuration.md.
    pub hold: Option<usize>,
    /// How far behind the latest event read windows are closed then (default "1h").
    pub lateness: Option<String>,
}

impl Options {
    pub fn load(path: &Path) -> Result<Options> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut options: Options = match toml::from_str(&text) {
            Ok(o) => o,
            Err(e) => {
                let (line, column) = e.span().map_or((1, 1), |s| line_col(&text, s.start));
                bail!(
                    "{}:{line}:{column}: {}{}",
                    path.display(),
                    e.message(),
                    modelward_event::suggest::for_unknown_name(e.message())
                );
            }
        };
        // Relative paths are relative to the file.
        let mut paths: Vec<&mut PathBuf> = Vec::new();
        if let Some(d) = options.detectors.as_mut() {
            paths.extend(
                d.tor_exit_lists
                    .iter_mut()
                    .chain(d.user_agent_lists.iter_mut())
                    .chain(d.phishing_feeds.iter_mut())
                    .chain(d.suspicious_ip_lists.iter_mut())
                    .flatten()
                    .chain(d.gitleaks_config.iter_mut())
                    .chain(d.fingerprint_db.iter_mut())
                    .chain(d.storage_mirrors.iter_mut().flatten().map(|m| &mut m.path)),
            );
        }
        if let Some(r) = options.respond.as_mut() {
            paths.extend(r.playbook.iter_mut().chain(r.inventory.iter_mut()));
        }
        if let Some(g) = options.gateway.as_mut() {
            paths.extend(
                g.database
                    .iter_mut()
                    .chain(g.log.iter_mut())
                    .chain(g.detect_state.iter_mut())
                    .chain(g.tls_cert.iter_mut())
                    .chain(g.tls_key.iter_mut())
                    .chain(
                        g.upstreams
                            .iter_mut()
                            .flatten()
                            .flat_map(|u| u.ca_file.iter_mut()),
                    ),
            );
        }
        if let Some(w) = options.watch.as_mut() {
            paths.extend(w.paths_mut());
        }
        for o in options.outputs.iter_mut().flatten() {
            paths.extend(o.spool.iter_mut().chain(o.ca_file.iter_mut()));
        }
        if let Some(rules) = options.rules.as_mut() {
            paths.extend(
                rules
                    .paths
                    .iter_mut()
                    .chain(rules.pipelines.iter_mut())
                    .flatten(),
            );
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for p in paths {
            if p.is_relative() {
                *p = base.join(&*p);
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
    use modelward_behavior::Span;

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
        // The options of a b.toml holding `text`.
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            Options::load(&path)
        };
        let error = |text: &str| load(text).unwrap_err().to_string();
        let settings = |text: &str| load(text).unwrap().behavior.unwrap().settings(&[]);
        let o = load(
            "[behavior]\nmax_principals = 10\n[behavior.recurring_requests]\nmin_count = 20\nwindow = \"5m\"\n[behavior.volume_anomaly]\nratio = 8.0\n",
        )
        .unwrap();
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
        let e = error("[behavior.access_anomaly]\nwarmup = \"1 fortnight\"\n");
        assert!(e.contains("b.toml:2:"), "{e}");
        let e = error("[behavior.volume_anomaly]\nbuckets = 3\n");
        assert!(e.contains("b.toml:2:1") && e.contains("buckets"), "{e}");
        // The theft analyzers' sections.
        let s = settings(
            "[behavior]\nprincipal = \"api_key\"\n[behavior.logit_extraction]\nmin_calls = 50\nwindow = \"6h\"\n[behavior.distillation]\npeer_ratio = 20.0\nslow_min_calls = 500\n[behavior.prada]\ndelta = 0.95\n[behavior.query_flood]\nmin_matches = 80\n[behavior.side_channel]\nmin_chars = 4096\n[behavior.distributed_extraction]\nmin_members = 3\n",
        );
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
        let e = error("[behavior]\nprincipal = \"tenant\"\n");
        assert!(e.contains("b.toml:2:") && e.contains("tenant"), "{e}");
        // The storage analyzers' sections.
        let s = settings(
            "[behavior.weights_download]\nallowed_principals = [\"arn:aws:sts::1:assumed-role/Serving/*\"]\nper_bucket = false\nwarmup = \"3d\"\n[behavior.bulk_download]\nmin_bytes = 5000000000\nratio = 20.0\n",
        );
        assert_eq!(s.theft.weights.allowed_principals.len(), 1);
        assert!(!s.theft.weights.per_bucket);
        assert_eq!(s.theft.weights.warmup.0, 3 * 86_400_000);
        assert_eq!(
            (s.theft.bulk.min_bytes, s.theft.bulk.ratio),
            (5_000_000_000, 20.0)
        );
        let e = error("[behavior.bulk_download]\nmax_bytes = 1\n");
        assert!(e.contains("max_bytes"), "{e}");
        let e = error("[behavior.prada]\nalpha = 0.05\n");
        assert!(e.contains("b.toml:2:1") && e.contains("alpha"), "{e}");
    }
}
