//! The report as one self-contained HTML page: inline CSS and SVG, no script, no web font,
//! nothing fetched. Every value from the incident goes through [`escape::html`].

use std::fmt::Write;

use crate::incident::{Answer, Stage, Status, Task};

use super::markdown::capitalised;
use super::table::{Cell, Table};
use super::view::{self, Badge, Sla};
use super::{escape, svg, time, Format, ReportInput};

const CSS: &str = include_str!("report.css");

/// PB-53's colours for the stages of its flow.
fn stage_colour(s: Stage) -> &'static str {
    match s {
        Stage::Detect => "#e74c3c",
        Stage::Analyze => "#f39c12",
        Stage::Contain => "#e67e22",
        Stage::Eradicate => "#27ae60",
        Stage::Recover => "#2980b9",
        Stage::Lessons => "#8e44ad",
    }
}

/// The whole page.
pub(super) fn render(input: &ReportInput) -> String {
    let i = input.incident;
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"generator\" content=\"modelward\">\n\
         <title>{}: {}</title>\n<style>\n{CSS}</style>\n</head>\n<body>\n<main>\n",
        e(&i.id),
        e(&i.title)
    );
    Html::sections(&mut out, input);
    let _ = write!(
        out,
        "<footer>Generated {} by modelward · playbook {} · incident {}</footer>\n</main>\n</body>\n</html>\n",
        e(&time::utc(input.generated_at)),
        e(&i.playbook),
        e(&i.id)
    );
    out
}

fn e(s: &str) -> String {
    escape::html(s)
}

fn badge(b: &Badge) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        b.tone.class(),
        e(&b.label)
    )
}

fn section(out: &mut String, id: &str, title: &str) {
    let _ = write!(out, "<section id=\"{id}\">\n<h2>{}</h2>\n", e(title));
}

fn end(out: &mut String) {
    out.push_str("</section>\n");
}

fn note(out: &mut String, text: &str) {
    let _ = writeln!(out, "<p class=\"note\">{}</p>", e(text));
}

fn list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => e(one),
        many => {
            let mut s = String::from("<ul>");
            for item in many {
                let _ = write!(s, "<li>{}</li>", e(item));
            }
            s.push_str("</ul>");
            s
        }
    }
}

/// The HTML page's sections.
struct Html;

impl Format for Html {
    fn header(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        let _ = write!(
        out,
        "<header>\n<p class=\"kicker\">Incident report · {}</p>\n<h1><span class=\"id\">{}</span> {}</h1>\n<p class=\"badges\">{} {} <span class=\"badge muted\">stage: {}</span></p>\n",
        e(&i.playbook),
        e(&i.id),
        e(&i.title),
        badge(&view::severity(&i.severity)),
        badge(&match i.status {
            Status::Open => Badge { label: "open".into(), tone: view::Tone::Warn },
            Status::Closed => Badge { label: "closed".into(), tone: view::Tone::Good },
        }),
        e(i.stage.as_str())
    );
        let at = Stage::ALL.iter().position(|s| *s == i.stage).unwrap_or(0);
        out.push_str("<ol class=\"flow\" aria-label=\"PB-53 flow\">");
        for (n, s) in Stage::ALL.iter().enumerate() {
            let class = if n < at || (n == at && i.status == Status::Closed) {
                "past"
            } else if n == at {
                "current"
            } else {
                "future"
            };
            let mark = match class {
                "past" => "✓ ",
                "current" => "▶ ",
                _ => "",
            };
            let current = if class == "current" {
                " aria-current=\"step\""
            } else {
                ""
            };
            let _ = write!(
                out,
                "<li class=\"{class}\" style=\"--c:{}\"{current}>{mark}{}</li>",
                stage_colour(*s),
                e(&capitalised(s.as_str()))
            );
        }
        out.push_str("</ol>\n<dl class=\"meta\">");
        let mut field = |k: &str, v: String| {
            let class = if k == "Entities" {
                " class=\"wide\""
            } else {
                ""
            };
            let _ = write!(out, "<div{class}><dt>{}</dt><dd>{v}</dd></div>", e(k));
        };
        field("First seen", e(&time::utc(i.first_seen)));
        field("Last seen", e(&time::utc(i.last_seen)));
        field("Opened", e(&time::utc(i.created_at)));
        field("Playbook", e(&i.playbook));
        let entities: Vec<String> = i
            .entities
            .iter()
            .map(|(k, v)| {
                format!(
                    "<span class=\"k\">{}</span> {}",
                    e(k),
                    e(&view::shown(k, v))
                )
            })
            .collect();
        field("Entities", entities.join(" · "));
        if let Some(c) = &i.closed {
            field(
                "Closed",
                e(&format!(
                    "{} by {}: {}",
                    time::utc(c.at),
                    c.by,
                    c.resolution
                )),
            );
        }
        out.push_str("</dl>\n</header>\n");
    }

