//! The inline gateway's own state (schema version 5).
//!
//! - `gateway_keys`: virtual keys the gateway issues (`modelward gateway keys create`), each
//!   with a principal, an optional team and optional limits. Only the SHA-256 of a key is
//!   kept; its id (`key-` and the first 16 hex digits of that hash) names it everywhere else.
//! - `gateway_secrets`: the gateway's secret (the key of `perturb_output`'s noise and of its
//!   proof-of-work challenges), made at the first start and kept so that perturbation can be
//!   recomputed later as evidence.
//! - `enforcement_applied`: which gateway has which measure in force since when, and how many
//!   requests it changed or refused under it (first and last). An incident's containment step
//!   is done when a gateway has the measure in force, not when the row is written.
//! - `gateway_instances`: the gateways seen running (each refreshes `seen_at` as it reads the
//!   measures), so that a report can say whether anything enforces the measures written.

use rusqlite::{params, OptionalExtension};

use crate::{Batch, Store, StoreError};

/// A virtual key, as kept (the key itself is not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualKey {
    /// `key-` and the first 16 hex digits of the key's SHA-256.
    pub id: String,
    /// The key's SHA-256, hex.
    pub hash: String,
    pub principal: String,
    pub team: Option<String>,
    /// A name for people.
    pub name: String,
    /// JSON: `{"requests_per_minute": n, "tokens_per_minute": n, "models": [globs]}`, each
    /// optional.
    pub limits: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A measure a gateway has in force, and what it did under it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Applied {
    pub measure: String,
    pub target_kind: String,
    pub target: String,
    pub incident_id: String,
    /// The gateway's name.
    pub gateway: String,
    /// When that gateway first had it in force (ms).
    pub in_force_at: i64,
    /// The first and last request it changed or refused (ms).
    pub first_applied: Option<i64>,
    pub last_applied: Option<i64>,
    pub requests: i64,
}

/// A gateway seen running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    pub name: String,
    pub started_at: i64,
    pub seen_at: i64,
}

