//! Matching a suspect's tensors against a model's fingerprint, and the false-match test.
//!
//! 1. **Candidates** — every suspect tensor against every reference tensor of the same
//!    canonical shape (dimensions of length 1 dropped), and of the transposed shape for
//!    matrices (a converter that transposed a weight), through a *view* that maps the
//!    reference's positions onto the suspect's elements, and for GGUF suspects that give
//!    their head size, with query and key rows as llama.cpp's converters reorder them. Names are never compared: renamed
//!    and reordered tensors match the same.
//! 2. **Pairing** — greedily, by agreement of the *selection* bits, each suspect tensor with at
//!    most one reference tensor and each reference tensor with at most one suspect tensor
//!    (among each suspect tensor's [`MAX_CANDIDATES`] best candidates).
//! 3. **Test** — on the *test* bits, which come from other positions than the selection bits,
//!    so the pairing does not bias them: under the null hypothesis "the suspect is not
//!    derived from this model", each test bit of a pair agrees with probability ½. Two
//!    statistics, each a valid p-value under the null:
//!    - *pooled*: the agreeing test bits of all pairs together against Binomial(128·T, ½);
//!    - *best*: the smallest pair p-value times the number of pairs T (Bonferroni), which
//!      needs no independence between pairs and catches a copy of a few tensors.
//!
//!    The false-match probability is twice the smaller (Bonferroni over the two tests).
//!    Each binomial tail is made conservative for the finite samples: the larger of the exact
//!    tail and a normal tail whose variance adds `bits²/(π²·samples)` for the chance
//!    correlation of unrelated tensors (see [`crate::stats`]).

use std::collections::HashMap;

use modelward_inventory::blob::Blob;

use crate::error::FingerprintError;
use crate::model::{squeeze, ModelPrint, Plans};
use crate::print::{print_tensor, Key, BITS};
use crate::stats::{angle_variance, ln_p_agreement};
use crate::tensor::TensorInfo;

/// A pair whose own p-value is below this is listed as a matching tensor.
pub const PAIR_MATCH_P: f64 = 1e-6;
/// The default threshold of a model match.
pub const MODEL_MATCH_P: f64 = 1e-9;
/// Candidates kept per suspect tensor for the pairing (by selection agreement).
pub const MAX_CANDIDATES: usize = 8;

/// How a reference tensor's positions map onto a suspect tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// Same shape, same order.
    Identity,
    /// The suspect is the transpose of the reference (a matrix).
    Transpose,
    /// The suspect's rows are the reference's reordered as llama.cpp's converters reorder
    /// query and key weights for its rotary embedding: within each head of `n` rows, row
    /// `t·n/2 + u` becomes row `2u + t` (the two halves interleaved). Tried for GGUF
    /// suspects that say their head size.
    Interleave(u64),
}

impl View {
    pub fn name(self) -> &'static str {
        match self {
            View::Identity => "identity",
            View::Transpose => "transpose",
            View::Interleave(_) => "interleave",
        }
    }

    /// The views under which a suspect of shape `s` can be compared with a reference of
    /// shape `r` (both squeezed), the suspect's head size `head_dim` where it says one.
    pub fn between(s: &[u64], r: &[u64], head_dim: Option<u64>) -> Vec<View> {
        let mut v = Vec::new();
        if s == r {
            v.push(View::Identity);
            if let Some(n) = head_dim {
                if s.len() == 2 && n >= 2 && n.is_multiple_of(2) && s[0].is_multiple_of(n) {
                    v.push(View::Interleave(n));
                }
            }
        }
        if s.len() == 2 && r.len() == 2 && s[0] == r[1] && s[1] == r[0] {
            v.push(View::Transpose);
        }
        v
    }

    /// The suspect position of reference position `p`, for a reference of shape `r`.
    fn map(self, r: &[u64], p: u64) -> u64 {
        match self {
            View::Identity => p,
            View::Transpose => {
                let (rows, cols) = (r[0], r[1]);
                let (i, j) = (p / cols, p % cols);
                j * rows + i
            }
            View::Interleave(n) => {
                let cols = r[1];
                let (row, c) = (p / cols, p % cols);
                let (head, w) = (row / n, row % n);
                let (t, u) = (w / (n / 2), w % (n / 2));
                (head * n + 2 * u + t) * cols + c
            }
        }
    }
}

