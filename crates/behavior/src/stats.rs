//! Statistics the theft analyzers report: the normal distribution (Wichura's AS 241
//! quantile, an `erfc` by series and continued fraction) and the Shapiro–Wilk test of
//! normality by Royston's algorithm AS R94 (1995), as R's `shapiro.test` computes it.

/// The outcome of a Shapiro–Wilk test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShapiroWilk {
    /// The statistic, in (0, 1]: near 1 for normal samples.
    pub w: f64,
    /// The approximate p-value (exact for n = 3; Royston's approximations for 4 ≤ n ≤ 5000).
    pub p: f64,
    pub n: usize,
}

const SQRT_PI: f64 = 1.772_453_850_905_516;

fn erf_series(x: f64) -> f64 {
    let x2 = x * x;
    let mut acc = 0.0;
    let mut fk = 25.5;
    for _ in 0..25 {
        acc = 2.0 + x2 * acc / fk;
        fk -= 1.0;
    }
    acc * x * (-x2).exp() / SQRT_PI
}

fn erfc_contfrac(x: f64) -> f64 {
    if x >= 30.0 {
        return 0.0;
    }
    let x2 = x * x;
    let (mut a, mut da) = (0.0, 0.5);
    let (mut p, mut p_last) = (1.0, 0.0);
    let (mut q, mut q_last) = (da + x2, 1.0);
    for _ in 0..50 {
        a += da;
        da += 2.0;
        let b = da + x2;
        let t = p;
        p = b * p - a * p_last;
        p_last = t;
        let t = q;
        q = b * q - a * q_last;
        q_last = t;
    }
    p / q * x * (-x2).exp() / SQRT_PI
}

/// The complementary error function.
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    if x.abs() < 1.5 {
        1.0 - erf_series(x)
    } else {
        let cf = erfc_contfrac(x.abs());
        if x > 0.0 {
            cf
        } else {
            2.0 - cf
        }
    }
}

/// The upper tail of the normal distribution N(mean, sd²) beyond `x`.
pub fn normal_upper(x: f64, mean: f64, sd: f64) -> f64 {
    0.5 * erfc((x - mean) / (sd * std::f64::consts::SQRT_2))
}

