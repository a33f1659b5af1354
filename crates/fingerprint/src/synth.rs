//! Models the project makes itself, for the tests and the ROC example: the tensor shapes of a
//! small LLaMA-like architecture, filled with random weights, perturbed as a fine-tuning
//! would, or trained on toy data.

use crate::write::Tensor;

/// xoshiro256** seeded through SplitMix64: deterministic, fast, not for secrets.
#[derive(Clone, Debug)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut next = || {
            z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut x = z;
            x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            x ^ (x >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    pub fn u64(&mut self) -> u64 {
        let r = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        r
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    pub fn gauss(&mut self) -> f32 {
        let u = self.unit().max(1e-300);
        let v = self.unit();
        ((-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()) as f32
    }

    pub fn normal(&mut self, n: usize, std: f32) -> Vec<f32> {
        (0..n).map(|_| self.gauss() * std).collect()
    }
}

/// The shapes of a LLaMA-like decoder.
#[derive(Clone, Copy, Debug)]
pub struct Arch {
    pub vocab: u64,
    pub hidden: u64,
    pub intermediate: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub layers: u64,
}

impl Arch {
    /// LLaMA-3 8B's proportions scaled to hidden 256: vocabulary 8,000 (×31), intermediate
    /// 896 (×3.5), 4 heads of 64 and 2 key/value heads (grouped-query attention), untied
    /// output; `layers` decoder layers.
    pub fn tiny_llama(layers: u64) -> Arch {
        Arch {
            vocab: 8000,
            hidden: 256,
            intermediate: 896,
            heads: 4,
            kv_heads: 2,
            layers,
        }
    }

    /// Hugging Face names and shapes `[out, in]`.
    pub fn shapes(&self) -> Vec<(String, Vec<u64>)> {
        let (h, i) = (self.hidden, self.intermediate);
        let kv = self.hidden / self.heads * self.kv_heads;
        let mut v = vec![("model.embed_tokens.weight".to_string(), vec![self.vocab, h])];
        for l in 0..self.layers {
            let p = format!("model.layers.{l}");
            v.push((format!("{p}.input_layernorm.weight"), vec![h]));
            v.push((format!("{p}.self_attn.q_proj.weight"), vec![h, h]));
            v.push((format!("{p}.self_attn.k_proj.weight"), vec![kv, h]));
            v.push((format!("{p}.self_attn.v_proj.weight"), vec![kv, h]));
            v.push((format!("{p}.self_attn.o_proj.weight"), vec![h, h]));
            v.push((format!("{p}.post_attention_layernorm.weight"), vec![h]));
            v.push((format!("{p}.mlp.gate_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.up_proj.weight"), vec![i, h]));
            v.push((format!("{p}.mlp.down_proj.weight"), vec![h, i]));
        }
        v.push(("model.norm.weight".to_string(), vec![h]));
        v.push(("lm_head.weight".to_string(), vec![self.vocab, h]));
        v
    }

    /// Random weights as an initialisation gives them: N(0, 0.02²), norms 1 ± 0.02.
    pub fn random(&self, seed: u64) -> Vec<Tensor> {
        let mut rng = Rng::new(seed);
        self.shapes()
            .into_iter()
            .map(|(name, shape)| {
                let n = shape.iter().product::<u64>() as usize;
                let values = if shape.len() == 1 {
                    (0..n).map(|_| 1.0 + 0.02 * rng.gauss()).collect()
                } else {
                    rng.normal(n, 0.02)
                };
                Tensor::new(&name, &shape, values)
            })
            .collect()
    }
}

impl Arch {
    /// The key/values llama.cpp writes for the attention's shape.
    pub fn gguf_kv(&self) -> Vec<(String, u32)> {
        vec![
            ("llama.embedding_length".into(), self.hidden as u32),
            ("llama.attention.head_count".into(), self.heads as u32),
            ("llama.attention.head_count_kv".into(), self.kv_heads as u32),
        ]
    }
}

/// The rows of every query and key weight (Hugging Face names) reordered as llama.cpp's
/// `convert_hf_to_gguf.py` reorders them for its rotary embedding: within each head of
/// `head_dim` rows, the two halves interleaved (row `t·head_dim/2 + u` → `2u + t`).
pub fn llama_cpp_permute(model: &[Tensor], head_dim: u64) -> Vec<Tensor> {
    model
        .iter()
        .map(|t| {
            if !(t.name.ends_with("q_proj.weight") || t.name.ends_with("k_proj.weight")) {
                return t.clone();
            }
            let (rows, cols) = (t.shape[0], t.shape[1] as usize);
            let mut v = vec![0f32; t.values.len()];
            for r in 0..rows {
                let (head, w) = (r / head_dim, r % head_dim);
                let (half, u) = (w / (head_dim / 2), w % (head_dim / 2));
                let to = (head * head_dim + 2 * u + half) as usize;
                let from = r as usize;
                v[to * cols..(to + 1) * cols]
                    .copy_from_slice(&t.values[from * cols..(from + 1) * cols]);
            }
            Tensor::new(&t.name, &t.shape, v)
        })
        .collect()
}

/// llama.cpp's GGUF tensor name for a Hugging Face LLaMA name.
pub fn gguf_name(hf: &str) -> String {
    let map = [
        ("model.embed_tokens.weight", "token_embd.weight"),
        ("model.norm.weight", "output_norm.weight"),
        ("lm_head.weight", "output.weight"),
    ];
    if let Some((_, g)) = map.iter().find(|(h, _)| *h == hf) {
        return g.to_string();
    }
    let Some(rest) = hf.strip_prefix("model.layers.") else {
        return hf.to_string();
    };
    let (layer, rest) = rest.split_once('.').unwrap_or((rest, ""));
    let part = match rest {
        "input_layernorm.weight" => "attn_norm.weight",
        "self_attn.q_proj.weight" => "attn_q.weight",
        "self_attn.k_proj.weight" => "attn_k.weight",
        "self_attn.v_proj.weight" => "attn_v.weight",
        "self_attn.o_proj.weight" => "attn_output.weight",
        "post_attention_layernorm.weight" => "ffn_norm.weight",
        "mlp.gate_proj.weight" => "ffn_gate.weight",
        "mlp.up_proj.weight" => "ffn_up.weight",
        "mlp.down_proj.weight" => "ffn_down.weight",
        other => other,
    };
    format!("blk.{layer}.{part}")
}

/// The model as a GGUF converter lays it out: llama.cpp's tensor names ([`gguf_name`]), in
/// reverse order (names and order never matter to matching).
pub fn gguf_renamed(model: &[Tensor]) -> Vec<Tensor> {
    model
        .iter()
        .rev()
        .map(|t| Tensor::new(&gguf_name(&t.name), &t.shape, t.values.clone()))
        .collect()
}

/// Adds N(0, (rel·σ)²) to every tensor, σ each tensor's own standard deviation: the
/// weight change of a fine-tuning of that relative size.
pub fn perturb(model: &[Tensor], rel: f32, seed: u64) -> Vec<Tensor> {
    let mut rng = Rng::new(seed);
    model
        .iter()
        .map(|t| {
            let std = std_dev(&t.values);
            let values = t
                .values
                .iter()
                .map(|v| v + rel * std * rng.gauss())
                .collect();
            Tensor::new(&t.name, &t.shape, values)
        })
        .collect()
}

pub fn std_dev(v: &[f32]) -> f32 {
    let n = v.len().max(1) as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    (v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n).sqrt() as f32
}

/// Trains every layer's MLP (`up_proj` then `down_proj`, tanh between; `gate_proj` and the
/// attention are left as they are) to imitate a random teacher MLP chosen by `data_seed` on
/// Gaussian inputs, by SGD on the squared error: `steps` batches of `batch` with learning
/// rate `lr`. Different `data_seed`s are different tasks; a model trained on one task and
/// then for fewer steps on another is a fine-tuned copy.
pub fn train_mlps(model: &mut [Tensor], data_seed: u64, steps: usize, batch: usize, lr: f32) {
    let names: Vec<String> = model.iter().map(|t| t.name.clone()).collect();
    for (ui, name) in names.iter().enumerate() {
        let Some(prefix) = name.strip_suffix(".mlp.up_proj.weight") else {
            continue;
        };
        let Some(di) = names
            .iter()
            .position(|n| n == &format!("{prefix}.mlp.down_proj.weight"))
        else {
            continue;
        };
        let (inter, hidden) = (model[ui].shape[0] as usize, model[ui].shape[1] as usize);
        let mut rng = Rng::new(data_seed ^ (ui as u64).wrapping_mul(0x9e37_79b9));
        let teacher1 = rng.normal(inter * hidden, 1.0 / (hidden as f32).sqrt());
        let teacher2 = rng.normal(hidden * inter, 1.0 / (inter as f32).sqrt());
        let mut w1 = std::mem::take(&mut model[ui].values);
        let mut w2 = std::mem::take(&mut model[di].values);
        let mut g1 = vec![0f32; w1.len()];
        let mut g2 = vec![0f32; w2.len()];
        let mut h = vec![0f32; inter];
        let mut a = vec![0f32; inter];
        let mut out = vec![0f32; hidden];
        let mut ta = vec![0f32; inter];
        let mut target = vec![0f32; hidden];
        let mut da = vec![0f32; inter];
        for _ in 0..steps {
            g1.iter_mut().for_each(|g| *g = 0.0);
            g2.iter_mut().for_each(|g| *g = 0.0);
            for _ in 0..batch {
                let x = rng.normal(hidden, 1.0);
                matvec(&teacher1, &x, &mut ta);
                ta.iter_mut().for_each(|v| *v = v.tanh());
                matvec(&teacher2, &ta, &mut target);
                matvec(&w1, &x, &mut h);
                for (a, h) in a.iter_mut().zip(&h) {
                    *a = h.tanh();
                }
                matvec(&w2, &a, &mut out);
                // d loss / d out = out − target
                for (o, t) in out.iter_mut().zip(&target) {
                    *o -= t;
                }
                da.iter_mut().for_each(|v| *v = 0.0);
                for r in 0..hidden {
                    let e = out[r];
                    let row = &w2[r * inter..(r + 1) * inter];
                    let grow = &mut g2[r * inter..(r + 1) * inter];
                    for c in 0..inter {
                        grow[c] += e * a[c];
                        da[c] += e * row[c];
                    }
                }
                for r in 0..inter {
                    let dh = da[r] * (1.0 - a[r] * a[r]);
                    let grow = &mut g1[r * hidden..(r + 1) * hidden];
                    for c in 0..hidden {
                        grow[c] += dh * x[c];
                    }
                }
            }
            let step = lr / batch as f32;
            w1.iter_mut().zip(&g1).for_each(|(w, g)| *w -= step * g);
            w2.iter_mut().zip(&g2).for_each(|(w, g)| *w -= step * g);
        }
        model[ui].values = w1;
        model[di].values = w2;
    }
}

fn matvec(m: &[f32], x: &[f32], y: &mut [f32]) {
    let cols = x.len();
    for (r, y) in y.iter_mut().enumerate() {
        *y = m[r * cols..(r + 1) * cols]
            .iter()
            .zip(x)
            .map(|(a, b)| a * b)
            .sum();
    }
}

/// The relative change ‖b − a‖/‖a‖ over all tensors.
pub fn relative_change(a: &[Tensor], b: &[Tensor]) -> f64 {
    let (mut num, mut den) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.values.iter().zip(&y.values) {
            num += ((q - p) as f64).powi(2);
            den += (*p as f64).powi(2);
        }
    }
    (num / den.max(1e-300)).sqrt()
}
