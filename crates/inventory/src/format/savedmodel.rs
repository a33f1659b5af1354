//! TensorFlow SavedModel: a folder with `saved_model.pb` (a protobuf `SavedModel`:
//! `saved_model_schema_version` = 1, then `meta_graphs`, each a `MetaGraphDef`) and a
//! `variables/` folder. Recognised from the bytes of `saved_model.pb`: only fields 1 (varint)
//! and 2 (messages) at the top level, at least one meta graph, and each meta graph's fields
//! within `MetaGraphDef`'s 1–7.
//!
//! Metadata: schema version, meta graph count, tags, TensorFlow version, signature names; for
//! a folder, whether `variables/` is there and its file count.

use std::path::Path;

use serde_json::{Map, Value};

use super::protobuf::{self, Field};
use super::{Format, Identified};
use crate::blob::Blob;
use crate::error::FormatError;

/// The file a SavedModel folder holds.
pub const FILE: &str = "saved_model.pb";

/// `saved_model_schema_version` (field 1) or a meta graph (field 2) first.
pub fn matches(prefix: &[u8]) -> bool {
    prefix.len() >= 2 && (prefix[0] == 0x08 || prefix[0] == 0x12)
}

pub fn read(blob: &dyn Blob) -> Result<Option<Identified>, FormatError> {
    let mut fields: Vec<Field> = Vec::new();
    let mut valid = true;
    let walked = protobuf::walk(blob, 0, blob.size(), 4096, &mut |f| {
        if !matches!((f.number, f.wire), (1, 0) | (2, 2)) {
            valid = false;
            return false;
        }
        fields.push(*f);
        true
    });
    if walked.is_err() || !valid {
        return Ok(None);
    }
    let graphs: Vec<&Field> = fields.iter().filter(|f| f.number == 2).collect();
    if graphs.is_empty() {
        return Ok(None);
    }
    let mut tags: Vec<Value> = Vec::new();
    let mut signatures: Vec<Value> = Vec::new();
    let mut tf_version = Value::Null;
    for g in graphs.iter().take(16) {
        let mut inner: Vec<Field> = Vec::new();
        let mut ok = true;
        let walked = protobuf::walk(blob, g.offset, g.end(), 1_000_000, &mut |f| {
            if !(1..=7).contains(&f.number) || f.wire != 2 {
                ok = false;
                return false;
            }
            if f.number == 1 || f.number == 5 {
                inner.push(*f);
            }
            true
        });
        if walked.is_err() || !ok {
            return Ok(None);
        }
        for f in inner {
            if f.number == 1 {
                let _ = protobuf::walk(blob, f.offset, f.end(), 4096, &mut |m| {
                    match (m.number, m.wire) {
                        (4, 2) if tags.len() < 32 => tags.push(protobuf::string(blob, m, 64)),
                        (5, 2) => tf_version = protobuf::string(blob, m, 64),
                        _ => {}
                    }
                    true
                });
            } else if signatures.len() < 64 {
                let _ = protobuf::walk(blob, f.offset, f.end(), 64, &mut |m| {
                    if (m.number, m.wire) == (1, 2) {
                        signatures.push(protobuf::string(blob, m, 128));
                        return false;
                    }
                    true
                });
            }
        }
    }
    let mut m = Map::new();
    let schema = fields.iter().find(|f| f.number == 1).map(|f| f.value);
    m.insert("schema_version".into(), schema.into());
    m.insert("meta_graphs".into(), graphs.len().into());
    m.insert("tags".into(), Value::Array(tags));
    m.insert("tensorflow_version".into(), tf_version);
    m.insert("signatures".into(), Value::Array(signatures));
    Ok(Some(Identified::new(Format::TfSavedModel, m)))
}

/// Identifies a folder as a SavedModel: its `saved_model.pb` parses as one.
pub fn read_dir(dir: &Path) -> Result<Option<Identified>, FormatError> {
    let pb = dir.join(FILE);
    if !pb.is_file() {
        return Ok(None);
    }
    let blob = crate::blob::FileBlob::open(&pb)?;
    let Some(mut found) = read(&blob)? else {
        return Ok(None);
    };
    let variables = dir.join("variables");
    found
        .metadata
        .insert("has_variables".into(), variables.is_dir().into());
    if let Ok(rd) = std::fs::read_dir(&variables) {
        found
            .metadata
            .insert("variable_files".into(), rd.count().into());
    }
    Ok(Some(found))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_saved_model() {
        let found = read(&crate::samples::saved_model_pb()).unwrap().unwrap();
        assert_eq!(found.format, Format::TfSavedModel);
        assert_eq!(found.metadata["tags"], json!(["serve"]));
        assert_eq!(found.metadata["tensorflow_version"], json!("2.15.0"));
        assert_eq!(found.metadata["signatures"], json!(["serving_default"]));
        assert_eq!(found.metadata["schema_version"], json!(1));
    }

    #[test]
    fn onnx_is_not_a_saved_model() {
        assert!(read(&crate::samples::onnx()).unwrap().is_none());
    }
}
