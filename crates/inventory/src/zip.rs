//! A small zip reader: the central directory (with Zip64), and members read stored or
//! deflated (via `flate2`), always bounded. Written here rather than taken from the `zip`
//! crate: identification needs only entry names, sizes and bounded reads of a few members,
//! and this is ~250 lines with no new dependency, no compile-time cost and no allocation
//! proportional to anything but the (bounded) central directory.

use std::io::{self, Read};

use flate2::read::DeflateDecoder;

use crate::blob::{read_exact_at, read_upto, Blob, BlobReader, PrefixBlob, SliceBlob};

/// The most central-directory bytes read.
pub const MAX_DIRECTORY: u64 = 64 * 1024 * 1024;
/// The most entries listed.
pub const MAX_ENTRIES: usize = 1 << 20;

/// One member of a zip archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    /// 0 stored, 8 deflated.
    pub method: u16,
    pub flags: u16,
    pub compressed_size: u64,
    pub size: u64,
    pub local_offset: u64,
}

impl Entry {
    pub fn is_dir(&self) -> bool {
        self.name.ends_with('/')
    }
}

/// Why a zip could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    #[error("no end of central directory record")]
    NoDirectory,
    #[error("corrupt central directory: {0}")]
    Corrupt(String),
    #[error("{name}: {what}")]
    Unsupported { name: String, what: String },
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A local file header or an empty archive's end record at offset 0.
pub fn matches(prefix: &[u8]) -> bool {
    prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06")
}

fn u16_at(b: &[u8], p: usize) -> u16 {
    b.get(p..p + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .unwrap_or(0)
}

fn u32_at(b: &[u8], p: usize) -> u32 {
    b.get(p..p + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .unwrap_or(0)
}

fn u64_at(b: &[u8], p: usize) -> u64 {
    b.get(p..p + 8)
        .map(|s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
        .unwrap_or(0)
}

/// Lists the entries from the central directory.
pub fn entries(blob: &dyn Blob) -> Result<Vec<Entry>, ZipError> {
    let size = blob.size();
    let tail_len = size.min(22 + 65535);
    let tail_start = size - tail_len;
    let tail = read_upto(blob, tail_start, tail_len as usize)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..].starts_with(b"PK\x05\x06"))
        .ok_or(ZipError::NoDirectory)?;
    let eocd_pos = tail_start + eocd as u64;
    let r = &tail[eocd..];
    let mut count = u16_at(r, 10) as u64;
    let mut dir_size = u32_at(r, 12) as u64;
    let mut dir_offset = u32_at(r, 16) as u64;
    let mut dir_end = eocd_pos;
    if count == 0xffff || dir_size == 0xffff_ffff || dir_offset == 0xffff_ffff {
        // Zip64: the locator sits just before the end record.
        let mut loc = [0u8; 20];
        if eocd_pos >= 20
            && read_exact_at(blob, eocd_pos - 20, &mut loc).is_ok()
            && loc.starts_with(b"PK\x06\x07")
        {
            let rec_pos = u64_at(&loc, 8);
            let mut rec = [0u8; 56];
            read_exact_at(blob, rec_pos, &mut rec)?;
            if !rec.starts_with(b"PK\x06\x06") {
                return Err(ZipError::Corrupt("bad Zip64 end record".into()));
            }
            count = u64_at(&rec, 32);
            dir_size = u64_at(&rec, 40);
            dir_offset = u64_at(&rec, 48);
            dir_end = rec_pos;
        }
    }
    if dir_size > MAX_DIRECTORY {
        return Err(ZipError::Corrupt(format!(
            "central directory of {dir_size} bytes"
        )));
    }
    // Data prepended to the archive (self-extracting stubs) shifts every offset.
    let shift = dir_end
        .checked_sub(dir_offset.saturating_add(dir_size))
        .ok_or_else(|| ZipError::Corrupt("central directory past the end record".into()))?;
    let dir_start = dir_offset + shift;
    let mut dir = vec![0u8; dir_size as usize];
    read_exact_at(blob, dir_start, &mut dir)?;
    let mut out = Vec::new();
    let mut p = 0usize;
    while p + 46 <= dir.len() && out.len() < MAX_ENTRIES && (out.len() as u64) < count {
        if !dir[p..].starts_with(b"PK\x01\x02") {
            return Err(ZipError::Corrupt(format!("bad entry header at {p}")));
        }
        let flags = u16_at(&dir, p + 8);
        let method = u16_at(&dir, p + 10);
        let mut compressed_size = u32_at(&dir, p + 20) as u64;
        let mut size = u32_at(&dir, p + 24) as u64;
        let name_len = u16_at(&dir, p + 28) as usize;
        let extra_len = u16_at(&dir, p + 30) as usize;
        let comment_len = u16_at(&dir, p + 32) as usize;
        let mut local_offset = u32_at(&dir, p + 42) as u64;
        let name_end = p + 46 + name_len;
        let extra_end = name_end + extra_len;
        let (Some(name), Some(extra)) = (dir.get(p + 46..name_end), dir.get(name_end..extra_end))
        else {
            return Err(ZipError::Corrupt("entry runs past the directory".into()));
        };
        // Zip64 extended information: the 0xffffffff fields, in order.
        let mut e = 0;
        while e + 4 <= extra.len() {
            let id = u16_at(extra, e);
            let len = u16_at(extra, e + 2) as usize;
            if id == 1 {
                let mut q = e + 4;
                for field in [&mut size, &mut compressed_size, &mut local_offset] {
                    if *field == 0xffff_ffff && q + 8 <= e + 4 + len {
                        *field = u64_at(extra, q);
                        q += 8;
                    }
                }
            }
            e += 4 + len;
        }
        out.push(Entry {
            name: String::from_utf8_lossy(name).into_owned(),
            method,
            flags,
            compressed_size,
            size,
            local_offset: local_offset.saturating_add(shift),
        });
        p = extra_end + comment_len;
    }
    Ok(out)
}

/// Offset of an entry's data, from its local header.
pub fn data_offset(blob: &dyn Blob, e: &Entry) -> Result<u64, ZipError> {
    let mut h = [0u8; 30];
    read_exact_at(blob, e.local_offset, &mut h)?;
    if !h.starts_with(b"PK\x03\x04") {
        return Err(ZipError::Corrupt(format!("{}: bad local header", e.name)));
    }
    Ok(e.local_offset + 30 + u16_at(&h, 26) as u64 + u16_at(&h, 28) as u64)
}

/// A member's bytes as a blob: a range of the archive when stored, else its decompressed
/// bytes, whole up to `limit` or else the first `limit` bytes.
pub enum Member<'a> {
    Stored(SliceBlob<'a>),
    Inflated(Vec<u8>),
    Prefix(PrefixBlob),
}

impl Member<'_> {
    pub fn blob(&self) -> &dyn Blob {
        match self {
            Member::Stored(b) => b,
            Member::Inflated(b) => b,
            Member::Prefix(b) => b,
        }
    }
}