    fn summary(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        section(out, "summary", "Summary");
        out.push_str("<div class=\"cards\">");
        let _ = write!(
            out,
            "<div class=\"card\"><h3>Vectors</h3><p>{}</p></div>",
            e(&view::vectors_text(i))
        );
        let _ = write!(
            out,
            "<div class=\"card\"><h3>SLA</h3><p>{}</p>",
            badge(&view::overall_sla(i, input.now))
        );
        if i.analysis.decisions.is_empty() {
            out.push_str("<p class=\"note\">No decision yet.</p>");
        } else {
            out.push_str("<ul class=\"plain\">");
            for d in &i.analysis.decisions {
                let _ = write!(
                    out,
                    "<li>{} {}</li>",
                    e(&d.decision),
                    badge(&Sla::of(d, input.now).badge())
                );
            }
            out.push_str("</ul>");
        }
        out.push_str("</div>");
        let (open, overdue, done, na) = view::task_counts(&i.tasks, input.now);
        let _ = write!(
        out,
        "<div class=\"card\"><h3>Tasks</h3><p><b>{open}</b> open{}, <b>{done}</b> done, {na} n/a</p></div>",
        if overdue > 0 {
            format!(" (<span class=\"overdue\">{overdue} overdue</span>)")
        } else {
            String::new()
        }
    );
        let _ = write!(
        out,
        "<div class=\"card\"><h3>Evidence</h3><p><b>{}</b> alerts, <b>{}</b> raw log records preserved</p></div>",
        i.alerts.len(),
        time::count(input.evidence_records as u64)
    );
        out.push_str("</div>\n");
        end(out);
    }

    fn timeline(out: &mut String, input: &ReportInput) {
        section(out, "timeline", "Timeline");
        let entries = view::timeline(input);
        if entries.is_empty() {
            note(out, "Nothing happened yet.");
            end(out);
            return;
        }
        let mut t = Table::new("timeline", &["Time (UTC)", "Kind", "State", "Event"]);
        for entry in &entries {
            t.row(
                &format!("k-{}", entry.kind.as_str()),
                vec![
                    Cell::time(entry.at),
                    Cell::html(
                        "",
                        format!("<span class=\"kind\">{}</span>", entry.kind.as_str()),
                    ),
                    Cell::html("", entry.badge.as_ref().map(badge).unwrap_or_default()),
                    Cell::text("msg", &entry.text),
                ],
            );
        }
        t.finish(out);
        end(out);
    }

    fn triage(out: &mut String, input: &ReportInput) {
        answers(
            out,
            "triage",
            "1.1 Triage",
            "Check",
            &input.incident.analysis.triage,
        );
    }

    fn vectors(out: &mut String, input: &ReportInput) {
        section(out, "vectors", "1.2 Theft vector classification");
        let v = &input.incident.analysis.vectors;
        if v.is_empty() {
            note(out, "No vector classified.");
            end(out);
            return;
        }
        let mut t = Table::new("", &["Vector", "Indicator", "Severity", "Alerts"]);
        for v in v {
            t.row(
                "",
                vec![
                    Cell::html("", format!("<b>{}</b>", e(&v.name))),
                    Cell::text("", &v.indicator),
                    Cell::html("", badge(&view::severity(&v.severity))),
                    Cell::html("mono", list(&v.alerts)),
                ],
            );
        }
        t.finish(out);
        end(out);
    }

    fn scope(out: &mut String, input: &ReportInput) {
        answers(
            out,
            "scope",
            "1.3 Scope",
            "Question",
            &input.incident.analysis.scope,
        );
    }

