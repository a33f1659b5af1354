//! Which part of the engine's work a session does: all of it (`hunt`, one `watch`), or one
//! side of `watch`'s keyed scale-out (docs/watch.md, "Scale-out").
//!
//! Stage one ([`Scope::PerEvent`]) runs on any instance and keeps no window: detectors and
//! Sigma rules' own alerts, each decided on its record alone; for each record it also names
//! the keys of the windows the record feeds ([`crate::Session::push_routed`]): the BY values
//! of each aggregating ES|QL rule's rows (the record's place for an ES|QL rule on single
//! events, whose rows wait for its scheduled execution too), the `group-by` values of each
//! Sigma correlation's hits, the principal of each LLM call for the analyzers (and the
//! global key for the analyzers that look across principals). The record is published to the partition
//! of each key. Stage two ([`Scope::Partition`]) reads one partition: it feeds each window only
//! the rows, hits and calls whose key falls in that partition, so every group's window lives
//! in exactly one session, whichever instance holds the partition.

/// What a session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Everything: per-event alerts and every window.
    #[default]
    All,
    /// Detectors' and Sigma rules' alerts only; no window is fed.
    PerEvent,
    /// The windows whose key falls in partition `index` of `count`; no per-event alert.
    Partition { index: u32, count: u32 },
}

impl Scope {
    /// Whether alerts on single events are raised.
    pub fn per_event(self) -> bool {
        matches!(self, Scope::All | Scope::PerEvent)
    }

    /// Whether windows are fed at all.
    pub fn windows(self) -> bool {
        !matches!(self, Scope::PerEvent)
    }

    /// Whether a window's input with this key is fed here.
    pub fn owns(self, key: u64) -> bool {
        match self {
            Scope::All => true,
            Scope::PerEvent => false,
            Scope::Partition { index, count } => {
                modelward_event::hash::partition(key, count) == index
            }
        }
    }
}