/// The standard normal quantile of `p` in (0, 1) (Wichura 1988, AS 241, PPND16).
pub fn normal_quantile(p: f64) -> f64 {
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        let num = (((((((2.509_080_928_730_122_7e3 * r + 3.343_057_558_358_813e4) * r
            + 6.726_577_092_700_87e4)
            * r
            + 4.592_195_393_154_987e4)
            * r
            + 1.373_169_376_550_946e4)
            * r
            + 1.971_590_950_306_551_3e3)
            * r
            + 1.331_416_678_917_843_8e2)
            * r
            + 3.387_132_872_796_366_5)
            * q;
        let den = ((((((5.226_495_278_852_545e3 * r + 2.872_908_573_572_194_3e4) * r
            + 3.930_789_580_009_271e4)
            * r
            + 2.121_379_430_158_659_7e4)
            * r
            + 5.394_196_021_424_751e3)
            * r
            + 6.871_870_074_920_579e2)
            * r
            + 4.231_333_070_160_091e1)
            * r
            + 1.0;
        return num / den;
    }
    let r = if q <= 0.0 { p } else { 1.0 - p };
    if r <= 0.0 {
        return if q < 0.0 {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let mut r = (-r.ln()).sqrt();
    let (num, den) = if r <= 5.0 {
        r -= 1.6;
        (
            ((((((7.745_450_142_783_414e-4 * r + 2.272_384_498_926_918_4e-2) * r
                + 2.417_807_251_774_506e-1)
                * r
                + 1.270_458_252_452_368_4)
                * r
                + 3.647_848_324_763_204_5)
                * r
                + 5.769_497_221_460_691)
                * r
                + 4.630_337_846_156_545)
                * r
                + 1.423_437_110_749_683_5,
            ((((((1.050_750_071_644_416_8e-9 * r + 5.475_938_084_995_345e-4) * r
                + 1.519_866_656_361_645_7e-2)
                * r
                + 1.481_039_764_274_800_8e-1)
                * r
                + 6.897_673_349_851e-1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0,
        )
    } else {
        r -= 5.0;
        (
            ((((((2.010_334_399_292_288_1e-7 * r + 2.711_555_568_743_487_6e-5) * r
                + 1.242_660_947_388_078_4e-3)
                * r
                + 2.653_218_952_657_612_4e-2)
                * r
                + 2.965_605_718_285_049e-1)
                * r
                + 1.784_826_539_917_291_3)
                * r
                + 5.463_784_911_164_114)
                * r
                + 6.657_904_643_501_103,
            ((((((2.044_263_103_389_939_7e-15 * r + 1.421_511_758_316_446e-7) * r
                + 1.846_318_317_510_054_8e-5)
                * r
                + 7.868_691_311_456_133e-4)
                * r
                + 1.487_536_129_085_061_5e-2)
                * r
                + 1.369_298_809_227_358e-1)
                * r
                + 5.998_322_065_558_88e-1)
                * r
                + 1.0,
        )
    };
    let x = num / den;
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// `cc[0] + cc[1] x + … ` (AS 181.2).
fn poly(cc: &[f64], x: f64) -> f64 {
    let mut ret = cc[0];
    if cc.len() > 1 {
        let mut p = x * cc[cc.len() - 1];
        for c in cc[1..cc.len() - 1].iter().rev() {
            p = (p + c) * x;
        }
        ret += p;
    }
    ret
}

/// The Shapiro–Wilk test of `values` (any order; non-finite values are left out). `None`
/// with fewer than 3 or more than 5000 values, or when they are all (nearly) equal.
pub fn shapiro_wilk(values: &[f64]) -> Option<ShapiroWilk> {
    const SMALL: f64 = 1e-19;
    const G: [f64; 2] = [-2.273, 0.459];
    const C1: [f64; 6] = [0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056];
    const C2: [f64; 6] = [0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633];
    const C3: [f64; 4] = [0.544, -0.39978, 0.025054, -6.714e-4];
    const C4: [f64; 4] = [1.3822, -0.77857, 0.062767, -0.0020322];
    const C5: [f64; 4] = [-1.5861, -0.31082, -0.083751, 0.0038915];
    const C6: [f64; 3] = [-0.4803, -0.082676, 0.0030302];
    let mut x: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let n = x.len();
    if !(3..=5000).contains(&n) {
        return None;
    }
    x.sort_by(|a, b| a.total_cmp(b));
    let range = x[n - 1] - x[0];
    if range < 1e-10 * x[0].abs().max(x[n - 1].abs()).max(1.0) || range < SMALL {
        return None;
    }
    let an = n as f64;
    let nn2 = n / 2;
    // a[1..=nn2], 1-based as in the paper.
    let mut a = vec![0.0; nn2 + 1];
    if n == 3 {
        a[1] = std::f64::consts::FRAC_1_SQRT_2;
    } else {
        let an25 = an + 0.25;
        let mut summ2 = 0.0;
        for (i, ai) in a.iter_mut().enumerate().skip(1) {
            *ai = normal_quantile((i as f64 - 0.375) / an25);
            summ2 += *ai * *ai;
        }
        summ2 *= 2.0;
        let ssumm2 = summ2.sqrt();
        let rsn = 1.0 / an.sqrt();
        let a1 = poly(&C1, rsn) - a[1] / ssumm2;
        let (i1, fac) = if n > 5 {
            let a2 = -a[2] / ssumm2 + poly(&C2, rsn);
            let fac = ((summ2 - 2.0 * a[1] * a[1] - 2.0 * a[2] * a[2])
                / (1.0 - 2.0 * a1 * a1 - 2.0 * a2 * a2))
                .sqrt();
            a[2] = a2;
            (3, fac)
        } else {
            let fac = ((summ2 - 2.0 * a[1] * a[1]) / (1.0 - 2.0 * a1 * a1)).sqrt();
            (2, fac)
        };
        a[1] = a1;
        for ai in a.iter_mut().skip(i1) {
            *ai /= -fac;
        }
    }
    // The coefficient of the i-th order statistic (0-based), antisymmetric.
    let coef = |i: usize| -> f64 {
        let j = n - 1 - i;
        match i.cmp(&j) {
            std::cmp::Ordering::Less => -a[1 + i],
            std::cmp::Ordering::Greater => a[1 + j],
            std::cmp::Ordering::Equal => 0.0,
        }
    };
    let sa = (0..n).map(coef).sum::<f64>() / an;
    let sx = x.iter().map(|v| v / range).sum::<f64>() / an;
    let (mut ssa, mut ssx, mut sax) = (0.0, 0.0, 0.0);
    for (i, xi) in x.iter().enumerate() {
        let asa = coef(i) - sa;
        let xsx = xi / range - sx;
        ssa += asa * asa;
        ssx += xsx * xsx;
        sax += asa * xsx;
    }
    let ssassx = (ssa * ssx).sqrt();
    let w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx);
    let w = 1.0 - w1;
    if n == 3 {
        let pi6 = 6.0 / std::f64::consts::PI;
        let stqr = std::f64::consts::FRAC_PI_3;
        let p = (pi6 * (w.sqrt().asin() - stqr)).max(0.0);
        return Some(ShapiroWilk { w, p, n });
    }
    let mut y = w1.ln();
    let (m, s) = if n <= 11 {
        let gamma = poly(&G, an);
        if y >= gamma {
            return Some(ShapiroWilk { w, p: 1e-99, n });
        }
        y = -(gamma - y).ln();
        (poly(&C3, an), poly(&C4, an).exp())
    } else {
        let xx = an.ln();
        (poly(&C5, xx), poly(&C6, xx).exp())
    };
    let p = normal_upper(y, m, s);
    Some(ShapiroWilk {
        w,
        p: if p.is_finite() { p } else { 1.0 },
        n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn normal_functions() {
        assert!(close(normal_quantile(0.975), 1.959_963_984_540_054, 1e-12));
        assert!(close(normal_quantile(0.5), 0.0, 1e-15));
        assert!(close(normal_quantile(1e-10), -6.361_340_902_404_056, 1e-9));
        assert!(close(
            normal_upper(1.959_963_984_540_054, 0.0, 1.0),
            0.025,
            1e-12
        ));
        assert!(close(erfc(0.5), 0.479_500_122_186_953_5, 1e-14));
        assert!(close(erfc(-2.0), 1.995_322_265_018_952_7, 1e-14));
        assert!(close(erfc(3.0), 2.209_049_699_858_544e-5, 1e-18));
        assert_eq!(erfc(40.0), 0.0);
    }

    /// R 4.x `shapiro.test` on `mtcars$wt` and `mtcars$mpg` (n = 32), as published.
    #[test]
    fn shapiro_wilk_matches_r_on_mtcars() {
        let wt = [
            2.620, 2.875, 2.320, 3.215, 3.440, 3.460, 3.570, 3.190, 3.150, 3.440, 3.440, 4.070,
            3.730, 3.780, 5.250, 5.424, 5.345, 2.200, 1.615, 1.835, 2.465, 3.520, 3.435, 3.840,
            3.845, 1.935, 2.140, 1.513, 3.170, 2.770, 3.570, 2.780,
        ];
        let r = shapiro_wilk(&wt).unwrap();
        assert!(close(r.w, 0.94326, 5e-6), "{r:?}");
        assert!(close(r.p, 0.09265, 5e-6), "{r:?}");
        let mpg = [
            21.0, 21.0, 22.8, 21.4, 18.7, 18.1, 14.3, 24.4, 22.8, 19.2, 17.8, 16.4, 17.3, 15.2,
            10.4, 10.4, 14.7, 32.4, 30.4, 33.9, 21.5, 15.5, 15.2, 13.3, 19.2, 27.3, 26.0, 30.4,
            15.8, 19.7, 15.0, 21.4,
        ];
        let r = shapiro_wilk(&mpg).unwrap();
        assert!(close(r.w, 0.94756, 5e-6), "{r:?}");
        assert!(close(r.p, 0.1229, 5e-5), "{r:?}");
    }

    /// Published reference values: R's `shapiro.test` (n = 3, 5, 10, 20) and scipy's tests of
    /// `stats.shapiro` (the same AS R94 code; n = 20, and n = 25 from Shapiro and Wilk's paper).
    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is a data value
    fn shapiro_wilk_matches_published_values() {
        let cases: [(&[f64], f64, f64, f64, f64); 8] = [
            // R: x = c(-0.7746653110021126, -0.4344432067942129, 1.8157053280290931)
            (
                &[
                    -0.774_665_311_002_112_6,
                    -0.434_443_206_794_212_9,
                    1.815_705_328_029_093_1,
                ],
                0.846_587_706_455_09,
                1e-9,
                0.231_366_648_988_2,
                1e-7,
            ),
            // R, after a Box-Cox transform (scipy gh-14462): tiny values
            (
                &[0.0, 3.399_969_24e-8, -6.351_668_75e-9],
                0.864_684_317_053_71,
                1e-5,
                0.280_558_175_156_6,
                1e-5,
            ),
            // R: shapiro.test(c(1,2,3,4,5))
            (&[1.0, 2.0, 3.0, 4.0, 5.0], 0.986_762, 1e-6, 0.967_174, 1e-6),
            // R: shapiro.test(c(1,1,1,1,2,2,3,4,8,20))
            (
                &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 4.0, 8.0, 20.0],
                0.628_233,
                1e-6,
                0.000_120_265,
                1e-9,
            ),
            // R: shapiro.test(sleep$extra)
            (
                &[
                    0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0, 1.9, 0.8, 1.1, 0.1, -0.1,
                    4.4, 5.5, 1.6, 4.6, 3.4,
                ],
                0.946_073,
                1e-6,
                0.311_375,
                1e-6,
            ),
            // scipy TestShapiro.test_basic x1, x2
            (
                &[
                    0.11, 7.87, 4.61, 10.14, 7.95, 3.14, 0.46, 4.43, 0.21, 4.75, 0.71, 1.52, 3.24,
                    0.93, 0.42, 4.97, 9.53, 4.55, 0.47, 6.66,
                ],
                0.900_472_998_619_079_6,
                1e-6,
                0.042_089_745_402_336_12,
                1e-6,
            ),
            (
                &[
                    1.36, 1.14, 2.92, 2.55, 1.46, 1.06, 5.27, -1.11, 3.48, 1.10, 0.88, -0.51, 1.46,
                    0.52, 6.20, 1.69, 0.08, 3.67, 2.81, 3.49,
                ],
                0.959_027,
                1e-6,
                0.524_60,
                1e-3,
            ),
            // Shapiro and Wilk (1965), via scipy: W = 0.83467, p = 0.000914
            (
                &[
                    0.139, 0.157, 0.175, 0.256, 0.344, 0.413, 0.503, 0.577, 0.614, 0.655, 0.954,
                    1.392, 1.557, 1.648, 1.690, 1.994, 2.174, 2.206, 3.245, 3.510, 3.571, 4.354,
                    4.980, 6.084, 8.351,
                ],
                0.834_67,
                1e-5,
                0.000_914,
                1e-6,
            ),
        ];
        for (x, w, wt, p, pt) in cases {
            let r = shapiro_wilk(x).unwrap();
            assert!(
                close(r.w, w, wt) && close(r.p, p, pt),
                "{x:?}: {r:?}, expected W = {w}, p = {p}"
            );
        }
    }

    #[test]
    fn shapiro_wilk_small_samples_and_edges() {
        // n = 3: equally spaced values are as normal as three values can be (W = 1, p = 1);
        // the p-value is exact: 6/π (asin √W − π/3).
        let r = shapiro_wilk(&[1.0, 2.0, 3.0]).unwrap();
        assert!(close(r.w, 1.0, 1e-12) && close(r.p, 1.0, 1e-9), "{r:?}");
        let r = shapiro_wilk(&[1.0, 2.0, 10.0]).unwrap();
        let exact = 6.0 / std::f64::consts::PI * (r.w.sqrt().asin() - std::f64::consts::FRAC_PI_3);
        assert!(close(r.p, exact, 1e-12) && r.w < 0.9, "{r:?}");
        assert_eq!(shapiro_wilk(&[1.0, 2.0]), None);
        assert_eq!(shapiro_wilk(&[5.0; 10]), None);
        assert_eq!(shapiro_wilk(&vec![1.0; 5001]), None);
        assert!(shapiro_wilk(&[f64::NAN, 1.0, 2.0, 3.0]).is_some());
        // Scale and shift do not change W.
        let x = [3.1, 4.7, 2.2, 8.9, 5.5, 6.1, 4.4];
        let y: Vec<f64> = x.iter().map(|v| 1000.0 + 7.0 * v).collect();
        let (a, b) = (shapiro_wilk(&x).unwrap(), shapiro_wilk(&y).unwrap());
        assert!(close(a.w, b.w, 1e-12) && close(a.p, b.p, 1e-10));
        // Normal scores are normal; a two-point mixture is not.
        let scores: Vec<f64> = (1..=200)
            .map(|i| normal_quantile((i as f64 - 0.375) / 200.25))
            .collect();
        let r = shapiro_wilk(&scores).unwrap();
        assert!(r.w > 0.99 && r.p > 0.5, "{r:?}");
        let bimodal: Vec<f64> = (0..200)
            .map(|i| if i % 2 == 0 { 0.05 } else { 0.9 } + (i as f64) * 1e-4)
            .collect();
        let r = shapiro_wilk(&bimodal).unwrap();
        assert!(r.w < 0.8 && r.p < 1e-6, "{r:?}");
    }
}