/// One suspect tensor paired with one reference tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Pair {
    pub suspect: String,
    pub reference: String,
    /// The reference's canonical shape.
    pub shape: Vec<u64>,
    pub view: View,
    /// Agreeing selection bits (of 128).
    pub select_agree: u32,
    /// Agreeing test bits (of 128).
    pub test_agree: u32,
    /// Positions behind the test bits.
    pub test_samples: u64,
    /// ln of the pair's own p-value (test bits).
    pub ln_p: f64,
}

impl Pair {
    pub fn matched(&self) -> bool {
        self.ln_p <= PAIR_MATCH_P.ln()
    }
}

/// A suspect compared with one model.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelMatch {
    pub model: String,
    /// Tensors in the model's fingerprint.
    pub reference_tensors: usize,
    /// Every pair made, best first.
    pub pairs: Vec<Pair>,
    /// Pairs whose own p-value is below [`PAIR_MATCH_P`].
    pub matched: usize,
    /// Mean agreement of the pairs' test bits (½ for unrelated tensors, 1 for identical);
    /// None without pairs.
    pub agreement: Option<f64>,
    /// ln p of the pooled test.
    pub ln_p_pooled: f64,
    /// ln p of the best pair, times the number of pairs.
    pub ln_p_best: f64,
    /// ln of the false-match probability: twice the smaller of the two, at most 0.
    pub ln_p: f64,
}

impl ModelMatch {
    /// log₁₀ of the false-match probability (representable where the probability itself
    /// underflows).
    pub fn log10_p(&self) -> f64 {
        self.ln_p / std::f64::consts::LN_10
    }

    /// The false-match probability (0 when below what an f64 holds: see [`Self::log10_p`]).
    pub fn p(&self) -> f64 {
        self.ln_p.exp()
    }

    /// Whether the false-match probability is at most `threshold`.
    pub fn is_match(&self, threshold: f64) -> bool {
        !self.pairs.is_empty() && self.ln_p <= threshold.ln()
    }
}

type SuspectBits = Option<crate::print::Bits>;

/// A suspect file's tensors, with its fingerprints computed as comparisons need them (once
/// per tensor, reference shape and view, for every model made with the same key).
pub struct Suspect<'a> {
    blob: &'a dyn Blob,
    tensors: Vec<(TensorInfo, Vec<u64>)>,
    key: Key,
    head_dim: Option<u64>,
    plans: Plans,
    cache: HashMap<(usize, Vec<u64>, View), SuspectBits>,
}

impl<'a> Suspect<'a> {
    pub fn new(key: &Key, blob: &'a dyn Blob, tensors: Vec<TensorInfo>) -> Suspect<'a> {
        Suspect {
            blob,
            tensors: tensors
                .into_iter()
                .map(|t| {
                    let s = squeeze(&t.shape);
                    (t, s)
                })
                .collect(),
            key: key.clone(),
            head_dim: None,
            plans: Plans::default(),
            cache: HashMap::new(),
        }
    }

    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Starts from plans made already (a [`crate::registry::Registry`] makes one per
    /// reference shape, once for every file it compares).
    pub fn with_plans(mut self, plans: Plans) -> Suspect<'a> {
        self.plans = plans;
        self
    }

    /// Also compares query and key weights as llama.cpp's converters reorder them, for a
    /// suspect whose heads have `head_dim` rows ([`crate::read::TensorFile::head_dim`]).
    pub fn with_head_dim(mut self, head_dim: Option<u64>) -> Suspect<'a> {
        self.head_dim = head_dim;
        self
    }

