//! PB-53 over incidents built in memory: the decision matrix's rows, escalation, tasks, SLA
//! clocks and a responder's facts.

use std::collections::BTreeMap;

use modelward_respond::action::{AuditEntry, Outcome};
use modelward_respond::analyze::{analyze, Inputs, RespondSettings};
use modelward_respond::incident::{AnswerState, Incident, Stage, Status, TaskState};
use modelward_respond::volume::VolumeSeries;
use modelward_respond::{AlertView, Playbook};
use modelward_store::gateway::Applied;
use serde_json::json;

const T0: i64 = 1_741_126_225_000; // 2025-03-04T22:10:25Z
const NOW: i64 = 1_795_000_000_000;

fn extraction_alert(principal: &str) -> AlertView {
    AlertView::from_json(json!({
        "@timestamp": "2025-03-04T22:14:26.121Z",
        "alert": {"id": format!("a-{principal}")},
        "entity": {"principal": principal, "source.ip": "203.0.113.66", "model": "gpt-4o-mini"},
        "api_key.id": "key_vTm2A9Gei4Oi",
        "evidence": {"first_seen": "2025-03-04T22:10:25.111Z", "pb53_vector": "model_extraction_api",
                     "probe_calls": 100, "variant": "vocabulary_sweep"},
        "message": "100 logit probes",
        "rule": {"id": "MW-TH-0001", "name": "Model extraction through the API - logit extraction",
                 "origin": "builtin:behavior/MW-TH-0001", "tags": ["behavioural"]},
        "severity": "high", "risk_score": 73
    }))
    .unwrap()
}

fn copy_alert() -> AlertView {
    AlertView::from_json(json!({
        "@timestamp": "2025-03-10T21:36:58.000Z",
        "alert": {"id": "copy-1"},
        "entity": {"principal": "arn:aws:iam::123456789012:user/jsmith", "source.ip": "192.0.2.91"},
        "file.path": "s3://jsmith-archive-7f3a/backup/model-00006-of-00006.safetensors",
        "storage.copy.source.bucket": "acme-ml-models",
        "storage.copy.source.key": "checkpoints/ft/model-00006-of-00006.safetensors",
        "rule": {"id": "6a1f3c52", "name": "Object storage copy to another account",
                 "origin": "builtin:sigma/storage_cross_account_copy.yml",
                 "tags": ["pb53.weight_checkpoint_theft", "pb53.training_data_exfiltration", "pb53.insider_model_copy"]},
        "severity": "high", "risk_score": 73
    }))
    .unwrap()
}

fn incident(alerts: Vec<AlertView>) -> Incident {
    let mut entities: Vec<(String, String)> = alerts
        .iter()
        .flat_map(modelward_respond::grouping::entities)
        .collect();
    entities.sort();
    entities.dedup();
    Incident {
        id: "INC-000000000001".into(),
        title: String::new(),
        playbook: "PB-53".into(),
        status: Status::Open,
        stage: Stage::Analyze,
        severity: "critical".into(),
        created_at: NOW,
        first_seen: T0,
        last_seen: T0,
        entities,
        alerts,
        ..Incident::new(String::new(), "PB-53", "critical", 0)
    }
}

fn run(incident: &mut Incident, settings: &RespondSettings, audit: &[AuditEntry], now: i64) {
    run_enforced(incident, settings, audit, &[], now);
}

fn run_enforced(
    incident: &mut Incident,
    settings: &RespondSettings,
    audit: &[AuditEntry],
    enforced: &[Applied],
    now: i64,
) {
    run_counted(
        incident,
        settings,
        audit,
        enforced,
        &VolumeSeries::default(),
        now,
    );
}

fn run_counted(
    incident: &mut Incident,
    settings: &RespondSettings,
    audit: &[AuditEntry],
    enforced: &[Applied],
    volume: &VolumeSeries,
    now: i64,
) {
    let inputs = Inputs {
        settings,
        volume,
        inventory: None,
        storage_logs: true,
        context_facts: BTreeMap::new(),
        audit,
        enforced,
        copy_scan: None,
    };
    analyze(&Playbook::builtin(), incident, &inputs, now);
}

