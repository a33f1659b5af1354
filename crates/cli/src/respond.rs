//! The response side of the binary: the playbook and executors from `[respond]`, the
//! incidents of a hunt (`hunt --incidents`), and the re-runs of `incident fact|act`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use modelward_engine::{AlertSink, SinkError};
use modelward_respond::action::command::CommandExecutor;
use modelward_respond::action::enforcement::EnforcementExecutor;
use modelward_respond::action::run::Runner;
use modelward_respond::action::webhook::WebhookExecutor;
use modelward_respond::action::{Executor, Outcome};
use modelward_respond::analyze::KnownArtifact;
use modelward_respond::evidence::EvidenceExecutor;
use modelward_respond::ioc::safe_value;
use modelward_respond::{AlertView, Change, Logs, Playbook, Responder};
use modelward_rule::Alert;
use modelward_store::Store;

use crate::config::respond::{Respond, RespondOptions};

/// Wall clock, ms since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The playbook, settings and executors' configuration, resolved.
pub struct Setup {
    pub playbook: Playbook,
    pub respond: Respond,
    pub inventory: Option<Vec<KnownArtifact>>,
    /// The inventory database's latest scan for copies of registered models.
    pub copy_scan: Option<modelward_store::copy_scans::CopyScan>,
}

impl Setup {
    /// From `[respond]` (absent: defaults) and a `--playbook` that overrides it.
    pub fn new(options: Option<RespondOptions>, playbook: Option<&Path>) -> Result<Setup> {
        let respond = options.unwrap_or_default().resolve()?;
        let path: Option<PathBuf> = playbook.map(Path::to_path_buf).or(respond.playbook.clone());
        let playbook = match &path {
            Some(p) => Playbook::load(p)?,
            None => Playbook::builtin(),
        };
        let (inventory, copy_scan) = match &respond.inventory {
            Some(db) => {
                let store = Store::open_existing(db)
                    .with_context(|| format!("[respond] inventory {}", db.display()))?;
                let artifacts = store
                    .artifacts()
                    .with_context(|| format!("[respond] inventory {}", db.display()))?
                    .into_iter()
                    .map(|a| KnownArtifact {
                        path: a.path,
                        format: a.format,
                        size: a.size,
                        hash: a.hash,
                    })
                    .collect();
                let scan = store
                    .latest_copy_scan()
                    .with_context(|| format!("[respond] inventory {}", db.display()))?;
                (Some(artifacts), scan)
            }
            None => (None, None),
        };
        Ok(Setup {
            playbook,
            respond,
            inventory,
            copy_scan,
        })
    }

    pub fn responder(&self, actor: &str, context_facts: BTreeMap<String, bool>) -> Responder<'_> {
        Responder {
            playbook: &self.playbook,
            settings: &self.respond.settings,
            inventory: self.inventory.as_deref(),
            context_facts,
            actor: actor.to_string(),
            copy_scan: self.copy_scan.clone(),
        }
    }

    /// The runner with every configured executor: evidence, enforcement, webhooks, commands
    /// (in that order: the first that handles an action carries it out). Webhook secrets
    /// given as `env:NAME` are read here, not before.
    pub fn runner(&self, db: &Path, dry_run: bool, actor: &str, now: i64) -> Result<Runner> {
        let mut executors: Vec<Box<dyn Executor>> =
            vec![Box::new(EvidenceExecutor::new(Store::open(db)?, now))];
        if self.respond.enforcement {
            executors.push(Box::new(EnforcementExecutor::open(db, now)?));
        }
        for w in self.respond.webhooks(dry_run)? {
            let name = w.name.clone();
            executors.push(Box::new(
                WebhookExecutor::new(w).with_context(|| format!("webhook `{name}`"))?,
            ));
        }
        for c in &self.respond.commands {
            executors.push(Box::new(
                CommandExecutor::new(c.clone()).with_context(|| format!("command `{}`", c.name))?,
            ));
        }
        Ok(Runner::new(executors, dry_run, actor).with_budget(self.respond.budget))
    }
}

