//! Fingerprints of generated models, built from one file and matched against converted,
//! quantized, renamed, reordered, transposed, fine-tuned and unrelated copies.

use std::sync::OnceLock;

use modelward_fingerprint::dtype::DType;
use modelward_fingerprint::synth::{gguf_name, perturb, train_mlps, Arch, Rng};
use modelward_fingerprint::write::{self, Tensor};
use modelward_fingerprint::{read, Key, ModelMatch, ModelPrint, Plans, Suspect, View};

const KEY: &[u8] = b"test key: never a real one";

fn key() -> Key {
    Key::new(KEY)
}

/// Our model: a 2-layer LLaMA-like decoder of random weights.
fn ours() -> &'static Vec<Tensor> {
    static M: OnceLock<Vec<Tensor>> = OnceLock::new();
    M.get_or_init(|| Arch::tiny_llama(2).random(1))
}

/// Its fingerprint, registered from a safetensors F32 file.
fn print() -> &'static ModelPrint {
    static P: OnceLock<ModelPrint> = OnceLock::new();
    P.get_or_init(|| print_of("ours", &write::safetensors(ours(), DType::F32).unwrap()))
}

fn print_of(name: &str, file: &[u8]) -> ModelPrint {
    let k = key();
    let mut p = ModelPrint::new(name, &k);
    assert!(p
        .add_file(&k, &mut Plans::default(), &file.to_vec())
        .unwrap());
    p
}

fn compare(file: Vec<u8>, model: &ModelPrint) -> ModelMatch {
    let tensors = read::tensors(&file)
        .unwrap()
        .expect("a tensor file")
        .tensors;
    Suspect::new(&key(), &file, tensors).compare(model).unwrap()
}

fn gguf_named(model: &[Tensor]) -> Vec<Tensor> {
    model
        .iter()
        .map(|t| Tensor::new(&gguf_name(&t.name), &t.shape, t.values.clone()))
        .collect()
}

fn assert_matched(m: &ModelMatch, what: &str) {
    let p = print();
    assert!(
        m.log10_p() < -9.0,
        "{what}: false-match log10 p {} (agreement {:?})",
        m.log10_p(),
        m.agreement
    );
    assert!(m.is_match(1e-9), "{what}");
    assert_eq!(
        m.pairs.len(),
        p.tensors.len(),
        "{what}: every tensor paired"
    );
    assert!(
        m.matched >= p.tensors.len() * 9 / 10,
        "{what}: {} of {} tensors matched",
        m.matched,
        p.tensors.len()
    );
}

fn assert_unrelated(m: &ModelMatch, what: &str) {
    assert!(
        m.log10_p() > -3.0,
        "{what}: false-match log10 p {} for an unrelated model",
        m.log10_p()
    );
    let a = m.agreement.unwrap();
    assert!((0.44..=0.56).contains(&a), "{what}: agreement {a}");
    assert!(m.matched == 0, "{what}: {} tensors matched", m.matched);
}

#[test]
fn the_fingerprint_covers_the_weights_and_skips_the_norms() {
    let p = print();
    // embed, lm_head and 7 matrices per layer; the 256-element norms are too small
    assert_eq!(p.tensors.len(), 2 + 2 * 7);
    assert_eq!(p.skipped.len(), 2 * 2 + 1);
    assert!(p
        .tensors
        .iter()
        .all(|t| t.samples[0] > 0 && t.samples[1] > 0));
    assert_eq!(p.key_id, key().id());
}

#[test]
fn the_same_file_matches_perfectly() {
    let m = compare(write::safetensors(ours(), DType::F32).unwrap(), print());
    assert_matched(&m, "itself");
    assert_eq!(m.agreement, Some(1.0));
    assert!(m
        .pairs
        .iter()
        .all(|p| p.view == View::Identity && p.suspect == p.reference));
}

#[test]
fn casts_to_half_and_bfloat_and_int8_match() {
    for dt in [DType::F16, DType::BF16, DType::I8] {
        let m = compare(write::safetensors(ours(), dt).unwrap(), print());
        assert_matched(&m, dt.name());
        assert!(m.agreement.unwrap() > 0.95, "{dt}: {:?}", m.agreement);
    }
}

