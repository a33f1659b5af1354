//! What a storage object is, by its name: a model file or a dataset file.

/// How a file is used, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Model,
    Dataset,
}

/// Extensions of model weights and checkpoints (PB-53's DLP list `.pt`, `.safetensors`,
/// `.onnx`, `.gguf`, and the other common ones).
pub const MODEL_EXTENSIONS: [&str; 14] = [
    "safetensors",
    "gguf",
    "ggml",
    "pt",
    "pth",
    "ckpt",
    "bin",
    "onnx",
    "h5",
    "keras",
    "tflite",
    "pb",
    "mlmodel",
    "npz",
];

/// Extensions of datasets.
pub const DATASET_EXTENSIONS: [&str; 10] = [
    "parquet", "jsonl", "csv", "arrow", "tfrecord", "tsv", "avro", "orc", "json", "txt",
];

/// The kind of an extension (without the dot, any case).
pub fn kind_of_extension(ext: &str) -> Option<ObjectKind> {
    let ext = ext.to_ascii_lowercase();
    if MODEL_EXTENSIONS.contains(&ext.as_str()) {
        Some(ObjectKind::Model)
    } else if DATASET_EXTENSIONS.contains(&ext.as_str()) {
        Some(ObjectKind::Dataset)
    } else {
        None
    }
}

/// The kind of an object by its path's file name.
pub fn object_kind(path: &str) -> Option<ObjectKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    kind_of_extension(name.rsplit_once('.')?.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_by_extension() {
        assert_eq!(
            object_kind("acme-ml-models/llama/v3/model-00001-of-00004.safetensors"),
            Some(ObjectKind::Model)
        );
        assert_eq!(
            object_kind("data/part-0001.PARQUET"),
            Some(ObjectKind::Dataset)
        );
        assert_eq!(object_kind("notes/readme"), None);
        assert_eq!(object_kind("dir.v2/readme"), None);
    }
}