    fn volume(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        section(out, "volume", "Call volume");
        let _ = writeln!(
        out,
        "<figure>{}<figcaption>Calls per principal over time (UTC); the shaded band is the alert window, {} to {}.</figcaption></figure>",
        svg::volume_svg(&i.analysis.volume, Some((i.first_seen, i.last_seen))),
        e(&time::utc(i.first_seen)),
        e(&time::utc(i.last_seen))
    );
        end(out);
    }

    fn evidence(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        section(out, "evidence", "Evidence");
        note(
            out,
            &format!(
                "{} alerts; {} raw log records preserved in the evidence store.",
                i.alerts.len(),
                time::count(input.evidence_records as u64)
            ),
        );
        if i.alerts.is_empty() {
            end(out);
            return;
        }
        let mut t = Table::new(
            "evidence",
            &[
                "Time (UTC)",
                "Rule",
                "Severity",
                "Entity and message",
                "Samples",
            ],
        );
        for a in &i.alerts {
            let samples: String = view::samples(a, 3)
                .iter()
                .map(|s| format!("<li>{}</li>", e(s)))
                .collect();
            t.row(
            "",
            vec![
                Cell::time(a.timestamp),
                Cell::html(
                    "",
                    format!(
                        "<b>{}</b><div class=\"how\">{}</div><div class=\"mono how\">alert {}</div>",
                        e(&a.rule_id),
                        e(&a.rule_name),
                        e(&a.id)
                    ),
                ),
                Cell::html("", badge(&view::severity(&a.severity))),
                Cell::html(
                    "msg",
                    format!(
                        "<div class=\"how mono\">{}</div>{}",
                        e(&view::entity_text(&a.entity)),
                        e(a.message.as_deref().unwrap_or(""))
                    ),
                ),
                Cell::html("samples", format!("<ul class=\"plain\">{samples}</ul>")),
            ],
        );
        }
        t.finish(out);
        end(out);
    }

    fn iocs(out: &mut String, input: &ReportInput) {
        section(out, "iocs", "3. IoCs");
        let iocs = &input.incident.analysis.iocs;
        if iocs.is_empty() {
            note(out, "None collected.");
            end(out);
            return;
        }
        let mut t = Table::new(
            "",
            &[
                "Type",
                "Value",
                "Source",
                "First seen",
                "Last seen",
                "Alerts",
            ],
        );
        for i in iocs {
            t.row(
                "",
                vec![
                    Cell::text("", &i.kind),
                    Cell::text("mono", &i.value),
                    Cell::text("", &i.source),
                    Cell::time(i.first_seen),
                    Cell::time(i.last_seen),
                    Cell::text("mono", &i.alerts.join(", ")),
                ],
            );
        }
        t.finish(out);
        end(out);
    }

    fn escalations(out: &mut String, input: &ReportInput) {
        section(out, "escalation", "4. Escalation");
        let esc = &input.incident.analysis.escalations;
        if esc.is_empty() {
            note(out, "No escalation criterion holds.");
            end(out);
            return;
        }
        let mut t = Table::new("", &["Condition", "Escalate to"]);
        for x in esc {
            t.row(
                "",
                vec![
                    Cell::text("", &x.condition),
                    Cell::html("", format!("<b>{}</b>", e(&x.escalate_to))),
                ],
            );
        }
        t.finish(out);
        end(out);
    }

    fn decisions(out: &mut String, input: &ReportInput) {
        section(out, "decisions", "5. Decisions");
        let ds = &input.incident.analysis.decisions;
        if ds.is_empty() {
            note(out, "No decision yet.");
            end(out);
            return;
        }
        for d in ds {
            let _ = write!(
            out,
            "<article class=\"decision\"><h3>{} {} <span class=\"how mono\">{}</span></h3>\n<dl class=\"meta\">",
            e(&d.decision),
            badge(&Sla::of(d, input.now).badge()),
            e(&d.id)
        );
            let due = d.due_at().map(time::utc).unwrap_or_else(|| "–".into());
            for (k, v) in [
                ("Condition", d.condition.clone()),
                ("Owner", d.owner.clone()),
                ("SLA", d.sla.clone()),
                ("Decided", time::utc(d.decided_at)),
                ("Due", due),
            ] {
                let _ = write!(out, "<div><dt>{k}</dt><dd>{}</dd></div>", e(&v));
            }
            out.push_str("</dl>\n");
            if d.actions.is_empty() {
                note(out, "No action.");
            } else {
                let mut t =
                    Table::new("", &["Action", "Outcome", "Executor", "At (UTC)", "Detail"]);
                for a in &d.actions {
                    let entry = view::audit_of(a, input.audit);
                    t.row(
                        "",
                        vec![
                            Cell::text("mono", &view::action_text(a)),
                            Cell::html("", badge(&view::outcome(entry))),
                            Cell::text("mono", entry.map_or("", |x| x.executor.as_str())),
                            Cell::maybe_time(entry.map(|x| x.at)),
                            Cell::text("msg", entry.map_or("", |x| x.detail.as_str())),
                        ],
                    );
                }
                t.finish(out);
            }
            out.push_str("</article>\n");
        }
        end(out);
    }

