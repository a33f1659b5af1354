//! Content hashing with a fixed buffer: SHA-256 (`sha2`, which uses the CPU's SHA extensions
//! when it has them) or BLAKE3 (SIMD, one thread).

use std::io::{self, Read};
use std::str::FromStr;

use sha2::Digest;

/// Size of the read buffer: memory stays bounded whatever the file size.
pub const BUFFER: usize = 1 << 20;

/// A content hash algorithm.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum HashAlgorithm {
    #[default]
    Sha256,
    Blake3,
}

impl HashAlgorithm {
    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Blake3 => "blake3",
        }
    }

    pub fn hasher(self) -> Hasher {
        match self {
            HashAlgorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            HashAlgorithm::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
}

impl FromStr for HashAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sha256" => Ok(HashAlgorithm::Sha256),
            "blake3" => Ok(HashAlgorithm::Blake3),
            other => Err(format!(
                "unknown hash algorithm {other:?} (sha256 or blake3)"
            )),
        }
    }
}

/// An incremental hash.
pub enum Hasher {
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The digest in lower-case hex.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Blake3(h) => hex(h.finalize().as_bytes()),
        }
    }
}

pub(crate) use modelward_event::hash::hex;

/// Hashes everything `reader` yields with a fixed 1 MiB buffer, calling `progress` with the
/// bytes of each read. Returns the hex digest and the number of bytes hashed.
pub fn hash_reader(
    reader: &mut dyn Read,
    algorithm: HashAlgorithm,
    progress: &mut dyn FnMut(u64),
) -> io::Result<(String, u64)> {
    let mut hasher = algorithm.hasher();
    let mut buf = vec![0u8; BUFFER];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        total += n as u64;
        progress(n as u64);
    }
    Ok((hasher.finish_hex(), total))
}

/// Hashes a byte slice.
pub fn hash_bytes(bytes: &[u8], algorithm: HashAlgorithm) -> String {
    let mut h = algorithm.hasher();
    h.update(bytes);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        assert_eq!(
            hash_bytes(b"abc", HashAlgorithm::Sha256),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hash_bytes(b"", HashAlgorithm::Blake3),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
        let data = vec![7u8; 3 * BUFFER + 17];
        let (streamed, n) =
            hash_reader(&mut data.as_slice(), HashAlgorithm::Sha256, &mut |_| {}).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(streamed, hash_bytes(&data, HashAlgorithm::Sha256));
    }
}
