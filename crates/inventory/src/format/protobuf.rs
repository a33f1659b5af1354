//! A bounded protobuf field walker over a blob: reads only each field's tag and length and
//! skips length-delimited payloads, so a multi-GB message costs one small read per field.

use serde_json::Value;

use super::short;
use crate::blob::{read_upto, Blob};

/// One field: number, wire type, and its varint/fixed value or payload range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub number: u64,
    pub wire: u8,
    /// The value of a varint or fixed field; the length of a length-delimited one.
    pub value: u64,
    /// Where a length-delimited payload starts.
    pub offset: u64,
}

impl Field {
    pub fn end(&self) -> u64 {
        self.offset.saturating_add(self.value)
    }
}

/// Why a range is not a well-formed message.
#[derive(Debug, PartialEq, Eq)]
pub enum Malformed {
    /// Not a message (bad tag, wire type, or a field running past the end).
    Invalid,
    /// More than the allowed number of fields.
    TooMany,
    /// A read failed.
    Io,
}

fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        v |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Walks the fields of the message in `start..end`, calling `visit` for each until it returns
/// false; fails on a malformed field or after `max` fields.
pub fn walk(
    blob: &dyn Blob,
    start: u64,
    end: u64,
    max: usize,
    visit: &mut dyn FnMut(&Field) -> bool,
) -> Result<usize, Malformed> {
    let end = end.min(blob.size());
    let mut pos = start;
    let mut n = 0;
    while pos < end {
        if n >= max {
            return Err(Malformed::TooMany);
        }
        let head = read_upto(blob, pos, 20).map_err(|_| Malformed::Io)?;
        let (tag, a) = varint(&head).ok_or(Malformed::Invalid)?;
        let number = tag >> 3;
        let wire = (tag & 7) as u8;
        if number == 0 || number > (1 << 29) {
            return Err(Malformed::Invalid);
        }
        let rest = &head[a..];
        let (value, used, payload) = match wire {
            0 => {
                let (v, b) = varint(rest).ok_or(Malformed::Invalid)?;
                (v, b, 0)
            }
            1 => (
                u64::from_le_bytes(
                    rest.get(..8)
                        .ok_or(Malformed::Invalid)?
                        .try_into()
                        .unwrap_or([0; 8]),
                ),
                8,
                0,
            ),
            2 => {
                let (len, b) = varint(rest).ok_or(Malformed::Invalid)?;
                (len, b, len)
            }
            5 => {
                let s = rest.get(..4).ok_or(Malformed::Invalid)?;
                (u32::from_le_bytes([s[0], s[1], s[2], s[3]]) as u64, 4, 0)
            }
            _ => return Err(Malformed::Invalid),
        };
        let offset = pos + (a + used) as u64;
        let next = offset.checked_add(payload).ok_or(Malformed::Invalid)?;
        if next > end {
            return Err(Malformed::Invalid);
        }
        n += 1;
        let field = Field {
            number,
            wire,
            value,
            offset,
        };
        if !visit(&field) {
            return Ok(n);
        }
        pos = next;
    }
    Ok(n)
}

/// A length-delimited field's payload as text (at most `max` bytes read).
pub fn string(blob: &dyn Blob, f: &Field, max: usize) -> Value {
    let bytes = read_upto(blob, f.offset, (f.value as usize).min(max)).unwrap_or_default();
    short(&String::from_utf8_lossy(&bytes), max)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn walks_and_rejects() {
        let mut m = Vec::new();
        crate::samples::put_varint_field(&mut m, 1, 300);
        crate::samples::put_bytes_field(&mut m, 2, b"hello");
        let mut seen = Vec::new();
        walk(&m, 0, m.len() as u64, 10, &mut |f| {
            seen.push((f.number, f.value));
            true
        })
        .unwrap();
        assert_eq!(seen, vec![(1, 300), (2, 5)]);
        assert_eq!(
            walk(
                &m[..m.len() - 1].to_vec(),
                0,
                m.len() as u64 - 1,
                10,
                &mut |_| true
            ),
            Err(Malformed::Invalid)
        );
        assert_eq!(
            walk(&m, 0, m.len() as u64, 1, &mut |_| true),
            Err(Malformed::TooMany)
        );
        assert_eq!(
            walk(&vec![0x0b, 0, 0], 0, 3, 10, &mut |_| true),
            Err(Malformed::Invalid)
        );
    }
}