    fn checklists(out: &mut String, input: &ReportInput) {
        section(out, "checklists", "Checklists");
        let lists = view::checklists(&input.incident.tasks);
        if lists.is_empty() {
            note(out, "No task.");
        }
        for list in lists {
            let _ = writeln!(out, "<h3>{}</h3>", e(&list.title));
            for (part, tasks) in list.parts {
                if let Some(part) = part {
                    let _ = writeln!(out, "<h4>{}</h4>", e(part));
                }
                let mut t = Table::new(
                    "tasks",
                    &["State", "Task", "Owner", "Due (UTC)", "Set by", "Note"],
                );
                for task in tasks {
                    task_row(&mut t, task, input.now);
                }
                t.finish(out);
            }
        }
        end(out);
    }

    fn audit(out: &mut String, input: &ReportInput) {
        section(out, "audit", "Audit log");
        let entries = view::audit(input);
        if entries.is_empty() {
            note(out, "No action recorded.");
            end(out);
            return;
        }
        let mut t = Table::new(
            "",
            &[
                "#", "At (UTC)", "Action", "Target", "Decision", "Executor", "Outcome", "Detail",
                "Actor",
            ],
        );
        for x in entries {
            t.row(
                "",
                vec![
                    Cell::text("", &x.seq.to_string()),
                    Cell::time(x.at),
                    Cell::text("mono", &x.action),
                    Cell::text(
                        "mono",
                        &format!(
                            "{} {}",
                            x.target_kind,
                            view::shown(&x.target_kind, &x.target)
                        ),
                    ),
                    Cell::text("", &x.decision),
                    Cell::text("mono", &x.executor),
                    Cell::html("", badge(&view::outcome(Some(x)))),
                    Cell::text("msg", &x.detail),
                    Cell::text("", &x.actor),
                ],
            );
        }
        t.finish(out);
        end(out);
    }
}

fn answers(out: &mut String, id: &str, title: &str, what: &'static str, answers: &[Answer]) {
    section(out, id, title);
    if answers.is_empty() {
        note(out, "Not assessed.");
        end(out);
        return;
    }
    let mut t = Table::new("", &[what, "State", "Answer", "Details"]);
    for a in answers {
        t.row(
            "",
            vec![
                Cell::html(
                    "",
                    format!(
                        "<b>{}</b><div class=\"how\">{}</div>",
                        e(&a.question),
                        e(&a.how)
                    ),
                ),
                Cell::html("", badge(&view::answer(a.state))),
                Cell::text("msg", &a.answer),
                Cell::html("msg details", list(&a.details)),
            ],
        );
    }
    t.finish(out);
    end(out);
}

fn task_row(t: &mut Table, task: &Task, now: i64) {
    let done = match (&task.done_by, task.done_at) {
        (Some(by), Some(at)) => format!("{} at {}", by, time::utc_minutes(at)),
        (Some(by), None) => by.clone(),
        (None, Some(at)) => time::utc_minutes(at),
        (None, None) => String::new(),
    };
    t.row(
        &format!("task {}", task.state.as_str().replace('/', "")),
        vec![
            Cell::html("", badge(&view::task(task, now))),
            Cell::html(
                "",
                format!(
                    "{}<div class=\"how mono\">{}</div>",
                    e(&task.title),
                    e(&task.id)
                ),
            ),
            Cell::text("", &task.owner),
            Cell::maybe_time(task.due_at),
            Cell::text("", &done),
            Cell::text("msg", &task.note),
        ],
    );
}
