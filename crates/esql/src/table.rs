//! Intermediate results: explicit columns plus, until a command fixes the column set, the
//! implicit "rest" of each row's source document (what `FROM` returns before any `KEEP`).

use std::sync::Arc;

use modelward_event::glob::glob_match;
use modelward_event::hash::{fnv1a, fnv1a_extend};
use modelward_event::{for_each_leaf, Event, Origin, Schema};

use crate::value::Value;

/// One row: explicit column values, the source document while it is needed, and where the
/// row's data came from.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub values: Vec<Value>,
    pub source: Option<Arc<Event>>,
    pub provenance: Option<Box<Provenance>>,
}

/// Which events a row stands for: how many, their first and last event time, and a few of
/// their source records. STATS merges the provenance of a group's rows.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Provenance {
    pub count: u64,
    pub first: i64,
    pub last: i64,
    pub samples: Vec<Origin>,
}

impl Provenance {
    /// Source records kept per row.
    pub const SAMPLES: usize = 5;

    pub fn of(origin: Origin, time: i64) -> Provenance {
        Provenance {
            count: 1,
            first: time,
            last: time,
            samples: vec![origin],
        }
    }

    pub fn merge(&mut self, other: &Provenance) {
        if self.count == 0 {
            *self = other.clone();
            return;
        }
        self.count += other.count;
        self.first = self.first.min(other.first);
        self.last = self.last.max(other.last);
        for o in &other.samples {
            if self.samples.len() >= Self::SAMPLES {
                break;
            }
            self.samples.push(o.clone());
        }
    }
}

/// The implicit columns: every source field not shadowed by an explicit column, filtered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rest {
    /// Where among the explicit columns the implicit ones are shown.
    pub pos: usize,
    /// After `KEEP`s with wildcards: a field must match a pattern of every layer (one layer
    /// per `KEEP`, so a later `KEEP` narrows an earlier one).
    pub include: Vec<Vec<String>>,
    /// Fields dropped, renamed or shadowed (exact names and patterns).
    pub exclude: Vec<String>,
}

impl Rest {
    pub fn admits(&self, name: &str) -> bool {
        if self.exclude.iter().any(|p| glob_match(p, name)) {
            return false;
        }
        self.include
            .iter()
            .all(|layer| layer.iter().any(|p| glob_match(p, name)))
    }
}

/// The shape of a table: names of explicit columns and the rest, if any.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    pub columns: Vec<String>,
    pub rest: Option<Rest>,
}

impl Layout {
    pub fn position(&self, name: &str) -> Option<usize> {
        self.columns.iter().rposition(|c| c == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Table {
    pub layout: Layout,
    pub rows: Vec<Row>,
}

impl Table {
    /// Column names and values of every row, with the rest made explicit: the union of the
    /// rows' source fields, sorted by name, at the rest's position.
    pub fn materialize(&self, schema: &Schema) -> (Vec<String>, Vec<Vec<Value>>) {
        let Some(rest) = &self.layout.rest else {
            let rows = self.rows.iter().map(|r| r.values.clone()).collect();
            return (self.layout.columns.clone(), rows);
        };
        let mut names = std::collections::BTreeSet::new();
        for row in &self.rows {
            if let Some(src) = &row.source {
                for_each_leaf(&src.fields, &mut |path, _| {
                    if rest.admits(path) && self.layout.position(path).is_none() {
                        names.insert(path.to_string());
                    }
                });
            }
        }
        let implicit: Vec<String> = names.into_iter().collect();
        let pos = rest.pos.min(self.layout.columns.len());
        let mut columns = self.layout.columns[..pos].to_vec();
        columns.extend(implicit.iter().cloned());
        columns.extend(self.layout.columns[pos..].iter().cloned());
        let rows = self
            .rows
            .iter()
            .map(|row| {
                let mut values = row.values[..pos].to_vec();
                for name in &implicit {
                    values.push(
                        row.source
                            .as_ref()
                            .map_or(Value::Null, |s| source_value(s, name, schema)),
                    );
                }
                values.extend(row.values[pos..].iter().cloned());
                values
            })
            .collect();
        (columns, rows)
    }
}

/// A field of a source document as an ES|QL value.
pub fn source_value(event: &Event, path: &str, schema: &Schema) -> Value {
    match path {
        "_id" => Value::Str(document_id(event)),
        "_index" => Value::Str(index_name(event)),
        _ => Value::from_json(&event.get(path), schema.field_type(path)),
    }
}

/// A stable document id: the record's file and byte offset, hashed (FNV-1a, 64 bit), and
/// which of the record's events it is when not the first (the events of an envelope or a
/// CloudWatch payload share the record's place; the first keeps the id it always had).
pub fn document_id(event: &Event) -> String {
    let o = &event.origin;
    let mut hash = [o.offset.to_le_bytes(), o.line.to_le_bytes()]
        .iter()
        .fold(fnv1a(o.file.as_bytes()), |h, bytes| fnv1a_extend(h, bytes));
    if o.index > 0 {
        hash = fnv1a_extend(hash, &o.index.to_le_bytes());
    }
    format!("{hash:016x}")
}

/// The data stream an event would be indexed into: `logs-<dataset>-<namespace>`.
pub fn index_name(event: &Event) -> String {
    let dataset = event
        .get_str("data_stream.dataset")
        .or_else(|| event.get_str("event.dataset"))
        .unwrap_or("generic");
    let namespace = event.get_str("data_stream.namespace").unwrap_or("default");
    let kind = event.get_str("data_stream.type").unwrap_or("logs");
    format!("{kind}-{dataset}-{namespace}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_of_one_record_have_their_own_ids() {
        let at = |index| {
            let origin = Origin {
                file: "d.json".into(),
                line: 3,
                offset: 100,
                hash: 0,
                index,
            };
            document_id(&Event::new(serde_json::Map::new(), origin))
        };
        // The first event keeps the id a record always had.
        assert_eq!(at(0), "6c5a7a0421159f92");
        assert_ne!(at(0), at(1));
        assert_ne!(at(1), at(2));
    }
}
