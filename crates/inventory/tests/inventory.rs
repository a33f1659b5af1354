//! The inventory as a library: every format identified from constructed bytes, found under
//! other names and inside archives, scanned into a store and verified.

use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use modelward_inventory::find::find_in_blob;
use modelward_inventory::{
    find, identify, samples, scan, verify, Change, FindEvent, Format, HashAlgorithm, NoProgress,
    ScanEvent, Status,
};
use modelward_store::Store;
use serde_json::{json, Value};

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("mw-inv-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, bytes).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn every_format_is_identified_from_its_bytes() {
    let mut report = Vec::new();
    for (format, bytes) in samples::all() {
        let found = identify(&bytes)
            .unwrap_or_else(|e| panic!("{format}: {e}"))
            .unwrap_or_else(|| panic!("{format}: not identified"));
        assert_eq!(found.format, format);
        report.push(json!({
            "format": format.name(),
            "metadata": found.metadata,
            "warnings": found.warnings,
        }));
    }
    insta::assert_json_snapshot!("identified", report);
}

#[test]
fn non_models_are_not_identified() {
    let plain_zip = samples::zip(&[("readme.txt", b"hello", true)]);
    let tar = samples::tar(&[("a.txt", b"text")]);
    for bytes in [
        b"".to_vec(),
        b"hello world, just text".to_vec(),
        b"{\"json\": true}".to_vec(),
        vec![0u8; 4096],
        plain_zip,
        tar,
        b"\x08\x01 not protobuf at all".to_vec(),
    ] {
        assert!(identify(&bytes).unwrap().is_none(), "{bytes:?}");
    }
}

#[test]
fn broken_headers_are_errors_not_panics() {
    let gguf = samples::gguf();
    let err = identify(&gguf[..40].to_vec()).unwrap_err();
    assert!(err.to_string().starts_with("gguf: truncated"), "{err}");
    let mut st = samples::safetensors();
    st[20] = b'\xff';
    assert!(identify(&st)
        .unwrap_err()
        .to_string()
        .starts_with("safetensors:"));
    for (format, bytes) in samples::all() {
        for cut in [1, 7, 8, 9, 16, 33, bytes.len() / 2, bytes.len() - 1] {
            // any outcome but a panic
            let _ = identify(&bytes[..cut.min(bytes.len())].to_vec()).map_err(|e| (format, e));
        }
    }
}

fn found_in(blob: &dyn modelward_inventory::blob::Blob, location: &str) -> Vec<(String, Format)> {
    let mut out = Vec::new();
    find_in_blob(blob, location, None, &mut |e| match e {
        FindEvent::Found(f) => out.push((f.location.clone(), f.format)),
        FindEvent::Error { location, message } => panic!("{location}: {message}"),
    });
    out
}

#[test]
fn models_are_found_inside_archives() {
    let st = samples::safetensors();
    let gguf = samples::gguf();
    let pt = samples::pytorch_zip();
    let inner_tar = samples::tar(&[("weights/model.bin", &st), ("notes.txt", b"notes")]);
    let zip = samples::zip(&[
        ("a/renamed.dat", &gguf, true),
        ("b/stored.bin", &st, false),
        ("nested.tar", &inner_tar, true),
        ("c/model.pt", &pt, false),
        ("readme.md", b"# hi", true),
    ]);
    assert_eq!(
        found_in(&zip, "x.zip"),
        vec![
            ("x.zip!a/renamed.dat".to_string(), Format::Gguf),
            ("x.zip!b/stored.bin".to_string(), Format::Safetensors),
            (
                "x.zip!nested.tar!weights/model.bin".to_string(),
                Format::Safetensors
            ),
            ("x.zip!c/model.pt".to_string(), Format::PytorchZip),
        ]
    );
    let tar = samples::tar(&[("m/x", &gguf), ("m/y.zip", &zip)]);
    let found = found_in(&tar, "t.tar");
    assert_eq!(found.len(), 5);
    assert_eq!(found[0], ("t.tar!m/x".to_string(), Format::Gguf));
    assert_eq!(
        found[4],
        ("t.tar!m/y.zip!c/model.pt".to_string(), Format::PytorchZip)
    );
    let tgz = gzip(&tar);
    assert_eq!(found_in(&tgz, "t.tar.gz").len(), 5);
    let single = gzip(&st);
    assert_eq!(
        found_in(&single, "m.gz"),
        vec![("m.gz!".to_string(), Format::Safetensors)]
    );
}

#[test]
fn find_walks_folders_and_reports_bad_files() {
    let dir = Dir::new("find");
    dir.write("renamed.txt", samples::safetensors());
    dir.write(
        "sub/archive.tar",
        samples::tar(&[("inner/m", &samples::gguf())]),
    );
    dir.write(
        "sub/zipped.dat",
        samples::zip(&[("x/model", &samples::onnx(), true)]),
    );
    dir.write("broken.gguf", &samples::gguf()[..30]);
    dir.write("plain.txt", "nothing here");
    let sm = dir.0.join("export");
    std::fs::create_dir_all(sm.join("variables")).unwrap();
    dir.write("export/saved_model.pb", samples::saved_model_pb());
    dir.write("export/variables/variables.index", b"index");
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let summary = find(
        std::slice::from_ref(&dir.0),
        &mut NoProgress,
        &mut |e| match e {
            FindEvent::Found(f) => found.push((
                f.location
                    .strip_prefix(dir.0.to_str().unwrap())
                    .unwrap()
                    .to_string(),
                f.format,
            )),
            FindEvent::Error { location, message } => errors.push(format!("{location}: {message}")),
        },
    );
    assert_eq!(
        found,
        vec![
            ("/export".to_string(), Format::TfSavedModel),
            ("/renamed.txt".to_string(), Format::Safetensors),
            ("/sub/archive.tar!inner/m".to_string(), Format::Gguf),
            ("/sub/zipped.dat!x/model".to_string(), Format::Onnx),
        ]
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("broken.gguf: gguf: truncated header"),
        "{errors:?}"
    );
    assert_eq!((summary.found, summary.errors), (4, 1));
}