impl Setup {
    /// Alerts (as documents) into incidents in `db` by the playbook, their actions carried
    /// out (or shown, with `dry_run`) in the name of `actor`; what changed. An alert that is
    /// not one the response side can read is reported and left out.
    pub fn ingest(
        &self,
        db: &Path,
        dry_run: bool,
        actor: &str,
        facts: BTreeMap<String, bool>,
        alerts: Vec<serde_json::Value>,
        logs: &Logs<'_>,
    ) -> Result<Vec<Change>> {
        let now = now_ms();
        let mut store = Store::open(db)?;
        let mut views = Vec::with_capacity(alerts.len());
        for doc in alerts {
            match AlertView::from_json(doc) {
                Ok(v) => views.push(v),
                Err(e) => {
                    modelward_event::errln!("modelward: an alert left out of the incidents: {e}")
                }
            }
        }
        let responder = self.responder(actor, facts);
        let mut runner = self.runner(db, dry_run, actor, now)?;
        Ok(responder.ingest(&mut store, views, logs, &mut runner, now)?)
    }
}

/// Passes alerts on to the output and keeps their documents for the incidents.
pub struct Collect<'a> {
    pub inner: &'a mut dyn AlertSink,
    /// Every alert's document, kept only when the run needs them after the end (`--incidents`):
    /// otherwise alerts stream through and memory does not grow with their number.
    pub docs: Option<Vec<serde_json::Value>>,
}

impl AlertSink for Collect<'_> {
    fn alert(&mut self, alert: &Alert) -> Result<(), SinkError> {
        if let Some(docs) = &mut self.docs {
            docs.push(alert.to_json());
        }
        self.inner.alert(alert)
    }

    fn finish(&mut self) -> Result<(), SinkError> {
        self.inner.finish()
    }
}

/// `hunt --incidents DB`: the run's alerts into incidents; a summary on stderr.
pub struct HuntIncidents<'a> {
    pub db: &'a Path,
    pub dry_run: bool,
    pub baselines_kept: bool,
    pub quiet: bool,
}

impl HuntIncidents<'_> {
    pub fn run(
        &self,
        setup: &Setup,
        alerts: Vec<serde_json::Value>,
        logs: &Logs<'_>,
    ) -> Result<()> {
        let facts = BTreeMap::from([("baselines_kept".to_string(), self.baselines_kept)]);
        let changes = setup.ingest(self.db, self.dry_run, "modelward hunt", facts, alerts, logs)?;
        if !self.quiet {
            for c in &changes {
                modelward_event::errln!("{}", describe(c, self.dry_run));
            }
            if changes.is_empty() {
                modelward_event::errln!("modelward: no incident (no alert the playbook handles)");
            }
        }
        Ok(())
    }
}

/// One incident's lines for the hunt summary.
pub fn describe(c: &Change, dry_run: bool) -> String {
    let i = &c.incident;
    let mut out = format!(
        "modelward: {} {} [{}] {} — {} alert(s){}, stage {}",
        if c.new { "opened" } else { "updated" },
        i.id,
        i.severity,
        i.title,
        i.alerts.len(),
        if c.new {
            String::new()
        } else {
            format!(" ({} new)", c.alerts_added)
        },
        i.stage
    );
    for d in &i.analysis.decisions {
        out.push_str(&format!(
            "\n  decision: {} (owner {}, SLA {})",
            d.decision, d.owner, d.sla
        ));
    }
    for e in &c.actions {
        let verb = match e.outcome {
            Outcome::DryRun if dry_run => "would",
            _ => e.outcome.as_str(),
        };
        out.push_str(&format!(
            "\n  action {verb}: {} {} {}{}",
            e.action,
            e.target_kind,
            safe_value(&e.target_kind, &e.target),
            if e.executor.is_empty() {
                String::new()
            } else {
                format!(" [{}]", e.executor)
            }
        ));
    }
    out
}
