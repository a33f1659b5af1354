//! Score distributions of related and unrelated model pairs under each transformation, and
//! the true- and false-positive rates at a false-match threshold (default 1e-9).
//!
//! ```sh
//! cargo run --release -p modelward-fingerprint --example roc -- [--pairs 40] [--trained 8] \
//!     [--layers 2] [--threshold 1e-9] [--write DIR]
//! ```
//!
//! For each pair i, model A (random weights of a 2-layer LLaMA-like decoder, hidden 256,
//! seed i) is fingerprinted from a safetensors F32 file; its copies under each
//! transformation are matched against it (related), and so is an independent model B of
//! the same shapes (unrelated: seed 10,000 + i), in F32 and as a Q4_0 GGUF. For the first
//! `--trained` pairs, A and B are also trained on the same toy task, and A's fine-tuned copy
//! (trained further on another task) is matched. `--write DIR` leaves one set of files to
//! try the CLI on. Prints Markdown.

use std::time::Instant;

use modelward_fingerprint::dtype::DType;
use modelward_fingerprint::synth::{
    gguf_name, llama_cpp_permute, perturb, relative_change, train_mlps, Arch, Rng,
};
use modelward_fingerprint::write::{self, Tensor};
use modelward_fingerprint::{read, Key, ModelMatch, ModelPrint, Plans, Suspect};

struct Row {
    name: String,
    related: bool,
    agreement: Vec<f64>,
    log10_p: Vec<f64>,
    change: Vec<f64>,
}

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn gguf_named(model: &[Tensor]) -> Vec<Tensor> {
    model
        .iter()
        .map(|t| Tensor::new(&gguf_name(&t.name), &t.shape, t.values.clone()))
        .collect()
}

