//! Writers of tensor files and ggml quantizers, for the tests, the ROC example and anyone
//! who needs small model files made from known tensors: safetensors and GGUF v3 files from
//! `f32` tensors, encoded as F32, F16, BF16, I8 (per-row absmax, the scales in their own
//! tensor) or a ggml block type (`Q8_0`, `Q4_0`, `Q4_1`, `Q5_0`, `Q5_1`, `Q4_K`, `Q6_K`).
//!
//! The block quantizers follow ggml's layouts (see [`crate::dtype`]); the `Q4_0`…`Q8_0`
//! ones round as ggml's reference quantizers do, the K-quant ones choose scales more simply
//! than ggml's search (valid blocks, a slightly larger error).

use serde_json::{json, Map, Value};

use crate::dtype::{f32_to_bf16, f32_to_f16, DType};

/// One tensor to write: name, canonical shape, values (row-major).
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub values: Vec<f32>,
}

impl Tensor {
    pub fn new(name: &str, shape: &[u64], values: Vec<f32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape: shape.to_vec(),
            values,
        }
    }
}

/// The bytes of `values` in `dtype`, None when the type is not written here or the count is
/// not whole blocks.
pub fn encode(values: &[f32], dtype: DType) -> Option<Vec<u8>> {
    let (block, _) = dtype.unit();
    if !(values.len() as u64).is_multiple_of(block) {
        return None;
    }
    let mut out = Vec::new();
    match dtype {
        DType::F32 => values.iter().for_each(|v| out.extend(v.to_le_bytes())),
        DType::F16 => values
            .iter()
            .for_each(|&v| out.extend(f32_to_f16(v).to_le_bytes())),
        DType::BF16 => values
            .iter()
            .for_each(|&v| out.extend(f32_to_bf16(v).to_le_bytes())),
        DType::Q8_0 => values.chunks(32).for_each(|b| q8_0(b, &mut out)),
        DType::Q4_0 => values.chunks(32).for_each(|b| q4_0(b, &mut out)),
        DType::Q4_1 => values.chunks(32).for_each(|b| q4_1(b, &mut out)),
        DType::Q5_0 => values.chunks(32).for_each(|b| q5_0(b, &mut out)),
        DType::Q5_1 => values.chunks(32).for_each(|b| q5_1(b, &mut out)),
        DType::Q4_K => values.chunks(256).for_each(|b| q4_k(b, &mut out)),
        DType::Q6_K => values.chunks(256).for_each(|b| q6_k(b, &mut out)),
        _ => return None,
    }
    Some(out)
}

fn half(out: &mut Vec<u8>, v: f32) {
    out.extend(f32_to_f16(v).to_le_bytes());
}

fn signed_absmax(b: &[f32]) -> f32 {
    b.iter()
        .copied()
        .fold(0f32, |m, v| if v.abs() > m.abs() { v } else { m })
}

fn q8_0(b: &[f32], out: &mut Vec<u8>) {
    let amax = b.iter().fold(0f32, |m, v| m.max(v.abs()));
    let d = amax / 127.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    half(out, d);
    out.extend(b.iter().map(|&v| (v * id).round() as i8 as u8));
}

fn pack_nibbles(q: &[u8], out: &mut Vec<u8>) {
    for j in 0..16 {
        out.push((q[j] & 0x0f) | (q[j + 16] << 4));
    }
}

fn q4_0(b: &[f32], out: &mut Vec<u8>) {
    let max = signed_absmax(b);
    let d = max / -8.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    half(out, d);
    let q: Vec<u8> = b
        .iter()
        .map(|&v| ((v * id + 8.5) as i32).clamp(0, 15) as u8)
        .collect();
    pack_nibbles(&q, out);
}

