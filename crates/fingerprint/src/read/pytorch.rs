//! PyTorch zip checkpoints (`torch.save` since 1.6): a zip with `ROOT/data.pkl`, a pickle of
//! the state dict (or of a dict holding it) whose tensors are
//! `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` calls, each storage a
//! persistent id `('storage', torch.FloatStorage, KEY, LOCATION, NUMEL)` whose bytes are the
//! member `ROOT/data/KEY`; optionally `ROOT/byteorder`.
//!
//! The pickle is read as data ([`super::pickle`]: nothing is imported or run), at most 64 MiB
//! of it. Tensors are named by their keys joined with `.` (`model.layers.0.mlp.up_proj.weight`
//! inside `{"model": ...}` is `model.model.layers...`); views keep their strides. Storages must
//! be stored uncompressed (as `torch.save` writes them); a compressed one is skipped.

use std::collections::HashMap;

use modelward_inventory::blob::Blob;
use modelward_inventory::zip::{self, Entry};

use super::pickle::{self, Value, V};
use super::{unsupported, TensorFile, MAX_TENSORS};
use crate::dtype::DType;
use crate::error::FingerprintError;
use crate::tensor::{check, Order, TensorInfo, MAX_DIMS};

const NAME: &str = "pytorch_zip";
/// Most bytes of `data.pkl` read.
pub const MAX_PICKLE: u64 = 64 * 1024 * 1024;
/// Deepest nesting of dicts and lists followed.
const MAX_DEPTH: usize = 32;

fn bad(why: impl Into<String>) -> FingerprintError {
    FingerprintError::bad(NAME, why)
}

fn storage_dtype(class: &str) -> Option<DType> {
    Some(match class {
        "FloatStorage" => DType::F32,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        "DoubleStorage" => DType::F64,
        "CharStorage" => DType::I8,
        "ByteStorage" => DType::U8,
        "ShortStorage" => DType::I16,
        "IntStorage" => DType::I32,
        "LongStorage" => DType::I64,
        _ => return None,
    })
}

struct Found {
    name: String,
    storage: V,
    offset: i64,
    size: Vec<i64>,
    stride: Vec<i64>,
}

fn ints(v: &V) -> Option<Vec<i64>> {
    v.as_tuple()?.iter().map(|x| x.as_int()).collect()
}

fn key_name(k: &V) -> String {
    match &**k {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        _ => "?".into(),
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// The tensors under `v`, named by their path.
fn walk(v: &V, name: &str, depth: usize, out: &mut Vec<Found>, budget: &mut usize) {
    if depth > MAX_DEPTH || *budget == 0 || out.len() as u64 >= MAX_TENSORS {
        return;
    }
    *budget -= 1;
    match &**v {
        Value::Call {
            callee,
            args,
            items,
        } => {
            let g = callee.global();
            let args_t = args.as_tuple().unwrap_or(&[]);
            match g {
                Some(("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor")) => {
                    if let (Some(storage), Some(offset), Some(size), Some(stride)) = (
                        args_t.first(),
                        args_t.get(1).and_then(|o| o.as_int()),
                        args_t.get(2).and_then(ints),
                        args_t.get(3).and_then(ints),
                    ) {
                        out.push(Found {
                            name: name.to_string(),
                            storage: storage.clone(),
                            offset,
                            size,
                            stride,
                        });
                    }
                }
                Some(("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state")) => {
                    if let Some(inner) = args_t.first() {
                        walk(inner, name, depth + 1, out, budget);
                    }
                }
                _ => {
                    for (k, v) in items.borrow().iter() {
                        walk(v, &join(name, &key_name(k)), depth + 1, out, budget);
                    }
                }
            }
        }
        Value::Dict(items) => {
            for (k, v) in items.borrow().iter() {
                walk(v, &join(name, &key_name(k)), depth + 1, out, budget);
            }
        }
        Value::List(items) => {
            for (i, v) in items.borrow().iter().enumerate() {
                walk(v, &join(name, &i.to_string()), depth + 1, out, budget);
            }
        }
        Value::Tuple(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &join(name, &i.to_string()), depth + 1, out, budget);
            }
        }
        _ => {}
    }
}