#[test]
fn gguf_conversion_and_quantization_match() {
    let named = gguf_named(ours());
    for dt in [
        DType::F32,
        DType::F16,
        DType::Q8_0,
        DType::Q6_K,
        DType::Q5_1,
        DType::Q5_0,
        DType::Q4_1,
        DType::Q4_0,
        DType::Q4_K,
    ] {
        let file = write::gguf(&named, dt, "llama").unwrap();
        let m = compare(file, print());
        assert_matched(&m, dt.name());
        assert!(m.agreement.unwrap() > 0.85, "{dt}: {:?}", m.agreement);
        assert!(
            m.pairs.iter().all(|p| gguf_name(&p.reference) == p.suspect),
            "{dt}"
        );
    }
}

#[test]
fn renamed_and_reordered_tensors_match() {
    let mut shuffled: Vec<Tensor> = ours()
        .iter()
        .enumerate()
        .map(|(i, t)| {
            Tensor::new(
                &format!("w{:03}", (i * 37) % 101),
                &t.shape,
                t.values.clone(),
            )
        })
        .collect();
    let mut rng = Rng::new(9);
    for i in (1..shuffled.len()).rev() {
        let j = (rng.u64() % (i as u64 + 1)) as usize;
        shuffled.swap(i, j);
    }
    let m = compare(
        write::gguf(&shuffled, DType::Q4_0, "llama").unwrap(),
        print(),
    );
    assert_matched(&m, "renamed, reordered, q4_0");
}

#[test]
fn transposed_matrices_match_through_the_transpose_view() {
    let transposed: Vec<Tensor> = ours()
        .iter()
        .map(|t| {
            if t.shape.len() != 2 {
                return t.clone();
            }
            let (r, c) = (t.shape[0] as usize, t.shape[1] as usize);
            let mut v = vec![0f32; r * c];
            for i in 0..r {
                for j in 0..c {
                    v[j * r + i] = t.values[i * c + j];
                }
            }
            Tensor::new(&t.name, &[c as u64, r as u64], v)
        })
        .collect();
    let m = compare(
        write::safetensors(&transposed, DType::F16).unwrap(),
        print(),
    );
    assert_matched(&m, "transposed");
    // square matrices may pair either way round; the others only transposed
    assert!(m
        .pairs
        .iter()
        .filter(|p| p.shape[0] != p.shape[1])
        .all(|p| p.view == View::Transpose));
}

#[test]
fn fine_tuned_copies_match() {
    for rel in [0.01, 0.05, 0.2] {
        let tuned = perturb(ours(), rel, 77);
        let file = write::gguf(&gguf_named(&tuned), DType::Q4_0, "llama").unwrap();
        let m = compare(file, print());
        assert_matched(&m, &format!("noise {rel} of σ, then q4_0"));
    }
}

#[test]
fn a_model_trained_on_toy_data_matches_its_fine_tuned_copy_and_not_another() {
    let arch = Arch::tiny_llama(1);
    let mut a = arch.random(11);
    train_mlps(&mut a, 1, 40, 8, 0.05);
    let reference = print_of("trained", &write::safetensors(&a, DType::BF16).unwrap());
    let mut tuned = a.clone();
    train_mlps(&mut tuned, 2, 20, 8, 0.05);
    let tensors = |f: &Vec<u8>| read::tensors(f).unwrap().unwrap().tensors;
    let file = write::gguf(&gguf_named(&tuned), DType::Q4_K, "llama").unwrap();
    let m = Suspect::new(&key(), &file, tensors(&file))
        .compare(&reference)
        .unwrap();
    assert!(m.log10_p() < -9.0, "fine-tuned: {}", m.log10_p());
    let mut b = arch.random(12);
    train_mlps(&mut b, 1, 40, 8, 0.05);
    let file = write::gguf(&gguf_named(&b), DType::Q4_K, "llama").unwrap();
    let m = Suspect::new(&key(), &file, tensors(&file))
        .compare(&reference)
        .unwrap();
    assert!(m.log10_p() > -3.0, "unrelated trained: {}", m.log10_p());
}