impl Store {
    /// Every virtual key, revoked and expired ones too, by creation.
    pub fn keys(&self) -> Result<Vec<VirtualKey>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, hash, principal, team, name, limits, created_at, expires_at, revoked_at
             FROM gateway_keys ORDER BY created_at, id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok(VirtualKey {
                id: row.get(0)?,
                hash: row.get(1)?,
                principal: row.get(2)?,
                team: row.get(3)?,
                name: row.get(4)?,
                limits: row.get(5)?,
                created_at: row.get(6)?,
                expires_at: row.get(7)?,
                revoked_at: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The secret named `name`, if one is kept.
    pub fn secret(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM gateway_secrets WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// What gateways did under the measures of `incident_id`.
    pub fn applied(&self, incident_id: &str) -> Result<Vec<Applied>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT measure, target_kind, target, incident_id, gateway, in_force_at,
             first_applied, last_applied, requests FROM enforcement_applied
             WHERE incident_id = ?1 ORDER BY measure, target_kind, target, gateway",
        )?;
        let rows = stmt.query_map(params![incident_id], |row| {
            Ok(Applied {
                measure: row.get(0)?,
                target_kind: row.get(1)?,
                target: row.get(2)?,
                incident_id: row.get(3)?,
                gateway: row.get(4)?,
                in_force_at: row.get(5)?,
                first_applied: row.get(6)?,
                last_applied: row.get(7)?,
                requests: row.get(8)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The gateways seen at or after `since` (ms).
    pub fn gateways_seen(&self, since: i64) -> Result<Vec<Instance>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT name, started_at, seen_at FROM gateway_instances WHERE seen_at >= ?1
             ORDER BY name",
        )?;
        let rows = stmt.query_map(params![since], |row| {
            Ok(Instance {
                name: row.get(0)?,
                started_at: row.get(1)?,
                seen_at: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl Batch<'_> {
    /// Adds a virtual key; refuses an id or hash already there.
    pub fn add_key(&mut self, key: &VirtualKey) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO gateway_keys (id, hash, principal, team, name, limits, created_at,
             expires_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                key.id,
                key.hash,
                key.principal,
                key.team,
                key.name,
                key.limits,
                key.created_at,
                key.expires_at,
                key.revoked_at
            ],
        )?;
        Ok(())
    }

    /// Revokes the key `id` at `now`; returns whether a key not yet revoked was.
    pub fn revoke_virtual_key(&mut self, id: &str, now: i64) -> Result<bool, StoreError> {
        let n = self.tx.execute(
            "UPDATE gateway_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![id, now],
        )?;
        Ok(n > 0)
    }

    /// The secret `name`: the one kept, else `make()` kept from now on.
    pub fn secret_or(
        &mut self,
        name: &str,
        now: i64,
        make: impl FnOnce() -> Vec<u8>,
    ) -> Result<Vec<u8>, StoreError> {
        let kept: Option<Vec<u8>> = self
            .tx
            .query_row(
                "SELECT value FROM gateway_secrets WHERE name = ?1",
                params![name],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(kept) = kept {
            return Ok(kept);
        }
        let value = make();
        self.tx.execute(
            "INSERT INTO gateway_secrets (name, value, created_at) VALUES (?1, ?2, ?3)",
            params![name, value, now],
        )?;
        Ok(value)
    }

    /// Adds what a gateway did: the earliest time in force and first application, the
    /// latest last application, requests summed.
    pub fn note_applied(&mut self, a: &Applied) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO enforcement_applied (measure, target_kind, target, incident_id, gateway,
             in_force_at, first_applied, last_applied, requests)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             ON CONFLICT (measure, target_kind, target, incident_id, gateway) DO UPDATE SET
             in_force_at = min(in_force_at, excluded.in_force_at),
             first_applied = coalesce(min(first_applied, excluded.first_applied),
                                      first_applied, excluded.first_applied),
             last_applied = coalesce(max(last_applied, excluded.last_applied),
                                     last_applied, excluded.last_applied),
             requests = requests + excluded.requests",
            params![
                a.measure,
                a.target_kind,
                a.target,
                a.incident_id,
                a.gateway,
                a.in_force_at,
                a.first_applied,
                a.last_applied,
                a.requests
            ],
        )?;
        Ok(())
    }

    /// Notes the gateway `name` running at `now` (started at `started_at`).
    pub fn gateway_seen(
        &mut self,
        name: &str,
        started_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.tx.execute(
            "INSERT INTO gateway_instances (name, started_at, seen_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET started_at = excluded.started_at,
             seen_at = excluded.seen_at",
            params![name, started_at, now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, hash: &str) -> VirtualKey {
        VirtualKey {
            id: id.into(),
            hash: hash.into(),
            principal: "alice".into(),
            team: Some("search".into()),
            name: "alice's notebook".into(),
            limits: r#"{"requests_per_minute":60}"#.into(),
            created_at: 10,
            expires_at: None,
            revoked_at: None,
        }
    }

    #[test]
    fn keys_are_added_once_and_revoked_once() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.add_key(&key("key-1", "h1")).unwrap();
        assert!(b.add_key(&key("key-2", "h1")).is_err(), "one hash, one key");
        assert!(b.revoke_virtual_key("key-1", 20).unwrap());
        assert!(!b.revoke_virtual_key("key-1", 30).unwrap());
        assert!(!b.revoke_virtual_key("key-9", 30).unwrap());
        b.commit().unwrap();
        let keys = store.keys().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].revoked_at, Some(20));
    }

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        let first = b.secret_or("gateway", 1, || vec![1, 2, 3]).unwrap();
        let again = b.secret_or("gateway", 2, || vec![9]).unwrap();
        b.commit().unwrap();
        assert_eq!((first, again), (vec![1, 2, 3], vec![1, 2, 3]));
        assert_eq!(store.secret("gateway").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(store.secret("other").unwrap(), None);
    }

    #[test]
    fn applications_accumulate_and_gateways_are_seen() {
        let mut store = Store::open_in_memory().unwrap();
        let a = Applied {
            measure: "rate_limit".into(),
            target_kind: "principal".into(),
            target: "p".into(),
            incident_id: "INC-1".into(),
            gateway: "gw".into(),
            in_force_at: 100,
            ..Applied::default()
        };
        let mut b = store.batch().unwrap();
        b.note_applied(&a).unwrap();
        b.note_applied(&Applied {
            in_force_at: 200,
            first_applied: Some(250),
            last_applied: Some(260),
            requests: 2,
            ..a.clone()
        })
        .unwrap();
        b.note_applied(&Applied {
            in_force_at: 300,
            first_applied: Some(310),
            last_applied: Some(320),
            requests: 1,
            ..a.clone()
        })
        .unwrap();
        b.gateway_seen("gw", 50, 330).unwrap();
        b.commit().unwrap();
        let got = store.applied("INC-1").unwrap();
        assert_eq!(
            got,
            vec![Applied {
                in_force_at: 100,
                first_applied: Some(250),
                last_applied: Some(320),
                requests: 3,
                ..a
            }]
        );
        assert_eq!(store.gateways_seen(300).unwrap().len(), 1);
        assert!(store.gateways_seen(331).unwrap().is_empty());
    }
}
