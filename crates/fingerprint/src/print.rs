//! The keyed fingerprint of one tensor.
//!
//! For a tensor of at least [`MIN_ELEMENTS`] elements, the key and the canonical shape (never
//! the name) choose 2 × [`HALF_SAMPLES`] distinct element positions (all of them for smaller
//! tensors), split at random into two disjoint halves, the *selection* half and the *test*
//! half. Each half's values are centred (their mean subtracted) and projected on
//! [`BITS`] keyed random ±1 vectors; the signs of the projections are the half's bits
//! (SimHash: two vectors at angle θ agree on each bit with probability 1 − θ/π). The
//! selection bits pair a suspect's tensors with ours; the test bits, drawn from other
//! positions, then say how sure the pairing is, free of the selection (see
//! [`crate::matching`]).
//!
//! Randomness: SHA-256 in counter mode over an HMAC-SHA256 of the key and a label naming the
//! purpose and the shape, so positions and projections are the same wherever a key and a
//! shape meet, and cannot be known without the key.

use std::collections::HashSet;

use hmac::{Hmac, Mac};
use modelward_inventory::blob::Blob;
use sha2::{Digest, Sha256};

use crate::error::FingerprintError;
use crate::tensor::{gather, TensorInfo};

/// Bits per half (selection, test).
pub const BITS: usize = 128;
/// Positions sampled per half.
pub const HALF_SAMPLES: u64 = 32768;
/// Smaller tensors (biases, norms) are not fingerprinted.
pub const MIN_ELEMENTS: u64 = 16384;
/// A tensor whose sampled values take fewer distinct values is not a weight (a mask, a
/// constant) and is not fingerprinted.
pub const MIN_DISTINCT: usize = 32;
/// The public key used when none is given.
pub const PUBLIC_KEY: &[u8] = b"modelward public fingerprint key v1";
/// The version of the method (stored with every fingerprint).
pub const METHOD: &str = "simhash-split-v1";

/// The secret that chooses positions and projections.
#[derive(Clone)]
pub struct Key {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id())
    }
}

impl Key {
    pub fn new(secret: &[u8]) -> Key {
        Key {
            secret: secret.to_vec(),
        }
    }

    /// The public key ([`PUBLIC_KEY`]): anyone can compute its positions and projections.
    pub fn public() -> Key {
        Key::new(PUBLIC_KEY)
    }

    pub fn is_public(&self) -> bool {
        self.secret == PUBLIC_KEY
    }

    fn mac(&self, label: &[u8]) -> [u8; 32] {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        m.update(label);
        m.finalize().into_bytes().into()
    }

    /// A public identifier of the key (16 hex digits of an HMAC), stored with fingerprints.
    pub fn id(&self) -> String {
        modelward_event::hash::hex(&self.mac(b"modelward fingerprint key id")[..8])
    }

