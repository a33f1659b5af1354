//! Kibana's scheduling semantics over event time, incrementally.
//!
//! A rule with `interval` I and `from = now-L` executes at every tick t = k·I (aligned to the
//! Unix epoch) across the time the data covers. Each execution sees the events whose
//! timestamp (`timestamp_override`, else `@timestamp`) lies in [t − L, t], both ends
//! inclusive as Kibana's range filter is; each result row is one alert; at most
//! `max_signals` alerts per execution. See docs/scheduling.md.
//!
//! [`EsqlRun`] keeps one rule's state between calls: the rows its streaming prefix kept that
//! a later window may still hold, the next tick, and what deduplication and suppression
//! remember. A tick runs once event time has reached the end of its window (the session's
//! watermark); rows no later window can hold are dropped, so state is bounded by one
//! look-back of rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use modelward_esql::eval::{Env, Warnings};
use modelward_esql::plan::ResultRow;
use modelward_esql::rulefile::MissingFields;
use modelward_esql::table::{document_id, source_value, Row};
use modelward_esql::{EsqlRule, Value};
use modelward_rule::{Alert, AlertWindow, Suppression};
use serde_json::Value as Json;

use crate::alerting::{
    entity_of, on_event, origins_json, over_events, row_fields, stable_id, Kind, Order, Placed,
};
use crate::exceptions::{Applicable, Tally};
use crate::record::event_time;
use crate::snapshot::{AlertState, EsqlState};
use crate::{Dedup, Engine};

/// What the executions of one call to [`EsqlRun::advance`] produced.
#[derive(Default)]
pub struct RuleOutcome {
    /// Alerts ready to report (those whose suppression may still grow are held back).
    pub alerts: Vec<Placed>,
    pub executions: u64,
    pub truncated: u64,
    pub suppressed: u64,
    pub warnings: Vec<String>,
    /// Alerts on single events exceptions left out.
    pub excluded: Tally,
}

pub const MAX_SIGNALS_WARNING: &str = "This rule reached the maximum alert limit for the rule execution. Some alerts were not created.";

/// Ticks between two prunings of what deduplication remembers.
const PRUNE_EVERY: u32 = 64;

/// One ES|QL rule's scheduling state.
pub struct EsqlRun {
    rule: usize,
    /// Rows a window at or after `next_tick` may hold, by event time.
    rows: Vec<(i64, Row)>,
    /// Rows pushed since the last advance, in push order.
    pending: Vec<(i64, Row)>,
    /// The next tick to consider; `None` before the first execution.
    next_tick: Option<i64>,
    /// Source documents that alerted, with the tick they alerted at.
    alerted_docs: HashMap<String, i64>,
    /// Alert ids taken, with the tick they were taken at.
    alerted_ids: HashMap<String, i64>,
    /// Per group of an aggregating rule, the tick it last alerted at.
    last_group_alert: HashMap<String, i64>,
    /// Alert suppression: instance key -> (order of its alert, tick it was created at).
    open: HashMap<String, (Order, i64)>,
    /// Alerts whose suppression may still fold later alerts into them.
    held: BTreeMap<Order, Alert>,
    /// Alerts made so far (their order among the rule's alerts).
    made: u64,
    since_prune: u32,
}

impl EsqlRun {
    pub fn new(rule: usize) -> EsqlRun {
        EsqlRun {
            rule,
            rows: Vec::new(),
            pending: Vec::new(),
            next_tick: None,
            alerted_docs: HashMap::new(),
            alerted_ids: HashMap::new(),
            last_group_alert: HashMap::new(),
            open: HashMap::new(),
            held: BTreeMap::new(),
            made: 0,
            since_prune: 0,
        }
    }

    /// The start of the earliest window still to run, if any ran: a row before it is too
    /// late for every window.
    fn horizon(&self, rule: &EsqlRule) -> Option<i64> {
        self.next_tick
            .map(|t| t - rule.end_offset_ms - rule.lookback_ms)
    }

    /// Adds a row; returns false (and drops it) when no window still to run can hold it.
    pub fn push(&mut self, rule: &EsqlRule, ts: i64, row: Row) -> bool {
        if self.horizon(rule).is_some_and(|h| ts < h) {
            return false;
        }
        self.pending.push((ts, row));
        true
    }

