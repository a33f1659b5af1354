//! A model's fingerprint: the fingerprints of its tensors, from one file or several (shards).

use std::collections::HashMap;
use std::sync::Arc;

use modelward_inventory::blob::Blob;

use crate::error::FingerprintError;
use crate::print::{print_tensor, Key, Plan, TensorPrint, METHOD};
use crate::read::{tensors, TensorFile};

/// Plans by canonical shape, made once per key. A plan holds about 1.5 MB; at most
/// [`Plans::MAX`] are kept (a model has a dozen shapes; a file with more starts over).
#[derive(Clone, Default)]
pub struct Plans {
    plans: HashMap<Vec<u64>, Option<Arc<Plan>>>,
}

impl Plans {
    pub const MAX: usize = 64;

    pub fn get(&mut self, key: &Key, shape: &[u64]) -> Option<Arc<Plan>> {
        if self.plans.len() >= Plans::MAX && !self.plans.contains_key(shape) {
            self.plans.clear();
        }
        self.plans
            .entry(shape.to_vec())
            .or_insert_with(|| Plan::new(key, shape).map(Arc::new))
            .clone()
    }
}

/// The shape without its dimensions of length 1 (a `[1, 4096, 4096]` tensor is a
/// `[4096, 4096]` one: the element order is the same).
pub fn squeeze(shape: &[u64]) -> Vec<u64> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

/// The fingerprint of a model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelPrint {
    pub name: String,
    /// [`Key::id`] of the key it was made with.
    pub key_id: String,
    /// [`METHOD`].
    pub method: String,
    pub tensors: Vec<TensorPrint>,
    /// Tensors not fingerprinted and why (too small, degenerate, a type not read, a
    /// duplicate of another tensor).
    pub skipped: Vec<(String, String)>,
}

impl ModelPrint {
    pub fn new(name: &str, key: &Key) -> ModelPrint {
        ModelPrint {
            name: name.to_string(),
            key_id: key.id(),
            method: METHOD.into(),
            tensors: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// Adds the tensors of one file (`label` prefixes skipped names when several files make
    /// the model). Returns false when the file has no readable tensors (not a tensor format).
    pub fn add_file(
        &mut self,
        key: &Key,
        plans: &mut Plans,
        blob: &dyn Blob,
    ) -> Result<bool, FingerprintError> {
        let Some(file) = tensors(blob)? else {
            return Ok(false);
        };
        self.add(key, plans, blob, &file)?;
        Ok(true)
    }

    /// Adds the tensors of a file already read.
    pub fn add(
        &mut self,
        key: &Key,
        plans: &mut Plans,
        blob: &dyn Blob,
        file: &TensorFile,
    ) -> Result<(), FingerprintError> {
        self.skipped.extend(file.skipped.iter().cloned());
        for t in &file.tensors {
            let shape = squeeze(&t.shape);
            let Some(plan) = plans.get(key, &shape) else {
                self.skipped
                    .push((t.name.clone(), "fewer elements than fingerprinted".into()));
                continue;
            };
            let Some((samples, bits)) = print_tensor(blob, t, &plan, &|p| p)? else {
                self.skipped
                    .push((t.name.clone(), "too few distinct values".into()));
                continue;
            };
            if let Some(same) = self
                .tensors
                .iter()
                .find(|p| p.shape == shape && p.bits == bits)
            {
                // a tied or repeated tensor would count twice in the test
                let why = format!("identical fingerprint to {}", same.name);
                self.skipped.push((t.name.clone(), why));
                continue;
            }
            self.tensors.push(TensorPrint {
                name: t.name.clone(),
                shape,
                dtype: t.dtype.name().into(),
                samples,
                bits,
            });
        }
        Ok(())
    }
}
