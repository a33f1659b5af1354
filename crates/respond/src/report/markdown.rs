//! The report as GitHub-flavoured Markdown. Every value from the logs goes through
//! [`escape::md`]; the call volume is a table with sparklines (GitHub shows no inline SVG).

use std::fmt::Write;

use crate::incident::{Answer, Stage, Status};

use super::view::{self, Badge, Sla, Tone};
use super::{escape, time, Format, ReportInput};

/// The whole report.
pub(super) fn render(input: &ReportInput) -> String {
    let mut out = String::new();
    Markdown::sections(&mut out, input);
    let _ = writeln!(
        out,
        "---\n\nGenerated {} by modelward.",
        time::utc(input.generated_at)
    );
    out
}

fn e(s: &str) -> String {
    escape::md(s)
}

/// A badge as text: overdue and critical in capitals and bold.
fn badge(b: &Badge) -> String {
    match b.tone {
        Tone::Critical => format!("**{}**", e(&b.label.to_uppercase())),
        Tone::Bad | Tone::High => format!("**{}**", e(&b.label)),
        _ => e(&b.label),
    }
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out.push('\n');
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "–".to_string()
    } else {
        s
    }
}

fn flow(current: Stage, status: Status) -> String {
    let at = Stage::ALL.iter().position(|s| *s == current).unwrap_or(0);
    Stage::ALL
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name = capitalised(s.as_str());
            if i < at || (i == at && status == Status::Closed) {
                format!("{name} ✓")
            } else if i == at {
                format!("**▶ {name}**")
            } else {
                name
            }
        })
        .collect::<Vec<_>>()
        .join(" → ")
}

pub(super) fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The Markdown file's sections.
struct Markdown;

impl Format for Markdown {
    fn header(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        let _ = writeln!(out, "# {}: {}\n", e(&i.id), e(&i.title));
        let entities = i
            .entities
            .iter()
            .map(|(k, v)| format!("{}: {}", e(k), e(&view::shown(k, v))))
            .collect::<Vec<_>>()
            .join("<br>");
        let mut rows = vec![
            vec!["Severity".into(), badge(&view::severity(&i.severity))],
            vec!["Status".into(), e(i.status.as_str())],
            vec!["Stage".into(), e(i.stage.as_str())],
            vec!["Flow".into(), flow(i.stage, i.status)],
            vec!["First seen".into(), time::utc(i.first_seen)],
            vec!["Last seen".into(), time::utc(i.last_seen)],
            vec!["Opened".into(), time::utc(i.created_at)],
            vec!["Playbook".into(), e(&i.playbook)],
            vec!["Entities".into(), or_dash(entities)],
        ];
        if let Some(c) = &i.closed {
            rows.push(vec![
                "Closed".into(),
                format!("{} by {}: {}", time::utc(c.at), e(&c.by), e(&c.resolution)),
            ]);
        }
        table(out, &["Field", "Value"], &rows);
    }

    fn summary(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        let _ = writeln!(out, "## Summary\n");
        let _ = writeln!(out, "- **Vectors:** {}", e(&view::vectors_text(i)));
        if i.analysis.decisions.is_empty() {
            let _ = writeln!(out, "- **Decisions:** none yet");
        } else {
            let _ = writeln!(out, "- **Decisions:**");
            for d in &i.analysis.decisions {
                let _ = writeln!(
                    out,
                    "  - {}: {}",
                    e(&d.decision),
                    badge(&Sla::of(d, input.now).badge())
                );
            }
        }
        let _ = writeln!(
            out,
            "- **SLA:** {}",
            badge(&view::overall_sla(i, input.now))
        );
        let (open, overdue, done, na) = view::task_counts(&i.tasks, input.now);
        let _ = writeln!(
            out,
            "- **Tasks:** {open} open ({overdue} overdue), {done} done, {na} n/a"
        );
        let _ = writeln!(
            out,
            "- **Evidence:** {} alerts, {} raw log records preserved\n",
            i.alerts.len(),
            time::count(input.evidence_records as u64)
        );
    }

