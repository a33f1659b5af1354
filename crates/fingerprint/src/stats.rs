//! Tail probabilities in log space: the binomial upper tail at p = ½ (exact), the normal upper
//! tail, and the conservative combination the match test uses.

use std::f64::consts::{LN_2, PI};

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error about 1e-15).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (PI / (PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// ln(e^a + e^b).
fn ln_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        hi
    } else {
        hi + (lo - hi).exp().ln_1p()
    }
}

/// ln P(X ≥ k) for X ~ Binomial(n, ½), exact up to rounding.
pub fn ln_binomial_sf(k: u64, n: u64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if k > n {
        return f64::NEG_INFINITY;
    }
    if 2 * k <= n {
        // P(X ≥ k) = 1 − P(X ≤ k − 1) = 1 − P(X ≥ n − k + 1) by symmetry
        let other = ln_binomial_sf(n - k + 1, n).exp();
        return (1.0 - other).max(0.0).ln();
    }
    // terms fall geometrically above the mean: stop when they no longer count
    let mut total = f64::NEG_INFINITY;
    let mut i = k;
    while i <= n {
        let term = ln_choose(n, i);
        total = ln_add(total, term);
        if term < total - 40.0 {
            break;
        }
        i += 1;
    }
    total - n as f64 * LN_2
}

/// ln P(Z ≥ z) for a standard normal Z (relative error below 1.2e-7 everywhere, also far in
/// the tail: the complementary error function in the form of Numerical Recipes' `erfcc`).
pub fn ln_normal_sf(z: f64) -> f64 {
    let x = z / std::f64::consts::SQRT_2;
    let ln_erfc_pos = |x: f64| {
        let t = 1.0 / (1.0 + 0.5 * x);
        let poly = -x * x - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77))))))));
        t.ln() + poly
    };
    if x >= 0.0 {
        ln_erfc_pos(x) - LN_2
    } else {
        // erfc(x) = 2 − erfc(−x)
        (1.0 - 0.5 * ln_erfc_pos(-x).exp()).ln()
    }
}

/// The false-match test of `agree` agreeing bits out of `bits`, where each bit agrees with
/// probability ½ under the null hypothesis but the bits share the angle of two vectors of
/// `samples` values each (whose correlation under the null is about N(0, 1/samples), adding
/// `bits²/(π²·samples)` to the variance of the count): the larger of the exact binomial tail
/// and the normal tail with that variance. Returns ln p.
pub fn ln_p_agreement(agree: u64, bits: u64, extra_variance: f64) -> f64 {
    let exact = ln_binomial_sf(agree, bits);
    let variance = bits as f64 / 4.0 + extra_variance;
    let z = (agree as f64 - 0.5 - bits as f64 / 2.0) / variance.sqrt();
    let normal = ln_normal_sf(z);
    exact.max(normal).min(0.0)
}

/// The variance `bits` sign bits' agreement count gains from the angle between two unrelated
/// vectors of `samples` values: `bits²/(π²·samples)`.
pub fn angle_variance(bits: u64, samples: u64) -> f64 {
    let b = bits as f64;
    b * b / (PI * PI * samples.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn gamma_and_tails() {
        assert!(close(ln_gamma(1.0), 0.0, 1e-12) || ln_gamma(1.0).abs() < 1e-12);
        assert!(close(ln_gamma(11.0), 3_628_800f64.ln(), 1e-12));
        assert!(close(ln_gamma(0.5), PI.sqrt().ln(), 1e-12));
        // P(X ≥ 3), n = 4: (4 + 1)/16
        assert!(close(ln_binomial_sf(3, 4).exp(), 5.0 / 16.0, 1e-12));
        assert!(close(ln_binomial_sf(1, 4).exp(), 15.0 / 16.0, 1e-12));
        assert_eq!(ln_binomial_sf(0, 4), 0.0);
        assert_eq!(ln_binomial_sf(5, 4), f64::NEG_INFINITY);
        // all 128 agree: 2^-128
        assert!(close(ln_binomial_sf(128, 128), -128.0 * LN_2, 1e-12));
        // normal tail: P(Z ≥ 0) = ½, P(Z ≥ 6) = 9.865876e-10, far tail by Mills' ratio
        assert!(close(ln_normal_sf(0.0).exp(), 0.5, 1e-6));
        assert!(close(ln_normal_sf(6.0).exp(), 9.865_876e-10, 1e-5));
        assert!(close(ln_normal_sf(-2.0).exp(), 0.977_249_87, 1e-6));
        let z = 40.0f64;
        let mills = -z * z / 2.0 - (z * (2.0 * PI).sqrt()).ln();
        assert!(close(ln_normal_sf(z), mills, 1e-3));
        // the binomial far tail is lighter than the normal one: the test takes the larger
        let p = ln_p_agreement(120, 128, angle_variance(128, 32768));
        assert!(p >= ln_binomial_sf(120, 128));
        assert!(p < (1e-20f64).ln());
        assert!(ln_p_agreement(64, 128, 0.0) > (0.4f64).ln());
    }
}
