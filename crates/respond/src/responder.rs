//! The response run: alerts in, incidents out. Groups the alerts, joins the groups to the
//! open incidents they continue, counts the principals' call volume in the logs, runs the
//! playbook, carries out (or shows) the decisions' actions and saves everything.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use modelward_event::input::{InputPath, ReaderOptions};
use modelward_event::source::SourceKind;
use modelward_store::audit::AuditRecord;
use modelward_store::{Store, StoreError};

use crate::action::run::{audit_of, Runner};
use crate::action::{AuditEntry, Outcome};
use crate::alert_view::AlertView;
use crate::analyze::{self, Inputs, KnownArtifact, RespondSettings};
use crate::grouping::{self, link_keys};
use crate::incident::{Incident, Stage, Status, Transition};
use crate::playbook::Playbook;
use crate::repo::{self, RepoError};
use crate::volume::{self, VolumeSeries};
use modelward_store::copy_scans::CopyScan;

/// Why a response run failed.
#[derive(Debug, thiserror::Error)]
pub enum RespondError {
    #[error(transparent)]
    Repo(#[from] RepoError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The logs the alerts came from (for call volumes and evidence).
pub struct Logs<'a> {
    pub inputs: &'a [InputPath],
    pub source: SourceKind,
    /// How the hunt read them (record size limits), so that they are read alike again.
    pub reader: &'a ReaderOptions,
}

/// Runs a playbook over alerts.
pub struct Responder<'a> {
    pub playbook: &'a Playbook,
    pub settings: &'a RespondSettings,
    pub inventory: Option<&'a [KnownArtifact]>,
    /// `baselines_kept`, `inventory_verified`, ...
    pub context_facts: BTreeMap<String, bool>,
    /// Who moves incidents (`modelward hunt`).
    pub actor: String,
    /// The latest scan for copies of registered models in the inventory database, if any;
    /// the incident database's own latest is read too, and the later of the two is used.
    pub copy_scan: Option<CopyScan>,
}

/// What a run did to one incident.
#[derive(Debug, Clone)]
pub struct Change {
    pub incident: Incident,
    pub new: bool,
    pub alerts_added: usize,
    /// The actions of this run (appended, or not repeated).
    pub actions: Vec<AuditEntry>,
}

impl<'a> Responder<'a> {
    /// A responder without an inventory of model artifacts or context facts.
    pub fn new(playbook: &'a Playbook, settings: &'a RespondSettings, actor: &str) -> Self {
        Responder {
            playbook,
            settings,
            inventory: None,
            context_facts: BTreeMap::new(),
            actor: actor.to_string(),
            copy_scan: None,
        }
    }
}

