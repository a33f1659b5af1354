//! Keras v3 `.keras` files: a zip with `config.json`, `metadata.json` and the weights
//! (`model.weights.h5`) at its root. (Keras HDF5 `.h5` files are in [`super::hdf5`].)
//!
//! Metadata: Keras version and save date (metadata.json), the model class and name
//! (config.json), the weights entry.

use serde_json::{Map, Value};

use super::{short, Format, Identified};
use crate::blob::Blob;
use crate::error::FormatError;
use crate::zip::{self, Entry};

const MAX_JSON: u64 = 16 * 1024 * 1024;

pub fn read_v3(blob: &dyn Blob, entries: &[Entry]) -> Result<Option<Identified>, FormatError> {
    let find = |n: &str| entries.iter().find(|e| e.name == n);
    let (Some(config), Some(meta)) = (find("config.json"), find("metadata.json")) else {
        return Ok(None);
    };
    let weights = entries
        .iter()
        .find(|e| e.name.starts_with("model.weights."))
        .map(|e| e.name.clone());
    if weights.is_none() && entries.len() > 2 {
        return Ok(None);
    }
    let mut m = Map::new();
    let json = |e: &Entry| -> Option<Map<String, Value>> {
        let bytes = zip::read_member(blob, e, MAX_JSON).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    if let Some(meta) = json(meta) {
        for key in ["keras_version", "date_saved"] {
            if let Some(Value::String(v)) = meta.get(key) {
                m.insert(key.into(), short(v, 64));
            }
        }
    }
    if let Some(config) = json(config) {
        if let Some(Value::String(c)) = config.get("class_name") {
            m.insert("class_name".into(), short(c, 128));
        }
        if let Some(Value::String(n)) = config.get("config").and_then(|c| c.get("name")) {
            m.insert("name".into(), short(n, 128));
        }
    }
    if let Some(w) = weights {
        m.insert("weights".into(), w.into());
    }
    Ok(Some(Identified::new(Format::KerasV3, m)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_keras_v3_zip() {
        let z = crate::samples::keras_v3();
        let entries = zip::entries(&z).unwrap();
        let found = read_v3(&z, &entries).unwrap().unwrap();
        assert_eq!(found.format, Format::KerasV3);
        assert_eq!(found.metadata["keras_version"], json!("3.4.1"));
        assert_eq!(found.metadata["class_name"], json!("Sequential"));
        assert_eq!(found.metadata["name"], json!("tiny"));
        assert_eq!(found.metadata["weights"], json!("model.weights.h5"));
    }
}
