//! Small model files written by each format's specification (and tar and zip archives to
//! hold them), for tests, fuzz seeds, benchmarks and examples. Every file here is real enough
//! for its format's own reader: headers and offsets are consistent.

use std::io::Write;

use serde_json::{json, Value};

/// A safetensors file by the specification.
pub fn safetensors_with(header: &Value, data_len: usize) -> Vec<u8> {
    let h = serde_json::to_vec(header).unwrap();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    out.extend(std::iter::repeat_n(0u8, data_len));
    out
}

pub fn safetensors() -> Vec<u8> {
    safetensors_with(
        &json!({
            "__metadata__": {"format": "pt", "model": "tiny-llama"},
            "embed.weight": {"dtype": "F16", "shape": [4, 2], "data_offsets": [0, 16]},
            "lm_head.weight": {"dtype": "F16", "shape": [2, 4], "data_offsets": [16, 32]},
            "norm.weight": {"dtype": "F32", "shape": [2], "data_offsets": [32, 40]}
        }),
        40,
    )
}

fn gguf_str(out: &mut Vec<u8>, v: &str) {
    out.extend((v.len() as u64).to_le_bytes());
    out.extend(v.as_bytes());
}

/// A version-3 GGUF file by the specification: architecture, name, a token array, two
/// tensors.
pub fn gguf() -> Vec<u8> {
    let mut b = b"GGUF".to_vec();
    b.extend(3u32.to_le_bytes());
    b.extend(2u64.to_le_bytes()); // tensors
    b.extend(5u64.to_le_bytes()); // kvs
    gguf_str(&mut b, "general.architecture");
    b.extend(8u32.to_le_bytes());
    gguf_str(&mut b, "llama");
    gguf_str(&mut b, "general.name");
    b.extend(8u32.to_le_bytes());
    gguf_str(&mut b, "Tiny Llama");
    gguf_str(&mut b, "llama.context_length");
    b.extend(4u32.to_le_bytes());
    b.extend(4096u32.to_le_bytes());
    gguf_str(&mut b, "tokenizer.ggml.tokens");
    b.extend(9u32.to_le_bytes());
    b.extend(8u32.to_le_bytes());
    b.extend(3u64.to_le_bytes());
    for t in ["<s>", "</s>", "a"] {
        gguf_str(&mut b, t);
    }
    gguf_str(&mut b, "llama.rope.scores");
    b.extend(9u32.to_le_bytes());
    b.extend(6u32.to_le_bytes());
    b.extend(2u64.to_le_bytes());
    b.extend(1.0f32.to_le_bytes());
    b.extend(2.0f32.to_le_bytes());
    for (name, dims, t) in [
        ("tok_embd.weight", [3u64, 4], 1u32),
        ("output.weight", [4, 3], 8),
    ] {
        gguf_str(&mut b, name);
        b.extend(2u32.to_le_bytes());
        for d in dims {
            b.extend(d.to_le_bytes());
        }
        b.extend(t.to_le_bytes());
        b.extend(0u64.to_le_bytes());
    }
    b.extend([0u8; 64]);
    b
}

/// `pickle.dumps(collections.OrderedDict(), protocol=2)`-like bytes.
pub fn pickle_ordered_dict() -> Vec<u8> {
    b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.".to_vec()
}

/// A protocol-4 pickle whose reduce calls `os.system("echo pwned")`.
pub fn pickle_malicious() -> Vec<u8> {
    let mut b = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00".to_vec();
    b.extend(b"\x8c\x05posix\x94\x8c\x06system\x94\x93\x94");
    b.extend(b"\x8c\x0aecho pwned\x94\x85\x94R\x94.");
    b
}

