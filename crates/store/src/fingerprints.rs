//! Weight fingerprints (schema version 7): for each registered model, the keyed fingerprint
//! of each of its tensors, as `modelward fingerprint build` made them
//! (`modelward-fingerprint` computes them; this module only keeps them).
//!
//! Tables:
//! - `fingerprint_models(id, name, key_id, method, sources, skipped, created_at)`: one row per
//!   model, its name unique; `key_id` names the key (never the key itself), `method` the
//!   method's version, `sources` a JSON array of the files read (path, format, size),
//!   `skipped` a JSON array of `[tensor, why]`.
//! - `fingerprint_tensors(model_id, seq, name, shape, dtype, select_samples, test_samples,
//!   bits)`: one row per tensor; `shape` a JSON array (canonical, outermost first), `bits`
//!   32 bytes (selection bits then test bits, each a little-endian u128).

use rusqlite::params;

use crate::{Batch, Store, StoreError};

/// One tensor's stored fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorFingerprint {
    pub name: String,
    /// JSON array of the canonical shape.
    pub shape: String,
    pub dtype: String,
    pub select_samples: u64,
    pub test_samples: u64,
    pub bits: Vec<u8>,
}

/// A registered model's stored fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFingerprint {
    /// Row id (ignored when writing).
    pub id: i64,
    pub name: String,
    pub key_id: String,
    pub method: String,
    /// JSON array of the files read.
    pub sources: String,
    /// JSON array of `[tensor, why]`.
    pub skipped: String,
    /// Unix seconds.
    pub created_at: i64,
    pub tensors: Vec<TensorFingerprint>,
}

impl Store {
    /// Every registered model's fingerprint, by name.
    pub fn fingerprints(&self) -> Result<Vec<ModelFingerprint>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, name, key_id, method, sources, skipped, created_at
             FROM fingerprint_models ORDER BY name",
        )?;
        let mut models = stmt
            .query_map([], |row| {
                Ok(ModelFingerprint {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    key_id: row.get(2)?,
                    method: row.get(3)?,
                    sources: row.get(4)?,
                    skipped: row.get(5)?,
                    created_at: row.get(6)?,
                    tensors: Vec::new(),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT name, shape, dtype, select_samples, test_samples, bits
             FROM fingerprint_tensors WHERE model_id = ?1 ORDER BY seq",
        )?;
        for m in &mut models {
            m.tensors = stmt
                .query_map(params![m.id], |row| {
                    Ok(TensorFingerprint {
                        name: row.get(0)?,
                        shape: row.get(1)?,
                        dtype: row.get(2)?,
                        select_samples: row.get::<_, i64>(3)?.max(0) as u64,
                        test_samples: row.get::<_, i64>(4)?.max(0) as u64,
                        bits: row.get(5)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(models)
    }
}

impl Batch<'_> {
    /// Records `m`, replacing the model of the same name; returns its row id.
    pub fn put_fingerprint(&mut self, m: &ModelFingerprint) -> Result<i64, StoreError> {
        self.remove_fingerprint(&m.name)?;
        self.tx.execute(
            "INSERT INTO fingerprint_models (name, key_id, method, sources, skipped, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                m.name,
                m.key_id,
                m.method,
                m.sources,
                m.skipped,
                m.created_at
            ],
        )?;
        let id = self.tx.last_insert_rowid();
        let mut stmt = self.tx.prepare(
            "INSERT INTO fingerprint_tensors (model_id, seq, name, shape, dtype, select_samples,
                 test_samples, bits) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (seq, t) in m.tensors.iter().enumerate() {
            stmt.execute(params![
                id,
                seq as i64,
                t.name,
                t.shape,
                t.dtype,
                i64::try_from(t.select_samples).unwrap_or(i64::MAX),
                i64::try_from(t.test_samples).unwrap_or(i64::MAX),
                t.bits
            ])?;
        }
        Ok(id)
    }

    /// Forgets the model named `name`; true if there was one.
    pub fn remove_fingerprint(&mut self, name: &str) -> Result<bool, StoreError> {
        self.tx.execute(
            "DELETE FROM fingerprint_tensors WHERE model_id IN
                 (SELECT id FROM fingerprint_models WHERE name = ?1)",
            params![name],
        )?;
        Ok(self.tx.execute(
            "DELETE FROM fingerprint_models WHERE name = ?1",
            params![name],
        )? > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(name: &str, n: usize) -> ModelFingerprint {
        ModelFingerprint {
            id: 0,
            name: name.into(),
            key_id: "00ff".into(),
            method: "simhash-split-v1".into(),
            sources: "[]".into(),
            skipped: "[]".into(),
            created_at: 5,
            tensors: (0..n)
                .map(|i| TensorFingerprint {
                    name: format!("t{i}"),
                    shape: "[256,256]".into(),
                    dtype: "F32".into(),
                    select_samples: 32768,
                    test_samples: 32768,
                    bits: vec![i as u8; 32],
                })
                .collect(),
        }
    }

    #[test]
    fn a_model_is_replaced_by_name_and_read_back_in_order() {
        let mut store = Store::open_in_memory().unwrap();
        let mut b = store.batch().unwrap();
        b.put_fingerprint(&model("a", 3)).unwrap();
        b.put_fingerprint(&model("b", 1)).unwrap();
        b.put_fingerprint(&model("a", 2)).unwrap();
        b.commit().unwrap();
        let got = store.fingerprints().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "a");
        assert_eq!(got[0].tensors.len(), 2);
        assert_eq!(got[0].tensors[1].bits, vec![1u8; 32]);
        let mut b = store.batch().unwrap();
        assert!(b.remove_fingerprint("b").unwrap());
        assert!(!b.remove_fingerprint("b").unwrap());
        b.commit().unwrap();
        assert_eq!(store.fingerprints().unwrap().len(), 1);
    }
}
