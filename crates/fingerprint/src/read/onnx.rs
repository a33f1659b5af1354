//! ONNX initializers: a `ModelProto` whose `graph` (field 7) holds `initializer` tensors
//! (`GraphProto` field 5, `TensorProto`: `dims` 1, `data_type` 2, `name` 8, `raw_data` 9,
//! packed `float_data` 4 and `double_data` 10, `data_location` 14). The values are read in
//! place (raw data is little-endian, row-major); tensors stored in external files or in typed
//! fields other than these are listed as skipped. Fields are walked with the inventory's
//! bounded protobuf walker: one small read per field, payloads skipped.

use modelward_inventory::blob::{read_upto, Blob};
use modelward_inventory::format::protobuf::{self, Field};

use super::{unsupported, TensorFile, MAX_NAME, MAX_TENSORS};
use crate::dtype::DType;
use crate::error::FingerprintError;
use crate::tensor::{check, Order, TensorInfo, MAX_DIMS};

const NAME: &str = "onnx";
/// Most fields walked in a graph (nodes, initializers, inputs, ...).
const MAX_GRAPH_FIELDS: usize = 8_000_000;

fn bad(why: impl Into<String>) -> FingerprintError {
    FingerprintError::bad(NAME, why)
}

fn dtype(t: u64) -> Result<DType, String> {
    Ok(match t {
        1 => DType::F32,
        2 => DType::U8,
        3 => DType::I8,
        5 => DType::I16,
        6 => DType::I32,
        7 => DType::I64,
        10 => DType::F16,
        11 => DType::F64,
        16 => DType::BF16,
        other => return Err(unsupported(&format!("ONNX data type {other}"))),
    })
}

fn varints(b: &[u8]) -> Option<Vec<u64>> {
    let mut out = Vec::new();
    let mut v = 0u64;
    let mut shift = 0;
    for &x in b {
        if shift >= 64 {
            return None;
        }
        v |= ((x & 0x7f) as u64) << shift;
        if x & 0x80 == 0 {
            out.push(v);
            v = 0;
            shift = 0;
        } else {
            shift += 7;
        }
    }
    (shift == 0).then_some(out)
}

pub fn read(blob: &dyn Blob) -> Result<TensorFile, FingerprintError> {
    let malformed = |what: &str| bad(format!("{what} is not a well-formed message"));
    let mut graph: Option<Field> = None;
    protobuf::walk(blob, 0, blob.size(), 100_000, &mut |f| {
        if f.number == 7 && f.wire == 2 {
            graph = Some(*f);
        }
        true
    })
    .map_err(|_| malformed("the model"))?;
    let graph = graph.ok_or_else(|| bad("no graph"))?;
    let mut inits: Vec<Field> = Vec::new();
    protobuf::walk(
        blob,
        graph.offset,
        graph.end(),
        MAX_GRAPH_FIELDS,
        &mut |f| {
            if f.number == 5 && f.wire == 2 {
                inits.push(*f);
            }
            (inits.len() as u64) < MAX_TENSORS
        },
    )
    .map_err(|_| malformed("the graph"))?;
    let mut file = TensorFile {
        format: NAME.into(),
        ..TensorFile::default()
    };
    for (i, init) in inits.iter().enumerate() {
        let mut dims: Vec<u64> = Vec::new();
        let mut data_type = None;
        let mut name = format!("initializer_{i}");
        let mut data: Option<(Field, bool)> = None; // payload, raw (else typed)
        let mut external = false;
        let mut failed = None;
        protobuf::walk(blob, init.offset, init.end(), 1 << 16, &mut |f| {
            match (f.number, f.wire) {
                (1, 0) => dims.push(f.value),
                (1, 2) => {
                    if f.value > (MAX_DIMS * 10) as u64 {
                        failed = Some("packed dims too long".to_string());
                        return false;
                    }
                    match read_upto(blob, f.offset, f.value as usize)
                        .ok()
                        .and_then(|b| varints(&b))
                    {
                        Some(v) => dims.extend(v),
                        None => {
                            failed = Some("bad packed dims".into());
                            return false;
                        }
                    }
                }
                (2, 0) => data_type = Some(f.value),
                (8, 2) if f.value <= MAX_NAME => {
                    if let Ok(b) = read_upto(blob, f.offset, f.value as usize) {
                        name = String::from_utf8_lossy(&b).into_owned();
                    }
                }
                (9, 2) => data = Some((*f, true)),
                (4, 2) | (10, 2) => data = Some((*f, false)),
                (14, 0) => external = f.value == 1,
                _ => {}
            }
            dims.len() <= MAX_DIMS
        })
        .map_err(|_| malformed("an initializer"))?;
        if let Some(why) = failed {
            return Err(bad(format!("initializer {name:?}: {why}")));
        }
        if dims.len() > MAX_DIMS {
            return Err(bad(format!("initializer {name:?}: too many dimensions")));
        }
        if external {
            file.skipped
                .push((name, "data in an external file (not read)".into()));
            continue;
        }
        let dt = match data_type.map(dtype) {
            Some(Ok(dt)) => dt,
            Some(Err(why)) => {
                file.skipped.push((name, why));
                continue;
            }
            None => {
                file.skipped.push((name, "no data type".into()));
                continue;
            }
        };
        let Some((payload, raw)) = data else {
            file.skipped
                .push((name, "values in a typed field not read".into()));
            continue;
        };
        if !raw && !matches!(dt, DType::F32 | DType::F64) {
            file.skipped
                .push((name, "values in a typed field not read".into()));
            continue;
        }
        let info = TensorInfo {
            name: name.clone(),
            shape: dims,
            dtype: dt,
            offset: payload.offset,
            order: Order::RowMajor,
        };
        check(&info, payload.end(), NAME)?;
        if info.byte_len() != Some(payload.value) {
            return Err(bad(format!(
                "initializer {name:?}: {} bytes of data for a shape of {:?}",
                payload.value,
                info.byte_len()
            )));
        }
        file.tensors.push(info);
    }
    Ok(file)
}
