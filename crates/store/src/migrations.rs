//! Schema migrations, versioned with `PRAGMA user_version`.
//!
//! Migration `i` (0-based) in [`MIGRATIONS`] takes the schema from version `i` to `i + 1`. A
//! migration is never edited once released: a change to the schema is a new migration appended
//! at the end.

use rusqlite::Connection;

use crate::StoreError;

/// Every migration, in order. Version 1: the model inventory; 2: behavioural baselines;
/// 3: incidents, the action audit log and the enforcement state; 4: incident revisions;
/// 5: the gateway's state; 6: `watch` checkpoints; 7: weight fingerprints.
pub const MIGRATIONS: &[&str] = &[
    // 1: the model inventory (see the `inventory` module).
    "CREATE TABLE inventory_roots (
        path          TEXT PRIMARY KEY NOT NULL,
        first_scanned INTEGER NOT NULL,
        last_scanned  INTEGER NOT NULL
    );
    CREATE TABLE inventory_artifacts (
        path           TEXT PRIMARY KEY NOT NULL,
        root           TEXT NOT NULL,
        format         TEXT NOT NULL,
        size           INTEGER NOT NULL,
        mtime          INTEGER,
        hash_algorithm TEXT NOT NULL,
        hash           TEXT NOT NULL,
        metadata       TEXT NOT NULL,
        first_seen     INTEGER NOT NULL,
        last_seen      INTEGER NOT NULL
    );
    CREATE INDEX inventory_artifacts_root ON inventory_artifacts (root);
    CREATE INDEX inventory_artifacts_hash ON inventory_artifacts (hash);",
    // 2: the behavioural analyzers' baselines (see the `baselines` module).
    "CREATE TABLE baseline_profiles (
        analyzer  TEXT NOT NULL,
        principal TEXT NOT NULL,
        profile   TEXT NOT NULL,
        last_seen INTEGER NOT NULL,
        PRIMARY KEY (analyzer, principal)
    );
    CREATE TABLE baseline_watermarks (
        analyzer   TEXT PRIMARY KEY NOT NULL,
        event_time INTEGER NOT NULL
    );",
    // 3: incidents (see the `incidents` module), the append-only action audit log (`audit`)
    // and the enforcement state the gateway reads (`enforcement`).
    "CREATE TABLE incidents (
        id         TEXT PRIMARY KEY NOT NULL,
        status     TEXT NOT NULL,
        stage      TEXT NOT NULL,
        severity   TEXT NOT NULL,
        title      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen  INTEGER NOT NULL,
        doc        TEXT NOT NULL
    );
    CREATE TABLE incident_entities (
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        kind        TEXT NOT NULL,
        value       TEXT NOT NULL,
        PRIMARY KEY (incident_id, kind, value)
    );
    CREATE INDEX incident_entities_value ON incident_entities (kind, value);
    CREATE TABLE incident_alerts (
        alert_id    TEXT PRIMARY KEY NOT NULL,
        incident_id TEXT NOT NULL REFERENCES incidents (id)
    );
    CREATE TABLE incident_evidence (
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        file        TEXT NOT NULL,
        line        INTEGER NOT NULL,
        offset      INTEGER NOT NULL,
        raw         BLOB NOT NULL,
        sha256      TEXT NOT NULL,
        read_at     INTEGER NOT NULL,
        PRIMARY KEY (incident_id, file, offset)
    );
    CREATE TABLE action_audit (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        at              INTEGER NOT NULL,
        incident_id     TEXT NOT NULL,
        action          TEXT NOT NULL,
        target_kind     TEXT NOT NULL,
        target          TEXT NOT NULL,
        params          TEXT NOT NULL,
        decision        TEXT NOT NULL,
        reason          TEXT NOT NULL,
        rules           TEXT NOT NULL,
        executor        TEXT NOT NULL,
        outcome         TEXT NOT NULL,
        detail          TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        actor           TEXT NOT NULL
    );
    CREATE INDEX action_audit_key ON action_audit (idempotency_key, outcome);
    CREATE INDEX action_audit_incident ON action_audit (incident_id);
    CREATE TRIGGER action_audit_no_update BEFORE UPDATE ON action_audit
        BEGIN SELECT RAISE(ABORT, 'the action audit log is append-only'); END;
    CREATE TRIGGER action_audit_no_delete BEFORE DELETE ON action_audit
        BEGIN SELECT RAISE(ABORT, 'the action audit log is append-only'); END;
    CREATE TABLE enforcement (
        measure     TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target      TEXT NOT NULL,
        params      TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        reason      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        PRIMARY KEY (measure, target_kind, target)
    );",
    // 4: incidents carry a revision (a write based on an older read is refused, not lost);
    // each incident owns its measures (two incidents may block one principal, and lifting
    // one incident's block leaves the other's).
    "ALTER TABLE incidents ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE enforcement_v4 (
        measure     TEXT NOT NULL,
        target_kind TEXT NOT NULL,
        target      TEXT NOT NULL,
        params      TEXT NOT NULL,
        incident_id TEXT NOT NULL,
        reason      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        PRIMARY KEY (measure, target_kind, target, incident_id)
    );
    INSERT INTO enforcement_v4 SELECT measure, target_kind, target, params, incident_id,
        reason, created_at, expires_at FROM enforcement;
    DROP TABLE enforcement;
    ALTER TABLE enforcement_v4 RENAME TO enforcement;",
    // 5: the gateway's own state: virtual keys (hashes only), its secret, which measures a
    // gateway has in force and applied, and the gateways seen running.
    "CREATE TABLE gateway_keys (
        id          TEXT PRIMARY KEY,
        hash        TEXT NOT NULL UNIQUE,
        principal   TEXT NOT NULL,
        team        TEXT,
        name        TEXT NOT NULL,
        limits      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        revoked_at  INTEGER
    );
    CREATE TABLE gateway_secrets (
        name        TEXT PRIMARY KEY,
        value       BLOB NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE enforcement_applied (
        measure         TEXT NOT NULL,
        target_kind     TEXT NOT NULL,
        target          TEXT NOT NULL,
        incident_id     TEXT NOT NULL,
        gateway         TEXT NOT NULL,
        in_force_at     INTEGER NOT NULL,
        first_applied   INTEGER,
        last_applied    INTEGER,
        requests        INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (measure, target_kind, target, incident_id, gateway)
    );
    CREATE TABLE gateway_instances (
        name        TEXT PRIMARY KEY,
        started_at  INTEGER NOT NULL,
        seen_at     INTEGER NOT NULL
    );",
    // 6: `modelward watch`: where each followed file was read to, and the engine's state at
    // that point, written together (a restart resumes both).
    "CREATE TABLE watch_positions (
        watch       TEXT NOT NULL,
        dev         INTEGER NOT NULL,
        ino         INTEGER NOT NULL,
        path        TEXT NOT NULL,
        offset      INTEGER NOT NULL,
        line        INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (watch, dev, ino)
    );
    CREATE TABLE watch_state (
        watch       TEXT PRIMARY KEY,
        snapshot    BLOB NOT NULL,
        updated_at  INTEGER NOT NULL
    );",
    // 7: weight fingerprints of registered models (see the `fingerprints` module).
    "CREATE TABLE fingerprint_models (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        name        TEXT NOT NULL UNIQUE,
        key_id      TEXT NOT NULL,
        method      TEXT NOT NULL,
        sources     TEXT NOT NULL,
        skipped     TEXT NOT NULL,
        created_at  INTEGER NOT NULL
    );
    CREATE TABLE fingerprint_tensors (
        model_id       INTEGER NOT NULL REFERENCES fingerprint_models (id),
        seq            INTEGER NOT NULL,
        name           TEXT NOT NULL,
        shape          TEXT NOT NULL,
        dtype          TEXT NOT NULL,
        select_samples INTEGER NOT NULL,
        test_samples   INTEGER NOT NULL,
        bits           BLOB NOT NULL,
        PRIMARY KEY (model_id, seq)
    );
    CREATE INDEX fingerprint_tensors_shape ON fingerprint_tensors (shape);",
    // 8: scans for copies of registered models (see the `copy_scans` module).
    "CREATE TABLE copy_scans (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        scanned_at  INTEGER NOT NULL,
        roots       TEXT NOT NULL,
        key_id      TEXT NOT NULL,
        models      TEXT NOT NULL,
        files       INTEGER NOT NULL,
        examined    INTEGER NOT NULL,
        errors      INTEGER NOT NULL,
        copies      TEXT NOT NULL
    );
    CREATE INDEX copy_scans_scanned_at ON copy_scans (scanned_at);",
];

