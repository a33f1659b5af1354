//! FNV-1a, 64-bit: the one non-cryptographic hash of modelward, for ids and fingerprints that
//! must be the same on every run, machine and version (alert ids, ES|QL `_id`s, prompt
//! fingerprints, the simulator's random streams, the hashed features persisted in baselines).
//! Changing anything here changes those ids: the known values in the tests pin it.
//!
//! ```
//! use modelward_event::hash::{fnv1a, fnv1a_extend, hex, stable_id, FNV_OFFSET};
//! assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
//! assert_eq!(fnv1a_extend(fnv1a(b"foo"), b"bar"), fnv1a(b"foobar"));
//! assert_eq!(fnv1a_extend(FNV_OFFSET, b""), fnv1a(b""));
//! assert_eq!(stable_id(&["a", "b"]), "d2b371819297f98a");
//! assert_eq!(hex(&[0x0f, 0xa0, 0x00]), "0fa000");
//! ```

/// FNV-1a's 64-bit offset basis: the hash of no bytes.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
pub const FNV_PRIME: u64 = 0x0100_0000_01b3;

/// FNV-1a of `bytes`, continuing from `hash` (a previous result, [`FNV_OFFSET`], or another
/// seed), so that a hash over several pieces needs no buffer.
pub fn fnv1a_extend(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// FNV-1a as a [`std::hash::Hasher`], for values that implement `Hash`: the same on every
/// run and machine of one build (a `Hash` impl may differ between versions).
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(FNV_OFFSET)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a_extend(self.0, bytes);
    }
}

/// The partition of `partitions` (at least 1) a key's hash goes to: how `watch` routes a
/// window's records to the one instance that keeps its state (docs/watch.md, "Scale-out").
/// The hash is mixed first (FNV-1a's low bits alone are weak over short keys).
pub fn partition(hash: u64, partitions: u32) -> u32 {
    let mixed = (hash ^ (hash >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mixed = mixed ^ (mixed >> 33);
    (mixed % u64::from(partitions.max(1))) as u32
}

/// `bytes` as lower-case hex digits (digests, keys and tags as text).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// FNV-1a of `bytes`.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

/// A stable 64-bit id of `parts` (FNV-1a, each part followed by a `0xff` byte, which no
/// UTF-8 text holds, so `["ab", ""]` and `["a", "b"]` differ), as 16 lower-case hex digits.
/// Alert ids are made by it.
pub fn stable_id(parts: &[&str]) -> String {
    let hash = parts.iter().fold(FNV_OFFSET, |h, part| {
        fnv1a_extend(fnv1a_extend(h, part.as_bytes()), &[0xff])
    });
    format!("{hash:016x}")
}

/// The hash of a raw record as it was read (XXH3, 64-bit): evidence names it beside the
/// record's file, line and offset, so that a later read can tell whether the record found
/// there is the one the alert was raised on. Fast enough to take of every parsed record
/// (tens of GB/s); not a defence against forgery (evidence bundles add SHA-256).
pub fn record_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// A record hash as evidence writes it: `xxh3:` and 16 lower-case hex digits.
pub fn record_hash_text(hash: u64) -> String {
    format!("xxh3:{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_known_values() {
        // The published FNV-1a 64 test vectors.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(fnv1a_extend(fnv1a(b"foo"), b"bar"), fnv1a(b"foobar"));
    }

    #[test]
    fn record_hashes_are_xxh3() {
        // XXH3-64 of the empty input, as the reference implementation gives it.
        assert_eq!(record_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(record_hash_text(record_hash(b"")), "xxh3:2d06800538d394c2");
        assert_ne!(record_hash(b"{\"a\":1}"), record_hash(b"{\"a\":2}"));
    }

    #[test]
    fn stable_ids_known_values() {
        // As alert ids have always been computed: these must never change.
        assert_eq!(stable_id(&[]), "cbf29ce484222325");
        assert_eq!(stable_id(&["a", "b"]), "d2b371819297f98a");
        assert_eq!(stable_id(&["ab", ""]), "fdf42483ef9ca070");
        assert_eq!(
            stable_id(&["MW-AI-0001", "user-1", "k"]),
            "fa3c255502e56f19"
        );
        assert_eq!(stable_id(&["x"]).len(), 16);
    }
}
