//! A streaming tar reader (POSIX ustar, GNU long names, pax `path` records), bounded: headers
//! are checked by their checksum, long names and pax records are limited in size, and member
//! data is handed to the caller as a reader limited to the member; what it does not read is
//! skipped (seeked over when the source can seek).

use std::io::{self, Read};

use crate::blob::BlobReader;

/// The longest GNU long name or pax header read.
const MAX_META: u64 = 1024 * 1024;

/// A byte source that can skip forward.
pub trait Source: Read {
    fn skip(&mut self, n: u64) -> io::Result<()>;
}

impl Source for BlobReader<'_> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        BlobReader::skip(self, n);
        Ok(())
    }
}

/// A source that can only skip by reading (a decompressor).
pub struct Stream<R: Read>(pub R);

impl<R: Read> Read for Stream<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Source for Stream<R> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let skipped = io::copy(&mut (&mut self.0).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "truncated tar member",
            ));
        }
        Ok(())
    }
}

/// A regular file in the archive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
    /// Where its data starts in the (decompressed) archive.
    pub offset: u64,
}

/// Why an archive could not be read further.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("bad tar header at offset {0}")]
    BadHeader(u64),
    #[error("truncated tar archive")]
    Truncated,
    #[error(transparent)]
    Io(#[from] io::Error),
}

fn checksum_ok(h: &[u8]) -> bool {
    let stored = octal(&h[148..156]);
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u64
            }
        })
        .sum();
    stored == Some(sum)
}

fn octal(field: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(field).ok()?;
    let s = s.trim_matches(|c: char| c == '\0' || c == ' ');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn size_of(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        // GNU base-256
        let mut v = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    octal(field)
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// Whether the first 512 bytes are a tar header.
pub fn matches(prefix: &[u8]) -> bool {
    prefix.len() >= 512 && prefix[..512].iter().any(|&b| b != 0) && checksum_ok(&prefix[..512])
}

/// Walks the members, calling `visit` with each regular file and a reader of its data.
pub fn walk(
    src: &mut dyn Source,
    visit: &mut dyn FnMut(&Member, &mut dyn Read) -> io::Result<()>,
) -> Result<(), TarError> {
    let mut pos = 0u64;
    let mut long_name: Option<String> = None;
    loop {
        let mut h = [0u8; 512];
        let mut got = 0;
        while got < 512 {
            match src.read(&mut h[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        if got == 0 {
            return Ok(());
        }
        if got < 512 {
            return Err(TarError::Truncated);
        }
        if h.iter().all(|&b| b == 0) {
            return Ok(());
        }
        if !checksum_ok(&h) {
            return Err(TarError::BadHeader(pos));
        }
        let size = size_of(&h[124..136]).ok_or(TarError::BadHeader(pos))?;
        let padded = size.div_ceil(512).saturating_mul(512);
        let data = pos.saturating_add(512);
        let kind = h[156];
        match kind {
            b'L' | b'x' => {
                if size > MAX_META {
                    return Err(TarError::BadHeader(pos));
                }
                let mut buf = vec![0u8; size as usize];
                src.read_exact(&mut buf).map_err(|_| TarError::Truncated)?;
                src.skip(padded - size)?;
                long_name = if kind == b'L' {
                    Some(cstr(&buf))
                } else {
                    pax_path(&buf).or(long_name)
                };
            }
            b'0' | 0 | b'7' => {
                let name = long_name.take().unwrap_or_else(|| {
                    let name = cstr(&h[0..100]);
                    let prefix = if &h[257..262] == b"ustar" {
                        cstr(&h[345..500])
                    } else {
                        String::new()
                    };
                    if prefix.is_empty() {
                        name
                    } else {
                        format!("{prefix}/{name}")
                    }
                });
                let member = Member {
                    name,
                    size,
                    offset: data,
                };
                let mut limited = (&mut *src).take(size);
                visit(&member, &mut limited)?;
                let left = limited.limit();
                src.skip(left + (padded - size))?;
            }
            _ => {
                long_name = None;
                src.skip(padded)?;
            }
        }
        pos = data.saturating_add(padded);
    }
}

/// The `path` record of a pax extended header.
fn pax_path(buf: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    let mut rest: &str = &text;
    while let Some((len, after)) = rest.split_once(' ') {
        let len: usize = len.parse().ok()?;
        let record_len = len.checked_sub(len.to_string().len() + 1)?;
        let record = after.get(..record_len)?;
        if let Some(v) = record.strip_prefix("path=") {
            return Some(v.trim_end_matches('\n').to_string());
        }
        rest = after.get(record_len..)?;
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn walks_members() {
        let long = format!("{}/model.bin", "d".repeat(120));
        let t = crate::samples::tar(&[("a.txt", b"hello"), (&long, b"xyz")]);
        assert!(matches(&t));
        let mut seen = Vec::new();
        walk(&mut BlobReader::new(&t, 0, t.len() as u64), &mut |m, r| {
            let mut first = [0u8; 1];
            r.read_exact(&mut first)?;
            seen.push((m.name.clone(), m.size, first[0]));
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, vec![("a.txt".into(), 5, b'h'), (long, 3, b'x')]);
        let mut cut = t[..600].to_vec();
        cut.truncate(600);
        let err = walk(&mut Stream(cut.as_slice()), &mut |_, _| Ok(())).unwrap_err();
        assert!(
            matches!(err, TarError::Io(_) | TarError::Truncated),
            "{err}"
        );
        let mut bad = t.clone();
        bad[0] = b'X';
        assert!(!matches(&bad));
    }

    #[test]
    fn pax_paths() {
        assert_eq!(
            pax_path(b"27 path=some/long/name.bin\n").as_deref(),
            Some("some/long/name.bin")
        );
        assert_eq!(pax_path(b"999 nonsense"), None);
    }
}