impl Responder<'_> {
    /// Whether the playbook handles an alert (opens an incident for it).
    pub fn handles(&self, alert: &AlertView) -> bool {
        analyze::holds_for(
            &self.playbook.handles,
            alert,
            self.settings,
            &BTreeMap::new(),
        )
    }

    /// Builds or extends incidents from `alerts` (alerts already in an incident are not added
    /// again), analyses them, runs their actions, saves them. `now`: wall clock, ms.
    pub fn ingest(
        &self,
        store: &mut Store,
        alerts: Vec<AlertView>,
        logs: &Logs<'_>,
        runner: &mut Runner,
        now: i64,
    ) -> Result<Vec<Change>, RespondError> {
        let mut fresh = Vec::new();
        // Incidents that already hold some of the alerts (a log read again): re-analysed and
        // their pending actions run, nothing added.
        let mut seen: BTreeSet<String> = BTreeSet::new();
        for a in alerts {
            match store.incident_of_alert(&a.id)? {
                Some(id) => {
                    seen.insert(id);
                }
                None => fresh.push(a),
            }
        }
        let groups: Vec<Vec<AlertView>> =
            grouping::group(fresh, &self.settings.grouping, &|a| self.handles(a))
                .into_iter()
                .filter(|g| g.iter().any(|a| self.handles(a)))
                .collect();
        let mut changes: Vec<Change> = Vec::new();
        for group in groups {
            self.join(store, group, now, &mut changes)?;
        }
        for id in seen {
            if changes.iter().any(|c| c.incident.id == id) {
                continue;
            }
            // Merged away in this run: its alerts are in the incident it joined.
            let incident = match repo::load(store, &id) {
                Err(RepoError::NotFound(_)) => continue,
                other => other?,
            };
            if incident.status == Status::Open {
                changes.push(Change {
                    incident,
                    new: false,
                    alerts_added: 0,
                    actions: Vec::new(),
                });
            }
        }
        if changes.is_empty() {
            return Ok(changes);
        }
        let who: HashSet<String> = changes.iter().flat_map(|c| subjects(&c.incident)).collect();
        let series = volume::count(logs, &who, self.settings.volume_bucket_ms);
        for change in &mut changes {
            let incident = &mut change.incident;
            let mine = series.only(&subjects(incident).collect());
            follow_activity(incident, &mine);
            self.analyse_run(store, incident, &mine, now)?;
            self.save_run(store, incident, &mine, now)?;
            if incident.status == Status::Open {
                change.actions = self.act(store, incident, runner, now)?;
            }
        }
        Ok(changes)
    }

    /// Carries out (or, in a dry run, shows) the actions of the incident's decisions, moves it
    /// to Contain when one was carried out, and saves it analysed anew. Actions already done
    /// are not repeated.
    pub fn act(
        &self,
        store: &mut Store,
        incident: &mut Incident,
        runner: &mut Runner,
        now: i64,
    ) -> Result<Vec<AuditEntry>, RespondError> {
        let planned: Vec<_> = incident
            .analysis
            .decisions
            .iter()
            .flat_map(|d| d.actions.iter().cloned())
            .collect();
        let entries = runner.run(&planned, store, now)?;
        // Already done counts too: a run cut short after the action but before its save
        // left the incident behind.
        let contained = entries
            .iter()
            .any(|e| matches!(e.outcome, Outcome::Done | Outcome::AlreadyDone));
        if contained && incident.stage < Stage::Contain {
            move_to(
                incident,
                Stage::Contain,
                now,
                &self.actor,
                "containment actions carried out",
            );
        }
        self.reanalyse(store, incident, now)?;
        Ok(entries)
    }

    /// Re-runs the playbook over a stored incident (after a responder set a fact or a task).
    pub fn reanalyse(
        &self,
        store: &mut Store,
        incident: &mut Incident,
        now: i64,
    ) -> Result<(), RespondError> {
        self.reanalyse_recording(store, incident, now, &[])
    }

    /// [`Responder::reanalyse`], appending `acts` (what a responder did to it) to the audit
    /// log in the same transaction: the change is never saved without its record.
    pub fn reanalyse_recording(
        &self,
        store: &mut Store,
        incident: &mut Incident,
        now: i64,
        acts: &[AuditRecord],
    ) -> Result<(), RespondError> {
        let volume = incident.analysis.volume.clone();
        self.analyse(store, incident, &volume, now)?;
        let mut batch = store.batch()?;
        repo::put(&mut batch, incident)?;
        for act in acts {
            batch.append_audit(act)?;
        }
        batch.commit()?;
        Ok(())
    }

    /// Saves a hunt's incident. Written since this run read it (a responder set a fact or a
    /// task while the logs were read): their version, with this run's alerts added, analysed
    /// anew, is saved instead.
    fn save_run(
        &self,
        store: &mut Store,
        incident: &mut Incident,
        mine: &VolumeSeries,
        now: i64,
    ) -> Result<(), RespondError> {
        match repo::save(store, incident) {
            Err(RepoError::Store(StoreError::Conflict { .. })) => {
                let mut fresh = repo::load(store, &incident.id)?;
                for a in &incident.alerts {
                    add_alert(&mut fresh, a.clone());
                }
                refresh(&mut fresh);
                self.analyse_run(store, &mut fresh, mine, now)?;
                repo::save(store, &mut fresh)?;
                *incident = fresh;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// The analysis of a hunt: this run's call volume (`mine`) over what earlier runs
    /// counted (other logs; this run's replace theirs per bucket), and out of Detect.
    fn analyse_run(
        &self,
        store: &Store,
        incident: &mut Incident,
        mine: &VolumeSeries,
        now: i64,
    ) -> Result<(), RespondError> {
        let mut volume = incident.analysis.volume.clone();
        volume.merge(mine.clone());
        self.analyse(store, incident, &volume, now)?;
        if incident.stage == Stage::Detect {
            move_to(
                incident,
                Stage::Analyze,
                now,
                &self.actor,
                "playbook analysis",
            );
        }
        Ok(())
    }

    fn analyse(
        &self,
        store: &Store,
        incident: &mut Incident,
        volume: &VolumeSeries,
        now: i64,
    ) -> Result<(), RespondError> {
        let audit = audit_of(store, &incident.id)?;
        let enforced = store.applied(&incident.id)?;
        // What an earlier run knew stays unless this one knows better.
        incident.context_facts.extend(self.context_facts.clone());
        let stored = store.latest_copy_scan()?;
        let copy_scan = [self.copy_scan.as_ref(), stored.as_ref()]
            .into_iter()
            .flatten()
            .max_by_key(|s| s.scanned_at);
        let inputs = Inputs {
            settings: self.settings,
            volume,
            inventory: self.inventory,
            storage_logs: volume.storage_records > 0,
            context_facts: incident.context_facts.clone(),
            audit: &audit,
            enforced: &enforced,
            copy_scan,
        };
        analyze::analyze(self.playbook, incident, &inputs, now);
        incident.title = title(incident);
        Ok(())
    }

    /// Adds `group` to the open incident it continues (merging several it links, stored or
    /// already touched by this run), or to a new one, in `changes`.
    fn join(
        &self,
        store: &mut Store,
        group: Vec<AlertView>,
        now: i64,
        changes: &mut Vec<Change>,
    ) -> Result<(), RespondError> {
        let first_seen = group.iter().map(|a| a.first_seen).min().unwrap_or(0);
        let since = first_seen - self.settings.grouping.gap_ms;
        let keys: BTreeSet<(String, String)> = group
            .iter()
            .flat_map(|a| link_keys(a, &self.settings.grouping))
            .collect();
        let mut found: BTreeSet<String> = BTreeSet::new();
        for (kind, value) in &keys {
            found.extend(store.open_incidents_with(kind, value, since)?);
        }
        found.extend(
            changes
                .iter()
                .filter(|c| {
                    c.incident.last_seen >= since
                        && c.incident.entities.iter().any(|e| keys.contains(e))
                })
                .map(|c| c.incident.id.clone()),
        );
        // The incidents it continues: this run's copy when it has one, else the stored one.
        let mut existing: Vec<Change> = Vec::new();
        for id in found {
            match changes.iter().position(|c| c.incident.id == id) {
                Some(at) => existing.push(changes.remove(at)),
                None => existing.push(Change {
                    incident: repo::load(store, &id)?,
                    new: false,
                    alerts_added: 0,
                    actions: Vec::new(),
                }),
            }
        }
        existing.sort_by_key(|c| (c.incident.created_at, c.incident.id.clone()));
        let mut change = if existing.is_empty() {
            Change {
                incident: self.open(&group, now),
                new: true,
                alerts_added: 0,
                actions: Vec::new(),
            }
        } else {
            let mut keep = existing.remove(0);
            for other in existing {
                // One transaction: the other incident goes only as the kept one, holding
                // both, is written (a run cut short loses neither).
                let carried = carried_over(store, &other.incident.id, &keep.incident.id)?;
                let (other_id, other_revision) =
                    (other.incident.id.clone(), other.incident.revision);
                keep.new |= other.new;
                keep.alerts_added += other.alerts_added;
                keep.actions.extend(other.actions);
                absorb(&mut keep.incident, other.incident, now, &self.actor);
                refresh(&mut keep.incident);
                let mut batch = store.batch()?;
                repo::put(&mut batch, &mut keep.incident)?;
                batch.merge_incident(&other_id, other_revision, &keep.incident.id)?;
                for record in &carried {
                    batch.append_audit(record)?;
                }
                batch.commit()?;
            }
            keep
        };
        for a in group {
            if add_alert(&mut change.incident, a) {
                change.alerts_added += 1;
            }
        }
        refresh(&mut change.incident);
        changes.push(change);
        Ok(())
    }

    fn open(&self, group: &[AlertView], now: i64) -> Incident {
        let mut incident = Incident::new(
            grouping::incident_id(&group[0].id),
            &self.playbook.id,
            &self.playbook.severity,
            now,
        );
        incident.transitions.push(Transition {
            from: None,
            to: Stage::Detect,
            at: now,
            by: self.actor.clone(),
            note: format!("opened from {} alert(s)", group.len()),
        });
        incident
    }
}

/// Principals, API keys and addresses of an incident: whose calls are counted.
fn subjects(incident: &Incident) -> impl Iterator<Item = String> + '_ {
    incident
        .entities
        .iter()
        .filter(|(k, _)| matches!(k.as_str(), "principal" | "api_key" | "source.ip"))
        .map(|(_, v)| v.clone())
}

/// Silence after which an incident's principals' calls no longer continue its activity.
pub const ACTIVITY_GAP_MS: i64 = 15 * 60_000;

/// Moves the incident's last seen to the latest call of its principals that continues the
/// activity after its latest alert (no silence over [`ACTIVITY_GAP_MS`]): an extraction goes
/// on after the call that crossed a threshold, and the incident says until when.
fn follow_activity(incident: &mut Incident, volume: &volume::VolumeSeries) {
    let from = incident.last_seen;
    let last = subjects(incident)
        .filter_map(|s| volume.active_until(&s, from, ACTIVITY_GAP_MS))
        .max();
    if let Some(last) = last {
        incident.last_seen = incident.last_seen.max(last);
    }
}

/// Entities and times from the alerts.
fn refresh(incident: &mut Incident) {
    incident
        .alerts
        .sort_by(|a, b| (a.timestamp, &a.id).cmp(&(b.timestamp, &b.id)));
    let mut entities: Vec<(String, String)> = incident
        .alerts
        .iter()
        .flat_map(grouping::entities)
        .collect();
    entities.sort();
    entities.dedup();
    incident.entities = entities;
    incident.first_seen = incident
        .alerts
        .iter()
        .map(|a| a.first_seen)
        .min()
        .unwrap_or(0);
    incident.last_seen = incident
        .alerts
        .iter()
        .map(|a| a.timestamp)
        .max()
        .unwrap_or(0);
}

/// Folds `other` (found to be the same incident) into `keep`: its alerts, facts, call
/// counts, decisions (the earlier clock wins) and tasks (a person's word wins).
/// Adds `alert` unless the incident holds it already; says whether it did.
fn add_alert(incident: &mut Incident, alert: AlertView) -> bool {
    let new = !incident.alerts.iter().any(|x| x.id == alert.id);
    if new {
        incident.alerts.push(alert);
    }
    new
}

fn absorb(keep: &mut Incident, other: Incident, now: i64, actor: &str) {
    for a in other.alerts {
        add_alert(keep, a);
    }
    for (k, v) in other.manual_facts {
        keep.manual_facts.entry(k).or_insert(v);
    }
    for (k, v) in other.context_facts {
        keep.context_facts.entry(k).or_insert(v);
    }
    keep.analysis.volume.merge(other.analysis.volume);
    for d in other.analysis.decisions {
        match keep.analysis.decisions.iter_mut().find(|k| k.id == d.id) {
            Some(k) => k.decided_at = k.decided_at.min(d.decided_at),
            None => keep.analysis.decisions.push(d),
        }
    }
    for t in other.tasks {
        match keep.tasks.iter_mut().find(|k| k.id == t.id) {
            Some(k)
                if !crate::analyze::tasks::by_person(k) && crate::analyze::tasks::by_person(&t) =>
            {
                *k = t
            }
            Some(_) => {}
            None => keep.tasks.push(t),
        }
    }
    keep.created_at = keep.created_at.min(other.created_at);
    keep.transitions.push(Transition {
        from: Some(keep.stage),
        to: keep.stage,
        at: now,
        by: actor.to_string(),
        note: format!("merged {} (shares an entity)", other.id),
    });
}

/// The actions `from` carried out, as audit entries of `into` (the log is append-only: the
/// originals stay), so the merged incident does not repeat them.
fn carried_over(
    store: &Store,
    from: &str,
    into: &str,
) -> Result<Vec<modelward_store::audit::AuditRecord>, StoreError> {
    Ok(store
        .audit_log(Some(from))?
        .into_iter()
        .filter(|r| r.outcome == Outcome::Done.as_str())
        .map(|mut r| {
            r.idempotency_key =
                crate::action::idempotency_key(into, &r.target_kind, &r.target, &r.params);
            r.detail = format!("carried out for {from} (audit #{}): {}", r.seq, r.detail);
            r.incident_id = into.to_string();
            r
        })
        .collect())
}

/// Moves an incident to `to`, recording who and why.
pub fn move_to(incident: &mut Incident, to: Stage, at: i64, by: &str, note: &str) {
    incident.transitions.push(Transition {
        from: Some(incident.stage),
        to,
        at,
        by: by.to_string(),
        note: note.to_string(),
    });
    incident.stage = to;
}

/// "Model extraction via API by dev-7731@example.net" (secrets masked).
fn title(incident: &Incident) -> String {
    crate::ioc::mask_secrets(&raw_title(incident)).into_owned()
}

fn raw_title(incident: &Incident) -> String {
    let what = incident
        .analysis
        .vectors
        .first()
        .map(|v| v.name.clone())
        .or_else(|| incident.alerts.first().map(|a| a.rule_name.clone()))
        .unwrap_or_else(|| "Incident".into());
    let who: Vec<&str> = incident
        .entities
        .iter()
        .filter(|(k, _)| k == "principal")
        .map(|(_, v)| v.as_str())
        .collect();
    match who.as_slice() {
        [] => what,
        [one] => format!("{what} by {one}"),
        [one, rest @ ..] => format!("{what} by {one} and {} more", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(id: &str) -> AlertView {
        AlertView::from_json(serde_json::json!({
            "@timestamp": "2025-03-04T22:10:00.000Z", "alert": {"id": id},
            "entity": {"principal": "p1"},
            "evidence": {"pb53_vector": "model_extraction_api"},
            "rule": {"id": "MW-TH-0001", "name": "logit extraction", "tags": []},
            "severity": "high"
        }))
        .unwrap()
    }

    #[test]
    fn a_hunt_saving_over_a_responders_change_keeps_both() {
        let playbook = Playbook::builtin();
        let settings = RespondSettings::default();
        let responder = Responder::new(&playbook, &settings, "test");
        let mut store = Store::open_in_memory().unwrap();
        let mut first = Incident::new("INC-1".into(), "PB-53", "high", 1);
        first.alerts.push(alert("a1"));
        repo::save(&mut store, &mut first).unwrap();
        // The hunt read it; then a responder confirmed the insider and saved.
        let mut hunt = repo::load(&store, "INC-1").unwrap();
        let mut person = repo::load(&store, "INC-1").unwrap();
        person.manual_facts.insert("insider_confirmed".into(), true);
        repo::save(&mut store, &mut person).unwrap();
        // The hunt adds its alert and saves: no conflict error, nothing lost.
        hunt.alerts.push(alert("a2"));
        responder
            .save_run(&mut store, &mut hunt, &VolumeSeries::default(), 2)
            .unwrap();
        let stored = repo::load(&store, "INC-1").unwrap();
        assert_eq!(stored.manual_facts.get("insider_confirmed"), Some(&true));
        let ids: Vec<&str> = stored.alerts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2"]);
        assert_eq!(
            hunt.revision, stored.revision,
            "the run goes on with what it saved"
        );
    }

    /// Issue 14, item 7: the incident's last seen moves with the attack's calls after its
    /// alert, and stops at a silence longer than [`ACTIVITY_GAP_MS`].
    #[test]
    fn last_seen_follows_the_activity_after_the_alerts() {
        let mut incident = Incident::new("INC-1".into(), "PB-53", "critical", 0);
        incident.entities = vec![("principal".into(), "mallory".into())];
        incident.last_seen = 1_000_000;
        let mut volume = volume::VolumeSeries {
            bucket_ms: 3_600_000,
            ..volume::VolumeSeries::default()
        };
        let mut times: Vec<i64> = (0..300).map(|i| 1_000_000 + i * 2_000).collect();
        let end = *times.last().unwrap();
        times.push(end + ACTIVITY_GAP_MS + 60_000); // another session, later
        volume.times.insert("mallory".into(), times);
        follow_activity(&mut incident, &volume);
        assert_eq!(incident.last_seen, end);
    }
}
