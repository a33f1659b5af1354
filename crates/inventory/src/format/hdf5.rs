//! HDF5: the 8-byte signature `\x89HDF\r\n\x1a\n` at offset 0, 512, 1024, 2048, … (a user
//! block may precede the superblock), then the superblock version byte. Keras saves `.h5`
//! models as HDF5 with root attributes `keras_version`, `backend` and `model_config`; their
//! names in the first MiB of the file mark it as Keras.
//!
//! Metadata: superblock offset and version; for Keras, which attributes were seen, and
//! `keras_version` when its value is stored as a plain string beside its name.

use serde_json::Map;

use super::{Format, Identified};
use crate::blob::{read_upto, Blob};
use crate::error::FormatError;

pub const SIGNATURE: &[u8; 8] = b"\x89HDF\r\n\x1a\n";
/// How far into the file Keras attribute names are looked for.
const ATTRIBUTE_WINDOW: usize = 1024 * 1024;

/// The offset of the superblock, if the file has one.
pub fn signature_offset(blob: &dyn Blob, prefix: &[u8]) -> Result<Option<u64>, FormatError> {
    let mut offset = 0u64;
    while offset + 8 <= blob.size() {
        let found = if offset + 8 <= prefix.len() as u64 {
            &prefix[offset as usize..offset as usize + 8] == SIGNATURE
        } else {
            // A part that cannot be read (past a decompressed prefix) holds no signature
            // that could be checked: stop looking.
            match read_upto(blob, offset, 8) {
                Ok(bytes) => bytes == SIGNATURE,
                Err(_) => return Ok(None),
            }
        };
        if found {
            return Ok(Some(offset));
        }
        offset = match offset {
            0 => 512,
            n => match n.checked_mul(2) {
                Some(next) => next,
                None => return Ok(None),
            },
        };
    }
    Ok(None)
}

pub fn read(blob: &dyn Blob, offset: u64) -> Result<Identified, FormatError> {
    let head = read_upto(blob, offset, 16)?;
    let version = *head
        .get(8)
        .ok_or_else(|| FormatError::bad("hdf5", "truncated superblock"))?;
    if version > 3 {
        return Err(FormatError::bad(
            "hdf5",
            format!("unknown superblock version {version}"),
        ));
    }
    let mut m = Map::new();
    m.insert("superblock_offset".into(), offset.into());
    m.insert("superblock_version".into(), version.into());
    let window = read_upto(blob, 0, ATTRIBUTE_WINDOW)?;
    let seen: Vec<&str> = [
        "keras_version",
        "model_config",
        "backend",
        "training_config",
    ]
    .into_iter()
    .filter(|name| memfind(&window, name.as_bytes()).is_some())
    .collect();
    let keras = seen.contains(&"keras_version") || seen.contains(&"model_config");
    if keras {
        m.insert("keras_attributes".into(), seen.clone().into());
        if let Some(v) = keras_version(&window) {
            m.insert("keras_version".into(), v.into());
        }
    }
    Ok(Identified::new(
        if keras { Format::KerasH5 } else { Format::Hdf5 },
        m,
    ))
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A version string like `2.13.1` within 64 bytes after the attribute name.
fn keras_version(window: &[u8]) -> Option<String> {
    let at = memfind(window, b"keras_version")? + b"keras_version".len();
    let after = &window[at..window.len().min(at + 96)];
    let start = after.iter().position(|b| b.is_ascii_digit())?;
    let v: String = after[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .map(|&b| b as char)
        .collect();
    (v.contains('.') && v.len() >= 3).then_some(v)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_and_keras() {
        let plain = crate::samples::hdf5(false);
        let off = signature_offset(&plain, &plain).unwrap().unwrap();
        assert_eq!(read(&plain, off).unwrap().format, Format::Hdf5);
        let k = read(&crate::samples::hdf5(true), 0).unwrap();
        assert_eq!(k.format, Format::KerasH5);
        assert_eq!(k.metadata["keras_version"], json!("2.13.1"));
    }

    #[test]
    fn user_block() {
        let mut b = vec![0u8; 1024];
        b.extend(crate::samples::hdf5(false));
        assert_eq!(signature_offset(&b, &b[..100]).unwrap(), Some(1024));
        assert_eq!(
            signature_offset(&b[..1030].to_vec(), &b[..100]).unwrap(),
            None
        );
    }
}