fn scan_all(store: &mut Store, root: &Path, now: i64) -> Vec<(String, String)> {
    let mut out = Vec::new();
    scan(
        store,
        &[root.to_path_buf()],
        HashAlgorithm::Sha256,
        now,
        &mut NoProgress,
        &mut |e| match e {
            ScanEvent::Recorded { artifact, change } => out.push((
                Path::new(&artifact.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                change.name().to_string(),
            )),
            ScanEvent::Removed { record } => out.push((
                Path::new(&record.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                "removed".into(),
            )),
            ScanEvent::Skipped { error } => out.push((error.to_string(), "skipped".into())),
        },
    )
    .unwrap();
    out
}

fn verify_all(store: &Store) -> Vec<(String, Status)> {
    let mut out = Vec::new();
    verify(store, &mut NoProgress, &mut |c| {
        out.push((
            Path::new(&c.path)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned(),
            c.status,
        ))
    })
    .unwrap();
    out
}

#[test]
fn scan_then_verify_round_trip() {
    let dir = Dir::new("roundtrip");
    let a = dir.write("a.safetensors", samples::safetensors());
    let b = dir.write("models/b.bin", samples::gguf());
    dir.write("models/c.onnx", samples::onnx());
    dir.write("readme.txt", "not a model");
    let mut store = Store::open_in_memory().unwrap();
    let first = scan_all(&mut store, &dir.0, 100);
    assert_eq!(
        first,
        vec![
            ("a.safetensors".into(), "new".into()),
            ("b.bin".into(), "new".into()),
            ("c.onnx".into(), "new".into()),
        ]
    );
    let rec = store.artifact(a.to_str().unwrap()).unwrap().unwrap();
    assert_eq!(rec.format, "safetensors");
    assert_eq!(rec.hash.len(), 64);
    let meta: Value = serde_json::from_str(&rec.metadata).unwrap();
    assert_eq!(meta["tensors"], json!(3));
    assert!(verify_all(&store).iter().all(|(_, s)| *s == Status::Intact));

    // modify one (same size), delete one, add one
    let mut changed = samples::safetensors();
    let last = changed.len() - 1;
    changed[last] ^= 0xff;
    std::fs::write(&a, &changed).unwrap();
    std::fs::remove_file(&b).unwrap();
    dir.write("models/new.npy", samples::npy("<f4", "(2,)", &[0; 8]));
    let checks = verify_all(&store);
    assert_eq!(
        checks,
        vec![
            ("a.safetensors".into(), Status::Modified),
            ("b.bin".into(), Status::Missing),
            ("c.onnx".into(), Status::Intact),
            ("new.npy".into(), Status::New),
        ]
    );

    // a new scan accepts the changes
    let second = scan_all(&mut store, &dir.0, 200);
    assert_eq!(
        second,
        vec![
            ("a.safetensors".into(), Change::Modified.name().into()),
            ("c.onnx".into(), "unchanged".into()),
            ("new.npy".into(), "new".into()),
            ("b.bin".into(), "removed".into()),
        ]
    );
    let rec = store.artifact(a.to_str().unwrap()).unwrap().unwrap();
    assert_eq!((rec.first_seen, rec.last_seen), (100, 200));
    assert!(verify_all(&store).iter().all(|(_, s)| *s == Status::Intact));
}

#[test]
fn saved_model_folders_are_one_artifact() {
    let dir = Dir::new("savedmodel");
    dir.write("sm/saved_model.pb", samples::saved_model_pb());
    let var = dir.write("sm/variables/variables.data-00000-of-00001", [1u8; 100]);
    dir.write("sm/variables/variables.index", b"idx");
    let mut store = Store::open_in_memory().unwrap();
    assert_eq!(
        scan_all(&mut store, &dir.0, 1),
        vec![("sm".to_string(), "new".to_string())]
    );
    let rec = &store.artifacts().unwrap()[0];
    assert_eq!(rec.format, "tf_savedmodel");
    assert_eq!(rec.size, samples::saved_model_pb().len() as u64 + 103);
    std::fs::write(&var, [2u8; 100]).unwrap();
    assert_eq!(
        verify_all(&store),
        vec![("sm".to_string(), Status::Modified)]
    );
}

#[test]
fn blake3_is_recorded_and_verified() {
    let dir = Dir::new("blake3");
    dir.write("m.gguf", samples::gguf());
    let mut store = Store::open_in_memory().unwrap();
    scan(
        &mut store,
        std::slice::from_ref(&dir.0),
        HashAlgorithm::Blake3,
        1,
        &mut NoProgress,
        &mut |_| {},
    )
    .unwrap();
    let rec = &store.artifacts().unwrap()[0];
    assert_eq!(rec.hash_algorithm, "blake3");
    assert_eq!(
        rec.hash,
        modelward_inventory::hash::hash_bytes(&samples::gguf(), HashAlgorithm::Blake3)
    );
    assert_eq!(
        verify_all(&store),
        vec![("m.gguf".to_string(), Status::Intact)]
    );
}
