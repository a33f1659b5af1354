//! GGUF (llama.cpp): magic `GGUF`, u32 version (1–3), tensor and key/value counts (u32 in
//! version 1, u64 after), the key/values, the tensor infos (name, dimension count, dimensions
//! innermost first, ggml type, offset relative to the data section), padding to
//! `general.alignment` (32 by default), then the data. All little-endian.
//!
//! Dimensions are reversed into the canonical shape: a PyTorch weight `[out, in]` is written
//! by llama.cpp's converters with `ne = [in, out]` over the same row-major bytes. Reads are
//! bounded: at most 256 MiB of header, 2²⁰ tensors or key/values, 64 KiB names.

use std::io::{self, BufReader, Read};

use modelward_inventory::blob::{Blob, BlobReader};

use super::{unsupported, TensorFile, MAX_NAME, MAX_TENSORS};
use crate::dtype::DType;
use crate::error::FingerprintError;
use crate::tensor::{check, Order, TensorInfo, MAX_DIMS};

/// Most header bytes read.
pub const MAX_HEADER: u64 = 256 * 1024 * 1024;
const NAME: &str = "gguf";

fn bad(why: impl Into<String>) -> FingerprintError {
    FingerprintError::bad(NAME, why)
}

struct Reader<'a> {
    r: BufReader<BlobReader<'a>>,
    read: u64,
    version: u32,
}

impl Reader<'_> {
    fn take(&mut self, n: u64) -> Result<(), FingerprintError> {
        self.read = self.read.saturating_add(n);
        if self.read > MAX_HEADER {
            return Err(bad(format!("header larger than {MAX_HEADER} bytes")));
        }
        Ok(())
    }

    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], FingerprintError> {
        self.take(N as u64)?;
        let mut b = [0u8; N];
        self.r.read_exact(&mut b).map_err(eof)?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, FingerprintError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, FingerprintError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn len(&mut self) -> Result<u64, FingerprintError> {
        if self.version == 1 {
            Ok(self.u32()? as u64)
        } else {
            self.u64()
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), FingerprintError> {
        self.take(n)?;
        let got = io::copy(&mut (&mut self.r).take(n), &mut io::sink()).map_err(eof)?;
        if got < n {
            return Err(bad("truncated header"));
        }
        Ok(())
    }

    fn string(&mut self, keep: bool) -> Result<String, FingerprintError> {
        let n = self.len()?;
        if !keep || n > MAX_NAME {
            self.skip(n)?;
            return Ok(String::new());
        }
        self.take(n)?;
        let mut b = vec![0u8; n as usize];
        self.r.read_exact(&mut b).map_err(eof)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads a value of type `t`: integers as u64 (when non-negative), strings when short;
    /// arrays are skipped.
    fn value(&mut self, t: u32, depth: u32) -> Result<Value, FingerprintError> {
        Ok(match t {
            0 | 7 => Value::Int(self.bytes::<1>()?[0] as u64),
            1 => Value::Int((self.bytes::<1>()?[0] as i8).max(0) as u64),
            2 => Value::Int(u16::from_le_bytes(self.bytes()?) as u64),
            3 => Value::Int(i16::from_le_bytes(self.bytes()?).max(0) as u64),
            4 => Value::Int(self.u32()? as u64),
            5 => Value::Int(i32::from_le_bytes(self.bytes()?).max(0) as u64),
            6 => {
                self.bytes::<4>()?;
                Value::Other
            }
            8 => Value::Str(self.string(true)?),
            9 => {
                if depth > 2 {
                    return Err(bad("arrays nested too deep"));
                }
                let item = self.u32()?;
                let n = self.len()?;
                let width = match item {
                    0 | 1 | 7 => Some(1u64),
                    2 | 3 => Some(2),
                    4..=6 => Some(4),
                    10..=12 => Some(8),
                    _ => None,
                };
                match width {
                    Some(w) => self.skip(
                        n.checked_mul(w)
                            .ok_or_else(|| bad(format!("array of {n} items")))?,
                    )?,
                    None => {
                        if n > MAX_HEADER {
                            return Err(bad(format!("array of {n} items")));
                        }
                        for _ in 0..n {
                            self.value(item, depth + 1)?;
                        }
                    }
                }
                Value::Other
            }
            10 => Value::Int(self.u64()?),
            11 => Value::Int(i64::from_le_bytes(self.bytes()?).max(0) as u64),
            12 => {
                self.bytes::<8>()?;
                Value::Other
            }
            other => return Err(bad(format!("unknown value type {other}"))),
        })
    }
}

enum Value {
    Int(u64),
    Str(String),
    Other,
}

fn eof(e: io::Error) -> FingerprintError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        bad("truncated header")
    } else {
        FingerprintError::Io(e)
    }
}