    fn bits(&mut self, i: usize, r: &[u64], view: View) -> Result<SuspectBits, FingerprintError> {
        let k = (i, r.to_vec(), view);
        if let Some(b) = self.cache.get(&k) {
            return Ok(*b);
        }
        let Some(plan) = self.plans.get(&self.key, r) else {
            return Ok(None);
        };
        let b = print_tensor(self.blob, &self.tensors[i].0, &plan, &|p| view.map(r, p))?;
        self.cache.insert(k, b);
        Ok(b)
    }

    /// Compares the suspect with `model` (made with this suspect's key).
    pub fn compare(&mut self, model: &ModelPrint) -> Result<ModelMatch, FingerprintError> {
        struct Cand {
            s: usize,
            r: usize,
            view: View,
            select: u32,
            test: u32,
            samples: u64,
        }
        let order = |a: &Cand, b: &Cand| {
            b.select
                .cmp(&a.select)
                .then(a.r.cmp(&b.r))
                .then(a.s.cmp(&b.s))
                .then(a.view.cmp(&b.view))
        };
        let mut cands = Vec::new();
        for s in 0..self.tensors.len() {
            // each suspect tensor keeps its best few candidates: thousands of same-shape
            // tensors (the experts of a mixture) would otherwise make millions of candidates
            let mut mine = Vec::new();
            for (r, rt) in model.tensors.iter().enumerate() {
                for view in View::between(&self.tensors[s].1, &rt.shape, self.head_dim) {
                    let Some((samples, bits)) = self.bits(s, &rt.shape, view)? else {
                        continue;
                    };
                    let agree = |h: usize| BITS as u32 - (bits[h] ^ rt.bits[h]).count_ones();
                    mine.push(Cand {
                        s,
                        r,
                        view,
                        select: agree(0),
                        test: agree(1),
                        samples: samples[1].min(rt.samples[1]),
                    });
                }
            }
            mine.sort_by(order);
            mine.truncate(MAX_CANDIDATES);
            cands.extend(mine);
        }
        cands.sort_by(order);
        let mut s_used = vec![false; self.tensors.len()];
        let mut r_used = vec![false; model.tensors.len()];
        let mut pairs = Vec::new();
        let (mut agree_sum, mut bits_sum, mut extra) = (0u64, 0u64, 0f64);
        for c in cands {
            if s_used[c.s] || r_used[c.r] {
                continue;
            }
            s_used[c.s] = true;
            r_used[c.r] = true;
            let var = angle_variance(BITS as u64, c.samples);
            agree_sum += c.test as u64;
            bits_sum += BITS as u64;
            extra += var;
            pairs.push(Pair {
                suspect: self.tensors[c.s].0.name.clone(),
                reference: model.tensors[c.r].name.clone(),
                shape: model.tensors[c.r].shape.clone(),
                view: c.view,
                select_agree: c.select,
                test_agree: c.test,
                test_samples: c.samples,
                ln_p: ln_p_agreement(c.test as u64, BITS as u64, var),
            });
        }
        pairs.sort_by(|a, b| {
            a.ln_p
                .total_cmp(&b.ln_p)
                .then(a.reference.cmp(&b.reference))
        });
        let t = pairs.len();
        let (ln_p_pooled, ln_p_best, ln_p) = if t == 0 {
            (0.0, 0.0, 0.0)
        } else {
            let pooled = ln_p_agreement(agree_sum, bits_sum, extra);
            let best = ((t as f64).ln() + pairs[0].ln_p).min(0.0);
            (
                pooled,
                best,
                (std::f64::consts::LN_2 + pooled.min(best)).min(0.0),
            )
        };
        Ok(ModelMatch {
            model: model.name.clone(),
            reference_tensors: model.tensors.len(),
            matched: pairs.iter().filter(|p| p.matched()).count(),
            agreement: (bits_sum > 0).then(|| agree_sum as f64 / bits_sum as f64),
            pairs,
            ln_p_pooled,
            ln_p_best,
            ln_p,
        })
    }
}
