//! Element types and their decoding to `f32`: plain numbers (F64, F32, F16, BF16, integers)
//! and ggml's block-quantized types.
//!
//! Data is read in *units*: one element for plain types, one block for quantized types (32
//! elements for `Q4_0`..`Q8_0`, 256 for the K-quants). The block layouts are ggml's
//! (`ggml-common.h`, `ggml-quants.c`), all little-endian:
//!
//! | type | elements | bytes | layout |
//! |---|---|---|---|
//! | `Q4_0` | 32 | 18 | f16 `d`; 16 bytes of nibbles: low nibble of byte j is element j, high nibble element j+16; x = (q − 8)·d |
//! | `Q4_1` | 32 | 20 | f16 `d`, f16 `m`; nibbles as `Q4_0`; x = q·d + m |
//! | `Q5_0` | 32 | 22 | f16 `d`; u32 `qh` (bit j: 5th bit of element j); nibbles; x = (q − 16)·d |
//! | `Q5_1` | 32 | 24 | f16 `d`, f16 `m`; u32 `qh`; nibbles; x = q·d + m |
//! | `Q8_0` | 32 | 34 | f16 `d`; 32 × i8; x = q·d |
//! | `Q4_K` | 256 | 144 | f16 `d`, f16 `dmin`; 12 bytes of 6-bit scales and mins for 8 sub-blocks; 128 bytes of nibbles, 64 elements per 32 bytes (low nibbles first); x = d·sc·q − dmin·m |
//! | `Q5_K` | 256 | 176 | as `Q4_K` with 32 bytes `qh` (the 5th bits) before the nibbles |
//! | `Q6_K` | 256 | 210 | 128 bytes low 4 bits, 64 bytes high 2 bits, 16 × i8 scales, f16 `d`; x = d·sc·(q − 32) |
//! | `Q8_K` | 256 | 292 | f32 `d`, 256 × i8, 16 × i16 sums; x = q·d |

/// An element type of a stored tensor (ggml's names for ggml's types).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F64,
    F32,
    F16,
    BF16,
    I64,
    I32,
    I16,
    I8,
    U8,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
}

impl DType {
    /// The name printed and stored (safetensors' and ggml's spelling).
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "F64",
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
            DType::I64 => "I64",
            DType::I32 => "I32",
            DType::I16 => "I16",
            DType::I8 => "I8",
            DType::U8 => "U8",
            DType::Q4_0 => "Q4_0",
            DType::Q4_1 => "Q4_1",
            DType::Q5_0 => "Q5_0",
            DType::Q5_1 => "Q5_1",
            DType::Q8_0 => "Q8_0",
            DType::Q4_K => "Q4_K",
            DType::Q5_K => "Q5_K",
            DType::Q6_K => "Q6_K",
            DType::Q8_K => "Q8_K",
        }
    }

    /// The safetensors dtype of that name, if it is one this crate decodes.
    pub fn from_safetensors(name: &str) -> Option<DType> {
        Some(match name {
            "F64" => DType::F64,
            "F32" => DType::F32,
            "F16" => DType::F16,
            "BF16" => DType::BF16,
            "I64" => DType::I64,
            "I32" => DType::I32,
            "I16" => DType::I16,
            "I8" => DType::I8,
            "U8" => DType::U8,
            _ => return None,
        })
    }

    /// The ggml type of that id (`enum ggml_type`), if it is one this crate decodes.
    pub fn from_ggml(id: u32) -> Option<DType> {
        Some(match id {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::Q4_0,
            3 => DType::Q4_1,
            6 => DType::Q5_0,
            7 => DType::Q5_1,
            8 => DType::Q8_0,
            12 => DType::Q4_K,
            13 => DType::Q5_K,
            14 => DType::Q6_K,
            15 => DType::Q8_K,
            24 => DType::I8,
            25 => DType::I16,
            26 => DType::I32,
            27 => DType::I64,
            28 => DType::F64,
            30 => DType::BF16,
            _ => return None,
        })
    }

    /// The ggml type id.
    pub fn ggml_id(self) -> Option<u32> {
        Some(match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::Q4_0 => 2,
            DType::Q4_1 => 3,
            DType::Q5_0 => 6,
            DType::Q5_1 => 7,
            DType::Q8_0 => 8,
            DType::Q4_K => 12,
            DType::Q5_K => 13,
            DType::Q6_K => 14,
            DType::Q8_K => 15,
            DType::I8 => 24,
            DType::I16 => 25,
            DType::I32 => 26,
            DType::I64 => 27,
            DType::F64 => 28,
            DType::BF16 => 30,
            DType::U8 => return None,
        })
    }

    /// Elements per unit (1, or the block size) and bytes per unit.
    pub fn unit(self) -> (u64, u64) {
        match self {
            DType::F64 | DType::I64 => (1, 8),
            DType::F32 | DType::I32 => (1, 4),
            DType::F16 | DType::BF16 | DType::I16 => (1, 2),
            DType::I8 | DType::U8 => (1, 1),
            DType::Q4_0 => (32, 18),
            DType::Q4_1 => (32, 20),
            DType::Q5_0 => (32, 22),
            DType::Q5_1 => (32, 24),
            DType::Q8_0 => (32, 34),
            DType::Q4_K => (256, 144),
            DType::Q5_K => (256, 176),
            DType::Q6_K => (256, 210),
            DType::Q8_K => (256, 292),
        }
    }

    /// Bytes of `n` elements, None when `n` is not a whole number of blocks or overflows.
    pub fn bytes_for(self, n: u64) -> Option<u64> {
        let (elems, bytes) = self.unit();
        if !n.is_multiple_of(elems) {
            return None;
        }
        (n / elems).checked_mul(bytes)
    }

    /// Decodes one unit (`unit().1` bytes) into `out` (`unit().0` values).
    pub fn decode(self, b: &[u8], out: &mut [f32]) {
        match self {
            DType::F64 => out[0] = f64::from_le_bytes(arr(b)) as f32,
            DType::F32 => out[0] = f32::from_le_bytes(arr(b)),
            DType::F16 => out[0] = f16_to_f32(u16::from_le_bytes(arr(b))),
            DType::BF16 => out[0] = bf16_to_f32(u16::from_le_bytes(arr(b))),
            DType::I64 => out[0] = i64::from_le_bytes(arr(b)) as f32,
            DType::I32 => out[0] = i32::from_le_bytes(arr(b)) as f32,
            DType::I16 => out[0] = i16::from_le_bytes(arr(b)) as f32,
            DType::I8 => out[0] = b[0] as i8 as f32,
            DType::U8 => out[0] = b[0] as f32,
            DType::Q4_0 => q4_0(b, out),
            DType::Q4_1 => q4_1(b, out),
            DType::Q5_0 => q5_0(b, out),
            DType::Q5_1 => q5_1(b, out),
            DType::Q8_0 => q8_0(b, out),
            DType::Q4_K => q4_k(b, out),
            DType::Q5_K => q5_k(b, out),
            DType::Q6_K => q6_k(b, out),
            DType::Q8_K => q8_k(b, out),
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[..N]);
    a
}