/// The schema version this build writes.
pub fn latest() -> u32 {
    MIGRATIONS.len() as u32
}

pub(crate) fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
}

/// Applies the migrations the database has not seen, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found = user_version(conn)?;
    let known = latest();
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = i as u32 + 1;
        let apply = |conn: &mut Connection| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", version)?;
            tx.commit()
        };
        apply(conn).map_err(|source| StoreError::Migrate { version, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;

    #[test]
    fn fresh_database_is_at_the_latest_version() {
        let store = Store::open_in_memory().unwrap();
        assert_eq!(store.schema_version().unwrap(), latest());
    }

    #[test]
    fn reopening_does_not_migrate_again() {
        let dir = std::env::temp_dir().join(format!("mw-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("reopen.db");
        let _ = std::fs::remove_file(&path);
        drop(Store::open(&path).unwrap());
        let store = Store::open_existing(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest());
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn version_3_incidents_and_measures_carry_over_to_4() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..3] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        conn.execute_batch(
            "INSERT INTO incidents (id, status, stage, severity, title, created_at, first_seen,
                 last_seen, doc) VALUES ('INC-1', 'open', 'contain', 'high', 't', 1, 2, 3, '{}');
             INSERT INTO enforcement VALUES ('block', 'principal', 'mallory', '{}', 'INC-1', 'r',
                 1, NULL);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let store = Store { conn };
        assert_eq!(store.incident("INC-1").unwrap().unwrap().revision, 1);
        let measures = store.measures(0).unwrap();
        assert_eq!(
            (measures.len(), measures[0].incident_id.as_str()),
            (1, "INC-1")
        );
    }

    #[test]
    fn a_newer_database_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", latest() + 1)
            .unwrap();
        let err = migrate(&mut conn).unwrap_err();
        assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    }

    #[test]
    fn a_missing_file_is_not_created_by_open_existing() {
        let path = std::env::temp_dir().join(format!("mw-store-missing-{}.db", std::process::id()));
        assert!(matches!(
            Store::open_existing(&path),
            Err(StoreError::Missing { .. })
        ));
        assert!(!path.exists());
    }
}
