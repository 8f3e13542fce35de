//! The float type the CPU twins are generic over: f32 for the path itself, f64 for gradient checks.

use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

/// The arithmetic the CPU twins need, for f32 and f64.
pub trait Float:
    Copy
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + PartialOrd
    + Neg<Output = Self>
    + AddAssign
    + Debug
    + Send
    + Sync
{
    /// 0.
    fn zero() -> Self {
        Self::c(0.0)
    }
    /// 1.
    fn one() -> Self {
        Self::c(1.0)
    }
    /// Converts a constant.
    fn c(v: f64) -> Self;
    /// e^self.
    fn exp(self) -> Self;
    /// Natural logarithm.
    fn ln(self) -> Self;
    /// ln(1 + self), accurate near 0.
    fn ln_1p(self) -> Self;
    /// Hyperbolic tangent.
    fn tanh(self) -> Self;
    /// The error function.
    fn erf(self) -> Self;
    /// e^self where loops over it must vectorise: f32 [`exp_f32`] (within a few ulp), f64
    /// the exact `exp` (the gradient checks' reference).
    fn exp_lanes(self) -> Self;
    /// The standard normal CDF Φ(self), GELU's gate: f32 [`normal_cdf_f32`] (vectorises),
    /// f64 ½·erfc(−x/√2) exactly.
    fn normal_cdf(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Cosine (radians).
    fn cos(self) -> Self;
    /// Sine (radians).
    fn sin(self) -> Self;
    /// Converts to f64 (for accumulation and reports).
    fn to_f64(self) -> f64;
    /// The larger of two values (NaN-propagating as `f32::max` is not; fine for finite inputs).
    fn max(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }
}

/// `s` as `&[f32]` when `F` is `f32`: the f32-only vector paths take it, the others get None.
pub fn as_f32<F: Float>(s: &[F]) -> Option<&[f32]> {
    // SAFETY: F is f32 (same TypeId), so the slice's elements are f32.
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) })
}

/// `s` as `&mut [f32]` when `F` is `f32` (see [`as_f32`]).
pub fn as_f32_mut<F: Float>(s: &mut [F]) -> Option<&mut [f32]> {
    // SAFETY: F is f32 (same TypeId), so the slice's elements are f32.
    (std::any::TypeId::of::<F>() == std::any::TypeId::of::<f32>())
        .then(|| unsafe { std::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) })
}

macro_rules! impl_float {
    ($t:ty, $erf:path, $exp_lanes:path, $cdf:path) => {
        impl Float for $t {
            fn c(v: f64) -> Self {
                v as $t
            }
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            fn erf(self) -> Self {
                $erf(self)
            }
            fn exp_lanes(self) -> Self {
                $exp_lanes(self)
            }
            fn normal_cdf(self) -> Self {
                $cdf(self)
            }
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            fn cos(self) -> Self {
                <$t>::cos(self)
            }
            fn sin(self) -> Self {
                <$t>::sin(self)
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
        }
    };
}

impl_float!(f32, libm::erff, exp_f32, normal_cdf_f32);
impl_float!(f64, libm::erf, f64::exp, normal_cdf_f64);

/// e^x in f32, branch-free so a loop over it vectorises: Cody–Waite range reduction
/// x = n·ln 2 + r and Cephes' `expf` polynomial for e^r (relative error about 1e-7), scaled by
/// 2^n through the exponent bits. Inputs below −87.3 give the smallest normal float instead
/// of a denormal or 0 (an absolute error under 1.2e-38); NaN stays NaN.
#[allow(clippy::excessive_precision, reason = "the published coefficients, as written")]
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    const C1: f32 = 0.693_359_4; // ln 2 in few bits, so n·C1 is exact
    const C2: f32 = -2.121_944_4e-4; // ln 2 − C1
    let x = x.clamp(-87.336_54, 88.0);
    // Round to nearest by adding 1.5·2^23: the sum's low mantissa bits then hold n as an
    // integer (no `floor`, a libm call on baseline x86-64, and no float-to-int cast, which
    // does not vectorise there either).
    const ROUND: f32 = 12_582_912.0;
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = (x - n * C1) - n * C2;
    let p = ((((1.987_569_2e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 5.000_000_1e-1;
    let e = p * r * r + r + 1.0;
    // 2^n: n + 127 in the exponent field (ROUND's bits are 0x4B40_0000).
    e * f32::from_bits(shifted.to_bits().wrapping_sub(0x4B40_0000 - 127) << 23)
}

/// Φ(x) = ½·erfc(−x/√2) in f32 with Numerical Recipes' erfc (fractional error < 1.2e-7, the
/// shader's `erf_approx`), taken as ½·erfc(|x|/√2) below 0 and 1 − ½·erfc(x/√2) above, so
/// neither side cancels; branch-free so a loop over it vectorises.
#[allow(clippy::excessive_precision, reason = "the published coefficients, as written")]
#[inline(always)]
pub fn normal_cdf_f32(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_9 + t * (1.488_515_9 + t * (-0.822_152_2 + t * 0.170_872_77))))))));
    let half_erfc = 0.5 * t * exp_f32(poly);
    if x >= 0.0 {
        1.0 - half_erfc
    } else {
        half_erfc
    }
}

/// Φ(x) = ½·erfc(−x/√2) in f64 (libm; erfc keeps the left tail that 1 + erf rounds to 0).
fn normal_cdf_f64(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative error of `got` against `want` (f64), measured against `floor` near 0.
    fn rel(got: f32, want: f64, floor: f64) -> f64 {
        (got as f64 - want).abs() / want.abs().max(floor)
    }

    #[test]
    fn the_vectorisable_exp_is_within_a_few_ulp() {
        let mut worst: f64 = 0.0;
        for i in 0..=2_000_000 {
            let x = -87.0 + 175.0 * i as f32 / 2_000_000.0;
            worst = worst.max(rel(exp_f32(x), (x as f64).exp(), 0.0));
        }
        assert!(worst < 3.0e-7, "worst relative error {worst:e}");
        assert!(exp_f32(f32::NAN).is_nan());
        assert!(exp_f32(-1000.0) < 1.2e-38 && exp_f32(-1000.0) >= 0.0);
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn the_normal_cdf_matches_erf() {
        // Relative to the value itself, however small (the left tail keeps its precision, where
        // ½(1 + erf) in f32 is 0 below x ≈ −5.9): the error grows as the rounding of the
        // exponent −z² does, about x²·ulp.
        for i in 0..=200_000 {
            let x = -9.0 + 18.0 * i as f32 / 200_000.0;
            let err = rel(normal_cdf_f32(x), normal_cdf_f64(x as f64), 0.0);
            assert!(err < 5e-7 + 4e-7 * (x * x) as f64, "x = {x}: relative error {err:e}");
        }
        for x in [-1.0f32, -0.1, 0.0, 0.1, 1.0, 3.0] {
            assert!(rel(normal_cdf_f32(x), normal_cdf_f64(x as f64), 0.0) < 5e-7, "{x}");
        }
    }
}
