//! safetensors: u64 LE header length N (≤ 100 MB and within the file), N bytes of JSON
//! (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`), then
//! the data; offsets are relative to the end of the header. Shapes are canonical already.

use modelward_inventory::blob::{read_exact_at, Blob};
use serde_json::{Map, Value};

use super::{unsupported, TensorFile, MAX_TENSORS};
use crate::dtype::DType;
use crate::error::FingerprintError;
use crate::tensor::{check, Order, TensorInfo, MAX_DIMS};

/// The specification's limit on the header size.
pub const MAX_HEADER: u64 = 100 * 1024 * 1024;
const NAME: &str = "safetensors";

pub fn read(blob: &dyn Blob) -> Result<TensorFile, FingerprintError> {
    let bad = |why: String| FingerprintError::bad(NAME, why);
    let mut len = [0u8; 8];
    read_exact_at(blob, 0, &mut len)?;
    let n = u64::from_le_bytes(len);
    if n > MAX_HEADER || n > blob.size().saturating_sub(8) {
        return Err(bad(format!(
            "header of {n} bytes (the file has {}, the limit is {MAX_HEADER})",
            blob.size()
        )));
    }
    let mut header = vec![0u8; n as usize];
    read_exact_at(blob, 8, &mut header)?;
    let json: Map<String, Value> = serde_json::from_slice(&header)
        .map_err(|e| bad(format!("header is not a JSON object: {e}")))?;
    drop(header);
    if json.len() as u64 > MAX_TENSORS {
        return Err(bad(format!("{} tensors", json.len())));
    }
    let base = 8 + n;
    let data_end = blob.size();
    let mut file = TensorFile {
        format: NAME.into(),
        ..TensorFile::default()
    };
    for (name, value) in &json {
        if name == "__metadata__" {
            continue;
        }
        let what = |why: &str| bad(format!("tensor {name:?}: {why}"));
        let t = value.as_object().ok_or_else(|| what("not an object"))?;
        let dtype_name = t
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| what("no dtype"))?;
        let shape: Vec<u64> = t
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| what("no shape"))?
            .iter()
            .map(Value::as_u64)
            .collect::<Option<_>>()
            .ok_or_else(|| what("shape is not integers"))?;
        if shape.len() > MAX_DIMS {
            return Err(what("too many dimensions"));
        }
        let offsets = t
            .get("data_offsets")
            .and_then(Value::as_array)
            .filter(|a| a.len() == 2)
            .ok_or_else(|| what("no data_offsets"))?;
        let (Some(begin), Some(end)) = (offsets[0].as_u64(), offsets[1].as_u64()) else {
            return Err(what("data_offsets are not integers"));
        };
        if begin > end {
            return Err(what("data_offsets are reversed"));
        }
        let Some(dtype) = DType::from_safetensors(dtype_name) else {
            file.skipped.push((name.clone(), unsupported(dtype_name)));
            continue;
        };
        let offset = base
            .checked_add(begin)
            .ok_or_else(|| what("data offset overflows"))?;
        let info = TensorInfo {
            name: name.clone(),
            shape,
            dtype,
            offset,
            order: Order::RowMajor,
        };
        check(&info, data_end, NAME)?;
        if info.byte_len() != Some(end - begin) {
            return Err(what(&format!(
                "data_offsets span {} bytes, the shape needs {:?}",
                end - begin,
                info.byte_len()
            )));
        }
        file.tensors.push(info);
    }
    Ok(file)
}
