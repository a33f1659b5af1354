//! The analyzers' thresholds, windows and warm-ups, with the defaults documented in
//! `docs/behavior.md`.
//!
//! [`Settings`] reads itself from the configuration file's `[behavior]` section
//! (docs/configuration.md): one table per analyzer, every key optional (the `Default`
//! impls' values), durations as [`Span`]s (`"10m"`), unknown keys rejected. The values are
//! checked by [`Settings::validate`], not when they are read.

use serde::{Deserialize, Deserializer};

/// Something wrong with the settings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    #[error("invalid duration {0:?}: expected a number and a unit (ms, s, m, h, d), e.g. \"10m\"")]
    Duration(String),
    #[error("{key} must be {what}")]
    Invalid {
        key: &'static str,
        what: &'static str,
    },
}

/// A duration in milliseconds, written as `"500ms"`, `"30s"`, `"10m"`, `"1h"` or `"7d"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub i64);

impl std::str::FromStr for Span {
    type Err = SettingsError;

    fn from_str(text: &str) -> Result<Span, SettingsError> {
        let t = text.trim();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(split);
        let n: i64 = n
            .parse()
            .map_err(|_| SettingsError::Duration(text.into()))?;
        let scale = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(SettingsError::Duration(text.into())),
        };
        n.checked_mul(scale)
            .filter(|ms| *ms > 0)
            .map(Span)
            .ok_or_else(|| SettingsError::Duration(text.into()))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Recurring identical requests (MW-AI-0012).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecurringSettings {
    /// Identical requests by one principal within `window` that raise the alert.
    pub min_count: u32,
    pub window: Span,
    /// Distinct prompts tracked per principal at once.
    pub max_prompts: usize,
}

/// Volume anomaly (MW-AI-0013).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeSettings {
    pub bucket: Span,
    /// The principal's previous active buckets the baseline holds.
    pub baseline_buckets: usize,
    /// Active buckets a principal needs before it may alert.
    pub warmup_buckets: usize,
    /// Calls in a bucket below which it never alerts on calls.
    pub min_calls: u64,
    /// Tokens in a bucket below which it never alerts on tokens.
    pub min_tokens: u64,
    /// At least this many times the baseline median.
    pub ratio: f64,
    /// And above the median by this many (scaled) median absolute deviations.
    pub mad_factor: f64,
}

/// Access anomaly (MW-AI-0014).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessSettings {
    /// Calls a principal needs before a new value is an anomaly.
    pub warmup_calls: u64,
    /// Time since a principal was first seen before a new value is an anomaly.
    pub warmup: Span,
    /// Values of one kind a baseline holds; a principal with more is too varied to judge.
    pub max_values: usize,
}

/// Sensitive-data anomaly (MW-AI-0015).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensitiveSettings {
    pub bucket: Span,
    pub baseline_buckets: usize,
    /// Calls in the baseline before the principal may alert.
    pub warmup_calls: u64,
    /// Responses with sensitive data in a bucket below which it never alerts.
    pub min_sensitive: u64,
    /// At least this many times what the baseline rate predicts.
    pub ratio: f64,
}

/// What the analyzers profile: whose behaviour a call is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// The first present of `user.id`, `api_key.id`, the Azure object or subscription id,
    /// `principal`, `source.ip`.
    #[default]
    Auto,
    /// `api_key.id` first, then as `auto`.
    ApiKey,
    /// The client address first (`source.ip`, `client.ip`, Azure's caller address), then as
    /// `auto`.
    Ip,
}