    fn stream(&self, purpose: &[u8], shape: &[u64], half: u8) -> Stream {
        let mut label = Vec::with_capacity(purpose.len() + 9 + shape.len() * 8);
        label.extend_from_slice(METHOD.as_bytes());
        label.push(0);
        label.extend_from_slice(purpose);
        label.push(half);
        label.extend((shape.len() as u64).to_le_bytes());
        for d in shape {
            label.extend(d.to_le_bytes());
        }
        Stream {
            seed: self.mac(&label),
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

/// SHA-256(seed ‖ counter) blocks, read 8 bytes at a time.
struct Stream {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream {
    fn u64(&mut self) -> u64 {
        if self.used == 32 {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.block = h.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        u64::from_le_bytes(b)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.u64() as u128 * n as u128) >> 64) as u64
    }
}

/// The positions and projections of one half.
#[derive(Clone, Debug)]
pub struct Half {
    /// Canonical positions, ascending.
    pub positions: Vec<u64>,
    /// 128 signs per position (bit k set: +1 on projection k).
    pub signs: Vec<[u64; 2]>,
}

/// Where a key samples a tensor of a shape, and how it projects the samples.
#[derive(Clone, Debug)]
pub struct Plan {
    pub halves: [Half; 2],
}

/// The elements of a shape, None on overflow.
pub fn numel(shape: &[u64]) -> Option<u64> {
    shape.iter().try_fold(1u64, |a, &d| a.checked_mul(d))
}

impl Plan {
    /// The plan for `shape`; None when the shape is too small to fingerprint.
    pub fn new(key: &Key, shape: &[u64]) -> Option<Plan> {
        let n = numel(shape)?;
        if n < MIN_ELEMENTS {
            return None;
        }
        let mut s = key.stream(b"positions", shape, 0);
        let (mut a, mut b) = if n <= 2 * HALF_SAMPLES {
            let mut all: Vec<u64> = (0..n).collect();
            for i in (1..all.len()).rev() {
                let j = s.below(i as u64 + 1) as usize;
                all.swap(i, j);
            }
            let b = all.split_off(all.len() / 2);
            (all, b)
        } else {
            let want = 2 * HALF_SAMPLES as usize;
            let mut seen = HashSet::with_capacity(want);
            let mut order = Vec::with_capacity(want);
            while order.len() < want {
                let p = s.below(n);
                if seen.insert(p) {
                    order.push(p);
                }
            }
            let b = order.split_off(HALF_SAMPLES as usize);
            (order, b)
        };
        a.sort_unstable();
        b.sort_unstable();
        let half = |positions: Vec<u64>, h: u8| {
            let mut s = key.stream(b"signs", shape, h);
            let signs = (0..positions.len()).map(|_| [s.u64(), s.u64()]).collect();
            Half { positions, signs }
        };
        Some(Plan {
            halves: [half(a, 0), half(b, 1)],
        })
    }
}

/// ±1 for each bit of a byte, 8 at a time.
const fn sign_table() -> [[f32; 8]; 256] {
    let mut t = [[0f32; 8]; 256];
    let mut byte = 0;
    while byte < 256 {
        let mut bit = 0;
        while bit < 8 {
            t[byte][bit] = if (byte >> bit) & 1 == 1 { 1.0 } else { -1.0 };
            bit += 1;
        }
        byte += 1;
    }
    t
}
static SIGNS: [[f32; 8]; 256] = sign_table();

/// Why a half's values give no fingerprint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Degenerate {
    /// Fewer than [`MIN_DISTINCT`] distinct values (a mask, a constant, an index).
    FewValues,
}

/// The [`BITS`] sign bits of the centred `values` projected on `signs`.
pub fn simhash(values: &[f32], signs: &[[u64; 2]]) -> Result<u128, Degenerate> {
    let mut distinct = HashSet::new();
    for v in values {
        distinct.insert(v.to_bits());
        if distinct.len() >= MIN_DISTINCT {
            break;
        }
    }
    if distinct.len() < MIN_DISTINCT {
        return Err(Degenerate::FewValues);
    }
    let mean = values.iter().map(|&v| v as f64).sum::<f64>() / values.len().max(1) as f64;
    let mut acc = [[0f32; 8]; BITS / 8];
    for (&v, s) in values.iter().zip(signs) {
        let c = (v as f64 - mean) as f32;
        for (w, &word) in s.iter().enumerate() {
            for byte in 0..8 {
                let t = &SIGNS[((word >> (8 * byte)) & 0xff) as usize];
                let a = &mut acc[w * 8 + byte];
                for k in 0..8 {
                    a[k] += c * t[k];
                }
            }
        }
    }
    let mut bits = 0u128;
    for (i, a) in acc.iter().enumerate() {
        for (k, &x) in a.iter().enumerate() {
            if x > 0.0 {
                bits |= 1u128 << (i * 8 + k);
            }
        }
    }
    Ok(bits)
}

/// The positions behind and the bits of each half (selection, test).
pub type Bits = ([u64; 2], [u128; 2]);

/// One tensor's fingerprint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorPrint {
    pub name: String,
    /// Canonical shape.
    pub shape: Vec<u64>,
    /// The stored element type.
    pub dtype: String,
    /// Positions in each half.
    pub samples: [u64; 2],
    /// Selection and test bits.
    pub bits: [u128; 2],
}

/// The fingerprint of tensor `t` of `blob` under `plan` (made for `t`'s shape, or for the
/// shape a view maps onto it: `map` turns the plan's positions into `t`'s). None when its
/// values are degenerate.
pub fn print_tensor(
    blob: &dyn Blob,
    t: &TensorInfo,
    plan: &Plan,
    map: &dyn Fn(u64) -> u64,
) -> Result<Option<Bits>, FingerprintError> {
    let mut bits = [0u128; 2];
    let mut samples = [0u64; 2];
    for (h, half) in plan.halves.iter().enumerate() {
        let positions: Vec<u64> = half.positions.iter().map(|&p| map(p)).collect();
        let values = gather(blob, t, &positions)?;
        match simhash(&values, &half.signs) {
            Ok(b) => bits[h] = b,
            Err(_) => return Ok(None),
        }
        samples[h] = positions.len() as u64;
    }
    Ok(Some((samples, bits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_depend_on_key_and_shape_only() {
        let k = Key::new(b"secret");
        let a = Plan::new(&k, &[256, 256]).unwrap();
        let b = Plan::new(&k, &[256, 256]).unwrap();
        assert_eq!(a.halves[0].positions, b.halves[0].positions);
        assert_eq!(a.halves[1].signs, b.halves[1].signs);
        assert_eq!(a.halves[0].positions.len(), 32768);
        let (p0, p1) = (&a.halves[0].positions, &a.halves[1].positions);
        let s: HashSet<_> = p0.iter().collect();
        assert!(p1.iter().all(|p| !s.contains(p)), "halves are disjoint");
        let other = Plan::new(&Key::new(b"other"), &[256, 256]).unwrap();
        assert_ne!(other.halves[0].positions, a.halves[0].positions);
        let big = Plan::new(&k, &[1000, 1000]).unwrap();
        assert_eq!(big.halves[1].positions.len(), HALF_SAMPLES as usize);
        assert!(big.halves[1].positions.windows(2).all(|w| w[0] < w[1]));
        assert!(Plan::new(&k, &[100, 100]).is_none());
        assert_ne!(Key::public().id(), k.id());
        assert_eq!(k.id().len(), 16);
    }

    #[test]
    fn simhash_agrees_with_itself_and_not_with_noise() {
        let mut s = Key::new(b"t").stream(b"values", &[1], 0);
        let mut gauss = || {
            let u = (s.u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (s.u64() >> 11) as f64 / (1u64 << 53) as f64;
            ((-2.0 * (u + 1e-300).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
        };
        let x: Vec<f32> = (0..4096).map(|_| gauss()).collect();
        let y: Vec<f32> = (0..4096).map(|_| gauss()).collect();
        let near: Vec<f32> = x.iter().map(|v| v * 3.0 + 0.5 + 0.05 * gauss()).collect();
        let plan = Plan::new(&Key::new(b"k"), &[128, 128]).unwrap();
        let signs = &plan.halves[0].signs[..4096];
        let hx = simhash(&x, signs).unwrap();
        let agree = |a: u128, b: u128| 128 - (a ^ b).count_ones();
        assert!(agree(hx, simhash(&near, signs).unwrap()) >= 120);
        let unrelated = agree(hx, simhash(&y, signs).unwrap());
        assert!((40..=88).contains(&unrelated), "{unrelated}");
        assert_eq!(simhash(&[1.0; 4096], signs), Err(Degenerate::FewValues));
    }
}