    fn timeline(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## Timeline\n");
        let rows: Vec<Vec<String>> = view::timeline(input)
            .iter()
            .map(|t| {
                vec![
                    time::utc_minutes(t.at),
                    t.kind.as_str().to_string(),
                    t.badge.as_ref().map(badge).unwrap_or_default(),
                    e(&t.text),
                ]
            })
            .collect();
        table(out, &["Time (UTC)", "Kind", "State", "Event"], &rows);
    }

    fn triage(out: &mut String, input: &ReportInput) {
        answers(out, "1.1 Triage", "Check", &input.incident.analysis.triage);
    }

    fn vectors(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## 1.2 Theft vector classification\n");
        let v = &input.incident.analysis.vectors;
        if v.is_empty() {
            let _ = writeln!(out, "No vector classified.\n");
            return;
        }
        let rows: Vec<Vec<String>> = v
            .iter()
            .map(|v| {
                vec![
                    e(&v.name),
                    e(&v.indicator),
                    badge(&view::severity(&v.severity)),
                    e(&v.alerts.join(", ")),
                ]
            })
            .collect();
        table(out, &["Vector", "Indicator", "Severity", "Alerts"], &rows);
    }

    fn scope(out: &mut String, input: &ReportInput) {
        answers(out, "1.3 Scope", "Question", &input.incident.analysis.scope);
    }

    fn volume(out: &mut String, input: &ReportInput) {
        let v = &input.incident.analysis.volume;
        let _ = writeln!(out, "## Call volume\n");
        if v.is_empty() {
            let _ = writeln!(out, "No call volume recorded.\n");
            return;
        }
        let bucket = v.bucket_ms.max(1);
        let times = v
            .series
            .values()
            .chain(v.bytes.values())
            .flat_map(|m| m.keys().copied());
        let lo = times.clone().min().unwrap_or(0);
        let hi = times.max().unwrap_or(0);
        // At most 480 columns before the sparkline's own merging: far-apart times merge buckets.
        let buckets = (i128::from(hi) - i128::from(lo)) / i128::from(bucket) + 1;
        let factor = ((buckets + 479) / 480).max(1);
        let step = i128::from(bucket) * factor;
        let n = usize::try_from((buckets + factor - 1) / factor)
            .unwrap_or(1)
            .max(1);
        let spread = |points: &std::collections::BTreeMap<i64, u64>| {
            let mut out = vec![0u64; n];
            for (t, c) in points {
                let i = usize::try_from((i128::from(*t) - i128::from(lo)) / step).unwrap_or(0);
                if let Some(slot) = out.get_mut(i.min(n - 1)) {
                    *slot = slot.saturating_add(*c);
                }
            }
            out
        };
        let _ = writeln!(
            out,
            "Per {} bucket, {} to {} UTC (alerts from {} to {}); the HTML report has the chart.\n",
            time::width(bucket),
            time::utc_minutes(lo),
            time::utc_minutes(hi.saturating_add(bucket)),
            time::utc_minutes(input.incident.first_seen),
            time::utc_minutes(input.incident.last_seen),
        );
        let mut ranked: Vec<(&String, u64)> = v
            .series
            .iter()
            .map(|(p, s)| (p, s.values().fold(0u64, |a, b| a.saturating_add(*b))))
            .collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let rows: Vec<Vec<String>> = ranked
            .iter()
            .take(5)
            .filter_map(|(p, total)| {
                let points = v.series.get(*p)?;
                let (peak_at, peak) = points
                    .iter()
                    .max_by_key(|(t, c)| (**c, std::cmp::Reverse(**t)))
                    .map(|(t, c)| (*t, *c))?;
                let (base, buckets) = v.baseline(p, input.incident.first_seen);
                let baseline = if buckets == 0 {
                    "–".to_string()
                } else {
                    format!("{base:.0} ({buckets} buckets)")
                };
                Some(vec![
                    e(p),
                    time::count(*total),
                    format!("{} at {}", time::count(peak), time::utc_minutes(peak_at)),
                    baseline,
                    format!("`{}`", sparkline(&spread(points), 48)),
                ])
            })
            .collect();
        table(
            out,
            &[
                "Principal",
                "Calls",
                "Peak",
                "Baseline per bucket",
                "Volume",
            ],
            &rows,
        );
        if ranked.len() > 5 {
            let _ = writeln!(out, "+{} more principals not shown.\n", ranked.len() - 5);
        }
        if !v.bytes.is_empty() {
            let rows: Vec<Vec<String>> = v
                .bytes
                .iter()
                .map(|(p, points)| {
                    let total = points.values().fold(0u64, |a, b| a.saturating_add(*b));
                    vec![
                        e(p),
                        time::bytes(total),
                        format!("`{}`", sparkline(&spread(points), 48)),
                    ]
                })
                .collect();
            table(
                out,
                &["Principal", "Bytes read from storage", "Volume"],
                &rows,
            );
        }
    }

