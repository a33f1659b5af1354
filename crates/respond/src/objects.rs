//! What a storage object is, by its name: a model file or a dataset file, by the extension
//! lists of [`modelward_event::objects`].

use modelward_event::objects;

/// How a file is used, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    Model,
    Dataset,
}

/// The kind of an extension (without the dot, any case). Every extension of [`objects::MODEL_EXTENSIONS`] counts, the ambiguous ones (`.bin`,
/// `.pb`, arrays, pickles) too: an object an alert names is judged as a model when it may be
/// one.
pub fn kind_of_extension(ext: &str) -> Option<ObjectKind> {
    if objects::is_model_extension(ext) {
        Some(ObjectKind::Model)
    } else if objects::is_dataset_extension(ext) {
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
        assert_eq!(
            object_kind("hf/flax/flax_model.msgpack"),
            Some(ObjectKind::Model)
        );
        assert_eq!(object_kind("sklearn/churn.joblib"), Some(ObjectKind::Model));
        assert_eq!(object_kind("notes/readme"), None);
        assert_eq!(object_kind("dir.v2/readme"), None);
    }
}
