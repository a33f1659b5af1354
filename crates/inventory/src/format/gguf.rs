//! GGUF (llama.cpp): magic `GGUF`, a u32 version (1–3), the tensor count and the key/value
//! count (u32 in version 1, u64 after), then the key/value pairs, then the tensor infos; all
//! little-endian.
//!
//! Metadata: version, tensor and KV counts, `general.architecture`, `general.name` and the
//! other `general.*` scalars, context length, block count, vocabulary size, total parameters
//! and tensor types. Reads are bounded ([`MAX_HEADER`] bytes, [`MAX_COUNT`] entries).

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};

use serde_json::{Map, Value};

use super::{short, Format, Identified};
use crate::blob::{Blob, BlobReader};
use crate::error::FormatError;

/// The most header bytes read (key/values and tensor infos).
pub const MAX_HEADER: u64 = 256 * 1024 * 1024;
/// The most key/values or tensors read.
pub const MAX_COUNT: u64 = 1 << 20;
const MAX_STRING: u64 = 64 * 1024 * 1024;
const NAME: &str = "gguf";

pub fn matches(prefix: &[u8]) -> bool {
    prefix.starts_with(b"GGUF")
}

struct Reader<'a> {
    r: BufReader<BlobReader<'a>>,
    read: u64,
    version: u32,
}

fn bad(reason: impl Into<String>) -> FormatError {
    FormatError::bad(NAME, reason)
}

impl Reader<'_> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], FormatError> {
        let mut b = [0u8; N];
        self.take(N as u64)?;
        self.r.read_exact(&mut b).map_err(eof)?;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<(), FormatError> {
        self.read = self.read.saturating_add(n);
        if self.read > MAX_HEADER {
            return Err(bad(format!(
                "header larger than {MAX_HEADER} bytes (not read further)"
            )));
        }
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, FormatError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    /// A count or length: u32 in version 1, u64 after.
    fn len(&mut self) -> Result<u64, FormatError> {
        if self.version == 1 {
            Ok(self.u32()? as u64)
        } else {
            self.u64()
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), FormatError> {
        self.take(n)?;
        let skipped = io::copy(&mut (&mut self.r).take(n), &mut io::sink()).map_err(eof)?;
        if skipped < n {
            return Err(bad("truncated header"));
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, FormatError> {
        let n = self.len()?;
        if n > MAX_STRING {
            return Err(bad(format!("string of {n} bytes")));
        }
        if n > 4096 {
            self.skip(n)?;
            return Ok(String::from("…"));
        }
        self.take(n)?;
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b).map_err(eof)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads a value of type `t`; scalars and strings are returned, arrays give their length.
    fn value(&mut self, t: u32, depth: u32) -> Result<Value, FormatError> {
        Ok(match t {
            0 => self.bytes::<1>()?[0].into(),
            1 => (self.bytes::<1>()?[0] as i8).into(),
            2 => u16::from_le_bytes(self.bytes()?).into(),
            3 => i16::from_le_bytes(self.bytes()?).into(),
            4 => self.u32()?.into(),
            5 => i32::from_le_bytes(self.bytes()?).into(),
            6 => f64::from(f32::from_le_bytes(self.bytes()?)).into(),
            7 => (self.bytes::<1>()?[0] != 0).into(),
            8 => Value::String(self.string()?),
            9 => {
                if depth > 2 {
                    return Err(bad("arrays nested too deep"));
                }
                let item = self.u32()?;
                let n = self.len()?;
                let width = match item {
                    0 | 1 | 7 => Some(1),
                    2 | 3 => Some(2),
                    4..=6 => Some(4),
                    10..=12 => Some(8),
                    _ => None,
                };
                match width {
                    Some(w) => self.skip(n.saturating_mul(w))?,
                    None => {
                        if n > MAX_COUNT * 4 {
                            return Err(bad(format!("array of {n} items")));
                        }
                        for _ in 0..n {
                            self.value(item, depth + 1)?;
                        }
                    }
                }
                Value::Array(vec![Value::from(n)])
            }
            10 => self.u64()?.into(),
            11 => i64::from_le_bytes(self.bytes()?).into(),
            12 => f64::from_le_bytes(self.bytes()?).into(),
            other => return Err(bad(format!("unknown value type {other}"))),
        })
    }
}

fn eof(e: io::Error) -> FormatError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        bad("truncated header")
    } else {
        FormatError::Io(e)
    }
}

/// ggml tensor type names.
fn tensor_type(t: u32) -> String {
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
        "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    match NAMES.get(t as usize) {
        Some(n) => n.to_string(),
        None => format!("type_{t}"),
    }
}