    fn evidence(out: &mut String, input: &ReportInput) {
        let i = input.incident;
        let _ = writeln!(out, "## Evidence\n");
        let _ = writeln!(
            out,
            "{} alerts; {} raw log records preserved.\n",
            i.alerts.len(),
            time::count(input.evidence_records as u64)
        );
        let rows: Vec<Vec<String>> = i
            .alerts
            .iter()
            .map(|a| {
                vec![
                    time::utc_minutes(a.timestamp),
                    format!("{}<br>{}", e(&a.rule_id), e(&a.rule_name)),
                    badge(&view::severity(&a.severity)),
                    e(&view::entity_text(&a.entity)),
                    e(a.message.as_deref().unwrap_or("")),
                    e(&view::samples(a, 3).join("\n")),
                    e(&a.id),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Time (UTC)",
                "Rule",
                "Severity",
                "Entity",
                "Message",
                "Samples",
                "Alert",
            ],
            &rows,
        );
    }

    fn iocs(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## 3. IoCs\n");
        let iocs = &input.incident.analysis.iocs;
        if iocs.is_empty() {
            let _ = writeln!(out, "None collected.\n");
            return;
        }
        let rows: Vec<Vec<String>> = iocs
            .iter()
            .map(|i| {
                vec![
                    e(&i.kind),
                    e(&i.value),
                    e(&i.source),
                    time::utc_minutes(i.first_seen),
                    time::utc_minutes(i.last_seen),
                    e(&i.alerts.join(", ")),
                ]
            })
            .collect();
        table(
            out,
            &[
                "Type",
                "Value",
                "Source",
                "First seen (UTC)",
                "Last seen (UTC)",
                "Alerts",
            ],
            &rows,
        );
    }

    fn escalations(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## 4. Escalation\n");
        let esc = &input.incident.analysis.escalations;
        if esc.is_empty() {
            let _ = writeln!(out, "No escalation criterion holds.\n");
            return;
        }
        let rows: Vec<Vec<String>> = esc
            .iter()
            .map(|x| vec![e(&x.condition), e(&x.escalate_to)])
            .collect();
        table(out, &["Condition", "Escalate to"], &rows);
    }

    fn decisions(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## 5. Decisions\n");
        let ds = &input.incident.analysis.decisions;
        if ds.is_empty() {
            let _ = writeln!(out, "No decision yet.\n");
            return;
        }
        for d in ds {
            let _ = writeln!(out, "### {} ({})\n", e(&d.decision), e(&d.id));
            let due = d.due_at().map(time::utc).unwrap_or_else(|| "–".into());
            let rows = vec![
                vec!["Condition".into(), e(&d.condition)],
                vec!["Owner".into(), e(&d.owner)],
                vec!["SLA".into(), e(&d.sla)],
                vec!["Decided".into(), time::utc(d.decided_at)],
                vec!["Due".into(), due],
                vec!["State".into(), badge(&Sla::of(d, input.now).badge())],
            ];
            table(out, &["Field", "Value"], &rows);
            if d.actions.is_empty() {
                let _ = writeln!(out, "No action.\n");
                continue;
            }
            let rows: Vec<Vec<String>> = d
                .actions
                .iter()
                .map(|a| {
                    let entry = view::audit_of(a, input.audit);
                    vec![
                        e(&view::action_text(a)),
                        badge(&view::outcome(entry)),
                        entry.map(|x| e(&x.executor)).unwrap_or_default(),
                        entry.map(|x| time::utc_minutes(x.at)).unwrap_or_default(),
                        entry.map(|x| e(&x.detail)).unwrap_or_default(),
                    ]
                })
                .collect();
            table(
                out,
                &["Action", "Outcome", "Executor", "At (UTC)", "Detail"],
                &rows,
            );
        }
    }

    fn checklists(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## Checklists\n");
        let lists = view::checklists(&input.incident.tasks);
        if lists.is_empty() {
            let _ = writeln!(out, "No task.\n");
            return;
        }
        for list in lists {
            let _ = writeln!(out, "### {}\n", e(&list.title));
            for (part, tasks) in list.parts {
                if let Some(part) = part {
                    let _ = writeln!(out, "#### {}\n", e(part));
                }
                let rows: Vec<Vec<String>> = tasks
                    .iter()
                    .map(|t| {
                        let done = match (&t.done_by, t.done_at) {
                            (Some(by), Some(at)) => {
                                format!("{} at {}", e(by), time::utc_minutes(at))
                            }
                            (Some(by), None) => e(by),
                            (None, Some(at)) => time::utc_minutes(at),
                            (None, None) => String::new(),
                        };
                        vec![
                            badge(&view::task(t, input.now)),
                            e(&t.title),
                            e(&t.owner),
                            t.due_at.map(time::utc_minutes).unwrap_or_default(),
                            done,
                            e(&t.note),
                        ]
                    })
                    .collect();
                table(
                    out,
                    &["State", "Task", "Owner", "Due (UTC)", "Set by", "Note"],
                    &rows,
                );
            }
        }
    }

    fn audit(out: &mut String, input: &ReportInput) {
        let _ = writeln!(out, "## Audit log\n");
        let entries = view::audit(input);
        if entries.is_empty() {
            let _ = writeln!(out, "No action recorded.\n");
            return;
        }
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|x| {
                vec![
                    x.seq.to_string(),
                    time::utc(x.at),
                    e(&x.action),
                    format!(
                        "{} {}",
                        e(&x.target_kind),
                        e(&view::shown(&x.target_kind, &x.target))
                    ),
                    e(&x.decision),
                    e(&x.executor),
                    badge(&view::outcome(Some(x))),
                    e(&x.detail),
                    e(&x.actor),
                ]
            })
            .collect();
        table(
            out,
            &[
                "#", "At", "Action", "Target", "Decision", "Executor", "Outcome", "Detail", "Actor",
            ],
            &rows,
        );
    }
}

