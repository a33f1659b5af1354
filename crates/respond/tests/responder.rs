//! The response run over a real (in-memory) store: incidents continued across runs and
//! merged within one, with their audit history, never repeating an action.

use modelward_event::source::SourceKind;
use modelward_respond::action::enforcement::EnforcementExecutor;
use modelward_respond::action::run::{audit_of, Runner};
use modelward_respond::action::Outcome;
use modelward_respond::analyze::RespondSettings;
use modelward_respond::{repo, AlertView, Logs, Playbook, Responder};
use modelward_store::Store;
use serde_json::json;

fn alert(id: &str, minute: u32, principal: &str, key: Option<&str>) -> AlertView {
    let mut doc = json!({
        "@timestamp": format!("2025-03-04T22:{minute:02}:00.000Z"),
        "alert": {"id": id},
        "entity": {"principal": principal, "source.ip": "203.0.113.66"},
        "evidence": {"pb53_vector": "model_extraction_api", "probe_calls": 100},
        "rule": {"id": "MW-TH-0001", "name": "Model extraction through the API - logit extraction",
                 "origin": "builtin:behavior/MW-TH-0001", "tags": ["behavioural"]},
        "severity": "high", "risk_score": 73
    });
    if let Some(k) = key {
        doc["api_key.id"] = json!(k);
    }
    AlertView::from_json(doc).unwrap()
}

fn ingest(store: &mut Store, alerts: Vec<AlertView>, dry_run: bool, now: i64) -> Vec<String> {
    let playbook = Playbook::builtin();
    let settings = RespondSettings::default();
    let responder = Responder::new(&playbook, &settings, "test");
    let enforcement = EnforcementExecutor::with_store(Store::open_in_memory().unwrap(), now);
    let mut runner = Runner::new(vec![Box::new(enforcement)], dry_run, "test");
    let logs = Logs {
        inputs: &[],
        source: SourceKind::Auto,
        reader: &Default::default(),
    };
    responder
        .ingest(store, alerts, &logs, &mut runner, now)
        .unwrap()
        .into_iter()
        .map(|c| c.incident.id)
        .collect()
}

#[test]
fn two_groups_of_one_run_continuing_one_incident_keep_every_alert() {
    let mut store = Store::open_in_memory().unwrap();
    let first = ingest(
        &mut store,
        vec![alert("a1", 10, "p1", Some("key_k1aaaaaaaaaa"))],
        true,
        1,
    );
    assert_eq!(first.len(), 1);
    // p1 again (by principal), and p2 with p1's key (by key): two groups, one incident.
    let second = ingest(
        &mut store,
        vec![
            alert("a2", 20, "p1", None),
            alert("a3", 21, "p2", Some("key_k1aaaaaaaaaa")),
        ],
        true,
        2,
    );
    assert_eq!(second, first);
    let incident = repo::load(&store, &first[0]).unwrap();
    let ids: Vec<&str> = incident.alerts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["a1", "a2", "a3"]);
    for id in ["a1", "a2", "a3"] {
        assert_eq!(
            store.incident_of_alert(id).unwrap().as_deref(),
            Some(first[0].as_str())
        );
    }
}

