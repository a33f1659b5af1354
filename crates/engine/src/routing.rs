//! Where `watch`'s stage one publishes a record, and which of its rows a stage-two session
//! keeps ([`crate::Scope`]): the keys of the windows a record feeds, and their partitions.

use modelward_behavior::Keyer;
use modelward_esql::eval::{Env, Warnings};
use modelward_sigma::correlation::group_key;
use modelward_sigma::Source;

use crate::record::{RecordResult, RuleRow};
use crate::scope::Scope;
use crate::Engine;

/// How much of a chunk's result was there before a record was processed: what follows is
/// the record's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Marks {
    rows: usize,
    hits: usize,
    calls: usize,
    undated: usize,
}

impl Marks {
    pub(crate) fn of(acc: &RecordResult) -> Marks {
        Marks {
            rows: acc.rows.len(),
            hits: acc.sigma_hits.len(),
            calls: acc.calls.len(),
            undated: acc.undated_calls.len(),
        }
    }
}

/// The partitions of `count` the windows fed by the record processed after `marks` are
/// keyed to, sorted and without repeats.
pub(crate) fn partitions(
    engine: &Engine,
    behavior: Keyer,
    acc: &RecordResult,
    marks: Marks,
    count: u32,
) -> Vec<u32> {
    let mut keys = Vec::new();
    for row in &acc.rows[marks.rows..] {
        keys.push(row_key(engine, row));
    }
    let correlations = &engine.sigma().correlations;
    for (r, _, event) in &acc.sigma_hits[marks.hits..] {
        for c in correlations {
            for (source, s) in c.sources.iter().enumerate() {
                if matches!(s, Source::Rule(k) if k == r) {
                    keys.push(group_key(c, source, event));
                }
            }
        }
    }
    let calls = acc.calls[marks.calls..]
        .iter()
        .chain(&acc.undated_calls[marks.undated..]);
    for call in calls {
        keys.extend(behavior.keys(call));
    }
    let mut out: Vec<u32> = keys
        .into_iter()
        .map(|k| modelward_event::hash::partition(k, count))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The key of a rule's row: for an aggregation, its group's; for a rule on single events,
/// its record's place (the rows of such rules spread over the partitions, and wait there
/// for their scheduled execution, so that stage one keeps no window at all).
fn row_key(engine: &Engine, row: &RuleRow) -> u64 {
    let rule = &engine.rules[row.rule];
    if !rule.aggregating {
        let origin = (row.row.source.as_ref().map(|e| &e.origin))
            .or_else(|| row.row.provenance.as_ref()?.samples.first());
        return origin.map_or(modelward_event::hash::FNV_OFFSET, |o| {
            let h = modelward_event::hash::fnv1a(o.file.as_bytes());
            modelward_event::hash::fnv1a_extend(h, &o.offset.to_le_bytes())
        });
    }
    let mut warnings = Warnings::default();
    let mut env = Env {
        query: rule.plan.text(),
        schema: engine.schema(),
        now: row.ts,
        warnings: &mut warnings,
    };
    rule.plan.group_key(&row.row, &mut env)
}

/// Whether a session of `scope` keeps a rule's row: every ES|QL row waits for a scheduled
/// execution, so it goes to the partition of its key ([`row_key`]), none to stage one.
pub(crate) fn row_in_scope(engine: &Engine, scope: Scope, row: &RuleRow) -> bool {
    match scope {
        Scope::All => true,
        Scope::PerEvent => false,
        Scope::Partition { .. } => scope.owns(row_key(engine, row)),
    }
}
