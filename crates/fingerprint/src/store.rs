//! Fingerprints in the modelward database (`modelward_store::fingerprints`).

use modelward_store::fingerprints::{ModelFingerprint, TensorFingerprint};
use modelward_store::Store;
use serde_json::{json, Value};

use crate::error::FingerprintError;
use crate::model::ModelPrint;
use crate::print::{TensorPrint, METHOD};

/// A file a fingerprint was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    pub path: String,
    pub format: String,
    pub size: u64,
}

/// Records `model` (replacing a model of the same name), made from `sources` at `now`.
pub fn save(
    store: &mut Store,
    model: &ModelPrint,
    sources: &[Source],
    now: i64,
) -> Result<(), FingerprintError> {
    let record = ModelFingerprint {
        id: 0,
        name: model.name.clone(),
        key_id: model.key_id.clone(),
        method: model.method.clone(),
        sources: Value::Array(
            sources
                .iter()
                .map(|s| json!({"path": s.path, "format": s.format, "size": s.size}))
                .collect(),
        )
        .to_string(),
        skipped: json!(model.skipped).to_string(),
        created_at: now,
        tensors: model
            .tensors
            .iter()
            .map(|t| {
                let mut bits = t.bits[0].to_le_bytes().to_vec();
                bits.extend(t.bits[1].to_le_bytes());
                TensorFingerprint {
                    name: t.name.clone(),
                    shape: json!(t.shape).to_string(),
                    dtype: t.dtype.clone(),
                    select_samples: t.samples[0],
                    test_samples: t.samples[1],
                    bits,
                }
            })
            .collect(),
    };
    let mut batch = store.batch()?;
    batch.put_fingerprint(&record)?;
    batch.commit()?;
    Ok(())
}

/// A stored model: its fingerprint, the files it was made from and when.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub print: ModelPrint,
    pub sources: Value,
    pub created_at: i64,
}

/// Every registered model's fingerprint, by name. A model stored by another method version
/// is an error naming it.
pub fn load(store: &Store) -> Result<Vec<Stored>, FingerprintError> {
    let mut out = Vec::new();
    for m in store.fingerprints()? {
        let bad = |reason: String| FingerprintError::Stored {
            model: m.name.clone(),
            reason,
        };
        if m.method != METHOD {
            return Err(bad(format!(
                "made by method {}, this modelward reads {METHOD}",
                m.method
            )));
        }
        let mut tensors = Vec::with_capacity(m.tensors.len());
        for t in &m.tensors {
            let shape: Vec<u64> = serde_json::from_str(&t.shape)
                .map_err(|e| bad(format!("tensor {}: shape {}: {e}", t.name, t.shape)))?;
            let Ok(bits) = <[u8; 32]>::try_from(t.bits.as_slice()) else {
                return Err(bad(format!(
                    "tensor {}: {} bytes of bits",
                    t.name,
                    t.bits.len()
                )));
            };
            let half = |i: usize| {
                let mut b = [0u8; 16];
                b.copy_from_slice(&bits[16 * i..16 * i + 16]);
                u128::from_le_bytes(b)
            };
            tensors.push(TensorPrint {
                name: t.name.clone(),
                shape,
                dtype: t.dtype.clone(),
                samples: [t.select_samples, t.test_samples],
                bits: [half(0), half(1)],
            });
        }
        let skipped: Vec<(String, String)> = serde_json::from_str(&m.skipped).unwrap_or_default();
        out.push(Stored {
            print: ModelPrint {
                name: m.name.clone(),
                key_id: m.key_id.clone(),
                method: m.method.clone(),
                tensors,
                skipped,
            },
            sources: serde_json::from_str(&m.sources).unwrap_or(Value::Null),
            created_at: m.created_at,
        });
    }
    Ok(out)
}