/// The ggml type names of types not decoded (for the skipped list).
fn type_name(t: u32) -> String {
    match t {
        10 => "Q2_K".into(),
        11 => "Q3_K".into(),
        16..=23 | 29 => format!("IQ type {t}"),
        other => format!("ggml type {other}"),
    }
}

pub fn read(blob: &dyn Blob) -> Result<TensorFile, FingerprintError> {
    let mut r = Reader {
        r: BufReader::with_capacity(64 * 1024, BlobReader::new(blob, 0, blob.size())),
        read: 0,
        version: 0,
    };
    if &r.bytes::<4>()? != b"GGUF" {
        return Err(bad("no GGUF magic"));
    }
    r.version = r.u32()?;
    if !(1..=3).contains(&r.version) {
        return Err(bad(format!("unsupported version {}", r.version)));
    }
    let count = r.len()?;
    let kvs = r.len()?;
    if count > MAX_TENSORS || kvs > MAX_TENSORS {
        return Err(bad(format!(
            "implausible counts: {count} tensors, {kvs} key/values"
        )));
    }
    let mut alignment = 32u64;
    let (mut key_length, mut embedding, mut heads) = (None, None, None);
    let mut file = TensorFile {
        format: NAME.into(),
        ..TensorFile::default()
    };
    for _ in 0..kvs {
        let key = r.string(true)?;
        let t = r.u32()?;
        let value = r.value(t, 0)?;
        match (key.as_str(), value) {
            ("general.alignment", Value::Int(a)) => {
                if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                    return Err(bad(format!("alignment {a}")));
                }
                alignment = a;
            }
            ("general.architecture", Value::Str(s)) => file.architecture = Some(s),
            (k, Value::Int(n)) if k.ends_with(".attention.key_length") => key_length = Some(n),
            (k, Value::Int(n)) if k.ends_with(".embedding_length") => embedding = Some(n),
            (k, Value::Int(n)) if k.ends_with(".attention.head_count") => heads = Some(n),
            _ => {}
        }
    }
    file.head_dim = key_length.or(match (embedding, heads) {
        (Some(e), Some(h)) if h > 0 && e.is_multiple_of(h) => Some(e / h),
        _ => None,
    });
    file.head_dim = file
        .head_dim
        .filter(|&d| d >= 2 && d.is_multiple_of(2) && d <= 1 << 16);
    let mut infos = Vec::with_capacity(count.min(4096) as usize);
    for _ in 0..count {
        let name = r.string(true)?;
        let dims = r.u32()? as usize;
        if dims > MAX_DIMS {
            return Err(bad(format!("tensor {name:?} with {dims} dimensions")));
        }
        let mut shape = Vec::with_capacity(dims);
        for _ in 0..dims {
            shape.push(r.len()?);
        }
        shape.reverse();
        let t = r.u32()?;
        let offset = r.u64()?;
        infos.push((name, shape, t, offset));
    }
    let header_end = r.read;
    let data = header_end
        .div_ceil(alignment)
        .checked_mul(alignment)
        .ok_or_else(|| bad("data offset overflows"))?;
    for (name, shape, t, offset) in infos {
        let Some(dtype) = DType::from_ggml(t) else {
            file.skipped.push((name, unsupported(&type_name(t))));
            continue;
        };
        let info = TensorInfo {
            name,
            shape,
            dtype,
            offset: data
                .checked_add(offset)
                .ok_or_else(|| bad("tensor offset overflows"))?,
            order: Order::RowMajor,
        };
        check(&info, blob.size(), NAME)?;
        file.tensors.push(info);
    }
    Ok(file)
}