fn check(e: &Entry) -> Result<(), ZipError> {
    if e.flags & 1 != 0 {
        return Err(ZipError::Unsupported {
            name: e.name.clone(),
            what: "encrypted".into(),
        });
    }
    if e.method != 0 && e.method != 8 {
        return Err(ZipError::Unsupported {
            name: e.name.clone(),
            what: format!("compression method {}", e.method),
        });
    }
    Ok(())
}

/// Opens a member for reading.
pub fn open<'a>(blob: &'a dyn Blob, e: &Entry, limit: u64) -> Result<Member<'a>, ZipError> {
    check(e)?;
    let start = data_offset(blob, e)?;
    if e.method == 0 {
        return Ok(Member::Stored(SliceBlob::new(blob, start, e.size)));
    }
    let raw = BlobReader::new(blob, start, start.saturating_add(e.compressed_size));
    let want = e.size.min(limit);
    let mut out = Vec::with_capacity(want.min(1 << 20) as usize);
    DeflateDecoder::new(raw).take(want).read_to_end(&mut out)?;
    if (out.len() as u64) < want {
        return Err(ZipError::Corrupt(format!(
            "{}: deflate stream ends after {} of {} bytes",
            e.name,
            out.len(),
            e.size
        )));
    }
    Ok(if want == e.size {
        Member::Inflated(out)
    } else {
        Member::Prefix(PrefixBlob {
            bytes: out,
            declared: e.size,
        })
    })
}

/// Reads up to `limit` bytes of a member.
pub fn read_member(blob: &dyn Blob, e: &Entry, limit: u64) -> Result<Vec<u8>, ZipError> {
    check(e)?;
    let start = data_offset(blob, e)?;
    if e.method == 0 {
        return Ok(read_upto(blob, start, e.size.min(limit) as usize)?);
    }
    let raw = BlobReader::new(blob, start, start.saturating_add(e.compressed_size));
    let mut out = Vec::new();
    DeflateDecoder::new(raw)
        .take(e.size.min(limit))
        .read_to_end(&mut out)?;
    Ok(out)
}

/// The names in the local headers at the start of `prefix`, as far as they can be followed
/// (used when the central directory cannot be reached).
pub fn local_names(prefix: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let mut p = 0usize;
    while names.len() < 64
        && prefix
            .get(p..)
            .is_some_and(|r| r.starts_with(b"PK\x03\x04"))
    {
        let flags = u16_at(prefix, p + 6);
        let compressed = u32_at(prefix, p + 18) as usize;
        let n = u16_at(prefix, p + 26) as usize;
        let x = u16_at(prefix, p + 28) as usize;
        let Some(name) = prefix.get(p + 30..p + 30 + n) else {
            break;
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        if flags & 8 != 0 || compressed == 0xffff_ffff {
            break;
        }
        p = p + 30 + n + x + compressed;
    }
    names
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn lists_and_reads_members() {
        let text = b"hello hello hello hello".repeat(10);
        let z = crate::samples::zip(&[("a/stored.bin", b"12345", false), ("b.txt", &text, true)]);
        let es = entries(&z).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[1].name, "b.txt");
        assert_eq!(read_member(&z, &es[0], 100).unwrap(), b"12345");
        assert_eq!(read_member(&z, &es[1], 1000).unwrap(), text);
        match open(&z, &es[1], 10).unwrap() {
            Member::Prefix(p) => assert_eq!(p.bytes, &text[..10]),
            _ => panic!("expected a prefix"),
        }
        assert_eq!(local_names(&z), vec!["a/stored.bin", "b.txt"]);
    }

    #[test]
    fn prepended_data_and_corruption() {
        let z = crate::samples::zip(&[("x", b"1", false)]);
        let mut shifted = b"#!/bin/sh stub\n".to_vec();
        shifted.extend(&z);
        let es = entries(&shifted).unwrap();
        assert_eq!(read_member(&shifted, &es[0], 10).unwrap(), b"1");
        assert!(entries(&z[..z.len() - 3].to_vec()).is_err());
        let mut bad = z.clone();
        let d = bad.len() - 22 - 47;
        bad[d] = b'X';
        assert!(entries(&bad).is_err());
    }
}