/// The start of a legacy `torch.save` file.
pub fn torch_legacy() -> Vec<u8> {
    let mut b = crate::format::pickle::TORCH_LEGACY_MAGIC.to_vec();
    b.extend(b"\x80\x02M\xe9\x03.");
    b.extend(b"\x80\x02}q\x00(X\x10\x00\x00\x00protocol_versionq\x01M\xe9\x03u.");
    b.extend(b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.");
    b
}

pub fn pytorch_zip() -> Vec<u8> {
    let pkl = b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\nq\x00.".to_vec();
    zip(&[
        ("archive/data.pkl", pkl.as_slice(), false),
        ("archive/byteorder", b"little", false),
        ("archive/data/0", &[0u8; 64], false),
        ("archive/data/1", &[0u8; 32], true),
        ("archive/version", b"3\n", false),
    ])
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive (stored or deflated members) by the specification.
pub fn zip(members: &[(&str, &[u8], bool)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dir = Vec::new();
    for (name, data, deflate) in members {
        let body = if *deflate {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        } else {
            data.to_vec()
        };
        let method: u16 = if *deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let crc = crc32(data);
        out.extend(b"PK\x03\x04");
        out.extend(20u16.to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(method.to_le_bytes());
        out.extend([0u8; 4]);
        out.extend(crc.to_le_bytes());
        out.extend((body.len() as u32).to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend((name.len() as u16).to_le_bytes());
        out.extend(0u16.to_le_bytes());
        out.extend(name.as_bytes());
        out.extend(&body);
        dir.extend(b"PK\x01\x02");
        dir.extend(20u16.to_le_bytes());
        dir.extend(20u16.to_le_bytes());
        dir.extend(0u16.to_le_bytes());
        dir.extend(method.to_le_bytes());
        dir.extend([0u8; 4]);
        dir.extend(crc.to_le_bytes());
        dir.extend((body.len() as u32).to_le_bytes());
        dir.extend((data.len() as u32).to_le_bytes());
        dir.extend((name.len() as u16).to_le_bytes());
        dir.extend([0u8; 12]);
        dir.extend(offset.to_le_bytes());
        dir.extend(name.as_bytes());
    }
    let dir_offset = out.len() as u32;
    out.extend(&dir);
    out.extend(b"PK\x05\x06");
    out.extend([0u8; 4]);
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((dir.len() as u32).to_le_bytes());
    out.extend(dir_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    out
}

/// An HDF5 superblock (version 0) followed by bytes that, for Keras, hold its attribute
/// names as h5py writes them in the root object header.
pub fn hdf5(keras: bool) -> Vec<u8> {
    let mut b = crate::format::hdf5::SIGNATURE.to_vec();
    b.extend([0u8, 0, 0, 0, 0, 8, 8, 0]);
    b.extend([0u8; 80]);
    if keras {
        b.extend(b"\x0c\x00\x0e\x00keras_version\x00\x00\x00\x13\x00\x00\x002.13.1\x00");
        b.extend(b"backend\x00tensorflow\x00model_config\x00{\"class_name\": \"Sequential\"}");
    }
    b.extend([0u8; 64]);
    b
}

/// An `.npy` file (version 1.0) by the specification.
pub fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY".to_vec();
    b.extend([1, 0]);
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    b.extend(data);
    b
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub fn put_varint_field(out: &mut Vec<u8>, number: u64, v: u64) {
    put_varint(out, number << 3);
    put_varint(out, v);
}

pub fn put_bytes_field(out: &mut Vec<u8>, number: u64, bytes: &[u8]) {
    put_varint(out, (number << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend(bytes);
}

/// A ModelProto with one Relu node, one initializer, an input and an output.
pub fn onnx() -> Vec<u8> {
    let mut node = Vec::new();
    put_bytes_field(&mut node, 1, b"x");
    put_bytes_field(&mut node, 2, b"y");
    put_bytes_field(&mut node, 4, b"Relu");
    let mut graph = Vec::new();
    put_bytes_field(&mut graph, 1, &node);
    put_bytes_field(&mut graph, 2, b"tiny_graph");
    put_bytes_field(&mut graph, 5, &[0x08, 0x02, 0x10, 0x01]);
    put_bytes_field(&mut graph, 11, &[0x0a, 0x01, b'x']);
    put_bytes_field(&mut graph, 12, &[0x0a, 0x01, b'y']);
    let mut opset = Vec::new();
    put_bytes_field(&mut opset, 1, b"");
    put_varint_field(&mut opset, 2, 17);
    let mut m = Vec::new();
    put_varint_field(&mut m, 1, 8);
    put_bytes_field(&mut m, 2, b"pytorch");
    put_bytes_field(&mut m, 3, b"2.1.0");
    put_bytes_field(&mut m, 7, &graph);
    put_bytes_field(&mut m, 8, &opset);
    m
}

/// A SavedModel with one meta graph tagged `serve` and a `serving_default` signature.
pub fn saved_model_pb() -> Vec<u8> {
    let mut info = Vec::new();
    put_bytes_field(&mut info, 4, b"serve");
    put_bytes_field(&mut info, 5, b"2.15.0");
    let mut sig_entry = Vec::new();
    put_bytes_field(&mut sig_entry, 1, b"serving_default");
    put_bytes_field(&mut sig_entry, 2, b"");
    let mut graph_def = Vec::new();
    put_bytes_field(&mut graph_def, 1, b"");
    let mut meta = Vec::new();
    put_bytes_field(&mut meta, 1, &info);
    put_bytes_field(&mut meta, 2, &graph_def);
    put_bytes_field(&mut meta, 5, &sig_entry);
    let mut b = Vec::new();
    put_varint_field(&mut b, 1, 1);
    put_bytes_field(&mut b, 2, &meta);
    b
}

/// A minimal TFLite flatbuffer: version 3, two subgraphs, a description.
pub fn tflite() -> Vec<u8> {
    let mut out = vec![0u8; 64];
    out[0..4].copy_from_slice(&20u32.to_le_bytes()); // table at 20
    out[4..8].copy_from_slice(b"TFL3");
    // vtable at 8
    out[8..10].copy_from_slice(&12u16.to_le_bytes());
    out[10..12].copy_from_slice(&16u16.to_le_bytes());
    out[12..14].copy_from_slice(&4u16.to_le_bytes());
    out[14..16].copy_from_slice(&0u16.to_le_bytes());
    out[16..18].copy_from_slice(&8u16.to_le_bytes());
    out[18..20].copy_from_slice(&12u16.to_le_bytes());
    // table at 20: soffset to vtable = 20 - 8 = 12
    out[20..24].copy_from_slice(&12i32.to_le_bytes());
    out[24..28].copy_from_slice(&3u32.to_le_bytes()); // version
    out[28..32].copy_from_slice(&8u32.to_le_bytes()); // subgraphs vector at 36
    out[32..36].copy_from_slice(&12u32.to_le_bytes()); // description at 44
    out[36..40].copy_from_slice(&2u32.to_le_bytes()); // 2 subgraphs
    out[44..48].copy_from_slice(&4u32.to_le_bytes());
    out[48..52].copy_from_slice(b"tiny");
    out
}

fn tar_header(name: &str, size: u64, kind: u8) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(b"0000644");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|&b| b as u64).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A ustar archive by POSIX; names longer than 100 bytes get a GNU long-name entry.
pub fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        if name.len() >= 100 {
            let mut n = name.as_bytes().to_vec();
            n.push(0);
            out.extend(tar_header("././@LongLink", n.len() as u64, b'L'));
            out.extend(&n);
            out.extend(std::iter::repeat_n(0u8, (512 - n.len() % 512) % 512));
        }
        out.extend(tar_header(
            &name[..name.len().min(99)],
            data.len() as u64,
            b'0',
        ));
        out.extend(*data);
        out.extend(std::iter::repeat_n(0u8, (512 - data.len() % 512) % 512));
    }
    out.extend([0u8; 1024]);
    out
}

/// An `.npz` of two arrays (`w`, deflated; `b`, stored).
pub fn npz() -> Vec<u8> {
    let a = npy("<i8", "(2,)", &[0; 16]);
    let b = npy("<f8", "(1, 1)", &[0; 8]);
    zip(&[("w.npy", &a, true), ("b.npy", &b, false)])
}

/// A Keras v3 `.keras` zip.
pub fn keras_v3() -> Vec<u8> {
    let h5 = hdf5(false);
    zip(&[
        (
            "metadata.json",
            br#"{"keras_version": "3.4.1", "date_saved": "2024-07-01@10:00:00"}"#,
            true,
        ),
        (
            "config.json",
            br#"{"module": "keras", "class_name": "Sequential", "config": {"name": "tiny"}}"#,
            true,
        ),
        ("model.weights.h5", &h5, false),
    ])
}

/// One sample of every format, with the format it must be identified as.
pub fn all() -> Vec<(crate::Format, Vec<u8>)> {
    use crate::Format as F;
    vec![
        (F::Safetensors, safetensors()),
        (F::Gguf, gguf()),
        (F::PytorchZip, pytorch_zip()),
        (F::PytorchLegacy, torch_legacy()),
        (F::Pickle, pickle_malicious()),
        (F::Onnx, onnx()),
        (F::Hdf5, hdf5(false)),
        (F::KerasH5, hdf5(true)),
        (F::KerasV3, keras_v3()),
        (F::TfSavedModel, saved_model_pb()),
        (F::Tflite, tflite()),
        (F::Npy, npy("<f4", "(3, 4)", &[0; 48])),
        (F::Npz, npz()),
    ]
}
