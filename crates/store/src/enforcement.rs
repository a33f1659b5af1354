//! The enforcement state (schema version 3, keyed per incident since 4): containment measures
//! an inline gateway applies to each request — blocks, rate limits, revoked keys, reduced
//! output detail, output perturbation, proof-of-work — keyed by the measure, its target and
//! the incident that put it in force.
//!
//! `enforcement(measure, target_kind, target, params, incident_id, reason, created_at,
//! expires_at)`: `params` is the measure's JSON parameters; `expires_at` (ms) ends it, `NULL`
//! never. An incident writing the same measure on the same target again replaces its
//! parameters, so applying an action twice leaves one row; two incidents may each hold the
//! same measure on one target (a reader applies the strictest of those in force), and lifting
//! one incident's leaves the other's.

use rusqlite::params;

use crate::{Batch, Store, StoreError};

/// One measure in force (or expired) on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// `block`, `rate_limit`, `revoke_key`, `reduce_output_detail`, `perturb_output`,
    /// `proof_of_work`.
    pub measure: String,
    /// `principal`, `source_ip`, `api_key`, `model`.
    pub target_kind: String,
    pub target: String,
    /// JSON.
    pub params: String,
    pub incident_id: String,
    pub reason: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

impl Store {
    /// The measures in force at `now` (ms), by measure and target.
    pub fn measures(&self, now: i64) -> Result<Vec<Measure>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT measure, target_kind, target, params, incident_id, reason, created_at, expires_at
             FROM enforcement WHERE expires_at IS NULL OR expires_at > ?1
             ORDER BY measure, target_kind, target",
        )?;
        let rows = stmt.query_map(params![now], |row| {
            Ok(Measure {
                measure: row.get(0)?,
                target_kind: row.get(1)?,
                target: row.get(2)?,
                params: row.get(3)?,
                incident_id: row.get(4)?,
                reason: row.get(5)?,
                created_at: row.get(6)?,
                expires_at: row.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Batch<'_> {
    /// Puts a measure in force; returns whether anything changed (false: the same measure
    /// with the same parameters was already there).
    pub fn put_measure(&mut self, m: &Measure) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "INSERT INTO enforcement (measure, target_kind, target, params, incident_id, reason,
             created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (measure, target_kind, target, incident_id) DO UPDATE SET
             params = excluded.params, reason = excluded.reason,
             created_at = excluded.created_at, expires_at = excluded.expires_at
             WHERE params IS NOT excluded.params OR expires_at IS NOT excluded.expires_at",
            params![
                m.measure,
                m.target_kind,
                m.target,
                m.params,
                m.incident_id,
                m.reason,
                m.created_at,
                m.expires_at
            ],
        )?;
        Ok(n > 0)
    }

    /// Lifts an incident's measure; returns whether it was there.
    pub fn lift_measure(
        &mut self,
        measure: &str,
        target_kind: &str,
        target: &str,
        incident_id: &str,
    ) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "DELETE FROM enforcement
             WHERE measure = ?1 AND target_kind = ?2 AND target = ?3 AND incident_id = ?4",
            params![measure, target_kind, target, incident_id],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(expires_at: Option<i64>) -> Measure {
        Measure {
            measure: "block".into(),
            target_kind: "principal".into(),
            target: "mallory".into(),
            params: "{}".into(),
            incident_id: "INC-1".into(),
            reason: "r".into(),
            created_at: 1,
            expires_at,
        }
    }

    #[test]
    fn a_measure_is_written_once_and_expires() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        assert!(b.put_measure(&block(Some(100))).unwrap());
        assert!(!b.put_measure(&block(Some(100))).unwrap());
        b.commit().unwrap();
        assert_eq!(store.measures(50).unwrap().len(), 1);
        assert!(store.measures(100).unwrap().is_empty());
        let mut b = store.batch().unwrap();
        assert!(b
            .lift_measure("block", "principal", "mallory", "INC-1")
            .unwrap());
        b.commit().unwrap();
        assert!(store.measures(0).unwrap().is_empty());
    }

    #[test]
    fn each_incident_owns_its_measures() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        assert!(b.put_measure(&block(None)).unwrap());
        let other = Measure {
            incident_id: "INC-2".into(),
            expires_at: Some(100),
            ..block(None)
        };
        assert!(b.put_measure(&other).unwrap());
        b.commit().unwrap();
        // The later, shorter block of INC-2 leaves INC-1's permanent one as it was.
        let rows = store.measures(200).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].incident_id.as_str(), rows[0].expires_at),
            ("INC-1", None)
        );
        let mut b = store.batch().unwrap();
        assert!(!b
            .lift_measure("block", "principal", "mallory", "INC-3")
            .unwrap());
        assert!(b
            .lift_measure("block", "principal", "mallory", "INC-2")
            .unwrap());
        b.commit().unwrap();
        assert_eq!(store.measures(0).unwrap().len(), 1, "INC-1's block stays");
    }

    #[test]
    fn a_merge_keeps_the_longer_lasting_of_two_measures() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        // INC-1's day-long block has ended; INC-2's block never ends.
        b.put_measure(&block(Some(100))).unwrap();
        let lasting = Measure {
            incident_id: "INC-2".into(),
            ..block(None)
        };
        b.put_measure(&lasting).unwrap();
        b.merge_incident("INC-2", 0, "INC-1").unwrap();
        b.commit().unwrap();
        let rows = store.measures(200).unwrap();
        assert_eq!(rows.len(), 1, "mallory stays blocked");
        assert_eq!(
            (rows[0].incident_id.as_str(), rows[0].expires_at),
            ("INC-1", None)
        );
    }
}
