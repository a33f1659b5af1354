//! NumPy `.npy`: magic `\x93NUMPY`, major and minor version bytes, the header length (u16 in
//! version 1, u32 in 2 and 3), then a Python dict literal
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`. `.npz` is a zip of `.npy`
//! members.
//!
//! Metadata: dtype, shape, element count, Fortran order; for npz the arrays (name, dtype,
//! shape) and their count.

use serde_json::{Map, Value};

use super::{short, Format, Identified};
use crate::blob::Blob;
use crate::error::FormatError;
use crate::zip::{self, Entry};

const MAGIC: &[u8] = b"\x93NUMPY";
/// NumPy's own limit on header size is 10,000 bytes; more is not read.
const MAX_HEADER: usize = 64 * 1024;
const NAME: &str = "npy";

pub fn matches(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC)
}

/// Reads an `.npy` header from its first bytes.
pub fn read_npy(prefix: &[u8]) -> Result<Identified, FormatError> {
    Ok(Identified::new(Format::Npy, header(prefix)?))
}

fn header(b: &[u8]) -> Result<Map<String, Value>, FormatError> {
    let (Some(&major), Some(&minor)) = (b.get(6), b.get(7)) else {
        return Err(FormatError::bad(NAME, "truncated header"));
    };
    let (len, start) = match major {
        1 => (
            b.get(8..10)
                .map(|s| u16::from_le_bytes([s[0], s[1]]) as usize),
            10,
        ),
        2 | 3 => (
            b.get(8..12)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as usize),
            12,
        ),
        v => {
            return Err(FormatError::bad(
                NAME,
                format!("unsupported version {v}.{minor}"),
            ))
        }
    };
    let len = len.ok_or_else(|| FormatError::bad(NAME, "truncated header"))?;
    if len > MAX_HEADER {
        return Err(FormatError::bad(NAME, format!("header of {len} bytes")));
    }
    let text = b
        .get(start..start + len)
        .ok_or_else(|| FormatError::bad(NAME, "truncated header"))?;
    let text = String::from_utf8_lossy(text);
    let mut m = Map::new();
    m.insert("version".into(), format!("{major}.{minor}").into());
    let descr = text
        .split_once("'descr':")
        .map(|(_, rest)| rest.trim_start())
        .ok_or_else(|| FormatError::bad(NAME, "header has no 'descr'"))?;
    let dtype = match descr.strip_prefix('\'').and_then(|r| r.split_once('\'')) {
        Some((d, _)) => short(d, 64),
        None => Value::from("structured"),
    };
    m.insert("dtype".into(), dtype);
    if let Some((_, rest)) = text.split_once("'fortran_order':") {
        m.insert(
            "fortran_order".into(),
            rest.trim_start().starts_with("True").into(),
        );
    }
    let shape_text = text
        .split_once("'shape':")
        .and_then(|(_, rest)| rest.trim_start().strip_prefix('('))
        .and_then(|rest| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .ok_or_else(|| FormatError::bad(NAME, "header has no 'shape'"))?;
    let mut shape = Vec::new();
    let mut count = 1u64;
    for d in shape_text
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        let d: u64 = d
            .trim_end_matches('L')
            .parse()
            .map_err(|_| FormatError::bad(NAME, format!("bad dimension {d:?}")))?;
        count = count.saturating_mul(d);
        shape.push(Value::from(d));
        if shape.len() > 64 {
            return Err(FormatError::bad(NAME, "too many dimensions"));
        }
    }
    m.insert("shape".into(), Value::Array(shape));
    m.insert("elements".into(), count.into());
    Ok(m)
}

/// A zip whose members are all `.npy` arrays.
pub fn read_npz(blob: &dyn Blob, entries: &[Entry]) -> Result<Option<Identified>, FormatError> {
    let files: Vec<&Entry> = entries.iter().filter(|e| !e.is_dir()).collect();
    if files.is_empty() || !files.iter().all(|e| e.name.ends_with(".npy")) {
        return Ok(None);
    }
    let mut arrays = Vec::new();
    for e in files.iter().take(64) {
        let bytes = zip::read_member(blob, e, MAX_HEADER as u64 + 16)
            .map_err(|err| FormatError::bad("npz", format!("{}: {err}", e.name)))?;
        if !matches(&bytes) {
            return Ok(None);
        }
        let h =
            header(&bytes).map_err(|err| FormatError::bad("npz", format!("{}: {err}", e.name)))?;
        let mut a = Map::new();
        a.insert("name".into(), short(e.name.trim_end_matches(".npy"), 128));
        a.insert("dtype".into(), h["dtype"].clone());
        a.insert("shape".into(), h["shape"].clone());
        arrays.push(Value::Object(a));
    }
    let mut m = Map::new();
    m.insert("count".into(), files.len().into());
    m.insert("arrays".into(), Value::Array(arrays));
    Ok(Some(Identified::new(Format::Npz, m)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_npy_headers() {
        let found = read_npy(&crate::samples::npy("<f4", "(3, 4)", &[0; 48])).unwrap();
        assert_eq!(found.format, Format::Npy);
        assert_eq!(found.metadata["dtype"], json!("<f4"));
        assert_eq!(found.metadata["shape"], json!([3, 4]));
        assert_eq!(found.metadata["elements"], json!(12));
        let scalar = read_npy(&crate::samples::npy("|u1", "()", &[7])).unwrap();
        assert_eq!(scalar.metadata["shape"], json!([]));
        assert!(read_npy(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
        assert!(read_npy(b"\x93NUMPY\x09\x00").is_err());
    }

    #[test]
    fn reads_npz() {
        let a = crate::samples::npy("<i8", "(2,)", &[0; 16]);
        let b = crate::samples::npy("<f8", "(1, 1)", &[0; 8]);
        let z = crate::samples::zip(&[("w.npy", &a, true), ("b.npy", &b, false)]);
        let entries = zip::entries(&z).unwrap();
        let found = read_npz(&z, &entries).unwrap().unwrap();
        assert_eq!(found.format, Format::Npz);
        assert_eq!(found.metadata["count"], json!(2));
        assert_eq!(
            found.metadata["arrays"][0],
            json!({"name": "w", "dtype": "<i8", "shape": [2]})
        );
    }
}