    /// Rows kept (pushed and not yet beyond every window).
    pub fn rows(&self) -> usize {
        self.rows.len() + self.pending.len()
    }

    /// Runs every execution whose window ends at or before `to` (event time; `i64::MAX`
    /// runs them all).
    pub fn advance(&mut self, engine: &Engine, to: i64) -> RuleOutcome {
        let rule = &engine.rules[self.rule];
        let mut out = RuleOutcome::default();
        if !self.pending.is_empty() {
            // Stable: rows of one time stay in push order (earlier pushes first).
            self.rows.append(&mut self.pending);
            self.rows.sort_by_key(|(ts, _)| *ts);
        }
        let (interval, lookback, shift) = (rule.interval_ms, rule.lookback_ms, rule.end_offset_ms);
        // The window of tick t is [t - shift - lookback, t - shift]: the first tick whose
        // window holds `ts` is the first multiple of the interval at or after `ts + shift`.
        let first_tick_for = |ts: i64| {
            let t = (ts + shift).div_euclid(interval) * interval;
            if t < ts + shift {
                t + interval
            } else {
                t
            }
        };
        let mut tick = match (self.next_tick, self.rows.first()) {
            (Some(t), _) => t,
            // The first execution is that of the earliest row: decided once it is due, so
            // that an earlier row pushed before then still opens the schedule.
            (None, Some((ts, _))) if first_tick_for(*ts).saturating_sub(shift) <= to => {
                first_tick_for(*ts)
            }
            (None, _) => return out,
        };
        // For its alerts on single events (an aggregation's events were judged as they
        // were read, in `record`).
        let exceptions = engine.exceptions().for_rule(&rule.meta);
        let group_columns = rule.plan.group_columns();
        let (mut lo, mut hi) = (0usize, 0usize);
        while tick.saturating_sub(shift) <= to {
            let end = tick - shift;
            while hi < self.rows.len() && self.rows[hi].0 <= end {
                hi += 1;
            }
            while lo < hi && self.rows[lo].0 < end - lookback {
                lo += 1;
            }
            if lo == hi {
                // No rows in this window: jump to the first tick whose window holds the
                // next row (or wait for rows to come).
                match self.rows.get(hi) {
                    Some((next, _)) => {
                        tick = first_tick_for(*next).max(tick + interval);
                        continue;
                    }
                    None => break,
                }
            }
            out.executions += 1;
            let window: Vec<Row> = self.rows[lo..hi]
                .iter()
                .filter(|(_, row)| {
                    rule.aggregating
                        || !row
                            .source
                            .as_ref()
                            .is_some_and(|s| self.alerted_docs.contains_key(&document_id(s)))
                })
                .map(|(_, row)| row.clone())
                .collect();
            self.execute(
                engine,
                rule,
                tick,
                window,
                &group_columns,
                &exceptions,
                &mut out,
            );
            tick += interval;
            self.release_closed(rule, tick, &mut out);
            self.since_prune += 1;
            if self.since_prune >= PRUNE_EVERY {
                self.prune(rule, tick);
            }
        }
        self.next_tick = Some(tick);
        // Rows before the next window's start are in no window still to run.
        let start = tick - shift - lookback;
        let gone = self.rows.partition_point(|(ts, _)| *ts < start);
        self.rows.drain(..gone);
        self.prune(rule, tick);
        out
    }

    /// Its state as data.
    pub fn snapshot(&self, engine: &Engine) -> EsqlState {
        let rule = &engine.rules[self.rule];
        EsqlState {
            rule: rule.meta.id.clone(),
            query: rule.plan.text().to_string(),
            rows: self.rows.clone(),
            pending: self.pending.clone(),
            next_tick: self.next_tick,
            alerted_docs: self.alerted_docs.clone(),
            alerted_ids: self.alerted_ids.clone(),
            last_group_alert: self.last_group_alert.clone(),
            open: self
                .open
                .iter()
                .map(|(k, (order, tick))| (k.clone(), *order, *tick))
                .collect(),
            held: self
                .held
                .iter()
                .map(|(order, a)| (*order, AlertState::of(a)))
                .collect(),
            made: self.made,
        }
    }

