//! Incidents (schema version 3). The incident itself is a JSON document owned by the response
//! crate; the columns beside it are what lists and lookups need.
//!
//! - `incidents(id, status, stage, severity, title, created_at, first_seen, last_seen, doc,
//!   revision)`: `revision` counts the writes (version 4); a write names the revision it
//!   read and is refused when another came between.
//! - `incident_entities(incident_id, kind, value)`: the entities alerts are grouped by.
//! - `incident_alerts(alert_id, incident_id)`: each alert belongs to one incident, so reading
//!   the same log twice adds nothing.
//! - `incident_evidence(incident_id, file, line, offset, raw, sha256, read_at)`: the raw log
//!   records behind the alerts, as read, with their SHA-256, one per file and offset.

use rusqlite::{params, OptionalExtension};

use crate::{Batch, Store, StoreError};

/// An incident's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IncidentRecord {
    pub id: String,
    pub status: String,
    pub stage: String,
    pub severity: String,
    pub title: String,
    pub created_at: i64,
    pub first_seen: i64,
    pub last_seen: i64,
    /// The whole incident, JSON.
    pub doc: String,
    /// Writes so far (1 after the first); 0 for an incident never written.
    pub revision: i64,
}

/// One preserved raw log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvidenceRecord {
    pub file: String,
    pub line: u64,
    pub offset: u64,
    pub raw: Vec<u8>,
    /// SHA-256 of `raw`, hex.
    pub sha256: String,
    /// Wall clock when it was read, ms.
    pub read_at: i64,
}

const COLUMNS: &str =
    "id, status, stage, severity, title, created_at, first_seen, last_seen, doc, revision";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<IncidentRecord> {
    Ok(IncidentRecord {
        id: row.get(0)?,
        status: row.get(1)?,
        stage: row.get(2)?,
        severity: row.get(3)?,
        title: row.get(4)?,
        created_at: row.get(5)?,
        first_seen: row.get(6)?,
        last_seen: row.get(7)?,
        doc: row.get(8)?,
        revision: row.get(9)?,
    })
}

impl Store {
    /// Every incident, newest first; only open ones with `open_only`.
    pub fn incidents(&self, open_only: bool) -> Result<Vec<IncidentRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM incidents {} ORDER BY first_seen DESC, id",
            if open_only {
                "WHERE status = 'open'"
            } else {
                ""
            }
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map([], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One incident by id.
    pub fn incident(&self, id: &str) -> Result<Option<IncidentRecord>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1");
        Ok(self.conn.query_row(&sql, params![id], record).optional()?)
    }