fn min_max(b: &[f32]) -> (f32, f32) {
    b.iter()
        .fold((f32::MAX, f32::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

fn q4_1(b: &[f32], out: &mut Vec<u8>) {
    let (min, max) = min_max(b);
    let d = (max - min) / 15.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    half(out, d);
    half(out, min);
    let q: Vec<u8> = b
        .iter()
        .map(|&v| (((v - min) * id + 0.5) as i32).clamp(0, 15) as u8)
        .collect();
    pack_nibbles(&q, out);
}

fn five_bits(q: &[u8], out: &mut Vec<u8>) {
    let mut qh = 0u32;
    for j in 0..16 {
        qh |= ((q[j] as u32 >> 4) & 1) << j;
        qh |= ((q[j + 16] as u32 >> 4) & 1) << (j + 16);
    }
    out.extend(qh.to_le_bytes());
    pack_nibbles(q, out);
}

fn q5_0(b: &[f32], out: &mut Vec<u8>) {
    let max = signed_absmax(b);
    let d = max / -16.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    half(out, d);
    let q: Vec<u8> = b
        .iter()
        .map(|&v| ((v * id + 16.5) as i32).clamp(0, 31) as u8)
        .collect();
    five_bits(&q, out);
}

fn q5_1(b: &[f32], out: &mut Vec<u8>) {
    let (min, max) = min_max(b);
    let d = (max - min) / 31.0;
    let id = if d != 0.0 { 1.0 / d } else { 0.0 };
    half(out, d);
    half(out, min);
    let q: Vec<u8> = b
        .iter()
        .map(|&v| (((v - min) * id + 0.5) as i32).clamp(0, 31) as u8)
        .collect();
    five_bits(&q, out);
}

fn q4_k(b: &[f32], out: &mut Vec<u8>) {
    // per sub-block of 32: x ≈ scale·q − min with q in 0..=15, min ≥ 0
    let mut scales = [0f32; 8];
    let mut mins = [0f32; 8];
    for s in 0..8 {
        let (lo, hi) = min_max(&b[32 * s..32 * s + 32]);
        let lo = lo.min(0.0);
        scales[s] = (hi - lo) / 15.0;
        mins[s] = -lo;
    }
    let max_scale = scales.iter().fold(0f32, |m, &v| m.max(v));
    let max_min = mins.iter().fold(0f32, |m, &v| m.max(v));
    let d = f16_round(max_scale / 63.0);
    let dmin = f16_round(max_min / 63.0);
    let mut sc = [0u8; 8];
    let mut m = [0u8; 8];
    for s in 0..8 {
        sc[s] = if d > 0.0 {
            ((scales[s] / d).round() as i32).clamp(0, 63) as u8
        } else {
            0
        };
        m[s] = if dmin > 0.0 {
            ((mins[s] / dmin).round() as i32).clamp(0, 63) as u8
        } else {
            0
        };
    }
    half(out, d);
    half(out, dmin);
    let mut packed = [0u8; 12];
    for j in 0..4 {
        packed[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
        packed[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
        packed[j + 8] = (sc[j + 4] & 0x0f) | ((m[j + 4] & 0x0f) << 4);
    }
    out.extend(packed);
    let mut q = [0u8; 256];
    for (i, &v) in b.iter().enumerate() {
        let s = i / 32;
        let step = d * sc[s] as f32;
        q[i] = if step > 0.0 {
            (((v + dmin * m[s] as f32) / step).round() as i32).clamp(0, 15) as u8
        } else {
            0
        };
    }
    for g in 0..4 {
        for l in 0..32 {
            out.push(q[64 * g + l] | (q[64 * g + 32 + l] << 4));
        }
    }
}

fn q6_k(b: &[f32], out: &mut Vec<u8>) {
    // per sub-block of 16: x ≈ d·sc·(q − 32), q in 0..=63
    let mut scales = [0f32; 16];
    for s in 0..16 {
        scales[s] = b[16 * s..16 * s + 16]
            .iter()
            .fold(0f32, |m, v| m.max(v.abs()))
            / 31.0;
    }
    let d = f16_round(scales.iter().fold(0f32, |m, &v| m.max(v)) / 127.0);
    let mut sc = [0i8; 16];
    for s in 0..16 {
        sc[s] = if d > 0.0 {
            ((scales[s] / d).round() as i32).clamp(0, 127) as i8
        } else {
            0
        };
    }
    let mut q = [0u8; 256];
    for (i, &v) in b.iter().enumerate() {
        let step = d * sc[i / 16] as f32;
        q[i] = if step > 0.0 {
            ((v / step).round() as i32).clamp(-32, 31) as u8
        } else {
            0
        }
        .wrapping_add(32);
    }
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    for n in 0..2 {
        for l in 0..32 {
            let q1 = q[128 * n + l];
            let q2 = q[128 * n + l + 32];
            let q3 = q[128 * n + l + 64];
            let q4 = q[128 * n + l + 96];
            ql[64 * n + l] = (q1 & 0x0f) | ((q3 & 0x0f) << 4);
            ql[64 * n + l + 32] = (q2 & 0x0f) | ((q4 & 0x0f) << 4);
            qh[32 * n + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
        }
    }
    out.extend(ql);
    out.extend(qh);
    out.extend(sc.iter().map(|&s| s as u8));
    half(out, d);
}

fn f16_round(v: f32) -> f32 {
    crate::dtype::f16_to_f32(f32_to_f16(v))
}

/// A safetensors file of `tensors`, each in `dtype` (F32, F16, BF16). With [`DType::I8`]
/// each tensor is stored as per-row absmax int8 and its scales as `NAME.scale` (F32), the
/// layout of 8-bit checkpoints; tensors of other types than these are refused (None).
pub fn safetensors(tensors: &[Tensor], dtype: DType) -> Option<Vec<u8>> {
    let mut parts: Vec<(String, Vec<u64>, &'static str, Vec<u8>)> = Vec::new();
    for t in tensors {
        match dtype {
            DType::F32 | DType::F16 | DType::BF16 => {
                parts.push((
                    t.name.clone(),
                    t.shape.clone(),
                    dtype.name(),
                    encode(&t.values, dtype)?,
                ));
            }
            DType::I8 => {
                let row = *t.shape.last().unwrap_or(&1) as usize;
                let mut q = Vec::with_capacity(t.values.len());
                let mut scales = Vec::new();
                for r in t.values.chunks(row.max(1)) {
                    let amax = r.iter().fold(0f32, |m, v| m.max(v.abs()));
                    let s = if amax > 0.0 { amax / 127.0 } else { 1.0 };
                    scales.push(s);
                    q.extend(
                        r.iter()
                            .map(|&v| (v / s).round().clamp(-127.0, 127.0) as i8 as u8),
                    );
                }
                parts.push((t.name.clone(), t.shape.clone(), "I8", q));
                let rows = scales.len() as u64;
                parts.push((
                    format!("{}.scale", t.name),
                    vec![rows],
                    "F32",
                    encode(&scales, DType::F32)?,
                ));
            }
            _ => return None,
        }
    }
    let mut header = Map::new();
    let mut at = 0u64;
    for (name, shape, dt, bytes) in &parts {
        let end = at + bytes.len() as u64;
        header.insert(
            name.clone(),
            json!({"dtype": dt, "shape": shape, "data_offsets": [at, end]}),
        );
        at = end;
    }
    header.insert(
        "__metadata__".into(),
        json!({"format": "pt", "writer": "modelward-fingerprint"}),
    );
    let mut text = Value::Object(header).to_string().into_bytes();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    for (_, _, _, bytes) in parts {
        out.extend(bytes);
    }
    Some(out)
}

/// A GGUF v3 file of `tensors`, each in `dtype` where it is whole blocks along its rows and
/// F32 otherwise (as llama.cpp keeps norms in F32), with `general.architecture` and
/// `general.name`; dimensions written innermost first. None for a type not written here.
pub fn gguf(tensors: &[Tensor], dtype: DType, architecture: &str) -> Option<Vec<u8>> {
    gguf_kv(tensors, dtype, architecture, &[])
}

/// [`gguf`] with more key/values, each a u32 (e.g. `llama.attention.head_count`).
pub fn gguf_kv(
    tensors: &[Tensor],
    dtype: DType,
    architecture: &str,
    ints: &[(String, u32)],
) -> Option<Vec<u8>> {
    const ALIGN: u64 = 32;
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u64).to_le_bytes());
        out.extend(s.as_bytes());
    }
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((3 + ints.len() as u64).to_le_bytes());
    string(&mut out, "general.architecture");
    out.extend(8u32.to_le_bytes());
    string(&mut out, architecture);
    string(&mut out, "general.name");
    out.extend(8u32.to_le_bytes());
    string(&mut out, "modelward test model");
    string(&mut out, "general.alignment");
    out.extend(4u32.to_le_bytes());
    out.extend((ALIGN as u32).to_le_bytes());
    for (k, v) in ints {
        string(&mut out, k);
        out.extend(4u32.to_le_bytes());
        out.extend(v.to_le_bytes());
    }
    let mut data = Vec::new();
    for t in tensors {
        let row = *t.shape.last().unwrap_or(&1);
        let dt = if row % dtype.unit().0 == 0 {
            dtype
        } else {
            DType::F32
        };
        let bytes = encode(&t.values, dt)?;
        while !(data.len() as u64).is_multiple_of(ALIGN) {
            data.push(0);
        }
        string(&mut out, &t.name);
        out.extend((t.shape.len() as u32).to_le_bytes());
        for d in t.shape.iter().rev() {
            out.extend(d.to_le_bytes());
        }
        out.extend(dt.ggml_id()?.to_le_bytes());
        out.extend((data.len() as u64).to_le_bytes());
        data.extend(bytes);
    }
    while !(out.len() as u64).is_multiple_of(ALIGN) {
        out.push(0);
    }
    out.extend(data);
    Some(out)
}

/// CRC-32 (IEEE), for zip entries.
fn crc32(data: &[u8]) -> u32 {
    let mut table = [0u32; 256];
    for (i, t) in table.iter_mut().enumerate() {
        let mut c = i as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *t = c;
    }
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ b as u32) & 0xff) as usize] ^ (c >> 8)
    })
}

