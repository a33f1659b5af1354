//! Scans for copies of registered models (schema version 8): each `modelward inventory find`
//! run that compared what it found with the weight fingerprints records what it looked at and
//! what it found, so PB-53's recovery check "verify no unauthorized model copies exist" is
//! answered from the latest scan and never without one.
//!
//! Table `copy_scans(id, scanned_at, roots, key_id, models, files, examined, errors,
//! copies)`: `roots` a JSON array of the folders and files scanned (absolute), `models` a
//! JSON array of the registered models compared, `copies` a JSON array of the copies found
//! (`{"location", "model", "log10_false_match_probability"}`).

use rusqlite::{params, OptionalExtension};

use crate::{Batch, Store, StoreError};

/// One recorded scan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyScan {
    /// Row id (ignored when writing).
    pub id: i64,
    /// Unix seconds, when the scan ended.
    pub scanned_at: i64,
    /// JSON array of the paths scanned.
    pub roots: String,
    /// The fingerprint key's id (never the key).
    pub key_id: String,
    /// JSON array of the models compared.
    pub models: String,
    /// Files read (archives count once).
    pub files: u64,
    /// Tensor files (and archive members) compared with the fingerprints.
    pub examined: u64,
    /// Paths, archives or members that could not be read or compared.
    pub errors: u64,
    /// JSON array of the copies found.
    pub copies: String,
}

impl Store {
    /// The latest recorded scan, None when there was none.
    pub fn latest_copy_scan(&self) -> Result<Option<CopyScan>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, scanned_at, roots, key_id, models, files, examined, errors, copies
                 FROM copy_scans ORDER BY scanned_at DESC, id DESC LIMIT 1",
                [],
                |row| {
                    Ok(CopyScan {
                        id: row.get(0)?,
                        scanned_at: row.get(1)?,
                        roots: row.get(2)?,
                        key_id: row.get(3)?,
                        models: row.get(4)?,
                        files: row.get::<_, i64>(5)?.max(0) as u64,
                        examined: row.get::<_, i64>(6)?.max(0) as u64,
                        errors: row.get::<_, i64>(7)?.max(0) as u64,
                        copies: row.get(8)?,
                    })
                },
            )
            .optional()?)
    }
}

impl Batch<'_> {
    /// Records a scan; returns its row id.
    pub fn put_copy_scan(&mut self, s: &CopyScan) -> Result<i64, StoreError> {
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.tx.execute(
            "INSERT INTO copy_scans (scanned_at, roots, key_id, models, files, examined, errors,
                 copies) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                s.scanned_at,
                s.roots,
                s.key_id,
                s.models,
                n(s.files),
                n(s.examined),
                n(s.errors),
                s.copies
            ],
        )?;
        Ok(self.tx.last_insert_rowid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_scan_is_read_back() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.latest_copy_scan().unwrap(), None);
        let scan = |at: i64, copies: &str| CopyScan {
            id: 0,
            scanned_at: at,
            roots: r#"["/srv/share"]"#.into(),
            key_id: "0123456789abcdef".into(),
            models: r#"["ours"]"#.into(),
            files: 3,
            examined: 2,
            errors: 0,
            copies: copies.into(),
        };
        let mut batch = store.batch().unwrap();
        batch.put_copy_scan(&scan(200, "[]")).unwrap();
        batch
            .put_copy_scan(&scan(100, r#"[{"location":"/x","model":"ours"}]"#))
            .unwrap();
        batch.commit().unwrap();
        let latest = store.latest_copy_scan().unwrap().unwrap();
        assert_eq!((latest.scanned_at, latest.copies.as_str()), (200, "[]"));
        assert_eq!(latest.files, 3);
    }
}