fn half(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// IEEE 754 binary16 to f32 (subnormals, infinities and NaN included).
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x3ff) as u32;
    let bits = match (exp, man) {
        (0, 0) => sign,
        (0, m) => {
            // subnormal: normalise
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// f32 to IEEE 754 binary16, rounding to nearest even.
pub fn f32_to_f16(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exp = ((bits >> 23) & 0xff) as i32;
    let man = bits & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = man | 0x80_0000;
        let shift = (14 - e) as u32;
        let half_bit = 1u32 << (shift - 1);
        let rest = m & ((1u32 << shift) - 1);
        let mut h = (m >> shift) as u16;
        if rest > half_bit || (rest == half_bit && h & 1 == 1) {
            h += 1;
        }
        return sign | h;
    }
    let mut h = ((e as u32) << 10) | (man >> 13);
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) {
        h += 1;
    }
    sign | h as u16
}

/// bfloat16 to f32.
pub fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

/// f32 to bfloat16, rounding to nearest even (NaN stays NaN).
pub fn f32_to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    if x.is_nan() {
        return ((bits >> 16) | 0x40) as u16;
    }
    let round = 0x7fff + ((bits >> 16) & 1);
    (bits.wrapping_add(round) >> 16) as u16
}

fn q4_0(b: &[u8], out: &mut [f32]) {
    let d = half(b, 0);
    for j in 0..16 {
        let q = b[2 + j];
        out[j] = ((q & 0x0f) as i32 - 8) as f32 * d;
        out[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
    }
}

fn q4_1(b: &[u8], out: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    for j in 0..16 {
        let q = b[4 + j];
        out[j] = (q & 0x0f) as f32 * d + m;
        out[j + 16] = (q >> 4) as f32 * d + m;
    }
}

fn q5_0(b: &[u8], out: &mut [f32]) {
    let d = half(b, 0);
    let qh = u32::from_le_bytes(arr(&b[2..6]));
    for j in 0..16 {
        let q = b[6 + j];
        let h0 = ((qh >> j) & 1) << 4;
        let h1 = ((qh >> (j + 16)) & 1) << 4;
        out[j] = (((q & 0x0f) as u32 | h0) as i32 - 16) as f32 * d;
        out[j + 16] = (((q >> 4) as u32 | h1) as i32 - 16) as f32 * d;
    }
}

fn q5_1(b: &[u8], out: &mut [f32]) {
    let (d, m) = (half(b, 0), half(b, 2));
    let qh = u32::from_le_bytes(arr(&b[4..8]));
    for j in 0..16 {
        let q = b[8 + j];
        let h0 = ((qh >> j) & 1) << 4;
        let h1 = ((qh >> (j + 16)) & 1) << 4;
        out[j] = ((q & 0x0f) as u32 | h0) as f32 * d + m;
        out[j + 16] = ((q >> 4) as u32 | h1) as f32 * d + m;
    }
}

fn q8_0(b: &[u8], out: &mut [f32]) {
    let d = half(b, 0);
    for j in 0..32 {
        out[j] = (b[2 + j] as i8) as f32 * d;
    }
}

/// The 6-bit scale and min of sub-block `j` (0..8) of a `Q4_K`/`Q5_K` block.
pub(crate) fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

fn q4_k(b: &[u8], out: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let scales = &b[4..16];
    let qs = &b[16..144];
    for g in 0..4 {
        let (sc1, m1) = scale_min_k4(2 * g, scales);
        let (sc2, m2) = scale_min_k4(2 * g + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        for l in 0..32 {
            let q = qs[32 * g + l];
            out[64 * g + l] = d1 * (q & 0x0f) as f32 - m1;
            out[64 * g + 32 + l] = d2 * (q >> 4) as f32 - m2;
        }
    }
}

fn q5_k(b: &[u8], out: &mut [f32]) {
    let (d, dmin) = (half(b, 0), half(b, 2));
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for g in 0..4 {
        let (sc1, m1) = scale_min_k4(2 * g, scales);
        let (sc2, m2) = scale_min_k4(2 * g + 1, scales);
        let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
        let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
        let (u1, u2) = (1u8 << (2 * g), 1u8 << (2 * g + 1));
        for l in 0..32 {
            let q = qs[32 * g + l];
            let h1 = if qh[l] & u1 != 0 { 16 } else { 0 };
            let h2 = if qh[l] & u2 != 0 { 16 } else { 0 };
            out[64 * g + l] = d1 * ((q & 0x0f) + h1) as f32 - m1;
            out[64 * g + 32 + l] = d2 * ((q >> 4) + h2) as f32 - m2;
        }
    }
}

fn q6_k(b: &[u8], out: &mut [f32]) {
    let ql = &b[0..128];
    let qh = &b[128..192];
    let sc = &b[192..208];
    let d = half(b, 208);
    for n in 0..2 {
        let (ql, qh, sc) = (&ql[64 * n..], &qh[32 * n..], &sc[8 * n..]);
        let y = &mut out[128 * n..];
        for l in 0..32 {
            let is = l / 16;
            let q1 = ((ql[l] & 0x0f) | ((qh[l] & 3) << 4)) as i32 - 32;
            let q2 = ((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
            let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
            let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
            y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
            y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
            y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
            y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
        }
    }
}

fn q8_k(b: &[u8], out: &mut [f32]) {
    let d = f32::from_le_bytes(arr(&b[0..4]));
    for j in 0..256 {
        out[j] = (b[4 + j] as i8) as f32 * d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_round_trips() {
        for x in [
            0.0f32, -0.0, 1.0, -2.5, 65504.0, 6.1e-5, 5.96e-8, 1e-3, 2.5078,
        ] {
            let h = f32_to_f16(x);
            let y = f16_to_f32(h);
            assert!((x - y).abs() <= x.abs() * 1e-3 + 6e-8, "{x} -> {y}");
        }
        assert_eq!(f32_to_f16(1.0), 0x3c00);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert!(f16_to_f32(f32_to_f16(f32::NAN)).is_nan());
        assert_eq!(f16_to_f32(f32_to_f16(1e6)), f32::INFINITY);
        assert_eq!(bf16_to_f32(f32_to_bf16(1.0)), 1.0);
        assert!((bf16_to_f32(f32_to_bf16(2.5078)) - 2.5078).abs() < 0.02);
    }

    #[test]
    fn every_unit_has_its_size() {
        for t in [
            DType::Q4_0,
            DType::Q4_1,
            DType::Q5_0,
            DType::Q5_1,
            DType::Q8_0,
            DType::Q4_K,
            DType::Q5_K,
            DType::Q6_K,
            DType::Q8_K,
            DType::F16,
        ] {
            let (e, b) = t.unit();
            let bytes = vec![0x5au8; b as usize];
            let mut out = vec![0f32; e as usize];
            t.decode(&bytes, &mut out);
            assert!(out.iter().all(|v| v.is_finite()), "{t}");
            assert_eq!(DType::from_ggml(t.ggml_id().unwrap()), Some(t));
        }
    }
}