/// Every analyzer's settings. As read from `[behavior]`, `disabled` is empty: analyzers are
/// disabled by code with the detectors (`[detectors] disable`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(from = "File")]
pub struct Settings {
    /// Codes of analyzers not to run.
    pub disabled: Vec<String>,
    /// Whose behaviour a call is.
    pub principal: PrincipalKind,
    /// Principals each analyzer profiles at once.
    pub max_principals: usize,
    pub recurring: RecurringSettings,
    pub volume: VolumeSettings,
    pub access: AccessSettings,
    /// Anomalous operation on an AI resource (MW-AI-0022): the control-plane baseline.
    pub operation: AccessSettings,
    pub sensitive: SensitiveSettings,
    /// The theft analyzers (MW-TH-…).
    pub theft: crate::TheftSettings,
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

impl Default for RecurringSettings {
    fn default() -> RecurringSettings {
        RecurringSettings {
            min_count: 50,
            window: Span(10 * MINUTE),
            max_prompts: 32,
        }
    }
}

impl Default for VolumeSettings {
    fn default() -> VolumeSettings {
        VolumeSettings {
            bucket: Span(HOUR),
            baseline_buckets: 24,
            warmup_buckets: 6,
            min_calls: 100,
            min_tokens: 200_000,
            ratio: 5.0,
            mad_factor: 6.0,
        }
    }
}

impl Default for AccessSettings {
    fn default() -> AccessSettings {
        AccessSettings {
            warmup_calls: 20,
            warmup: Span(24 * HOUR),
            max_values: 32,
        }
    }
}

impl Default for SensitiveSettings {
    fn default() -> SensitiveSettings {
        SensitiveSettings {
            bucket: Span(HOUR),
            baseline_buckets: 24,
            warmup_calls: 50,
            min_sensitive: 5,
            ratio: 3.0,
        }
    }
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            disabled: Vec::new(),
            principal: PrincipalKind::Auto,
            max_principals: 50_000,
            recurring: RecurringSettings::default(),
            volume: VolumeSettings::default(),
            access: AccessSettings::default(),
            operation: AccessSettings {
                warmup_calls: 5,
                ..AccessSettings::default()
            },
            sensitive: SensitiveSettings::default(),
            theft: crate::TheftSettings::default(),
        }
    }
}

/// The configuration file's `[behavior]` section: the keys of [`Settings`] with one table per
/// analyzer, named as the documentation names them (the theft analyzers' beside the others).
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct File {
    principal: PrincipalKind,
    max_principals: usize,
    recurring_requests: RecurringSettings,
    volume_anomaly: VolumeSettings,
    access_anomaly: AccessSettings,
    anomalous_operation: AccessSettings,
    sensitive_data_anomaly: SensitiveSettings,
    logit_extraction: crate::LogitSettings,
    distillation: crate::DistillationSettings,
    prada: crate::PradaSettings,
    query_flood: crate::FloodSettings,
    side_channel: crate::SideChannelSettings,
    distributed_extraction: Distributed,
    weights_download: crate::WeightsSettings,
    bulk_download: crate::BulkSettings,
}

/// `[behavior.distributed_extraction]`: its other thresholds are logit extraction's and
/// distillation's.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Distributed {
    /// [`crate::TheftSettings::cluster_min_members`].
    min_members: usize,
}

impl Default for Distributed {
    fn default() -> Distributed {
        Distributed {
            min_members: crate::TheftSettings::default().cluster_min_members,
        }
    }
}

impl Default for File {
    /// What the file leaves out: [`Settings::default`].
    fn default() -> File {
        let s = Settings::default();
        let t = s.theft;
        File {
            principal: s.principal,
            max_principals: s.max_principals,
            recurring_requests: s.recurring,
            volume_anomaly: s.volume,
            access_anomaly: s.access,
            anomalous_operation: s.operation,
            sensitive_data_anomaly: s.sensitive,
            logit_extraction: t.logit,
            distillation: t.distillation,
            prada: t.prada,
            query_flood: t.flood,
            side_channel: t.side_channel,
            distributed_extraction: Distributed {
                min_members: t.cluster_min_members,
            },
            weights_download: t.weights,
            bulk_download: t.bulk,
        }
    }
}

impl From<File> for Settings {
    fn from(f: File) -> Settings {
        Settings {
            disabled: Vec::new(),
            principal: f.principal,
            max_principals: f.max_principals,
            recurring: f.recurring_requests,
            volume: f.volume_anomaly,
            access: f.access_anomaly,
            operation: f.anomalous_operation,
            sensitive: f.sensitive_data_anomaly,
            theft: crate::TheftSettings {
                logit: f.logit_extraction,
                distillation: f.distillation,
                prada: f.prada,
                flood: f.query_flood,
                side_channel: f.side_channel,
                cluster_min_members: f.distributed_extraction.min_members,
                weights: f.weights_download,
                bulk: f.bulk_download,
            },
        }
    }
}

