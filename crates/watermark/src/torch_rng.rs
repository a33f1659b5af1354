//! PyTorch's CPU random number generator and `torch.randperm`, bit for bit.
//!
//! Transformers draws a watermark's greenlist with `torch.Generator(device="cpu")`,
//! `manual_seed(seed)` and `torch.randperm(n, generator=...)`. What torch does there
//! (ATen `CPUGeneratorImpl`, `MT19937RNGEngine.h`, `randperm_cpu` in `TensorFactories.cpp`):
//!
//! - `manual_seed(seed)` makes a fresh 32-bit Mersenne Twister (MT19937) seeded with the low 32
//!   bits of the 64-bit seed, initialised as the reference `init_genrand` does.
//! - `random()` is one 32-bit output; `random64()` is two, the first as the high half.
//! - `randperm(n)` for `n < 2³²−1 / 20` (214,748,364): the identity, then for `i` in
//!   `0..n−1` swap positions `i` and `i + random() % (n − i)`. For larger `n`: the
//!   "inside-out" Fisher–Yates, `z = random64() % (i + 1)`, `r[i] = r[z]; r[z] = i`.
//!
//! `crates/watermark/tests/torch_rng.rs` checks both against values torch printed.

/// A 32-bit Mersenne Twister as torch's CPU generator holds it.
#[derive(Clone)]
pub struct TorchGenerator {
    state: [u32; N],
    index: usize,
}

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// Below this `n`, `randperm` uses 32-bit draws and the forward swap; at or above it,
/// 64-bit draws and the inside-out shuffle (`u32::MAX / 20`, as torch writes it).
pub const RANDPERM_SMALL_LIMIT: u64 = u32::MAX as u64 / 20;

impl TorchGenerator {
    /// `torch.Generator().manual_seed(seed)`: only the low 32 bits seed the engine.
    pub fn new(seed: u64) -> Self {
        let mut state = [0u32; N];
        state[0] = seed as u32;
        for j in 1..N {
            let prev = state[j - 1];
            state[j] = 1_812_433_253u32
                .wrapping_mul(prev ^ (prev >> 30))
                .wrapping_add(j as u32);
        }
        TorchGenerator { state, index: N }
    }

    fn twist(&mut self) {
        for i in 0..N {
            let y = (self.state[i] & UPPER_MASK) | (self.state[(i + 1) % N] & LOWER_MASK);
            let mut next = self.state[(i + M) % N] ^ (y >> 1);
            if y & 1 != 0 {
                next ^= MATRIX_A;
            }
            self.state[i] = next;
        }
        self.index = 0;
    }

    /// One 32-bit draw (`CPUGeneratorImpl::random`).
    pub fn random(&mut self) -> u32 {
        if self.index >= N {
            self.twist();
        }
        let mut y = self.state[self.index];
        self.index += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// One 64-bit draw (`CPUGeneratorImpl::random64`): the first 32-bit draw is the high half.
    pub fn random64(&mut self) -> u64 {
        let hi = self.random() as u64;
        let lo = self.random() as u64;
        (hi << 32) | lo
    }
}

/// `torch.randperm(n, generator=g)` on the CPU. `n` must fit in `u32` (a vocabulary does).
pub fn randperm(n: u32, generator: &mut TorchGenerator) -> Vec<u32> {
    let mut out: Vec<u32> = (0..n).collect();
    if u64::from(n) < RANDPERM_SMALL_LIMIT {
        shuffle_prefix(&mut out, n as usize, generator);
    } else {
        for i in 0..n as usize {
            let z = (generator.random64() % (i as u64 + 1)) as usize;
            out[i] = out[z];
            out[z] = i as u32;
        }
    }
    out
}

/// The first `steps` swaps of the small-`n` `randperm` on `values` (which must hold the
/// identity): afterwards `values[..steps]` equal `randperm(n)[..steps]`, drawing only
/// `steps` numbers. For `n ≥ RANDPERM_SMALL_LIMIT` use [`randperm`].
pub fn shuffle_prefix(values: &mut [u32], steps: usize, generator: &mut TorchGenerator) {
    let n = values.len();
    debug_assert!((n as u64) < RANDPERM_SMALL_LIMIT);
    for i in 0..steps.min(n.saturating_sub(1)) {
        let z = generator.random() as usize % (n - i);
        values.swap(i, i + z);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_reference_output() {
        // The reference MT19937 seeded with 5489 gives 3499211612 first, and its
        // 10,000th output is 4123659995 (C++ std::mt19937's required check).
        let mut g = TorchGenerator::new(5489);
        assert_eq!(g.random(), 3_499_211_612);
        for _ in 0..9_998 {
            g.random();
        }
        assert_eq!(g.random(), 4_123_659_995);
    }

    #[test]
    fn only_the_low_32_bits_seed() {
        let a = TorchGenerator::new(7).random();
        assert_eq!(TorchGenerator::new(7 + (1 << 40)).random(), a);
    }

    #[test]
    fn prefix_shuffle_is_the_permutations_prefix() {
        let full = randperm(1000, &mut TorchGenerator::new(42));
        let mut values: Vec<u32> = (0..1000).collect();
        shuffle_prefix(&mut values, 250, &mut TorchGenerator::new(42));
        assert_eq!(&values[..250], &full[..250]);
        let mut sorted = full.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1000).collect::<Vec<_>>());
    }
}
