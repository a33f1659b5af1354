//! `modelward watch`'s checkpoints (schema version 6): for each followed file (by device and
//! inode, so a renamed file is still known), the byte offset and line its records were read
//! to, and the engine's state (a serialized snapshot) at that point. Both are written in one
//! transaction after the alerts they produced went out, so a restart, even after `kill -9`,
//! resumes from a consistent point: it reads again what came after, and raises again (with
//! the same ids) only the alerts of that part.

use rusqlite::{params, OptionalExtension};

use crate::{Batch, Store, StoreError};

/// Where one followed file was read to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Position {
    pub dev: u64,
    pub ino: u64,
    /// The path it was last read under.
    pub path: String,
    /// Bytes read (through the end of the last whole line).
    pub offset: u64,
    /// The line the next record starts on.
    pub line: u64,
}

impl Store {
    /// The positions and engine state `watch` kept last, if any.
    pub fn watch_checkpoint(
        &self,
        watch: &str,
    ) -> Result<(Vec<Position>, Option<Vec<u8>>), StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT dev, ino, path, offset, line FROM watch_positions WHERE watch = ?1
             ORDER BY path",
        )?;
        let rows = stmt.query_map(params![watch], |row| {
            Ok(Position {
                dev: row.get::<_, i64>(0)? as u64,
                ino: row.get::<_, i64>(1)? as u64,
                path: row.get(2)?,
                offset: row.get::<_, i64>(3)? as u64,
                line: row.get::<_, i64>(4)? as u64,
            })
        })?;
        let positions = rows.collect::<Result<Vec<_>, _>>()?;
        let state = self
            .conn
            .query_row(
                "SELECT snapshot FROM watch_state WHERE watch = ?1",
                params![watch],
                |row| row.get(0),
            )
            .optional()?;
        Ok((positions, state))
    }
}

impl Batch<'_> {
    /// Replaces `watch`'s checkpoint: its positions (files no longer followed are forgotten)
    /// and its engine state.
    pub fn put_watch_checkpoint(
        &mut self,
        watch: &str,
        positions: &[Position],
        snapshot: &[u8],
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "DELETE FROM watch_positions WHERE watch = ?1",
            params![watch],
        )?;
        for p in positions {
            self.tx.execute(
                "INSERT INTO watch_positions (watch, dev, ino, path, offset, line, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    watch,
                    p.dev as i64,
                    p.ino as i64,
                    p.path,
                    p.offset as i64,
                    p.line as i64,
                    now
                ],
            )?;
        }
        self.tx.execute(
            "INSERT INTO watch_state (watch, snapshot, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (watch) DO UPDATE SET snapshot = excluded.snapshot,
             updated_at = excluded.updated_at",
            params![watch, snapshot, now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_replaces_the_last_one_whole() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.watch_checkpoint("w").unwrap(), (vec![], None));
        let p = |ino, offset| Position {
            dev: 1,
            ino,
            path: format!("/logs/{ino}.ndjson"),
            offset,
            line: 3,
        };
        let mut b = store.batch().unwrap();
        b.put_watch_checkpoint("w", &[p(7, 100), p(8, 5)], b"state-1", 10)
            .unwrap();
        b.commit().unwrap();
        let mut b = store.batch().unwrap();
        b.put_watch_checkpoint("w", &[p(7, 250)], b"state-2", 20)
            .unwrap();
        b.commit().unwrap();
        assert_eq!(
            store.watch_checkpoint("w").unwrap(),
            (vec![p(7, 250)], Some(b"state-2".to_vec()))
        );
        assert_eq!(store.watch_checkpoint("other").unwrap(), (vec![], None));
    }
}