fn shuffled(model: &[Tensor], seed: u64) -> Vec<Tensor> {
    let mut v: Vec<Tensor> = model
        .iter()
        .enumerate()
        .map(|(i, t)| Tensor::new(&format!("tensor_{i:03}_{seed}"), &t.shape, t.values.clone()))
        .collect();
    let mut rng = Rng::new(seed);
    for i in (1..v.len()).rev() {
        let j = (rng.u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

fn compare(key: &Key, file: &[u8], print: &ModelPrint) -> ModelMatch {
    let file = file.to_vec();
    let tf = read::tensors(&file).unwrap().unwrap();
    Suspect::new(key, &file, tf.tensors)
        .with_head_dim(tf.head_dim)
        .compare(print)
        .unwrap()
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    if s.is_empty() {
        return f64::NAN;
    }
    s[((s.len() - 1) as f64 * q).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pairs: u64 = arg(&args, "--pairs", 40);
    let trained: u64 = arg(&args, "--trained", 8);
    let layers: u64 = arg(&args, "--layers", 2);
    let threshold: f64 = arg(&args, "--threshold", 1e-9);
    let write_dir: Option<String> = arg(&args, "--write", String::new()).into();
    let write_dir = write_dir.filter(|d| !d.is_empty());
    let key = Key::new(b"roc example key");
    let arch = Arch::tiny_llama(layers);
    let mut rows: Vec<Row> = Vec::new();
    let mut record = |name: &str, related: bool, m: &ModelMatch, change: f64| {
        let i = match rows.iter().position(|r| r.name == name) {
            Some(i) => i,
            None => {
                rows.push(Row {
                    name: name.into(),
                    related,
                    agreement: vec![],
                    log10_p: vec![],
                    change: vec![],
                });
                rows.len() - 1
            }
        };
        rows[i].agreement.push(m.agreement.unwrap_or(f64::NAN));
        rows[i].log10_p.push(m.log10_p());
        rows[i].change.push(change);
    };
    let (mut build_secs, mut match_secs, mut matches, mut bytes) = (0f64, 0f64, 0u64, 0u64);
    let started = Instant::now();
    for i in 0..pairs {
        let a = arch.random(i + 1);
        let file = write::safetensors(&a, DType::F32).unwrap();
        bytes += file.len() as u64;
        let t = Instant::now();
        let mut print = ModelPrint::new("a", &key);
        print.add_file(&key, &mut Plans::default(), &file).unwrap();
        build_secs += t.elapsed().as_secs_f64();
        let mut run = |name: &str, related: bool, file: Vec<u8>, change: f64| {
            let t = Instant::now();
            let m = compare(&key, &file, &print);
            match_secs += t.elapsed().as_secs_f64();
            matches += 1;
            record(name, related, &m, change);
        };
        let named = gguf_named(&a);
        for dt in [DType::F16, DType::BF16, DType::I8] {
            run(
                &format!("safetensors {}", dt.name()),
                true,
                write::safetensors(&a, dt).unwrap(),
                0.0,
            );
        }
        for dt in [
            DType::F16,
            DType::Q8_0,
            DType::Q6_K,
            DType::Q5_0,
            DType::Q4_K,
            DType::Q4_1,
            DType::Q4_0,
        ] {
            run(
                &format!("GGUF {}", dt.name()),
                true,
                write::gguf(&named, dt, "llama").unwrap(),
                0.0,
            );
        }
        run(
            "llama.cpp's q/k row order, GGUF Q4_0",
            true,
            write::gguf_kv(
                &gguf_named(&llama_cpp_permute(&a, arch.hidden / arch.heads)),
                DType::Q4_0,
                "llama",
                &arch.gguf_kv(),
            )
            .unwrap(),
            0.0,
        );
        run(
            "renamed + reordered, GGUF Q4_0",
            true,
            write::gguf(&shuffled(&a, i), DType::Q4_0, "llama").unwrap(),
            0.0,
        );
        for rel in [0.05f32, 0.2, 0.5, 1.0, 2.0, 4.0] {
            let tuned = perturb(&a, rel, 1000 + i);
            let change = relative_change(&a, &tuned);
            run(
                &format!("noise {rel}σ (fine-tuning), GGUF Q4_0"),
                true,
                write::gguf(&gguf_named(&tuned), DType::Q4_0, "llama").unwrap(),
                change,
            );
        }
        let b = arch.random(10_000 + i);
        run(
            "unrelated, safetensors F32",
            false,
            write::safetensors(&b, DType::F32).unwrap(),
            0.0,
        );
        run(
            "unrelated, GGUF Q4_0",
            false,
            write::gguf(&gguf_named(&b), DType::Q4_0, "llama").unwrap(),
            0.0,
        );
        if i < trained {
            // trained on toy task 1, then A fine-tuned on task 2; B trained on task 1
            let mut ta = a.clone();
            train_mlps(&mut ta, 1, 60, 8, 0.05);
            let file = write::safetensors(&ta, DType::BF16).unwrap();
            let mut tprint = ModelPrint::new("trained", &key);
            tprint.add_file(&key, &mut Plans::default(), &file).unwrap();
            let mut tuned = ta.clone();
            train_mlps(&mut tuned, 2, 30, 8, 0.05);
            let change = relative_change(&ta, &tuned);
            let m = compare(
                &key,
                &write::gguf(&gguf_named(&tuned), DType::Q4_K, "llama").unwrap(),
                &tprint,
            );
            record(
                "trained, fine-tuned on another task, GGUF Q4_K",
                true,
                &m,
                change,
            );
            let mut tb = b.clone();
            train_mlps(&mut tb, 1, 60, 8, 0.05);
            let m = compare(
                &key,
                &write::gguf(&gguf_named(&tb), DType::Q4_K, "llama").unwrap(),
                &tprint,
            );
            record(
                "unrelated, trained on the same task, GGUF Q4_K",
                false,
                &m,
                0.0,
            );
        }
        if i == 0 {
            if let Some(dir) = &write_dir {
                std::fs::create_dir_all(dir).unwrap();
                let path = |n: &str| std::path::Path::new(dir).join(n);
                std::fs::write(path("ours.safetensors"), &file).unwrap();
                std::fs::write(
                    path("ours-q4_0.gguf"),
                    write::gguf(&named, DType::Q4_0, "llama").unwrap(),
                )
                .unwrap();
                std::fs::write(
                    path("ours-finetuned-q4_k.gguf"),
                    write::gguf(&gguf_named(&perturb(&a, 0.2, 5)), DType::Q4_K, "llama").unwrap(),
                )
                .unwrap();
                std::fs::write(
                    path("unrelated-q4_0.gguf"),
                    write::gguf(&gguf_named(&b), DType::Q4_0, "llama").unwrap(),
                )
                .unwrap();
            }
        }
        eprint!("\rpair {}/{pairs}", i + 1);
    }
    eprintln!();
    let lt = threshold.log10();
    println!(
        "{} pairs (a {layers}-layer LLaMA-like decoder, hidden 256, {} parameters), key fixed, threshold p ≤ {threshold:e}:\n",
        pairs,
        arch.shapes()
            .iter()
            .map(|(_, s)| s.iter().product::<u64>())
            .sum::<u64>()
    );
    println!("| suspect | pairs | relative weight change | agreement (min / median) | log10 false-match p (median / worst) | called a match |");
    println!("|---|---|---|---|---|---|");
    for r in rows.iter().filter(|r| r.related) {
        let hits = r.log10_p.iter().filter(|&&p| p <= lt).count();
        println!(
            "| {} | {} | {} | {:.3} / {:.3} | {:.0} / {:.0} | {hits} of {} (TPR {:.3}) |",
            r.name,
            r.log10_p.len(),
            if r.change.iter().all(|&c| c == 0.0) {
                "—".to_string()
            } else {
                format!("{:.3}", quantile(&r.change, 0.5))
            },
            quantile(&r.agreement, 0.0),
            quantile(&r.agreement, 0.5),
            quantile(&r.log10_p, 0.5),
            quantile(&r.log10_p, 1.0),
            r.log10_p.len(),
            hits as f64 / r.log10_p.len() as f64
        );
    }
    println!();
    println!("| unrelated suspect | pairs | agreement (mean ± sd, min–max) | smallest false-match p | p ≤ 0.05 | p ≤ 0.01 | called a match |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows.iter().filter(|r| !r.related) {
        let n = r.agreement.len() as f64;
        let mean = r.agreement.iter().sum::<f64>() / n;
        let sd = (r.agreement.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
        let count = |t: f64| r.log10_p.iter().filter(|&&p| p <= t).count();
        println!(
            "| {} | {} | {:.4} ± {:.4}, {:.3}–{:.3} | {:.2e} | {} | {} | {} (FPR {:.3}) |",
            r.name,
            r.log10_p.len(),
            mean,
            sd,
            quantile(&r.agreement, 0.0),
            quantile(&r.agreement, 1.0),
            10f64.powf(quantile(&r.log10_p, 0.0)),
            count(0.05f64.log10()),
            count(-2.0),
            count(lt),
            count(lt) as f64 / n
        );
    }
    println!(
        "\nBuild: {:.0} ms a model ({:.0} MB/s of F32 safetensors); match: {:.0} ms a suspect; {:.0} s in all.",
        1000.0 * build_secs / pairs as f64,
        bytes as f64 / 1e6 / build_secs,
        1000.0 * match_secs / matches as f64,
        started.elapsed().as_secs_f64()
    );
}
