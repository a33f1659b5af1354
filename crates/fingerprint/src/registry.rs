//! The registered models made with one key, and the one call that compares a file with all
//! of them: `fingerprint match`, `inventory find` (through the inventory's
//! [`Recognize`]) and the storage detector's object examiner all go through
//! [`Registry::examine`].
//!
//! Work per file is bounded: its tensors are read lazily (65,536 values per tensor, reference
//! shape and view, in windows of at most 1 MiB, see [`crate::tensor::gather`]), and at most
//! [`MAX_SUSPECT_TENSORS`] tensors of one file are compared (the rest are listed as
//! skipped).

use std::path::Path;

use modelward_inventory::blob::Blob;
use modelward_inventory::find::{ModelCopy, Recognize, Recognized};
use modelward_inventory::Identified;
use modelward_store::Store;

use crate::error::FingerprintError;
use crate::matching::{ModelMatch, Suspect, MODEL_MATCH_P};
use crate::model::{ModelPrint, Plans};
use crate::print::Key;
use crate::read::{tensors, TensorFile};

/// Most tensors of one suspect file compared with the registered models; a file with more
/// (a mixture of thousands of experts) has the rest listed as skipped. Each costs at most
/// three reads of 65,536 values (its shape, its transpose, llama.cpp's row order).
pub const MAX_SUSPECT_TENSORS: usize = 2048;

/// A registered model: its fingerprint and the files it was made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Registered {
    pub print: ModelPrint,
    /// The paths it was fingerprinted from (absolute, as `fingerprint build` recorded
    /// them): found again, such a file is the model itself, not a copy.
    pub sources: Vec<String>,
}

/// Every registered model made with one key, ready to compare files with.
pub struct Registry {
    key: Key,
    models: Vec<Registered>,
    threshold: f64,
    plans: Plans,
}

/// A file compared with every registered model.
#[derive(Clone, Debug)]
pub struct Examined {
    /// The format's stored name.
    pub format: String,
    /// Tensors compared.
    pub tensors: usize,
    /// Tensors not read (types not decoded, compressed members, past
    /// [`MAX_SUSPECT_TENSORS`]) and why.
    pub skipped: Vec<(String, String)>,
    /// One result per model, the smallest false-match probability first (then by name).
    pub results: Vec<ModelMatch>,
}

impl Examined {
    /// The models it matches at `threshold`, best first.
    pub fn matches(&self, threshold: f64) -> impl Iterator<Item = &ModelMatch> {
        self.results.iter().filter(move |m| m.is_match(threshold))
    }
}

impl Registry {
    /// A registry of `models` (those made with another key than `key` must be left out by
    /// the caller: [`Registry::load`] does it), matching at false-match probability
    /// [`MODEL_MATCH_P`] unless [`Registry::with_threshold`] says otherwise.
    pub fn new(key: Key, models: Vec<Registered>) -> Registry {
        // One plan per reference shape, made once for every file compared.
        let mut plans = Plans::default();
        for m in &models {
            for t in &m.print.tensors {
                plans.get(&key, &t.shape);
            }
        }
        Registry {
            key,
            models,
            threshold: MODEL_MATCH_P,
            plans,
        }
    }

    /// The models of `store` made with `key`, and the names and key ids of those made with
    /// another key (not compared).
    pub fn load(
        store: &Store,
        key: &Key,
    ) -> Result<(Registry, Vec<(String, String)>), FingerprintError> {
        let mut models = Vec::new();
        let mut other = Vec::new();
        for s in crate::store::load(store)? {
            if s.print.key_id != key.id() {
                other.push((s.print.name, s.print.key_id));
                continue;
            }
            let sources = s
                .sources
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|f| f["path"].as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            models.push(Registered {
                print: s.print,
                sources,
            });
        }
        Ok((Registry::new(key.clone(), models), other))
    }

    /// Matches at false-match probability `threshold` (in (0, 1)).
    pub fn with_threshold(mut self, threshold: f64) -> Registry {
        self.threshold = threshold;
        self
    }

    pub fn threshold(&self) -> f64 {
        self.threshold
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    pub fn models(&self) -> &[Registered] {
        &self.models
    }

    /// Compares the tensors of `blob` with every registered model: None when it is not a
    /// format with readable tensors.
    pub fn examine(&self, blob: &dyn Blob) -> Result<Option<Examined>, FingerprintError> {
        let Some(file) = tensors(blob)? else {
            return Ok(None);
        };
        self.examine_file(blob, file).map(Some)
    }

    /// [`Registry::examine`] of a file whose tensors were read already.
    pub fn examine_file(
        &self,
        blob: &dyn Blob,
        mut file: TensorFile,
    ) -> Result<Examined, FingerprintError> {
        if file.tensors.len() > MAX_SUSPECT_TENSORS {
            for t in file.tensors.drain(MAX_SUSPECT_TENSORS..) {
                file.skipped.push((
                    t.name,
                    format!("past the first {MAX_SUSPECT_TENSORS} tensors of the file"),
                ));
            }
        }
        let count = file.tensors.len();
        let mut suspect = Suspect::new(&self.key, blob, file.tensors)
            .with_head_dim(file.head_dim)
            .with_plans(self.plans.clone());
        let mut results = Vec::with_capacity(self.models.len());
        for m in &self.models {
            results.push(suspect.compare(&m.print)?);
        }
        results.sort_by(|a, b| a.ln_p.total_cmp(&b.ln_p).then(a.model.cmp(&b.model)));
        Ok(Examined {
            format: file.format,
            tensors: count,
            skipped: file.skipped,
            results,
        })
    }

    /// Whether `location` is one of the files `model` was registered from.
    fn is_source(&self, model: &str, location: &str) -> bool {
        if location.contains('!') {
            return false;
        }
        let canonical = std::fs::canonicalize(Path::new(location))
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| location.to_string());
        self.models
            .iter()
            .filter(|m| m.print.name == model)
            .any(|m| m.sources.contains(&canonical))
    }
}