#[test]
fn unrelated_models_of_the_same_shapes_do_not_match() {
    for seed in [2, 3, 4] {
        let other = Arch::tiny_llama(2).random(seed);
        let m = compare(write::safetensors(&other, DType::F32).unwrap(), print());
        assert_unrelated(&m, &format!("seed {seed}"));
        assert_eq!(m.pairs.len(), print().tensors.len());
        let m = compare(
            write::gguf(&gguf_named(&other), DType::Q4_0, "llama").unwrap(),
            print(),
        );
        assert_unrelated(&m, &format!("seed {seed}, q4_0"));
    }
}

#[test]
fn a_partial_copy_is_caught_by_its_best_tensor() {
    let part: Vec<Tensor> = Arch::tiny_llama(2)
        .random(5)
        .into_iter()
        .map(|t| {
            if t.name == "model.layers.1.mlp.down_proj.weight" {
                ours().iter().find(|o| o.name == t.name).unwrap().clone()
            } else {
                t
            }
        })
        .collect();
    let m = compare(write::safetensors(&part, DType::F16).unwrap(), print());
    assert!(m.log10_p() < -9.0, "{}", m.log10_p());
    assert_eq!(m.matched, 1);
    assert_eq!(m.pairs[0].reference, "model.layers.1.mlp.down_proj.weight");
}

#[test]
fn pytorch_zip_checkpoints_match_contiguous_and_as_views() {
    for (dt, transposed) in [(DType::F32, false), (DType::BF16, true)] {
        let file = write::pytorch_zip(ours(), dt, transposed).unwrap();
        let tf = read::tensors(&file).unwrap().unwrap();
        assert_eq!(tf.format, "pytorch_zip");
        assert_eq!(tf.tensors.len(), ours().len());
        let m = compare(file, print());
        assert_matched(&m, &format!("pytorch {dt} transposed={transposed}"));
        assert!(m
            .pairs
            .iter()
            .all(|p| p.view == View::Identity && p.suspect == p.reference));
    }
    // registered from a checkpoint, found in a GGUF
    let reference = print_of("pt", &write::pytorch_zip(ours(), DType::F16, true).unwrap());
    let m = compare(
        write::gguf(&gguf_named(ours()), DType::Q4_K, "llama").unwrap(),
        &reference,
    );
    assert!(m.log10_p() < -9.0 && m.matched == reference.tensors.len());
}

#[test]
fn onnx_initializers_match() {
    let file = write::onnx(ours());
    let tf = read::tensors(&file).unwrap().unwrap();
    assert_eq!(
        (tf.format.as_str(), tf.tensors.len()),
        ("onnx", ours().len())
    );
    let m = compare(file, print());
    assert_matched(&m, "onnx");
    assert_eq!(m.agreement, Some(1.0));
}

#[test]
fn a_numpy_array_of_one_tensor_matches() {
    let embed = &ours()[0];
    let m = compare(write::npy(&embed.shape, &embed.values), print());
    assert!(m.log10_p() < -9.0);
    assert_eq!(m.pairs.len(), 1);
    assert_eq!(m.pairs[0].reference, "model.embed_tokens.weight");
}

#[test]
fn another_key_gives_other_bits() {
    let other = Key::new(b"another key");
    let mut p = ModelPrint::new("ours", &other);
    p.add_file(
        &other,
        &mut Plans::default(),
        &write::safetensors(ours(), DType::F32).unwrap(),
    )
    .unwrap();
    assert_ne!(p.key_id, print().key_id);
    let same = p
        .tensors
        .iter()
        .zip(&print().tensors)
        .filter(|(a, b)| a.bits == b.bits)
        .count();
    assert_eq!(same, 0);
}

