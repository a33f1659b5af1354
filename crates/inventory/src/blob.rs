//! Random-access byte sources: a file, a byte slice, a range of another source, or the
//! decompressed prefix of an archive member. Identification reads through this trait only, so
//! every read is bounded by what the caller asks for.

use std::fs::File;
use std::io::{self, Read};

/// Bytes that can be read at any offset.
pub trait Blob {
    /// Total size in bytes.
    fn size(&self) -> u64;
    /// Reads up to `buf.len()` bytes at `offset`; fewer only at the end.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
}

impl Blob for [u8] {
    fn size(&self) -> u64 {
        self.len() as u64
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Ok(start) = usize::try_from(offset) else {
            return Ok(0);
        };
        let Some(rest) = self.get(start..) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

impl Blob for Vec<u8> {
    fn size(&self) -> u64 {
        self.as_slice().size()
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.as_slice().read_at(offset, buf)
    }
}

/// A file opened for positional reads.
pub struct FileBlob {
    file: File,
    size: u64,
}

impl FileBlob {
    pub fn open(path: &std::path::Path) -> io::Result<FileBlob> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(FileBlob { file, size })
    }
}

impl Blob for FileBlob {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            #[cfg(unix)]
            let n = std::os::unix::fs::FileExt::read_at(
                &self.file,
                &mut buf[done..],
                offset + done as u64,
            );
            #[cfg(windows)]
            let n = std::os::windows::fs::FileExt::seek_read(
                &self.file,
                &mut buf[done..],
                offset + done as u64,
            );
            match n {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(done)
    }
}

/// A range of another blob (a stored zip member, a plain tar member).
pub struct SliceBlob<'a> {
    inner: &'a dyn Blob,
    start: u64,
    size: u64,
}

impl<'a> SliceBlob<'a> {
    /// The range `start..start + size`, clipped to the inner blob.
    pub fn new(inner: &'a dyn Blob, start: u64, size: u64) -> SliceBlob<'a> {
        let start = start.min(inner.size());
        let size = size.min(inner.size() - start);
        SliceBlob { inner, start, size }
    }
}

impl Blob for SliceBlob<'_> {
    fn size(&self) -> u64 {
        self.size
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        if offset >= self.size {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.size - offset) as usize;
        self.inner.read_at(self.start + offset, &mut buf[..n])
    }
}

/// The first bytes of a member that was too large to decompress whole: reads past them fail
/// with a clear message instead of pretending the member ends there.
pub struct PrefixBlob {
    pub bytes: Vec<u8>,
    pub declared: u64,
}

impl Blob for PrefixBlob {
    fn size(&self) -> u64 {
        self.declared
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let end = offset.saturating_add(buf.len() as u64).min(self.declared);
        if end > self.bytes.len() as u64 {
            return Err(io::Error::other(format!(
                "needs bytes past the first {} of a compressed member (only that much is decompressed in memory)",
                self.bytes.len()
            )));
        }
        self.bytes.as_slice().read_at(offset, buf)
    }
}

/// Reads exactly `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
pub fn read_exact_at(blob: &dyn Blob, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let n = blob.read_at(offset, buf)?;
    if n < buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "truncated: wanted {} bytes at offset {offset}, the data ends at {}",
                buf.len(),
                blob.size()
            ),
        ));
    }
    Ok(())
}

/// Reads up to `max` bytes at `offset` (fewer at the end).
pub fn read_upto(blob: &dyn Blob, offset: u64, max: usize) -> io::Result<Vec<u8>> {
    let n = (max as u64).min(blob.size().saturating_sub(offset)) as usize;
    let mut buf = vec![0; n];
    let got = blob.read_at(offset, &mut buf)?;
    buf.truncate(got);
    Ok(buf)
}

/// A sequential reader over a range of a blob.
pub struct BlobReader<'a> {
    blob: &'a dyn Blob,
    pos: u64,
    end: u64,
}

impl<'a> BlobReader<'a> {
    pub fn new(blob: &'a dyn Blob, start: u64, end: u64) -> BlobReader<'a> {
        BlobReader {
            blob,
            pos: start,
            end: end.min(blob.size()),
        }
    }

    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Skips `n` bytes without reading them.
    pub fn skip(&mut self, n: u64) {
        self.pos = self.pos.saturating_add(n).min(self.end.max(self.pos));
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.pos >= self.end {
            return Ok(0);
        }
        let n = (buf.len() as u64).min(self.end - self.pos) as usize;
        let got = self.blob.read_at(self.pos, &mut buf[..n])?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl io::Seek for BlobReader<'_> {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        let target = match pos {
            io::SeekFrom::Start(n) => Some(n),
            io::SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            io::SeekFrom::End(d) => self.end.checked_add_signed(d),
        };
        let target = target.ok_or_else(|| io::Error::other("seek out of range"))?;
        self.pos = target;
        Ok(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_and_prefixes_are_bounded() {
        let data: Vec<u8> = (0..100u8).collect();
        let s = SliceBlob::new(&data, 90, 50);
        assert_eq!(s.size(), 10);
        assert_eq!(
            read_upto(&s, 5, 100).unwrap(),
            (95..100).collect::<Vec<u8>>()
        );
        let p = PrefixBlob {
            bytes: vec![1, 2, 3],
            declared: 1000,
        };
        assert!(read_upto(&p, 0, 3).is_ok());
        assert!(read_upto(&p, 0, 4).is_err());
        assert!(read_exact_at(&data, 99, &mut [0; 2]).is_err());
    }
}
