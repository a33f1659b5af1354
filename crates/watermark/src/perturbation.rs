//! The test of a logprob-level signal: do the log probabilities a dataset holds carry one
//! principal's seeded perturbation (the gateway's `perturb_output`)?
//!
//! Given, for the same requests, the values as observed (a leaked or suspect dataset), as the
//! model answers them unperturbed (a reference run) and as the candidate principal's
//! perturbation would have made them, the residuals `observed − reference` are correlated with
//! the candidate's noise `expected − reference`. Under the null hypothesis (the data were not
//! served to that principal) the correlation is that of independent series: Fisher's
//! `z = atanh(r) · √(n − 3)` is standard normal, and the p-value is its upper tail.

use serde::Serialize;

/// The outcome of the correlation test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Correlation {
    /// Values compared (present in all three).
    pub entries: u64,
    /// Pearson's correlation of the residuals with the candidate's noise (0 when either does
    /// not vary: nothing to tell).
    pub r: f64,
    /// Fisher's z.
    pub z_score: f64,
    /// P(Z ≥ z) under the null hypothesis.
    pub p_value: f64,
    pub log10_p_value: f64,
}

/// Tests `(residual, noise)` pairs. Fewer than 4 pairs give z = 0.
pub fn correlate(pairs: &[(f64, f64)]) -> Correlation {
    let n = pairs.len() as f64;
    let r = if pairs.len() < 4 {
        0.0
    } else {
        let (mx, my) = pairs
            .iter()
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (x, y) in pairs {
            sxy += (x - mx) * (y - my);
            sxx += (x - mx) * (x - mx);
            syy += (y - my) * (y - my);
        }
        if sxx > 0.0 && syy > 0.0 {
            (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    };
    // atanh(±1) is infinite: a perfect correlation is capped just below 1.
    let capped = r.clamp(-1.0 + 1e-15, 1.0 - 1e-15);
    let z = if pairs.len() < 4 {
        0.0
    } else {
        capped.atanh() * (n - 3.0).sqrt()
    };
    let ln_p = modelward_fingerprint::stats::ln_normal_sf(z);
    Correlation {
        entries: pairs.len() as u64,
        r,
        z_score: z,
        p_value: ln_p.exp(),
        log10_p_value: ln_p / std::f64::consts::LN_10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(i: u64) -> f64 {
        // A fixed pseudo-random series in (-0.01, 0.01) (SplitMix64's finaliser).
        let mut z = i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        ((z >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.02
    }

    #[test]
    fn the_principals_noise_correlates_and_anothers_does_not() {
        let ours: Vec<(f64, f64)> = (0..500).map(|i| (noise(i), noise(i))).collect();
        let c = correlate(&ours);
        assert!(c.r > 0.999_999 && c.p_value < 1e-100, "{c:?}");
        let other: Vec<(f64, f64)> = (0..500).map(|i| (noise(i), noise(i + 7_919))).collect();
        let c = correlate(&other);
        assert!(c.r.abs() < 0.15 && c.p_value > 1e-3, "{c:?}");
        // The model's own jitter on top still leaves the signal.
        let jittered: Vec<(f64, f64)> = (0..500)
            .map(|i| (noise(i) + 2.0 * noise(i + 104_729), noise(i)))
            .collect();
        let c = correlate(&jittered);
        assert!(c.p_value < 1e-9, "{c:?}");
    }

    #[test]
    fn nothing_to_tell_is_not_evidence() {
        let flat: Vec<(f64, f64)> = (0..100).map(|i| (0.0, noise(i))).collect();
        let c = correlate(&flat);
        assert_eq!((c.r, c.z_score), (0.0, 0.0));
        assert!((c.p_value - 0.5).abs() < 1e-6);
        assert_eq!(correlate(&[(1.0, 1.0)]).z_score, 0.0);
    }
}