/// A zip of stored (uncompressed) members.
pub fn zip_stored(members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in members {
        let offset = out.len() as u32;
        let crc = crc32(data);
        let header = |sig: u32, central: bool| {
            let mut h = sig.to_le_bytes().to_vec();
            if central {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes()); // version needed
            h.extend(0u16.to_le_bytes()); // flags
            h.extend(0u16.to_le_bytes()); // stored
            h.extend(0u16.to_le_bytes()); // time
            h.extend(0x21u16.to_le_bytes()); // 1980-01-01
            h.extend(crc.to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((data.len() as u32).to_le_bytes());
            h.extend((name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes()); // extra
            if central {
                h.extend([0u8; 6]); // comment length, disk, internal attributes
                h.extend(0u32.to_le_bytes()); // external attributes
                h.extend(offset.to_le_bytes());
            }
            h.extend(name.as_bytes());
            h
        };
        out.extend(header(0x0403_4b50, false));
        out.extend(data);
        central.extend(header(0x0201_4b50, true));
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// A PyTorch zip checkpoint as `torch.save(state_dict)` writes it: `archive/data.pkl` (a
/// protocol-2 pickle of an `OrderedDict` of `torch._utils._rebuild_tensor_v2` calls on
/// persistent-id storages), `archive/data/N`, `archive/byteorder`, `archive/version`; each
/// tensor in `dtype` (F32, F16, BF16). With `transposed`, matrices are stored as views of
/// their transpose's storage (strides `[1, rows]`), as a saved `w.t()` is.
pub fn pytorch_zip(tensors: &[Tensor], dtype: DType, transposed: bool) -> Option<Vec<u8>> {
    let class = match dtype {
        DType::F32 => "FloatStorage",
        DType::F16 => "HalfStorage",
        DType::BF16 => "BFloat16Storage",
        _ => return None,
    };
    fn text(p: &mut Vec<u8>, s: &str) {
        p.push(b'X');
        p.extend((s.len() as u32).to_le_bytes());
        p.extend(s.as_bytes());
    }
    fn int(p: &mut Vec<u8>, v: u64) {
        p.push(b'J');
        p.extend((v as i32).to_le_bytes());
    }
    let mut p = vec![0x80, 2];
    p.extend(b"ccollections\nOrderedDict\n)R(");
    let mut members = Vec::new();
    for (i, t) in tensors.iter().enumerate() {
        let mut values = t.values.clone();
        let mut stride: Vec<u64> = Vec::new();
        let mut acc = 1u64;
        for &d in t.shape.iter().rev() {
            stride.insert(0, acc);
            acc *= d;
        }
        if transposed && t.shape.len() == 2 {
            let (r, c) = (t.shape[0] as usize, t.shape[1] as usize);
            for a in 0..r {
                for b in 0..c {
                    values[b * r + a] = t.values[a * c + b];
                }
            }
            stride = vec![1, r as u64];
        }
        members.push((format!("archive/data/{i}"), encode(&values, dtype)?));
        text(&mut p, &t.name);
        p.extend(b"ctorch._utils\n_rebuild_tensor_v2\n(");
        p.push(b'(');
        text(&mut p, "storage");
        p.extend(format!("ctorch\n{class}\n").as_bytes());
        text(&mut p, &i.to_string());
        text(&mut p, "cpu");
        int(&mut p, values.len() as u64);
        p.extend(b"tQ");
        int(&mut p, 0);
        p.push(b'(');
        t.shape.iter().for_each(|&d| int(&mut p, d));
        p.extend(b"t(");
        stride.iter().for_each(|&s| int(&mut p, s));
        p.push(b't');
        p.push(0x89);
        p.extend(b"ccollections\nOrderedDict\n)R");
        p.extend(b"tR");
    }
    p.extend(b"u.");
    let mut all = vec![
        ("archive/data.pkl".to_string(), p),
        ("archive/byteorder".to_string(), b"little".to_vec()),
    ];
    all.extend(members);
    all.push(("archive/version".to_string(), b"3\n".to_vec()));
    Some(zip_stored(&all))
}

/// An ONNX `ModelProto` (IR version 8, opset 17) whose graph holds `tensors` as F32
/// initializers in `raw_data` (and no nodes).
pub fn onnx(tensors: &[Tensor]) -> Vec<u8> {
    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }
    fn field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
        varint(out, number << 3 | 2);
        varint(out, payload.len() as u64);
        out.extend(payload);
    }
    let mut graph = Vec::new();
    for t in tensors {
        let mut init = Vec::new();
        for &d in &t.shape {
            varint(&mut init, 1 << 3);
            varint(&mut init, d);
        }
        varint(&mut init, 2 << 3);
        varint(&mut init, 1);
        field(&mut init, 8, t.name.as_bytes());
        let raw: Vec<u8> = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
        field(&mut init, 9, &raw);
        field(&mut graph, 5, &init);
    }
    field(&mut graph, 2, b"modelward-test");
    let mut out = Vec::new();
    varint(&mut out, 1 << 3);
    varint(&mut out, 8);
    field(&mut out, 2, b"modelward-fingerprint");
    field(&mut out, 7, &graph);
    let mut opset = Vec::new();
    field(&mut opset, 1, b"");
    varint(&mut opset, 2 << 3);
    varint(&mut opset, 17);
    field(&mut out, 8, &opset);
    out
}

/// A NumPy `.npy` file (version 1.0, little-endian f32, C order).
pub fn npy(shape: &[u64], values: &[f32]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape_text}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    values.iter().for_each(|v| out.extend(v.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 * 0.37).sin() + (i as f32 * 0.011).cos() * 0.5) * 0.02)
            .collect()
    }

    #[test]
    fn quantizers_round_trip_through_the_decoders() {
        let x = wave(1024);
        let rms = (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt();
        for (t, tol) in [
            (DType::F16, 0.001),
            (DType::BF16, 0.01),
            (DType::Q8_0, 0.01),
            (DType::Q5_0, 0.05),
            (DType::Q5_1, 0.05),
            (DType::Q4_0, 0.1),
            (DType::Q4_1, 0.1),
            (DType::Q6_K, 0.03),
            (DType::Q4_K, 0.12),
        ] {
            let bytes = encode(&x, t).unwrap();
            let (e, b) = t.unit();
            assert_eq!(bytes.len() as u64, x.len() as u64 / e * b, "{t}");
            let mut y = vec![0f32; x.len()];
            for (i, unit) in bytes.chunks(b as usize).enumerate() {
                t.decode(unit, &mut y[i * e as usize..(i + 1) * e as usize]);
            }
            let err = (x
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f32>()
                / x.len() as f32)
                .sqrt();
            assert!(err < tol * rms, "{t}: rms error {err} against {rms}");
        }
        assert!(encode(&x[..31], DType::Q4_0).is_none());
    }
}
