//! The model inventory: the artifacts `modelward inventory scan` recorded and the roots it
//! scanned.
//!
//! Tables (schema version 1):
//! - `inventory_roots(path, first_scanned, last_scanned)`: every path given to a scan.
//! - `inventory_artifacts(path, root, format, size, mtime, hash_algorithm, hash, metadata,
//!   first_seen, last_seen)`: one row per model artifact, keyed by its absolute path; `metadata`
//!   is a JSON object; times are Unix seconds.

use rusqlite::{params, OptionalExtension, Row};

use crate::{Batch, Store, StoreError};

/// One recorded model artifact.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactRecord {
    /// Absolute path of the file (or SavedModel folder).
    pub path: String,
    /// The scanned root it was found under.
    pub root: String,
    /// Format name, e.g. `safetensors`, `gguf`.
    pub format: String,
    pub size: u64,
    /// Modification time, Unix seconds.
    pub mtime: Option<i64>,
    /// `sha256` or `blake3`.
    pub hash_algorithm: String,
    /// Lower-case hex digest.
    pub hash: String,
    /// Header metadata, a JSON object.
    pub metadata: String,
    /// Unix seconds of the first and the latest scan that saw it.
    pub first_seen: i64,
    pub last_seen: i64,
}

/// A scanned root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootRecord {
    pub path: String,
    pub first_scanned: i64,
    pub last_scanned: i64,
}

const COLUMNS: &str =
    "path, root, format, size, mtime, hash_algorithm, hash, metadata, first_seen, last_seen";

fn artifact(row: &Row<'_>) -> rusqlite::Result<ArtifactRecord> {
    Ok(ArtifactRecord {
        path: row.get(0)?,
        root: row.get(1)?,
        format: row.get(2)?,
        size: row.get::<_, i64>(3)?.max(0) as u64,
        mtime: row.get(4)?,
        hash_algorithm: row.get(5)?,
        hash: row.get(6)?,
        metadata: row.get(7)?,
        first_seen: row.get(8)?,
        last_seen: row.get(9)?,
    })
}

impl Store {
    /// Every recorded artifact, by path.
    pub fn artifacts(&self) -> Result<Vec<ArtifactRecord>, StoreError> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM inventory_artifacts ORDER BY path"
        ))?;
        let rows = stmt.query_map([], artifact)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The artifact recorded at `path`, if any.
    pub fn artifact(&self, path: &str) -> Result<Option<ArtifactRecord>, StoreError> {
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM inventory_artifacts WHERE path = ?1"),
                [path],
                artifact,
            )
            .optional()?)
    }

    /// Every scanned root, by path.
    pub fn roots(&self) -> Result<Vec<RootRecord>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT path, first_scanned, last_scanned FROM inventory_roots ORDER BY path",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(RootRecord {
                path: row.get(0)?,
                first_scanned: row.get(1)?,
                last_scanned: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Batch<'_> {
    /// Inserts the artifact, or updates the row at its path keeping the first `first_seen`.
    pub fn upsert_artifact(&mut self, a: &ArtifactRecord) -> Result<(), StoreError> {
        self.tx.execute(
            &format!(
                "INSERT INTO inventory_artifacts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(path) DO UPDATE SET root = excluded.root, format = excluded.format,
                   size = excluded.size, mtime = excluded.mtime,
                   hash_algorithm = excluded.hash_algorithm, hash = excluded.hash,
                   metadata = excluded.metadata, last_seen = excluded.last_seen"
            ),
            params![
                a.path,
                a.root,
                a.format,
                i64::try_from(a.size).unwrap_or(i64::MAX),
                a.mtime,
                a.hash_algorithm,
                a.hash,
                a.metadata,
                a.first_seen,
                a.last_seen
            ],
        )?;
        Ok(())
    }

    /// Forgets the artifact at `path`; true if there was one.
    pub fn remove_artifact(&mut self, path: &str) -> Result<bool, StoreError> {
        Ok(self
            .tx
            .execute("DELETE FROM inventory_artifacts WHERE path = ?1", [path])?
            > 0)
    }

    /// Records that `path` was scanned at `now`.
    pub fn touch_root(&mut self, path: &str, now: i64) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO inventory_roots (path, first_scanned, last_scanned) VALUES (?1, ?2, ?2)
             ON CONFLICT(path) DO UPDATE SET last_scanned = excluded.last_scanned",
            params![path, now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, hash: &str, seen: i64) -> ArtifactRecord {
        ArtifactRecord {
            path: path.into(),
            root: "/m".into(),
            format: "safetensors".into(),
            size: 10,
            mtime: None,
            hash_algorithm: "sha256".into(),
            hash: hash.into(),
            metadata: "{}".into(),
            first_seen: seen,
            last_seen: seen,
        }
    }

    #[test]
    fn upsert_keeps_first_seen_and_updates_the_rest() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.upsert_artifact(&record("/m/a", "11", 100)).unwrap();
        b.upsert_artifact(&record("/m/a", "22", 200)).unwrap();
        b.touch_root("/m", 100).unwrap();
        b.touch_root("/m", 200).unwrap();
        b.commit().unwrap();
        let a = store.artifact("/m/a").unwrap().unwrap();
        assert_eq!(
            (a.first_seen, a.last_seen, a.hash.as_str()),
            (100, 200, "22")
        );
        let roots = store.roots().unwrap();
        assert_eq!((roots[0].first_scanned, roots[0].last_scanned), (100, 200));
    }

    #[test]
    fn remove_and_rollback() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.upsert_artifact(&record("/m/a", "11", 1)).unwrap();
        b.commit().unwrap();
        {
            let mut b = store.batch().unwrap();
            assert!(b.remove_artifact("/m/a").unwrap());
            // dropped without commit: rolled back
        }
        assert_eq!(store.artifacts().unwrap().len(), 1);
        let mut b = store.batch().unwrap();
        assert!(b.remove_artifact("/m/a").unwrap());
        assert!(!b.remove_artifact("/m/a").unwrap());
        b.commit().unwrap();
        assert!(store.artifacts().unwrap().is_empty());
    }
}
