//! NumPy `.npy`: magic `\x93NUMPY`, version, header length (u16 in 1.x, u32 after), a dict
//! literal with `descr`, `fortran_order` and `shape`, then the data. Little-endian and
//! single-byte numeric types are read; a Fortran-ordered array is read column-major.

use modelward_inventory::blob::{read_upto, Blob};

use super::{unsupported, TensorFile};
use crate::dtype::DType;
use crate::error::FingerprintError;
use crate::tensor::{check, Order, TensorInfo, MAX_DIMS};

const NAME: &str = "npy";
/// NumPy writes headers under 10 KB (64 KB for very many dimensions); more is refused.
const MAX_HEADER: usize = 64 * 1024;

/// Reads the `.npy` array stored in `start..end` of `blob`, naming its tensor `name`.
pub fn read(
    blob: &dyn Blob,
    start: u64,
    end: u64,
    name: &str,
) -> Result<TensorFile, FingerprintError> {
    let bad = |why: String| FingerprintError::bad(NAME, format!("{name}: {why}"));
    let b = read_upto(blob, start, 12 + MAX_HEADER)?;
    if !b.starts_with(b"\x93NUMPY") {
        return Err(bad("no NumPy magic".into()));
    }
    let (len, at) = match b.get(6) {
        Some(1) => (
            b.get(8..10)
                .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize),
            10,
        ),
        Some(2 | 3) => (
            b.get(8..12)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize),
            12,
        ),
        _ => return Err(bad("unsupported version".into())),
    };
    let len = len.ok_or_else(|| bad("truncated header".into()))?;
    if len > MAX_HEADER {
        return Err(bad(format!("header of {len} bytes")));
    }
    let text = b
        .get(at..at + len)
        .ok_or_else(|| bad("truncated header".into()))?;
    let text = String::from_utf8_lossy(text);
    let descr = text
        .split_once("'descr':")
        .and_then(|(_, r)| r.trim_start().strip_prefix('\''))
        .and_then(|r| r.split_once('\''))
        .map(|(d, _)| d)
        .ok_or_else(|| bad("no 'descr'".into()))?;
    let fortran = text
        .split_once("'fortran_order':")
        .is_some_and(|(_, r)| r.trim_start().starts_with("True"));
    let inside = text
        .split_once("'shape':")
        .and_then(|(_, r)| r.trim_start().strip_prefix('('))
        .and_then(|r| r.split_once(')'))
        .map(|(i, _)| i)
        .ok_or_else(|| bad("no 'shape'".into()))?;
    let mut shape = Vec::new();
    for d in inside.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        if shape.len() == MAX_DIMS {
            return Err(bad("too many dimensions".into()));
        }
        shape.push(
            d.parse::<u64>()
                .map_err(|_| bad(format!("dimension {d:?}")))?,
        );
    }
    let mut file = TensorFile {
        format: NAME.into(),
        ..TensorFile::default()
    };
    let dtype = match descr {
        "<f8" => Some(DType::F64),
        "<f4" => Some(DType::F32),
        "<f2" => Some(DType::F16),
        "<i8" => Some(DType::I64),
        "<i4" => Some(DType::I32),
        "<i2" => Some(DType::I16),
        "|i1" | "<i1" => Some(DType::I8),
        "|u1" | "<u1" => Some(DType::U8),
        _ => None,
    };
    let Some(dtype) = dtype else {
        file.skipped.push((name.to_string(), unsupported(descr)));
        return Ok(file);
    };
    let info = TensorInfo {
        name: name.to_string(),
        shape,
        dtype,
        offset: start + (at + len) as u64,
        order: if fortran {
            Order::ColumnMajor
        } else {
            Order::RowMajor
        },
    };
    check(&info, end, NAME)?;
    file.tensors.push(info);
    Ok(file)
}
