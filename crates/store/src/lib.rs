//! modelward's persistence layer: one embedded SQLite database file.
//!
//! The schema is versioned with SQLite's `PRAGMA user_version`: [`Store::open`] applies every
//! migration in [`migrations`] the file has not seen yet, each in its own transaction, and
//! refuses a file written by a newer modelward. Each kind of data has its own module and its
//! own tables: the model [`inventory`], the behavioural analyzers' [`baselines`], the
//! [`incidents`] with their evidence, the append-only action [`audit`] log and the
//! [`enforcement`] state an inline gateway reads, the [`gateway`]'s own state, `watch`'s
//! checkpoints, the models' weight [`fingerprints`] and the scans for their [`copy_scans`].
//!
//! ```
//! use modelward_store::{inventory::ArtifactRecord, Store};
//!
//! let mut store = Store::open_in_memory().unwrap();
//! let mut batch = store.batch().unwrap();
//! batch.upsert_artifact(&ArtifactRecord {
//!     path: "/models/llama.gguf".into(),
//!     root: "/models".into(),
//!     format: "gguf".into(),
//!     size: 1024,
//!     mtime: Some(1_700_000_000),
//!     hash_algorithm: "sha256".into(),
//!     hash: "ab12".into(),
//!     metadata: r#"{"architecture":"llama"}"#.into(),
//!     first_seen: 1_700_000_100,
//!     last_seen: 1_700_000_100,
//! }).unwrap();
//! batch.commit().unwrap();
//! assert_eq!(store.artifacts().unwrap().len(), 1);
//! ```

pub mod audit;
pub mod baselines;
pub mod copy_scans;
pub mod enforcement;
pub mod fingerprints;
pub mod gateway;
pub mod incidents;
pub mod inventory;
pub mod migrations;
pub mod watch;

use std::path::Path;

use rusqlite::{Connection, OpenFlags, Transaction};

/// Why the store could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("no such database file (`modelward inventory scan` or `hunt --state` creates it)")]
    Missing { path: String },
    #[error("database schema version {found} is newer than this modelward knows ({known})")]
    TooNew { found: u32, known: u32 },
    #[error("migrating the database to schema version {version}: {source}")]
    Migrate {
        version: u32,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the database is damaged and is not used (its integrity check, PRAGMA quick_check, says: {problems}); restore it from a backup or move it aside")]
    Corrupt { path: String, problems: String },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{id} was changed by another command since this one read it (revision {read}, now {found}): run this again")]
    Conflict { id: String, read: i64, found: i64 },
}

/// An open database with its schema up to date.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating it if needed) the database file at `path`, checks its integrity
    /// (`PRAGMA quick_check`: a damaged file is refused, [`StoreError::Corrupt`], and never
    /// written to) and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let conn = Connection::open(path).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Store::init(conn, path)
    }

    /// Opens an existing database file; never creates one.
    pub fn open_existing(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        Store::init(conn, path)
    }

    /// Opens an existing database file for reading only: no migration runs and nothing is
    /// written to it (an evidence database stays as it was). Refuses a file written by a newer
    /// modelward, as [`Store::open_existing`] does. A file at an older schema version is read
    /// as it is: what its version lacks (a table added since) fails to read. Writes through
    /// the returned store fail.
    pub fn open_read_only(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.display().to_string(),
            });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|source| StoreError::Open {
            path: path.display().to_string(),
            source,
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        check_integrity(&conn, path)?;
        let found = migrations::user_version(&conn)?;
        let known = migrations::latest();
        if found > known {
            return Err(StoreError::TooNew { found, known });
        }
        Ok(Store { conn })
    }

    /// A private in-memory database (tests, dry runs).
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::init(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn init(mut conn: Connection, path: &Path) -> Result<Store, StoreError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        check_integrity(&conn, path)?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrations::migrate(&mut conn)?;
        Ok(Store { conn })
    }

    /// The schema version of the open file (`PRAGMA user_version`).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(migrations::user_version(&self.conn)?)
    }

    /// A write transaction: nothing is visible to other readers until [`Batch::commit`];
    /// dropped without a commit, it rolls back.
    pub fn batch(&mut self) -> Result<Batch<'_>, StoreError> {
        Ok(Batch {
            tx: self.conn.transaction()?,
        })
    }
}

/// How many of `PRAGMA quick_check`'s findings a [`StoreError::Corrupt`] quotes.
const PROBLEMS_SHOWN: usize = 3;