    /// The open incidents holding entity `(kind, value)` whose last alert is at or after
    /// `since` (event time, ms).
    pub fn open_incidents_with(
        &self,
        kind: &str,
        value: &str,
        since: i64,
    ) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT i.id FROM incident_entities e JOIN incidents i ON i.id = e.incident_id
             WHERE e.kind = ?1 AND e.value = ?2 AND i.status = 'open' AND i.last_seen >= ?3
             ORDER BY i.id",
        )?;
        let rows = stmt.query_map(params![kind, value, since], |row| row.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The incident an alert already belongs to.
    pub fn incident_of_alert(&self, alert_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT incident_id FROM incident_alerts WHERE alert_id = ?1",
                params![alert_id],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// The preserved raw records of an incident, by file and line.
    pub fn evidence(&self, incident: &str) -> Result<Vec<EvidenceRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT file, line, offset, raw, sha256, read_at FROM incident_evidence
             WHERE incident_id = ?1 ORDER BY file, offset",
        )?;
        let rows = stmt.query_map(params![incident], |row| {
            Ok(EvidenceRecord {
                file: row.get(0)?,
                line: row.get::<_, i64>(1)? as u64,
                offset: row.get::<_, i64>(2)? as u64,
                raw: row.get(3)?,
                sha256: row.get(4)?,
                read_at: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Batch<'_> {
    /// Writes an incident with its entities and alert ids: a new one (`revision` 0), or the
    /// next revision of the one read at `revision`; refused with [`StoreError::Conflict`] when
    /// the stored incident is not at that revision. Returns the revision written.
    pub fn put_incident(
        &mut self,
        incident: &IncidentRecord,
        entities: &[(String, String)],
        alert_ids: &[String],
    ) -> Result<i64, StoreError> {
        // A new incident is inserted, never over another; a stored one is updated only at the
        // revision it was read at (and not brought back once merged away or deleted).
        let sql = if incident.revision == 0 {
            format!(
                "INSERT INTO incidents ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10 + 1)
                 ON CONFLICT (id) DO NOTHING"
            )
        } else {
            "UPDATE incidents SET status = ?2, stage = ?3, severity = ?4, title = ?5,
                 created_at = ?6, first_seen = ?7, last_seen = ?8, doc = ?9, revision = ?10 + 1
             WHERE id = ?1 AND revision = ?10"
                .to_string()
        };
        let written = self.tx.execute(
            &sql,
            params![
                incident.id,
                incident.status,
                incident.stage,
                incident.severity,
                incident.title,
                incident.created_at,
                incident.first_seen,
                incident.last_seen,
                incident.doc,
                incident.revision
            ],
        )?;
        if written == 0 {
            return Err(self.conflict(&incident.id, incident.revision));
        }
        let mut entity = self.tx.prepare_cached(
            "INSERT OR IGNORE INTO incident_entities (incident_id, kind, value) VALUES (?1, ?2, ?3)",
        )?;
        for (kind, value) in entities {
            entity.execute(params![incident.id, kind, value])?;
        }
        let mut alert = self.tx.prepare_cached(
            "INSERT INTO incident_alerts (alert_id, incident_id) VALUES (?1, ?2)
             ON CONFLICT (alert_id) DO UPDATE SET incident_id = excluded.incident_id",
        )?;
        for id in alert_ids {
            alert.execute(params![id, incident.id])?;
        }
        Ok(incident.revision + 1)
    }

    /// The stored revision of incident `id`, if it is stored.
    fn revision_of(&self, id: &str) -> rusqlite::Result<Option<i64>> {
        self.tx
            .query_row(
                "SELECT revision FROM incidents WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()
    }

    fn conflict(&self, id: &str, read: i64) -> StoreError {
        let found = self.revision_of(id).ok().flatten().unwrap_or(0);
        StoreError::Conflict {
            id: id.to_string(),
            read,
            found,
        }
    }

    /// Moves everything of incident `from` (read at `from_revision`; 0: never written) into
    /// `into` (two incidents found to share an entity) and deletes `from`; its measures in
    /// force become `into`'s, unless `into` has the same measure on the same target.
    pub fn merge_incident(
        &mut self,
        from: &str,
        from_revision: i64,
        into: &str,
    ) -> Result<(), StoreError> {
        if from_revision > 0 && self.revision_of(from)? != Some(from_revision) {
            return Err(self.conflict(from, from_revision));
        }
        // Where both held a measure on one target, the one lasting longer stays (never
        // ending outlasts any end).
        self.tx.execute(
            "INSERT INTO enforcement
             SELECT measure, target_kind, target, params, ?2, reason, created_at, expires_at
             FROM enforcement WHERE incident_id = ?1
             ON CONFLICT (measure, target_kind, target, incident_id) DO UPDATE SET
                 params = excluded.params, reason = excluded.reason,
                 created_at = excluded.created_at, expires_at = excluded.expires_at
             WHERE enforcement.expires_at IS NOT NULL
                 AND (excluded.expires_at IS NULL OR excluded.expires_at > enforcement.expires_at)",
            params![from, into],
        )?;
        self.tx.execute(
            "DELETE FROM enforcement WHERE incident_id = ?1",
            params![from],
        )?;
        self.tx.execute(
            "INSERT OR IGNORE INTO incident_entities (incident_id, kind, value)
             SELECT ?2, kind, value FROM incident_entities WHERE incident_id = ?1",
            params![from, into],
        )?;
        self.tx.execute(
            "DELETE FROM incident_entities WHERE incident_id = ?1",
            params![from],
        )?;
        self.tx.execute(
            "UPDATE incident_alerts SET incident_id = ?2 WHERE incident_id = ?1",
            params![from, into],
        )?;
        self.tx.execute(
            "INSERT OR IGNORE INTO incident_evidence
             SELECT ?2, file, line, offset, raw, sha256, read_at FROM incident_evidence
             WHERE incident_id = ?1",
            params![from, into],
        )?;
        self.tx.execute(
            "DELETE FROM incident_evidence WHERE incident_id = ?1",
            params![from],
        )?;
        self.tx
            .execute("DELETE FROM incidents WHERE id = ?1", params![from])?;
        Ok(())
    }

    /// Preserves a raw record; one already preserved (same file and offset) is kept as first
    /// read.
    pub fn put_evidence(
        &mut self,
        incident: &str,
        evidence: &EvidenceRecord,
    ) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "INSERT OR IGNORE INTO incident_evidence
             (incident_id, file, line, offset, raw, sha256, read_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                incident,
                evidence.file,
                evidence.line as i64,
                evidence.offset as i64,
                evidence.raw,
                evidence.sha256,
                evidence.read_at
            ],
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident(id: &str, last_seen: i64) -> IncidentRecord {
        IncidentRecord {
            id: id.into(),
            status: "open".into(),
            stage: "detect".into(),
            severity: "high".into(),
            title: "t".into(),
            created_at: 1,
            first_seen: 10,
            last_seen,
            doc: "{}".into(),
            revision: 0,
        }
    }

    #[test]
    fn incidents_are_found_by_entity_and_time() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.put_incident(
            &incident("INC-1", 100),
            &[("principal".into(), "alice".into())],
            &["a1".into()],
        )
        .unwrap();
        b.commit().unwrap();
        assert_eq!(
            store.open_incidents_with("principal", "alice", 50).unwrap(),
            vec!["INC-1".to_string()]
        );
        assert!(store
            .open_incidents_with("principal", "alice", 101)
            .unwrap()
            .is_empty());
        assert_eq!(
            store.incident_of_alert("a1").unwrap().as_deref(),
            Some("INC-1")
        );
    }

    #[test]
    fn merging_moves_alerts_entities_and_evidence() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.put_incident(
            &incident("INC-1", 100),
            &[("principal".into(), "a".into())],
            &["x".into()],
        )
        .unwrap();
        b.put_incident(
            &incident("INC-2", 100),
            &[("source.ip".into(), "1.2.3.4".into())],
            &["y".into()],
        )
        .unwrap();
        let ev = EvidenceRecord {
            file: "f".into(),
            line: 3,
            offset: 9,
            raw: b"{}".to_vec(),
            sha256: "h".into(),
            read_at: 5,
        };
        assert!(b.put_evidence("INC-2", &ev).unwrap());
        assert!(!b.put_evidence("INC-2", &ev).unwrap());
        b.merge_incident("INC-2", 1, "INC-1").unwrap();
        b.commit().unwrap();
        assert!(store.incident("INC-2").unwrap().is_none());
        assert_eq!(
            store.incident_of_alert("y").unwrap().as_deref(),
            Some("INC-1")
        );
        assert_eq!(store.evidence("INC-1").unwrap(), vec![ev]);
        assert_eq!(
            store
                .open_incidents_with("source.ip", "1.2.3.4", 0)
                .unwrap(),
            vec!["INC-1".to_string()]
        );
    }

    #[test]
    fn a_write_based_on_an_older_read_is_refused() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        assert_eq!(b.put_incident(&incident("INC-1", 1), &[], &[]).unwrap(), 1);
        b.commit().unwrap();
        let read = store.incident("INC-1").unwrap().unwrap();
        assert_eq!(read.revision, 1);
        // Two commands read revision 1; the first writes 2, the second is refused.
        let mut b = store.batch().unwrap();
        assert_eq!(b.put_incident(&read, &[], &[]).unwrap(), 2);
        b.commit().unwrap();
        let mut b = store.batch().unwrap();
        let err = b.put_incident(&read, &[], &[]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    read: 1,
                    found: 2,
                    ..
                }
            ),
            "{err}"
        );
        // Nor is a new incident written over a stored one, nor a stale one merged away.
        assert!(b.put_incident(&incident("INC-1", 1), &[], &[]).is_err());
        assert!(b.merge_incident("INC-1", 1, "INC-9").is_err());
        // Nor is one merged away brought back by a write of an earlier read.
        b.put_incident(&incident("INC-9", 1), &[], &[]).unwrap();
        let current = IncidentRecord {
            revision: 2,
            ..read.clone()
        };
        b.merge_incident("INC-1", 2, "INC-9").unwrap();
        let err = b.put_incident(&current, &[], &["x".into()]).unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Conflict {
                    read: 2,
                    found: 0,
                    ..
                }
            ),
            "{err}"
        );
    }
}