/// Reads the tensors of a PyTorch zip whose entries are `entries`.
pub fn read(blob: &dyn Blob, entries: &[Entry]) -> Result<TensorFile, FingerprintError> {
    let pkl = entries
        .iter()
        .find(|e| e.name.ends_with("/data.pkl") && e.name.matches('/').count() == 1)
        .ok_or_else(|| bad("no data.pkl"))?;
    let root = &pkl.name[..pkl.name.len() - "data.pkl".len()];
    if pkl.size > MAX_PICKLE {
        return Err(bad(format!("data.pkl of {} bytes", pkl.size)));
    }
    let by_name: HashMap<&str, &Entry> = entries.iter().map(|e| (e.name.as_str(), e)).collect();
    if let Some(e) = by_name.get(format!("{root}byteorder").as_str()) {
        let order = zip::read_member(blob, e, 16).map_err(|e| bad(e.to_string()))?;
        if order.trim_ascii() != b"little" {
            return Err(bad("big-endian storages are not read"));
        }
    }
    let bytes = zip::read_member(blob, pkl, MAX_PICKLE).map_err(|e| bad(e.to_string()))?;
    let value = pickle::load(&bytes).map_err(|e| bad(format!("data.pkl: {e}")))?;
    drop(bytes);
    let mut found = Vec::new();
    let mut budget = pickle::MAX_VALUES;
    walk(&value, "", 0, &mut found, &mut budget);
    let mut file = TensorFile {
        format: NAME.into(),
        ..TensorFile::default()
    };
    let mut starts: HashMap<String, (u64, u64)> = HashMap::new();
    for f in found {
        let why = |s: &str| (f.name.clone(), s.to_string());
        let Some(pid) = (match &*f.storage {
            Value::PersId(p) => p.as_tuple(),
            _ => None,
        }) else {
            file.skipped.push(why("storage is not a persistent id"));
            continue;
        };
        let (Some(class), Some(key)) = (
            pid.get(1).and_then(|c| c.global()).map(|(_, n)| n),
            pid.get(2).and_then(|k| k.as_str()),
        ) else {
            file.skipped
                .push(why("storage id is not (storage, class, key, ...)"));
            continue;
        };
        let Some(dtype) = storage_dtype(class) else {
            file.skipped.push((f.name.clone(), unsupported(class)));
            continue;
        };
        if f.size.len() != f.stride.len() || f.size.len() > MAX_DIMS {
            return Err(bad(format!(
                "tensor {:?}: size and stride disagree",
                f.name
            )));
        }
        if f.offset < 0 || f.size.iter().chain(&f.stride).any(|&d| d < 0) {
            return Err(bad(format!(
                "tensor {:?}: negative size, stride or offset",
                f.name
            )));
        }
        let member = format!("{root}data/{key}");
        let (start, len) = match starts.get(&member) {
            Some(&s) => s,
            None => {
                let Some(e) = by_name.get(member.as_str()) else {
                    return Err(bad(format!("tensor {:?}: no member {member}", f.name)));
                };
                if e.method != 0 {
                    file.skipped
                        .push(why("compressed storage (torch.save stores them; not read)"));
                    continue;
                }
                let start = zip::data_offset(blob, e).map_err(|e| bad(e.to_string()))?;
                let s = (start, e.size);
                starts.insert(member.clone(), s);
                s
            }
        };
        let elem = dtype.unit().1;
        let offset = (f.offset as u64)
            .checked_mul(elem)
            .and_then(|o| o.checked_add(start))
            .ok_or_else(|| bad(format!("tensor {:?}: offset overflows", f.name)))?;
        let info = TensorInfo {
            name: f.name.clone(),
            shape: f.size.iter().map(|&d| d as u64).collect(),
            dtype,
            offset,
            order: contiguous_or_strided(&f.size, &f.stride),
        };
        let end = start
            .checked_add(len)
            .filter(|&e| e <= blob.size())
            .ok_or_else(|| bad(format!("member {member} past the end")))?;
        check(&info, end, NAME)?;
        file.tensors.push(info);
    }
    Ok(file)
}

fn contiguous_or_strided(size: &[i64], stride: &[i64]) -> Order {
    let mut expect = 1i64;
    let mut contiguous = true;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expect {
            contiguous = false;
        }
        expect = expect.saturating_mul(d);
    }
    if contiguous {
        Order::RowMajor
    } else {
        Order::Strided(stride.iter().map(|&s| s as u64).collect())
    }
}
