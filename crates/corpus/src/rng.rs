//! A small deterministic pseudo-random number generator (SplitMix64).
//!
//! Statistical quality is more than enough for synthetic logs, and the
//! output depends only on the seed, on every platform.

/// SplitMix64 generator.
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng { state: seed }
    }

    /// An independent generator for one purpose, derived from a seed and
    /// a stream label, so that adding draws to one stream does not shift
    /// the others.
    pub(crate) fn derived(seed: u64, stream: u64) -> Self {
        let mut mixer = Rng::new(seed ^ stream.wrapping_mul(0xA076_1D64_78BD_642F));
        Rng::new(mixer.next_u64())
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..bound` (0 when `bound` is 0).
    pub(crate) fn below(&mut self, bound: u64) -> u64 {
        let wide = u128::from(self.next_u64()) * u128::from(bound);
        u64::try_from(wide >> 64).unwrap_or(0)
    }

    /// Uniform in `low..=high` (`low` when the range is empty).
    pub(crate) fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.below(high - low + 1)
    }

    /// Uniform index into a collection of `len` items.
    pub(crate) fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// One item of a non-empty array.
    pub(crate) fn pick<'a, T, const N: usize>(&mut self, items: &'a [T; N]) -> &'a T {
        const { assert!(N > 0, "cannot pick from an empty array") };
        &items[self.index(N)]
    }

    /// One item, with probability proportional to its weight.
    pub(crate) fn weighted<'a, T, const N: usize>(&mut self, items: &'a [(T, u32); N]) -> &'a T {
        const { assert!(N > 0, "cannot pick from an empty array") };
        let total: u64 = items.iter().map(|(_, weight)| u64::from(*weight)).sum();
        let mut ticket = self.below(total);
        for (item, weight) in items {
            if ticket < u64::from(*weight) {
                return item;
            }
            ticket -= u64::from(*weight);
        }
        &items[N - 1].0
    }

    /// A copy of one item of a non-empty array.
    pub(crate) fn pick_copy<T: Copy, const N: usize>(&mut self, items: &[T; N]) -> T {
        *self.pick(items)
    }

    /// A copy of one item, with probability proportional to its weight.
    pub(crate) fn weighted_copy<T: Copy, const N: usize>(&mut self, items: &[(T, u32); N]) -> T {
        *self.weighted(items)
    }

    /// Roughly log-normal: `median * e^(sigma * z)` with `z` close to a
    /// standard normal (Irwin–Hall sum of four uniforms).
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        let sum: f64 = (0..4).map(|_| self.unit()).sum();
        let z = (sum - 2.0) * 3f64.sqrt();
        median * (sigma * z).exp()
    }

    /// A log-normal draw rounded and clamped to `low..=high`.
    pub(crate) fn log_normal_int(&mut self, median: f64, sigma: f64, low: u64, high: u64) -> u64 {
        let value = self.log_normal(median, sigma).round();
        if value.is_nan() || value < low as f64 {
            low
        } else if value > high as f64 {
            high
        } else {
            value as u64
        }
    }

    /// A random (version 4) GUID in lowercase.
    pub(crate) fn guid(&mut self) -> String {
        let high = self.next_u64();
        let low = self.next_u64();
        format!(
            "{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}",
            high >> 32,
            (high >> 16) & 0xFFFF,
            high & 0x0FFF,
            8 + (low >> 62),
            (low >> 48) & 0x0FFF,
            low & 0xFFFF_FFFF_FFFF
        )
    }

    /// `len` characters from `[A-Za-z0-9]`.
    pub(crate) fn alphanumeric(&mut self, len: usize) -> String {
        const CHARS: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(*self.pick(CHARS))).collect()
    }

    /// `len` lowercase hexadecimal digits.
    pub(crate) fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        (0..len).map(|_| char::from(*self.pick(DIGITS))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn bounded_draws_stay_in_range() {
        let mut rng = Rng::new(1);
        for _ in 0..10_000 {
            assert!(rng.below(10) < 10);
            let value = rng.between(5, 9);
            assert!((5..=9).contains(&value));
            assert!((0.0..1.0).contains(&rng.unit()));
        }
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn guids_have_the_right_shape() {
        let guid = Rng::new(3).guid();
        let lengths: Vec<usize> = guid.split('-').map(str::len).collect();
        assert_eq!(lengths, [8, 4, 4, 4, 12]);
        assert_eq!(guid.as_bytes()[14], b'4');
    }
}