/// Refuses a damaged database before anything reads or writes it: `PRAGMA quick_check`
/// (every page and index entry well-formed, in time linear in the file's size), and a file
/// that is not a SQLite database at all.
fn check_integrity(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let corrupt = |problems: String| StoreError::Corrupt {
        path: path.display().to_string(),
        problems,
    };
    let rows: Result<Vec<String>, rusqlite::Error> = conn
        .prepare("PRAGMA quick_check")
        .and_then(|mut stmt| stmt.query_map([], |row| row.get::<_, String>(0))?.collect());
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => Ok(()),
        Ok(rows) => {
            let mut shown: Vec<String> = rows.iter().take(PROBLEMS_SHOWN).cloned().collect();
            if rows.len() > PROBLEMS_SHOWN {
                shown.push(format!("and {} more", rows.len() - PROBLEMS_SHOWN));
            }
            Err(corrupt(shown.join("; ")))
        }
        Err(rusqlite::Error::SqliteFailure(e, message))
            if matches!(
                e.code,
                rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
            ) =>
        {
            Err(corrupt(message.unwrap_or_else(|| e.to_string())))
        }
        Err(e) => Err(e.into()),
    }
}

/// A write transaction over the store. The methods of each data module are implemented on it.
pub struct Batch<'a> {
    tx: Transaction<'a>,
}

impl Batch<'_> {
    /// Makes the batch's writes durable.
    pub fn commit(self) -> Result<(), StoreError> {
        Ok(self.tx.commit()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mw-store-ro-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A database whose pages are damaged after `at` bytes: a copy of a real one, with its
    /// incidents, overwritten there.
    fn damaged(dir: &Path, name: &str, at: usize) -> std::path::PathBuf {
        let path = dir.join(name);
        let mut store = Store::open(&path).unwrap();
        let mut batch = store.batch().unwrap();
        for i in 0..200 {
            batch
                .upsert_artifact(&inventory::ArtifactRecord {
                    path: format!("/models/{i}.gguf"),
                    root: "/models".into(),
                    format: "gguf".into(),
                    size: i,
                    mtime: None,
                    hash_algorithm: "sha256".into(),
                    hash: format!("{i:064x}"),
                    metadata: "{}".into(),
                    first_seen: 1,
                    last_seen: 1,
                })
                .unwrap();
        }
        batch.commit().unwrap();
        drop(store);
        let mut bytes = std::fs::read(&path).unwrap();
        let end = (at + 4096).min(bytes.len());
        for (i, b) in bytes[at..end].iter_mut().enumerate() {
            *b = (i * 7 + 13) as u8;
        }
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn a_damaged_database_is_refused_and_left_as_it_is() {
        let dir = scratch("damaged");
        for (name, at) in [("pages.db", 8192), ("header.db", 0)] {
            let path = damaged(&dir, name, at);
            let before = std::fs::read(&path).unwrap();
            for result in [
                Store::open(&path).err(),
                Store::open_existing(&path).err(),
                Store::open_read_only(&path).err(),
            ] {
                let err = result.expect("a damaged file opened");
                assert!(matches!(err, StoreError::Corrupt { .. }), "{name}: {err}");
                assert!(err.to_string().contains("PRAGMA quick_check"), "{err}");
            }
            assert_eq!(std::fs::read(&path).unwrap(), before, "{name} written to");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_read_only_open_reads_and_never_writes() {
        let dir = scratch("reads");
        let path = dir.join("evidence.db");
        drop(Store::open(&path).unwrap());
        let before = std::fs::read(&path).unwrap();
        let mut store = Store::open_read_only(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::latest());
        assert!(store.artifacts().unwrap().is_empty());
        let mut batch = store.batch().unwrap();
        batch
            .upsert_artifact(&inventory::ArtifactRecord {
                path: "/m.gguf".into(),
                root: "/".into(),
                format: "gguf".into(),
                size: 1,
                mtime: None,
                hash_algorithm: "sha256".into(),
                hash: "ab".into(),
                metadata: "{}".into(),
                first_seen: 1,
                last_seen: 1,
            })
            .unwrap_err();
        drop(batch);
        drop(store);
        assert_eq!(std::fs::read(&path).unwrap(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_read_only_open_migrates_nothing_and_refuses_a_newer_file() {
        let dir = scratch("versions");
        let old = dir.join("old.db");
        let conn = Connection::open(&old).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        drop(conn);
        let store = Store::open_read_only(&old).unwrap();
        assert_eq!(store.schema_version().unwrap(), 1, "not migrated");
        assert!(store.artifacts().is_err(), "an empty file has no table");
        drop(store);
        let new = dir.join("new.db");
        let conn = Connection::open(&new).unwrap();
        conn.pragma_update(None, "user_version", migrations::latest() + 1)
            .unwrap();
        drop(conn);
        let err = Store::open_read_only(&new).err().unwrap();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
        let missing = dir.join("missing.db");
        assert!(matches!(
            Store::open_read_only(&missing),
            Err(StoreError::Missing { .. })
        ));
        assert!(!missing.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