fn answers(out: &mut String, title: &str, what: &str, answers: &[Answer]) {
    let _ = writeln!(out, "## {title}\n");
    if answers.is_empty() {
        let _ = writeln!(out, "Not assessed.\n");
        return;
    }
    let rows: Vec<Vec<String>> = answers
        .iter()
        .map(|a| {
            vec![
                e(&a.question),
                badge(&view::answer(a.state)),
                e(&a.answer),
                e(&a.details.join("\n")),
                e(&a.how),
            ]
        })
        .collect();
    table(out, &[what, "State", "Answer", "Details", "How"], &rows);
}

/// `▁▂▃▄▅▆▇█` over at most `width` columns (each the maximum of its buckets).
fn sparkline(values: &[u64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let per = values.len().div_ceil(width.max(1)).max(1);
    let cols: Vec<u64> = values
        .chunks(per)
        .map(|c| c.iter().copied().max().unwrap_or(0))
        .collect();
    let max = cols.iter().copied().max().unwrap_or(0).max(1) as f64;
    cols.iter()
        .map(|v| {
            let level = (*v as f64 / max * 7.0).ceil() as usize;
            BARS.get(level.min(7)).copied().unwrap_or('▁')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparklines() {
        assert_eq!(sparkline(&[0, 1, 7, 0], 10), "▁▂█▁");
        assert_eq!(sparkline(&[], 10), "");
        assert_eq!(sparkline(&[5; 100], 10).chars().count(), 10);
    }

    #[test]
    fn flow_marks_the_current_stage() {
        assert_eq!(
            flow(Stage::Contain, Status::Open),
            "Detect ✓ → Analyze ✓ → **▶ Contain** → Eradicate → Recover → Lessons"
        );
        assert!(flow(Stage::Lessons, Status::Closed).ends_with("Lessons ✓"));
    }
}