#[test]
fn fingerprints_survive_the_store() {
    let mut store = modelward_store::Store::open_in_memory().unwrap();
    let sources = [modelward_fingerprint::store::Source {
        path: "/models/ours.safetensors".into(),
        format: "safetensors".into(),
        size: 1,
    }];
    modelward_fingerprint::store::save(&mut store, print(), &sources, 100).unwrap();
    let loaded = modelward_fingerprint::store::load(&store).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(&loaded[0].print, print());
    assert_eq!(loaded[0].sources[0]["format"], "safetensors");
}

mod hostile {
    use super::*;
    use modelward_fingerprint::tensor::gather;

    /// Every tensor of a file read whole through `gather` (what a match does, at positions).
    fn read_all(bytes: &[u8]) {
        let blob = bytes.to_vec();
        if let Ok(Some(file)) = read::tensors(&blob) {
            for t in &file.tensors {
                let n = t.numel().min(64);
                let _ = gather(&blob, t, &(0..n).collect::<Vec<_>>());
            }
        }
    }

    fn small() -> Vec<Tensor> {
        let mut rng = Rng::new(3);
        vec![
            Tensor::new("a", &[32, 64], rng.normal(2048, 1.0)),
            Tensor::new("b", &[64], rng.normal(64, 1.0)),
        ]
    }

    #[test]
    fn mutated_files_give_errors_not_panics() {
        let mut rng = Rng::new(42);
        let files = [
            write::safetensors(&small(), DType::F16).unwrap(),
            write::gguf(&small(), DType::Q4_0, "llama").unwrap(),
            write::gguf(&small(), DType::Q6_K, "llama").unwrap(),
            write::npy(&[32, 64], &small()[0].values),
            write::pytorch_zip(&small(), DType::F16, true).unwrap(),
            write::onnx(&small()),
        ];
        for file in &files {
            for _ in 0..3000 {
                let mut f = file.clone();
                let header = f.len().min(400);
                for _ in 0..1 + rng.u64() % 4 {
                    // the first bytes (headers) or the last (a zip's central directory)
                    let mut at = (rng.u64() % header as u64) as usize;
                    if rng.u64().is_multiple_of(3) {
                        at = f.len() - 1 - at;
                    }
                    f[at] = match rng.u64() % 4 {
                        0 => 0xff,
                        1 => 0,
                        2 => rng.u64() as u8,
                        _ => f[at].wrapping_add(1),
                    };
                }
                if rng.u64().is_multiple_of(5) {
                    f.truncate((rng.u64() % f.len() as u64) as usize);
                }
                read_all(&f);
            }
        }
    }

    #[test]
    fn huge_lengths_and_bad_offsets_are_errors() {
        // safetensors: a header length past the file, and offsets past the data
        let mut st = 1u64.wrapping_shl(62).to_le_bytes().to_vec();
        st.extend(b"{}");
        assert!(read::safetensors::read(&st).is_err());
        let header = br#"{"a":{"dtype":"F32","shape":[4000000000,4000000000,4000000000],"data_offsets":[0,16]}}"#;
        let mut st = (header.len() as u64).to_le_bytes().to_vec();
        st.extend(header.as_slice());
        st.extend([0u8; 16]);
        let err = read::safetensors::read(&st).unwrap_err();
        assert!(err.to_string().contains("safetensors"), "{err}");
        let header = br#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#;
        let mut st = (header.len() as u64).to_le_bytes().to_vec();
        st.extend(header.as_slice());
        st.extend([0u8; 16]);
        assert!(read::safetensors::read(&st).is_err());
        // GGUF: a tensor count of 2^60, a name of 2^60 bytes, 2^40 dimensions, an offset
        // near u64::MAX
        let mut g = b"GGUF".to_vec();
        g.extend(3u32.to_le_bytes());
        g.extend((1u64 << 60).to_le_bytes());
        g.extend(0u64.to_le_bytes());
        assert!(read::gguf::read(&g).is_err());
        let good = write::gguf(&small(), DType::F32, "llama").unwrap();
        let mut g = b"GGUF".to_vec();
        g.extend(3u32.to_le_bytes());
        g.extend(1u64.to_le_bytes());
        g.extend(0u64.to_le_bytes());
        g.extend((1u64 << 60).to_le_bytes());
        assert!(read::gguf::read(&g).is_err());
        let mut g = b"GGUF".to_vec();
        g.extend(3u32.to_le_bytes());
        g.extend(1u64.to_le_bytes());
        g.extend(0u64.to_le_bytes());
        g.extend(1u64.to_le_bytes());
        g.push(b'a');
        g.extend(2u32.to_le_bytes());
        g.extend(u64::MAX.to_le_bytes());
        g.extend(u64::MAX.to_le_bytes());
        g.extend(0u32.to_le_bytes());
        g.extend(0u64.to_le_bytes());
        assert!(read::gguf::read(&g).is_err());
        let mut g = g.clone();
        let n = g.len();
        g[n - 28..n - 12]
            .copy_from_slice(&[[4u8, 0, 0, 0, 0, 0, 0, 0], [4, 0, 0, 0, 0, 0, 0, 0]].concat());
        g[n - 8..].copy_from_slice(&(u64::MAX - 3).to_le_bytes());
        assert!(read::gguf::read(&g).is_err());
        assert!(read::gguf::read(&good).is_ok());
        // npy: a shape far larger than the data
        let mut npy = write::npy(&[32, 64], &small()[0].values);
        npy.truncate(npy.len() - 4);
        assert!(read::tensors(&npy).is_err());
    }
}