/// A match as the inventory reports it.
pub fn model_copy(m: &ModelMatch, source: bool) -> ModelCopy {
    ModelCopy {
        model: m.model.clone(),
        log10_false_match_probability: m.log10_p(),
        agreement: m.agreement.unwrap_or(0.5),
        matched_tensors: m.matched,
        reference_tensors: m.reference_tensors,
        source,
    }
}

impl Recognize for Registry {
    /// The registered models a found model file matches at the registry's threshold; the
    /// file a model was registered from is reported with `source` set (it is the model, not
    /// a copy).
    fn recognize(
        &self,
        location: &str,
        blob: &dyn Blob,
        _id: &Identified,
    ) -> Result<Recognized, String> {
        match self.examine(blob) {
            Ok(None) => Ok(Recognized::default()),
            Ok(Some(e)) => Ok(Recognized {
                examined: true,
                copies: e
                    .matches(self.threshold)
                    .map(|m| model_copy(m, self.is_source(&m.model, location)))
                    .collect(),
            }),
            Err(e) => Err(format!("fingerprint: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use modelward_inventory::find::{find_in_blob, FindEvent};

    use super::*;
    use crate::dtype::DType;
    use crate::synth::{gguf_renamed, Arch};
    use crate::write;

    #[test]
    fn copies_are_named_in_files_and_zip_members_and_unrelated_models_are_not() {
        let key = Key::new(b"registry test");
        let arch = Arch::tiny_llama(1);
        let ours = arch.random(5);
        let registered = write::safetensors(&ours, DType::BF16).unwrap();
        let mut print = ModelPrint::new("ours", &key);
        print
            .add_file(&key, &mut Plans::default(), &registered)
            .unwrap();
        let registry = Registry::new(
            key,
            vec![Registered {
                print,
                sources: vec!["/models/ours.safetensors".into()],
            }],
        );
        let copy = write::gguf(&gguf_renamed(&ours), DType::Q4_0, "llama").unwrap();
        let other = write::gguf(&gguf_renamed(&arch.random(6)), DType::Q4_0, "llama").unwrap();
        let e = registry.examine(&copy).unwrap().unwrap();
        assert_eq!((e.format.as_str(), e.tensors), ("gguf", 12));
        assert_eq!(e.matches(MODEL_MATCH_P).next().unwrap().model, "ours");
        let e = registry.examine(&other).unwrap().unwrap();
        assert_eq!(
            e.matches(MODEL_MATCH_P).count(),
            0,
            "{:?}",
            e.results[0].ln_p
        );
        assert!(registry
            .examine(&b"not a model".to_vec())
            .unwrap()
            .is_none());

        // through the inventory's reader: a zip's members, each named
        let zip =
            write::zip_stored(&[("a/copy.gguf".into(), copy), ("b/other.gguf".into(), other)]);
        let mut found = Vec::new();
        find_in_blob(&zip, "x.zip", Some(&registry), &mut |e| match e {
            FindEvent::Found(f) => found.push((f.location.clone(), f.examined, f.copies.clone())),
            FindEvent::Error { location, message } => panic!("{location}: {message}"),
        });
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].0, "x.zip!a/copy.gguf");
        assert_eq!(found[0].2.len(), 1);
        assert!(found[0].2[0].log10_false_match_probability < -9.0);
        assert!(!found[0].2[0].source);
        assert!(found[1].1 && found[1].2.is_empty(), "{found:?}");
    }

    #[test]
    fn a_file_with_more_tensors_than_compared_lists_the_rest_as_skipped() {
        let key = Key::new(b"cap");
        let registry = Registry::new(key, Vec::new());
        let t = write::Tensor::new("t", &[4], vec![1.0, 2.0, 3.0, 4.0]);
        let many: Vec<write::Tensor> = (0..MAX_SUSPECT_TENSORS + 3)
            .map(|i| write::Tensor::new(&format!("t{i}"), &t.shape, t.values.clone()))
            .collect();
        let file = write::safetensors(&many, DType::F32).unwrap();
        let e = registry.examine(&file).unwrap().unwrap();
        assert_eq!(e.tensors, MAX_SUSPECT_TENSORS);
        assert_eq!(
            e.skipped
                .iter()
                .filter(|(_, why)| why.starts_with("past the first"))
                .count(),
            3
        );
    }
}