fn wanted(key: &str) -> bool {
    key.starts_with("general.")
        || key.ends_with(".context_length")
        || key.ends_with(".block_count")
        || key.ends_with(".embedding_length")
        || key == "tokenizer.ggml.model"
}

pub fn read(blob: &dyn Blob) -> Result<Identified, FormatError> {
    let mut r = Reader {
        r: BufReader::with_capacity(64 * 1024, BlobReader::new(blob, 0, blob.size())),
        read: 0,
        version: 0,
    };
    r.bytes::<4>()?;
    let version = r.u32()?;
    if !(1..=3).contains(&version) {
        return Err(bad(format!("unsupported version {version}")));
    }
    r.version = version;
    let tensors = r.len()?;
    let kvs = r.len()?;
    if tensors > MAX_COUNT || kvs > MAX_COUNT {
        return Err(bad(format!(
            "implausible counts: {tensors} tensors, {kvs} key/values"
        )));
    }
    let mut m = Map::new();
    m.insert("version".into(), version.into());
    m.insert("tensors".into(), tensors.into());
    m.insert("kv_count".into(), kvs.into());
    let mut kv = Map::new();
    for _ in 0..kvs {
        let key = r.string()?;
        let t = r.u32()?;
        let value = r.value(t, 0)?;
        if key == "tokenizer.ggml.tokens" {
            if let Value::Array(a) = &value {
                m.insert("vocab_size".into(), a[0].clone());
            }
        }
        if wanted(&key) && kv.len() < 48 && !value.is_array() {
            let value = match value {
                Value::String(s) => short(&s, 256),
                v => v,
            };
            match key.as_str() {
                "general.architecture" => m.insert("architecture".into(), value.clone()),
                "general.name" => m.insert("name".into(), value.clone()),
                _ => None,
            };
            kv.insert(key, value);
        }
    }
    let mut params = 0u64;
    let mut types: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..tensors {
        r.string()?;
        let dims = r.u32()?;
        if dims > 8 {
            return Err(bad(format!("tensor with {dims} dimensions")));
        }
        let mut count = 1u64;
        for _ in 0..dims {
            count = count.saturating_mul(r.len()?);
        }
        let t = r.u32()?;
        r.u64()?;
        params = params.saturating_add(count);
        *types.entry(tensor_type(t)).or_default() += 1;
    }
    m.insert("parameters".into(), params.into());
    m.insert(
        "tensor_types".into(),
        Value::Object(types.into_iter().map(|(k, v)| (k, v.into())).collect()),
    );
    m.insert("kv".into(), Value::Object(kv));
    Ok(Identified::new(Format::Gguf, m))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_header() {
        let found = read(&crate::samples::gguf()).unwrap();
        assert_eq!(found.format, Format::Gguf);
        let m = Value::Object(found.metadata);
        assert_eq!(m["architecture"], json!("llama"));
        assert_eq!(m["name"], json!("Tiny Llama"));
        assert_eq!(m["version"], json!(3));
        assert_eq!(m["tensors"], json!(2));
        assert_eq!(m["vocab_size"], json!(3));
        assert_eq!(m["parameters"], json!(24));
        assert_eq!(m["tensor_types"], json!({"F16": 1, "Q8_0": 1}));
        assert_eq!(m["kv"]["llama.context_length"], json!(4096));
    }

    #[test]
    fn version_one_uses_u32_lengths() {
        let mut b = b"GGUF".to_vec();
        b.extend(1u32.to_le_bytes());
        b.extend(0u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.extend(20u32.to_le_bytes());
        b.extend(b"general.architecture");
        b.extend(8u32.to_le_bytes());
        b.extend(4u32.to_le_bytes());
        b.extend(b"gpt2");
        let found = read(&b).unwrap();
        assert_eq!(found.metadata["architecture"], json!("gpt2"));
    }

    #[test]
    fn broken_headers_are_errors() {
        let full = crate::samples::gguf();
        for cut in [4, 10, 30, 60, 120] {
            let err = read(&full[..cut].to_vec()).unwrap_err();
            assert!(err.to_string().contains("gguf"), "{err}");
        }
        let mut v9 = full.clone();
        v9[4] = 9;
        assert!(read(&v9).unwrap_err().to_string().contains("version 9"));
        let mut huge = full;
        huge[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(read(&huge).is_err());
    }
}
