//! Incident reports for a realistic API-extraction incident (`fixtures/report_incident.json`):
//! the Markdown as a snapshot, the sections in PB-53's order, escaping of values from the
//! logs, action outcomes from the audit log, SLA states, a self-contained HTML page, and
//! that page rendered by headless Chromium (the screenshot decoded and looked at, the DOM
//! dumped).
//!
//! Set `MODELWARD_REPORT_SCREENSHOT=path.png` to keep the screenshot (the docs' image is
//! made so).

use modelward_respond::action::AuditEntry;
use modelward_respond::report::{self, ReportInput};
use modelward_respond::Incident;
use serde::Deserialize;

mod chromium;
use chromium::{decode_png, dump_dom, find_chromium, remove_dir, scratch_dir, screenshot};

#[derive(Deserialize)]
struct Fixture {
    incident: Incident,
    audit: Vec<AuditEntry>,
    evidence_records: usize,
    generated_at: i64,
    now: i64,
}

fn fixture() -> Fixture {
    serde_json::from_str(include_str!("fixtures/report_incident.json")).expect("fixture")
}

fn input(f: &Fixture) -> ReportInput<'_> {
    ReportInput {
        incident: &f.incident,
        audit: &f.audit,
        evidence_records: f.evidence_records,
        generated_at: f.generated_at,
        now: f.now,
    }
}

/// The line colour of the busiest principal in the chart. The window (1280×3600) is tall
/// enough for the chart, which comes after the timeline, triage and scope.
const LINE: [u8; 3] = [0x25, 0x63, 0xeb];
const SCRIPT: &str = "<script>alert(document.cookie)</script>";

#[test]
fn markdown_report_snapshot() {
    let f = fixture();
    insta::assert_snapshot!("markdown_report", report::markdown(&input(&f)));
}

#[test]
fn sections_follow_pb53() {
    let f = fixture();
    let md = report::markdown(&input(&f));
    let html = report::html(&input(&f));
    let md_order = [
        "# INC-3f9a0c1d2e4b: ",
        "## Summary",
        "## Timeline",
        "## 1.1 Triage",
        "## 1.2 Theft vector classification",
        "## 1.3 Scope",
        "## Call volume",
        "## Evidence",
        "## 3. IoCs",
        "## 4. Escalation",
        "## 5. Decisions",
        "## Checklists",
        "### 2. Containment",
        "### 6. Recovery",
        "### 7. Post-incident",
        "## Audit log",
        "by modelward.",
    ];
    let html_order = [
        "<h1>",
        "id=\"summary\"",
        "id=\"timeline\"",
        "id=\"triage\"",
        "id=\"vectors\"",
        "id=\"scope\"",
        "id=\"volume\"",
        "<svg",
        "id=\"evidence\"",
        "id=\"iocs\"",
        "id=\"escalation\"",
        "id=\"decisions\"",
        "id=\"checklists\"",
        "id=\"audit\"",
        "<footer>",
        "by modelward",
    ];
    for (text, order) in [(&md, &md_order[..]), (&html, &html_order[..])] {
        let mut at = 0;
        for heading in order {
            let found = text[at..]
                .find(heading)
                .unwrap_or_else(|| panic!("{heading} missing or out of order"));
            at += found + heading.len();
        }
    }
    assert!(md.contains("Detect ✓ → Analyze ✓ → **▶ Contain** → Eradicate → Recover → Lessons"));
    assert!(html.contains(
        "<li class=\"current\" style=\"--c:#e67e22\" aria-current=\"step\">▶ Contain</li>"
    ));
    // Checklists by part, with their states.
    assert!(md.contains("#### If model extraction via API"));
    assert!(md.contains("| ☑ done | Rate-limit or block suspicious API consumer (API Gateway) |"));
    assert!(md.contains("| n/a | Lock access to model weight storage"));
    assert!(md.contains("| **☐ OVERDUE** | Revoke compromised API keys/tokens"));
    assert!(md.contains("| ☐ open | Add randomized perturbation to API outputs |"));
}

#[test]
fn values_from_the_logs_are_escaped() {
    let f = fixture();
    let html = report::html(&input(&f));
    let md = report::markdown(&input(&f));
    assert!(
        f.incident
            .alerts
            .iter()
            .any(|a| a.message.as_deref().is_some_and(|m| m.contains(SCRIPT))),
        "the fixture carries markup in an alert message"
    );
    for text in [&html, &md] {
        assert!(!text.contains("<script"), "unescaped markup");
        assert!(text.contains("&lt;script&gt;alert(document.cookie)&lt;/script&gt;"));
    }
    // In the timeline, the evidence, the triage details and the IoCs.
    assert!(html.matches("&lt;script&gt;").count() >= 4);
    // A cell keeps its pipe and stays one cell.
    assert!(md.contains("no model files involved \\| API only"));
    for line in md.lines().filter(|l| l.starts_with('|')) {
        assert!(!line.contains('\n'));
    }
}

