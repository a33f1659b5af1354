//! Kibana's scheduling semantics over event time.
//!
//! A rule with `interval` I and `from = now-L` executes at every tick t = k·I (aligned to the
//! Unix epoch) across the time the data covers. Each execution sees the events whose
//! timestamp (`timestamp_override`, else `@timestamp`) lies in [t − L, t], both ends
//! inclusive as Kibana's range filter is; each result row is one alert; at most
//! `max_signals` alerts per execution. See docs/scheduling.md.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use modelward_esql::eval::{Env, Warnings};
use modelward_esql::plan::ResultRow;
use modelward_esql::rulefile::MissingFields;
use modelward_esql::table::{document_id, source_value, Row};
use modelward_esql::{EsqlRule, Value};
use modelward_rule::{Alert, AlertWindow, Suppression};
use serde_json::{json, Value as Json};

use crate::alerting::{entity_of, row_fields, stable_id};
use crate::exceptions::{Applicable, Tally};
use crate::record::event_time;
use crate::{Dedup, Engine};

#[derive(Default)]
pub struct RuleOutcome {
    pub alerts: Vec<Alert>,
    pub executions: u64,
    pub truncated: u64,
    pub suppressed: u64,
    pub warnings: Vec<String>,
    /// Alerts on single events exceptions left out.
    pub excluded: Tally,
}

pub const MAX_SIGNALS_WARNING: &str = "This rule reached the maximum alert limit for the rule execution. Some alerts were not created.";

struct Suppressor {
    /// Instance key -> (index of the alert in the outcome, tick it was created at).
    open: HashMap<String, (usize, i64)>,
}

/// Runs every execution of rule `r` over its rows.
pub fn run_rule(engine: &Engine, r: usize, mut rows: Vec<(i64, Row)>) -> RuleOutcome {
    let rule = &engine.rules[r];
    let mut out = RuleOutcome::default();
    // For its alerts on single events (an aggregation's events were judged as they were
    // read, in `record`).
    let exceptions = engine.exceptions().for_rule(&rule.meta);
    if rows.is_empty() {
        return out;
    }
    rows.sort_by_key(|(ts, _)| *ts);
    let (interval, lookback, shift) = (rule.interval_ms, rule.lookback_ms, rule.end_offset_ms);
    let (min_ts, max_ts) = (rows[0].0, rows[rows.len() - 1].0);
    // The window of tick t is [t - shift - lookback, t - shift]: the first tick whose window
    // holds `ts` is the first multiple of the interval at or after `ts + shift`.
    let first_tick_for = |ts: i64| {
        let t = (ts + shift).div_euclid(interval) * interval;
        if t < ts + shift {
            t + interval
        } else {
            t
        }
    };
    let mut tick = first_tick_for(min_ts);
    let last_tick = (max_ts + lookback + shift).div_euclid(interval) * interval;
    let group_columns = rule.plan.group_columns();
    let mut state = RunState {
        alerted_docs: HashSet::new(),
        alerted_ids: HashSet::new(),
        last_group_alert: HashMap::new(),
        suppressor: Suppressor {
            open: HashMap::new(),
        },
        exceptions,
    };
    let (mut lo, mut hi) = (0usize, 0usize);
    while tick <= last_tick {
        let end = tick - shift;
        while hi < rows.len() && rows[hi].0 <= end {
            hi += 1;
        }
        while lo < hi && rows[lo].0 < end - lookback {
            lo += 1;
        }
        if lo == hi {
            // No rows in this window: jump to the first tick whose window holds the next row.
            match rows.get(hi) {
                Some((next, _)) => {
                    tick = first_tick_for(*next).max(tick + interval);
                    continue;
                }
                None => break,
            }
        }
        out.executions += 1;
        let window: Vec<Row> = rows[lo..hi]
            .iter()
            .filter(|(_, row)| {
                rule.aggregating
                    || !row
                        .source
                        .as_ref()
                        .is_some_and(|s| state.alerted_docs.contains(&document_id(s)))
            })
            .map(|(_, row)| row.clone())
            .collect();
        execute(
            engine,
            rule,
            tick,
            window,
            &group_columns,
            &mut state,
            &mut out,
        );
        tick += interval;
    }
    out
}

struct RunState<'e> {
    alerted_docs: HashSet<String>,
    alerted_ids: HashSet<String>,
    last_group_alert: HashMap<String, i64>,
    suppressor: Suppressor,
    /// The rule's exceptions, for its alerts on single events.
    exceptions: Applicable<'e>,
}

