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
    fn any_case() {
        assert!(is_model_extension("GGUF") && is_model_extension("gguf"));
        assert!(!is_ambiguous_model_extension("safetensors"));
        assert!(is_ambiguous_model_extension("PB"));
        assert!(is_dataset_extension("Parquet"));
        assert!(!is_model_extension("") && !is_model_extension("pdf"));
    }
}
