//! `[respond]`: the incident side (docs/playbooks.md, docs/incidents.md): the playbook, the
//! organisation (who is internal, approved, regulated), grouping, and the executors that
//! carry out containment actions.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Result};
use modelward_behavior::Span;
use modelward_respond::action::command::CommandConfig;
use modelward_respond::action::run::{self, Budget};
use modelward_respond::action::webhook::WebhookConfig;
use modelward_respond::analyze::settings::networks;
use modelward_respond::analyze::RespondSettings;
use modelward_respond::grouping::GroupingSettings;
use serde::Deserialize;

/// `[respond]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RespondOptions {
    /// A playbook file in place of the built-in PB-53.
    pub playbook: Option<PathBuf>,
    /// Show actions, carry out none (as `--dry-run`).
    pub dry_run: Option<bool>,
    /// Longest quiet time between two alerts of one incident.
    pub gap: Option<Span>,
    /// Entity kinds that link alerts: principal, api_key, source.ip, resource, model.
    pub link_by: Option<Vec<String>>,
    pub internal_principals: Option<Vec<String>>,
    pub internal_networks: Option<Vec<String>>,
    pub approved_principals: Option<Vec<String>>,
    pub regulated_models: Option<Vec<String>>,
    /// Width of the call-volume buckets of triage and the report's chart.
    pub volume_bucket: Option<Span>,
    /// The model inventory database (`inventory scan --db`), for triage's inventory check.
    pub inventory: Option<PathBuf>,
    /// Write blocks, rate limits and output policies for the gateway (default true).
    pub enforcement: Option<bool>,
    /// Run `[[respond.commands]]` (default false: commands are off unless allowed here).
    pub allow_commands: Option<bool>,
    pub webhooks: Option<Vec<WebhookConfig>>,
    pub commands: Option<Vec<CommandConfig>>,
    /// How long one run may spend carrying out actions (`"2m"`).
    pub action_budget: Option<Span>,
    /// Failures in a row after which an executor's other actions of the run wait for the
    /// next run.
    pub circuit_breaker: Option<u32>,
}

/// `[respond]` resolved.
pub struct Respond {
    pub playbook: Option<PathBuf>,
    pub dry_run: bool,
    pub settings: RespondSettings,
    pub inventory: Option<PathBuf>,
    pub enforcement: bool,
    /// As written: a secret may still be `env:NAME` ([`Respond::webhooks`] reads it).
    webhooks: Vec<WebhookConfig>,
    pub commands: Vec<CommandConfig>,
    /// What one run of actions may cost.
    pub budget: Budget,
}

impl Respond {
    /// The webhooks with their secrets, `env:NAME` read from the environment now: only the
    /// commands that carry out actions need them, so the others run without the variable.
    /// For a dry run, which sends nothing, a secret from an unset variable is left as a
    /// placeholder (a dry run works before the secret is deployed).
    pub fn webhooks(&self, dry_run: bool) -> Result<Vec<WebhookConfig>> {
        self.webhooks
            .iter()
            .map(|w| {
                let mut w = w.clone();
                w.secret = match secret(&w.name, &w.secret) {
                    Err(_) if dry_run => "unset".into(),
                    other => other?,
                };
                Ok(w)
            })
            .collect()
    }
}

const LINK_KINDS: [&str; 5] = ["principal", "api_key", "source.ip", "resource", "model"];

impl RespondOptions {
    pub fn resolve(self) -> Result<Respond> {
        let defaults = RespondSettings::default();
        let link_by = self
            .link_by
            .unwrap_or_else(|| GroupingSettings::default().link_by);
        if let Some(bad) = link_by.iter().find(|k| !LINK_KINDS.contains(&k.as_str())) {
            bail!(
                "[respond] link_by: unknown entity kind `{bad}` (expected {})",
                LINK_KINDS.join(", ")
            );
        }
        let webhooks = self.webhooks.unwrap_or_default();
        let commands = self.commands.unwrap_or_default();
        if !commands.is_empty() && self.allow_commands != Some(true) {
            bail!(
                "[respond] lists {} command(s) but commands are off: set `allow_commands = true` to run them",
                commands.len()
            );
        }
        Ok(Respond {
            playbook: self.playbook,
            dry_run: self.dry_run.unwrap_or(false),
            settings: RespondSettings {
                grouping: GroupingSettings {
                    gap_ms: self.gap.map_or(GroupingSettings::default().gap_ms, |s| s.0),
                    link_by,
                },
                internal_principals: self.internal_principals.unwrap_or_default(),
                internal_networks: networks(&self.internal_networks.unwrap_or_default())
                    .map_err(|e| anyhow!("[respond] internal_networks: {e}"))?,
                approved_principals: self.approved_principals.unwrap_or_default(),
                regulated_models: self.regulated_models.unwrap_or_default(),
                volume_bucket_ms: self
                    .volume_bucket
                    .map_or(defaults.volume_bucket_ms, |s| s.0),
            },
            inventory: self.inventory,
            enforcement: self.enforcement.unwrap_or(true),
            webhooks,
            commands,
            budget: Budget {
                total: self.action_budget.map_or(run::DEFAULT_TOTAL, |s| {
                    std::time::Duration::from_millis(u64::try_from(s.0).unwrap_or(0))
                }),
                failures_in_a_row: match self.circuit_breaker {
                    Some(0) => bail!("[respond] circuit_breaker must be 1 or more"),
                    Some(n) => n,
                    None => run::DEFAULT_FAILURES_IN_A_ROW,
                },
            },
        })
    }
}

/// A webhook secret as written, or `env:NAME` read from the environment (so the file need
/// not hold it).
fn secret(name: &str, value: &str) -> Result<String> {
    match value.strip_prefix("env:") {
        Some(var) => std::env::var(var).map_err(|_| {
            anyhow!("[[respond.webhooks]] `{name}`: secret from environment variable {var}, which is not set")
        }),
        None => Ok(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_and_refuses_commands_unless_allowed() {
        let opts: RespondOptions = toml::from_str(
            "gap = \"2h\"\nlink_by = [\"principal\", \"source.ip\"]\n[[webhooks]]\nname = \"soar\"\nurl = \"http://127.0.0.1:9/\"\nsecret = \"s3cret\"\nactions = [\"notify\"]\n",
        )
        .unwrap();
        let r = opts.resolve().unwrap();
        assert_eq!(r.settings.grouping.gap_ms, 7_200_000);
        assert_eq!(r.webhooks(false).unwrap().len(), 1);
        assert!(r.enforcement);
        let opts: RespondOptions =
            toml::from_str("[[commands]]\nname = \"c\"\nprogram = \"/bin/true\"\n").unwrap();
        let err = opts.resolve().err().unwrap().to_string();
        assert!(err.contains("allow_commands = true"), "{err}");
        let opts: RespondOptions = toml::from_str("link_by = [\"colour\"]").unwrap();
        assert!(opts.resolve().is_err());
        let opts: RespondOptions = toml::from_str("[[webhooks]]\nname = \"w\"\nurl = \"http://x/\"\nsecret = \"env:MODELWARD_TEST_UNSET_SECRET\"\n").unwrap();
        // Read only when the executors are built: resolving the section does not need it.
        let r = opts.resolve().unwrap();
        let err = r.webhooks(false).err().unwrap().to_string();
        assert!(
            err.contains("MODELWARD_TEST_UNSET_SECRET") && err.contains("`w`"),
            "{err}"
        );
    }
}
