//! The action audit log (schema version 3): `action_audit`, one row per action modelward
//! carried out, tried, showed in a dry run or left to a person. Append-only: triggers refuse
//! every UPDATE and DELETE, so the log can be handed over as it was written.

use rusqlite::params;

use crate::{Batch, Store, StoreError};

/// One row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Assigned by the database on append (ignored when appending).
    pub seq: i64,
    pub at: i64,
    pub incident_id: String,
    pub action: String,
    pub target_kind: String,
    pub target: String,
    /// JSON.
    pub params: String,
    pub decision: String,
    pub reason: String,
    /// JSON array of rule names.
    pub rules: String,
    pub executor: String,
    pub outcome: String,
    pub detail: String,
    pub idempotency_key: String,
    pub actor: String,
}

const COLUMNS: &str = "seq, at, incident_id, action, target_kind, target, params, decision, \
     reason, rules, executor, outcome, detail, idempotency_key, actor";

fn record(row: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRecord> {
    Ok(AuditRecord {
        seq: row.get(0)?,
        at: row.get(1)?,
        incident_id: row.get(2)?,
        action: row.get(3)?,
        target_kind: row.get(4)?,
        target: row.get(5)?,
        params: row.get(6)?,
        decision: row.get(7)?,
        reason: row.get(8)?,
        rules: row.get(9)?,
        executor: row.get(10)?,
        outcome: row.get(11)?,
        detail: row.get(12)?,
        idempotency_key: row.get(13)?,
        actor: row.get(14)?,
    })
}

impl Store {
    /// The audit log of one incident (every incident with `None`), in order.
    pub fn audit_log(&self, incident: Option<&str>) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM action_audit WHERE ?1 IS NULL OR incident_id = ?1 ORDER BY seq"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows = stmt.query_map(params![incident], record)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The latest entry with this idempotency key that carried the action out, if any.
    pub fn audit_done(&self, idempotency_key: &str) -> Result<Option<AuditRecord>, StoreError> {
        self.audit_latest(idempotency_key, Some("done"))
    }

    /// The latest entry with this idempotency key (and this outcome, if given).
    pub fn audit_latest(
        &self,
        idempotency_key: &str,
        outcome: Option<&str>,
    ) -> Result<Option<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM action_audit WHERE idempotency_key = ?1
             AND (?2 IS NULL OR outcome = ?2) ORDER BY seq DESC LIMIT 1"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut rows = stmt.query_map(params![idempotency_key, outcome], record)?;
        Ok(rows.next().transpose()?)
    }
}

impl Batch<'_> {
    /// Appends an entry; returns its sequence number.
    pub fn append_audit(&mut self, r: &AuditRecord) -> Result<i64, StoreError> {
        self.tx.execute(
            "INSERT INTO action_audit (at, incident_id, action, target_kind, target, params,
             decision, reason, rules, executor, outcome, detail, idempotency_key, actor)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                r.at,
                r.incident_id,
                r.action,
                r.target_kind,
                r.target,
                r.params,
                r.decision,
                r.reason,
                r.rules,
                r.executor,
                r.outcome,
                r.detail,
                r.idempotency_key,
                r.actor
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(outcome: &str) -> AuditRecord {
        AuditRecord {
            seq: 0,
            at: 1,
            incident_id: "INC-1".into(),
            action: "block".into(),
            target_kind: "principal".into(),
            target: "mallory".into(),
            params: "{}".into(),
            decision: "contain".into(),
            reason: "r".into(),
            rules: "[]".into(),
            executor: "enforcement".into(),
            outcome: outcome.into(),
            detail: String::new(),
            idempotency_key: "k1".into(),
            actor: "test".into(),
        }
    }

    #[test]
    fn the_log_is_append_only() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        assert_eq!(b.append_audit(&entry("dry_run")).unwrap(), 1);
        assert_eq!(b.append_audit(&entry("done")).unwrap(), 2);
        b.commit().unwrap();
        assert_eq!(store.audit_log(Some("INC-1")).unwrap().len(), 2);
        assert_eq!(store.audit_log(None).unwrap().len(), 2);
        assert_eq!(store.audit_done("k1").unwrap().unwrap().seq, 2);
        let err = store
            .conn
            .execute("UPDATE action_audit SET outcome = 'failed'", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
        let err = store
            .conn
            .execute("DELETE FROM action_audit", [])
            .unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
}
