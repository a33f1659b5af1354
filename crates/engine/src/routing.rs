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
        if engine.rules[row.rule].aggregating {
            keys.push(row_key(engine, row));
        }
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

/// The key of the group an aggregating rule's row goes to.
fn row_key(engine: &Engine, row: &RuleRow) -> u64 {
    let rule = &engine.rules[row.rule];
    let mut warnings = Warnings::default();
    let mut env = Env {
        query: rule.plan.text(),
        schema: engine.schema(),
        now: row.ts,
        warnings: &mut warnings,
    };
    rule.plan.group_key(&row.row, &mut env)
}

/// Whether a session of `scope` keeps a rule's row: rules that do not aggregate decide on
/// each event (stage one); an aggregation's row goes to the partition of its group.
pub(crate) fn row_in_scope(engine: &Engine, scope: Scope, row: &RuleRow) -> bool {
    let aggregating = engine.rules[row.rule].aggregating;
    match scope {
        Scope::All => true,
        Scope::PerEvent => !aggregating,
        Scope::Partition { .. } => aggregating && scope.owns(row_key(engine, row)),
    }
}
