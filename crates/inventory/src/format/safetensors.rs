//! safetensors: an 8-byte little-endian header length N, then N bytes of JSON: one object
//! whose keys are tensor names (`{"dtype", "shape", "data_offsets"}`) and an optional
//! `__metadata__` map of strings; then the tensor data.
//!
//! Recognised when N fits in the file and the header starts with `{`; metadata: tensor count,
//! dtype counts, total parameters, `__metadata__`.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{short, Format, Identified};
use crate::blob::{read_exact_at, Blob};
use crate::error::FormatError;

/// The specification's limit on the header size.
pub const MAX_HEADER: u64 = 100 * 1024 * 1024;

const NAME: &str = "safetensors";

pub fn matches(prefix: &[u8], size: u64) -> bool {
    let Some(len) = prefix.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(len.try_into().unwrap_or([0; 8]));
    (2..=MAX_HEADER).contains(&n) && n <= size.saturating_sub(8) && prefix.get(8) == Some(&b'{')
}

pub fn read(blob: &dyn Blob) -> Result<Identified, FormatError> {
    let mut len = [0u8; 8];
    read_exact_at(blob, 0, &mut len)?;
    let n = u64::from_le_bytes(len);
    let mut header = vec![0u8; n as usize];
    read_exact_at(blob, 8, &mut header)?;
    let json: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| FormatError::bad(NAME, format!("header is not a JSON object: {e}")))?;
    let data_len = blob.size() - 8 - n;
    let mut tensors = 0u64;
    let mut params = 0u64;
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    let mut data_end = 0u64;
    let mut meta = Map::new();
    for (name, value) in &json {
        if name == "__metadata__" {
            if let Value::Object(m) = value {
                for (k, v) in m.iter().take(64) {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    meta.insert(k.clone(), short(&text, 256));
                }
            }
            continue;
        }
        let bad = |what: &str| FormatError::bad(NAME, format!("tensor {name:?}: {what}"));
        let t = value.as_object().ok_or_else(|| bad("not an object"))?;
        let dtype = t
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no dtype"))?;
        let shape = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no shape"))?;
        let mut count = 1u64;
        for d in shape {
            let d = d.as_u64().ok_or_else(|| bad("shape is not integers"))?;
            count = count.saturating_mul(d);
        }
        let offsets = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 2)
            .ok_or_else(|| bad("no data_offsets"))?;
        let (Some(begin), Some(end)) = (offsets[0].as_u64(), offsets[1].as_u64()) else {
            return Err(bad("data_offsets are not integers"));
        };
        if begin > end {
            return Err(bad("data_offsets are reversed"));
        }
        data_end = data_end.max(end);
        tensors += 1;
        params = params.saturating_add(count);
        *dtypes.entry(dtype.to_string()).or_default() += 1;
    }
    let mut m = Map::new();
    m.insert("tensors".into(), tensors.into());
    m.insert("parameters".into(), params.into());
    m.insert(
        "dtypes".into(),
        Value::Object(dtypes.into_iter().map(|(k, v)| (k, v.into())).collect()),
    );
    m.insert("header_bytes".into(), n.into());
    if !meta.is_empty() {
        m.insert("metadata".into(), Value::Object(meta));
    }
    let mut found = Identified::new(Format::Safetensors, m);
    if data_end > data_len {
        found.warnings.push(format!(
            "truncated: tensors need {data_end} data bytes, the file has {data_len}"
        ));
    }
    Ok(found)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_header() {
        let bytes = crate::samples::safetensors();
        assert!(matches(&bytes, bytes.len() as u64));
        let found = read(&bytes).unwrap();
        assert_eq!(found.format, Format::Safetensors);
        assert_eq!(found.metadata["tensors"], json!(3));
        assert_eq!(found.metadata["parameters"], json!(18));
        assert_eq!(found.metadata["dtypes"], json!({"F16": 2, "F32": 1}));
        assert_eq!(found.metadata["metadata"]["model"], json!("tiny-llama"));
        assert!(found.warnings.is_empty());
    }

    #[test]
    fn truncated_data_is_a_warning_and_a_broken_header_an_error() {
        let mut bytes = crate::samples::safetensors();
        bytes.truncate(bytes.len() - 10);
        assert!(read(&bytes).unwrap().warnings[0].starts_with("truncated"));
        let mut bad = crate::samples::safetensors_with(&json!({"t": {"dtype": "F32"}}), 0);
        assert!(read(&bad).is_err());
        bad[9] = b'!';
        assert!(read(&bad).is_err());
        // a header length past the end of the file is not safetensors at all
        let mut long = crate::samples::safetensors();
        long[..8].copy_from_slice(&1_000_000u64.to_le_bytes());
        assert!(!matches(&long, long.len() as u64));
    }
}
