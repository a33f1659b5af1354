//! What kind of file an object-storage key names, by its extension (lower case, without the
//! dot): model artifacts and datasets. The storage normalizers write the extension to
//! `file.extension`; the weight-download analyzer and the responder's object
//! classification read these lists.
//!
//! ```
//! use modelward_event::objects::{is_model_extension, is_ambiguous_model_extension};
//! assert!(is_model_extension("SafeTensors"));
//! assert!(is_model_extension("bin") && is_ambiguous_model_extension("bin"));
//! assert!(!is_model_extension("parquet"));
//! ```

/// Extensions of model weights, checkpoints and serialized models, sorted: the formats
/// `modelward inventory` recognises (safetensors, GGUF, PyTorch `.pt`/`.pth`/`.bin`/`.ckpt`,
/// pickle and joblib, ONNX, HDF5 and Keras, TensorFlow SavedModel `.pb`, TFLite, NumPy),
/// GGML, Core ML and Flax's msgpack, and PB-53's DLP list (`.pt`, `.safetensors`,
/// `.onnx`, `.gguf`).
pub const MODEL_EXTENSIONS: [&str; 20] = [
    "bin",
    "ckpt",
    "ggml",
    "gguf",
    "h5",
    "hdf5",
    "joblib",
    "keras",
    "mlmodel",
    "msgpack",
    "npy",
    "npz",
    "onnx",
    "pb",
    "pickle",
    "pkl",
    "pt",
    "pth",
    "safetensors",
    "tflite",
];

/// Those of [`MODEL_EXTENSIONS`] that other files have too, sorted: any binary (`.bin`), any
/// protocol buffer (`.pb`), any array, pickle or MessagePack. Such a file is a model where
/// its path or name says so (`pytorch_model.bin`, `saved_model.pb`, `weights/…`).
pub const AMBIGUOUS_MODEL_EXTENSIONS: [&str; 9] = [
    "bin", "hdf5", "joblib", "msgpack", "npy", "npz", "pb", "pickle", "pkl",
];

/// Extensions of datasets, sorted.
pub const DATASET_EXTENSIONS: [&str; 10] = [
    "arrow", "avro", "csv", "json", "jsonl", "orc", "parquet", "tfrecord", "tsv", "txt",
];

fn listed(list: &[&str], ext: &str) -> bool {
    list.iter().any(|e| e.eq_ignore_ascii_case(ext))
}

/// Whether `ext` (any case) is a model artifact's.
pub fn is_model_extension(ext: &str) -> bool {
    listed(&MODEL_EXTENSIONS, ext)
}

/// Whether `ext` (any case) is a model artifact's only sometimes.
pub fn is_ambiguous_model_extension(ext: &str) -> bool {
    listed(&AMBIGUOUS_MODEL_EXTENSIONS, ext)
}

/// Whether `ext` (any case) is a dataset's.
pub fn is_dataset_extension(ext: &str) -> bool {
    listed(&DATASET_EXTENSIONS, ext)
}

/// A file recognised as a copy of a registered model by its weight fingerprints: what
/// `inventory find` reports of a model file, and what the storage detector reports of an
/// object read from a bucket (`modelward-fingerprint` computes it; the inventory and the
/// detectors, which do not depend on it, carry it).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCopy {
    /// The registered model's name.
    pub model: String,
    /// log₁₀ of the probability that a file not derived from the model matches it this well
    /// (the fingerprints' test; representable far below what an f64 holds as a probability).
    pub log10_false_match_probability: f64,
    /// Mean agreement of the paired tensors' test bits (½ unrelated, 1 identical).
    pub agreement: f64,
    /// Tensors matched on their own, of the model's fingerprinted tensors.
    pub matched_tensors: usize,
    pub reference_tensors: usize,
    /// The file the model was registered from, found where it was fingerprinted: the model
    /// itself, not a copy.
    pub source: bool,
}

impl ModelCopy {
    /// The false-match probability as text: `0.012`, or `2.5e-391` far below an f64.
    pub fn probability(&self) -> String {
        let l = self.log10_false_match_probability;
        if l > -4.0 {
            return format!("{:.3}", 10f64.powf(l));
        }
        let e = l.floor();
        format!("{:.1}e{}", 10f64.powf(l - e), e as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted_unique(list: &[&str]) -> bool {
        list.windows(2).all(|w| w[0] < w[1])
            && list
                .iter()
                .all(|e| !e.is_empty() && *e == e.to_ascii_lowercase() && !e.starts_with('.'))
    }

    #[test]
    fn lists_are_sorted_lower_case_and_consistent() {
        assert!(sorted_unique(&MODEL_EXTENSIONS));
        assert!(sorted_unique(&AMBIGUOUS_MODEL_EXTENSIONS));
        assert!(sorted_unique(&DATASET_EXTENSIONS));
        assert!(AMBIGUOUS_MODEL_EXTENSIONS
            .iter()
            .all(|e| is_model_extension(e)));
        assert!(!DATASET_EXTENSIONS.iter().any(|e| is_model_extension(e)));
    }

    #[test]
    fn probabilities_far_below_a_double_are_written() {
        let mut c = ModelCopy {
            model: "m".into(),
            log10_false_match_probability: -390.6,
            agreement: 1.0,
            matched_tensors: 1,
            reference_tensors: 1,
            source: false,
        };
        assert_eq!(c.probability(), "2.5e-391");
        c.log10_false_match_probability = -1.0;
        assert_eq!(c.probability(), "0.100");
    }

    #[test]
    fn any_case() {
        assert!(is_model_extension("GGUF") && is_model_extension("gguf"));
        assert!(!is_ambiguous_model_extension("safetensors"));
        assert!(is_ambiguous_model_extension("PB"));
        assert!(is_dataset_extension("Parquet"));
        assert!(!is_model_extension("") && !is_model_extension("pdf"));
    }
}