#[test]
fn merged_incidents_keep_what_was_done_and_do_not_repeat_it() {
    let mut store = Store::open_in_memory().unwrap();
    let a = ingest(&mut store, vec![alert("a1", 10, "p1", None)], false, 1);
    let b = ingest(
        &mut store,
        vec![alert("b1", 12, "p2", Some("key_k2bbbbbbbbbb"))],
        false,
        2,
    );
    assert_ne!(a, b);
    let done_before = store.audit_log(None).unwrap().len();
    // One principal using the other's key: the two are one incident.
    let merged = ingest(
        &mut store,
        vec![alert("c1", 14, "p1", Some("key_k2bbbbbbbbbb"))],
        false,
        3,
    );
    assert_eq!(merged, a, "the older incident is kept");
    assert!(store.incident(&b[0]).unwrap().is_none());
    let log = audit_of(&store, &a[0]).unwrap();
    // p2's actions, carried out for the other incident, are carried over, not repeated.
    let p2_done: Vec<_> = log
        .iter()
        .filter(|e| e.target == "p2" && e.outcome == Outcome::Done)
        .collect();
    assert!(!p2_done.is_empty());
    assert!(
        p2_done
            .iter()
            .all(|e| e.detail.starts_with("carried out for INC-")),
        "{p2_done:?}"
    );
    let appended = store.audit_log(None).unwrap().len() - done_before;
    // Only the carried-over copies and the evidence of the grown incident are new.
    let new_done: Vec<_> = log
        .iter()
        .filter(|e| e.outcome == Outcome::Done && e.at == 3 && !e.detail.starts_with("carried out"))
        .map(|e| e.action.as_str())
        .collect();
    assert!(
        new_done.iter().all(|a| *a == "preserve_evidence"),
        "{new_done:?} ({appended} appended)"
    );
    let incident = repo::load(&store, &a[0]).unwrap();
    assert_eq!(incident.alerts.len(), 3);
    assert!(incident.transitions.iter().any(|t| t.note.contains(&b[0])));
}

#[test]
fn incidents_are_found_by_a_unique_prefix_of_four_hex_digits_at_least() {
    let mut store = Store::open_in_memory().unwrap();
    for id in ["INC-abcd11111111", "INC-abcd22222222", "INC-ef0033333333"] {
        repo::save(
            &mut store,
            &mut modelward_respond::Incident::new(id.into(), "PB-53", "high", 1),
        )
        .unwrap();
    }
    assert_eq!(
        repo::load(&store, "INC-ef00").unwrap().id,
        "INC-ef0033333333"
    );
    assert_eq!(
        repo::load(&store, "inc-EF00").unwrap().id,
        "INC-ef0033333333"
    );
    let err = repo::load(&store, "INC-abcd").unwrap_err().to_string();
    assert!(
        err.contains("INC-abcd11111111") && err.contains("INC-abcd22222222"),
        "{err}"
    );
    // Too short to be a deliberate choice, even where one incident would match.
    assert!(repo::load(&store, "INC-ef").is_err());
    assert!(repo::load(&store, "INC-").is_err());
}

#[test]
fn a_change_made_since_an_incident_was_read_is_not_written_over() {
    let mut store = Store::open_in_memory().unwrap();
    let ids = ingest(&mut store, vec![alert("a1", 10, "p1", None)], true, 1);
    // A responder's command and a long hunt read the incident at the same revision.
    let mut theirs = repo::load(&store, &ids[0]).unwrap();
    let mut ours = repo::load(&store, &ids[0]).unwrap();
    theirs.manual_facts.insert("insider_confirmed".into(), true);
    repo::save(&mut store, &mut theirs).unwrap();
    let err = repo::save(&mut store, &mut ours).unwrap_err().to_string();
    assert!(err.contains("changed by another command"), "{err}");
    let stored = repo::load(&store, &ids[0]).unwrap();
    assert_eq!(stored.manual_facts.get("insider_confirmed"), Some(&true));
    // Saved twice in a row by one holder is fine: the revision moves with it.
    repo::save(&mut store, &mut theirs).unwrap();
}

#[test]
fn a_log_read_again_whose_incident_is_merged_away_in_the_run_is_no_error() {
    let mut store = Store::open_in_memory().unwrap();
    let y = ingest(
        &mut store,
        vec![alert("y1", 10, "p2", Some("key_k2aaaaaaaaaa"))],
        true,
        1,
    );
    let x = ingest(&mut store, vec![alert("x1", 11, "p1", None)], true, 2);
    assert_ne!(x, y);
    // x1 again (its incident is X), and p1 with p2's key: X merges into the older Y.
    let third = ingest(
        &mut store,
        vec![
            alert("x1", 11, "p1", None),
            alert("n1", 12, "p1", Some("key_k2aaaaaaaaaa")),
        ],
        true,
        3,
    );
    assert_eq!(third, y);
    let merged = repo::load(&store, &y[0]).unwrap();
    let mut ids: Vec<&str> = merged.alerts.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["n1", "x1", "y1"]);
    assert!(repo::load(&store, &x[0]).is_err());
}