impl Settings {
    /// Checks the values are usable.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let checks: [(bool, &'static str, &'static str); 11] = [
            (self.max_principals >= 1, "max_principals", "at least 1"),
            (
                self.recurring.min_count >= 2,
                "recurring_requests.min_count",
                "at least 2",
            ),
            (
                self.recurring.max_prompts >= 1,
                "recurring_requests.max_prompts",
                "at least 1",
            ),
            (
                self.volume.baseline_buckets >= 1,
                "volume_anomaly.baseline_buckets",
                "at least 1",
            ),
            (
                self.volume.warmup_buckets <= self.volume.baseline_buckets,
                "volume_anomaly.warmup_buckets",
                "at most baseline_buckets",
            ),
            (
                self.volume.ratio >= 1.0,
                "volume_anomaly.ratio",
                "at least 1",
            ),
            (
                self.volume.mad_factor >= 0.0,
                "volume_anomaly.mad_factor",
                "at least 0",
            ),
            (
                self.access.max_values >= 1,
                "access_anomaly.max_values",
                "at least 1",
            ),
            (
                self.operation.max_values >= 1,
                "anomalous_operation.max_values",
                "at least 1",
            ),
            (
                self.sensitive.baseline_buckets >= 1,
                "sensitive_data_anomaly.baseline_buckets",
                "at least 1",
            ),
            (
                self.sensitive.ratio >= 1.0,
                "sensitive_data_anomaly.ratio",
                "at least 1",
            ),
        ];
        for (ok, key, what) in checks {
            if !ok {
                return Err(SettingsError::Invalid { key, what });
            }
        }
        self.theft.validate()
    }

    pub fn enabled(&self, code: &str) -> bool {
        !self.disabled.iter().any(|d| d == code)
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = self.0;
        for (unit, scale) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1_000),
        ] {
            if ms % scale == 0 {
                return write!(f, "{}{unit}", ms / scale);
            }
        }
        write!(f, "{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!("10m".parse(), Ok(Span(600_000)));
        assert_eq!("1h".parse(), Ok(Span(3_600_000)));
        assert_eq!(" 7d ".parse(), Ok(Span(7 * 86_400_000)));
        assert_eq!("250ms".parse(), Ok(Span(250)));
        for bad in ["", "10", "m", "0s", "-1s", "1y", "99999999999999999999d"] {
            assert!(bad.parse::<Span>().is_err(), "{bad}");
        }
        assert!(Settings::default().validate().is_ok());
    }

    fn read(text: &str) -> Result<Settings, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn read_from_the_behavior_section_with_the_defaults_for_what_it_leaves_out() {
        assert_eq!(read("").unwrap(), Settings::default());
        let s = read(
            "max_principals = 10\n[recurring_requests]\nmin_count = 20\nwindow = \"5m\"\n\
             [distributed_extraction]\nmin_members = 3\n[weights_download]\nwarmup = \"3d\"\n\
             allowed_principals = [\"svc-*\"]\n",
        )
        .unwrap();
        let mut expected = Settings {
            max_principals: 10,
            ..Settings::default()
        };
        expected.recurring.min_count = 20;
        expected.recurring.window = Span(300_000);
        expected.theft.cluster_min_members = 3;
        expected.theft.weights.warmup = Span(3 * 86_400_000);
        expected.theft.weights.allowed_principals = vec!["svc-*".into()];
        assert_eq!(s, expected);
        // An empty table is its defaults.
        assert_eq!(
            read("[distributed_extraction]\n[bulk_download]\n").unwrap(),
            Settings::default()
        );
    }

    #[test]
    fn unknown_keys_bad_durations_and_values_are_errors_where_they_are() {
        let e = read("[volume_anomaly]\nbuckets = 3\n").unwrap_err();
        assert!(e.message().contains("buckets"), "{e}");
        assert_eq!(e.span().map(|s| s.start), Some(17));
        for bad in [
            "disabled = [\"MW-AI-0012\"]",
            "recurring = {}",
            "theft = {}",
            "[distributed_extraction]\ncluster_min_members = 2",
            "[prada]\nalpha = 0.05",
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        let e = read("[access_anomaly]\nwarmup = \"1 fortnight\"\n").unwrap_err();
        assert!(e.message().contains("invalid duration"), "{e}");
        assert!(read("principal = \"tenant\"").is_err());
        // Values are checked when the analyzers are built, not when they are read.
        let s = read("[volume_anomaly]\nratio = 0.5\n").unwrap();
        assert_eq!(
            s.validate(),
            Err(SettingsError::Invalid {
                key: "volume_anomaly.ratio",
                what: "at least 1"
            })
        );
    }

    /// The examples of docs/configuration.md and docs/behavior.md give every key its default.
    #[test]
    fn the_documented_examples_are_the_defaults() {
        for (name, doc) in [
            (
                "configuration.md",
                include_str!("../../../docs/configuration.md"),
            ),
            ("behavior.md", include_str!("../../../docs/behavior.md")),
        ] {
            let example = doc
                .split("```toml\n")
                .skip(1)
                .filter_map(|b| b.split("```").next())
                .find(|b| b.contains("[behavior]"))
                .unwrap_or_else(|| panic!("{name}: no [behavior] example"));
            let mut file: toml::Table = toml::from_str(example).unwrap();
            let section = file.remove("behavior").unwrap();
            let s: Settings = section.try_into().unwrap();
            assert_eq!(s, Settings::default(), "{name}");
        }
    }
}
