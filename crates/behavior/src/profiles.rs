//! A bounded map of per-principal profiles: when full, the principals seen least recently
//! (in event time) are evicted, and counted.

use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{Finding, SavedProfile};

/// Per-principal profiles of any shape, as the analyzers' eviction counts and the baselines
/// kept between runs see them.
pub trait ProfileStore {
    /// Profiles evicted so far.
    fn evicted(&self) -> u64;
    /// Every profile as JSON.
    fn export(&self) -> Vec<SavedProfile>;
    /// Restores exported profiles; returns how many could not be restored.
    fn import(&mut self, saved: Vec<SavedProfile>) -> u64;
}

impl<P: Default + Serialize + DeserializeOwned> ProfileStore for Profiles<P> {
    fn evicted(&self) -> u64 {
        Profiles::evicted(self)
    }

    fn export(&self) -> Vec<SavedProfile> {
        Profiles::export(self)
    }

    fn import(&mut self, saved: Vec<SavedProfile>) -> u64 {
        Profiles::import(self, saved)
    }
}

/// A profile that may hold findings not reported yet (a bucket that crossed its baseline but
/// is still open, a burst still going on, a new value still being counted): they are
/// reported when the profile is evicted, and at the end of the run.
pub trait Pending {
    /// What reporting needs: the analyzer's settings.
    type Settings: ?Sized;
    /// Reports what is pending.
    fn flush(self, s: &Self::Settings, principal: &str, out: &mut Vec<Finding>);
}

/// Profiles keyed by principal, at most `max` of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Profiles<P> {
    map: HashMap<String, (i64, P)>,
    max: usize,
    evicted: u64,
}

impl<P: Default> Profiles<P> {
    pub fn new(max: usize) -> Profiles<P> {
        Profiles {
            map: HashMap::new(),
            max: max.max(1),
            evicted: 0,
        }
    }

    /// The profile of `principal`, seen at `ts` (created if new). When the map is full, the
    /// least recently seen tenth of it is evicted first and handed to `evict`.
    pub fn touch(&mut self, principal: &str, ts: i64, evict: &mut dyn FnMut(String, P)) -> &mut P {
        if !self.map.contains_key(principal) && self.map.len() >= self.max {
            self.evict_idle(evict);
        }
        let entry = self
            .map
            .entry(principal.to_string())
            .or_insert_with(|| (ts, P::default()));
        entry.0 = entry.0.max(ts);
        &mut entry.1
    }

    fn evict_idle(&mut self, evict: &mut dyn FnMut(String, P)) {
        let mut by_age: Vec<(i64, String)> =
            self.map.iter().map(|(k, (t, _))| (*t, k.clone())).collect();
        by_age.sort();
        let n = (self.max / 10).max(1);
        for (_, key) in by_age.into_iter().take(n) {
            if let Some((_, p)) = self.map.remove(&key) {
                self.evicted += 1;
                evict(key, p);
            }
        }
    }

    /// Profiles evicted so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// [`Profiles::touch`], reporting what evicted profiles had pending.
    pub fn touch_reporting(
        &mut self,
        principal: &str,
        ts: i64,
        s: &P::Settings,
        out: &mut Vec<Finding>,
    ) -> &mut P
    where
        P: Pending,
    {
        self.touch(principal, ts, &mut |k, p| p.flush(s, &k, out))
    }

    /// The end of the run: every profile's pending findings, in principal order.
    pub fn flush(&mut self, s: &P::Settings, out: &mut Vec<Finding>)
    where
        P: Pending,
    {
        for (principal, p) in self.drain() {
            p.flush(s, &principal, out);
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Every profile as JSON, for keeping between runs (in principal order).
    pub fn export(&self) -> Vec<SavedProfile>
    where
        P: Serialize,
    {
        let mut out: Vec<SavedProfile> = self
            .map
            .iter()
            .filter_map(|(principal, (last_seen, p))| {
                Some(SavedProfile {
                    principal: principal.clone(),
                    profile: serde_json::to_value(p).ok()?,
                    last_seen: *last_seen,
                })
            })
            .collect();
        out.sort_by(|a, b| a.principal.cmp(&b.principal));
        out
    }

    /// Restores profiles a previous run exported (up to the bound, most recent first);
    /// returns how many could not be restored (not this analyzer's shape, or over the bound).
    pub fn import(&mut self, mut saved: Vec<SavedProfile>) -> u64
    where
        P: DeserializeOwned,
    {
        saved.sort_by_key(|s| std::cmp::Reverse(s.last_seen));
        let mut skipped = 0;
        for s in saved {
            if self.map.len() >= self.max {
                skipped += 1;
                continue;
            }
            match serde_json::from_value::<P>(s.profile) {
                Ok(p) => {
                    self.map.insert(s.principal, (s.last_seen, p));
                }
                Err(_) => skipped += 1,
            }
        }
        skipped
    }

    /// Every profile, in principal order (for a deterministic end of run).
    pub fn drain(&mut self) -> Vec<(String, P)> {
        let mut all: Vec<(String, P)> = self.map.drain().map(|(k, (_, p))| (k, p)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_evicts_the_idle_first() {
        let mut p: Profiles<u32> = Profiles::new(10);
        let mut gone = Vec::new();
        for i in 0..10 {
            *p.touch(&format!("p{i}"), i, &mut |k, _| gone.push(k)) += 1;
        }
        // p0 is seen again: p1 is now the idlest.
        p.touch("p0", 100, &mut |k, _| gone.push(k));
        p.touch("new", 101, &mut |k, _| gone.push(k));
        assert_eq!(gone, vec!["p1".to_string()]);
        assert_eq!(p.len(), 10);
        assert_eq!(p.evicted(), 1);
        for i in 0..1000 {
            p.touch(&format!("q{i}"), 200 + i, &mut |k, _| gone.push(k));
        }
        assert!(p.len() <= 10);
        assert_eq!(p.evicted() as usize, gone.len());
    }

    #[test]
    fn export_and_import_keep_profiles_and_their_times() {
        let mut p: Profiles<u32> = Profiles::new(3);
        for (i, name) in ["a", "b", "c"].iter().enumerate() {
            *p.touch(name, i as i64 * 10, &mut |_, _| {}) = i as u32 + 1;
        }
        let saved = p.export();
        assert_eq!(saved.len(), 3);
        let mut q: Profiles<u32> = Profiles::new(2);
        let mut bad = saved.clone();
        bad.push(SavedProfile {
            principal: "d".into(),
            profile: serde_json::json!("not a number"),
            last_seen: 99,
        });
        // Over the bound: the two most recent are kept; the malformed one is skipped.
        assert_eq!(q.import(bad), 2);
        let kept: Vec<(String, u32)> = q.drain();
        assert_eq!(kept, vec![("b".to_string(), 2), ("c".to_string(), 3)]);
    }
}