fn execute(
    engine: &Engine,
    rule: &EsqlRule,
    tick: i64,
    window: Vec<Row>,
    group_columns: &[String],
    state: &mut RunState<'_>,
    out: &mut RuleOutcome,
) {
    let mut warnings = Warnings::default();
    let mut env = Env {
        query: rule.plan.text(),
        schema: engine.schema(),
        now: tick,
        warnings: &mut warnings,
    };
    let (columns, rows) = rule.plan.run_rest_rows(window, &mut env);
    out.warnings.extend(warnings.messages);
    let mut created = 0usize;
    for ResultRow {
        values,
        source,
        provenance,
    } in rows
    {
        let fields = row_fields(&columns, &values);
        let doc_id = source.as_ref().map(|s| document_id(s));
        let id = if rule.aggregating {
            let group = group_key(&columns, &values, group_columns);
            if engine.options().dedup == Dedup::PerLookback && rule.suppression.is_none() {
                if let Some(last) = state.last_group_alert.get(&group) {
                    if tick - last < rule.lookback_ms {
                        out.suppressed += 1;
                        continue;
                    }
                }
                state.last_group_alert.insert(group.clone(), tick);
            }
            stable_id(&[&rule.meta.id, &group, &tick.to_string()])
        } else {
            let row_text: Vec<String> = values.iter().map(Value::to_string).collect();
            stable_id(&[
                &rule.meta.id,
                doc_id.as_deref().unwrap_or(""),
                &row_text.join("\u{1f}"),
            ])
        };
        if !state.alerted_ids.insert(id.clone()) {
            continue;
        }
        if !rule.aggregating {
            let excluded = source.as_ref().and_then(|src| {
                let ts = event_time(src, rule.timestamp_override.as_deref());
                state.exceptions.excluding_event(src, ts)
            });
            if let Some(x) = excluded {
                // Its id is taken: a later execution that sees the event again skips it.
                out.excluded.alert(x);
                continue;
            }
        }
        if created >= rule.max_signals {
            out.truncated += 1;
            out.warnings.push(MAX_SIGNALS_WARNING.to_string());
            break;
        }
        if let Some(doc) = doc_id {
            state.alerted_docs.insert(doc);
        }
        let source_lookup = |name: &str| {
            source
                .as_ref()
                .map(|s| source_value(s, name, engine.schema()).to_json())
                .filter(|v| !v.is_null())
        };
        let mut alert = Alert::new(rule.meta.clone(), tick, id);
        alert.window = Some(AlertWindow {
            start: tick - rule.end_offset_ms - rule.lookback_ms,
            end: tick - rule.end_offset_ms,
        });
        alert.entity = entity_of(&fields, &source_lookup);
        if let Some(src) = &source {
            alert.original_time = event_time(src, rule.timestamp_override.as_deref());
            alert.evidence.insert(
                "source".into(),
                json!({"file": &*src.origin.file, "line": src.origin.line, "offset": src.origin.offset}),
            );
        }
        if let (None, Some(p)) = (&source, &provenance) {
            let samples: Vec<Json> = p
                .samples
                .iter()
                .map(|o| json!({"file": &*o.file, "line": o.line, "offset": o.offset}))
                .collect();
            alert.evidence.insert("events".into(), json!(p.count));
            alert.evidence.insert(
                "first_seen".into(),
                json!(modelward_event::format_timestamp(p.first)),
            );
            alert.evidence.insert(
                "last_seen".into(),
                json!(modelward_event::format_timestamp(p.last)),
            );
            alert
                .evidence
                .insert("samples".into(), Json::Array(samples));
        }
        alert.fields = fields;
        if let Some(spec) = &rule.suppression {
            let terms: Vec<(String, Json)> = spec
                .group_by
                .iter()
                .map(|f| {
                    (
                        f.clone(),
                        alert
                            .fields
                            .get(f)
                            .cloned()
                            .or_else(|| source_lookup(f))
                            .unwrap_or(Json::Null),
                    )
                })
                .collect();
            let missing = terms.iter().any(|(_, v)| v.is_null());
            if !(missing && spec.missing_fields == MissingFields::DoNotSuppress) {
                let when = alert.original_time.unwrap_or(tick);
                let key = serde_json::to_string(&terms.iter().map(|(_, v)| v).collect::<Vec<_>>())
                    .unwrap_or_default();
                let current = state.suppressor.open.get(&key).copied();
                let reuse = current.filter(|(_, created_at)| match spec.duration_ms {
                    Some(d) => *created_at >= tick - d,
                    None => *created_at == tick,
                });
                if let Some((index, _)) = reuse {
                    if let Some(s) = out.alerts[index].suppression.as_mut() {
                        s.docs_count += 1;
                        s.end = s.end.max(when);
                        s.start = s.start.min(when);
                    }
                    out.suppressed += 1;
                    continue;
                }
                alert.suppression = Some(Suppression {
                    terms,
                    start: when,
                    end: when,
                    docs_count: 0,
                });
                state.suppressor.open.insert(key, (out.alerts.len(), tick));
            }
        }
        created += 1;
        out.alerts.push(alert);
    }
}

/// The identity of an aggregating row's group: its BY columns' values.
fn group_key(columns: &[String], values: &[Value], group_columns: &[String]) -> String {
    let parts: Vec<String> = group_columns
        .iter()
        .filter_map(|g| columns.iter().position(|c| c == g))
        .map(|i| values[i].to_string())
        .collect();
    parts.join("\u{1f}")
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn is<T: Send + Sync>() {}
    is::<Engine>();
    is::<Arc<Engine>>();
}
