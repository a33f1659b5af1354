//! Incident reports: one Markdown file and one self-contained HTML page per incident.
//!
//! Both follow PB-53's order: the header with the flow (Detect → Analyze → Contain →
//! Eradicate → Recover → Lessons) and the current stage, a summary (vectors, decisions, SLA
//! state), the timeline (alerts, stage moves, decisions and actions in time order), triage
//! (1.1), the theft-vector classification (1.2), the scope (1.3), the principals' call
//! volume, the evidence, the IoCs (3), the escalations (4), the decisions (5) with their
//! actions and what the audit log says became of them, the checklists (containment,
//! escalation, recovery, post-incident) with their state, the audit log and a footer.
//!
//! - [`markdown`]: GitHub-flavoured Markdown; the volume is a table with sparklines.
//! - [`html`]: one file, nothing loaded from elsewhere (inline CSS, inline SVG, no script),
//!   every value from the logs escaped, printable, readable on a phone.
//! - [`volume_svg`]: the call-volume chart on its own (the HTML page embeds it).
//!
//! Values are rendered as the incident holds them: API keys are masked where the alerts and
//! IoCs are made, and the report never looks up an unmasked form.
//!
//! ```
//! use modelward_respond::report::{self, ReportInput};
//! use modelward_respond::volume::VolumeSeries;
//!
//! let svg = report::volume_svg(&VolumeSeries::default(), None);
//! assert!(svg.starts_with("<svg"));
//! # let _ = |incident: &modelward_respond::Incident| {
//! let input = ReportInput { incident, audit: &[], evidence_records: 0, generated_at: 0, now: 0 };
//! let page = report::html(&input);
//! # };
//! ```

mod escape;
mod html;
mod markdown;
mod svg;
mod table;
mod time;
mod view;

use crate::action::AuditEntry;
use crate::incident::Incident;

/// Escapes text for HTML and SVG (`& < > " '`): the one escaper of every page modelward
/// writes.
pub use escape::html as escape_html;
pub use svg::volume_svg;

/// What a report is made of.
#[derive(Debug, Clone, Copy)]
pub struct ReportInput<'a> {
    pub incident: &'a Incident,
    /// The audit log's entries (those of other incidents are left out).
    pub audit: &'a [AuditEntry],
    /// How many raw log records the evidence store holds for the incident.
    pub evidence_records: usize,
    /// When the report is made (wall clock, ms): the footer.
    pub generated_at: i64,
    /// The time SLAs and due dates are judged at (wall clock, ms).
    pub now: i64,
}

/// A format of the report: how it writes each section. Which sections there are, and their
/// order, are [`Format::sections`]'s, the same in every format.
trait Format {
    /// The incident's id, title, flow and current stage.
    fn header(out: &mut String, input: &ReportInput);
    fn summary(out: &mut String, input: &ReportInput);
    fn timeline(out: &mut String, input: &ReportInput);
    /// 1.1 Triage: the analysis' checks.
    fn triage(out: &mut String, input: &ReportInput);
    /// 1.2 The theft-vector classification.
    fn vectors(out: &mut String, input: &ReportInput);
    /// 1.3 Scope: the analysis' questions.
    fn scope(out: &mut String, input: &ReportInput);
    /// The principals' call volume.
    fn volume(out: &mut String, input: &ReportInput);
    fn evidence(out: &mut String, input: &ReportInput);
    fn iocs(out: &mut String, input: &ReportInput);
    fn escalations(out: &mut String, input: &ReportInput);
    fn decisions(out: &mut String, input: &ReportInput);
    fn checklists(out: &mut String, input: &ReportInput);
    fn audit(out: &mut String, input: &ReportInput);

    /// Every section, in PB-53's order.
    fn sections(out: &mut String, input: &ReportInput) {
        let order: [fn(&mut String, &ReportInput); 13] = [
            Self::header,
            Self::summary,
            Self::timeline,
            Self::triage,
            Self::vectors,
            Self::scope,
            Self::volume,
            Self::evidence,
            Self::iocs,
            Self::escalations,
            Self::decisions,
            Self::checklists,
            Self::audit,
        ];
        for section in order {
            section(out, input);
        }
    }
}

/// The report as GitHub-flavoured Markdown.
pub fn markdown(input: &ReportInput) -> String {
    markdown::render(input)
}

/// The report as one self-contained HTML page.
pub fn html(input: &ReportInput) -> String {
    html::render(input)
}