    /// Rule `rule`'s state from a snapshot (which must be of the same rule and query).
    pub fn restore(rule: usize, state: EsqlState, engine: &Engine) -> EsqlRun {
        let here = |mut order: Order| {
            order.rule = rule;
            order
        };
        EsqlRun {
            rule,
            rows: state.rows,
            pending: state.pending,
            next_tick: state.next_tick,
            alerted_docs: state.alerted_docs,
            alerted_ids: state.alerted_ids,
            last_group_alert: state.last_group_alert,
            open: state
                .open
                .into_iter()
                .map(|(k, order, tick)| (k, (here(order), tick)))
                .collect(),
            held: state
                .held
                .into_iter()
                .filter_map(|(order, a)| Some((here(order), a.into_alert(engine)?)))
                .collect(),
            made: state.made,
            since_prune: 0,
        }
    }

    /// The end of the input: every alert still held is ready.
    pub fn finish(&mut self, out: &mut RuleOutcome) {
        self.open.clear();
        out.alerts.extend(std::mem::take(&mut self.held));
    }

    /// Releases the alerts whose suppression can fold nothing more in at `next` or later.
    fn release_closed(&mut self, rule: &EsqlRule, next: i64, out: &mut RuleOutcome) {
        let Some(spec) = &rule.suppression else {
            return;
        };
        let held = &mut self.held;
        self.open.retain(|_, (order, created_at)| {
            let open = match spec.duration_ms {
                Some(d) => *created_at >= next - d,
                None => false,
            };
            if !open {
                if let Some(alert) = held.remove(order) {
                    out.alerts.push((*order, alert));
                }
            }
            open
        });
    }

    /// Forgets what no execution at `next` or later can look at again: a document or id
    /// recorded more than one look-back before (its event is outside every later window),
    /// a group's last alert more than one look-back ago.
    fn prune(&mut self, rule: &EsqlRule, next: i64) {
        self.since_prune = 0;
        let lookback = rule.lookback_ms;
        let keep = |at: &mut i64| *at + lookback >= next;
        self.alerted_docs.retain(|_, at| keep(at));
        self.alerted_ids.retain(|_, at| keep(at));
        self.last_group_alert.retain(|_, at| keep(at));
    }

    #[allow(clippy::too_many_arguments)]
    fn execute(
        &mut self,
        engine: &Engine,
        rule: &EsqlRule,
        tick: i64,
        window: Vec<Row>,
        group_columns: &[String],
        exceptions: &Applicable<'_>,
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
                    if let Some(last) = self.last_group_alert.get(&group) {
                        if tick - last < rule.lookback_ms {
                            out.suppressed += 1;
                            continue;
                        }
                    }
                    self.last_group_alert.insert(group.clone(), tick);
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
            if self.alerted_ids.insert(id.clone(), tick).is_some() {
                continue;
            }
            let ts = source
                .as_ref()
                .and_then(|src| event_time(src, rule.timestamp_override.as_deref()));
            if !rule.aggregating {
                let excluded = source
                    .as_ref()
                    .and_then(|src| exceptions.excluding_event(src, ts));
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
                self.alerted_docs.insert(doc, tick);
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
                on_event(&mut alert, src, ts);
            }
            if let (None, Some(p)) = (&source, &provenance) {
                over_events(
                    &mut alert,
                    Some(p.count),
                    p.first,
                    p.last,
                    origins_json(&p.samples),
                );
            }
            alert.fields = fields;
            let order = Order {
                ts: tick,
                kind: Kind::Esql,
                rule: self.rule,
                seq: self.made,
            };
            self.made += 1;
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
                    let key =
                        serde_json::to_string(&terms.iter().map(|(_, v)| v).collect::<Vec<_>>())
                            .unwrap_or_default();
                    let current = self.open.get(&key).copied();
                    let reuse = current.filter(|(_, created_at)| match spec.duration_ms {
                        Some(d) => *created_at >= tick - d,
                        None => *created_at == tick,
                    });
                    if let Some((held, _)) = reuse {
                        if let Some(s) = self
                            .held
                            .get_mut(&held)
                            .and_then(|a| a.suppression.as_mut())
                        {
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
                    // An instance replaced here was closed: its alert is ready.
                    if let Some((old, _)) = self.open.insert(key, (order, tick)) {
                        if let Some(a) = self.held.remove(&old) {
                            out.alerts.push((old, a));
                        }
                    }
                    self.held.insert(order, alert);
                    created += 1;
                    continue;
                }
            }
            created += 1;
            out.alerts.push((order, alert));
        }
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
    is::<EsqlRun>();
}
