//! `torch.save`'s zip format (PyTorch ≥ 1.6): a zip whose entries sit under one folder
//! (`archive/` or the file's stem): `data.pkl` (the pickled object graph), `data/N` (one entry
//! per tensor storage), `version`, `byteorder`; TorchScript archives add `code/` and
//! `constants.pkl`.
//!
//! Metadata: the folder name, storage count, the format version, TorchScript or not, and the
//! globals `data.pkl` imports (flagged as a pickle: loading it runs code).

use serde_json::Map;

use super::{pickle, Format, Identified};
use crate::blob::Blob;
use crate::error::FormatError;
use crate::zip::{self, Entry};

/// The most of `data.pkl` read to list its imports.
const MAX_PICKLE: u64 = 16 * 1024 * 1024;

/// Whether these entry names look like `torch.save`'s zip: some `X/data.pkl`.
pub fn matches_names<'a>(mut names: impl Iterator<Item = &'a str>) -> bool {
    names.any(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
}

pub fn read(blob: &dyn Blob, entries: &[Entry]) -> Result<Option<Identified>, FormatError> {
    let Some(pkl) = entries
        .iter()
        .find(|e| e.name.ends_with("/data.pkl") && e.name.matches('/').count() == 1)
    else {
        return Ok(None);
    };
    let root = &pkl.name[..pkl.name.len() - "data.pkl".len()];
    let has = |suffix: &str| entries.iter().any(|e| e.name == format!("{root}{suffix}"));
    let storages = entries
        .iter()
        .filter(|e| {
            e.name
                .strip_prefix(root)
                .and_then(|r| r.strip_prefix("data/"))
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .count();
    if !(has("version") || has(".data/version") || storages > 0) {
        return Ok(None);
    }
    let mut m = Map::new();
    m.insert("archive_name".into(), root.trim_end_matches('/').into());
    m.insert("storages".into(), storages.into());
    m.insert("entries".into(), entries.len().into());
    let torchscript = has("constants.pkl")
        || entries
            .iter()
            .any(|e| e.name.starts_with(&format!("{root}code/")));
    m.insert("torchscript".into(), torchscript.into());
    for name in ["version", ".data/version", "byteorder"] {
        if let Some(e) = entries.iter().find(|e| e.name == format!("{root}{name}")) {
            if let Ok(bytes) = zip::read_member(blob, e, 64) {
                let key = if name == "byteorder" {
                    "byteorder"
                } else {
                    "version"
                };
                m.insert(key.into(), String::from_utf8_lossy(&bytes).trim().into());
            }
        }
    }
    let mut found = Identified::new(Format::PytorchZip, m);
    let data = zip::read_member(blob, pkl, MAX_PICKLE)
        .map_err(|e| FormatError::bad("pytorch_zip", format!("data.pkl: {e}")))?;
    let scan = pickle::walk(&data, 0);
    pickle::describe(&[scan], &mut found.metadata, &mut found.warnings);
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_archive() {
        let bytes = crate::samples::pytorch_zip();
        let entries = zip::entries(&bytes).unwrap();
        let found = read(&bytes, &entries).unwrap().unwrap();
        assert_eq!(found.format, Format::PytorchZip);
        assert_eq!(found.metadata["storages"], json!(2));
        assert_eq!(found.metadata["version"], json!("3"));
        assert_eq!(found.metadata["byteorder"], json!("little"));
        assert_eq!(
            found.metadata["imports"],
            json!(["torch._utils._rebuild_tensor_v2"])
        );
        assert_eq!(found.warnings[0], pickle::WARNING);
    }
}