#[test]
fn api_keys_stay_masked() {
    let f = fixture();
    assert!(f
        .incident
        .entities
        .iter()
        .any(|(k, v)| k == "api_key" && v == "key_9c1d4e7a2b3f"));
    for text in [report::markdown(&input(&f)), report::html(&input(&f))] {
        assert!(!text.contains("key_9c1d4e7a2b3f"));
        assert!(text.contains("key_9c…b3f"));
    }
}

#[test]
fn actions_show_what_the_audit_log_says() {
    let f = fixture();
    // The fixture's audit entries carry the planned actions' own idempotency keys.
    let keys: Vec<String> = f
        .incident
        .analysis
        .decisions
        .iter()
        .flat_map(|d| d.actions.iter().map(|a| a.idempotency_key()))
        .collect();
    for k in &keys {
        assert!(f.audit.iter().any(|e| &e.idempotency_key == k), "{k}");
    }
    let md = report::markdown(&input(&f));
    let decisions = &md[md.find("## 5. Decisions").unwrap()..md.find("## Checklists").unwrap()];
    for (action, outcome) in [
        ("rate_limit principal dev-7731@example.net (10/min)", "done"),
        (
            "reduce_output_detail principal dev-7731@example.net",
            "dry run",
        ),
        (
            "proof_of_work principal dev-7731@example.net (20 bits)",
            "manual",
        ),
        ("preserve_evidence incident INC-3f9a0c1d2e4b", "done"),
        ("freeze_account principal dev-7731@example.net", "manual"),
        ("notify incident INC-3f9a0c1d2e4b", "**failed**"),
    ] {
        let row = decisions
            .lines()
            .find(|l| l.starts_with(&format!("| {action}")))
            .unwrap_or_else(|| panic!("no row for {action}"));
        assert!(row.contains(&format!("| {outcome} |")), "{row}");
    }
    // The audit log is the incident's own.
    assert!(!md.contains("svc-other"));
    assert!(md.contains("| 10 | 2025-03-04 22:31:44 UTC | notify |"));
}

#[test]
fn sla_states_are_judged_at_now() {
    let f = fixture();
    let md = report::markdown(&input(&f));
    assert!(md.contains("- **SLA:** **OVERDUE (1 OF 2 DECISIONS)**"));
    assert!(md.contains(
        "  - Notify legal, HR, privacy, and executive stakeholders: **OVERDUE BY 6H 28M**"
    ));
    assert!(md.contains("  - Rate-limit, preserve evidence, and continue investigation: met"));
    let html = report::html(&input(&f));
    assert!(html.contains("<span class=\"badge critical\">OVERDUE by 6h 28m</span>"));
    // Before the notify decision's clock ran out, it is due.
    let mut earlier = input(&f);
    earlier.now = f.incident.analysis.decisions[1].decided_at + 60 * 60_000;
    assert!(report::markdown(&earlier).contains("- **SLA:** due in 3h"));
}

#[test]
fn html_is_self_contained() {
    let f = fixture();
    let html = report::html(&input(&f));
    assert!(html.starts_with("<!DOCTYPE html>"));
    for banned in ["<script", "<link", "src=", "@import", "url(", "<iframe"] {
        assert!(!html.contains(banned), "{banned}");
    }
    let external = html
        .match_indices("://")
        .filter(|(i, _)| {
            !html[..*i].ends_with("=\"http") || !html[*i..].starts_with("://www.w3.org/2000/svg\"")
        })
        .count();
    assert_eq!(external, 0, "the page refers to nothing outside it");
    assert!(html.contains("@media print"));
    assert!(html.contains("name=\"viewport\""));
    assert!(html.contains("<span class=\"badge critical\">critical</span>"));
}

#[test]
fn html_renders_in_headless_chromium() {
    let Some(program) = find_chromium() else {
        return;
    };
    let f = fixture();
    let dir = scratch_dir("report");
    let page = dir.join("INC-3f9a0c1d2e4b.html");
    std::fs::write(&page, report::html(&input(&f))).unwrap();
    let url = format!("file://{}", page.display());
    let shot = screenshot(&program, &dir, &url);
    let (pixels, width, height) = decode_png(&shot);
    assert_eq!((width, height), (1280, 3600));
    let total = pixels.len() as f64;
    let inked = pixels.iter().filter(|p| p.iter().any(|c| *c < 235)).count() as f64;
    assert!(
        inked / total > 0.03,
        "the page is blank: {:.2}% non-white",
        100.0 * inked / total
    );
    let line = pixels
        .iter()
        .filter(|p| p.iter().zip(LINE).all(|(a, b)| a.abs_diff(b) <= 6))
        .count();
    assert!(line >= 100, "the chart's line colour: {line} pixels");
    if let Some(keep) = std::env::var_os("MODELWARD_REPORT_SCREENSHOT") {
        std::fs::copy(&shot, &keep).unwrap();
    }

    let dom = dump_dom(&program, &dir, &url);
    assert!(dom.contains("INC-3f9a0c1d2e4b"));
    assert!(dom.contains("<svg"));
    assert!(!dom.contains(SCRIPT));
    remove_dir(&dir);
}
