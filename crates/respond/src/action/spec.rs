//! How a playbook names an action: `{ action = "rate_limit", target = "principal",
//! requests_per_minute = 10, duration = "24h" }`, checked and turned into a typed [`Action`].

use serde::{Deserialize, Serialize};

use super::{Action, TargetKind};

/// An action as written in a playbook (every parameter optional here; [`ActionSpec::resolve`]
/// says which each action needs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    pub action: String,
    pub target: Option<TargetKind>,
    pub duration: Option<String>,
    pub requests_per_minute: Option<u32>,
    pub strip_logprobs: Option<bool>,
    pub max_top_logprobs: Option<u32>,
    pub noise: Option<f64>,
    pub difficulty_bits: Option<u32>,
    pub recipients: Option<String>,
}

/// A checked action and what it acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionStep {
    pub action: Action,
    pub target: TargetKind,
}

impl ActionSpec {
    /// The typed action, or why the spec is wrong.
    pub fn resolve(&self) -> Result<ActionStep, String> {
        let duration_ms = match &self.duration {
            Some(d) => Some(
                d.parse::<modelward_behavior::Span>()
                    .map_err(|e| format!("`duration`: {e}"))?
                    .0,
            ),
            None => None,
        };
        let need = |what: &str| format!("`{}` needs `{what}`", self.action);
        if duration_ms.is_some() && !matches!(self.action.as_str(), "block" | "rate_limit") {
            return Err(format!(
                "`{}` takes no `duration` (only block and rate_limit expire; lift others by hand)",
                self.action
            ));
        }
        let (action, default_target) = match self.action.as_str() {
            "block" => (Action::Block { duration_ms }, TargetKind::Principal),
            "rate_limit" => {
                let rpm = self
                    .requests_per_minute
                    .ok_or_else(|| need("requests_per_minute"))?;
                if rpm == 0 {
                    return Err("`requests_per_minute` must be at least 1 (use `block`)".into());
                }
                (
                    Action::RateLimit {
                        requests_per_minute: rpm,
                        duration_ms,
                    },
                    TargetKind::Principal,
                )
            }
            "revoke_key" => (Action::RevokeKey, TargetKind::ApiKey),
            "lock_storage" => (Action::LockStorage, TargetKind::Resource),
            "disable_export" => (Action::DisableExport, TargetKind::Resource),
            "freeze_account" => (Action::FreezeAccount, TargetKind::Principal),
            "reduce_output_detail" => (
                Action::ReduceOutputDetail {
                    strip_logprobs: self.strip_logprobs.unwrap_or(true),
                    max_top_logprobs: self.max_top_logprobs,
                },
                TargetKind::Principal,
            ),
            "perturb_output" => {
                let noise = self.noise.unwrap_or(0.01);
                if !(noise.is_finite() && noise > 0.0 && noise <= 1.0) {
                    return Err("`noise` must be in (0, 1]".into());
                }
                (Action::PerturbOutput { noise }, TargetKind::Principal)
            }
            "proof_of_work" => {
                let bits = self.difficulty_bits.unwrap_or(20);
                if !(1..=32).contains(&bits) {
                    return Err("`difficulty_bits` must be 1 to 32".into());
                }
                (
                    Action::ProofOfWork {
                        difficulty_bits: bits,
                    },
                    TargetKind::Principal,
                )
            }
            "preserve_evidence" => (Action::PreserveEvidence { alerts: 0 }, TargetKind::Incident),
            "notify" => (
                Action::Notify {
                    recipients: self.recipients.clone().ok_or_else(|| need("recipients"))?,
                },
                TargetKind::Incident,
            ),
            other => {
                return Err(format!(
                    "unknown action `{other}` (expected one of: {})",
                    Action::KINDS.join(", ")
                ))
            }
        };
        Ok(ActionStep {
            action,
            target: self.target.unwrap_or(default_target),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str) -> ActionSpec {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn specs_resolve_to_typed_actions() {
        let step = spec("action = \"rate_limit\"\nrequests_per_minute = 10\nduration = \"24h\"")
            .resolve()
            .unwrap();
        assert_eq!(
            step.action,
            Action::RateLimit {
                requests_per_minute: 10,
                duration_ms: Some(86_400_000)
            }
        );
        assert_eq!(step.target, TargetKind::Principal);
        let step = spec("action = \"revoke_key\"").resolve().unwrap();
        assert_eq!(step.target, TargetKind::ApiKey);
    }

    #[test]
    fn bad_specs_say_why() {
        let err = spec("action = \"rate_limit\"").resolve().unwrap_err();
        assert!(err.contains("requests_per_minute"), "{err}");
        let err = spec("action = \"nuke\"").resolve().unwrap_err();
        assert!(err.contains("expected one of: block"), "{err}");
        assert!(toml::from_str::<ActionSpec>("action = \"block\"\ncolour = 1").is_err());
    }
}
