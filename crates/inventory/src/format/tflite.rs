//! TensorFlow Lite: a FlatBuffer with the file identifier `TFL3` at bytes 4–8. The root table
//! is a `Model`: field 0 `version` (u32), 1 `operator_codes`, 2 `subgraphs`, 3 `description`
//! (string), 4 `buffers`. Every offset is checked against the file size.
//!
//! Metadata: schema version, subgraph, operator code and buffer counts, description.

use serde_json::Map;

use super::{short, Format, Identified};
use crate::blob::{read_exact_at, read_upto, Blob};
use crate::error::FormatError;

const NAME: &str = "tflite";

pub fn matches(prefix: &[u8]) -> bool {
    prefix.get(4..8) == Some(b"TFL3")
}

fn bad(reason: &str) -> FormatError {
    FormatError::bad(NAME, reason)
}

fn u32_at(blob: &dyn Blob, at: u64) -> Result<u32, FormatError> {
    let mut b = [0u8; 4];
    read_exact_at(blob, at, &mut b).map_err(|_| bad("offset past the end of the file"))?;
    Ok(u32::from_le_bytes(b))
}

fn u16_at(blob: &dyn Blob, at: u64) -> Result<u16, FormatError> {
    let mut b = [0u8; 2];
    read_exact_at(blob, at, &mut b).map_err(|_| bad("offset past the end of the file"))?;
    Ok(u16::from_le_bytes(b))
}

struct Table {
    pos: u64,
    vtable: u64,
    vtable_len: u16,
}

impl Table {
    /// Absolute position of field `i`, if present.
    fn field(&self, blob: &dyn Blob, i: u64) -> Result<Option<u64>, FormatError> {
        let entry = 4 + 2 * i;
        if entry + 2 > self.vtable_len as u64 {
            return Ok(None);
        }
        let off = u16_at(blob, self.vtable + entry)?;
        Ok((off != 0).then_some(self.pos + off as u64))
    }

    /// Follows the offset stored in field `i`.
    fn indirect(&self, blob: &dyn Blob, i: u64) -> Result<Option<u64>, FormatError> {
        match self.field(blob, i)? {
            Some(at) => Ok(Some(at + u32_at(blob, at)? as u64)),
            None => Ok(None),
        }
    }
}

pub fn read(blob: &dyn Blob) -> Result<Identified, FormatError> {
    let root = u32_at(blob, 0)? as u64;
    let soffset = u32_at(blob, root)? as i32 as i64;
    let vtable = (root as i64)
        .checked_sub(soffset)
        .filter(|v| *v >= 0)
        .ok_or_else(|| bad("bad vtable offset"))? as u64;
    let t = Table {
        pos: root,
        vtable,
        vtable_len: u16_at(blob, vtable)?,
    };
    let mut m = Map::new();
    if let Some(at) = t.field(blob, 0)? {
        m.insert("version".into(), u32_at(blob, at)?.into());
    }
    for (i, key) in [(1, "operator_codes"), (2, "subgraphs"), (4, "buffers")] {
        if let Some(v) = t.indirect(blob, i)? {
            m.insert(key.into(), u32_at(blob, v)?.into());
        }
    }
    if let Some(s) = t.indirect(blob, 3)? {
        let len = u32_at(blob, s)? as usize;
        let bytes = read_upto(blob, s + 4, len.min(512))?;
        m.insert(
            "description".into(),
            short(&String::from_utf8_lossy(&bytes), 256),
        );
    }
    if !m.contains_key("subgraphs") {
        return Err(bad("the model has no subgraphs"));
    }
    Ok(Identified::new(Format::Tflite, m))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_the_model_table() {
        let b = crate::samples::tflite();
        assert!(matches(&b));
        let found = read(&b).unwrap();
        assert_eq!(found.metadata["version"], json!(3));
        assert_eq!(found.metadata["subgraphs"], json!(2));
        assert_eq!(found.metadata["description"], json!("tiny"));
        assert!(read(&b[..30].to_vec()).is_err());
        let mut bad_root = b.clone();
        bad_root[0..4].copy_from_slice(&9999u32.to_le_bytes());
        assert!(read(&bad_root).is_err());
    }
}