fn decisions(i: &Incident) -> Vec<&str> {
    i.analysis.decisions.iter().map(|d| d.id.as_str()).collect()
}

#[test]
fn an_extraction_pattern_is_rate_limited_within_fifteen_minutes() {
    let mut i = incident(vec![extraction_alert("mallory")]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert_eq!(decisions(&i), ["rate_limit"]);
    let d = &i.analysis.decisions[0];
    assert_eq!(d.due_at(), Some(NOW + 15 * 60_000));
    assert!(!d.overdue(NOW + 60_000));
    assert!(d.overdue(NOW + 16 * 60_000));
    let kinds: Vec<&str> = d.actions.iter().map(|a| a.action.kind()).collect();
    assert_eq!(
        kinds,
        [
            "rate_limit",
            "reduce_output_detail",
            "proof_of_work",
            "preserve_evidence"
        ]
    );
    assert_eq!(d.actions[0].target, "mallory");
    assert!(i.analysis.escalations.is_empty());
    assert!(i.analysis.facts["extraction_pattern"]);
    assert!(!i.analysis.facts["artifact_accessed"]);
    let state = |id: &str| {
        let a = i.analysis.triage.iter().find(|a| a.id == id).unwrap();
        (a.state, a.answer.clone())
    };
    assert_eq!(state("query_pattern").0, AnswerState::Finding);
    assert_eq!(state("who").0, AnswerState::Finding);
    let who = &i
        .analysis
        .triage
        .iter()
        .find(|a| a.id == "who")
        .unwrap()
        .details[0];
    assert!(who.contains("API key key_vT…4Oi"), "{who}");
    assert!(
        !who.contains("key_vTm2A9Gei4Oi"),
        "key ids are masked: {who}"
    );
    // No calls counted and storage logs read: volume unknown, no downloads.
    assert_eq!(state("api_volume").0, AnswerState::NoData);
    assert_eq!(state("downloads").0, AnswerState::Clear);
    assert_eq!(state("inventory").0, AnswerState::NoData);
    assert!(i
        .tasks
        .iter()
        .any(|t| t.id == "triage.inventory" && t.state == TaskState::Open));
    let scope = |id: &str| {
        i.analysis
            .scope
            .iter()
            .find(|a| a.id == id)
            .unwrap()
            .answer
            .clone()
    };
    assert!(
        scope("assets").starts_with("the model's behaviour"),
        "{}",
        scope("assets")
    );
    assert!(scope("actor").starts_with("external"), "{}", scope("actor"));
    // The insider checklist does not apply to an outside caller.
    let t = i.tasks.iter().find(|t| t.id == "contain.2.3.2").unwrap();
    assert_eq!(t.state, TaskState::NotApplicable);
}

#[test]
fn an_approved_load_test_is_explained_and_only_tuned() {
    let settings = RespondSettings {
        approved_principals: vec!["loadtest-*".into()],
        ..RespondSettings::default()
    };
    let mut i = incident(vec![extraction_alert("loadtest-7")]);
    run(&mut i, &settings, &[], NOW);
    assert_eq!(decisions(&i), ["tune"]);
    assert_eq!(i.analysis.decisions[0].sla_ms, Some(8 * 3_600_000));
    assert!(i.analysis.decisions[0].actions.is_empty());
}

#[test]
fn a_copy_by_an_employee_is_contained_and_a_confirmed_insider_notifies() {
    let mut i = incident(vec![copy_alert()]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert_eq!(decisions(&i), ["contain"]);
    let vectors: Vec<&str> = i.analysis.vectors.iter().map(|v| v.id.as_str()).collect();
    // A model file: weights and an insider copy, not training data.
    assert_eq!(vectors, ["weight_checkpoint_theft", "insider_model_copy"]);
    let contain = &i.analysis.decisions[0];
    assert_eq!(contain.due_at(), Some(NOW), "immediate");
    let locked: Vec<&str> = contain
        .actions
        .iter()
        .filter(|a| a.action.kind() == "lock_storage")
        .map(|a| a.target.as_str())
        .collect();
    assert_eq!(
        locked,
        ["acme-ml-models"],
        "the copy's destination is not ours"
    );
    let escalations: Vec<&str> = i
        .analysis
        .escalations
        .iter()
        .map(|e| e.escalate_to.as_str())
        .collect();
    assert_eq!(escalations, ["CTO + CISO + Legal"]);
    let insider_tasks = i
        .tasks
        .iter()
        .filter(|t| t.id.starts_with("contain.2.3.") && t.state == TaskState::Open)
        .count();
    assert_eq!(insider_tasks, 4);

    i.manual_facts.insert("insider_confirmed".into(), true);
    run(&mut i, &RespondSettings::default(), &[], NOW + 1000);
    assert_eq!(decisions(&i), ["contain", "notify"]);
    assert_eq!(
        i.analysis.decisions[0].decided_at, NOW,
        "the first decision keeps its clock"
    );
    assert!(i
        .analysis
        .escalations
        .iter()
        .any(|e| e.escalate_to == "HR + Legal + CISO"));
}

#[test]
fn carried_out_actions_meet_the_decision_and_close_its_tasks() {
    let mut i = incident(vec![extraction_alert("mallory")]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    let audit: Vec<AuditEntry> = i.analysis.decisions[0]
        .actions
        .iter()
        .enumerate()
        .map(|(n, a)| AuditEntry {
            seq: n as i64 + 1,
            at: NOW + 60_000,
            incident: i.id.clone(),
            action: a.action.kind().into(),
            target_kind: a.target_kind.as_str().into(),
            target: a.target.clone(),
            params: String::new(),
            decision: a.decision.clone(),
            reason: a.reason.clone(),
            rules: a.rules.clone(),
            executor: if a.action.kind() == "preserve_evidence" {
                "evidence".into()
            } else {
                "enforcement".into()
            },
            outcome: Outcome::Done,
            detail: String::new(),
            idempotency_key: a.idempotency_key(),
            actor: "test".into(),
        })
        .collect();
    // Written to the enforcement table, but no gateway has the measures: nothing is
    // contained yet, and a task says so.
    run(&mut i, &RespondSettings::default(), &audit, NOW + 120_000);
    let d = &i.analysis.decisions[0];
    assert_eq!(d.met_at, None);
    let t = i.tasks.iter().find(|t| t.id == "contain.2.1.1").unwrap();
    assert_eq!(t.state, TaskState::Open);
    assert!(i
        .tasks
        .iter()
        .any(|t| t.id.starts_with("action.") && t.title.contains("no gateway has it in force")));
    // A gateway puts them in force: carried out then, by it.
    let enforced: Vec<Applied> = audit
        .iter()
        .filter(|e| e.executor == "enforcement")
        .map(|e| Applied {
            measure: e.action.clone(),
            target_kind: e.target_kind.clone(),
            target: e.target.clone(),
            incident_id: e.incident.clone(),
            gateway: "gw-1".into(),
            in_force_at: NOW + 61_000,
            ..Applied::default()
        })
        .collect();
    run_enforced(
        &mut i,
        &RespondSettings::default(),
        &audit,
        &enforced,
        NOW + 120_000,
    );
    let d = &i.analysis.decisions[0];
    assert_eq!(d.met_at, Some(NOW + 61_000));
    assert!(!d.overdue(NOW + 3_600_000));
    let t = i.tasks.iter().find(|t| t.id == "contain.2.1.1").unwrap();
    assert_eq!(t.state, TaskState::Done);
    assert_eq!(t.done_by.as_deref(), Some("gateway:gw-1"));
    assert!(!i.tasks.iter().any(|t| t.id.starts_with("action.")));
    // A person's word on a task survives the next analysis.
    let manual = i
        .tasks
        .iter_mut()
        .find(|t| t.id == "contain.2.1.4")
        .unwrap();
    manual.state = TaskState::Done;
    manual.done_by = Some("alice".into());
    run_enforced(
        &mut i,
        &RespondSettings::default(),
        &audit,
        &enforced,
        NOW + 180_000,
    );
    let t = i.tasks.iter().find(|t| t.id == "contain.2.1.4").unwrap();
    assert_eq!(
        (t.state, t.done_by.as_deref()),
        (TaskState::Done, Some("alice"))
    );
    // So does a person's reopening of a task an action completed: the rate limit was put
    // in force, but the analyst judges the task not done.
    let reopened = i
        .tasks
        .iter_mut()
        .find(|t| t.id == "contain.2.1.1")
        .unwrap();
    reopened.state = TaskState::Open;
    reopened.done_by = Some("bob".into());
    run_enforced(
        &mut i,
        &RespondSettings::default(),
        &audit,
        &enforced,
        NOW + 240_000,
    );
    let t = i.tasks.iter().find(|t| t.id == "contain.2.1.1").unwrap();
    assert_eq!(
        (t.state, t.done_by.as_deref()),
        (TaskState::Open, Some("bob"))
    );
}

#[test]
fn the_per_download_audit_rule_alone_contains_nothing() {
    // The serving fleet's weight pulls: each raises the audit rule, none is theft by itself.
    let pull = AlertView::from_json(json!({
        "@timestamp": "2025-03-10T23:13:14.000Z",
        "alert": {"id": "pull-1"},
        "entity": {"principal": "arn:aws:sts::123456789012:assumed-role/ModelDeploy/model-deploy"},
        "file.path": "s3://acme-ml-models/llama-3-8b-instruct/v3/model-00004-of-00004.safetensors",
        "rule": {"id": "2e4c6a80-9b1d-4f3e-a5c7-1d2e3f4a5b03", "name": "Model weights downloaded from object storage",
                 "origin": "builtin:sigma/model_weights_download.yml",
                 "tags": ["attack.collection", "pb53.weight_checkpoint_theft"]},
        "severity": "medium", "risk_score": 47
    }))
    .unwrap();
    let mut i = incident(vec![pull]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert!(i.analysis.vectors.is_empty(), "{:?}", i.analysis.vectors);
    assert!(decisions(&i).is_empty());
    assert_eq!(i.severity, "medium");
}

#[test]
fn a_key_listed_is_a_way_in_not_weights_confirmed_stolen() {
    let keys = AlertView::from_json(json!({
        "@timestamp": "2025-03-10T21:30:00.000Z",
        "alert": {"id": "keys-1"},
        "entity": {"principal": "arn:aws:iam::123456789012:user/jsmith", "source.ip": "192.0.2.91"},
        "event": {"action": "CreateAccessKey"},
        "rule": {"id": "6a1f3c52-8d4e-4b7a-9c21-3e5f7a9b1d02", "name": "Storage access keys listed or created",
                 "origin": "builtin:sigma/storage_access_sharing.yml",
                 "tags": ["pb53.weight_checkpoint_theft", "pb53.insider_model_copy"]},
        "severity": "medium", "risk_score": 47
    }))
    .unwrap();
    let mut i = incident(vec![keys.clone()]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert_eq!(i.analysis.facts.get("artifact_accessed"), Some(&true));
    assert_eq!(i.analysis.facts.get("weights_stolen"), Some(&false));
    assert!(
        !i.analysis
            .escalations
            .iter()
            .any(|e| e.escalate_to == "CTO + CISO + Legal"),
        "{:?}",
        i.analysis.escalations
    );
    // The copy of a model file that follows confirms it.
    let mut i = incident(vec![keys.clone(), copy_alert()]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert_eq!(i.analysis.facts.get("weights_stolen"), Some(&true));
    // So does the copy of an archive (any object but a dataset file).
    let mut doc = copy_alert().doc.clone();
    doc["file.path"] = json!("s3://jsmith-archive-7f3a/backup/llama-70b.tar.zst");
    doc["storage.copy.source.key"] = json!("checkpoints/llama-70b.tar.zst");
    let mut i = incident(vec![keys, AlertView::from_json(doc).unwrap()]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    assert_eq!(i.analysis.facts.get("weights_stolen"), Some(&true));
}

fn run_with_volume(incident: &mut Incident, volume: &VolumeSeries) {
    run_counted(incident, &RespondSettings::default(), &[], &[], volume, NOW);
}

/// `principal`'s calls at `times`, counted in hourly buckets as the responder counts them.
fn volume_of(principal: &str, times: &[i64]) -> VolumeSeries {
    let mut v = VolumeSeries {
        bucket_ms: 3_600_000,
        ..VolumeSeries::default()
    };
    let series = v.series.entry(principal.to_string()).or_default();
    for t in times {
        *series.entry(t - t.rem_euclid(3_600_000)).or_default() += 1;
    }
    v.times.insert(principal.to_string(), times.to_vec());
    v
}

fn answer<'a>(
    answers: &'a [modelward_respond::incident::Answer],
    id: &str,
) -> &'a modelward_respond::incident::Answer {
    answers.iter().find(|a| a.id == id).unwrap()
}

/// Issue 14, item 7: the incident's call volume is the calls in its time frame (the alert
/// spans 22:10:25–22:14:26), not the hour bucket's (which had 900 calls before the attack).
#[test]
fn call_volume_counts_the_calls_of_the_incidents_time_frame() {
    let hour = T0 - T0.rem_euclid(3_600_000);
    let mut times: Vec<i64> = (0..900).map(|i| hour + i * 600).collect(); // 22:00–22:09
    times.extend((0..240).map(|i| T0 + 500 + i * 1_000)); // 240 calls in 4 minutes
    times.sort_unstable();
    let mut i = incident(vec![extraction_alert("mallory")]);
    run_with_volume(&mut i, &volume_of("mallory", &times));
    let details = answer(&i.analysis.triage, "api_volume").details.join("\n");
    assert!(details.contains("mallory: 240 calls"), "{details}");
}

/// Issue 14, item 7: the scope says how many calls the extracting principal made in the
/// frame, not the threshold count the alert fired at ("at least 100").
#[test]
fn the_extraction_extent_comes_from_the_logs() {
    let times: Vec<i64> = (0..1_500).map(|i| T0 + 111 + i * 160).collect();
    let mut i = incident(vec![extraction_alert("mallory")]);
    i.last_seen = *times.last().unwrap();
    run_with_volume(&mut i, &volume_of("mallory", &times));
    let extent = answer(&i.analysis.scope, "extent");
    assert!(
        extent.answer.starts_with("1,500 calls"),
        "{}",
        extent.answer
    );
    assert!(!extent.answer.contains("at least 100"), "{}", extent.answer);
}

/// Issue 14, item 7: a burst of key listings (Elastic's "Potential Azure OpenAI Model Theft"
/// counts ListKey calls, ATLAS AML.T0044) is credential access, not "Model extraction via
/// API".
#[test]
fn a_burst_of_key_listings_is_not_model_extraction() {
    let listing = AlertView::from_json(json!({
        "@timestamp": "2025-03-04T22:14:26.121Z",
        "alert": {"id": "listkey-1"},
        "entity": {"resource": "contoso-openai"},
        "azure.resource.name": "contoso-openai", "count": 140,
        "rule": {"id": "4021e78d-5293-48d3-adee-a70fa4c18fab", "name": "Potential Azure OpenAI Model Theft",
                 "origin": "builtin:esql/azure_openai_model_theft.toml",
                 "tags": ["Use Case: Model Theft", "Mitre Atlas: T0044"]},
        "threat": [{"framework": "MITRE ATLAS",
                    "tactic": {"id": "AML.TA0000", "name": "ML Model Access"},
                    "technique": [{"id": "AML.T0044", "name": "Full ML Model Access"}]}],
        "severity": "medium", "risk_score": 47
    }))
    .unwrap();
    let mut i = incident(vec![listing]);
    run(&mut i, &RespondSettings::default(), &[], NOW);
    let vectors: Vec<&str> = i.analysis.vectors.iter().map(|v| v.id.as_str()).collect();
    assert!(!vectors.contains(&"model_extraction_api"), "{vectors:?}");
}

/// Issue 14, item 7: the report's chart of a four-minute extraction has buckets that fit it
/// (not one hourly point) and draws bars.
#[test]
fn the_chart_of_a_short_incident_has_fitting_bars() {
    let hour = T0 - T0.rem_euclid(3_600_000);
    let mut times: Vec<i64> = (0..60).map(|i| hour + i * 9_000).collect();
    times.extend((0..240).map(|i| T0 + 500 + i * 1_000));
    times.sort_unstable();
    let mut i = incident(vec![extraction_alert("mallory")]);
    i.last_seen = *times.last().unwrap();
    run_with_volume(&mut i, &volume_of("mallory", &times));
    let chart = &i.analysis.volume;
    assert_eq!(chart.bucket_ms, 15_000, "{chart:?}");
    let bars = chart.series["mallory"].len();
    assert!((16..=60).contains(&bars), "{bars} buckets");
    let svg = modelward_respond::report::volume_svg(chart, Some((i.first_seen, i.last_seen)));
    assert!(svg.contains("per 15s"), "{svg}");
    assert!(svg.matches(r#"class="bar""#).count() >= 16);
}

/// Issue 18 item 2: PB-53's recovery check 6.6 "verify no unauthorized model copies exist"
/// is the latest scan's result (`inventory find --copies`), never done without one.
#[test]
fn verify_no_unauthorized_copies_comes_from_the_latest_scan() {
    use modelward_store::copy_scans::CopyScan;
    let with_scan = |incident: &mut Incident, scan: Option<&CopyScan>| {
        let inputs = Inputs {
            settings: &RespondSettings::default(),
            volume: &VolumeSeries::default(),
            inventory: None,
            storage_logs: true,
            context_facts: BTreeMap::new(),
            audit: &[],
            enforced: &[],
            copy_scan: scan,
        };
        analyze(&Playbook::builtin(), incident, &inputs, NOW);
        incident
            .tasks
            .iter()
            .find(|t| t.id == "recover.6.6")
            .cloned()
            .unwrap()
    };
    let mut i = incident(vec![copy_alert()]);
    // No scan: open, and the task says how to answer it.
    let t = with_scan(&mut i, None);
    assert_eq!(t.state, TaskState::Open);
    assert!(
        t.title.contains("no scan for copies recorded"),
        "{}",
        t.title
    );
    // A person cannot tick it without a scan.
    i.tasks
        .iter_mut()
        .find(|t| t.id == "recover.6.6")
        .map(|t| {
            t.state = TaskState::Done;
            t.done_by = Some("alice".into());
        })
        .unwrap();
    assert_eq!(with_scan(&mut i, None).state, TaskState::Open);

    let scan = |at_ms: i64, copies: &str, errors: u64| CopyScan {
        id: 7,
        scanned_at: at_ms / 1000,
        roots: r#"["/srv/share"]"#.into(),
        key_id: "0123456789abcdef".into(),
        models: r#"["llama-ft-v3"]"#.into(),
        files: 41,
        examined: 3,
        errors,
        copies: copies.into(),
    };
    // Copies found: open, naming them.
    let found = scan(
        T0 + 3_600_000,
        r#"[{"location": "/srv/share/tmp/notes.bin", "model": "llama-ft-v3", "log10_false_match_probability": -390.6}]"#,
        0,
    );
    let t = with_scan(&mut i, Some(&found));
    assert_eq!(t.state, TaskState::Open);
    assert!(
        t.title
            .contains("1 copy found: /srv/share/tmp/notes.bin (llama-ft-v3)"),
        "{}",
        t.title
    );
    assert!(t
        .title
        .contains("of /srv/share (41 file(s), 3 compared with 1 model(s))"));
    // Nothing found, but not everything read: open.
    let t = with_scan(&mut i, Some(&scan(T0 + 7_200_000, "[]", 2)));
    assert_eq!(t.state, TaskState::Open);
    assert!(
        t.title.contains("2 path(s) could not be read"),
        "{}",
        t.title
    );
    // A clean scan from before the incident: open.
    let t = with_scan(&mut i, Some(&scan(T0 - 86_400_000, "[]", 0)));
    assert_eq!(t.state, TaskState::Open);
    assert!(t.title.contains("predates the incident"), "{}", t.title);
    // A clean scan since: done by the scan, at its time.
    let clean = scan(T0 + 9_000_000, "[]", 0);
    let t = with_scan(&mut i, Some(&clean));
    assert_eq!(t.state, TaskState::Done, "{}", t.title);
    assert_eq!(t.done_by.as_deref(), Some("scan:7"));
    assert_eq!(t.done_at, Some(clean.scanned_at * 1000));
    assert!(t.title.ends_with("no copy found"), "{}", t.title);
    // A later scan that finds a copy reopens it.
    let t = with_scan(&mut i, Some(&found));
    assert_eq!(t.state, TaskState::Open);
}
