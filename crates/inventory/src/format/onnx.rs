//! ONNX: a protobuf `ModelProto`. Recognised when the top-level fields, walked to the end of
//! the file with payloads skipped, are all `ModelProto` fields of the right wire type, with an
//! `ir_version` (field 1) and a `graph` (field 7).
//!
//! Metadata: IR version, producer name and version, domain, model version, opset imports,
//! the graph's name and its node, initializer, input and output counts, metadata_props.

use serde_json::{Map, Value};

use super::protobuf::{self, Field};
use super::{Format, Identified};
use crate::blob::Blob;
use crate::error::FormatError;

const MAX_TOP_FIELDS: usize = 100_000;
const MAX_GRAPH_FIELDS: usize = 4_000_000;

/// ONNX files written by protobuf start with field 1 (`ir_version`, a varint): byte 0x08.
pub fn matches(prefix: &[u8]) -> bool {
    prefix.len() >= 4 && prefix[0] == 0x08
}

fn expected_wire(number: u64) -> Option<u8> {
    match number {
        1 | 5 => Some(0),
        2 | 3 | 4 | 6 | 7 | 8 | 14 | 20 | 25 | 26 => Some(2),
        _ => None,
    }
}

pub fn read(blob: &dyn Blob) -> Result<Option<Identified>, FormatError> {
    let mut fields: Vec<Field> = Vec::new();
    let mut valid = true;
    let walked = protobuf::walk(blob, 0, blob.size(), MAX_TOP_FIELDS, &mut |f| {
        if expected_wire(f.number) != Some(f.wire) {
            valid = false;
            return false;
        }
        fields.push(*f);
        true
    });
    if walked.is_err() || !valid {
        return Ok(None);
    }
    let ir = fields.iter().find(|f| f.number == 1).map(|f| f.value);
    let graph = fields.iter().find(|f| f.number == 7).copied();
    let (Some(ir), Some(graph)) = (ir, graph) else {
        return Ok(None);
    };
    if !(1..=100).contains(&ir) {
        return Ok(None);
    }
    let mut m = Map::new();
    m.insert("ir_version".into(), ir.into());
    let mut opsets = Vec::new();
    let mut props = Map::new();
    for f in &fields {
        match f.number {
            2 => {
                m.insert("producer_name".into(), protobuf::string(blob, f, 256));
            }
            3 => {
                m.insert("producer_version".into(), protobuf::string(blob, f, 64));
            }
            4 => {
                m.insert("domain".into(), protobuf::string(blob, f, 256));
            }
            5 => {
                m.insert("model_version".into(), f.value.into());
            }
            8 if opsets.len() < 32 => {
                let mut domain = Value::from("");
                let mut version = Value::Null;
                let _ = protobuf::walk(blob, f.offset, f.end(), 16, &mut |g| {
                    match (g.number, g.wire) {
                        (1, 2) => domain = protobuf::string(blob, g, 128),
                        (2, 0) => version = g.value.into(),
                        _ => {}
                    }
                    true
                });
                let mut o = Map::new();
                o.insert("domain".into(), domain);
                o.insert("version".into(), version);
                opsets.push(Value::Object(o));
            }
            14 if props.len() < 32 => {
                let mut key = None;
                let mut value = Value::Null;
                let _ = protobuf::walk(blob, f.offset, f.end(), 16, &mut |g| {
                    match (g.number, g.wire) {
                        (1, 2) => key = protobuf::string(blob, g, 128).as_str().map(String::from),
                        (2, 2) => value = protobuf::string(blob, g, 256),
                        _ => {}
                    }
                    true
                });
                if let Some(k) = key {
                    props.insert(k, value);
                }
            }
            _ => {}
        }
    }
    m.insert("opset_import".into(), Value::Array(opsets));
    if !props.is_empty() {
        m.insert("metadata_props".into(), Value::Object(props));
    }
    let (mut nodes, mut inits, mut inputs, mut outputs) = (0u64, 0u64, 0u64, 0u64);
    let mut name = Value::Null;
    let walked = protobuf::walk(
        blob,
        graph.offset,
        graph.end(),
        MAX_GRAPH_FIELDS,
        &mut |g| {
            match (g.number, g.wire) {
                (1, 2) => nodes += 1,
                (2, 2) => name = protobuf::string(blob, g, 256),
                (5, 2) => inits += 1,
                (11, 2) => inputs += 1,
                (12, 2) => outputs += 1,
                _ => {}
            }
            true
        },
    );
    if walked.is_err() {
        return Err(FormatError::bad(
            "onnx",
            "the graph is not a well-formed GraphProto",
        ));
    }
    let mut g = Map::new();
    g.insert("name".into(), name);
    g.insert("nodes".into(), nodes.into());
    g.insert("initializers".into(), inits.into());
    g.insert("inputs".into(), inputs.into());
    g.insert("outputs".into(), outputs.into());
    m.insert("graph".into(), Value::Object(g));
    Ok(Some(Identified::new(Format::Onnx, m)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_a_model_proto() {
        let found = read(&crate::samples::onnx()).unwrap().unwrap();
        assert_eq!(found.format, Format::Onnx);
        let m = Value::Object(found.metadata);
        assert_eq!(m["ir_version"], json!(8));
        assert_eq!(m["producer_name"], json!("pytorch"));
        assert_eq!(m["opset_import"], json!([{"domain": "", "version": 17}]));
        assert_eq!(m["graph"]["name"], json!("tiny_graph"));
        assert_eq!(m["graph"]["nodes"], json!(1));
        assert_eq!(m["graph"]["initializers"], json!(1));
    }

    #[test]
    fn other_protobufs_and_truncation_are_not_onnx() {
        let b = crate::samples::onnx();
        assert!(read(&b[..b.len() - 2].to_vec()).unwrap().is_none());
        let mut no_graph = Vec::new();
        crate::samples::put_varint_field(&mut no_graph, 1, 8);
        crate::samples::put_bytes_field(&mut no_graph, 2, b"x");
        assert!(read(&no_graph).unwrap().is_none());
        let mut other = Vec::new();
        crate::samples::put_varint_field(&mut other, 1, 8);
        crate::samples::put_bytes_field(&mut other, 9, b"x");
        assert!(read(&other).unwrap().is_none());
    }
}
