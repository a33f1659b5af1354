//! Arbitrary alert documents (NDJSON) through the response side: read, grouped into
//! incidents, PB-53 run over them, actions planned in a dry run, reports and IoCs written —
//! no panic, whatever the documents hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use modelward_event::source::SourceKind;
use modelward_respond::action::run::Runner;
use modelward_respond::analyze::RespondSettings;
use modelward_respond::report::{self, ReportInput};
use modelward_respond::{ioc, AlertView, Logs, Playbook, Responder};
use modelward_store::Store;

fuzz_target!(|data: &[u8]| {
    let alerts: Vec<AlertView> = data
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .filter_map(|doc| AlertView::from_json(doc).ok())
        .collect();
    let Ok(mut store) = Store::open_in_memory() else {
        return;
    };
    let playbook = Playbook::builtin();
    let settings = RespondSettings::default();
    let responder = Responder::new(&playbook, &settings, "fuzz");
    let logs = Logs {
        inputs: &[],
        source: SourceKind::Auto,
        reader: &Default::default(),
    };
    let mut runner = Runner::new(Vec::new(), true, "fuzz");
    let Ok(changes) = responder.ingest(&mut store, alerts, &logs, &mut runner, 1_700_000_000_000)
    else {
        return;
    };
    for c in &changes {
        let input = ReportInput {
            incident: &c.incident,
            audit: &c.actions,
            evidence_records: 0,
            generated_at: 1_700_000_000_000,
            now: 1_700_000_000_000,
        };
        let _ = report::markdown(&input);
        let _ = report::html(&input);
        let mut csv = Vec::new();
        let _ = ioc::to_csv(&c.incident.analysis.iocs, &mut csv);
        let _ = modelward_respond::stix::to_stix(&c.incident, &c.incident.analysis.iocs, 0);
    }
});