/// Files written by the `gguf` and `safetensors` Python packages (`tools/fingerprint-python.py`),
/// when a Python with them is at `target/fp-venv` (or `MODELWARD_FP_PYTHON`); skipped otherwise.
mod python {
    use super::*;
    use modelward_fingerprint::tensor::gather;
    use std::path::{Path, PathBuf};

    fn python() -> Option<PathBuf> {
        if let Some(p) = std::env::var_os("MODELWARD_FP_PYTHON") {
            return Some(PathBuf::from(p));
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let p = root.join("target/fp-venv/bin/python");
        p.exists().then_some(p)
    }

    fn written() -> Option<PathBuf> {
        let py = python()?;
        let dir = std::env::temp_dir().join(format!("mw-fp-python-{}", std::process::id()));
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/fingerprint-python.py");
        let out = std::process::Command::new(py)
            .arg(script)
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(dir)
    }

    fn read_file(p: &Path) -> Vec<u8> {
        std::fs::read(p).unwrap()
    }

    #[test]
    fn python_written_files_decode_and_match() {
        let Some(dir) = written() else {
            eprintln!("skipped: no target/fp-venv (see tools/fingerprint-python.py)");
            return;
        };
        // every block type, element for element against gguf.quants.dequantize
        for t in [
            "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K", "Q6_K",
        ] {
            let file = read_file(&dir.join(format!("blocks-{t}.gguf")));
            let tensors = read::tensors(&file).unwrap().unwrap().tensors;
            assert_eq!(tensors[0].shape, vec![8, 512], "{t}");
            assert_eq!(tensors[0].dtype.name(), t);
            let ours = gather(&file, &tensors[0], &(0..4096).collect::<Vec<_>>()).unwrap();
            let expected = read::tensors(&read_file(&dir.join(format!("blocks-{t}.npy"))))
                .unwrap()
                .unwrap();
            let npy = read_file(&dir.join(format!("blocks-{t}.npy")));
            let want = gather(&npy, &expected.tensors[0], &(0..4096).collect::<Vec<_>>()).unwrap();
            for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                    "{t} element {i}: {a} vs {b}"
                );
            }
        }
        // the model written by safetensors, its copies by gguf's writer and quantizers
        let reference = print_of("python-ref", &read_file(&dir.join("ref.safetensors")));
        assert_eq!(reference.tensors.len(), 9);
        for copy in [
            "copy-f16.safetensors",
            "copy-F16.gguf",
            "copy-BF16.gguf",
            "copy-Q8_0.gguf",
            "copy-Q5_1.gguf",
            "copy-Q5_0.gguf",
            "copy-Q4_1.gguf",
            "copy-Q4_0.gguf",
            "copy-torch.pt",
        ] {
            let m = compare(read_file(&dir.join(copy)), &reference);
            assert!(m.log10_p() < -9.0, "{copy}: {}", m.log10_p());
            assert_eq!(m.matched, 9, "{copy}");
            assert!(m.pairs.iter().all(|p| p.view == View::Identity), "{copy}");
        }
        if dir.join("copy.onnx").exists() {
            let m = compare(read_file(&dir.join("copy.onnx")), &reference);
            assert!(
                m.log10_p() < -9.0 && m.matched == 9,
                "onnx: {}",
                m.log10_p()
            );
        }
        let m = compare(read_file(&dir.join("unrelated-q4_0.gguf")), &reference);
        assert!(m.log10_p() > -3.0, "unrelated: {}", m.log10_p());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn llama_cpp_reordered_query_and_key_rows_match_through_the_interleave_view() {
    let arch = Arch::tiny_llama(2);
    let head_dim = arch.hidden / arch.heads;
    let permuted = modelward_fingerprint::synth::llama_cpp_permute(ours(), head_dim);
    let file = write::gguf_kv(
        &gguf_named(&permuted),
        DType::Q4_0,
        "llama",
        &arch.gguf_kv(),
    )
    .unwrap();
    let tf = read::tensors(&file).unwrap().unwrap();
    assert_eq!(tf.head_dim, Some(head_dim));
    // without the head size, query and key weights pair with nothing of ours
    let m = Suspect::new(&key(), &file, tf.tensors.clone())
        .compare(print())
        .unwrap();
    assert_eq!(
        m.matched,
        print().tensors.len() - 4,
        "2 layers × (q, k) lost"
    );
    let m = Suspect::new(&key(), &file, tf.tensors)
        .with_head_dim(tf.head_dim)
        .compare(print())
        .unwrap();
    assert_matched(&m, "llama.cpp q/k order");
    let interleaved: Vec<&str> = m
        .pairs
        .iter()
        .filter(|p| p.view == View::Interleave(head_dim))
        .map(|p| p.suspect.as_str())
        .collect();
    assert_eq!(interleaved.len(), 4, "{interleaved:?}");
    assert!(interleaved
        .iter()
        .all(|n| n.ends_with("attn_q.weight") || n.ends_with("attn_k.weight")));
}

#[test]
fn many_tensors_of_one_shape_pair_up_one_to_one() {
    // the experts of a mixture: 48 tensors of one shape, shuffled and renamed in the copy
    let mut rng = Rng::new(17);
    let experts: Vec<Tensor> = (0..48)
        .map(|i| {
            Tensor::new(
                &format!("experts.{i}.w"),
                &[128, 256],
                rng.normal(32768, 0.02),
            )
        })
        .collect();
    let reference = print_of("moe", &write::safetensors(&experts, DType::F32).unwrap());
    assert_eq!(reference.tensors.len(), 48);
    let copy = renamed_shuffled(&experts, 3);
    let m = compare(write::gguf(&copy, DType::Q4_0, "moe").unwrap(), &reference);
    assert_eq!((m.pairs.len(), m.matched), (48, 48));
    assert!(m.log10_p() < -9.0);
    let others: Vec<Tensor> = (0..48)
        .map(|i| {
            Tensor::new(
                &format!("experts.{i}.w"),
                &[128, 256],
                rng.normal(32768, 0.02),
            )
        })
        .collect();
    let m = compare(
        write::gguf(&others, DType::Q4_0, "moe").unwrap(),
        &reference,
    );
    assert_eq!(m.matched, 0);
    assert!(m.log10_p() > -3.0, "{}", m.log10_p());
}

fn renamed_shuffled(model: &[Tensor], seed: u64) -> Vec<Tensor> {
    let mut v: Vec<Tensor> = model
        .iter()
        .enumerate()
        .map(|(i, t)| Tensor::new(&format!("t{i}_{seed}"), &t.shape, t.values.clone()))
        .collect();
    let mut rng = Rng::new(seed);
    for i in (1..v.len()).rev() {
        let j = (rng.u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}
