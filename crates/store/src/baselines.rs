//! Baselines that last: the behavioural analyzers' per-principal profiles, kept between runs
//! so a principal's history (and its warm-up) carries over from one hunt to the next.
//!
//! Tables (schema version 2):
//! - `baseline_profiles(analyzer, principal, profile, last_seen)`: one row per analyzer and
//!   principal; `profile` is the analyzer's profile as JSON (the analyzer owns its shape);
//!   `last_seen` is the event time (ms) of the principal's latest call.
//! - `baseline_watermarks(analyzer, event_time)`: the latest event time (ms) each analyzer has
//!   seen, so a run can tell calls it has already counted from new ones.

use rusqlite::params;

use crate::{Batch, Store, StoreError};

/// One saved profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileRecord {
    pub principal: String,
    /// The analyzer's profile, JSON.
    pub profile: String,
    /// Event time (ms) of the principal's latest call.
    pub last_seen: i64,
}

impl Store {
    /// The saved profiles of one analyzer, by principal.
    pub fn profiles(&self, analyzer: &str) -> Result<Vec<ProfileRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT principal, profile, last_seen FROM baseline_profiles
             WHERE analyzer = ?1 ORDER BY principal",
        )?;
        let rows = stmt.query_map(params![analyzer], |row| {
            Ok(ProfileRecord {
                principal: row.get(0)?,
                profile: row.get(1)?,
                last_seen: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest event time an analyzer has seen (None: it never ran against this store).
    pub fn watermark(&self, analyzer: &str) -> Result<Option<i64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT event_time FROM baseline_watermarks WHERE analyzer = ?1")?;
        let mut rows = stmt.query(params![analyzer])?;
        Ok(match rows.next()? {
            Some(row) => Some(row.get(0)?),
            None => None,
        })
    }
}

impl Batch<'_> {
    /// Replaces the saved profiles of one analyzer with `profiles`, and sets its watermark.
    /// Principals the analyzer no longer keeps (evicted) are dropped.
    pub fn replace_profiles(
        &mut self,
        analyzer: &str,
        profiles: &[ProfileRecord],
        watermark: i64,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM baseline_profiles WHERE analyzer = ?1",
            params![analyzer],
        )?;
        {
            let mut insert = self.tx.prepare(
                "INSERT INTO baseline_profiles (analyzer, principal, profile, last_seen)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for p in profiles {
                insert.execute(params![analyzer, p.principal, p.profile, p.last_seen])?;
            }
        }
        self.tx.execute(
            "INSERT INTO baseline_watermarks (analyzer, event_time) VALUES (?1, ?2)
             ON CONFLICT (analyzer) DO UPDATE SET event_time = excluded.event_time",
            params![analyzer, watermark],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(principal: &str, last_seen: i64) -> ProfileRecord {
        ProfileRecord {
            principal: principal.into(),
            profile: format!("{{\"calls\":{last_seen}}}"),
            last_seen,
        }
    }

    #[test]
    fn profiles_are_replaced_per_analyzer_and_kept_across_opens() {
        let dir = std::env::temp_dir().join(format!("mw-baselines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("b.db");
        let _ = std::fs::remove_file(&path);
        {
            let mut store = Store::open(&path).unwrap();
            assert_eq!(store.watermark("volume").unwrap(), None);
            let mut batch = store.batch().unwrap();
            batch
                .replace_profiles("volume", &[record("alice", 5), record("bob", 7)], 7)
                .unwrap();
            batch
                .replace_profiles("access", &[record("carol", 3)], 3)
                .unwrap();
            batch.commit().unwrap();
            let mut batch = store.batch().unwrap();
            batch
                .replace_profiles("volume", &[record("bob", 9)], 9)
                .unwrap();
            batch.commit().unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.profiles("volume").unwrap(), vec![record("bob", 9)]);
        assert_eq!(store.profiles("access").unwrap(), vec![record("carol", 3)]);
        assert_eq!(store.watermark("volume").unwrap(), Some(9));
        // A batch dropped without a commit changes nothing.
        let mut store = store;
        {
            let mut batch = store.batch().unwrap();
            batch.replace_profiles("access", &[], 10).unwrap();
        }
        assert_eq!(store.profiles("access").unwrap().len(), 1);
    }
}
